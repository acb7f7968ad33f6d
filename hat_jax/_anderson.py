"""Anderson-accelerated fixed-point iteration on a flat vector (used by the household
block and by the equivalent-variation roots, which iterate the household operator)."""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

__all__ = ["anderson_iterate", "chord_step"]


def chord_step(inverse):
    """r -> M r for ``precondition=`` with M an approximate inverse stored in lower
    precision (float32, :mod:`hat_jax._warm`), the product returned in r's dtype."""
    return lambda r: (inverse @ r.astype(inverse.dtype)).astype(r.dtype)


def anderson_iterate(fn, x0, tol, max_iter: int, memory: int, check: int | None = None,
                     precondition=None, err0=None, error=None):
    """Anderson-accelerated fixed-point iteration x = fn(x) on a flat vector.

    Type-II Anderson mixing with ``memory`` past iterates: x+ = sum_i alpha_i fn(x_i) with
    alpha minimising |sum_i alpha_i (fn(x_i) - x_i)|_2 subject to sum alpha = 1 (a small
    regularised normal-equation solve). Stops when |fn(x) - x|_inf <= tol. memory = 0
    is the plain iteration. ``check``: only the first ``check`` entries of the step
    decide the stop (None: all; see :func:`hat_jax._household.iteration_settings`).
    ``precondition`` (optional): a linear map M applied to the step, so that the mixed
    map is x + M (fn(x) - x) (with M = (I - dfn/dx)^{-1} at a nearby point this is a
    chord Newton step, accelerated); the stop still reads |fn(x) - x|. ``err0``: the
    error the loop starts from (default: none yet, so at least one step is taken).
    ``error(x, fn(x))`` (optional) replaces |fn(x) - x|_inf as the stop's measure.
    Returns (x, |fn(x) - x|_inf of the last step over those entries, iterations).
    Hand-written because optimistix has no Anderson solver and this must run batched
    (vmap) inside jit with a fixed memory.
    """
    n = x0.shape[0]
    m = max(memory, 1)
    dtype = x0.dtype

    def cond(carry):
        _, _, _, err, it = carry
        return (err > tol) & (it < max_iter) & jnp.isfinite(err)

    def body(carry):
        x, X, G, _, it = carry
        gx = fn(x)
        err = jnp.max(jnp.abs((gx - x)[:check])) if error is None else error(x, gx)
        if precondition is not None:
            gx = x + precondition(gx - x)
        if memory == 0:
            return gx, X, G, err, it + 1
        X = jnp.roll(X, 1, axis=0).at[0].set(x)
        G = jnp.roll(G, 1, axis=0).at[0].set(gx)
        valid = jnp.arange(m) < jnp.minimum(it + 1, m)
        Fm = jnp.where(valid[:, None], G - X, 0.0)
        H = Fm @ Fm.T
        H = H + (1e-10 * jnp.trace(H) + 1e-200) * jnp.eye(m, dtype=dtype)
        H = H + jnp.diag(jnp.where(valid, 0.0, 1.0))
        alpha = jnp.linalg.solve(H, valid.astype(dtype))
        alpha = alpha / jnp.sum(alpha)
        x_new = alpha @ G
        # fall back to the plain step if the mixing produced garbage
        x_new = jnp.where(jnp.all(jnp.isfinite(x_new)), x_new, gx)
        return x_new, X, G, err, it + 1

    X = jnp.zeros((m, n), dtype)
    err0 = jnp.asarray(jnp.finfo(dtype).max if err0 is None else err0, dtype)
    init = (x0, X, X, err0, jnp.asarray(0, jnp.int32))
    x, _, _, err, it = lax.while_loop(cond, body, init)
    return x, err, it
