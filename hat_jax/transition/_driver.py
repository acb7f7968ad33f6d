"""solve_transition: the perfect-foresight path after a shock, driven from Python
(model.md s.12).

1. The initial equilibrium is re-solved with beta fixed at its value (unknown R,
   household tolerance ``opts.hh_tol``), warm-started, and the terminal stationary
   equilibrium of the shock's terminal economy likewise (the ``counterfactual``
   equilibrium for a permanent change in trade costs), warm-started from the cache's
   terminal with its Newton Jacobian, else from the initial; known ones are reused
   (``cache=``, ``initial=``, ``terminal=``; :mod:`~hat_jax.transition._reuse`).
2. The sequence-space Jacobian is computed once at the terminal stationary path (or
   taken from ``jacobian=`` or the cache) and LU-factorised.
3. Quasi-Newton from the constant terminal path, one compiled step per iteration
   (progress on stderr with ``verbose``); a step that does not halve max|H| triggers
   an exact Jacobian at the current path, at most ``opts.max_refresh`` times; once
   they are spent such a step ends the solve, not converged (``Transition.stop``).
4. The terminal gap is checked: a T too short raises ValueError naming T and the gap.
"""

from __future__ import annotations

import sys
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._deprecation import renamed_keywords, warn_renamed
from .._baseline import Baseline, as_baseline
from .._change import Change
from .._equilibrium import Equilibrium, EquilibriumOptions, Start, solve_equilibrium
from .._params import household_options
from .._results import ConvergenceError
from ._path import (PathOutcomes, ShockPath, endpoint, path_outcomes,
                   steady_unknowns)
from ._shocks import DEFAULT_HORIZON, shock_path
from ._fakenews import fake_news_jacobian
from ._distributions import check_paths, distribution_paths
from ._reuse import TransitionCache, check_endpoint, same_economy
from ._autarky import (autarky_endpoints, autarky_jacobian_jit, autarky_outcomes_jit,
                       check_autarky_inputs, stationary_autarky_jacobian,
                       steady_autarky_unknowns)
from ._solve import TransitionOptions, residual_jacobian, terminal_gap

__all__ = ["Transition", "solve_transition", "endpoint_equilibria", "stationary_shock",
           "stationary_jacobian", "check_transition", "transition_eq_options",
           "transition_jit", "solve_autarky_transition"]


class Transition(NamedTuple):
    """A solved transition.

    economy (beta fixed), shock (:class:`ShockPath`), initial / terminal
    (:class:`~hat_jax.Equilibrium`, beta fixed), U [T, N] (unknowns; [T, 2N-1] under
    financial autarky, where ``path.R`` / ``path.R_next`` are R_{i,t} [T, N]), path
    (:class:`PathOutcomes`: prices, trade, NFA, borrowing-limit share, inequality,
    residuals by date, date-0 values), jacobian (the sequence-space Jacobian the solve
    used, [N T, N T]: the stationary one at the terminal path, or one taken over from a
    cache or ``jacobian=``), converged, iterations (quasi-Newton steps),
    jacobians (Jacobians computed), residual (max |H| / world GDP over all
    dates), terminal_gap, stats (iterations, jacobian_s, newton_s, endpoints_s), stop (why the
    quasi-Newton iteration ended: "converged", "max_iter", "max_refresh": a step
    failed to halve the residual with the exact-Jacobian refreshes spent, or
    "not finite"), cache (:class:`TransitionCache`: the endpoints and the Jacobian, for
    ``solve_transition(..., cache=tr.cache)``), paths (:class:`DistributionPaths` when
    asked for with ``paths=``, else None). Properties: horizon, regime, returns R_{i,t},
    nfa, trade_balance (for a wedge path, :class:`RegimeTransition` has R_t + omega_{i,t}).
    """

    economy: object
    shock: ShockPath
    initial: Equilibrium
    terminal: Equilibrium
    U: jax.Array
    path: PathOutcomes
    jacobian: jax.Array
    converged: bool
    iterations: int
    jacobians: int
    residual: float
    terminal_gap: float
    stats: dict
    stop: str = "converged"
    cache: TransitionCache | None = None
    paths: object = None

    @property
    def horizon(self) -> int:
        """T, the number of transition dates."""
        return self.shock.horizon

    @property
    def T(self) -> int:
        """Deprecated name of :attr:`horizon` (``T`` is the rebates)."""
        warn_renamed("Transition.T", "Transition.horizon (T is the rebates)")
        return self.horizon

    @property
    def regime(self) -> str:
        """"autarky" (R_{i,t} per country, N bond markets per date) or "global"."""
        return "autarky" if np.ndim(self.path.R) == 2 else "global"

    @property
    def returns(self) -> np.ndarray:
        """R_{i,t} [T, N], the return paid in country i at date t (row 0 predetermined;
        the world R_t in every country under financial globalization)."""
        R = np.asarray(self.path.R)
        return R if R.ndim == 2 else np.repeat(R[:, None], self.economy.N, axis=1)

    @property
    def nfa(self) -> np.ndarray:
        """Net foreign assets A'_{i,t} [T, N] (bonds bought at t; zero under autarky)."""
        return np.asarray(self.path.bond_demand)

    @property
    def trade_balance(self) -> np.ndarray:
        """Exports minus imports X_{i,t} - M_{i,t} [T, N] (balanced under autarky)."""
        M = np.asarray(self.path.M)
        off = M * (1.0 - np.eye(M.shape[1]))
        return off.sum(axis=1) - off.sum(axis=2)


@renamed_keywords(T="horizon")
def stationary_shock(economy, horizon: int) -> ShockPath:
    """The no-change path of ``economy`` (every date equal to it)."""
    T = horizon
    return shock_path(economy, None, T)


def transition_eq_options(opts: TransitionOptions, base: EquilibriumOptions | None):
    """The stationary solves' options: ``base`` with unknown R (beta fixed) and the
    transition's household tolerance and sweep cap."""
    base = EquilibriumOptions() if base is None else base
    if base.regime != "global":
        raise ValueError("transitions need one world bond market (regime='global'), got "
                         f"regime={base.regime!r}")
    return base.fixed_beta("global").replace(hh_tol=min(base.hh_tol, opts.hh_tol),
                                             hh_max_iter=opts.hh_max_iter, verbose=False)


def endpoint_equilibria(eq: Baseline | Equilibrium, shock: ShockPath,
                        opts: TransitionOptions, eq_opts: EquilibriumOptions | None = None,
                        *, cache: TransitionCache | None = None, initial=None, terminal=None):
    """(economy, initial, terminal): the baseline's fixed-beta economy and stationary
    equilibria, the initial re-solved at the transition's household tolerance, the
    terminal at the shock's terminal economy (warm-started from the cache's terminal
    with its Newton Jacobian, else from the initial). Known ones are taken as they are:
    ``initial`` / ``terminal`` (solved Equilibria, checked against the economies), else
    the ``cache``'s (:class:`TransitionCache`) when their economies are the same."""
    b = as_baseline(eq)
    if b.regime != "global":
        raise ValueError("endpoint_equilibria needs one world bond market; this "
                         "equilibrium has one R per country (financial autarky): "
                         "solve_transition solves its path with N bond markets per date")
    econ = b.economy
    if econ.has_wedges or "wedges" in shock.fields:
        raise ValueError("solve_transition does not solve the rebates of capital-account "
                         "wedges (Economy.wedges) along the path: use "
                         "hat_jax.transition.solve_regime_transition (wedge paths) or "
                         "open_capital_account")
    eo = transition_eq_options(opts, eq_opts)
    if cache is not None and not same_economy(cache.economy, econ):
        raise ValueError("cache is the TransitionCache of another baseline economy (its "
                         "fixed-beta economy differs from this baseline's)")
    if initial is not None:
        initial = check_endpoint(initial, econ, "initial")
    elif cache is not None:
        initial = cache.initial
    else:
        initial = solve_equilibrium(econ, eo, Start.from_baseline(b, jacobian=True))
    term_econ = shock.terminal(econ)
    if terminal is not None:
        return econ, initial, check_endpoint(terminal, term_econ, "terminal")
    if same_economy(term_econ, econ):
        return econ, initial, initial
    if cache is not None and same_economy(cache.terminal.economy, term_econ):
        return econ, initial, cache.terminal
    # from a cached terminal (a nearby shock) with its Newton Jacobian; from the initial
    # with its prices and household state only: its Jacobian, far from a 10% cut's
    # terminal, cost a Newton iteration more than computing one (two_country, Na = 40)
    start = cache.warm_start() if cache is not None else \
        Start.from_equilibrium(initial, jacobian=False)
    return econ, initial, solve_equilibrium(term_econ, eo, start)


_outcomes_jit = jax.jit(path_outcomes)
_solve_jit = jax.jit(lambda lu, H: jax.scipy.linalg.lu_solve(lu, H.reshape(-1)).reshape(H.shape))
_jacobian_jit = jax.jit(residual_jacobian, static_argnames=("batch",))
_lu_jit = jax.jit(jax.scipy.linalg.lu_factor)
_fake_news_jit = jax.jit(fake_news_jacobian, static_argnums=(2, 4))


@renamed_keywords(T="horizon")
def stationary_jacobian(eq: Baseline | Equilibrium, horizon: int,
                        opts: TransitionOptions | None = None):
    """The sequence-space Jacobian [N T, N T] at the stationary path of the baseline
    ``eq`` (its fixed-beta economy constant over T dates), by the fake-news algorithm
    (``opts.jacobian_method == "fake_news"``, default) or one jvp per column ("jvp")."""
    T = horizon
    opts = TransitionOptions() if opts is None else opts
    b = as_baseline(eq)
    econ = b.economy
    hopts = household_options(econ, tol=opts.hh_tol)
    end = endpoint(b)
    if opts.jacobian_method == "fake_news":
        return _fake_news_jit(econ, end, T, hopts, max(1, opts.jacobian_batch // 4))
    return _jacobian_jit(steady_unknowns(end, T), econ, stationary_shock(econ, T), end, end,
                         hopts, batch=opts.jacobian_batch)


def _log(verbose, msg):
    if verbose:
        print(msg, file=sys.stderr, flush=True)


@renamed_keywords(T="horizon")
def solve_transition(eq: Baseline | Equilibrium, shock: ShockPath | Change | None = None, *,
                     d=None, A=None,
                     announce: int = 0, rho: float | None = None, horizon: int = DEFAULT_HORIZON,
                     opts: TransitionOptions | None = None,
                     eq_opts: EquilibriumOptions | None = None, jacobian=None,
                     cache=None, initial: Equilibrium | None = None,
                     terminal: Equilibrium | None = None, paths=None,
                     verbose: bool = False, throw: bool = True) -> Transition:
    """The perfect-foresight transition from the stationary equilibrium ``eq`` (model.md
    s.12) after a shock at t = 0: a :class:`ShockPath`, or a :class:`~hat_jax.Change`
    (deprecated: new trade costs ``d`` / TFP ``A``) with ``announce`` (date s of the
    change) and ``rho`` (None: permanent; else a temporary change decaying at rate rho),
    over ``horizon`` dates T (default 150).

    opts: :class:`TransitionOptions`; eq_opts: options of the two stationary solves.
    What is known is reused, never recomputed: ``cache`` (a :class:`TransitionCache`,
    ``previous.cache``, or the previous :class:`Transition`) supplies the initial
    equilibrium, the terminal one when the shock's terminal economy is the same, and the
    sequence-space Jacobian when T is the same (see :mod:`~hat_jax.transition._reuse`);
    ``initial`` / ``terminal``: solved stationary equilibria (beta fixed at the
    baseline's) to take as they are; jacobian: a sequence-space Jacobian [N T, N T] to
    use (e.g. ``previous.jacobian``). The result's ``cache`` holds what this solve knew.
    paths: keep the distribution and / or policy paths, some of ("distribution",
    "policies") (:func:`~hat_jax.transition.distribution_paths`; ``Transition.paths``).
    throw: raise ConvergenceError if the path does not converge, and ValueError if T is
    too short for the terminal gap.

    A baseline under financial autarky (``regime == "autarky"``, R_i per country) stays
    under autarky throughout: N bond markets A'_{i,t} = 0 per date, unknowns (x_W,t,
    R_{1,t+1}..R_{N,t+1}), R_{i,0} predetermined, the terminal the autarky stationary
    equilibrium of the shock's terminal economy (:mod:`~hat_jax.transition._autarky`);
    ``cache`` and ``paths`` do not apply there (ValueError), ``eq_opts``' regime is the
    baseline's, the result's ``cache`` is None and ``path.R`` is [T, N]
    (:attr:`Transition.returns`).
    """
    T = horizon
    opts = TransitionOptions() if opts is None else opts
    b = as_baseline(eq)
    if shock is None or isinstance(shock, Change):
        shock = shock_path(b.economy, shock, T, announce=announce, rho=rho, d=d, A=A)
    T = shock.horizon
    if b.regime == "autarky":
        return solve_autarky_transition(b, shock, opts=opts, eq_opts=eq_opts,
                                        jacobian=jacobian, initial=initial, terminal=terminal,
                                        cache=cache, paths=paths, verbose=verbose, throw=throw)
    cache = _as_cache(cache)
    paths = check_paths(paths)
    stats: dict = {}
    t0 = time.perf_counter()
    _log(verbose, "the initial and terminal stationary equilibria...")
    econ, initial, terminal = endpoint_equilibria(b, shock, opts, eq_opts, cache=cache,
                                                  initial=initial, terminal=terminal)
    start, end = endpoint(initial), endpoint(terminal)
    hopts = household_options(econ, tol=opts.hh_tol)
    t1 = time.perf_counter()
    stats["endpoints_s"] = t1 - t0
    jac = _jacobian_for(jacobian, cache, terminal, econ.N, T, opts, verbose)
    t2 = time.perf_counter()
    stats["jacobian_s"] = t2 - t1
    U, out, rn, it, n_jac, stop, jac = _newton(
        steady_unknowns(end, T), jac, (econ, shock, start, end, hopts), terminal, opts, verbose)
    stats["newton_s"] = time.perf_counter() - t2
    stats["iterations"] = it
    gap = float(terminal_gap(out, end, terminal.world.aggregates))
    converged = bool(rn <= float(opts.tol))
    new_cache = TransitionCache(econ, initial, terminal, jac.J, jac.lu, jac.exact)
    tr = Transition(econ, shock, initial, terminal, U, out, jac.J, converged, it,
                    n_jac + jac.computed, rn, gap, stats, stop, new_cache)
    if throw:
        check_transition(tr, opts)
    if paths:
        tr = tr._replace(paths=distribution_paths(tr, paths, opts))
    return tr


def solve_autarky_transition(b: Baseline, shock: ShockPath, *,
                             opts: TransitionOptions | None = None,
                             eq_opts: EquilibriumOptions | None = None, jacobian=None,
                             initial=None, terminal=None, cache=None, paths=None,
                             verbose: bool = False, throw: bool = True) -> Transition:
    """The perfect-foresight path after ``shock`` under financial autarky throughout
    (:func:`solve_transition` of a baseline with ``regime == "autarky"``; model.md s.12
    and s.15): quasi-Newton U <- U - J^{-1} H(U) on the (2N-1) T residuals H of
    :func:`~hat_jax.transition._autarky.autarky_outcomes` (goods j = 1..N-1 and the N bond
    markets A'_{i,t} = 0 per date), J the stationary Jacobian at the terminal autarky
    path (:func:`~hat_jax.transition._autarky.stationary_autarky_jacobian`) or
    ``jacobian``, exact Jacobians at the path as in :func:`solve_transition`. Returns a
    :class:`Transition` (``cache`` None) whose ``path.R`` / ``path.R_next`` are [T, N]
    (:attr:`Transition.returns`)."""
    opts = TransitionOptions() if opts is None else opts
    check_autarky_inputs(b, shock, cache=cache, paths=paths, jacobian=jacobian)
    T, stats, t0 = shock.horizon, {}, time.perf_counter()
    _log(verbose, "the initial and terminal autarky stationary equilibria...")
    econ, initial, terminal = autarky_endpoints(b, shock, opts, eq_opts, initial, terminal)
    start, end = endpoint(initial), endpoint(terminal)
    hopts = household_options(econ, tol=opts.hh_tol)
    args = (econ, shock, start, end, hopts)
    U0 = steady_autarky_unknowns(end, T)
    t1 = time.perf_counter()
    stats["endpoints_s"] = t1 - t0
    if jacobian is None:
        _log(verbose, f"sequence-space Jacobian ({U0.size} columns)...")
    J, computed = (jnp.asarray(jacobian), 0) if jacobian is not None else \
        (stationary_autarky_jacobian(shock.terminal(econ), end, T, hopts, opts), 1)
    jac = _Jac(J, _lu_jit(J), True, computed)
    stats["jacobian_s"] = time.perf_counter() - t1
    exact = lambda U: autarky_jacobian_jit(U, *args, batch=opts.jacobian_batch)  # noqa: E731
    return path_transition(U0, jac, args, (initial, terminal, end), opts, stats, throw,
                           verbose, autarky_outcomes_jit, exact)


def path_transition(U0, jac: _Jac, args, ends, opts: TransitionOptions, stats: dict,
                    throw: bool, verbose, outcomes, exact_at) -> Transition:
    """Quasi-Newton from U0 on the residuals ``outcomes(U, *args)`` (``args`` = (economy,
    shock, ...)) with ``jac`` and exact Jacobians from ``exact_at``, and the
    :class:`Transition` of the path (no cache): ``ends`` = (initial, terminal
    equilibria, terminal endpoint); ``stats`` gains newton_s and iterations;
    check_transition with ``throw``. The common end of the paths with other unknowns
    than (x_W, R) (autarky, regime changes)."""
    initial, terminal, end = ends
    t2 = time.perf_counter()
    U, out, rn, it, n_jac, stop, jac = _newton(U0, jac, args, terminal, opts, verbose,
                                               outcomes=outcomes, exact_at=exact_at)
    stats["newton_s"] = time.perf_counter() - t2
    stats["iterations"] = it
    gap = float(terminal_gap(out, end, terminal.world.aggregates))
    tr = Transition(args[0], args[1], initial, terminal, U, out, jac.J, stop == "converged",
                    it, jac.computed + n_jac, rn, gap, stats, stop, None)
    if throw:
        check_transition(tr, opts)
    return tr


def _as_cache(cache) -> TransitionCache | None:
    if cache is None or isinstance(cache, TransitionCache):
        return cache
    if isinstance(cache, Transition):
        return cache.cache
    raise ValueError(f"cache must be a TransitionCache (Transition.cache) or a Transition, "
                     f"got {type(cache).__name__}")


class _Jac(NamedTuple):
    J: jax.Array
    lu: tuple
    exact: bool      # the stationary Jacobian at this terminal (or given by the user)
    computed: int    # stationary Jacobians computed


def _jacobian_for(jacobian, cache, terminal, N, T, opts, verbose) -> _Jac:
    """The sequence-space Jacobian of this solve: given, the cache's (same T; exact if
    it was computed at this terminal), or the stationary one at the terminal."""
    if jacobian is not None:
        J = jnp.asarray(jacobian)
        if J.shape != (N * T, N * T):
            raise ValueError(f"jacobian must be {N * T} x {N * T} (N T), got {J.shape}")
        return _Jac(J, _lu_jit(J), True, 0)
    if cache is not None and cache.horizon == T:
        return _Jac(cache.jacobian, cache.lu,
                    cache.jacobian_exact and cache.terminal is terminal, 0)
    _log(verbose, f"sequence-space Jacobian ({N * T} columns)...")
    J = jax.block_until_ready(stationary_jacobian(terminal, T, opts))
    return _Jac(J, _lu_jit(J), True, 1)


def _newton(U, jac: _Jac, args, terminal, opts, verbose, outcomes=None, exact_at=None):
    """Quasi-Newton U <- U - J^{-1} H(U) until max|H| <= tol; a step that fails to
    halve max|H| first replaces a Jacobian taken over from another terminal by the
    stationary one at this terminal, then (at most ``opts.max_refresh`` times)
    recomputes the exact Jacobian at the current path. Returns (U, outcomes at U,
    max|H|, iterations, exact Jacobians at the path, stop, the stationary Jacobian).
    outcomes / exact_at: the path (``outcomes(U, *args).residuals``) and its exact
    Jacobian at U (default: :func:`path_outcomes`, :func:`residual_jacobian`; the
    regime transitions of :mod:`~hat_jax.transition._regime` pass theirs)."""
    outcomes = _outcomes_jit if outcomes is None else outcomes
    if exact_at is None:
        exact_at = lambda U: _jacobian_jit(U, *args, batch=opts.jacobian_batch)  # noqa: E731
    it, rn_prev, refreshes, n_jac = 0, np.inf, 0, 0
    tol, max_iter = float(opts.tol), int(opts.max_iter)
    lu, stationary = jac.lu, jac
    while True:
        out = outcomes(U, *args)
        rn = float(jnp.max(jnp.abs(out.residuals)))
        _log(verbose, f"  newton {it:3d}: max |residual| / GDP = {rn:.3e}")
        stop = ("converged" if rn <= tol else "not finite" if not np.isfinite(rn)
                else "max_iter" if it >= max_iter else None)
        if stop is not None:
            break
        if rn > 0.5 * rn_prev:  # the reused Jacobian no longer delivers: refresh it
            if not stationary.exact:
                _log(verbose, "  the stationary Jacobian at this terminal...")
                J = stationary_jacobian(terminal, args[1].horizon, opts)
                stationary = _Jac(J, _lu_jit(J), True, stationary.computed + 1)
                lu = stationary.lu
            elif refreshes >= int(opts.max_refresh):
                stop = "max_refresh"
                _log(verbose, f"  the step did not halve the residual and the "
                              f"max_refresh={int(opts.max_refresh)} exact Jacobians are "
                              f"spent: stopping")
                break
            else:
                refreshes += 1
                _log(verbose, "  exact Jacobian at the current path...")
                lu = _lu_jit(exact_at(U))
                n_jac += 1
        U, rn_prev, it = U - _solve_jit(lu, out.residuals), rn, it + 1
    out = jax.block_until_ready(out)
    return U, out, rn, it, n_jac, stop, stationary


_STOPS = {
    "converged": lambda o: "converged",
    "max_iter": lambda o: f"max_iter={int(o.max_iter)} iterations reached",
    "max_refresh": lambda o: (f"a step failed to halve the residual with the "
                              f"max_refresh={int(o.max_refresh)} exact-Jacobian refreshes "
                              f"spent"),
    "not finite": lambda o: "the residual is not finite",
}


def check_transition(tr: Transition, opts: TransitionOptions) -> None:
    """Raise ConvergenceError (residual, iterations) or ValueError (T too short)."""
    if not tr.converged:
        raise ConvergenceError(
            f"transition path did not converge: max |market residual| / world GDP "
            f"{tr.residual:.3e} > tol {float(opts.tol):g} after {tr.iterations} quasi-Newton "
            f"iterations ({tr.jacobians} exact Jacobians); stopped: {_STOPS[tr.stop](opts)}")
    if not tr.terminal_gap <= float(opts.terminal_tol):
        raise ValueError(
            f"T={tr.horizon} is too short: the terminal gap (last date vs the terminal stationary "
            f"equilibrium) is {tr.terminal_gap:.3e} > terminal_tol "
            f"{float(opts.terminal_tol):g}; increase T")


def transition_jit(economy, shock: ShockPath, start: Start, jacobian,
                   opts: TransitionOptions, eq_opts: EquilibriumOptions):
    """The jit-able, differentiable transition: (PathOutcomes, converged, residual,
    iterations). ``economy`` carries the fixed beta; the initial and terminal stationary
    equilibria are solved by :func:`hat_jax.solve_equilibrium_jit` (unknown R, from
    ``start``, e.g. ``Start.from_baseline(b)``) and the path by :func:`path_root` from the
    constant terminal path with ``jacobian`` (e.g. ``Transition.jacobian``). Every
    step is differentiated by the implicit function theorem, so ``jax.jvp`` /
    ``jax.grad`` of any path statistic with respect to the economy's parameters or the
    shock path never unroll a Newton iteration (``opts.tangent_jacobian="exact"``
    recomputes the sequence-space Jacobian at the solution for that)."""
    from .._equilibrium import solve_equilibrium_jit
    from ._solve import path_root

    eo = transition_eq_options(opts, eq_opts)
    initial = solve_equilibrium_jit(economy, eo, start._replace(J=None), throw=False)
    terminal = solve_equilibrium_jit(shock.terminal(economy), eo,
                                     Start.from_equilibrium(initial, False), throw=False)
    hopts = household_options(economy, tol=opts.hh_tol)
    start, end = endpoint(initial), endpoint(terminal)
    U0 = steady_unknowns(end, shock.horizon)
    U, rn, it = path_root(U0, jacobian, economy, shock, start, end, hopts, opts)
    out = path_outcomes(U, economy, shock, start, end, hopts)
    ok = (rn <= opts.tol) & initial.converged & terminal.converged
    return out, ok, rn, it
