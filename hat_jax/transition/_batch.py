"""Many transitions at once (issue 30, item 4): nonlinear perfect-foresight paths for a
batch of shocks of the same shape that share one sequence-space Jacobian.

1. The endpoints: the initial equilibrium once (or the cache's), the terminal one of
   every shock as :func:`solve_transition` would (reused when a terminal economy was
   seen before, else warm-started from the previous terminal with its Newton Jacobian);
2. one Jacobian (given, the cache's for the same T, or the stationary one at the first
   shock's terminal), LU-factorised once;
3. quasi-Newton on all shocks together: every iteration evaluates the S paths in one
   vmapped program and solves with the shared LU factors. A shock stops moving once
   its residual is <= tol (per-shock iterations and stop reasons); a shock whose step
   fails to halve its residual leaves the batch and is solved alone by
   :func:`solve_transition` (with its Jacobian refreshes), so each shock converges
   exactly as it would alone.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._backend import sequential_linalg
from .._baseline import as_baseline
from .._change import Change
from .._params import household_options
from ._driver import (Transition, _as_cache, _jacobian_for, _lu_jit, _solve_jit,
                      check_transition, endpoint_equilibria, solve_transition)
from ._path import PathOutcomes, ShockPath, endpoint, path_outcomes, steady_unknowns
from ._reuse import TransitionCache
from ._shocks import DEFAULT_HORIZON, shock_path
from ._solve import TransitionOptions, terminal_gap

__all__ = ["Transitions", "solve_transitions"]


class Transitions(NamedTuple):
    """S solved transitions sharing one Jacobian: economy, shocks (S ShockPaths),
    initial, terminals (S Equilibria), U [S, T, N], path (:class:`PathOutcomes` with a
    leading shock axis), jacobian (shared), converged / iterations / residual /
    terminal_gap (one per shock, numpy), stop (one reason per shock, as
    ``Transition.stop``), alone (indices solved alone after leaving the batch), stats
    (endpoints_s, jacobian_s, newton_s), cache (:class:`TransitionCache`, the last
    shock's terminal). ``len(result)`` is S; :meth:`transition` gives one."""

    economy: object
    shocks: tuple
    initial: object
    terminals: tuple
    U: jax.Array
    path: PathOutcomes
    jacobian: jax.Array
    converged: np.ndarray
    iterations: np.ndarray
    residual: np.ndarray
    terminal_gap: np.ndarray
    stop: tuple
    alone: tuple
    stats: dict
    cache: TransitionCache

    def __len__(self) -> int:
        return len(self.shocks)

    def transition(self, k: int) -> Transition:
        """Shock k's result as a :class:`Transition` (for transition_welfare etc.)."""
        path = jax.tree_util.tree_map(lambda x: x[k], self.path)
        return Transition(self.economy, self.shocks[k], self.initial, self.terminals[k],
                          self.U[k], path, self.jacobian, bool(self.converged[k]),
                          int(self.iterations[k]), 0, float(self.residual[k]),
                          float(self.terminal_gap[k]), self.stats, self.stop[k], self.cache)


def _shocks(b, changes, horizon, announce, rho) -> tuple:
    if isinstance(changes, (Change, ShockPath)) or len(changes) == 0:
        raise ValueError("changes must be a non-empty sequence of Change or ShockPath")
    shocks = tuple(c if isinstance(c, ShockPath) else
                   shock_path(b.economy, c, horizon, announce=announce, rho=rho)
                   for c in changes)
    first = shocks[0]
    for k, s in enumerate(shocks):
        same = set(s.fields) == set(first.fields) and all(
            np.shape(s.fields[f]) == np.shape(first.fields[f]) for f in s.fields)
        if not same:
            raise ValueError(f"changes[{k}] moves other fields or has another horizon than "
                             f"changes[0] ({sorted(s.fields)} vs {sorted(first.fields)}, "
                             f"T={s.horizon} vs T={first.horizon}): a batch shares one shape")
    return shocks


_outcomes_batch = jax.jit(jax.vmap(path_outcomes, in_axes=(0, None, 0, None, 0, None)))


def solve_transitions(eq, changes, horizon: int = DEFAULT_HORIZON, *, announce: int = 0,
                      rho: float | None = None, opts: TransitionOptions | None = None,
                      eq_opts=None, cache=None, jacobian=None,
                      throw: bool = True) -> Transitions:
    """The transitions from the stationary equilibrium ``eq`` after each of ``changes``
    (a sequence of :class:`~hat_jax.Change`, with ``announce`` / ``rho`` as
    :func:`solve_transition`, or of :class:`ShockPath`; all of one shape), solved
    together with one shared sequence-space Jacobian (see the module). cache /
    jacobian: as :func:`solve_transition`. throw: raise if any shock did not converge
    (ConvergenceError naming it) or T is too short."""
    opts = TransitionOptions() if opts is None else opts
    b = as_baseline(eq)
    shocks = _shocks(b, changes, horizon, announce, rho)
    T = shocks[0].horizon
    cache = _as_cache(cache)
    t0 = time.perf_counter()
    terminals = []
    for s in shocks:
        econ, initial, term = endpoint_equilibria(b, s, opts, eq_opts, cache=cache)
        terminals.append(term)
        cache = TransitionCache(econ, initial, term, None if cache is None else cache.jacobian,
                                None if cache is None else cache.lu,
                                cache is not None and cache.jacobian_exact
                                and cache.terminal is term)
    t1 = time.perf_counter()
    jac = _jacobian_for(jacobian, cache, terminals[0], econ.N, T, opts, False)
    t2 = time.perf_counter()
    hopts = household_options(econ, tol=opts.hh_tol)
    start = endpoint(initial)
    stack = lambda xs: jax.tree_util.tree_map(lambda *a: jnp.stack(a), *xs)
    ends = stack([endpoint(t) for t in terminals])
    fields = ShockPath(stack([s.fields for s in shocks]))
    U, out, rn, it, stop = _batch_newton(
        jax.vmap(steady_unknowns, in_axes=(0, None))(ends, T), jac.lu,
        (econ, fields, start, ends, hopts), opts)
    alone = tuple(k for k, r in enumerate(stop) if r == "not halving")
    stop = list(stop)
    for k in alone:   # leaves the batch: alone, with the Jacobian refreshes
        own = TransitionCache(econ, initial, terminals[k], jac.J, jac.lu,
                              jac.exact and terminals[0] is terminals[k])
        tr = solve_transition(b, shocks[k], opts=opts, cache=own, throw=False)
        U = U.at[k].set(tr.U)
        out = jax.tree_util.tree_map(lambda a, x: a.at[k].set(x), out, tr.path)
        rn[k], it[k], stop[k] = tr.residual, it[k] + tr.iterations, tr.stop
    gap = np.array([float(terminal_gap(jax.tree_util.tree_map(lambda x: x[k], out),
                                       endpoint(terminals[k]), terminals[k].world.aggregates))
                    for k in range(len(shocks))])
    stats = dict(endpoints_s=t1 - t0, jacobian_s=t2 - t1, newton_s=time.perf_counter() - t2)
    new_cache = TransitionCache(econ, initial, terminals[-1], jac.J, jac.lu,
                                jac.exact and terminals[0] is terminals[-1])
    res = Transitions(econ, shocks, initial, tuple(terminals), U, out, jac.J,
                      rn <= float(opts.tol), it, rn, gap, tuple(stop), alone, stats, new_cache)
    if throw:
        for k in range(len(shocks)):
            try:
                check_transition(res.transition(k), opts)
            except Exception as e:
                raise type(e)(f"changes[{k}]: {e}") from None
    return res


#: Shocks evaluated per program call on the CPU: the batch is compacted to its moving
#: shocks (padded to a multiple of this), so finished shocks cost nothing; on an
#: accelerator the whole batch runs in lock step.
CPU_CHUNK = 8


def _evaluate(U, args, idx, chunk: int):
    """The path outcomes of the shocks ``idx`` (numpy indices), ``chunk`` at a time (the
    last chunk padded with its last shock, so every call has one shape)."""
    econ, fields, start, ends, hopts = args
    pad = idx if len(idx) % chunk == 0 else np.concatenate(
        [idx, np.repeat(idx[-1:], chunk - len(idx) % chunk)])
    outs = []
    for c in range(0, len(pad), chunk):
        k = jnp.asarray(pad[c:c + chunk])
        take = lambda tree: jax.tree_util.tree_map(lambda x: x[k], tree)
        outs.append(_outcomes_batch(U[k], econ, take(fields), start, take(ends), hopts))
    cat = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *outs)
    return jax.tree_util.tree_map(lambda x: x[:len(idx)], cat)


def _batch_newton(U, lu, args, opts):
    """Quasi-Newton on S paths at once with shared LU factors; per shock: max|H|,
    iterations and the stop reason ("converged", "max_iter", "not finite", or "not
    halving": left the batch). Only the moving shocks are evaluated (compaction)."""
    S = U.shape[0]
    chunk = min(S, CPU_CHUNK) if sequential_linalg() else S
    tol, max_iter = float(opts.tol), int(opts.max_iter)
    it = np.zeros(S, np.int64)
    stop = np.array([""] * S, dtype=object)
    rn_prev, rn = np.full(S, np.inf), np.full(S, np.inf)
    solve = jax.vmap(_solve_jit, in_axes=(None, 0))
    out, moving = None, np.ones(S, bool)
    while True:
        idx = np.flatnonzero(moving)
        part = _evaluate(U, args, idx, chunk)
        out = part if out is None else jax.tree_util.tree_map(
            lambda a, x: a.at[jnp.asarray(idx)].set(x), out, part)
        rn[idx] = np.asarray(jnp.max(jnp.abs(part.residuals), axis=(1, 2)))
        active = stop == ""
        stop[active & (rn <= tol)] = "converged"
        stop[active & ~np.isfinite(rn)] = "not finite"
        stop[(stop == "") & (rn > 0.5 * rn_prev)] = "not halving"
        stop[(stop == "") & (it >= max_iter)] = "max_iter"
        moving = stop == ""
        if not moving.any():
            break
        step = solve(lu, out.residuals)  # cheap next to the paths: every shock, one shape
        U = jnp.where(jnp.asarray(moving)[:, None, None], U - step, U)
        rn_prev = np.where(moving, rn, rn_prev)
        it += moving
    return U, jax.block_until_ready(out), rn, it, tuple(stop)
