"""Nash tariffs (model.md s.14) by best-response iteration, and the representative-agent
optimal tariff of the same trade elasticity.

Nash: every country's tariffs (one uniform rate each, or one per partner) are a best
response to the others' at once. Uniform tariffs: Broyden's method on the stacked
first-order conditions (exact FOCs, every country's welfare gradient in one program).
By partner (or on request): Jacobi best-response iteration, in each round every
country's optimal tariffs (:func:`~hat_jax.policy.optimal_tariff`, BFGS with exact
gradients through the equilibrium) against the previous round's profile, until the
largest change is below ``tol``. The first-order-condition residual reported is
max_i max_j |dW_i/dt_ij| at the final profile (uniform: |sum_j dW_i/dt_ij|).

Representative-agent benchmark (two-country Armington / logit economy, trade elasticity
epsilon, balanced trade): Foreign's import demand m* is proportional to lambda_FH(q) / q
in Home's terms of trade q, so its elasticity is 1 + epsilon lambda_FF, and Lerner's
optimal tariff 1 / (elasticity - 1) is

    t* = 1 / (epsilon lambda_FF),

with lambda_FF Foreign's domestic expenditure share (Gros 1987, J. Int. Econ. 23;
Costinot and Rodriguez-Clare 2014, Handbook of International Economics vol. 4, ch. 4).
With N countries :func:`ra_optimal_tariff` applies it with the export-weighted mean of
the partners' domestic shares (an approximation, stated as such).
"""

from __future__ import annotations

import sys
import time
from typing import NamedTuple

import numpy as np

from .._baseline import Baseline, as_baseline
from .._equilibrium import Equilibrium, EquilibriumOptions
from .._results import ConvergenceError
from .._change import Change
from .._tariffs import validate_tariffs
from ..welfare import counterfactual, country_index, utilitarian_welfare
from ._gradient import policy_options, tariff_args, welfare_jacobian
from ._mean_ev import ev_reference, mean_ev_value_and_gradient
from ._optimal import optimal_tariff
from ._options import TariffOptions, tariff_options

__all__ = ["NashTariffs", "nash_tariffs", "ra_optimal_tariff", "foc_residuals", "broyden_focs"]


class NashTariffs(NamedTuple):
    """Nash tariffs: tariffs (N x N), welfare (W_i at Nash), welfare_free (W_i at free
    trade, the baseline), foc_residual (largest over countries), foc (per country),
    converged (rounds converged and foc_residual <= gtol), rounds, change (largest
    tariff change in the last round), seconds."""

    tariffs: np.ndarray
    welfare: np.ndarray
    welfare_free: np.ndarray
    foc_residual: float
    foc: np.ndarray
    converged: bool
    rounds: int
    change: float
    seconds: float
    mode: str


def foc_residuals(eq: Baseline | Equilibrium, tariffs, mode: str = "uniform", *,
                  opts: EquilibriumOptions | None = None):
    """(welfare W_i [N], FOC residual of each country [N]) at the tariff matrix: uniform,
    |sum_{j != i} dW_i/dt_ij|; by partner, max_{j != i} |dW_i/dt_ij| (one solve from
    ``eq``, best the equilibrium at these tariffs, and N reverse passes)."""
    b = as_baseline(eq)
    N = b.N
    t = validate_tariffs(tariffs, N)
    W, J, ok, _ = welfare_jacobian(tariff_args(b), t, policy_options(b, opts))
    if not ok:
        raise ConvergenceError("FOC residuals: the equilibrium at the tariffs did not converge")
    off = 1.0 - np.eye(N)
    foc = np.array([abs(np.sum(J[i, i] * off[i])) if mode == "uniform"
                    else np.max(np.abs(J[i, i][off[i] > 0])) for i in range(N)])
    return W, foc


def _best_responses(eq, t, options: TariffOptions):
    """Jacobi best-response iteration from the profile t: (t, rounds, change); with the
    mean-EV objective every country's EV is measured against ``eq`` (free trade, a
    :class:`~hat_jax.Baseline`). Each best response is one :func:`optimal_tariff` stage
    from the current rates (no coarse stage, no progress lines of its own)."""
    N, mode, opts = eq.N, options.mode, options.equilibrium
    one = options.replace(coarse=0, progress=False)
    change, rounds = np.inf, 0
    while rounds < options.max_rounds and change > options.tol:
        # the equilibrium at the current profile: every best response starts from it
        cur = counterfactual(eq, Change({"tariffs": t}, "profile"),
                             policy_options(eq, opts)).new
        new = t.copy()
        for i in range(N):
            row = np.delete(t[i], i)
            s = max(float(row.mean()), 1e-3) if mode == "uniform" else np.maximum(row, 1e-3)
            new[i] = optimal_tariff(cur, i, one, start=s, reference=eq).rates
        change, t, rounds = float(np.max(np.abs(new - t))), new, rounds + 1
        if options.progress:
            print(f"Nash round {rounds}: largest tariff change {change:.3e}",
                  file=sys.stderr, flush=True)
    return t, rounds, change


def broyden_focs(G, x, gtol: float, max_rounds: int, *, h: float = 1e-4,
                 max_refresh: int = 3, max_step: float = 0.1, lower: float | None = 1e-8,
                 progress: bool = False, what: str = "Nash"):
    """Broyden's method on stacked first-order conditions G(x) = 0 (x [N], one policy
    per country; each G_i an exact derivative of country i's welfare, one equilibrium per
    evaluation, warm-started by ``G`` itself). The Jacobian dG/dx: forward differences
    of the exact G (step ``h``, N more evaluations), then secant updates; it is built
    afresh by differences (at most ``max_refresh`` times) when a full step fails to halve
    max |G|, which is where a stale secant Jacobian stalls Broyden. Steps are capped at
    ``max_step`` (largest component); x is kept >= ``lower`` (None: unbounded).
    Hand-written: the warm start carried between evaluations is outside optimistix's
    root finders. Returns (x, iterations, last step, G(x))."""
    N = len(x)
    clip = (lambda v: v) if lower is None else (lambda v: np.maximum(v, lower))

    def jacobian(x, g):
        J = np.empty((N, N))
        for k in range(N):
            e = np.zeros(N)
            e[k] = h
            J[:, k] = (G(x + e) - g) / h
        return J, G(x)  # back at x (warm start)

    g = G(x)
    J, g = jacobian(x, g)
    it, step, refreshes = 0, np.inf, 0
    while np.max(np.abs(g)) > gtol / 10 and it < max_rounds:
        dx = -np.linalg.solve(J, g)
        scale = min(1.0, max_step / max(float(np.max(np.abs(dx))), 1e-300))
        dx *= scale
        x_new = clip(x + dx)
        g_new = G(x_new)
        dx, dg = x_new - x, g_new - g
        # a full (uncapped) secant step that does not halve max |G|
        stalled = scale == 1.0 and np.max(np.abs(g_new)) > 0.5 * np.max(np.abs(g))
        x, g, step, it = x_new, g_new, float(np.max(np.abs(dx))), it + 1
        rebuilt = bool(stalled and refreshes < max_refresh)
        if rebuilt:
            J, g = jacobian(x, g)
            refreshes += 1
        else:
            J += np.outer(dg - J @ dx, dx) / (dx @ dx)
        if progress:
            print(f"{what} iteration {it}: max |FOC| {np.max(np.abs(g)):.3e}, step {step:.3e}"
                  + (f" (Jacobian rebuilt, {refreshes} of {max_refresh})" if rebuilt else ""),
                  file=sys.stderr, flush=True)
    return x, it, step, g


def _stacked_focs(b, x, gtol, max_rounds, opts, progress):
    """:func:`broyden_focs` on the stacked first-order conditions of uniform tariffs,
    G_i(x) = sum_{j != i} dW_i/dt_ij at t = x (1 - I), every G evaluated exactly (one
    solve, N reverse passes; warm-started from the last). Returns (x, iterations, last
    step)."""
    N = b.N
    off = 1.0 - np.eye(N)
    p_opts = policy_options(b, opts)
    warm = [tariff_args(b)]

    def G(x):
        _, J, ok, w = welfare_jacobian(warm[0], np.maximum(x, 0.0)[:, None] * off, p_opts)
        if not ok:
            raise ConvergenceError(f"Nash tariffs: the equilibrium at tariffs {x} did not "
                                   "converge")
        warm[0] = w
        return np.array([np.sum(J[i, i] * off[i]) for i in range(N)])

    x, it, step, _ = broyden_focs(G, x, gtol, max_rounds, progress=progress)
    return x, it, step


def _mean_ev_focs(b, cur, t, mode, opts):
    """Each country's FOC residual of its mean EV against ``eq`` at the profile t."""
    N = b.N
    args, p_opts = tariff_args(cur), policy_options(b, opts)
    foc = np.empty(N)
    for i in range(N):
        g = mean_ev_value_and_gradient(args, t, ev_reference(b, i), p_opts)[1][i]
        g = np.delete(g, i)
        foc[i] = abs(g.sum()) if mode == "uniform" else np.max(np.abs(g))
    return foc


def nash_tariffs(eq: Baseline | Equilibrium, options: TariffOptions | None = None, *,
                 start=0.1, **fields) -> NashTariffs:
    """Nash tariffs of every country from the uniform profile ``start`` (a number, or an
    N x N matrix such as a previous answer). options: :class:`TariffOptions` (the same
    as :func:`optimal_tariff`'s; ``fields`` replace single fields). Its nash_method:
    "foc" (uniform tariffs only, the default there: Broyden on the stacked first-order
    conditions, exact FOCs) or "best_response" (the default by partner: Jacobi
    best-response iteration until the largest tariff change is below ``tol``). ``eq``:
    the free-trade baseline (a :class:`~hat_jax.Baseline`, an Equilibrium is converted
    once: the solves start from it and it is the welfare reference). converged: the
    stacked FOC residual at the answer <= gtol. objective: "utilitarian" or "mean_ev"
    (every country's lambda-weighted mean EV against ``eq``; best responses only, the
    FOC residuals then from each country's mean-EV gradient). progress: lines on
    stderr."""
    options = tariff_options(options, **fields)
    method, mode, opts = options.nash_solver, options.mode, options.equilibrium
    gtol, objective = options.gtol, options.objective
    b = as_baseline(eq)
    N = b.N
    t = validate_tariffs(np.asarray(start, np.float64) * (1.0 - np.eye(N)), N)
    t0 = time.perf_counter()
    if method == "foc":
        x, rounds, change = _stacked_focs(b, t.sum(axis=1) / (N - 1), gtol,
                                          options.max_rounds, opts, options.progress)
        t = validate_tariffs(x[:, None] * (1.0 - np.eye(N)), N)
    else:
        t, rounds, change = _best_responses(b, t, options)
    cur = counterfactual(b, Change({"tariffs": t}, "nash"), policy_options(b, opts)).new
    W, foc = foc_residuals(cur, t, mode, opts=opts)
    if objective == "mean_ev":
        foc = _mean_ev_focs(b, cur, t, mode, opts)
    W_free = np.asarray(utilitarian_welfare(b.equilibrium))  # the baseline (free trade)
    res = float(np.max(foc))
    return NashTariffs(t, W, W_free, res, foc, bool(res <= gtol), rounds, change,
                       time.perf_counter() - t0, mode)


def ra_optimal_tariff(eq: Equilibrium, country, elasticity: float) -> float:
    """t* = 1 / (epsilon lambda_FF): the representative-agent optimal tariff of the
    two-country Armington economy with trade elasticity ``elasticity`` (> 0), Foreign's
    domestic share taken from ``eq``; with N > 2, lambda_FF is the mean of the partners'
    domestic shares weighted by ``country``'s exports to them (an approximation)."""
    if not (np.isfinite(elasticity) and elasticity > 0):
        raise ValueError(f"elasticity must be > 0, got {elasticity!r}")
    i = country_index(eq.economy, country)
    a = eq.world.aggregates
    shares = np.diag(np.asarray(a.trade_shares))
    M = np.asarray(a.M)
    others = [j for j in range(eq.economy.N) if j != i]
    w = M[others, i] / M[others, i].sum()
    return float(1.0 / (elasticity * np.dot(w, shares[others])))
