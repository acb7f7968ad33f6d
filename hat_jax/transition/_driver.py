"""solve_transition: the perfect-foresight path after a shock, driven from Python
(model.md s.12).

1. The initial equilibrium is re-solved with beta fixed at its value (unknown R,
   household tolerance ``opts.hh_tol``), warm-started, and the terminal stationary
   equilibrium of the shock's terminal economy likewise (the ``counterfactual``
   equilibrium for a permanent change in trade costs).
2. The sequence-space Jacobian is computed once at the terminal stationary path (or
   taken from ``jacobian=``) and LU-factorised.
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
from ._solve import TransitionOptions, newton_step, sequence_jacobian, terminal_gap

__all__ = ["Transition", "solve_transition", "endpoint_equilibria", "stationary_shock",
           "stationary_jacobian", "check_transition", "transition_eq_options",
           "transition_jit"]


class Transition(NamedTuple):
    """A solved transition.

    economy (beta fixed), shock (:class:`ShockPath`), initial / terminal
    (:class:`~hat_jax.Equilibrium`, beta fixed), U [T, N] (unknowns), path
    (:class:`PathOutcomes`: prices, trade, NFA, borrowing-limit share, inequality,
    residuals by date, date-0 values), jacobian (the sequence-space Jacobian at the
    terminal stationary path, [N T, N T]), converged, iterations (quasi-Newton steps),
    jacobians (exact Jacobians computed), residual (max |H| / world GDP over all
    dates), terminal_gap, stats (iterations, jacobian_s, newton_s, endpoints_s), stop (why the
    quasi-Newton iteration ended: "converged", "max_iter", "max_refresh": a step
    failed to halve the residual with the exact-Jacobian refreshes spent, or
    "not finite").
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

    @property
    def horizon(self) -> int:
        """T, the number of transition dates."""
        return self.shock.horizon

    @property
    def T(self) -> int:
        """Deprecated name of :attr:`horizon` (``T`` is the rebates)."""
        warn_renamed("Transition.T", "Transition.horizon (T is the rebates)")
        return self.horizon


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
                        opts: TransitionOptions, eq_opts: EquilibriumOptions | None = None):
    """(economy, initial, terminal): the baseline's fixed-beta economy and stationary
    equilibria, the initial re-solved at the transition's household tolerance, the
    terminal at the shock's terminal economy (warm-started from the initial)."""
    b = as_baseline(eq)
    if b.regime != "global":
        raise ValueError("transitions need one world bond market; this equilibrium has "
                         "one R per country (financial autarky)")
    econ = b.economy
    if econ.has_wedges or "wedges" in shock.fields:
        raise ValueError("transitions with capital-account wedges (Economy.wedges) are not "
                         "supported yet: the wedge rebates are not solved along the path")
    eo = transition_eq_options(opts, eq_opts)
    initial = solve_equilibrium(econ, eo, Start.from_baseline(b, jacobian=False))
    term_econ = shock.terminal(econ)
    same = all(np.array_equal(np.asarray(v[-1]), np.asarray(getattr(econ, k)))
               for k, v in shock.fields.items())
    if same:
        return econ, initial, initial
    terminal = solve_equilibrium(term_econ, eo, Start.from_equilibrium(initial, False))
    return econ, initial, terminal


_outcomes_jit = jax.jit(path_outcomes)
_step_jit = jax.jit(newton_step)
_jacobian_jit = jax.jit(sequence_jacobian, static_argnames=("batch",))
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
                     verbose: bool = False, throw: bool = True) -> Transition:
    """The perfect-foresight transition from the stationary equilibrium ``eq`` (model.md
    s.12) after a shock at t = 0: a :class:`ShockPath`, or a :class:`~hat_jax.Change`
    (deprecated: new trade costs ``d`` / TFP ``A``) with ``announce`` (date s of the
    change) and ``rho`` (None: permanent; else a temporary change decaying at rate rho),
    over ``horizon`` dates T (default 150).

    opts: :class:`TransitionOptions`; eq_opts: options of the two stationary solves;
    jacobian: a sequence-space Jacobian to reuse (e.g. ``previous.jacobian`` for another
    shock with the same terminal equilibrium). throw: raise ConvergenceError if the
    path does not converge, and ValueError if T is too short for the terminal gap.
    """
    T = horizon
    opts = TransitionOptions() if opts is None else opts
    b = as_baseline(eq)
    if shock is None or isinstance(shock, Change):
        shock = shock_path(b.economy, shock, T, announce=announce, rho=rho, d=d, A=A)
    T = shock.horizon
    stats: dict = {}
    t0 = time.perf_counter()
    _log(verbose, "solving the initial and terminal stationary equilibria...")
    econ, initial, terminal = endpoint_equilibria(b, shock, opts, eq_opts)
    start, end = endpoint(initial), endpoint(terminal)
    hopts = household_options(econ, tol=opts.hh_tol)
    U = steady_unknowns(end, T)
    t1 = time.perf_counter()
    stats["endpoints_s"] = t1 - t0
    n_jac = 0
    if jacobian is None:
        _log(verbose, f"sequence-space Jacobian ({econ.N * T} columns)...")
        jacobian = jax.block_until_ready(stationary_jacobian(terminal, T, opts))
        n_jac += 1
    jacobian = jnp.asarray(jacobian)
    if jacobian.shape != (econ.N * T, econ.N * T):
        raise ValueError(f"jacobian must be {econ.N * T} x {econ.N * T} (N T), got "
                         f"{jacobian.shape}")
    lu = _lu_jit(jacobian)
    t2 = time.perf_counter()
    stats["jacobian_s"] = t2 - t1
    it, rn_prev, rn, refreshes = 0, np.inf, np.inf, 0
    tol, max_iter = float(opts.tol), int(opts.max_iter)
    while True:
        U_new, H = _step_jit(U, lu, econ, shock, start, end, hopts)
        rn = float(jnp.max(jnp.abs(H)))
        _log(verbose, f"  newton {it:3d}: max |residual| / GDP = {rn:.3e}")
        stop = ("converged" if rn <= tol else "not finite" if not np.isfinite(rn)
                else "max_iter" if it >= max_iter else None)
        if stop is not None:
            break
        if rn > 0.5 * rn_prev:  # the reused Jacobian no longer delivers: refresh it
            if refreshes >= int(opts.max_refresh):
                stop = "max_refresh"
                _log(verbose, f"  the step did not halve the residual and the "
                              f"max_refresh={int(opts.max_refresh)} exact Jacobians are "
                              f"spent: stopping")
                break
            refreshes += 1
            _log(verbose, "  exact Jacobian at the current path...")
            J = _jacobian_jit(U, econ, shock, start, end, hopts, batch=opts.jacobian_batch)
            lu = _lu_jit(J)
            n_jac += 1
            U_new, H = _step_jit(U, lu, econ, shock, start, end, hopts)
        U, rn_prev, it = U_new, rn, it + 1
    out = jax.block_until_ready(_outcomes_jit(U, econ, shock, start, end, hopts))
    stats["newton_s"] = time.perf_counter() - t2
    stats["iterations"] = it
    gap = float(terminal_gap(out, end, terminal.world.aggregates))
    converged = bool(rn <= tol)
    tr = Transition(econ, shock, initial, terminal, U, out, jacobian, converged, it, n_jac,
                    rn, gap, stats, stop)
    if throw:
        check_transition(tr, opts)
    return tr


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
