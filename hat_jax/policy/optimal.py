"""Optimal tariffs of one country, others' tariffs fixed (model.md s.14).

Country i chooses either one uniform rate t_i. = t on every partner or one rate per
partner to maximise its utilitarian welfare W_i(t) = sum lambda_i V_i (beta fixed; W, R
and the rebates T re-solved). Bounds t >= 0 by reparametrisation: t = softplus(s).
BFGS (jax.scipy.optimize) on s with exact gradients through the equilibrium (implicit function
theorem, one reverse pass per evaluation); the first-order-condition residual reported
is max_j |dW_i/dt_ij| at the optimum (interior: zero; a rate at the bound t = 0 would
show a negative derivative, which softplus reaches only asymptotically).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.optimize import minimize

from ..equilibrium import Equilibrium, EquilibriumOptions
from ..tariffs import validate_tariffs
from ..welfare import country_index
from .gradient import policy_options, tariff_args, tariff_gradient, tariff_welfare

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


def _objective(s, data):
    args, base, i, partners, opts, w0 = data
    welfare, _ = tariff_welfare(args, tariff_row(s, base, i, partners), opts)
    return -(welfare[i] - w0)


def _minimise(s0, data, gtol, max_steps):
    # jax.scipy's BFGS rather than optimistix: optimistix closure-converts the objective,
    # and the equilibrium's custom_jvp (traced options as a non-differentiable argument)
    # then leaks tracers; jax.scipy's BFGS traces the objective like jax.grad does.
    sol = minimize(_objective, s0, args=(data,), method="BFGS",
                   options={"gtol": gtol, "maxiter": max_steps})
    return sol.x, sol.nit


_minimise_jit = jax.jit(_minimise, static_argnums=(3,))


def optimal_tariff(eq: Equilibrium, country, mode: str = "uniform", tariffs=None, *,
                   start: float | np.ndarray = 0.1, opts: EquilibriumOptions | None = None,
                   gtol: float = 1e-6, max_steps: int = 60) -> OptimalTariff:
    """The tariffs of ``country`` (uniform, or ``mode="by_partner"``) maximising its
    utilitarian welfare, the other rows of ``tariffs`` (default: the baseline's own)
    fixed. Starts at rate ``start`` (> 0; a number or one per partner); BFGS stops when
    max |dW_i/ds| <= gtol / 100 (s the softplus coordinate) or after ``max_steps``;
    ``converged``: the equilibrium at the optimum converged and the FOC residual
    max_j |dW_i/dt_ij| <= ``gtol``. The equilibrium in each evaluation
    starts from the baseline ``eq``."""
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
    args, p_opts = tariff_args(eq), policy_options(eq, opts)
    t0 = time.perf_counter()
    w_start = jax.jit(tariff_welfare)(args, tariff_row(s0, base, i, partners), p_opts)[0][i]
    data = (args, base, i, partners, p_opts, w_start)
    s, steps = _minimise_jit(s0, data, jnp.asarray(gtol / 100.0), max_steps)
    t_opt = np.asarray(tariff_row(s, base, i, partners))
    g = tariff_gradient(eq, i, t_opt, opts=opts, throw=False)
    foc = float(np.max(np.abs(g.grad[i, list(partners)])))
    t1 = time.perf_counter()
    w0 = float(jax.jit(tariff_welfare)(args, base, p_opts)[0][i])
    return OptimalTariff(i, mode, t_opt, t_opt[i].copy(), g.value, w0, foc,
                         g.grad[i].copy(), bool(g.converged and foc <= gtol), int(steps),
                         t1 - t0)
