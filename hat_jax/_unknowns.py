"""The equilibrium's unknowns as one unconstrained vector x (model.md section 6).

Wages W = N softmax(x_W, 0) (positive, mean one); R = (1 - e^{x_R})/beta, so beta R < 1
(one x_R, or one per country under financial autarky), or in the "beta" mode (R given)
beta = (1 - e^{x_beta})/R; with tariffs or capital-account wedges the N lump-sum
rebates T_i (tariff plus wedge revenue per capita) follow as levels.
:func:`decode` / :func:`transfers_from_x` map x to prices, :func:`encode` back.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._wedges import check_wedge_regime

__all__ = ["decode", "encode", "transfers_from_x", "wages_from_x", "x_from_wages"]


def wages_from_x(xw):
    """W = N softmax([x_W, 0]): positive, mean one."""
    full = jnp.concatenate([xw, jnp.zeros((1,), xw.dtype)])
    return full.shape[0] * jax.nn.softmax(full)


def x_from_wages(W):
    W = jnp.asarray(W, jnp.float64)
    return jnp.log(W[:-1] / W[-1])


def decode(x, economy, opts, R_fixed):
    """Unconstrained x -> (W, R, beta)."""
    N = economy.N
    W = wages_from_x(x[: N - 1])
    if opts.regime == "autarky":
        beta = economy.beta
        R = (1.0 - jnp.exp(x[N - 1:2 * N - 1])) / beta
    elif opts.unknown == "R":
        beta = economy.beta
        R = (1.0 - jnp.exp(x[N - 1])) / beta
    else:
        R = R_fixed
        beta = (1.0 - jnp.exp(x[N - 1])) / R
    return W, R, beta


def transfers_from_x(x, economy):
    """The lump-sum rebates T (the last N unknowns with tariffs or wedges; else zeros)."""
    if not economy.has_rebates:
        return jnp.zeros(economy.N, x.dtype)
    return x[x.shape[0] - economy.N:]


def encode(W, R, beta, economy, opts, T=None):
    """(W, R, beta[, T]) -> unconstrained x (inverse of :func:`decode` and
    :func:`transfers_from_x`; T, default zeros, is appended only with tariffs or
    wedges)."""
    check_wedge_regime(economy, opts.regime)
    xw = x_from_wages(W)
    if opts.regime == "autarky":
        xr = jnp.log(1.0 - economy.beta * jnp.broadcast_to(jnp.asarray(R, jnp.float64),
                                                           (economy.N,)))
    elif opts.unknown == "R":
        xr = jnp.log(1.0 - economy.beta * jnp.asarray(R, jnp.float64))[None]
    else:
        xr = jnp.log(1.0 - jnp.asarray(beta, jnp.float64) * jnp.asarray(R, jnp.float64))[None]
    if not economy.has_rebates:
        return jnp.concatenate([xw, xr])
    T = jnp.zeros(economy.N) if T is None else jnp.asarray(T, jnp.float64)
    return jnp.concatenate([xw, xr, jnp.broadcast_to(T, (economy.N,))])
