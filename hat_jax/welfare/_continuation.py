"""Equivalent-variation roots by continuation in the income factor (model.md s.10).

One household solve at income factor l gives V_old(a, z; l) for EVERY state of the
country, so states whose roots are close can share solves. The states are taken in the
order of their first guesses (roots of the node cubics, :func:`hat_jax.welfare._roots`);
a ring of the last ``M = 4`` exact household solutions (factor l_m, state x_m, all
values V_m) travels from state to state. For each state:

- the guess is the root of the cubic through its own values in the ring,
  f_m = V_m[s] - V_new[s] (Lagrange in l, a few Newton steps), where the ring brackets
  it closely (Lagrange weights of modest size); else the node guess;
- the household state at the guess is extrapolated from the ring by the same cubic
  (warm start), so that the solve usually needs a few accelerated sweeps;
- after each solve (to 0.1 hh_tol) the solution enters the ring and the guess is
  refined by the new cubic, until |f| / slope <= tol (slope: the cubic's derivative).

Neighbouring roots are typically 1e-5 apart, so the cubic of the previous states' exact
values already puts most guesses within the tolerance: about one household solve per
state, each from a warm start a few sweeps from the fixed point. States this does not
settle (no bracket among the nodes, a small or negative slope, a root outside its node
bracket, a failed solve) are left to the safeguarded solver of
:mod:`hat_jax.welfare._roots`. Hand-written: a continuation that shares evaluations
between many scalar roots has no counterpart in optimistix.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["Ring", "lagrange_weights", "node_grid", "continuation_roots"]

RING = 4
MAX_WEIGHT = 8.0  # |Lagrange weight| above which the ring does not bracket a point


class Ring(NamedTuple):
    """The last RING exact household solutions: factors l[M], states x[M, n], values
    V[M, S] of every state (row-major (a, z))."""

    l: jax.Array
    x: jax.Array
    V: jax.Array


def node_grid(factor1, K: int):
    """K equally spaced income factors covering 1 and the first-order guesses
    ``factor1`` with a 25% margin (and at least 0.05), one of them exactly 1: the nodes
    whose household solutions give every state's first guess. Returns (nodes[K], h)."""
    lo = jnp.minimum(1.0, jnp.min(factor1))
    hi = jnp.maximum(1.0, jnp.max(factor1))
    pad = 0.25 * (hi - lo) + 1e-4
    lo, hi = jnp.maximum(lo - pad, 0.05), hi + pad
    h = (hi - lo) / (K - 2)
    return 1.0 + h * (jnp.floor((lo - 1.0) / h) + jnp.arange(K)), h


def lagrange_weights(ls, l, use=None):
    """Weights w_m(l) of the polynomial through the points ls[m] with use[m] (default all;
    the others get weight 0): the interpolant is sum_m w_m f_m."""
    m = ls.shape[0]
    use = jnp.ones(m, bool) if use is None else use
    d = l - ls

    def w(k):
        other = (jnp.arange(m) != k) & use
        return jnp.where(use[k], jnp.prod(jnp.where(
            other, d / jnp.where(other, ls[k] - ls, 1.0), 1.0)), 0.0)

    return jnp.stack([w(k) for k in range(m)])


def _weights(ring: Ring, l):
    """Interpolation weights of the ring at l: the highest degree (the newest 4, 3 or 2
    solutions) whose weights are finite and modest, else the newest solution alone.
    Returns (weights, degree >= 1)."""
    gaps = jnp.abs(ring.l[:, None] - ring.l[None, :]) + jnp.eye(RING)
    w = jnp.eye(RING, dtype=ring.l.dtype)[0]
    ok_any = jnp.asarray(False)
    for k in range(2, RING + 1):
        use = jnp.arange(RING) < k
        wk = lagrange_weights(ring.l, l, use)
        sep = jnp.min(jnp.where(use[:, None] & use[None, :], gaps, jnp.inf)) > 1e-11
        ok = sep & jnp.all(jnp.isfinite(wk)) & (jnp.max(jnp.abs(wk)) <= MAX_WEIGHT)
        w = jnp.where(ok, wk, w)
        ok_any = ok_any | ok
    return w, ok_any


def _model(ring: Ring, s, v_t, l0, s0):
    """Root and slope of the ring's interpolant of f_m = V_m[s] - v_t near l0 (4 Newton
    steps; the degree chosen at l0). Returns (root, slope at l0, whether the ring
    interpolates at the root)."""
    f = ring.V[:, s] - v_t
    _, ok0 = _weights(ring, l0)
    p = lambda l: jnp.dot(_weights(ring, l)[0], f)

    def newton(l, _):
        val, der = jax.jvp(p, (l,), (jnp.ones_like(l),))
        step = jnp.where((der != 0) & jnp.isfinite(val / der), val / der, 0.0)
        return l - step, None

    root, _ = lax.scan(newton, l0, None, length=4)
    _, slope = jax.jvp(p, (l0,), (jnp.ones_like(l0),))
    _, ok1 = _weights(ring, root)
    # a slope far from the node slope means the interpolant is not resolved there
    sane = ok0 & jnp.isfinite(slope) & (slope * s0 > 0) \
        & (jnp.abs(slope) < 10 * jnp.abs(s0)) & (jnp.abs(slope) > 0.1 * jnp.abs(s0))
    return root, jnp.where(sane, slope, s0), ok1 & jnp.isfinite(root) & sane


def _push(ring: Ring, l, x, V, ok, replace):
    """Add an exact solution; ``replace``: in place of the newest entry (a later
    evaluation of the same state, or one at the same factor), so that the ring holds
    one solution per state, about one root spacing apart."""
    same = replace | (jnp.abs(l - ring.l[0]) <= 1e-11)
    rolled = jax.tree_util.tree_map(lambda a: jnp.where(same, a, jnp.roll(a, 1, axis=0)), ring)
    new = Ring(rolled.l.at[0].set(l), rolled.x.at[0].set(x), rolled.V.at[0].set(V))
    return jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, ring)


class StateStart(NamedTuple):
    """What the continuation needs of one state: index s, target value v_t, the node
    guess l0 with its slope s0 and warm start x0 (and its slope dx/dl), the node bracket
    [lo, hi] that must hold the root, and whether the continuation may try it."""

    s: jax.Array
    v_t: jax.Array
    l0: jax.Array
    s0: jax.Array
    x0: jax.Array
    x_slope: jax.Array
    lo: jax.Array
    hi: jax.Array
    eligible: jax.Array


def continuation_roots(solve, ring0: Ring, starts: StateStart, *, tol, floor, beta,
                       max_iter):
    """Roots of f_s(l) = V_old(s; l) - v_t[s] for the states of ``starts`` (leading axis,
    in the order given: sort them by their guesses), by continuation (module doc).

    solve(x0, l, tol_y) -> (x, |F(x) - x|, V[S], iterations): one household solve.
    Returns (factor, |f|/slope, done, evaluations, x) per state; ``done`` False where
    the continuation did not settle the state (leave those to the safeguarded solver).
    """
    noise = 2.0 * floor / (1.0 - beta)
    n = ring0.x.shape[1]

    def one_state(ring, st: StateStart):
        r0, _, ok_root = _model(ring, st.s, st.v_t, st.l0, st.s0)
        use = ok_root & (jnp.abs(r0 - st.l0) <= 4.0 * (st.hi - st.lo))
        g = jnp.where(use, r0, st.l0)

        def body(c):
            ring, l = c["ring"], c["l"]
            w, ok_w = _weights(ring, l)
            x0 = jnp.where(ok_w, w @ ring.x, st.x0 + (l - st.l0) * st.x_slope)
            x, err_y, V, _ = solve(x0, l, floor)
            f = V[st.s] - st.v_t
            ok = (err_y <= floor) & jnp.isfinite(f) & (l > 0) & jnp.all(jnp.isfinite(x))
            ring = _push(ring, l, x, V, ok, c["pushed"])
            root, slope, ok_root = _model(ring, st.s, st.v_t, l, st.s0)
            err = jnp.where(ok, jnp.abs(f) / jnp.abs(slope), jnp.inf)
            done = ok & ((err <= tol) | (jnp.abs(f) <= noise))
            nxt = jnp.where(ok_root, root, l - f / slope)
            return dict(ring=ring, l=jnp.where(done, l, nxt), it=c["it"] + 1, done=done,
                        pushed=c["pushed"] | ok,
                        failed=~ok, err=err, x=jnp.where(ok, x, c["x"]))

        init = dict(ring=ring, l=g, it=jnp.asarray(0, jnp.int32), done=jnp.asarray(False),
                    pushed=jnp.asarray(False),
                    failed=~st.eligible, err=jnp.asarray(jnp.inf, g.dtype),
                    x=jnp.zeros(n, ring.x.dtype))
        c = lax.while_loop(lambda c: ~c["done"] & ~c["failed"] & (c["it"] < max_iter),
                           body, init)
        inside = (c["l"] >= st.lo - 1e-9) & (c["l"] <= st.hi + 1e-9)
        return c["ring"], (c["l"], c["err"], c["done"] & inside, c["it"], c["x"])

    _, out = lax.scan(one_state, ring0, starts)
    return out
