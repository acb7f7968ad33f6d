"""Poisson pseudo-maximum likelihood (Santos Silva and Tenreyro, 2006) for the gravity
regression: the coefficients b of E[v | X] = exp(X b), solving the score equations

    X' (v - exp(X b)) = 0,

for flows v >= 0 (zeros allowed). Newton's method on the score is iteratively reweighted
least squares (IRLS) for the Poisson log link: b <- b + (X' diag(mu) X)^{-1} X' (v - mu),
mu = exp(X b).

Hand-written rather than an optimistix root find because (i) the derivative is a single
factorisation of H = X' diag(mu) X shared by every tangent direction (the calibration
pushes N + K directions through it under ``vmap``; a per-direction batched LAPACK call
is what the CPU-threading note of docs/performance.md warns about), and (ii) the step safeguard
below keeps the first Newton steps from overflowing exp(X b) from a rough start.

Derivative (implicit function theorem on the score, never through the iterations):
db = H^{-1} X' dv. No host callback: a fit that does not converge returns NaN, which the
callers check (the data side raises, the calibration's line search rejects the point).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["make_ppml", "ppml_fit"]

#: Largest change of the linear index |X delta| allowed in one Newton step.
_MAX_INDEX_STEP = 3.0


def _fit(x, v, tol, max_iter):
    """(b, converged, iterations): Newton / IRLS from the least-squares fit of
    log((v + mean v) / 2) (defined with zeros in v)."""
    eta0 = jnp.log(0.5 * (v + jnp.mean(v)))
    b0 = jnp.linalg.lstsq(x, eta0)[0]

    def step(b):
        mu = jnp.exp(x @ b)
        h = x.T @ (mu[:, None] * x)
        delta = jnp.linalg.solve(h, x.T @ (v - mu))
        move = jnp.max(jnp.abs(x @ delta))
        return delta * jnp.minimum(1.0, _MAX_INDEX_STEP / move), move

    def cond(s):
        _, it, move = s
        return (it < max_iter) & (move > tol)

    def body(s):
        b, it, _ = s
        delta, move = step(b)
        return b + delta, it + 1, move

    b, it, move = lax.while_loop(cond, body, (b0, jnp.asarray(0), jnp.asarray(jnp.inf)))
    ok = (move <= tol) & jnp.all(jnp.isfinite(b))
    return b, ok, it


@jax.custom_jvp
def _ppml(x, v, tol, max_iter):
    b, ok, _ = _fit(x, v, tol, max_iter)
    return jnp.where(ok, b, jnp.nan)


@_ppml.defjvp
def _ppml_jvp(primals, tangents):
    """Implicit function theorem on the score X'(v - exp(X b)) = 0:
    H db = dX'(v - mu) + X'(dv - mu * (dX b)), H = X' diag(mu) X."""
    x, v, tol, max_iter = primals
    dx, dv = tangents[0], tangents[1]
    b = _ppml(x, v, tol, max_iter)
    mu = jnp.exp(x @ b)
    h = x.T @ (mu[:, None] * x)
    rhs = dx.T @ (v - mu) + x.T @ (dv - mu * (dx @ b))
    return b, jnp.linalg.solve(h, rhs)


def make_ppml(x, tol: float = 1e-12, max_iter: int = 100) -> Callable[[jax.Array], jax.Array]:
    """``v -> b``: the PPML coefficients for the design ``x`` [P, K] (full column rank)
    and flows ``v`` [P] >= 0, NaN if Newton has not converged to a change of the linear
    index below ``tol`` within ``max_iter`` steps. Jit-able; ``jax.jvp`` / ``jacfwd`` /
    ``grad`` give db = H^{-1} X' dv (a ``custom_jvp``; derivatives with respect to x,
    when x is traced, are included)."""
    x = jnp.asarray(x, jnp.float64)
    tol = jnp.asarray(tol, jnp.float64)
    max_iter = jnp.asarray(max_iter)

    def ppml(v):
        return _ppml(x, jnp.asarray(v, jnp.float64), tol, max_iter)

    return ppml


# one jitted function for every call (a jax.jit made per call traced and lowered again)
_fit_jit = jax.jit(_fit, static_argnums=3)


def ppml_fit(x, v, tol: float = 1e-12, max_iter: int = 100):
    """(b, converged, iterations) of the PPML fit of ``v`` on ``x`` (no NaN marker;
    for diagnostics on the host)."""
    b, ok, it = _fit_jit(jnp.asarray(x, jnp.float64), jnp.asarray(v, jnp.float64), tol,
                         max_iter)
    return b, bool(ok), int(it)
