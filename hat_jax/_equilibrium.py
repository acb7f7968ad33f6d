"""Stationary world equilibrium (model.md section 6).

Goods market for each seller j: Y_j = sum_i M_ij; bond market: sum_i A'_i = 0 under
financial globalization (one R), or A'_i = 0 for every i under financial autarky (R_i per
country). Walras' law makes one goods-market condition redundant: the first (j = 0) is
dropped, as in the reference; the numeraire is mean(W) = 1.

Unknowns are mapped to an unconstrained vector x so that Newton steps cannot leave the
admissible set: wages W = N softmax(x_W, 0) (positive, mean one); R = (1 - e^{x_R})/beta
(so beta R < 1 always), or in the "beta" mode (R given) beta = (1 - e^{x_beta})/R.
Residuals are excess demands divided by world GDP. With tariffs (``economy.tariffs`` not
None, model.md s.14) the N lump-sum rebates T_i are unknowns too (levels, the last N
entries of x) with the revenue conditions L_i T_i = Rev_i, and the goods markets clear
at producer prices; free trade (tariffs None) solves exactly the system above.

The root is found by damped Newton with the exact Jacobian (forward-mode AD through the
household and distribution fixed points, which are themselves differentiated by the
implicit function theorem), warm-starting the household problems between iterations.
The solution is differentiated by the implicit function theorem at the root
(optimistix ImplicitAdjoint): ``jax.jvp`` / ``jax.grad`` / ``jax.jacfwd`` of any output of
:func:`solve_equilibrium_jit` with respect to the economy's parameters are exact.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jax import lax

from . import _newton
from ._compiled import compiled
from ._aggregates import Aggregates, aggregate
from ._diagnostics import (
    check_equilibrium,
    newton_path,
    print_progress,
    warn_if_singular,
)
from ._distribution import DistributionSolution, stationary_distributions
from ._coarse import coarse_start
from ._equilibrium_options import EquilibriumOptions
from ._household import HouseholdSolution, initial_state, solve_households
from ._params import (Economy, check_income_risk, check_prices, household_problems,
                     traced_cost_check, traced_costs_ok)
from ._start import Start, default_guess
from ._results import check_converged, linear_solve
from ._warm import check_inverses
from ._wedges import rebate_residuals
from ._unknowns import decode, encode, transfers_from_x, wages_from_x, x_from_wages

__all__ = [
    "Equilibrium", "EquilibriumOptions", "HISTORY_COLUMNS", "Start", "World", "check_equilibrium",
    "decode", "default_guess", "encode", "equilibrium_root", "excess_demands",
    "market_residuals", "newton_path", "revenue_residuals", "solve_equilibrium",
    "solve_equilibrium_jit", "solve_world", "system_residuals", "trade_residual",
    "transfers_from_x", "value_and_jacobian",
]

HISTORY_COLUMNS = _newton.HISTORY_COLUMNS
value_and_jacobian = _newton.value_and_jacobian


class World(NamedTuple):
    """Everything solved at given prices: household problems, policies, distributions,
    aggregates."""

    problems: object
    households: HouseholdSolution
    distribution: DistributionSolution
    aggregates: Aggregates


class Equilibrium(NamedTuple):
    """A solved stationary equilibrium.

    W[i]: wages per efficiency unit (mean one); R: scalar (global) or [N] (autarky);
    beta; world: policies, distributions and aggregates at these prices;
    goods_residuals[j] (j = 1..N-1, relative to world GDP), bond_residuals ([1] or [N]);
    walras_residual: the dropped goods-market condition j = 0; x: unconstrained
    unknowns; converged, iterations, residual (max |excess demand|), plus whether every
    household and distribution solve inside converged; history[k, 4]: the Newton path,
    one row per iteration (columns HISTORY_COLUMNS: max |excess demand| at the trial
    point, sup-norm of the step taken from there, accepted 0/1, Jacobian computed 0/1;
    see :func:`newton_path`): every iteration from :func:`solve_equilibrium`, the first
    64 rows (NaN after the last iteration) from :func:`solve_equilibrium_jit`;
    trade_residual: the largest goods-market excess demand relative to the seller's
    trade volume (see :func:`trade_residual`); T[i]: the lump-sum rebate per household,
    tariff plus capital-account wedge revenue (zeros under free trade without wedges;
    R is the world return, households face R_i = R + omega_i, :mod:`hat_jax._wedges`);
    revenue_residuals[i]: (L_i T_i - Rev_i - (R - R_i) A_i) / world GDP (empty without
    tariffs and wedges); jacobian: the Newton's last
    Jacobian of the excess demands in x (exact or secant-updated near the root; None from
    a batched solve), a warm start (``Start.J``) for a nearby solve of the same economy's
    shape; stats: ``{"iterations", "compile_s", "run_s"}`` of :func:`solve_equilibrium`
    (compile_s about 0 when the programs for these shapes were compiled before in this
    process, small when JAX's persistent compilation cache holds them; None from the
    jit-able and batched solves).
    """

    economy: Economy
    W: jax.Array
    R: jax.Array
    beta: jax.Array
    world: World
    goods_residuals: jax.Array
    bond_residuals: jax.Array
    walras_residual: jax.Array
    x: jax.Array
    converged: jax.Array
    iterations: jax.Array
    residual: jax.Array
    history: jax.Array
    trade_residual: jax.Array
    T: jax.Array | None = None
    revenue_residuals: jax.Array | None = None
    jacobian: jax.Array | None = None
    stats: dict | None = None


# ------------------------------------------------------------------- world at prices
def solve_world(economy: Economy, W, R, beta, hh_state0=None,
                opts: EquilibriumOptions | None = None, *, T=None, inverses=None,
                **overrides) -> World:
    """Households, stationary distributions and aggregates of every country at (W, R, beta)
    and lump-sum transfers T (default 0; prices include the economy's tariffs).

    opts: :class:`EquilibriumOptions` (only its household and distribution settings
    matter here); keyword ``overrides`` replace its fields (``hh_tol=1e-12``, ...).
    No convergence check here (inner solves report converged flags); see
    :func:`solve_equilibrium`. inverses: a nearby world's
    :class:`~hat_jax.model.WarmInverses`, for chord steps (the same solution, fewer sweeps).
    """
    opts = EquilibriumOptions() if opts is None else opts
    if overrides:
        opts = opts.replace(**overrides)
    opts = opts.resolved(economy)
    problems = household_problems(economy, W, R, beta, T)
    hh = solve_households(problems, opts.household_options(economy), state0=hh_state0,
                          throw=False, inverse=None if inverses is None else inverses.household)
    dist = stationary_distributions(hh.pi, hh.lottery_lo, hh.lottery_w, problems.P,
                                    opts.distribution_options(economy), throw=False,
                                    inverse=None if inverses is None else inverses.distribution)
    agg = aggregate(hh, dist.lam, problems, economy.L, economy.Na, economy.tariffs)
    return World(problems, hh, dist, agg)


def market_residuals(agg: Aggregates, opts: EquilibriumOptions):
    """(goods residuals j=1..N-1, bond residual(s), dropped goods residual j=0), each
    relative to world GDP; goods markets at producer prices (Y_j = sales_j)."""
    gdp = jnp.sum(agg.Y)
    goods = (agg.Y - _sales(agg)) / gdp
    if opts.regime == "global":
        bonds = jnp.sum(agg.bond_demand)[None] / gdp
    else:
        bonds = agg.bond_demand / gdp
    return goods[1:], bonds, goods[0]


def _sales(agg: Aggregates):
    return jnp.sum(agg.M, axis=0) if agg.sales is None else agg.sales


def revenue_residuals(agg: Aggregates, L, T):
    """(L_i T_i - Rev_i) / world GDP: the rebate condition of every country."""
    return (L * T - agg.revenue) / jnp.sum(agg.Y)


def trade_residual(agg: Aggregates):
    """max_j |Y_j - sum_i M_ij| / (exports_j + imports_j): goods-market excess demand
    relative to each seller's trade volume (every market, the dropped one included)."""
    excess = jnp.abs(agg.Y - _sales(agg))
    trade = agg.exports + agg.imports
    return jnp.max(jnp.where(trade > 0, excess / jnp.where(trade > 0, trade, 1.0),
                             jnp.where(excess > 0, jnp.inf, 0.0)))


def _system(x, economy: Economy, opts: EquilibriumOptions, R_fixed, hh_state, inverses=None):
    """(residuals, (household states, inner solves converged, goods markets clear
    relative to trade))."""
    W, R, beta = decode(x, economy, opts, R_fixed)
    T = transfers_from_x(x, economy)
    world = solve_world(economy, W, R, beta, hh_state, opts, T=T, inverses=inverses)
    inner = jnp.all(world.households.converged) & jnp.all(world.distribution.converged)
    trade_ok = trade_residual(world.aggregates) <= opts.trade_tol
    return system_residuals(world, economy, opts, T), (world.households.state, inner,
                                                       trade_ok)


def system_residuals(world, economy: Economy, opts: EquilibriumOptions, T):
    """The residuals of the equilibrium system in a solved world: goods j = 1..N-1, bonds
    (per country under autarky) and, with tariffs or wedges, the N rebate conditions."""
    goods, bonds, _ = market_residuals(world.aggregates, opts)
    if economy.has_rebates:
        bonds = jnp.concatenate([bonds, rebate_residuals(world.aggregates, economy, T)])
    return jnp.concatenate([goods, bonds])


def excess_demands(x, economy: Economy, opts: EquilibriumOptions, R_fixed, hh_state,
                   inverses=None):
    """The equilibrium system at unknowns x: (residuals [goods j = 1..N-1, bonds],
    (household states, every inner household / distribution solve converged))."""
    r, (state, inner, _) = _system(x, economy, opts, R_fixed, hh_state, inverses)
    return r, (state, inner)


def _newton_system(x, economy, opts, R_fixed, hh_state, inverses=None):
    """The system Newton iterates on: a root also needs the goods markets to clear
    relative to each country's trade (:func:`trade_residual` <= trade_tol)."""
    r, (state, inner, trade_ok) = _system(x, economy, opts, R_fixed, hh_state, inverses)
    return r, (state, inner & trade_ok)


def _callback_progress(it, row):
    jax.debug.callback(print_progress, it, row, ordered=True)


def _newton_step(c, economy, R_fixed, opts, inverses=None):
    f = lambda x, s: _newton_system(x, economy, opts, R_fixed, s, inverses)
    return _newton.step(c, f, opts.tol, opts.jacobian_reuse, opts.max_step, opts.block)


@partial(jax.custom_jvp, nondiff_argnums=(4,))
def equilibrium_root(x0, economy, hh_state0, R_fixed, opts, J0=None, inverses=None):
    """The root x* of the excess demands by damped Newton (hat_jax._newton), differentiated
    by the implicit function theorem: dx* = -(df/dx)^{-1} (df/d(economy, R_fixed))
    d(economy, R_fixed), with df/dx the exact N x N Jacobian (forward mode) and a dense
    LU solve (lineax). x0, hh_state0 and J0 (a Jacobian to start Newton from) are
    starting values and carry no derivative; so do ``inverses`` (chord steps of the
    inner solves, :mod:`hat_jax._warm`).
    Returns (x*, household states, iterations, history[HISTORY_ROWS, 4], last Jacobian).
    """
    inverses = lax.stop_gradient(inverses)
    f = lambda x, s: _newton_system(x, economy, opts, R_fixed, s, inverses)
    c = _newton.run(lax.stop_gradient(x0), lax.stop_gradient(hh_state0), f, opts.tol,
                    opts.max_iter, opts.jacobian_reuse, opts.max_step,
                    _callback_progress if opts.verbose else None, lax.stop_gradient(J0),
                    opts.block)
    x, s = _newton.solution(c)
    return x, s, c.it, c.history, c.J


@equilibrium_root.defjvp
def _equilibrium_root_jvp(opts, primals, tangents):
    x0, economy, hh_state0, R_fixed, J0, inverses = primals
    _, t_economy, _, t_R, _, _ = tangents
    x, s, it, hist, J_last = equilibrium_root(x0, economy, hh_state0, R_fixed, opts, J0,
                                              inverses)
    f = lambda xx, e, r: excess_demands(xx, e, opts, r, s, lax.stop_gradient(inverses))[0]
    J = value_and_jacobian(lambda xx: (f(xx, economy, R_fixed), None), x, opts.block)[1]
    _, rhs = jax.jvp(lambda e, r: f(x, e, r), (economy, R_fixed), (t_economy, t_R))
    t_x = -linear_solve(lx.MatrixLinearOperator(J), rhs, lx.LU())
    t_s = jax.tree_util.tree_map(jnp.zeros_like, s)
    return (x, s, it, hist, J_last), (t_x, t_s, np.zeros(np.shape(it), jax.dtypes.float0),
                                      jnp.zeros_like(hist), jnp.zeros_like(J_last))


def _start(economy, opts, start: Start):
    """(x0, R_fixed, household warm start) from a :class:`Start` (empty prices take the
    default guess; an empty household state the cold start)."""
    start = start.traced(economy, opts)
    R_fixed = start.R if opts.unknown == "beta" else jnp.asarray(1.0, jnp.float64)
    x0 = lax.stop_gradient(encode(start.W, start.R, start.beta, economy, opts, start.T))
    hh_state0 = start.state
    if hh_state0 is None:
        W, R, beta = decode(x0, economy, opts, R_fixed)
        probs = household_problems(economy, W, R, beta, transfers_from_x(x0, economy))
        hopts = opts.household_options(economy)
        hh_state0 = jax.vmap(initial_state, in_axes=(0, None))(probs, hopts)
    return x0, R_fixed, lax.stop_gradient(hh_state0)


def _finish(x, s, it, history, economy, R_fixed, opts, J=None, inverses=None) -> Equilibrium:
    """The equilibrium record at the root x (world re-solved from the warm start s)."""
    W, R, beta = decode(x, economy, opts, R_fixed)
    T = transfers_from_x(x, economy)
    world = solve_world(economy, W, R, beta, s, opts, T=T, inverses=inverses)
    goods, bonds, walras = market_residuals(world.aggregates, opts)
    rev = rebate_residuals(world.aggregates, economy, T)[:economy.N if economy.has_rebates
                                                         else 0]
    res = jnp.maximum(jnp.max(jnp.abs(goods)), jnp.max(jnp.abs(bonds)))
    if economy.has_rebates:
        res = jnp.maximum(res, jnp.max(jnp.abs(rev)))
    trade_res = trade_residual(world.aggregates)
    ok = (res <= opts.tol) & (trade_res <= opts.trade_tol) \
        & jnp.all(world.households.converged) & jnp.all(world.distribution.converged)
    return Equilibrium(economy, W, R, beta, world, goods, bonds, walras, x, ok, it, res,
                       history, trade_res, T, rev, J)


def solve_equilibrium_jit(economy: Economy, opts: EquilibriumOptions | None = None,
                          start: Start | None = None, throw: bool = True) -> Equilibrium:
    """The jit-able, differentiable core of :func:`solve_equilibrium`.

    start: a :class:`Start` (prices W, R, beta, rebates T, household state, Jacobian J;
    empty fields take the default guess); in the "beta" mode ``start.R`` is the fixed
    target R, and derivatives with respect to it are exact too. throw: attach a runtime error
    (equinox.error_if) that fires if the equilibrium or an inner solve did not converge;
    with throw=False inspect ``converged`` / ``residual`` yourself. ``history`` keeps the
    first HISTORY_ROWS (64) Newton iterations. Validation: an :class:`Economy` is
    validated when it is built from concrete values; one built inside a trace (for
    example ``economy.replace(d=d)`` with a traced ``d`` under ``jax.jit``) cannot be,
    so validate such inputs before tracing (:func:`hat_jax._params.validate_economy`,
    :func:`hat_jax._params.validate_trade_costs`); the trade costs are checked in the
    program all the same (:func:`hat_jax._params.traced_cost_check`: d > 0, and d >= 1
    under the cost floor, an error naming d when violated; with throw=False no error
    is attached, the result is unconverged with an infinite residual instead).
    """
    opts = EquilibriumOptions() if opts is None else opts
    start = Start() if start is None else start
    # d under jit is checked in the program: a runtime error with throw=True; with
    # throw=False (no host callback, so the program stays in the persistent cache) bad
    # costs make the result unconverged with an infinite residual
    opts = opts.resolved(economy)
    check_income_risk(economy)  # no stationary equilibrium without income risk
    costs_ok = None if throw else traced_costs_ok(economy)
    economy = traced_cost_check(economy) if throw else economy
    x0, R_fixed, s0 = _start(economy, opts, start._replace(J=None))
    inverses = check_inverses(start.inverses, economy)
    x, s, it, history, J = equilibrium_root(x0, economy, s0, R_fixed, opts,
                                            _check_J0(start.J, x0), inverses)
    eq = _finish(x, s, it, history, economy, R_fixed, opts, J, inverses)
    if costs_ok is not None:
        eq = eq._replace(converged=eq.converged & costs_ok,
                         residual=jnp.where(costs_ok, eq.residual, jnp.inf))
    if throw:
        res = check_converged("world equilibrium (or an inner household/distribution solve)",
                              eq.converged, it, eq.residual, opts.tol)
        eq = eq._replace(residual=res)
    return eq


def _check_J0(J0, x0):
    """J0 as a float64 array of the unknowns' shape (n, n), or None."""
    if J0 is None:
        return None
    n = x0.shape[0]
    if jnp.shape(J0) != (n, n):
        raise ValueError(f"Start.J must be the ({n}, {n}) Jacobian of this economy's "
                         f"unknowns (Equilibrium.jacobian), got shape "
                         f"Start.J.shape={jnp.shape(J0)}")
    return jnp.asarray(J0, jnp.float64)


# The three programs of the host-driven solve. Options are dynamic arguments: a new
# tolerance or iteration cap reuses the compiled programs (and their persistent-cache
# entries); none of them carries a host callback.
_start_jit = jax.jit(_start)
_init_jit = jax.jit(_newton.init)
_step_jit = jax.jit(_newton_step)
_finish_jit = jax.jit(_finish)


def solve_equilibrium(economy: Economy, opts: EquilibriumOptions | None = None,
                      start: Start | None = None, *, throw: bool = True) -> Equilibrium:
    """Solve the stationary world equilibrium (model.md section 6).

    opts: :class:`EquilibriumOptions` (regime, unknown R or beta, tolerances).
    start: a :class:`Start` (``Start.from_equilibrium(eq)`` or
      ``Start.from_baseline(b)`` for a nearby solve): prices W, R, beta (in the "beta"
      mode R is the target R, default 1.01), tariff rebates T (only with tariffs, when
      the N rebates T_i = Rev_i / L_i are unknowns too, model.md s.14), household
      state and Newton Jacobian J; empty fields take the default guess, given ones are
      validated (ValueError naming the field and value).
    throw: raise ConvergenceError with residuals and iterations if not converged.
    The result's ``stats`` holds iterations, compile_s and run_s (a cold start of a
    large world first solves a coarse grid: ``opts.coarse_grid``, its seconds included
    and its ``coarse_*`` stats beside).

    The Newton iteration is driven from Python, one compiled step at a time, so progress
    (``opts.verbose``) is printed without host callbacks and Ctrl-C stops it between
    iterations. For derivatives, call :func:`solve_equilibrium_jit` under jax.jvp / grad
    / jacfwd.
    """
    opts = (EquilibriumOptions() if opts is None else opts).resolved(economy)
    check_income_risk(economy)  # no stationary equilibrium without income risk
    start, coarse = coarse_start(economy, opts, start, solve_equilibrium)
    verbose = opts.verbose
    opts = opts.replace(verbose=False)  # printing happens here, not in the programs
    if verbose and coarse["coarse_na"]:
        print(f"coarse grid Na={coarse['coarse_na']}: {coarse['coarse_iterations']} "
              f"iterations; now Na={economy.Na}", file=sys.stderr, flush=True)
    start = (Start() if start is None else start).filled(economy, opts)
    check_prices(economy, start.W, start.R, start.beta if opts.unknown == "beta" else None)
    J0, inverses = start.J, check_inverses(start.inverses, economy)
    args = (economy, opts, start._replace(J=None, inverses=None).traced(economy, opts))
    t0 = time.perf_counter()
    first = compiled(_start_jit, args)
    x0, R_fixed, s0 = first.out_info
    J0 = _check_J0(J0, x0)
    init = compiled(_init_jit, (x0, s0, J0))
    step = compiled(_step_jit, (init.out_info, economy, R_fixed, opts, inverses))
    finish = compiled(_finish_jit, (x0, s0, jax.ShapeDtypeStruct((), jnp.int32), None,
                                    economy, R_fixed, opts, init.out_info.J, inverses))
    t1 = time.perf_counter()
    if verbose:
        print(f"compiled in {t1 - t0:.1f} s; solving...", file=sys.stderr, flush=True)
    x0, R_fixed, s0 = first(*args)
    c = init(x0, s0, J0)
    rows = []
    while int(c.it) < opts.max_iter and not bool(c.done):
        c = step(c, economy, R_fixed, opts, inverses)
        rows.append(np.asarray(c.row))
        if verbose:
            print_progress(len(rows) - 1, rows[-1])
    warn_if_singular(c.J, c.J_valid)
    eq = finish(*_newton.solution(c), c.it, None, economy, R_fixed, opts, c.J, inverses)
    eq = jax.block_until_ready(eq)._replace(
        history=jnp.asarray(np.reshape(rows, (-1, len(HISTORY_COLUMNS))), jnp.float64))
    eq = eq._replace(stats={  # a coarse stage's seconds included (hat_jax._coarse)
        **coarse, "iterations": len(rows),
        "compile_s": t1 - t0 + coarse.get("coarse_compile_s", 0.0),
        "run_s": time.perf_counter() - t1 + coarse.get("coarse_run_s", 0.0)})
    if throw:
        check_equilibrium(eq, opts)
    return eq
