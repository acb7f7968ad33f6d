"""The moment gaps g(Theta) = moments_model(Theta) - moments_data and their exact
Jacobian (model.md sections 7, 8 and 13).

Theta -> (A, d) -> world equilibrium at the target R with beta unknown -> model trade
shares pi_ij -> gravity regression of log(pi_ij / pi_ii) -> K model moments.

At the equilibrium root x* (relative wages and beta) of the excess demands
f(x, Theta) = 0 the moments are m(x*(Theta), Theta), so by the implicit function theorem

    dg/dTheta = m_Theta - m_x f_x^{-1} f_Theta.

All four blocks come from one forward-mode pass through the world at (x*, Theta) (the
household, distribution and aggregate solves are themselves differentiated by the
implicit function theorem, never through their iterations): N + K directions in one
``vmap``, so the per-country factorisations are computed once and shared. No iteration
is differentiated and no finite difference is taken. Where the clamp d_ij = max(1, .)
binds the derivative of d_ij is zero (:func:`hat_jax._gravity.trade_costs`).

:func:`compiled_evaluator` is the one program a calibration runs per iteration (an
equilibrium solve plus, for an accepted point, the Jacobian); it is compiled once per
shapes through :func:`hat_jax._compiled.compiled`, with the equilibrium options a
dynamic argument. It carries no host callback: convergence is checked on the host.
"""

from __future__ import annotations

import time

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._deprecation import renamed_keywords
from .._compiled import compiled
from .._ek import economy_from_params
from .._equilibrium import (
    EquilibriumOptions,
    Start,
    decode,
    market_residuals,
    solve_equilibrium_jit,
    solve_world,
    value_and_jacobian,
)
from .._gravity import log_share_ratios, make_gravity_regression
from .._household import initial_state
from .._memory import resolve_jacobian_block
from .._params import household_options, household_problems
from .._results import check_converged
from ._options import CalibrationOptions
from ._problem import CalibrationProblem

__all__ = ["Evaluation", "make_moments", "moments_and_jacobian", "moment_gaps",
           "evaluate", "compiled_evaluator", "initial_household_state",
           "jacobian_at_solution"]


class Evaluation(NamedTuple):
    """One evaluation of the moments at Theta (what the compiled evaluator returns).

    gaps, model: g [K] and the model moments; G, has_G: dg/dTheta [K, K] and whether it
    was computed; accept: the line-search test passed; W, beta, x: equilibrium prices
    (x unconstrained); state: household states; converged, residual, iterations: of the
    equilibrium solve; trade_shares: pi [importer, exporter].
    """

    gaps: jax.Array
    model: jax.Array
    G: jax.Array
    has_G: jax.Array
    accept: jax.Array
    W: jax.Array
    beta: jax.Array
    x: jax.Array
    state: Any
    converged: jax.Array
    residual: jax.Array
    iterations: jax.Array
    trade_shares: jax.Array


def _world_outputs(x, params, problem: CalibrationProblem, state, opts: EquilibriumOptions):
    """(excess demands f(x, Theta), model moments m(x, Theta)) with households warm-started
    from ``state``; x: unconstrained prices (wages, beta) of the "beta" mode."""
    econ = economy_from_params(params, problem.economy, problem.geography, problem.theta_d)
    W, R, beta = decode(x, econ, opts, problem.R)
    world = solve_world(econ, W, R, beta, state, hh_tol=opts.hh_tol,
                        hh_max_iter=opts.hh_max_iter, distribution=opts.distribution,
                        dist_tol=opts.dist_tol, tangent_solver=opts.tangent_solver)
    goods, bonds, _ = market_residuals(world.aggregates, opts)
    regress = make_gravity_regression(problem.geography, problem.estimator)
    m = regress(log_share_ratios(world.aggregates.trade_shares)).moment_vector()
    return jnp.concatenate([goods, bonds]), m


def jacobian_at_solution(params, x, state, problem: CalibrationProblem,
                         opts: EquilibriumOptions):
    """dg/dTheta = m_Theta - m_x f_x^{-1} f_Theta at the equilibrium x* of Theta.

    One forward-mode pass with N + K tangent directions (x and Theta stacked), all at
    once or, where they do not fit, in blocks (``opts.jacobian_block``, "auto": resolved
    here for N + K directions, :func:`hat_jax._memory.resolve_jacobian_block`).
    """
    n, k = x.shape[0], params.shape[0]
    params = lax.stop_gradient(params)
    x = lax.stop_gradient(x)
    state = lax.stop_gradient(state)
    block = opts.block
    if block is None:
        solver = opts.resolved(problem.economy).tangent_solver
        block = resolve_jacobian_block(problem.economy, solver, directions=n + k)
    outputs = lambda z: (_world_outputs(z[:n], z[n:], problem, state, opts), None)
    _, (df, dm), _ = value_and_jacobian(outputs, jnp.concatenate([x, params]), block)
    fx, ft = df[:, :n], df[:, n:]
    mx, mt = dm[:, :n], dm[:, n:]
    return mt - mx @ jnp.linalg.solve(fx, ft)


def _solve(params, problem: CalibrationProblem, W0, beta0, s0, opts: EquilibriumOptions):
    """Equilibrium at Theta (no convergence check) and the moment gaps."""
    params = lax.stop_gradient(params)
    econ = economy_from_params(params, problem.economy, problem.geography, problem.theta_d)
    eq = solve_equilibrium_jit(econ, opts, Start(W=W0, R=problem.R, beta=beta0, state=s0),
                               throw=False)
    regress = make_gravity_regression(problem.geography, problem.estimator)
    model = regress(log_share_ratios(eq.world.aggregates.trade_shares)).moment_vector()
    return model - problem.target, model, eq


def _initial_state(problem: CalibrationProblem, params, W0, beta0):
    econ = economy_from_params(params, problem.economy, problem.geography, problem.theta_d)
    probs = household_problems(econ, W0, problem.R, beta0)
    return jax.vmap(initial_state, in_axes=(0, None))(probs, household_options(econ))


#: The reference initial household guess at Theta and the starting prices (jitted):
#: initial_household_state(problem, params, W0, beta0) -> household states [N, ...].
initial_household_state = jax.jit(_initial_state)


def make_moments(problem: CalibrationProblem, W0=None, beta0=None, hh_state0=None,
                 options: CalibrationOptions | None = None, throw: bool = True):
    """``moments(params) -> g`` (K gaps, model minus data) as one differentiable function.

    Theta -> (A, d) -> equilibrium at R = problem.R with beta unknown (started from W0,
    beta0, hh_state0; default W = 1, beta = 0.95/R) -> trade shares -> gravity moments -
    data moments. ``jax.jacfwd`` / ``jax.jacrev`` / ``jax.jvp`` of it are exact (a
    ``custom_jvp``: the tangent is G dTheta with G = m_Theta - m_x f_x^{-1} f_Theta computed
    once at the solution; derivatives flow through params only, the problem and the
    starting values are constants). ``throw``: a runtime error if the equilibrium did not
    converge (an in-graph check: a user-facing function, not one the library compiles
    routinely). Works under ``jax.jit``.
    """
    options = CalibrationOptions() if options is None else options
    opts = options.equilibrium
    W0 = jnp.ones(problem.N) if W0 is None else jnp.asarray(W0, jnp.float64)
    beta0 = jnp.asarray(0.95 / float(problem.R) if beta0 is None else beta0, jnp.float64)

    def primal(params):
        s0 = hh_state0 if hh_state0 is not None else _initial_state(problem, params, W0, beta0)
        gaps, _, eq = _solve(params, problem, W0, beta0, s0, opts)
        if throw:
            gaps = check_converged("equilibrium of the calibration moments", eq.converged,
                                   eq.iterations, gaps, opts.tol)
        return gaps, eq

    @jax.custom_jvp
    def moments(params):
        return primal(jnp.asarray(params, jnp.float64))[0]

    @moments.defjvp
    def _moments_jvp(primals, tangents):
        (params,), (t_theta,) = primals, tangents
        params = jnp.asarray(params, jnp.float64)
        gaps, eq = primal(params)
        G = jacobian_at_solution(params, eq.x, eq.world.households.state, problem, opts)
        return gaps, G @ t_theta

    return moments


def evaluate(params, problem, W0, beta0, s0, accept_below, gap_tol,
             opts: EquilibriumOptions) -> Evaluation:
    """Equilibrium and gaps at Theta. ``accept``: the equilibrium converged, the gaps are
    finite and ||g||_2 <= accept_below (the line-search test). The Jacobian G is computed
    only for an accepted point that is not yet the solution (max |g| > gap_tol);
    otherwise G = 0 and has_G = False."""
    gaps, model, eq = _solve(params, problem, W0, beta0, s0, opts)
    state = eq.world.households.state
    norm = jnp.sqrt(jnp.sum(gaps ** 2))
    accept = eq.converged & jnp.all(jnp.isfinite(gaps)) & (norm <= accept_below)
    want = accept & (jnp.max(jnp.abs(gaps)) > gap_tol)
    K = params.shape[0]
    G = lax.cond(want, lambda: jacobian_at_solution(params, eq.x, state, problem, opts),
                 lambda: jnp.zeros((K, K), params.dtype))
    return Evaluation(gaps, model, G, want & jnp.all(jnp.isfinite(G)), accept, eq.W,
                      eq.beta, eq.x, state, eq.converged, eq.residual, eq.iterations,
                      eq.world.aggregates.trade_shares)


_evaluate_jit = jax.jit(evaluate)


def compiled_evaluator(args: tuple, opts: EquilibriumOptions):
    """The compiled :func:`evaluate` for the shapes of ``args`` = (params, problem, W0,
    beta0, s0, accept_below, gap_tol): a function of those seven arguments, with its
    ``stats`` (``{"compile_s"}``, about 0 when cached). The options are a dynamic
    argument (a new tolerance reuses the program); compiled once per process and shapes
    by :func:`hat_jax._compiled.compiled`."""
    t0 = time.perf_counter()
    exe = compiled(_evaluate_jit, tuple(args) + (opts,))

    def evaluate_compiled(*a):
        return exe(*a, opts)

    evaluate_compiled.stats = {"compile_s": time.perf_counter() - t0}
    return evaluate_compiled


def _evaluate_once(params, problem, W0, beta0, hh_state0, options, jacobian: bool):
    options = CalibrationOptions() if options is None else options
    params = np.asarray(params, np.float64)
    W0 = np.ones(problem.N) if W0 is None else np.asarray(W0, np.float64)
    beta0 = np.asarray(0.95 / float(problem.R) if beta0 is None else beta0, np.float64)
    if hh_state0 is None:
        hh_state0 = initial_household_state(problem, params, W0, beta0)
    args = (params, problem, W0, beta0, hh_state0,
            np.asarray(np.inf if jacobian else -np.inf), np.asarray(0.0))
    return jax.block_until_ready(
        compiled_evaluator(args, options.equilibrium)(*args))


@renamed_keywords(theta="params")
def moments_and_jacobian(params, problem: CalibrationProblem, W0=None, beta0=None,
                         hh_state0=None, options: CalibrationOptions | None = None):
    """(gaps g [K], Jacobian dg/dTheta [K, K], :class:`Evaluation`) at Theta, by the
    compiled evaluator a calibration uses. Starting prices W0, beta0 (default W = 1,
    beta = 0.95/R) and household states hh_state0 (default: the reference guess). No
    throw: check ``evaluation.converged``."""
    ev = _evaluate_once(params, problem, W0, beta0, hh_state0, options, True)
    return np.asarray(ev.gaps), np.asarray(ev.G), ev


@renamed_keywords(theta="params")
def moment_gaps(params, problem: CalibrationProblem, W0=None, beta0=None, hh_state0=None,
                options: CalibrationOptions | None = None):
    """(gaps g [K], :class:`Evaluation`) at Theta without the Jacobian (same compiled
    evaluator as :func:`moments_and_jacobian`). No throw: check ``evaluation.converged``."""
    ev = _evaluate_once(params, problem, W0, beta0, hh_state0, options, False)
    return np.asarray(ev.gaps), ev
