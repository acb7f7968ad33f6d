"""Standard errors of the trade elasticity by horizon (model.md sections 12 and 16).

The trade-weighted elasticities of :func:`~hat_jax.transition.horizon_elasticities` as
one differentiable function of the calibrated parameters,

    params -> (A, d) -> stationary equilibrium (beta solved at the target R)
           -> sequence-space Jacobian J (fake news) -> the linearised path
           -> theta_i(h) = sum_{j != i} w_ij theta_ij(h),  w_ij = pi_ij / sum_{k != i} pi_ik,

so d theta_i(h) / d params is exact by forward mode over forward mode: the elasticities
are themselves jvps (of the stationary solve and of one date), and every fixed point
inside (the equilibrium root, the household fixed points, the stationary
distribution) carries an implicit-function jvp rule whose own jvp is again exact (dense
LU solves, differentiable). With V_params from the calibration the delta method gives
s.e.(theta_i(h)) = sqrt(g' V_params g), g = d theta_i(h) / d params.

The time-series estimate is linear in the impulse response a_h: the OLS slope over the
simulated sample is sum_h g_h a_h with g from :func:`time_series_weights`, the
population value (1 - rho^2) sum_h rho^h a_h; both derivatives are exact.
"""

from __future__ import annotations

import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._baseline import Baseline
from .._ek import economy_from_params
from .._equilibrium import EquilibriumOptions, Start, solve_equilibrium_jit
from .._params import household_options
from .._results import ConvergenceError
from ._elasticity import _directions, _program, check_rho, importer_partners
from ._fakenews import fake_news_jacobian
from ._path import endpoint
from ._shocks import check_horizon
from ._solve import TransitionOptions
from ._driver import transition_eq_options

__all__ = ["HorizonOutputs", "horizon_outputs", "horizon_elasticities_jacobian",
           "time_series_weights"]


class HorizonOutputs(NamedTuple):
    """The trade-weighted elasticities of importer i by horizon h = 0..T-1 as functions
    of the parameters: fixed_prices, general_equilibrium [T]; limit_fixed_prices,
    long_run (their h -> infinity values); irf [T] (the GE response to the temporary
    AR(1) change); time_series_population ((1 - rho^2) sum_h rho^h irf_h);
    time_series (the OLS slope over the simulated sample, sum_h g_h irf_h); weights
    (pi_ij / sum_{k != i} pi_ik over the partners); beta (of the baseline); converged
    (the baseline equilibrium; carries no derivative)."""

    fixed_prices: jax.Array
    general_equilibrium: jax.Array
    limit_fixed_prices: jax.Array
    long_run: jax.Array
    irf: jax.Array
    time_series_population: jax.Array
    time_series: jax.Array
    weights: jax.Array
    beta: jax.Array
    converged: jax.Array


def time_series_weights(horizon: int, rho: float, n: int = 20_000, seed: int = 0):
    """g [horizon] with the OLS slope of :func:`time_series_estimate` = g . irf (the slope
    of y_t = sum_h irf_h eps_{t-h} on x_t = sum_h rho^h eps_{t-h} is linear in irf:
    g_h = sum_t eps_{t-h} xc_t / sum_t xc_t^2, xc the centred x; same draws)."""
    H = int(horizon)
    eps = np.random.default_rng(seed).standard_normal(n + H)
    x = np.convolve(eps, rho ** np.arange(H))[H: n + H]
    xc = x - x.mean()
    lags = H + np.arange(n)[:, None] - np.arange(H)[None, :]
    return eps[lags].T @ xc / (xc @ xc)


def _outputs(params, problem, D, js, rho, g, start, opts, eo, hopts, i, T, batch,
             fn_batch) -> HorizonOutputs:
    econ = economy_from_params(params, problem.economy, problem.geography, problem.theta_d)
    eq = solve_equilibrium_jit(econ, opts, start, throw=False)
    base = Baseline.from_equilibrium(eq, opts)
    end = endpoint(base)
    J = fake_news_jacobian(base.economy, end, T, hopts, fn_batch)
    a, b, c = _program(base.economy, end, J, D, js, rho, hopts, eo, i, T, batch)
    shares = eq.world.aggregates.trade_shares[i, js]
    w = shares / jnp.sum(shares)
    mean = lambda x: jnp.tensordot(w, x, axes=1)
    fixed, ge, irf = mean(a), mean(b), mean(c)
    tsp = (1.0 - rho ** 2) * jnp.sum(irf * rho ** jnp.arange(T, dtype=irf.dtype))
    return HorizonOutputs(fixed[:T], ge[:T], fixed[T], ge[T], irf, tsp, g @ irf, w,
                          jnp.asarray(eq.beta), lax.stop_gradient(eq.converged))


_STATIC = ("i", "T", "batch", "fn_batch")


@partial(jax.jit, static_argnames=_STATIC)
def _outputs_program(params, problem, D, js, rho, g, start, opts, eo, hopts, i, T, batch,
                     fn_batch):
    return _outputs(params, problem, D, js, rho, g, start, opts, eo, hopts, i, T, batch,
                    fn_batch)


@partial(jax.jit, static_argnames=_STATIC)
def _jacobian_program(params, basis, problem, D, js, rho, g, start, opts, eo, hopts, i, T,
                      batch, fn_batch):
    """The outputs and their derivatives along the rows of ``basis`` [k, K] (vmap of one
    jvp: the k directions share the primal solves), as arrays [..., k]."""
    def f(p):
        out = _outputs(p, problem, D, js, rho, g, start, opts, eo, hopts, i, T, batch,
                       fn_batch)
        return out._replace(converged=None), out.converged

    def one(t):
        return jax.jvp(f, (params,), (t,), has_aux=True)

    out, jac, ok = jax.vmap(one, out_axes=(0, -1, 0))(basis)
    out, ok = jax.tree_util.tree_map(lambda x: x[0], (out, ok))
    return out._replace(converged=ok), jac._replace(converged=jnp.zeros(basis.shape[0]))


def _args(params, problem, importer, exporters, horizon, rho, start, opts, topts, n_sim,
          seed):
    T = check_horizon(horizon)
    check_rho(rho)
    params = jnp.asarray(np.asarray(params, np.float64))
    economy = problem.economy
    N = economy.N
    i, partners = importer_partners(economy, importer, exporters)
    opts = EquilibriumOptions(unknown="beta") if opts is None else opts
    topts = TransitionOptions() if topts is None else topts
    start = Start(R=problem.R) if start is None else start._replace(R=problem.R, J=None)
    g = jnp.asarray(time_series_weights(T, rho, n_sim, seed))
    args = (params, problem, _directions(N, i, partners), jnp.asarray(partners, jnp.int32),
            jnp.asarray(rho, jnp.float64), g, start, opts, transition_eq_options(topts, opts),
            household_options(economy, tol=topts.hh_tol))
    # every tangent batch in one vmap (batch > 3 partners): a lax.map chunk holding the
    # household and distribution solves under the outer jvp leaks a tracer (JAX 0.x)
    return args, dict(i=i, T=T, batch=3 * len(partners) + 1,
                      fn_batch=max(1, topts.jacobian_batch // 4))


def horizon_outputs(params, problem, importer, exporters=None, *, horizon: int = 150,
                    rho: float = 0.9, start: Start | None = None,
                    opts: EquilibriumOptions | None = None,
                    transition_opts: TransitionOptions | None = None, n_sim: int = 20_000,
                    seed: int = 0, throw: bool = True) -> HorizonOutputs:
    """The :class:`HorizonOutputs` of ``importer`` (trade-weighted over ``exporters``,
    default every partner) at parameters ``params`` (K) of the calibration problem
    ``problem`` (its economy, geography, theta_d and target R): the baseline equilibrium
    with beta solved at ``problem.R`` (``opts``, default
    ``EquilibriumOptions(unknown="beta")``; ``start``: where it starts), then the
    elasticities of :func:`~hat_jax.transition.horizon_elasticities` over ``horizon``
    dates T (rho, n_sim, seed: the time-series estimate's). throw: raise
    ConvergenceError if the baseline equilibrium did not converge (else see
    ``converged``)."""
    args, static = _args(params, problem, importer, exporters, horizon, rho, start, opts,
                         transition_opts, n_sim, seed)
    return _checked(jax.block_until_ready(_outputs_program(*args, **static)), throw)


def _checked(out: HorizonOutputs, throw: bool) -> HorizonOutputs:
    if throw and not bool(out.converged):
        raise ConvergenceError(f"the baseline equilibrium at these parameters did not "
                               f"converge (beta={float(out.beta):.6g}): its elasticities "
                               "are no results; give a start nearer the solution (start=) or "
                               "more iterations (opts.max_iter), or pass throw=False")
    return out


def horizon_elasticities_jacobian(params, problem, importer, exporters=None, *,
                                  horizon: int = 150, rho: float = 0.9,
                                  start: Start | None = None,
                                  opts: EquilibriumOptions | None = None,
                                  transition_opts: TransitionOptions | None = None,
                                  n_sim: int = 20_000, seed: int = 0, tangents=None,
                                  directions: int | None = None, throw: bool = True):
    """(outputs, jacobian, stats): :func:`horizon_outputs` and its exact derivatives
    (a :class:`HorizonOutputs` of arrays [..., k]; forward mode over the forward-mode
    elasticities) along the rows of ``tangents`` [k, K] (default the identity: the
    Jacobian d outputs / d params), ``directions`` rows at a time (default all; fewer
    bound the memory, the primal solves then repeat per chunk), stats {"seconds"}
    (compile included); throw as :func:`horizon_outputs`."""
    t0 = time.perf_counter()
    args, static = _args(params, problem, importer, exporters, horizon, rho, start, opts,
                         transition_opts, n_sim, seed)
    K = args[0].size
    basis = np.eye(K) if tangents is None else np.atleast_2d(np.asarray(tangents, np.float64))
    if (basis.ndim != 2 or basis.shape[0] < 1 or basis.shape[1] != K
            or not np.all(np.isfinite(basis))):
        raise ValueError(f"tangents must be a finite [k, {K}] array (rows: directions in "
                         f"parameter space), got shape {basis.shape}")
    k = basis.shape[0]
    directions = k if directions is None else directions
    if not isinstance(directions, (int, np.integer)) or directions < 1:
        raise ValueError(f"directions must be an integer >= 1, got directions={directions!r}")
    parts = [jax.block_until_ready(_jacobian_program(args[0], jnp.asarray(basis[r: r + directions]),
                                                     *args[1:], **static))
             for r in range(0, k, int(directions))]  # chunks: the primal solves repeat
    jac = jax.tree_util.tree_map(lambda *x: jnp.concatenate(x, axis=-1), *(p[1] for p in parts))
    return _checked(parts[0][0], throw), jac, {"seconds": time.perf_counter() - t0}
