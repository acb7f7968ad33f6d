"""Damped Newton with Jacobian reuse on the equilibrium excess demands (private).

The iteration is written once, as ``init`` / ``step`` / ``running`` on a typed carry
(:class:`NewtonState`, an ``eqx.Module`` of arrays, as optimistix keeps its solver
state), and run two ways: inside ``lax.while_loop`` (:func:`run`, jit-able and used
under the implicit-function derivative of the equilibrium) and from Python one compiled
``step`` at a time (``hat_jax._equilibrium.solve_equilibrium``), which prints progress and
can be interrupted between iterations without any host callback in the compiled
programs (programs with host callbacks are not stored in JAX's persistent compilation
cache). Hand-written rather than optimistix: optimistix's Newton has no Jacobian reuse
with secant updates, and each residual evaluation here also returns the warm start
(household states) of the next one.

Each iteration evaluates the residual r(x) at the trial point. An accepted point
(sufficient decrease of max|r|, or the first) becomes the base; the step is -J^{-1} r
(capped at ``max_step`` in the sup norm), with J the exact Jacobian (forward mode
through the implicit derivatives). J is kept, with a secant (good Broyden) update along
the step, while steps deliver what its linear model promised: a step of a fraction f of
the Newton step must cut max|r| to at most 1 - f (1 - ``jacobian_reuse``) of its value;
otherwise J is recomputed at the new point. A rejected trial halves the step if J is
exact at the base, otherwise J is recomputed there first. The root is reached when
max|r| <= tol with every inner solve converged; no Jacobian is computed at that point.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ._memory import equal_blocks

__all__: list[str] = []

#: Columns of a Newton history row.
HISTORY_COLUMNS = ("max_residual", "step", "accepted", "jacobian")
#: Rows kept in the in-program history buffer (iterations beyond it are not recorded
#: there; the Python driver keeps every row).
HISTORY_ROWS = 64


def value_and_jacobian(f, x, block=None):
    """(f(x), df/dx, aux) of ``f(x) -> (y, aux)`` by forward mode, one primal evaluation
    (y may be a pytree: each leaf's derivative has the direction axis last).

    block: the directions pushed at once. None (or >= n): all n columns in one vmapped
    jvp. Smaller: one linearization, then ``lax.map`` over blocks of ``block`` columns,
    so the tangents' memory is block / n of the vmapped one (the large worlds of
    :func:`hat_jax._memory.resolve_jacobian_block`: at N = 80 the vmapped columns of
    the household solve do not fit 24 GB); the same numbers, column by column."""
    n = x.shape[0]
    if block is None or block >= n:
        pushfwd = lambda t: jax.jvp(f, (x,), (t,), has_aux=True)
        return jax.vmap(pushfwd, out_axes=(None, -1, None))(jnp.eye(n, dtype=x.dtype))
    y, pushfwd, aux = jax.linearize(f, x, has_aux=True)
    cols = map_basis_in_equal_blocks(pushfwd, n, block, x.dtype)  # direction axis first
    return y, jax.tree_util.tree_map(lambda a: jnp.moveaxis(a, 0, -1), cols), aux


def map_basis_in_equal_blocks(fn, n, block, dtype):
    """``fn`` of each of the n basis directions e_k [n], by ``lax.map`` over the fewest
    equal blocks of at most ``block`` (:func:`hat_jax._memory.equal_blocks`): outputs
    with the direction axis first, [n, ...]. lax.map(batch_size=block) would run the
    n % block remainder as a second vmapped body, whose temporaries XLA keeps apart from
    the first's (the calibration Jacobian of N = 40, 128 directions: 36.2 GB of
    temporaries in blocks of 73, 14.9 GB in blocks of 64), so the directions are padded
    with zero ones (fewer than m) to m * b and the padding's outputs dropped."""
    m, b = equal_blocks(n, block)
    eye = jnp.eye(m * b, n, dtype=dtype)                     # rows n.. are zero
    out = lax.map(fn, eye, batch_size=b)
    return jax.tree_util.tree_map(lambda a: a[:n], out)


class NewtonState(eqx.Module):
    """The carry of the Newton iteration (read outside this module by attribute only).

    it: iterations taken; x: the next trial point; s: the warm start of its evaluation;
    s_eval: the warm start that evaluated the last accepted point; x_acc, rvec_acc,
    r_acc: the last accepted point, its residual vector and max |residual|; dx_acc: the
    Newton step from it; t: the fraction of dx_acc taken; frac: the fraction of the full
    Newton step that t * dx_acc is (after the sup-norm cap); J: the kept Jacobian;
    J_valid: whether J is a Jacobian at all (not the identity placeholder); J_fresh:
    whether J is exact at the base; done: the root is reached; row: the last history
    row (HISTORY_COLUMNS); history: the first HISTORY_ROWS rows.
    """

    it: jax.Array
    x: jax.Array
    s: object
    s_eval: object
    x_acc: jax.Array
    rvec_acc: jax.Array
    r_acc: jax.Array
    dx_acc: jax.Array
    t: jax.Array
    frac: jax.Array
    J: jax.Array
    J_valid: jax.Array
    J_fresh: jax.Array
    done: jax.Array
    row: jax.Array
    history: jax.Array


class Trial(eqx.Module):
    """The first half of an iteration (:func:`evaluate`): the residual r at the trial
    point and its max |r| (rn), whether the trial is accepted, whether the root is
    reached (done), the warm starts (s, s_eval), the base point xb with its residual rb,
    and whether an exact Jacobian is due there (need_J)."""

    r: jax.Array
    rn: jax.Array
    accept: jax.Array
    done: jax.Array
    s: object
    s_eval: object
    xb: jax.Array
    rb: jax.Array
    need_J: jax.Array


def init(x0, s0, J0=None) -> NewtonState:
    """The carry before the first iteration (x0: unknowns, s0: warm start; J0: a Jacobian
    at or near x0 to start from, e.g. a previous solve's, kept while its steps deliver)."""
    n, dtype = x0.shape[0], x0.dtype
    eye = jnp.eye(n, dtype=dtype)
    if J0 is None:
        J0, J_valid = eye, jnp.asarray(False)
    else:  # a non-finite J0 (e.g. NaN: "none yet") counts as none
        J_valid = jnp.all(jnp.isfinite(J0))
        J0 = jnp.where(J_valid, J0, eye)
    return NewtonState(
        it=jnp.asarray(0, jnp.int32), x=x0, s=s0, s_eval=s0, x_acc=x0,
        rvec_acc=jnp.zeros(n, dtype), r_acc=jnp.asarray(jnp.inf, dtype),
        dx_acc=jnp.zeros(n, dtype), t=jnp.asarray(1.0, dtype),
        frac=jnp.asarray(1.0, dtype), J=J0,
        J_valid=J_valid, J_fresh=jnp.asarray(False), done=jnp.asarray(False),
        row=jnp.full((len(HISTORY_COLUMNS),), jnp.nan, dtype),
        history=jnp.full((HISTORY_ROWS, len(HISTORY_COLUMNS)), jnp.nan, dtype))


def running(c, max_iter):
    """Whether another iteration is due."""
    return (~c.done) & (c.it < max_iter)


def step(c, f, tol, jacobian_reuse, max_step, block=None):
    """One iteration. ``f(x, s) -> (r, (s_new, ok))``: residual vector, next warm start,
    whether every inner solve converged; block: see :func:`value_and_jacobian`."""
    e = evaluate(c, f, tol, jacobian_reuse)
    J = lax.cond(e.need_J, lambda e_: jacobian(f, e_, block),
                 lambda e_: _secant_update(c, c.x, e_.r, e_.accept), e)
    return advance(c, e, J, max_step)


def evaluate(c, f, tol, jacobian_reuse):
    """The first half of :func:`step`: the residual at the trial point, whether it is
    accepted, the base point, and whether an exact Jacobian is due there."""
    it, x, s = c.it, c.x, c.s
    r, (s_new, ok) = f(x, s)
    rn = jnp.max(jnp.abs(r))
    r_acc = c.r_acc
    accept = jnp.isfinite(rn) & ((it == 0) | (rn < (1.0 - 1e-4 * c.t) * r_acc) | (rn <= tol))
    done = accept & (rn <= tol) & ok
    keep = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(accept, a, b), new, old)
    s_eval = keep(s, c.s_eval)  # the warm start that evaluated the accepted point
    s = keep(s_new, s)
    # base point: the trial if accepted, else the last accepted point
    xb = jnp.where(accept, x, c.x_acc)
    rb = jnp.where(accept, r, c.rvec_acc)
    # keep J if the step delivered at least (1 - jacobian_reuse) of the decrease its
    # linear model promised for the fraction f of the Newton step that was taken
    promised = 1.0 - c.frac * (1.0 - jacobian_reuse)
    stale = ~c.J_valid | (accept & (rn > promised * r_acc))
    need_J = ~done & ((accept & stale) | (~accept & ~c.J_fresh))
    return Trial(r=r, rn=rn, accept=accept, done=done, s=s, s_eval=s_eval, xb=xb, rb=rb,
                need_J=need_J)


def jacobian(f, e, block=None):
    """The exact Jacobian at the base point of an :func:`evaluate` record."""
    return value_and_jacobian(lambda y: f(y, e.s), e.xb, block)[1]


def secant(c, e):
    """The kept Jacobian (good Broyden update along an accepted step) of :func:`step`."""
    return _secant_update(c, c.x, e.r, e.accept)


def advance(c, e, J, max_step):
    """The second half of :func:`step`: the (damped, capped) Newton step with J."""
    it, x = c.it, c.x
    accept, done, need_J, rn, xb, rb = e.accept, e.done, e.need_J, e.rn, e.xb, e.rb
    dx = -jnp.linalg.solve(J, rb)
    scale = jnp.minimum(1.0, max_step / jnp.max(jnp.abs(dx)))
    dx = jnp.where(jnp.all(jnp.isfinite(dx)), dx * scale, jnp.zeros_like(dx))
    new_step = accept | need_J
    t = jnp.where(new_step, 1.0, 0.5 * c.t)
    dx_acc = jnp.where(new_step, dx, c.dx_acc)
    size = jnp.where(done, 0.0, jnp.max(jnp.abs(t * dx_acc)))
    row = jnp.stack([rn, size, accept.astype(rn.dtype), need_J.astype(rn.dtype)])
    return NewtonState(
        it=it + 1, x=jnp.where(done, x, xb + t * dx_acc), s=e.s, s_eval=e.s_eval,
        x_acc=xb, rvec_acc=rb,
        r_acc=jnp.where(accept, rn, c.r_acc), dx_acc=dx_acc, t=t,
        frac=jnp.where(new_step, scale, c.frac * 0.5), J=J,
        J_valid=(c.J_valid | need_J) & jnp.all(jnp.isfinite(J)),
        J_fresh=jnp.where(need_J, True, jnp.where(accept, False, c.J_fresh)),
        done=done, row=row, history=c.history.at[it].set(row, mode="drop"))


def _secant_update(c, x, r, accept):
    """The kept Jacobian, with the good Broyden update along an accepted step."""
    ddx = x - c.x_acc
    dr = r - c.rvec_acc
    nrm = jnp.dot(ddx, ddx)
    upd = jnp.outer(dr - c.J @ ddx, ddx) / jnp.where(nrm > 0, nrm, 1.0)
    broyden = accept & c.J_valid & (nrm > 0) & jnp.all(jnp.isfinite(upd))
    return jnp.where(broyden, c.J + upd, c.J)


def solution(c):
    """(x, s) of a finished carry: the root (or the last accepted point) and the warm
    start with which it was evaluated (re-solving from it reproduces that evaluation, so
    a root at the tolerance is not lost to the noise of one more household iteration)."""
    return jnp.where(c.done, c.x, c.x_acc), c.s_eval


def run(x0, s0, f, tol, max_iter, jacobian_reuse, max_step, progress=None, J0=None,
        block=None):
    """The whole iteration in one ``lax.while_loop``; returns the final carry.
    ``progress(it, row)`` (optional) is called inside the loop (a host callback); J0: see
    :func:`init`; block: see :func:`value_and_jacobian`."""
    def body(c):
        c = step(c, f, tol, jacobian_reuse, max_step, block)
        if progress is not None:
            progress(c.it - 1, c.row)
        return c

    return lax.while_loop(lambda c: running(c, max_iter), body, init(x0, s0, J0))


def run_batched(x0, s0, f, params, tol, max_iter, jacobian_reuse, max_step, J0=None,
                block=None):
    """K independent iterations (leading axis of x0, s0 and ``params``) in one
    ``lax.while_loop``: ``f(x, s, p) -> (r, (s_new, ok))`` for one scenario's ``p``;
    J0 (optional, no scenario axis): the Jacobian every scenario starts from.

    Each scenario takes exactly the steps :func:`step` would take on its own: a finished
    one (converged, or at ``max_iter``) keeps its carry (``jnp.where``, so nothing it
    holds, not even a NaN of a failing neighbour, moves). Hand-written instead of
    ``vmap(run)``: under vmap the ``lax.cond`` of :func:`step` becomes a select that
    computes the exact Jacobian of every scenario at every iteration; here it is computed
    (for the whole block) only on iterations where some live scenario needs one.
    """
    c0 = jax.vmap(init, in_axes=(0, 0, None))(x0, s0, J0)
    live_of = lambda c: jax.vmap(running, in_axes=(0, None))(c, max_iter)

    def body(c):
        live = live_of(c)
        e = jax.vmap(lambda ci, p: evaluate(ci, lambda x, s: f(x, s, p), tol,
                                            jacobian_reuse))(c, params)
        kept = jax.vmap(secant)(c, e)
        need = e.need_J & live

        def exact(_):
            J = jax.vmap(lambda ei, p: jacobian(lambda x, s: f(x, s, p), ei, block))(e, params)
            return jnp.where(need[:, None, None], J, kept)

        J = lax.cond(jnp.any(need), exact, lambda _: kept, None)
        new = jax.vmap(lambda ci, ei, Ji: advance(ci, ei, Ji, max_step))(c, e, J)
        mask = lambda a, b: jnp.where(live.reshape(live.shape + (1,) * (a.ndim - 1)), a, b)
        return jax.tree_util.tree_map(mask, new, c)

    return lax.while_loop(lambda c: jnp.any(live_of(c)), body, c0)
