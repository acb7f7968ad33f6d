"""The linearized path at a stationary equilibrium, from constant date blocks
(model.md s.12; the machinery of :mod:`hat_jax.transition._fakenews`).

At a stationary equilibrium every date has the same derivatives, so the first-order
response of the path to any input tangent is two cheap linear recursions instead of a
forward-mode jvp through T EGM steps:

- inputs by date s = 0..T: e_s = (dx_W,s, dR_s, dc_s) with dc_s the weights of K cost
  directions (d log d = sum_k dc_k D_k), and the terminal household state dy_T;
- backward, t = T..0: (dy_{t-1}, dO_t^dir, dD_t) = Z_y dy_t + Z_e e_t, with Z_y the
  date blocks (:func:`~hat_jax.transition._fakenews.date_blocks`, then the expectation
  over z') and Z_e the impact of the date's inputs (N + K jvps of one date);
- forward, t = 0..T-1 from dlambda_0 = 0 (the initial distribution is given):
  dO_t = dO_t^dir + (do/dlambda) dlambda_t, dlambda_{t+1} = Q' dlambda_t + dD_t;
- outputs o_t = (Y_t, sum_i M_ij,t, sum_i A'_i,t, M_i.,t) for one importer i: the
  residuals' tangent is D phi (Y, S, B) (as in the path) and dM_i. its purchases.

Used by :func:`~hat_jax.transition._elasticity.horizon_elasticities`; a test checks it
against jvps through :func:`~hat_jax.transition._path.path_outcomes`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._aggregates import aggregate
from .._distribution import asset_transition, distribution_step
from .._equilibrium import wages_from_x, x_from_wages
from .._household import HouseholdSolution, household_operator, policies
from .._params import household_problems
from ._fakenews import _residual_map, block_step, date_blocks, stationary_mix
from ._path import Endpoint

__all__ = ["LinearPath", "linear_path_blocks", "linear_path_response"]


class LinearPath(NamedTuple):
    """The constant derivatives of one date at a stationary state (see the module
    docstring): blocks [N, Nz, 3 Na + N + 1, 2 Na], P [N, Nz, Nz], Pm (P m at the
    state), impact_y / impact_o / impact_D (Z_e for the N + K inputs), E_o (do/dlambda,
    [n_o, N, Na, Nz]), G (the stationary lotteries), Dphi (d residuals / d(Y, S, B)),
    importer (static index i)."""

    blocks: jax.Array
    P: jax.Array
    Pm: jax.Array
    impact_y: tuple
    impact_o: jax.Array
    impact_D: jax.Array
    E_o: jax.Array
    G: tuple
    Dphi: jax.Array


def linear_path_blocks(economy, end: Endpoint, hopts, i: int, D, batch: int = 20):
    """The :class:`LinearPath` of ``end`` for importer ``i`` and cost directions D
    [K, N, N] (of log d)."""
    N = economy.N
    x_ss = jnp.concatenate([x_from_wages(end.W), jnp.reshape(end.R, (1,))])
    pol = jax.vmap(policies, in_axes=(0, 0, None))
    op = jax.vmap(household_operator, in_axes=(0, 0, None))

    def prob_of(x, c):
        d = economy.d * jnp.exp(jnp.tensordot(c, D, axes=1))
        return household_problems(economy.replace(d=d), wages_from_x(x[: N - 1]), x[N - 1],
                                  economy.beta)

    def date(lam, x, c):
        prob = prob_of(x, c)
        cc, a_next, v, pi, V, lo, w = pol(end.y, prob, hopts)
        hh = HouseholdSolution(cc, a_next, v, pi, V, lo, w, None, None, None, None)
        agg = aggregate(hh, lam, prob, economy.L, economy.Na)
        o = jnp.concatenate([agg.Y, jnp.sum(agg.M, axis=0), jnp.sum(agg.bond_demand)[None],
                             agg.M[i]])
        G = jax.vmap(asset_transition)(pi, lo, w)
        lam_next = jax.vmap(distribution_step)(lam, G, prob.P)
        return op(end.y, prob, hopts), o, lam_next, (G, prob.P), prob

    K = D.shape[0]
    c0 = jnp.zeros(K, x_ss.dtype)
    basis = jnp.eye(N + K, dtype=x_ss.dtype)

    def impact(e):
        f = lambda x, c: date(end.lam, x, c)[:3]
        return jax.jvp(f, (x_ss, c0), (e[:N], e[N:]))[1]

    iy, io, iD = jax.vmap(impact)(basis)
    _, o_ss, _, G, prob = date(end.lam, x_ss, c0)
    P, Pm = stationary_mix(end, prob, hopts)
    _, vjp_o = jax.vjp(lambda lam: date(lam, x_ss, c0)[1], end.lam)
    E_o = jax.vmap(lambda row: vjp_o(row)[0])(jnp.eye(o_ss.shape[0], dtype=o_ss.dtype))
    Dphi = jax.jacfwd(_residual_map)(o_ss[: 2 * N + 1], N)
    blocks = date_blocks(economy, end, hopts, batch)
    return LinearPath(blocks, P, Pm, iy, io, iD, E_o, G, Dphi)


def _step(lp: LinearPath, dy, i, Na, N):
    """Z_y dy_t: (dy_{t-1}, dO_t, dD_t) for one column (dy: (d log Emu, d EPhi) [N, Nz,
    Na]); the block rows as in fakenews.fake_news_jacobian's iteration."""
    dy_prev, dM, dB, dlam = block_step(lp.blocks, lp.P, lp.Pm, dy, Na, N)
    dO = jnp.concatenate([jnp.zeros(N, dM.dtype), jnp.sum(dM, axis=(0, 1)),
                          jnp.sum(dB)[None], jnp.sum(dM[i], axis=0)])
    return dy_prev, dO, dlam


def linear_path_response(lp: LinearPath, e, dy_T, i: int):
    """First-order response of the path to inputs e [T+1, N+K] by date (x_W, R, cost
    weights; e[0, N-1], the predetermined R_0, should be 0) and the terminal household
    state dy_T: (d residuals [T, N], dM_i. [T, N]) for one column (vmap for several)."""
    N = lp.Dphi.shape[0]
    Na = lp.E_o.shape[2]

    def back(dy, e_t):
        by, bO, bD = _step(lp, dy, i, Na, N)
        dy_prev = jax.tree_util.tree_map(lambda b, m: b + jnp.tensordot(e_t, m, axes=1),
                                         by, lp.impact_y)
        return dy_prev, (bO + e_t @ lp.impact_o, bD + jnp.tensordot(e_t, lp.impact_D, axes=1))

    _, (dO_dir, dD) = lax.scan(back, dy_T, e, reverse=True)       # dates 0..T
    dO_dir, dD = dO_dir[:-1], dD[:-1]
    step = lambda lam: jax.vmap(distribution_step)(lam, lp.G[0], lp.G[1])
    E = lp.E_o.reshape(lp.E_o.shape[0], -1)

    def forward(dlam, xs):
        o_dir, d_t = xs
        return step(dlam) + d_t, o_dir + E @ dlam.reshape(-1)

    _, dO = lax.scan(forward, jnp.zeros_like(dD[0]), (dO_dir, dD))
    return dO[:, : 2 * N + 1] @ lp.Dphi.T, dO[:, 2 * N + 1:]
