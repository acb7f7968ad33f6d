"""The calibration driver: Newton's method on the moment gaps g(Theta) = 0.

Outer Newton loop in Python around one compiled evaluation
(:func:`hat_jax.calibration._moments.compiled_evaluator`: an equilibrium solve,
warm-started from the last accepted prices and household states, plus the Jacobian when
the trial point is accepted). It is written in Python rather than as an optimistix root
find because every iteration is a whole equilibrium solve (seconds to a minute) and must
be checkpointed to disk, reported and resumable; the per-iteration overhead of Python is
nil at that scale.

Step: d = -G^{-1} g (a Levenberg-Marquardt step, G'G + mu diag(G'G), if G is singular),
capped at ``max_step`` in the sup norm; backtracking halves it until
||g(Theta + t d)||_2 <= (1 - 1e-4 t) ||g(Theta)||_2. Stops when max |g| <= tol.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .._deprecation import warn_renamed
from .._gravity import TradeCostParams, unpack_params
from .._results import ConvergenceError
from . import _moments as moments
from ._checkpoint import (
    CheckpointError,
    IterationState,
    checkpoint_fingerprint,
    load_checkpoint,
    problem_fingerprint,
    save_checkpoint,
    start_fingerprint,
)
from ._moments import Evaluation, initial_household_state
from ._options import CalibrationOptions
from ._problem import CalibrationProblem
from ._starts import Start, validate_start

__all__ = ["CalibrationResult", "calibrate", "newton_step"]


@dataclass
class CalibrationResult:
    """The outcome of :func:`calibrate`.

    params: calibrated parameters [K]; gaps, model, target: moments (model minus data,
    model, data); W, beta, R: equilibrium prices at params; trade_shares: the model's
    [importer, exporter]; eq_residual: of the last equilibrium solve; converged
    (max |gap| <= tol), iterations, max_gap (also ``residual``); seconds: wall time of
    the iterations (all runs of a resumed calibration), compile_s: this run's compile
    time; history: one record per iteration (iteration, max_gap, norm_gap, step, t,
    eq_residual, eq_iterations, seconds, kind); jacobian: dg/dTheta at params (None at a
    converged point, where it is not computed); start: the start's label; resumed:
    whether this run continued a checkpoint; message: why it stopped; tol: the
    tolerance; fingerprint: of the problem, start and settings (as in the checkpoint).
    """

    problem: CalibrationProblem
    params: np.ndarray
    gaps: np.ndarray
    model: np.ndarray
    target: np.ndarray
    W: np.ndarray
    beta: float
    R: float
    trade_shares: np.ndarray
    eq_residual: float
    converged: bool
    iterations: int
    max_gap: float
    seconds: float
    compile_s: float
    history: list
    jacobian: np.ndarray | None
    start: str
    resumed: bool
    message: str
    tol: float
    fingerprint: dict

    @property
    def residual(self) -> float:
        """max |gap| (the solver contract's residual; same as ``max_gap``)."""
        return self.max_gap

    @property
    def theta(self) -> np.ndarray:
        """Deprecated name of :attr:`params` (``theta`` is the trade elasticity)."""
        warn_renamed("CalibrationResult.theta",
                     "CalibrationResult.params (theta is the trade elasticity)")
        return self.params

    def cost_params(self) -> TradeCostParams:
        """The parameters as :class:`~hat_jax.calibration.TradeCostParams`."""
        return unpack_params(self.params)


def newton_step(G: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, str]:
    """Newton step d = -G^{-1} g ("newton"); if G is (nearly) singular the
    Levenberg-Marquardt step d = -(G'G + mu diag(G'G))^{-1} G'g with damping
    mu = 1e-6 max diag(G'G) ("lm")."""
    if np.all(np.isfinite(G)) and np.linalg.cond(G) < 1e12:
        d = -np.linalg.solve(G, g)
        if np.all(np.isfinite(d)):
            return d, "newton"
    GtG = G.T @ G
    damping = 1e-6 * max(float(np.max(np.diag(GtG))), 1e-300)
    d = -np.linalg.solve(GtG + damping * np.diag(np.maximum(np.diag(GtG), 1e-12)), G.T @ g)
    return d, "lm"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _state_from_eval(iteration: int, params, ev: Evaluation) -> IterationState:
    return IterationState(
        iteration=iteration, params=np.asarray(params, np.float64), gaps=np.asarray(ev.gaps),
        model=np.asarray(ev.model), G=np.asarray(ev.G), has_G=bool(ev.has_G),
        W=np.asarray(ev.W), beta=float(ev.beta), x=np.asarray(ev.x),
        state=[np.asarray(a) for a in jax.tree_util.tree_leaves(ev.state)],
        eq_residual=float(ev.residual), eq_iterations=int(ev.iterations),
        trade_shares=np.asarray(ev.trade_shares))


def _record(st: IterationState, step: float, t: float, seconds: float, kind: str) -> dict:
    return {"iteration": st.iteration, "max_gap": float(np.max(np.abs(st.gaps))),
            "norm_gap": float(np.linalg.norm(st.gaps)), "step": step, "t": t,
            "eq_residual": st.eq_residual, "eq_iterations": st.eq_iterations,
            "seconds": seconds, "kind": kind}


class _Run:
    """One run of :func:`calibrate`: the compiled evaluator (compiled on first use: a
    finished checkpoint needs none), the checkpoint and the progress report."""

    def __init__(self, problem, options: CalibrationOptions, ckpt: Path | None,
                 fingerprint: dict, s_init, callback, say):
        self.problem, self.options, self.ckpt = problem, options, ckpt
        self.fingerprint, self.callback, self.say = fingerprint, callback, say
        self.treedef = jax.tree_util.tree_structure(s_init)
        K, N = problem.K, problem.N
        self.args_like = (np.zeros(K), problem, np.ones(N), np.asarray(0.9), s_init,
                          np.asarray(np.inf), np.asarray(0.0))
        self.fn = None
        self.compile_s = 0.0

    def evaluator(self):
        if self.fn is None:
            self.say("calibration: preparing the compiled moments and Jacobian (minutes "
                     "for 19 countries when not cached)...")
            self.fn = moments.compiled_evaluator(self.args_like,
                                                 self.options.equilibrium)
            self.compile_s = self.fn.stats["compile_s"]
            if self.compile_s > 1.0:
                self.say(f"calibration: compiled in {self.compile_s:.1f} s")
        return self.fn

    def evaluate(self, params, W, beta, leaves, accept_below, gap_tol) -> Evaluation:
        s = jax.tree_util.tree_unflatten(self.treedef, [jnp.asarray(a) for a in leaves])
        ev = self.evaluator()(
            np.asarray(params, np.float64), self.problem, np.asarray(W, np.float64),
            np.asarray(beta, np.float64), s, np.asarray(accept_below, np.float64),
            np.asarray(gap_tol, np.float64))
        return jax.block_until_ready(ev)

    def save(self, st: IterationState) -> None:
        if self.ckpt is not None:
            save_checkpoint(self.ckpt, st, self.fingerprint)

    def report(self, st: IterationState, r: dict) -> None:
        """Append the record, checkpoint (first: a reported iteration is never lost),
        print its line and call the callback."""
        st.history.append(r)
        self.save(st)
        self.say(f"calibration {r['iteration']:3d}  max|gap| {r['max_gap']:.3e}  "
                 f"step {r['step']:.3e}  t {r['t']:.3g}  eq residual {r['eq_residual']:.1e} "
                 f"({r['eq_iterations']} newton)  {r['seconds']:.1f} s"
                 + (f"  [{r['kind']}]" if r.get("kind") not in (None, "newton") else ""))
        if self.callback is not None:
            self.callback(r)

    def first_point(self, theta0, W0, beta0, s_init) -> IterationState:
        """Iteration 0: the equilibrium and gaps at the start (ConvergenceError if the
        equilibrium there does not converge)."""
        self.evaluator()  # compile first: the iteration times exclude compilation
        t_it = time.perf_counter()
        leaves0 = [np.asarray(a) for a in jax.tree_util.tree_leaves(s_init)]
        ev = self.evaluate(theta0, W0, beta0, leaves0, np.inf, self.options.tol)
        if not bool(ev.converged):
            raise ConvergenceError(
                f"the equilibrium at the starting parameters did not converge (max |excess "
                f"demand|/GDP = {float(ev.residual):.3e} after {int(ev.iterations)} Newton "
                "iterations); try another start")
        st = _state_from_eval(0, theta0, ev)
        st.elapsed = time.perf_counter() - t_it
        self.report(st, _record(st, 0.0, 0.0, st.elapsed, "start"))
        return st

    def line_search(self, st: IterationState, d: np.ndarray):
        """(t, trial Theta, evaluation) of the first accepted step length t = 1, 1/2, ...
        (the Armijo test ||g(Theta + t d)|| <= (1 - 1e-4 t) ||g(Theta)||), None if none."""
        norm0 = float(np.linalg.norm(st.gaps))
        t = 1.0
        for _ in range(self.options.max_halvings + 1):
            trial = st.params + t * d
            ev = self.evaluate(trial, st.W, st.beta, st.state, (1.0 - 1e-4 * t) * norm0,
                               self.options.tol)
            if bool(ev.accept):
                return t, trial, ev
            t *= 0.5
        return None

    def step(self, st: IterationState) -> IterationState:
        """One Newton iteration from ``st``: the new state, or ``st`` marked "failed"."""
        self.evaluator()  # compile first: the iteration times exclude compilation
        t_it = time.perf_counter()
        if not st.has_G:  # e.g. a point accepted exactly at the tolerance
            ev = self.evaluate(st.params, st.W, st.beta, st.state, np.inf, 0.0)
            st.G, st.has_G = np.asarray(ev.G), bool(ev.has_G)
            if not st.has_G:
                raise ConvergenceError("the Jacobian of the moments could not be computed "
                                       "at the current parameters")
        d, kind = newton_step(st.G, st.gaps)
        d = d * min(1.0, self.options.max_step / max(float(np.max(np.abs(d))), 1e-300))
        found = self.line_search(st, d)
        seconds = time.perf_counter() - t_it
        if found is None:
            st.status = "failed"
            msg = (f"not converged: the line search found no decrease of |gap| from "
                   f"iteration {st.iteration} (max |gap| {np.max(np.abs(st.gaps)):.3e}) "
                   f"after {self.options.max_halvings} halvings")
            st.elapsed += seconds
            st.history.append({"iteration": st.iteration, "message": msg,
                               "seconds": seconds, "max_gap": float(np.max(np.abs(st.gaps)))})
            self.save(st)
            return st
        t, trial, ev = found
        new = _state_from_eval(st.iteration + 1, trial, ev)
        new.history, new.elapsed = st.history, st.elapsed + seconds
        self.report(new, _record(new, float(np.max(np.abs(t * d))), t, seconds, kind))
        return new

    def iterate(self, st: IterationState) -> tuple[IterationState, str]:
        """Newton iterations until converged, failed or max_iter: (state, message)."""
        tol, max_iter = self.options.tol, self.options.max_iter
        while True:
            max_gap = float(np.max(np.abs(st.gaps)))
            if max_gap <= tol:
                st.status = "converged"
                return st, (f"converged: max |gap| {max_gap:.3e} <= {tol:g} after "
                            f"{st.iteration} iterations")
            if st.status == "failed":
                return st, st.history[-1].get("message", "line search failed")
            if st.iteration >= max_iter:
                return st, (f"not converged: max |gap| {max_gap:.3e} > {tol:g} after "
                            f"{st.iteration} iterations (max_iter {max_iter})")
            st = self.step(st)


def _open_run(problem, start, options, ckpt, resume, overwrite, meta, say):
    """(fingerprint, checkpointed state or None): the checkpoint to resume (verified
    against this problem, start and settings), or the checks of a fresh run."""
    base = {"problem": problem_fingerprint(problem), "options": options.fingerprint(),
            "meta": dict(meta or {})}
    if not resume:
        if start is None:
            raise ValueError("a start (Theta, W, beta) is needed unless resuming")
        if ckpt is not None and ckpt.exists() and not overwrite:
            raise CheckpointError(f"a checkpoint already exists at {ckpt}: resume it, or "
                                  "allow overwriting it to start afresh")
        return {**base, "start": start_fingerprint(start)}, None
    if ckpt is None:
        raise ValueError("resume=True needs a checkpoint path")
    if not ckpt.is_file():
        raise CheckpointError(f"no checkpoint at {ckpt} to resume from (run without "
                              "resume to start a calibration)")
    if start is None:  # the checkpoint's own start
        fingerprint = {**base, "start": checkpoint_fingerprint(ckpt).get("start")}
    else:
        fingerprint = {**base, "start": start_fingerprint(start)}
    st = load_checkpoint(ckpt, fingerprint)
    say(f"calibration: resuming {ckpt} at iteration {st.iteration} "
        f"(max |gap| {np.max(np.abs(st.gaps)):.3e})")
    return fingerprint, st


def _checkpointed_states(problem, st: IterationState, ckpt):
    """The household states of a checkpoint as a pytree (CheckpointError on a shape
    mismatch)."""
    like = jax.eval_shape(initial_household_state, problem, np.asarray(st.params),
                          np.asarray(st.W), np.asarray(st.beta))
    shapes = [(l.shape, l.dtype) for l in jax.tree_util.tree_leaves(like)]
    if [(a.shape, a.dtype) for a in st.state] != shapes:
        raise CheckpointError(f"checkpoint {ckpt}: household states have shapes "
                              f"{[a.shape for a in st.state]}, expected "
                              f"{[s[0] for s in shapes]}")
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like),
                                        [jnp.asarray(a) for a in st.state])


def _result(run: _Run, st: IterationState, resumed: bool, message: str) -> CalibrationResult:
    problem, fingerprint = run.problem, run.fingerprint
    return CalibrationResult(
        problem=problem, params=np.asarray(st.params), gaps=np.asarray(st.gaps),
        model=np.asarray(st.model), target=np.asarray(problem.target), W=np.asarray(st.W),
        beta=float(st.beta), R=float(problem.R), trade_shares=np.asarray(st.trade_shares),
        eq_residual=st.eq_residual, converged=st.status == "converged",
        iterations=st.iteration, max_gap=float(np.max(np.abs(st.gaps))),
        seconds=st.elapsed, compile_s=run.compile_s, history=list(st.history),
        jacobian=np.asarray(st.G) if st.has_G else None,
        start=str(fingerprint["start"]["label"]) if fingerprint.get("start") else "",
        resumed=resumed, message=message, tol=run.options.tol, fingerprint=fingerprint)


def calibrate(problem: CalibrationProblem, start: Start | None = None,
              options: CalibrationOptions | None = None, *, checkpoint=None,
              resume: bool = False, overwrite: bool = False, meta: dict | None = None,
              callback: Callable[[dict], None] | None = None,
              throw: bool = True) -> CalibrationResult:
    """Solve g(Theta) = 0 (moments of the model = moments of the data) by Newton's method
    with the exact Jacobian (see the module docstring).

    problem: :class:`CalibrationProblem`; start: :class:`Start` (Theta, W, beta, label);
    may be None when resuming (the checkpoint's start is used). options:
    :class:`CalibrationOptions` (every numeric setting). checkpoint: path of the
    checkpoint file, written atomically after every iteration (None: no checkpoint).
    resume: continue from the checkpoint (:class:`CheckpointError` if it is missing,
    corrupt or does not match this problem, start and settings). overwrite: allow a
    fresh run to replace an existing checkpoint (otherwise refused). meta: extra fields
    of the fingerprint (e.g. the preset name). callback(record): called after each
    iteration (and its checkpoint). throw: raise :class:`ConvergenceError` (after the
    last checkpoint; the result is its ``result`` attribute) when not converged; with
    ``throw=False`` the result is returned and ``converged`` says whether
    max |gap| <= tol.

    Returns a :class:`CalibrationResult` (converged, iterations, residual = max |gap|).
    """
    options = CalibrationOptions() if options is None else options
    say = _log if options.verbose else (lambda msg: None)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    fingerprint, st = _open_run(problem, start, options, ckpt, resume, overwrite, meta, say)
    if start is not None:
        theta0, W0, beta0 = validate_start(start, problem)
    if st is None:
        s_init = initial_household_state(problem, theta0, W0, np.asarray(beta0))
    else:
        s_init = _checkpointed_states(problem, st, ckpt)
    run = _Run(problem, options, ckpt, fingerprint, s_init, callback, say)
    if st is None:
        st = run.first_point(theta0, W0, beta0, s_init)
    st, message = run.iterate(st)
    if st.status in ("converged", "failed"):
        run.save(st)
    say(f"calibration: {message} ({st.elapsed:.1f} s)")
    result = _result(run, st, resume, message)
    if throw and not result.converged:
        exc = ConvergenceError(f"calibration {message} (residual max |gap| "
                               f"{result.max_gap:.3e}, {result.iterations} iterations)")
        exc.result = result
        raise exc
    return result
