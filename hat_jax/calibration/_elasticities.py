"""Standard errors of the trade elasticities by the delta method (model.md sections 9, 16).

The elasticities as one differentiable function of the calibrated parameters,

    params -> (A, d) -> baseline equilibrium (beta solved at the target R)
           -> W, R, beta, lambda -> each importer's household problems re-solved
           -> theta_ij = d log(M_ij / M_ii) / d log d_ij, theta_bar_i, the margins,

so d outputs / d params is a derivative of a derivative: the elasticities are already a
forward-mode tangent (:func:`hat_jax.model.bilateral_elasticities`: one jvp per exporter
through the household fixed point), and their Jacobian is a jvp of that jvp. It is
exact, because every fixed point is differentiated by the implicit function theorem and
the rules are themselves differentiable:

* the equilibrium (:func:`hat_jax.solve_equilibrium_jit`) carries its own implicit
  derivative, so W, beta, lambda and the household state move with the parameters;
* the household fixed point's jvp rule (:func:`hat_jax._household.household_fixed_points`)
  calls the fixed point again for its primal (so under the outer jvp y* moves by the same
  implicit rule) and returns t = (I - dF/dy)^{-1} (dF/dp) dp, built from jvps of the
  operator F and one dense LU (or GMRES) solve, all ordinary differentiable JAX: the outer
  jvp of t is d/dparams [(I - dF/dy)^{-1} dF/dp dp], the exact second derivative of the
  implicit function (the iterations are never differentiated).

The outer directions are batched (vmap of one jvp) through the equilibrium once; the
elasticities' part then runs importer by importer (``lax.map``), so its memory is that of
one importer's N inner directions times the K outer ones. With V_params from the
calibration (:func:`params_inference`) the delta method gives V = J V_params J'.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._change import country_index
from .._ek import economy_from_params
from .._elasticities import bilateral_elasticities, mean_elasticity, pair_margins
from .._equilibrium import EquilibriumOptions, Start, solve_equilibrium_jit
from .._params import household_problems

__all__ = ["ElasticityOutputs", "elasticity_outputs", "elasticities_jacobian"]


class ElasticityOutputs(NamedTuple):
    """The differentiable outputs of :func:`elasticities_jacobian` for the importers
    ``importers`` (rows k; columns j, all N countries): theta [K, N] (theta_ij, diagonal
    1 with no derivative), theta_mean [K] (trade-weighted over partners j != i),
    intensive, extensive, intensive_home, extensive_home [K, N] (the Proposition-3
    margins of :meth:`hat_jax.TradeElasticities.margins`: theta = 1 + intensive +
    extensive - intensive_home - extensive_home), share [K, N] (trade shares pi_ij),
    beta (of the baseline), W [N] (baseline wages); converged (the equilibrium and every
    re-solved household problem; no derivative)."""

    theta: jax.Array
    theta_mean: jax.Array
    intensive: jax.Array
    extensive: jax.Array
    intensive_home: jax.Array
    extensive_home: jax.Array
    share: jax.Array
    beta: jax.Array
    W: jax.Array
    converged: jax.Array


def _baseline(params, problem, start, opts):
    """params -> the baseline equilibrium's pieces the elasticities read: (problems,
    lam, L, state, beta, W, converged), all countries."""
    econ = economy_from_params(params, problem.economy, problem.geography, problem.theta_d)
    eq = solve_equilibrium_jit(econ, opts, start, throw=False)
    problems = household_problems(econ, eq.W, eq.R, eq.beta, eq.T)
    state = lax.stop_gradient(eq.world.households.state)  # a warm start only
    return (problems, eq.world.distribution.lam, econ.L, jnp.asarray(eq.beta), eq.W,
            eq.converged), state


def _importer(problems, lam, L, state, home, hopts):
    """One importer's outputs (theta row, mean, margins, shares, converged); each argument
    holds that importer's slice (no country axis)."""
    add = lambda x: jnp.asarray(x)[None]  # noqa: E731
    out = bilateral_elasticities(jax.tree_util.tree_map(add, problems), add(home), add(lam),
                                 add(L), hopts, jax.tree_util.tree_map(add, state))
    margins = pair_margins(out.omega, out.theta_I, out.theta_E, out.theta_I_home,
                           out.theta_E_home, add(home))
    first = lambda x: x[0]  # noqa: E731
    return (first(out.theta), first(mean_elasticity(out.theta, out.M, add(home))),
            {k: first(v) for k, v in margins.items()},
            first(out.M / jnp.sum(out.M, axis=1, keepdims=True)),
            lax.stop_gradient(jnp.all(out.converged)))


def _program(params, directions, problem, rows, start, opts, hopts):
    """Outputs and their jvps along ``directions`` [m, K] (vmap of one jvp; the primal
    equilibrium runs once, its implicit derivative is shared by the m directions)."""
    def base(p):
        return _baseline(p, problem, start, opts)

    (prim, state), (tang, _) = jax.vmap(lambda t: jax.jvp(base, (params,), (t,)))(directions)
    # the primal does not depend on the direction: vmap leaves it unbatched (computed
    # once) and broadcasts it on the way out
    prim, state = jax.tree_util.tree_map(lambda x: x[0], (prim, state))
    problems, lam, L, beta, W, eq_ok = prim
    t_problems, t_lam, t_L, t_beta, t_W, _ = tang
    take = lambda x: x[rows]  # noqa: E731
    take_t = lambda x: jnp.swapaxes(x[:, rows], 0, 1)  # noqa: E731  [rows, m, ...]
    tm = jax.tree_util.tree_map
    xs = (tm(take, problems), take(lam), take(L), tm(take, state), rows,
          tm(take_t, t_problems), take_t(t_lam), take_t(t_L))

    def one(x):
        pk, lk, Lk, sk, hk, tpk, tlk, tLk = x
        f = lambda p, l, n: _importer(p, l, n, sk, hk, hopts)  # noqa: E731
        return jax.vmap(lambda a, b, c: jax.jvp(f, (pk, lk, Lk), (a, b, c)),
                        in_axes=(0, 0, 0), out_axes=(None, -1))(tpk, tlk, tLk)

    (theta, mean, margins, share, ok), (d_theta, d_mean, d_margins, d_share, _) = (
        lax.map(one, xs))
    out = ElasticityOutputs(theta, mean, share=share, beta=beta, W=W,
                            converged=lax.stop_gradient(eq_ok) & jnp.all(ok), **margins)
    jac = ElasticityOutputs(d_theta, d_mean, share=d_share, beta=jnp.moveaxis(t_beta, 0, -1),
                            W=jnp.moveaxis(t_W, 0, -1),
                            converged=jnp.zeros(directions.shape[0]), **d_margins)
    return out, jac


_program_jit = jax.jit(_program)


def _args(params, problem, importer, start, opts, hh_tol, directions):
    params = jnp.asarray(np.asarray(params, np.float64))
    if params.ndim != 1 or params.size != problem.K:
        raise ValueError(f"params must hold the problem's {problem.K} parameters, got "
                         f"shape {params.shape}")
    N = problem.economy.N
    many = isinstance(importer, (list, tuple, np.ndarray))
    rows = (np.arange(N) if importer is None else np.asarray(
        [country_index(problem.economy.countries, x, "importer")
         for x in (importer if many else [importer])]))
    if rows.size == 0:
        raise ValueError("importer: give one country, a list of countries or None (all), "
                         "got an empty list")
    directions = (jnp.eye(params.size) if directions is None
                  else jnp.asarray(np.asarray(directions, np.float64)))
    if directions.ndim != 2 or directions.shape[1] != params.size:
        raise ValueError(f"directions must be [m, {params.size}] (one row per direction in "
                         f"parameter space), got shape {directions.shape}")
    opts = EquilibriumOptions(unknown="beta") if opts is None else opts
    if opts.unknown != "beta":
        raise ValueError(f"opts.unknown must be 'beta' (the calibrated world has R at its "
                         f"target and beta solved), got {opts.unknown!r}")
    if hh_tol is not None:
        opts = opts.replace(hh_tol=hh_tol)
    start = Start(R=problem.R) if start is None else start._replace(R=problem.R, J=None)
    hopts = opts.household_options(problem.economy)
    return (params, directions, problem, jnp.asarray(rows), start, opts, hopts), rows


def elasticities_jacobian(params, problem, importer=None, *, start: Start | None = None,
                          opts: EquilibriumOptions | None = None, hh_tol: float | None = None,
                          directions=None):
    """(outputs, jacobian, stats): the trade elasticities of the calibration problem
    ``problem``'s world at parameters ``params`` (K) and their exact derivatives.

    The baseline equilibrium is solved with beta at ``problem.R`` (``opts``, default
    ``EquilibriumOptions(unknown="beta")``; ``start``: where it starts), then the
    elasticities as :func:`hat_jax.trade_elasticities` (W, R, lambda fixed; households
    re-solved to ``hh_tol``, default the options' ``hh_tol``) for every importer
    (``importer=None``), one (label or index) or a list of them, rows k in that order
    (each importer's part runs on its own, ``lax.map``: the memory of one).
    outputs: :class:`ElasticityOutputs`; jacobian: an :class:`ElasticityOutputs` of
    arrays [..., m], the derivatives along the rows of ``directions`` [m, K] (default
    the K unit vectors: d outputs / d params; forward over forward mode through both
    fixed points, the module docstring says why it is exact); stats {"seconds"}
    (compile included)."""
    t0 = time.perf_counter()
    args, _ = _args(params, problem, importer, start, opts, hh_tol, directions)
    out, jac = jax.block_until_ready(_program_jit(*args))
    return out, jac, {"seconds": time.perf_counter() - t0}


def elasticity_outputs(params, problem, importer=None, *, start: Start | None = None,
                       opts: EquilibriumOptions | None = None, hh_tol: float | None = None):
    """The :class:`ElasticityOutputs` of :func:`elasticities_jacobian` alone (one
    direction's program: the cheap evaluation at other parameters)."""
    args, _ = _args(params, problem, importer, start, opts, hh_tol,
                    np.zeros((1, np.size(params))))
    return jax.block_until_ready(_program_jit(*args))[0]
