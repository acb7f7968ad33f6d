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
implicit function theorem on the same system (dense LU per country, or GMRES).

Countries are factorised one after another (``lax.map``), never as one batched LU:
jaxlib's batched LU kernel schedules its batch on XLA's CPU thread pool and waits for
it, and two such kernels running at once (as the thunk executor does inside jvp/jacfwd
programs) deadlocked a 2-thread pool. Unbatched LAPACK calls are safe.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jax import lax

from ._anderson import anderson_iterate, chord_step
from ._backend import country_map
from ._results import (as_float, as_int, check_choice, check_converged, check_option_values,
                      krylov_solve, linear_solve)

__all__ = [
    "DistributionOptions", "DistributionSolution", "asset_transition", "distribution_step",
    "stationary_distribution", "stationary_distributions", "transition_matrix",
]


class DistributionOptions(eqx.Module):
    """Settings of the stationary-distribution solve.

    Static: method, "direct" (a linear solve with the mass condition) or "iterate" (the
    reference forward iteration from the uniform distribution); tangent_solver, "lu" or
    "gmres", for the implicit derivative of "iterate". Traced (never recompile): tol,
    the sup-norm change of lambda at which the iteration stops, also the residual
    |Q' lambda - lambda|_inf below which a solution counts as converged (1e-10);
    max_iter, the cap on forward iterations.
    """

    method: str = eqx.field(static=True, default="direct")
    tol: float = eqx.field(default=1e-10, converter=as_float)
    max_iter: int = eqx.field(default=100_000, converter=as_int)
    tangent_solver: str = eqx.field(static=True, default="lu")

    def __check_init__(self):
        check_choice("method", self.method, ("direct", "iterate"))
        check_choice("tangent_solver", self.tangent_solver, ("lu", "gmres"))
        check_option_values(self, positive=("tol",), at_least_one=("max_iter",))


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


def _primal_step(lam, G, P):
    """:func:`distribution_step` for loops that are never differentiated: the sum over a
    first, then P, 3.6 times faster on the CPU (N = 19, Na = 100); its transpose under
    vmap is 30 times slower, so differentiated code keeps the einsum."""
    return jnp.sum(lam[:, :, None] * G, axis=0).T @ P


def _iterate(G, P, tol, max_iter: int, lam0=None):
    """Forward iteration lam <- Q' lam from lam0 (default: the uniform distribution)."""
    Na, Nz = G.shape[0], G.shape[1]
    if lam0 is None:
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


def _tangent_matrix(G, P):
    """I - Q' + 1 1'/n of one country (Q' lam = distribution_step; the mass term removes
    the singularity of I - Q' on mass-preserving tangents)."""
    Q = _transition_from_lottery(G, P)
    n = Q.shape[0]
    return jnp.eye(n, dtype=Q.dtype) - Q.T + 1.0 / n


@partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4))
def _iterate_implicit(G, P, tol, max_iter, tangent_solver):
    """Forward iteration for every country (leading axis), implicit derivatives."""
    return jax.vmap(_iterate, in_axes=(0, 0, None, None))(G, P, tol, max_iter)


@_iterate_implicit.defjvp
def _iterate_implicit_jvp(tol, max_iter, tangent_solver, primals, tangents):
    G, P = primals
    lam, it = _iterate_implicit(G, P, tol, max_iter, tangent_solver)
    return (lam, it), (_implicit_tangent(G, P, *tangents, lam, tangent_solver),
                       np.zeros(np.shape(it), jax.dtypes.float0))


def _implicit_tangent(G, P, tG, tP, lam, tangent_solver):
    """Implicit derivative of lam = Q' lam, sum lam = 1, country by country:
    (I - Q' + 1 1'/n) dlam = dQ' lam. "lu": dense LU per country, on the CPU one country
    after another (lax.map: no batched LAPACK kernel; batched on an accelerator, see
    hat_jax._backend), the factorisation shared by all tangent directions; "gmres": matrix-free."""
    step = jax.vmap(distribution_step)
    _, rhs = jax.jvp(lambda g, p: step(lam, g, p), (G, P), (tG, tP))
    if tangent_solver == "lu":
        def one(args):
            g, p, b = args
            lu = jax.scipy.linalg.lu_factor(_tangent_matrix(g, p))
            return jax.scipy.linalg.lu_solve(lu, b.reshape(-1)).reshape(b.shape)

        t_lam = country_map(one, (G, P, rhs))
    else:
        def one(g, p, b):
            def matvec(t):
                return t - distribution_step(t, g, p) + jnp.sum(t) / t.size

            return krylov_solve(matvec, b, rtol=1e-12, atol=1e-14)

        t_lam = jax.vmap(one)(G, P, rhs)
    return t_lam


#: Cap on the chord steps from a nearby inverse before the direct solve takes over.
WARM_MAX_ITER = 30


def _mass_system(G, P):
    """A = I - Q' with its first row replaced by ones (the mass), of one country."""
    Q = _transition_from_lottery(G, P)
    return (jnp.eye(Q.shape[0], dtype=Q.dtype) - Q.T).at[0, :].set(1.0)


def _direct(G, P):
    Na, Nz = G.shape[0], G.shape[1]
    b = jnp.zeros(Na * Nz, G.dtype).at[0].set(1.0)
    lam = linear_solve(lx.MatrixLinearOperator(_mass_system(G, P)), b, lx.LU())
    return lam.reshape(Na, Nz)


def _chord(G, P, inverse, tol):
    """A lam = e_0 (:func:`_mass_system`) by accelerated chord steps
    lam + A0^{-1} (e_0 - A lam) from the nearby solve lam0 = A0^{-1} e_0, where
    ``inverse`` is A0^{-1} (float32, hat_jax._warm), until max(|Q' lam - lam|_inf,
    |1 - sum lam|) <= tol / 10 or WARM_MAX_ITER steps. Returns (lam, error, steps)."""
    Na, Nz = G.shape[0], G.shape[1]
    chord = chord_step(inverse)

    def fn(lam):  # lam + (e_0 - A lam)
        new = _primal_step(lam.reshape(Na, Nz), G, P).reshape(-1)
        return new.at[0].set(lam[0] + 1.0 - jnp.sum(lam))

    def error(lam, new):  # every row of Q' lam - lam: row 0 of fn holds the mass instead
        row0 = jnp.einsum("az,az,z->", lam.reshape(Na, Nz), G[:, :, 0], P[:, 0]) - lam[0]
        return jnp.maximum(jnp.max(jnp.abs((new - lam)[1:])),
                           jnp.maximum(jnp.abs(row0), jnp.abs(new[0] - lam[0])))

    lam0 = inverse[:, 0].astype(G.dtype)
    lam0 = lam0 / jnp.sum(lam0)
    return anderson_iterate(fn, lam0, 0.1 * tol, WARM_MAX_ITER, 5, precondition=chord,
                            error=error)


def _warm(G, P, inverse, tol, max_iter, method: str):
    """:func:`_chord` for every country, then the plain solve of ``method`` where the
    chord steps did not get there: the direct solve, or the forward iteration from
    where they stopped (a loop of at most one trip: under vmap it runs only if some
    member needs it, unlike lax.cond). One country after another on the CPU, so that its
    inverse stays in cache through its steps. Returns (lam, chord and forward steps)."""
    def plain(g, p, lam):
        if method == "direct":
            return _direct(g, p), jnp.asarray(1, jnp.int32)
        return _iterate(g, p, tol, max_iter, lam)

    def one(args):
        g, p, m = args
        lam, err, it = _chord(g, p, m, tol)
        lam = lam.reshape(g.shape[:2])
        lam, it2, _ = lax.while_loop(lambda c: c[2], lambda c: (*plain(g, p, c[0]), False),
                                     (lam, jnp.asarray(0, jnp.int32), ~(err <= 0.1 * tol)))
        return lam, it + it2

    return country_map(one, (G, P, inverse))


@partial(jax.custom_jvp, nondiff_argnums=(3, 4, 5, 6))
def _warm_implicit(G, P, inverse, tol, max_iter, method, tangent_solver):
    """:func:`_warm` for every country, implicit derivatives (the inverse carries none)."""
    return _warm(G, P, lax.stop_gradient(inverse), tol, max_iter, method)


@_warm_implicit.defjvp
def _warm_implicit_jvp(tol, max_iter, method, tangent_solver, primals, tangents):
    G, P, inverse = primals
    lam, it = _warm_implicit(G, P, inverse, tol, max_iter, method, tangent_solver)
    return (lam, it), (_implicit_tangent(G, P, tangents[0], tangents[1], lam, tangent_solver),
                       np.zeros(np.shape(it), jax.dtypes.float0))


def _solve_batched(G, P, opts: DistributionOptions, inverse=None):
    """lam for every country (leading axis) from the asset transitions G and chains P;
    ``inverse``: the inverse of a nearby solve's mass system (hat_jax._warm): chord steps
    first, the method's own solve where they do not converge."""
    if inverse is not None:
        lam, it = _warm_implicit(G, P, inverse, opts.tol, opts.max_iter, opts.method,
                                 opts.tangent_solver)
    elif opts.method == "direct":
        # one country after another: a batched LU kernel can wedge XLA's CPU pool
        lam = country_map(lambda gp: _direct(*gp), (G, P))
        it = jnp.ones(G.shape[0], jnp.int32)
    else:
        lam, it = _iterate_implicit(G, P, opts.tol, opts.max_iter, opts.tangent_solver)
    step = jax.vmap(distribution_step)
    res = jnp.max(jnp.abs(step(lam, G, P) - lam), axis=(1, 2))
    converged = (res <= opts.tol) & jnp.isfinite(res) & (jnp.min(lam, axis=(1, 2)) > -1e-12)
    return DistributionSolution(lam, converged, it, res)


def _options(opts, overrides) -> DistributionOptions:
    opts = DistributionOptions() if opts is None else opts
    return dataclasses.replace(opts, **overrides) if overrides else opts


def stationary_distribution(pi, lottery_lo, lottery_w, P, opts: DistributionOptions | None = None,
                            *, throw: bool = True, **overrides) -> DistributionSolution:
    """Stationary distribution of one country (model.md section 4): lam = Q' lam, sum = 1.

    pi, lottery_lo, lottery_w: [a, z, j] from the household solution; P: [z, z'].
    opts: :class:`DistributionOptions`; keyword ``overrides`` replace its fields
    (``method="iterate"``, ``tol=1e-12``, ...). Returns lam with the residual
    |Q' lam - lam|_inf, converged and iterations.
    """
    opts = _options(opts, overrides)
    G = asset_transition(pi, lottery_lo, lottery_w)
    sol = _solve_batched(G[None], P[None], opts)
    sol = jax.tree_util.tree_map(lambda x: x[0], sol)
    if throw:
        sol = sol._replace(residual=check_converged(f"stationary distribution ({opts.method})",
                                                    sol.converged, sol.iterations,
                                                    sol.residual, opts.tol))
    return sol


def stationary_distributions(pi, lottery_lo, lottery_w, P, opts: DistributionOptions | None = None,
                             *, throw: bool = True, labels=None, inverse=None, **overrides):
    """Stationary distributions of all countries (leading axis = country); see
    :func:`stationary_distribution`. ``inverse``: the inverse of a nearby solve's system
    (:func:`hat_jax._warm.distribution_inverses`): chord steps from that solve's
    distribution, the method's own solve where they do not converge."""
    opts = _options(opts, overrides)
    G = jax.vmap(asset_transition)(pi, lottery_lo, lottery_w)
    sol = _solve_batched(G, P, opts, inverse)
    if throw:
        sol = sol._replace(residual=check_converged(
            f"stationary distribution ({opts.method})", sol.converged, sol.iterations,
            sol.residual, opts.tol, unit="country", labels=labels))
    return sol
