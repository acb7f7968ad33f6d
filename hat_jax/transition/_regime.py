"""The perfect-foresight path across financial regimes (model.md s.12 and s.15): capital-
account wedges by date and their lump-sum rebates.

Households of country i are paid R_{i,t} = R_t + omega_{i,t} at date t on the bonds
carried into t (R_t the world return, unknown R_{t+1} of date t as in
:mod:`~hat_jax.transition._path`); the wedge of date t is row t of the shock's
``wedges`` field. The return paid at date 0 is predetermined: R_{i,0} is the initial
equilibrium's (R_i^aut when the path starts from financial autarky), and so is the
date-0 rebate (bonds carried into date 0 are the initial distribution's).

Rebates. The wedge revenue is rebated lump sum at every date,

    L_i F_{i,t} = (R_t - R_{i,t}) A_{i,t}        (A_{i,t} = L_i sum lambda_t a),

A_{i,t} the bonds carried into t. A_{i,t} follows from lambda_t, which depends on the
policies of every earlier date, which depend on the whole rebate path (households see
it): the rebates cannot be eliminated analytically. Where some wedge is non-zero at a
date t >= 1 they are N more unknowns per date, U_t = (x_W,t, R_{t+1}, F_{.,t}) [T, 2N],
with the N rebate conditions above as residuals (relative to world GDP_t) next to the
goods and bond markets. Where every wedge of dates t >= 1 is zero (the capital account
opened at t = 0) the rebates of dates t >= 1 are zero and the date-0 rebate is the
initial one: U_t = (x_W,t, R_{t+1}) [T, N] as in a trade transition.

Sequence-space Jacobian: at a terminal without wedges it is the stationary one of
:mod:`~hat_jax.transition._fakenews`, with the rebates as N more date inputs of the
household block when they are unknowns (:func:`regime_fake_news_jacobian`); elsewhere
one jvp per column (:func:`regime_jacobian`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from .._equilibrium import wages_from_x, x_from_wages
from .._params import household_problems
from ._fakenews import _residual_map, _residual_outputs, block_jacobian
from ._path import (Endpoint, PathOutcomes, ShockPath, forward_path, market_report,
                    prices_from_unknowns)
from ._solve import jvp_columns

__all__ = ["RegimeOrigin", "regime_date_problems", "regime_path", "regime_outcomes",
           "regime_jacobian", "regime_fake_news_jacobian", "path_returns", "path_rebates"]


class RegimeOrigin(NamedTuple):
    """What a regime path takes over from the initial and terminal stationary
    equilibria beyond their :class:`Endpoint`: R_world (the world return R_0 paid at
    date 0; under autarky the reference country's), R [N] (R_{i,0}, the returns paid at
    date 0, predetermined), F [N] (the date-0 wedge rebate per household, predetermined),
    F_terminal [N] (the terminal equilibrium's rebates)."""

    R_world: jax.Array
    R: jax.Array
    F: jax.Array
    F_terminal: jax.Array


def _has_rebates(U, N: int) -> bool:
    if U.shape[1] not in (N, 2 * N):
        raise ValueError(f"regime path unknowns must be [T, N] or [T, 2N] (N={N}), got "
                         f"{U.shape}")
    return U.shape[1] == 2 * N


def path_returns(U, shock: ShockPath, origin: RegimeOrigin):
    """(R_t [T+1] world, R_{i,t} = R_t + omega_{i,t} [T+1, N]) with row 0 the
    predetermined returns of date 0."""
    N = origin.R.shape[0]
    _, R_next = prices_from_unknowns(U[:, :N])
    R_world = jnp.concatenate([jnp.reshape(origin.R_world, (1,)), R_next])
    R_i = (R_world[:, None] + shock.fields["wedges"]).at[0].set(origin.R)
    return R_world, R_i


def path_rebates(U, origin: RegimeOrigin):
    """F_{i,t} [T+1, N], the rebates per household of dates 0..T: unknowns, or zero at
    dates 1..T-1 with the predetermined date-0 rebate; row T the terminal's."""
    N = origin.R.shape[0]
    F = U[:, N:] if _has_rebates(U, N) else \
        jnp.zeros((U.shape[0], N), U.dtype).at[0].set(origin.F)
    return jnp.concatenate([F, origin.F_terminal[None]], axis=0)


def regime_date_problems(U, economy, shock: ShockPath, origin: RegimeOrigin,
                         terminal: Endpoint):
    """Household problems of dates 0..T [T+1, N]: wages W_t (W_T terminal), returns
    R_{i,t} (:func:`path_returns`), lump-sum rebates F_{i,t} (:func:`path_rebates`) and
    the shock's other fields."""
    N = economy.N
    W, _ = prices_from_unknowns(U[:, :N])
    W_all = jnp.concatenate([W, terminal.W[None]], axis=0)
    _, R_i = path_returns(U, shock, origin)
    F = path_rebates(U, origin)
    fields = {k: v for k, v in shock.fields.items() if k != "wedges"}
    base = economy.replace(wedges=None)

    def one(f, w, r, t):
        return household_problems(base.replace(**f), w, r, base.beta, T=t)

    return jax.vmap(one)(fields, W_all, R_i, F)


def regime_outcomes(U, economy, shock: ShockPath, origin: RegimeOrigin, initial: Endpoint,
                    terminal: Endpoint, hopts) -> PathOutcomes:
    """Backward pass, forward pass and aggregates along the regime path at U ([T, N], or
    [T, 2N] with the rebates): a :class:`PathOutcomes` whose R is the world return and
    whose residuals [T, N] or [T, 2N] are the goods markets j = 1..N-1, the world bond
    market and, with the rebates, the N rebate conditions, all relative to world GDP_t."""
    N = economy.N
    rebates = _has_rebates(U, N)
    problems = regime_date_problems(U, economy, shock, origin, terminal)
    R_world, R_i = path_returns(U, shock, origin)

    def report(lam, hh, prob, r, r_i):
        rebate = (lambda agg, gdp: (economy.L * prob.T - (r - r_i) * agg.assets) / gdp) \
            if rebates else None  # L_i F_i,t = (R_t - R_i,t) A_i,t
        return market_report(lam, hh, prob, economy, rebate)

    lam_T, outs, V0 = forward_path(problems, initial, terminal, hopts, report,
                                   (R_world[:-1], R_i[:-1]))
    W, R_next = prices_from_unknowns(U[:, :N])
    return PathOutcomes(W, R_world[:-1], R_next, *outs, lam_T, V0)


def regime_path(U, economy, shock, origin, initial, terminal, hopts):
    """The stacked residuals of :func:`regime_outcomes`, flat (date-major)."""
    return regime_outcomes(U, economy, shock, origin, initial, terminal, hopts) \
        .residuals.reshape(-1)


def regime_jacobian(U, economy, shock, origin, initial, terminal, hopts, batch: int = 64):
    """The exact Jacobian of the regime path's residuals at U [n, n] (n = U.size, rows and
    columns date-major), one forward-mode jvp per column."""
    f = lambda u: regime_path(u.reshape(U.shape), economy, shock, origin, initial,  # noqa
                              terminal, hopts)
    return jvp_columns(f, U, batch)


def regime_fake_news_jacobian(economy, end: Endpoint, horizon: int, hopts, batch: int = 20):
    """The Jacobian of the regime path with rebate unknowns [2N T, 2N T] at the stationary
    path of a terminal without wedges or tariffs, by the fake-news algorithm: the
    household block's inputs of a date are (x_W, R, F_1..F_N); the rebate rows are
    L_i dF_{i,t} / GDP (their other terms carry the zero wedge)."""
    T, N = horizon, economy.N
    x_ss = jnp.concatenate([x_from_wages(end.W), jnp.reshape(end.R, (1,)),
                            jnp.zeros(N, end.W.dtype)])

    def prob_of(x):
        return household_problems(economy, wages_from_x(x[: N - 1]), x[N - 1],
                                  economy.beta, T=x[N:])

    rows_of = lambda o: jax.jacfwd(_residual_map)(o, N)             # noqa: E731
    Jx = block_jacobian(economy, end, T, hopts, prob_of, _residual_outputs, x_ss, rows_of,
                        batch)                                      # [t, s = 0..T, r, 2N]
    top = jnp.concatenate([Jx[:, :T, :, : N - 1], Jx[:, 1:, :, N - 1:N], Jx[:, :T, :, N:]],
                          axis=3)                                   # [t, s, N, 2N]
    gdp = jnp.sum(end.W * economy.L * _mean_z(end, economy))
    reb = jnp.concatenate([jnp.zeros((N, N), top.dtype), jnp.diag(economy.L / gdp)], axis=1)
    bottom = jnp.eye(T, dtype=top.dtype)[:, :, None, None] * reb    # [t, s, N, 2N]
    J = jnp.concatenate([top, bottom], axis=2)                      # [t, s, 2N, 2N]
    return J.transpose(0, 2, 1, 3).reshape(2 * N * T, 2 * N * T)


def _mean_z(end: Endpoint, economy):
    """sum lambda z per country at the endpoint (GDP = sum_i W_i L_i sum lambda z)."""
    return jnp.einsum("iaz,z->i", end.lam, economy.z)
