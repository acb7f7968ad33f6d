"""The sequence-space Jacobian at a stationary equilibrium by the fake-news algorithm
(Auclert, Bardoczy, Rognlie and Straub 2021), every derivative by forward-mode AD.

At a stationary equilibrium the path is time-invariant, so with per-date inputs
x_t = (x_W,t, R_t) (t = 0..T; wages W = N softmax([x_W, 0])) and per-date outputs
o_t = (Y_t, sum_i M_ij,t, sum_i A'_i,t):

1. the date map Z(y_t, x_t) = (y_{t-1}, o_t, lambda_{t+1}) at lambda* (one EGM step:
   y_{t-1} = F(y_t; x_t), the date-t policies, outputs and distribution step) has
   constant derivatives along the stationary path. dZ/dx (N inputs) is N jvps of one
   date. dZ/dy is block diagonal: country by country, and within a country productivity
   by productivity before the expectation over z' (the EGM and the logit choice at z read
   only y[:, z, :]), so 2 Na jvps ("asset k of component c, at every z and in every
   country at once") give all of it as dense [rows, 2 Na] blocks, rows = (m, Phi) before
   the expectation, i's purchases M_ij, its bond demand and its lottery mass at z;
2. the direct responses to a shock u periods ahead (curlyY_u of o, curlyD_u of next
   period's distribution) follow by iterating those blocks, w_0 = dZ/dx e_k,
   w_u = dZ/dy (y-part of w_{u-1}): one batched matrix product per horizon instead of
   a backward jvp through every date per input;
3. expectation vectors E_0 = d(residuals)/d lambda, E_j = Q E_{j-1} (the adjoint of
   the distribution step, by vjp);
4. the fake-news matrix F[0, s] = D phi curlyY_s, F[t, s] = <E_{t-1}, curlyD_s> (one
   matrix product), and J[t, s] = F[t, s] + J[t-1, s-1];
5. the unknowns' columns: U_t = (x_W,t, R_{t+1}), so the R column of date s is the
   input column R of date s + 1.

The result equals :func:`hat_jax.transition._solve.residual_jacobian` at the stationary
path (a test checks it). The dense blocks are hand-assembled because a generic jvp per
input and date (what AD of the backward pass does) costs about ten times more here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from .._aggregates import aggregate
from .._distribution import asset_transition, distribution_step
from .._equilibrium import wages_from_x, x_from_wages
from .._household import HouseholdSolution, household_operator, marginal_utility, policies
from .._params import household_problems
from ._path import Endpoint

__all__ = ["fake_news_jacobian", "block_jacobian", "unknown_columns", "date_blocks",
           "stationary_mix", "block_step"]


def _residual_map(o, N):
    """phi(o): residuals (goods j = 1..N-1, bonds) / world GDP from o = (Y, S, B)."""
    Y, S, B = o[:N], o[N:2 * N], o[2 * N]
    return jnp.concatenate([(Y - S)[1:], B[None]]) / jnp.sum(Y)


def _by_productivity(y, prob, lam, L, hopts):
    """One country's date-t quantities by productivity z, before the expectation over z':
    rows [z, 3 Na + N + 1] = (m[z, a] = sum_j pi_j u'(c_j)/p_j, Phi[z, a], M_j(z) =
    L sum_a lam p_j c_j pi_j, A'(z) = L sum_a lam sum_j pi_j a'_j, D[z, a'] = sum_a lam
    G[a, z, a'])."""
    c, a_next, v, pi, V, lo, w = policies(y, prob, hopts)          # [a, z, j]
    m = jnp.sum(pi * marginal_utility(c, hopts.gamma) / prob.p, axis=2)  # [a, z]
    M = L * jnp.einsum("az,azj,j->zj", lam, c * pi, prob.p)
    B = L * jnp.einsum("az,azj->z", lam, pi * a_next)
    # D[z, b] = sum_{a, j} lam pi_j (w_j 1{lo_j = b} + (1 - w_j) 1{lo_j + 1 = b}): the
    # lottery scattered straight into [z, b] (a dense G[a, z, b] per tangent costs more)
    Na, Nz = lam.shape
    idx = jnp.arange(Nz, dtype=lo.dtype)[None, :, None] * Na + lo     # [a, z, j]
    mass = lam[:, :, None] * pi
    D = jnp.zeros(Nz * Na, lam.dtype).at[idx.reshape(-1)].add((mass * w).reshape(-1))
    D = D.at[(idx + 1).reshape(-1)].add((mass * (1.0 - w)).reshape(-1)).reshape(Nz, Na)
    return jnp.concatenate([m.T, V.T, M, B[:, None], D], axis=1)


def date_blocks(economy, end: Endpoint, hopts, batch: int = 20):
    """d(by-productivity rows)/d(y[:, z, :]) at the stationary state ``end``:
    [N, Nz, 3 Na + N + 1, 2 Na] (columns: log Emu then EPhi, by asset), from 2 Na jvps
    (lax.map in groups of ``batch``: memory)."""
    N, Na = economy.N, economy.Na
    prob = household_problems(economy, end.W, end.R, economy.beta)
    f = jax.vmap(_by_productivity, in_axes=(0, 0, 0, 0, None))
    Nz = end.y[0].shape[1]
    basis = jnp.eye(2 * Na, dtype=end.lam.dtype).reshape(2 * Na, 2, 1, 1, Na)
    basis = jnp.broadcast_to(basis, (2 * Na, 2, N, Nz, Na))

    def col(t):
        return jax.jvp(lambda yy: f(yy, prob, end.lam, economy.L, hopts), (end.y,),
                       ((t[0], t[1]),))[1]

    cols = lax.map(col, basis, batch_size=min(batch, 2 * Na))   # [c, N, Nz, rows]
    return jnp.transpose(cols, (1, 2, 3, 0))


def stationary_mix(end: Endpoint, prob, hopts):
    """(P, P m) at the stationary state: the expectation over z' [N, Nz, Nz'] and the
    marginal-utility term it scales, P m [N, Nz, Na] (m = sum_j pi_j u'(c_j)/p_j)."""
    c, _, _, pi = jax.vmap(policies, in_axes=(0, 0, None))(end.y, prob, hopts)[:4]
    m = jnp.sum(pi * marginal_utility(c, hopts.gamma) / prob.p[:, None, None, :], axis=3)
    return prob.P, jnp.einsum("nzw,naw->nza", prob.P, m)


def block_step(blocks, P, Pm, dy, Na: int, N: int):
    """One date back through the constant blocks for one column dy = (d log Emu, d EPhi)
    [N, Nz, Na]: (dy_{t-1}, dM [N, Nz, N] purchases by z, dB [N, Nz] bond demand by z,
    dlambda_{t+1} [N, Na, Nz])."""
    out = jnp.einsum("nzrc,nzc->nzr", blocks, jnp.concatenate([dy[0], dy[1]], axis=-1))
    dm, dphi = out[..., :Na], out[..., Na:2 * Na]
    dM, dB, dD = out[..., 2 * Na:2 * Na + N], out[..., 2 * Na + N], out[..., -Na:]
    dy_prev = (jnp.einsum("nzw,nwa->nza", P, dm) / Pm, jnp.einsum("nzw,nwa->nza", P, dphi))
    return dy_prev, dM, dB, jnp.einsum("nzw,nza->naw", P, dD)


def block_jacobian(economy, end: Endpoint, horizon: int, hopts, prob_of, out_of, x_ss,
                   rows_of, batch: int = 20):
    """The household block's sequence-space Jacobian at the stationary state ``end`` by
    the fake-news algorithm: d(rows of o_t)/d(x_s) as [t, s, r, k], t = 0..T-1, s =
    0..T (x_s: the inputs of date s's household problem, ``prob_of(x)``; o_t =
    ``out_of(aggregates)``, the date's outputs; rows: ``rows_of(o_ss)`` [r, n_o], the
    linear combinations of the outputs wanted, e.g. the market residuals' derivative).
    ``out_of(M, B, Y)``: the outputs from the date's purchases M [N, N], bond demand B
    [N] and output Y [N] (every other aggregate follows from them). x_ss: the
    stationary inputs [k]."""
    T = horizon
    N, Na = economy.N, economy.Na
    H = T + 1
    pol = jax.vmap(policies, in_axes=(0, 0, None))
    op = jax.vmap(household_operator, in_axes=(0, 0, None))

    def date(lam, y, x):
        prob = prob_of(x)
        c, a_next, v, pi, V, lo, w = pol(y, prob, hopts)
        hh = HouseholdSolution(c, a_next, v, pi, V, lo, w, None, None, None, None)
        agg = aggregate(hh, lam, prob, economy.L, economy.Na)
        o = out_of(agg.M, agg.bond_demand, agg.Y)
        G = jax.vmap(asset_transition)(pi, lo, w)
        return o, jax.vmap(distribution_step)(lam, G, prob.P), (G, prob.P)

    # u = 0: the shock's own date (dZ/dx, one jvp per input)
    def impact(e):
        def z_of(x):
            o, lam_next, _ = date(end.lam, end.y, x)
            return op(end.y, prob_of(x), hopts), o, lam_next
        return jax.jvp(z_of, (x_ss,), (e,))[1]

    dy0, dO0, dD0 = jax.vmap(impact)(jnp.eye(x_ss.shape[0], dtype=x_ss.dtype))
    o_ss, _, (G, P) = date(end.lam, end.y, x_ss)
    rows = rows_of(o_ss)                                            # [r, n_o]
    # u >= 1: iterate the constant blocks dZ/dy: the date's prices are at their
    # stationary values, so the outputs move through M and bond demand only (Y = W Neff
    # moves with lambda alone); their derivative in (M, B) once, as a matrix
    prob_ss = prob_of(x_ss)
    hh = pol(end.y, prob_ss, hopts)
    agg = aggregate(HouseholdSolution(*hh, None, None, None, None), end.lam, prob_ss,
                    economy.L, economy.Na)
    flows = jax.jacfwd(lambda M, B: rows @ out_of(M, B, agg.Y), argnums=(0, 1))(
        agg.M, agg.bond_demand)                                     # [r, N, N], [r, N]
    blocks = date_blocks(economy, end, hopts, batch)                # [n, z, r, 2 Na]
    Pz, Pm = stationary_mix(end, prob_ss, hopts)                   # [n, z, z'], P m

    def step(dy, _):                                                # k columns at once
        dy_prev, dM, dB, dlam = jax.vmap(lambda d: block_step(blocks, Pz, Pm, d, Na, N))(dy)
        dO = jnp.einsum("rij,kij->kr", flows[0], jnp.sum(dM, axis=2)) \
            + jnp.einsum("ri,ki->kr", flows[1], jnp.sum(dB, axis=2))
        return dy_prev, (dO, dlam)

    _, (dO, dD) = lax.scan(step, dy0, None, length=H - 1)           # u = 1..H-1
    curlyY = jnp.concatenate([(dO0 @ rows.T)[:, None], jnp.moveaxis(dO, 0, 1)], axis=1)
    curlyD = jnp.concatenate([dD0[:, None], jnp.moveaxis(dD, 0, 1)], axis=1)   # [k, u, ...]
    # expectation vectors: E_0 = rows do/dlam, E_j = Q E_{j-1}
    _, vjp_o = jax.vjp(lambda lam: date(lam, end.y, x_ss)[0], end.lam)
    E0 = jax.vmap(lambda row: vjp_o(row)[0])(rows)                  # [r, N, Na, Nz]
    _, vjp_step = jax.vjp(lambda lam: jax.vmap(distribution_step)(lam, G, P), end.lam)
    back = jax.vmap(lambda e: vjp_step(e)[0])

    def expect(E, _):
        return back(E), E

    _, Es = lax.scan(expect, E0, None, length=H - 1)    # E_0..E_{H-2}: [j, r, ...]
    S = N * end.lam.shape[1] * end.lam.shape[2]
    r, k = rows.shape[0], x_ss.shape[0]
    F_rest = (Es.reshape((H - 1) * r, S) @ curlyD.reshape(k * H, S).T)
    F_rest = F_rest.reshape(H - 1, r, k, H).transpose(0, 3, 1, 2)   # [t-1, s, r, k]
    F0 = jnp.transpose(curlyY, (1, 2, 0))[None]                      # [1, s, r, k]
    F = jnp.concatenate([F0, F_rest], axis=0)                        # [t, s, r, k]

    def accumulate(prev, Ft):
        Jt = Ft + jnp.pad(prev, ((1, 0), (0, 0), (0, 0)))[:-1]
        return Jt, Jt

    _, Jx = lax.scan(accumulate, jnp.zeros_like(F[0]), F)           # [t, s, r, k]
    return Jx[:T]


def _residual_outputs(M, B, Y):
    """o = (Y, S, B): output, sales S_j = sum_i M_ij and world bond demand."""
    return jnp.concatenate([Y, jnp.sum(M, axis=0), jnp.sum(B)[None]])


def fake_news_jacobian(economy, end: Endpoint, horizon: int, hopts, batch: int = 20):
    """dH/dU [N T, N T] at the stationary path of ``end`` (the economy constant over
    time, initial = terminal = ``end``); rows and columns date-major (t N + k).
    batch: jvps pushed forward at once when the date blocks are built (memory)."""
    T, N = horizon, economy.N
    x_ss = jnp.concatenate([x_from_wages(end.W), jnp.reshape(end.R, (1,))])

    def prob_of(x):
        return household_problems(economy, wages_from_x(x[: N - 1]), x[N - 1], economy.beta)

    rows_of = lambda o: jax.jacfwd(_residual_map)(o, N)             # [N, 2N+1]
    Jx = block_jacobian(economy, end, T, hopts, prob_of, _residual_outputs, x_ss, rows_of,
                        batch)                                      # [t, s, r, k]
    return unknown_columns(Jx, N).transpose(0, 2, 1, 3).reshape(N * T, N * T)


def unknown_columns(Jx, N: int):
    """The columns of the unknowns U_t = (x_W,t, R_{t+1}) from those of the date inputs
    (x_W, R, ...) [t, s = 0..T, r, k]: the R column of date s is the input column R of
    date s + 1. Returns [t, s = 0..T-1, r, N]."""
    T = Jx.shape[0]
    return jnp.concatenate([Jx[:, :T, :, : N - 1], Jx[:, 1:, :, N - 1:N]], axis=3)
