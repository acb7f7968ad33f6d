"""The sequence-space Jacobian at a stationary equilibrium by the fake-news algorithm
(Auclert, Bardoczy, Rognlie and Straub 2021), every derivative by forward-mode AD.

At a stationary equilibrium the path is time-invariant, so with per-date inputs
x_t = (x_W,t, R_t) (t = 0..T; wages W = N softmax([x_W, 0])) and per-date outputs
o_t = (Y_t, sum_i M_ij,t, sum_i A'_i,t):

1. one backward jvp per input k, shocking x at the last date only, with the
   distribution frozen at lambda*: the direct responses curlyY_u (of o) and curlyD_u
   (of next period's distribution) of a shock u periods ahead (N jvps in all, one
   backward pass each, vmapped over k);
2. expectation vectors E_0 = d(residuals)/d lambda, E_j = Q E_{j-1} (the adjoint of
   the distribution step, by vjp);
3. the fake-news matrix F[0, s] = D phi curlyY_s, F[t, s] = <E_{t-1}, curlyD_s> (one
   matrix product), and J[t, s] = F[t, s] + J[t-1, s-1];
4. the unknowns' columns: U_t = (x_W,t, R_{t+1}), so the R column of date s is the
   input column R of date s + 1.

The result equals :func:`hat_jax.transition.solve.sequence_jacobian` at the stationary
path (a test checks it) at the cost of N backward passes instead of N T full passes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from ..aggregates import aggregate
from ..distribution import asset_transition, distribution_step
from ..equilibrium import wages_from_x, x_from_wages
from ..household import HouseholdSolution, policies
from ..params import household_problems
from .path import Endpoint, backward_pass

__all__ = ["fake_news_jacobian"]


def _residual_map(o, N):
    """phi(o): residuals (goods j = 1..N-1, bonds) / world GDP from o = (Y, S, B)."""
    Y, S, B = o[:N], o[N:2 * N], o[2 * N]
    return jnp.concatenate([(Y - S)[1:], B[None]]) / jnp.sum(Y)


def fake_news_jacobian(economy, end: Endpoint, T: int, hopts, batch: int = 1):
    """dH/dU [N T, N T] at the stationary path of ``end`` (the economy constant over
    time, initial = terminal = ``end``); rows and columns date-major (t N + k).
    batch: inputs pushed forward at once (memory: batch times one path's tangent)."""
    N = economy.N
    H = T + 1
    x_ss = jnp.concatenate([x_from_wages(end.W), jnp.reshape(end.R, (1,))])
    pol = jax.vmap(policies, in_axes=(0, 0, None))

    def prob_of(x):
        return household_problems(economy, wages_from_x(x[: N - 1]), x[N - 1], economy.beta)

    def date(lam, y, x):
        prob = prob_of(x)
        c, a_next, v, pi, V, lo, w = pol(y, prob, hopts)
        hh = HouseholdSolution(c, a_next, v, pi, V, lo, w, None, None, None, None)
        agg = aggregate(hh, lam, prob, economy.L, economy.Na)
        o = jnp.concatenate([agg.Y, jnp.sum(agg.M, axis=0), jnp.sum(agg.bond_demand)[None]])
        G = jax.vmap(asset_transition)(pi, lo, w)
        return o, jax.vmap(distribution_step)(lam, G, prob.P), (G, prob.P)

    xs_ss = jnp.broadcast_to(x_ss, (H, N))

    def frozen(xs):
        probs = jax.vmap(prob_of)(xs)
        ys = backward_pass(probs, end.y, hopts)  # dates 0..H-2
        ys = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b[None]]), ys, end.y)
        o, lam_next, _ = jax.vmap(date, in_axes=(None, 0, 0))(end.lam, ys, xs)
        return o, lam_next

    def shock_last(e):
        dx = jnp.zeros((H, N), x_ss.dtype).at[H - 1].set(e)
        return jax.jvp(frozen, (xs_ss,), (dx,))[1]

    dO, dD = lax.map(shock_last, jnp.eye(N, dtype=x_ss.dtype),
                     batch_size=min(batch, N))  # [k, H, 2N+1], [k, H, N, Na, Nz]
    # u periods ahead = date H-1-u
    curlyY = jnp.flip(dO, axis=1)                      # [k, u, o]
    curlyD = jnp.flip(dD, axis=1)                      # [k, u, N, Na, Nz]
    o_ss, _, (G, P) = date(end.lam, end.y, x_ss)
    Dphi = jax.jacfwd(_residual_map)(o_ss, N)           # [N, 2N+1]
    # expectation vectors: E_0 = Dphi do/dlam, E_j = Q E_{j-1}
    lin_o = lambda lam: date(lam, end.y, x_ss)[0]
    _, vjp_o = jax.vjp(lin_o, end.lam)
    E0 = jax.vmap(lambda row: vjp_o(row)[0])(Dphi)      # [r, N, Na, Nz]
    step = lambda lam: jax.vmap(distribution_step)(lam, G, P)
    _, vjp_step = jax.vjp(step, end.lam)
    back = jax.vmap(lambda e: vjp_step(e)[0])

    def expect(E, _):
        return back(E), E

    _, Es = lax.scan(expect, E0, None, length=H - 1)    # E_0..E_{H-2}: [j, r, ...]
    S = N * end.lam.shape[1] * end.lam.shape[2]
    F_rest = (Es.reshape((H - 1) * N, S) @ curlyD.reshape(N * H, S).T)
    F_rest = F_rest.reshape(H - 1, N, N, H).transpose(0, 3, 1, 2)   # [t-1, s, r, k]
    F0 = jnp.einsum("ro,kuo->urk", Dphi, curlyY)[None]             # [1, s, r, k]
    F = jnp.concatenate([F0, F_rest], axis=0)                        # [t, s, r, k]

    def accumulate(prev, Ft):
        Jt = Ft + jnp.pad(prev, ((1, 0), (0, 0), (0, 0)))[:-1]
        return Jt, Jt

    _, Jx = lax.scan(accumulate, jnp.zeros_like(F[0]), F)           # [t, s, r, k]
    Jx = Jx[:T]
    J_w = Jx[:, :T, :, : N - 1]                                      # x_W of date s
    J_r = Jx[:, 1:, :, N - 1:]                                       # R_{s+1}: input of s + 1
    JU = jnp.concatenate([J_w, J_r], axis=3)                        # [t, s, r, k]
    return JU.transpose(0, 2, 1, 3).reshape(N * T, N * T)
