"""The trade elasticity at every horizon (issue 14, model.md s.9 and s.12).

After a permanent change of log d_ij at t = 0 (news and change at once), the elasticity
at horizon h is

    theta_ij(h) = d log(M_ij,h / M_ii,h) / d log d_ij,

linearized at the stationary equilibrium and computed by forward-mode AD (never finite
differences): jvps of the stationary solve and of one date, the path linearized by the
constant date blocks (:mod:`~hat_jax.transition._linear`; see :func:`_program`):

(a) fixed prices: W, R at their stationary values, households re-optimize (backward
    from the new stationary policies at the old prices) and the distribution moves
    from lambda_0. h = 0 is the static elasticity of ``trade_elasticities``; as h grows
    it tends to the stationary partial-equilibrium elasticity with lambda adjusting
    (``limit_fixed_prices``);
(b) general equilibrium: the path's prices re-solved to first order (implicit function
    theorem, dU = -J^{-1} dH, with the stationary sequence-space Jacobian, exact at the
    stationary path); the long run is the elasticity across stationary equilibria;
(c) the time-series estimate: the impulse response a_h to a temporary AR(1) change
    (persistence rho) gives, by linearity, y_t = sum_h a_h eps_{t-h} and log d_t =
    sum_h rho^h eps_{t-h}; the OLS slope of y_t on log d_t (with a constant) over a
    simulated sample is what an econometrician would estimate (``time_series``), next
    to its population value (``time_series_population``).

For a country (importer i) the trade-weighted mean over partners j != i uses the
stationary shares pi_ij.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._deprecation import renamed_keywords
from .._compiled import compiled
from .._baseline import as_baseline
from .._equilibrium import (EquilibriumOptions, decode, encode, solve_world, system_residuals,
                           transfers_from_x, x_from_wages)
from .._params import household_options
from ..welfare._costs import country_index
from ._driver import stationary_jacobian, transition_eq_options
from ._linear import linear_path_blocks, linear_path_response
from ._path import endpoint
from ._shocks import check_horizon
from ._solve import TransitionOptions

__all__ = ["HorizonElasticities", "horizon_elasticities", "time_series_estimate"]


class HorizonElasticities(NamedTuple):
    """Elasticities by horizon h = 0..T-1 for importer ``importer`` and each exporter in
    ``partners`` (arrays [partner, h]) and their trade-weighted means (arrays [h]).

    fixed_prices, general_equilibrium: (a), (b); static: the static elasticity
    (h = 0 of (a)); limit_fixed_prices: the stationary partial-equilibrium elasticity
    (lambda adjusting); long_run: across stationary equilibria (GE);
    time_series / time_series_population: (c), per partner; irf: the GE response to
    the temporary shock; weights: pi_ij / sum_{j != i} pi_ij; rho: its persistence.
    ``*_mean``: weighted means over partners.
    """

    importer: int
    partners: tuple
    h: np.ndarray
    fixed_prices: np.ndarray
    general_equilibrium: np.ndarray
    limit_fixed_prices: np.ndarray
    long_run: np.ndarray
    irf: np.ndarray
    time_series: np.ndarray
    time_series_population: np.ndarray
    weights: np.ndarray
    rho: float

    def mean(self, name: str):
        """Trade-weighted mean over partners of the field ``name``."""
        x = np.asarray(getattr(self, name))
        return np.tensordot(self.weights, x, axes=(0, 0))


def _log_ratio(M, i, j):
    return jnp.log(M[..., i, j] / M[..., i, i])


def _directions(N, i, partners):
    D = np.zeros((len(partners), N, N))
    for k, j in enumerate(partners):
        D[k, i, j] = 1.0
    return jnp.asarray(D)


def _push(f, primals, tangents, batch):
    """(f(primals), the jvps of f at ``primals`` along each of the stacked ``tangents``),
    ``batch`` tangents at a time (vmap within a chunk, so the primal computation, e.g. the
    household fixed point or the path's EGM, is shared by the chunk; lax.map over chunks
    bounds the memory)."""
    one = lambda t: jax.jvp(f, primals, t)
    n = jax.tree_util.tree_leaves(tangents)[0].shape[0]
    out = jax.vmap(one)(tangents) if batch >= n else lax.map(one, tangents, batch_size=batch)
    return jax.tree_util.tree_map(lambda x: x[0], out[0]), out[1]


def _stationary(x, d, economy, end, eq_opts, i):
    """The stationary world at unknowns x (unknown R, beta fixed) and trade costs d:
    (excess demands, household state y, wages W, importer i's purchases M_i [N])."""
    e = economy.replace(d=d)
    W, R, beta = decode(x, e, eq_opts, 1.0)
    t = transfers_from_x(x, e)
    world = solve_world(e, W, R, beta, end.y, eq_opts, T=t)
    return (system_residuals(world, e, eq_opts, t), world.households.state, W,
            world.aggregates.M[i])


def _program(economy, end, J, D, js, rho, hopts, eq_opts, i, T, batch):
    """All responses for the partners js [K] (directions D [K, N, N] of log d).

    Everything is linear at the stationary equilibrium, so the responses are assembled
    from one batch of stationary jvps (:func:`_push`) and the linearized path, not from
    jvps through the stationary solve and the whole path per partner (1792 s before at
    ek_baseline Na = 20, T = 150, 18 partners; 10.6 s now):

    1. stationary: the jvps of (excess demands, y, W, M_i) along the N unknowns x and the
       K cost directions (one batch; the household solve shared): Jx = d(excess)/dx, so
       the long-run dx_k = -Jx^{-1} d(excess)/dd D_k (implicit function theorem) and
       every stationary response is the cost column plus Jx-columns times dx_k (the
       fixed-price one, lambda adjusting: the cost column alone);
    2. the path, linearized at the stationary one (initial = ``end``) by the constant
       date blocks (:mod:`~hat_jax.transition._linear`, no jvp through T dates): the
       responses of (residuals, M_i,t) to the cost path and the terminal (W_T, y_T)
       tangents of (a) fixed prices, (b) permanent GE, (c) temporary; then dU = -J^{-1}
       dresiduals for (b), (c) (J: the exact Jacobian at the stationary path) and the
       responses to dU.
    Statistic: d log(M_ij / M_ii) = dM_ij / M_ij - dM_ii / M_ii.
    """
    N, K = economy.N, D.shape[0]
    d0 = economy.d
    # 1. stationary responses
    x0 = encode(end.W, end.R, economy.beta, economy, eq_opts)
    n = x0.shape[0]
    tx = jnp.concatenate([jnp.eye(n, dtype=x0.dtype), jnp.zeros((K, n), x0.dtype)])
    td = jnp.concatenate([jnp.zeros((n, N, N), d0.dtype), d0[None] * D])
    stat_f = lambda x, d: _stationary(x, d, economy, end, eq_opts, i)
    (_, _, _, M_ss), (ded, dy, dW, dM) = _push(stat_f, (x0, d0), (tx, td), n + K)
    dx = -jnp.linalg.solve(ded[:n].T, ded[n:].T).T                        # [K, n]
    lr = lambda a: a[n:] + jnp.tensordot(dx, a[:n], axes=1)

    def stat(dMi, Mi):      # dMi [K, ..., N], Mi [..., N] -> d log(M_ij / M_ii) [K, ...]
        dj = jnp.take_along_axis(dMi, js.reshape((K,) + (1,) * (dMi.ndim - 1)), axis=-1)
        return dj[..., 0] / jnp.moveaxis(Mi[..., js], -1, 0) - dMi[..., i] / Mi[..., i]

    limit_fixed, long_run = stat(dM[n:], M_ss), stat(lr(dM), M_ss)
    dy_fixed = jax.tree_util.tree_map(lambda a: a[n:], dy)
    dy_lr, dW_lr = jax.tree_util.tree_map(lr, dy), lr(dW)
    # 2. the path: linear responses from the constant date blocks (linear.py)
    lp = linear_path_blocks(economy, end, hopts, i, D)
    dt = x0.dtype
    t_idx = jnp.arange(T + 1)
    w_perm = jnp.ones(T + 1, dt)
    w_temp = jnp.where(t_idx < T, rho ** t_idx.astype(dt), 0.0)
    onehot = jnp.eye(K, dtype=dt)
    cost = lambda w: w[None, :, None] * onehot[:, None, :]                 # [K, T+1, K]
    zx = jnp.zeros((K, T + 1, N), dt)
    dxW_lr = jax.vmap(lambda t: jax.jvp(x_from_wages, (end.W,), (t,))[1])(dW_lr)
    x_lr = zx.at[:, T, : N - 1].set(dxW_lr)                  # the terminal wages, date T
    zy = jax.tree_util.tree_map(jnp.zeros_like, dy_fixed)
    cat = lambda *xs: jnp.concatenate(xs)
    e = cat(jnp.concatenate([zx, cost(w_perm)], axis=2),
            jnp.concatenate([x_lr, cost(w_perm)], axis=2),
            jnp.concatenate([zx, cost(w_temp)], axis=2))
    response = lambda ee, yy: lax.map(lambda a: linear_path_response(lp, *a, i), (ee, yy),
                                      batch_size=batch)
    dres, dM_dir = response(e, jax.tree_util.tree_map(cat, dy_fixed, dy_lr, zy))
    lu = jax.scipy.linalg.lu_factor(J)
    dU = -jax.scipy.linalg.lu_solve(lu, dres[K:].reshape(2 * K, -1).T).T.reshape(
        2 * K, T, N)
    # U_t = (x_W,t, R_{t+1}): the R of date s is U[s - 1]; R_0 is predetermined
    e_U = jnp.zeros((2 * K, T + 1, N + K), dt)
    e_U = e_U.at[:, :T, : N - 1].set(dU[..., : N - 1]).at[:, 1:, N - 1].set(dU[..., N - 1])
    zy2 = jax.tree_util.tree_map(lambda a: jnp.zeros((2 * K,) + a.shape[1:], a.dtype), zy)
    _, dM_U = response(e_U, zy2)
    M_path = jnp.broadcast_to(M_ss, (T, N))
    dM_ge = dM_dir[K:] + dM_U
    with_limit = lambda path, limit: jnp.concatenate([path, limit[:, None]], axis=1)
    return (with_limit(stat(dM_dir[:K], M_path), limit_fixed),
            with_limit(stat(dM_ge[:K], M_path), long_run), stat(dM_ge[K:], M_path))


_program_jit = jax.jit(_program, static_argnames=("i", "T", "batch"))


def check_rho(rho) -> None:
    """rho, the persistence of the AR(1) cost shocks, must lie in [0, 1) (ValueError)."""
    if not (np.isfinite(rho) and 0.0 <= rho < 1.0):
        raise ValueError(f"rho (persistence of the cost shocks) must lie in [0, 1), got "
                         f"rho={rho!r}")


def importer_partners(economy, importer, exporters=None):
    """(i, partners): the importer's index and its partners' (every other country when
    ``exporters`` is None; ValueError if the importer is among them)."""
    i = country_index(economy, importer)
    if exporters is None:
        return i, tuple(j for j in range(economy.N) if j != i)
    partners = tuple(country_index(economy, j) for j in np.atleast_1d(exporters))
    if i in partners:
        raise ValueError(f"exporters must differ from the importer {economy.countries[i]}")
    return i, partners


def time_series_estimate(irf, rho: float, n: int = 20_000, seed: int = 0):
    """(OLS slope, population slope) of y_t = sum_h irf_h eps_{t-h} on x_t = sum_h rho^h
    eps_{t-h} with a constant, eps iid N(0, 1), over n simulated dates after a burn-in
    of len(irf) (population: Cov(y, x)/Var(x) = (1 - rho^2) sum_h irf_h rho^h)."""
    irf = np.asarray(irf, np.float64)
    H = irf.shape[0]
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(n + H)
    kern = rho ** np.arange(H)
    y = np.convolve(eps, irf)[H: n + H]
    x = np.convolve(eps, kern)[H: n + H]
    xc, yc = x - x.mean(), y - y.mean()
    slope = float(xc @ yc / (xc @ xc))
    return slope, float((1.0 - rho ** 2) * np.sum(irf * kern))


@renamed_keywords(T="horizon")
def horizon_elasticities(eq, importer, exporters=None, *, horizon: int = 150, rho: float = 0.9,
                         jacobian=None, opts: TransitionOptions | None = None,
                         eq_opts: EquilibriumOptions | None = None, n_sim: int = 20_000,
                         seed: int = 0, batch: int = 16) -> HorizonElasticities:
    """theta_ij(h), h = 0..T-1, for ``importer`` and each exporter in ``exporters``
    (default: every partner), at the baseline ``eq`` (a :class:`~hat_jax.Baseline` or
    an Equilibrium, converted once; see the module
    docstring for (a), (b), (c)). jacobian: the sequence-space Jacobian at ``eq``'s
    stationary path (e.g. a no-shock :func:`solve_transition`'s ``jacobian``; computed
    if None). rho: persistence of the AR(1) cost shocks of the time-series estimate
    (default 0.9, in [0, 1)). batch: tangents (3 per partner, then 2) pushed through
    the linearized path at once (memory grows with it)."""
    T = horizon

    T = check_horizon(T)
    check_rho(rho)
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got batch={batch!r}")
    opts = TransitionOptions() if opts is None else opts
    base = as_baseline(eq)
    economy = base.economy
    N = economy.N
    i, partners = importer_partners(economy, importer, exporters)
    eo = transition_eq_options(opts, eq_opts)
    hopts = household_options(economy, tol=opts.hh_tol)
    end = endpoint(base)
    if jacobian is None:
        jacobian = stationary_jacobian(base, T, opts)
    D = _directions(N, i, partners)
    args = (economy, end, jnp.asarray(jacobian), D, jnp.asarray(partners, jnp.int32),
            jnp.asarray(rho, jnp.float64), hopts, eo)
    a, b, c = compiled(_program_jit, args, static=dict(i=i, T=T, batch=int(batch)))(*args)
    a, b, c = np.asarray(a), np.asarray(b), np.asarray(c)
    ts = np.array([time_series_estimate(c[k], rho, n_sim, seed) for k in range(len(partners))])
    shares = np.asarray(base.equilibrium.world.aggregates.trade_shares)[i, list(partners)]
    weights = shares / shares.sum()
    return HorizonElasticities(i, partners, np.arange(T), a[:, :T], b[:, :T], a[:, T], b[:, T],
                               c, ts[:, 0], ts[:, 1], weights, float(rho))
