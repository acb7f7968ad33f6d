"""The trade elasticity at every horizon (issue 14, model.md s.9 and s.12).

After a permanent change of log d_ij at t = 0 (news and change at once), the elasticity
at horizon h is

    theta_ij(h) = d log(M_ij,h / M_ii,h) / d log d_ij,

linearized at the stationary equilibrium and computed by forward-mode AD through the
transition (never finite differences):

(a) fixed prices: W, R at their stationary values, households re-optimize (backward
    from the new stationary policies at the old prices) and the distribution moves
    from lambda_0. h = 0 is the static elasticity of ``trade_elasticities``; as h grows
    it tends to the stationary partial-equilibrium elasticity with lambda adjusting
    (``limit_fixed_prices``);
(b) general equilibrium: the path's prices re-solved (:func:`path_root`, implicit
    function theorem with the stationary sequence-space Jacobian, exact at the
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

from functools import partial

from .._compiled import compiled
from ..equilibrium import EquilibriumOptions, decode, encode, excess_demands, solve_world
from ..aggregates import trade_flows
from ..distribution import stationary_distributions
from ..household import household_fixed_points, policies
from ..params import household_problems
from ..welfare.costs import country_index
from .path import Endpoint, ShockPath, endpoint, path_outcomes, steady_unknowns
from ..params import household_options
from .driver import stationary_jacobian, transition_eq_options
from .shocks import check_horizon
from .solve import TransitionOptions, linear_path

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


@partial(jax.custom_jvp, nondiff_argnums=(3,))
def _stationary_root(x, economy, state, eq_opts):
    """x, a known root of the stationary excess demands (unknown R, beta fixed), with the
    implicit derivative dx = -(df/dx)^{-1} (df/deconomy) deconomy."""
    return x


@_stationary_root.defjvp
def _stationary_root_jvp(eq_opts, primals, tangents):
    x, economy, state = primals
    t_econ = tangents[1]
    f = lambda xx, e: excess_demands(xx, e, eq_opts, 1.0, state)[0]
    Jx = jax.jacfwd(f)(x, economy)
    _, rhs = jax.jvp(lambda e: f(x, e), (economy,), (t_econ,))
    return x, -jnp.linalg.solve(Jx, rhs)


def _terminal(economy, end, eq_opts):
    """The stationary equilibrium of ``economy`` linearized at ``end`` (a root of the
    unperturbed economy): its Endpoint and trade flows, with implicit derivatives."""
    x0 = encode(end.W, end.R, economy.beta, economy, eq_opts)
    x = _stationary_root(x0, economy, end.y, eq_opts)
    W, R, beta = decode(x, economy, eq_opts, 1.0)
    world = solve_world(economy, W, R, beta, end.y, eq_opts)
    return (Endpoint(W, R, world.households.state, world.distribution.lam),
            world.aggregates.M)


def _program(economy, end, J, D, js, rho, hopts, eq_opts, i, T):
    """All responses for the partners js [K] (directions D [K, N, N], log d_i,js[k]):
    forward-mode derivatives, one partner after another (lax.map: one trace, and
    memory for one path's tangent at a time)."""
    U_ss = steady_unknowns(end, T)
    t_idx = jnp.arange(T + 1)
    w_perm = jnp.ones(T + 1, U_ss.dtype)
    w_temp = jnp.where(t_idx < T, rho ** t_idx.astype(U_ss.dtype), 0.0)

    def one(args):
        Dk, j = args
        stat = lambda M: _log_ratio(M, i, j)

        def costs(e, weights):
            return jnp.exp(jnp.log(economy.d)[None] + e * weights[:, None, None] * Dk[None])

        def fixed(e):
            d = costs(e, w_perm)
            probs = household_problems(economy.replace(d=d[0]), end.W, end.R, economy.beta)
            y_new = household_fixed_points(end.y, probs, hopts)[0]
            term = Endpoint(end.W, end.R, y_new, end.lam)
            out = path_outcomes(U_ss, economy, ShockPath({"d": d}), end, term, hopts)
            # the stationary partial equilibrium: lambda adjusting to the new policies
            c, a_next, v, pi, V, lo, w = jax.vmap(policies, in_axes=(0, 0, None))(
                y_new, probs, hopts)
            lam = stationary_distributions(pi, lo, w, probs.P, eq_opts.distribution_options(),
                                           throw=False).lam
            M = trade_flows(lam, c, pi, probs.p, economy.L)
            return jnp.concatenate([stat(out.M), stat(M)[None]])

        def general(e, weights, permanent):
            d = costs(e, weights)
            if permanent:
                term, M_lr = _terminal(economy.replace(d=d[-1]), end, eq_opts)
            else:
                term, M_lr = end, None
            shock = ShockPath({"d": d})
            U = linear_path(U_ss, J, economy, shock, end, term, hopts)
            out = path_outcomes(U, economy, shock, end, term, hopts)
            if permanent:
                return jnp.concatenate([stat(out.M), stat(M_lr)[None]])
            return stat(out.M)

        zero, one_ = jnp.zeros((), U_ss.dtype), jnp.ones((), U_ss.dtype)
        d_ = lambda f: jax.jvp(f, (zero,), (one_,))[1]
        return (d_(fixed), d_(lambda e: general(e, w_perm, True)),
                d_(lambda e: general(e, w_temp, False)))

    return lax.map(one, (D, js))


_program_jit = jax.jit(_program, static_argnames=("i", "T"))


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


def horizon_elasticities(eq, importer, exporters=None, *, T: int = 150, rho: float = 0.9,
                         jacobian=None, opts: TransitionOptions | None = None,
                         eq_opts: EquilibriumOptions | None = None, n_sim: int = 20_000,
                         seed: int = 0) -> HorizonElasticities:
    """theta_ij(h), h = 0..T-1, for ``importer`` and each exporter in ``exporters``
    (default: every partner), at the stationary equilibrium ``eq`` (see the module
    docstring for (a), (b), (c)). jacobian: the sequence-space Jacobian at ``eq``'s
    stationary path (e.g. a no-shock :func:`solve_transition`'s ``jacobian``; computed
    if None). rho: persistence of the AR(1) cost shocks of the time-series estimate
    (default 0.9, in [0, 1))."""

    T = check_horizon(T)
    if not (np.isfinite(rho) and 0.0 <= rho < 1.0):
        raise ValueError(f"rho (persistence of the cost shocks) must lie in [0, 1), got "
                         f"rho={rho!r}")
    opts = TransitionOptions() if opts is None else opts
    economy = eq.economy.replace(beta=jnp.asarray(eq.beta, jnp.float64))
    N = economy.N
    i = country_index(economy, importer)
    if exporters is None:
        partners = tuple(j for j in range(N) if j != i)
    else:
        partners = tuple(country_index(economy, j) for j in np.atleast_1d(exporters))
        if i in partners:
            raise ValueError(f"exporters must differ from the importer {economy.countries[i]}")
    eo = transition_eq_options(opts, eq_opts)
    hopts = household_options(economy, tol=opts.hh_tol)
    end = endpoint(eq)
    if jacobian is None:
        jacobian = stationary_jacobian(eq, T, opts)
    D = _directions(N, i, partners)
    args = (economy, end, jnp.asarray(jacobian), D, jnp.asarray(partners, jnp.int32),
            jnp.asarray(rho, jnp.float64), hopts, eo)
    a, b, c = compiled(_program_jit, args, static=dict(i=i, T=T))(*args)
    a, b, c = np.asarray(a), np.asarray(b), np.asarray(c)
    ts = np.array([time_series_estimate(c[k], rho, n_sim, seed) for k in range(len(partners))])
    shares = np.asarray(eq.world.aggregates.trade_shares)[i, list(partners)]
    weights = shares / shares.sum()
    return HorizonElasticities(i, partners, np.arange(T), a[:, :T], b[:, :T], a[:, T], b[:, T],
                               c, ts[:, 0], ts[:, 1], weights, float(rho))
