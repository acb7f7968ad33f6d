"""Optimal tariffs of one country, others' tariffs fixed (model.md s.14).

Country i chooses either one uniform rate t_i. = t on every partner or one rate per
partner to maximise its utilitarian welfare W_i(t) = sum lambda_i V_i (beta fixed; W, R
and the rebates T re-solved). Bounds t >= 0 by reparametrisation: t = softplus(s).
BFGS on s with exact gradients through the equilibrium (implicit function
theorem, one reverse pass per evaluation); the first-order-condition residual reported
is |sum_j dW_i/dt_ij| (uniform) or max_j |dW_i/dt_ij| (by partner) at the optimum
(interior: zero; a rate at the bound t = 0 would show a negative derivative, which
softplus reaches only asymptotically). Each evaluation warm-starts the equilibrium
from the previous one.
"""

from __future__ import annotations

import sys
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..equilibrium import Equilibrium, EquilibriumOptions
from ..tariffs import validate_tariffs
from ..welfare import country_index, utilitarian_welfare
from .gradient import policy_options, tariff_args, value_and_gradient

__all__ = ["MODES", "OptimalTariff", "optimal_tariff", "tariff_row", "softplus_inverse"]

MODES = ("uniform", "by_partner")


def softplus_inverse(t):
    """s with softplus(s) = t (t > 0)."""
    t = np.asarray(t, np.float64)
    return t + np.log(-np.expm1(-t))


def tariff_row(s, base, i: int, partners):
    """``base`` with importer i's tariffs on ``partners`` set to softplus(s) (s: one
    number for a uniform rate, or one per partner)."""
    rates = jnp.broadcast_to(jax.nn.softplus(s), (len(partners),))
    return base.at[i, jnp.asarray(partners)].set(rates)


class OptimalTariff(NamedTuple):
    """Country i's optimal tariffs: country (index), mode, tariffs (the N x N matrix at
    the optimum, others' rows as given), rates (i's row), welfare (W_i at the optimum) and
    welfare0 (at the starting matrix), foc_residual (max_j |dW_i/dt_ij|), gradient (i's
    row of dW_i/dt), converged (the equilibrium at the optimum and foc_residual <= gtol),
    steps (BFGS steps), seconds."""

    country: int
    mode: str
    tariffs: np.ndarray
    rates: np.ndarray
    welfare: float
    welfare0: float
    foc_residual: float
    gradient: np.ndarray
    converged: bool
    steps: int
    seconds: float


def _bfgs(fg, s0, gtol: float, max_steps: int):
    """Minimise f by BFGS with Armijo backtracking from s0; ``fg(s) -> (f, df/ds, stop)``
    (stop: the first-order condition holds to tolerance). Returns (s, f, g, steps).

    Hand-written rather than optimistix / jax.scipy: each evaluation is one equilibrium
    solve, and warm-starting it from the previous evaluation's prices and household
    state (carried on the host) cuts its Newton iterations from about six to one or
    two; optimistix's minimise cannot carry such state between evaluations (and its
    closure conversion leaks the equilibrium's traced options through custom_jvp)."""
    s = np.asarray(s0, np.float64)
    f, g, stop = fg(s)
    H = np.eye(s.size) * (0.5 / max(float(np.max(np.abs(g))), 1e-12))
    steps = 0
    while not stop and steps < max_steps:
        step = -H @ g
        if g @ step >= 0:  # not a descent direction: restart from a scaled gradient step
            H = np.eye(s.size) * (0.5 / max(float(np.max(np.abs(g))), 1e-12))
            step = -H @ g
        step *= min(1.0, 2.0 / max(float(np.max(np.abs(step))), 1e-300))  # cap: 2 in s
        a = 1.0
        for _ in range(30):
            f1, g1, stop1 = fg(s + a * step)
            if np.isfinite(f1) and f1 <= f + 1e-4 * a * (g @ step):
                break
            a *= 0.5
        else:
            break  # no decrease along the step: the FOC residual says how close we are
        ds, dg = a * step, g1 - g
        if steps == 0 and dg @ ds > 0:
            H = np.eye(s.size) * (dg @ ds) / (dg @ dg)
        if dg @ ds > 1e-16 * np.linalg.norm(dg) * np.linalg.norm(ds):
            rho = 1.0 / (dg @ ds)
            V = np.eye(s.size) - rho * np.outer(ds, dg)
            H = V @ H @ V.T + rho * np.outer(ds, ds)
        s, f, g, stop = s + ds, f1, g1, stop1
        steps += 1
    return s, f, g, steps


def optimal_tariff(eq: Equilibrium, country, mode: str = "uniform", tariffs=None, *,
                   start: float | np.ndarray = 0.1, opts: EquilibriumOptions | None = None,
                   gtol: float = 1e-6, max_steps: int = 60,
                   progress: bool = False) -> OptimalTariff:
    """The tariffs of ``country`` (uniform, or ``mode="by_partner"``) maximising its
    utilitarian welfare, the other rows of ``tariffs`` (default: the baseline's own)
    fixed. Starts at rate ``start`` (> 0; a number or one per partner); BFGS stops when
    the FOC residual (uniform: |sum_j dW_i/dt_ij|; by partner: max_j |dW_i/dt_ij|) is
    below gtol / 10, or after ``max_steps``; ``converged``: the equilibrium at the
    optimum converged and the FOC residual <= ``gtol``. progress: one line per
    evaluation on stderr. The first equilibrium starts from ``eq`` (which may carry
    tariffs: pass the equilibrium at the current tariffs as a warm start), each later
    one from the previous evaluation."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got mode={mode!r}")
    econ = eq.economy
    N, i = econ.N, country_index(econ, country)
    base = econ.tariff_matrix if tariffs is None else validate_tariffs(tariffs, N,
                                                                       econ.countries)
    base = jnp.asarray(base, jnp.float64)
    partners = tuple(j for j in range(N) if j != i)
    start = np.asarray(start, np.float64)
    if np.any(~np.isfinite(start)) or np.any(start <= 0):
        raise ValueError(f"start must be a positive tariff rate, got start={start!r}")
    shape = (1,) if mode == "uniform" else (N - 1,)
    s0 = jnp.asarray(np.broadcast_to(softplus_inverse(start), shape).copy())
    p_opts = policy_options(eq, opts)
    warm = [tariff_args(eq)]
    w = np.zeros(N)
    w[i] = 1.0
    idx = list(partners)
    t0 = time.perf_counter()
    if tariffs is None:  # the baseline's own tariffs: its welfare, no solve
        w0 = float(utilitarian_welfare(eq)[i])
    else:
        w0 = value_and_gradient(warm[0], base, w, p_opts)[0]
    seen: dict = {}

    def fg(s):
        t = np.asarray(tariff_row(jnp.asarray(s), base, i, partners))
        val, grad, ok, new_warm = value_and_gradient(warm[0], t, w, p_opts)
        if not ok:
            return np.inf, np.full(s.shape, np.nan), False
        warm[0] = new_warm
        g_t = grad[i, idx]
        g_s = -(g_t if mode == "by_partner" else np.atleast_1d(g_t.sum())) \
            * np.asarray(jax.nn.sigmoid(jnp.asarray(s)))
        foc = np.max(np.abs(g_t)) if mode == "by_partner" else abs(g_t.sum())
        seen[np.asarray(s).tobytes()] = dict(t=t, val=val, grad=grad[i], ok=ok, foc=float(foc))
        if progress:
            print(f"  {econ.countries[i]}: welfare {val:.10f}, FOC residual {foc:.3e}",
                  file=sys.stderr, flush=True)
        return -val, g_s, foc <= gtol / 10

    s, _, _, steps = _bfgs(fg, np.asarray(s0), gtol, max_steps)
    last = seen[np.asarray(s).tobytes()]  # the last accepted point
    t_opt = last["t"]
    return OptimalTariff(i, mode, t_opt, t_opt[i].copy(), last["val"], w0, last["foc"],
                         last["grad"].copy(), bool(last["ok"] and last["foc"] <= gtol),
                         int(steps), time.perf_counter() - t0)
