"""Stationary distribution over (assets, productivity) by Young's lottery (model.md s.4).

A household at (a, z) choosing variety j saves a'_j(a, z) in [a_l, a_l+1]; it lands on a_l
with probability w = (a_l+1 - a')/(a_l+1 - a_l) and on a_l+1 with 1 - w, then draws z'
from P[z, z']. The transition over states s = (a, z) is

    Q[(a,z), (a',z')] = sum_j pi_j(a,z) [w_j 1{a' = l_j} + (1 - w_j) 1{a' = l_j + 1}] P[z,z'],

and the stationary lambda solves lambda = Q' lambda with sum lambda = 1. Two methods:
``"direct"`` (default) replaces one row of the singular system (I - Q') lambda = 0 by the
mass condition and solves it with lineax (LU), so derivatives are exact by
differentiating the linear solve; ``"iterate"`` is the reference forward iteration from
a uniform start until the sup-norm change is below ``tol``, differentiated by the
implicit function theorem on the same system (GMRES).

The equilibrium uses ``"iterate"``: jaxlib's batched LU kernel schedules its batch on
XLA's CPU thread pool and waits for it, and two such kernels running at once (as the
thunk executor does inside jvp/jacfwd programs) deadlocked a 2-thread pool. A single,
unbatched ``"direct"`` solve is safe.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jax import lax

from .results import check_converged, krylov_solve, linear_solve


class DistributionSolution(NamedTuple):
    """lam[a, z]: stationary mass (sums to one per country); converged, iterations,
    residual (sup-norm of Q' lam - lam)."""

    lam: jax.Array
    converged: jax.Array
    iterations: jax.Array
    residual: jax.Array


def asset_transition(pi, lottery_lo, lottery_w):
    """G[a, z, a'] = sum_j pi_j(a,z) [w_j 1{a'=lo_j} + (1-w_j) 1{a'=lo_j+1}] (one country)."""
    Na, Nz, J = pi.shape
    base = (jnp.arange(Na * Nz, dtype=jnp.int32) * Na).reshape(Na, Nz, 1)
    idx = base + lottery_lo
    G = jnp.zeros(Na * Nz * Na, pi.dtype)
    G = G.at[idx.reshape(-1)].add((pi * lottery_w).reshape(-1))
    G = G.at[(idx + 1).reshape(-1)].add((pi * (1.0 - lottery_w)).reshape(-1))
    return G.reshape(Na, Nz, Na)


def _transition_from_lottery(G, P):
    """Q[(a,z), (a',z')] = G[a,z,a'] P[z,z'], states flattened a-major."""
    Na, Nz = G.shape[0], G.shape[1]
    return (G[:, :, :, None] * P[None, :, None, :]).reshape(Na * Nz, Na * Nz)


def transition_matrix(pi, lottery_lo, lottery_w, P):
    """Dense Q[(a,z), (a',z')] = G[a,z,a'] P[z,z'] of one country, states flattened a-major."""
    return _transition_from_lottery(asset_transition(pi, lottery_lo, lottery_w), P)


def distribution_step(lam, G, P):
    """lam'(a', z') = sum_{a,z} lam(a,z) G[a,z,a'] P[z,z'] (one application of Q')."""
    return jnp.einsum("az,azb,zy->by", lam, G, P)


def _direct(G, P):
    Na, Nz = G.shape[0], G.shape[1]
    n = Na * Nz
    Q = _transition_from_lottery(G, P)
    A = jnp.eye(n, dtype=Q.dtype) - Q.T
    A = A.at[0, :].set(1.0)  # rows of I - Q' are linearly dependent: swap one for the mass
    b = jnp.zeros(n, Q.dtype).at[0].set(1.0)
    lam = linear_solve(lx.MatrixLinearOperator(A), b, lx.LU())
    return lam.reshape(Na, Nz)


def _iterate(G, P, tol, max_iter: int):
    """Forward iteration lam <- Q' lam from the uniform distribution."""
    Na, Nz = G.shape[0], G.shape[1]
    lam0 = jnp.full((Na, Nz), 1.0 / (Na * Nz), G.dtype)

    def cond(c):
        return (c[1] > tol) & (c[2] < max_iter)

    def body(c):
        lam, _, it = c
        new = distribution_step(lam, G, P)
        return new, jnp.max(jnp.abs(new - lam)), it + 1

    lam, _, it = lax.while_loop(cond, body, (lam0, jnp.asarray(jnp.inf, G.dtype),
                                             jnp.asarray(0, jnp.int32)))
    return lam, it


@partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _iterate_implicit(G, P, tol, max_iter):
    return _iterate(G, P, tol, max_iter)


@_iterate_implicit.defjvp
def _iterate_implicit_jvp(tol, max_iter, primals, tangents):
    """Implicit derivative of lam = Q' lam, sum lam = 1:
    (I - Q' + 1 1'/n) dlam = dQ' lam (GMRES; the mass term removes the singularity)."""
    G, P = primals
    tG, tP = tangents
    lam, it = _iterate_implicit(G, P, tol, max_iter)
    _, rhs = jax.jvp(lambda g, p: distribution_step(lam, g, p), (G, P), (tG, tP))

    def matvec(t):
        return t - distribution_step(t, G, P) + jnp.sum(t) / t.size

    t_lam = krylov_solve(matvec, rhs, rtol=1e-12, atol=1e-14)
    return (lam, it), (t_lam, np.zeros(np.shape(it), jax.dtypes.float0))


def stationary_distribution(pi, lottery_lo, lottery_w, P, method: str = "direct",
                            tol: float = 1e-10, max_iter: int = 100_000,
                            throw: bool = True) -> DistributionSolution:
    """Stationary distribution of one country (model.md section 4).

    pi, lottery_lo, lottery_w: [a, z, j] from the household solution; P: [z, z'].
    method: "direct" (linear solve) or "iterate" (forward iteration from uniform,
    stopping at sup-norm change < tol). Both return the residual |Q' lam - lam|_inf.
    """
    G = asset_transition(pi, lottery_lo, lottery_w)
    if method == "direct":
        lam = _direct(G, P)
        it = jnp.asarray(1, jnp.int32)
    elif method == "iterate":
        lam, it = _iterate_implicit(G, P, tol, max_iter)
    else:
        raise ValueError(f"method must be 'direct' or 'iterate', got method={method!r}")
    res = jnp.max(jnp.abs(distribution_step(lam, G, P) - lam))
    converged = (res <= tol) & jnp.isfinite(res) & (jnp.min(lam) > -1e-12)
    sol = DistributionSolution(lam, converged, it, res)
    if throw:
        sol = sol._replace(residual=check_converged(f"stationary distribution ({method})",
                                                    converged, it, res, tol))
    return sol


def stationary_distributions(pi, lottery_lo, lottery_w, P, method: str = "direct",
                             tol: float = 1e-10, throw: bool = True, labels=None):
    """Stationary distributions of all countries (leading axis = country), vmapped."""
    sol = jax.vmap(lambda a, b, c, d: stationary_distribution(a, b, c, d, method, tol,
                                                              throw=False))(
        pi, lottery_lo, lottery_w, P)
    if throw:
        sol = sol._replace(residual=check_converged(
            f"stationary distribution ({method})", sol.converged, sol.iterations,
            sol.residual, tol, unit="country", labels=labels))
    return sol
