"""The equivalent-variation roots of one country, all states at once (model.md s.10).

For each state (a, z) the income factor l solves f(l) = V_old(a, z; l) - V_new(a, z) =
0, where V_old(.; l) is the household value at the old prices under the EV measure
(``EVOptions.measure``, :mod:`hat_jax.welfare._measure`): "transfer", a lump-sum transfer
(l - 1) W E[z] added to T every period (V_old strictly increasing in l); "proportional",
income R a + W z + T scaled by l (R -> l R, W -> l W, T -> l T). First guesses from
household solutions at ``nodes`` values of l interpolated by cubics
(:func:`_node_start`); then, by default, the continuation of
:mod:`hat_jax.welfare._continuation` (states share household solves), and for the states
it does not settle (or every state with ``EVOptions(method="safeguarded")``) one
safeguarded Newton-secant iteration per state (:func:`_root_state`), each evaluation an
inexact warm-started household solve. Under the original code's stop rule
(``hh_stop_rule="policy"``) the roots are those of :mod:`hat_jax.welfare._policy_rule`.
:func:`ev_roots` is a ``custom_jvp``: its derivatives come from the implicit function
theorem on each scalar root.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._anderson import anderson_iterate
from .._household import (
    HouseholdOptions,
    HouseholdProblem,
    flatten_state,
    household_fixed_point,
    household_operator,
    policies,
    iteration_settings,
    stop_scale,
    sweep_changes,
    unflatten_state,
)
from ._continuation import Ring, StateStart, continuation_roots, node_grid
from ._measure import ev_problem
from ._options import EVOptions
from ._policy_rule import policy_rule_roots

__all__ = ["scaled_problem", "value_slope", "EVRoots", "solve_ev_roots", "ev_roots"]


def scaled_problem(problem: HouseholdProblem, factor) -> HouseholdProblem:
    """All income R a + W z + T scaled by ``factor``: R -> factor R, W -> factor W,
    T -> factor T (the tariff rebate, model.md s.14; grid and borrowing limit unchanged)."""
    return problem._replace(R=factor * problem.R, W=factor * problem.W, T=factor * problem.T)


def _values(y, problem, hopts):
    return policies(y, problem, hopts)[4]


def value_slope(problem: HouseholdProblem, y, hopts: HouseholdOptions,
                measure: str = "transfer"):
    """(V[a,z], dV/dl[a,z], dy/dl flattened) at income factor l = 1: the value, its exact
    derivative with respect to the EV's income factor under ``measure`` (transfer:
    dV/dtau W E[z]; proportional: the income scaling) and that of the household state
    (one implicit-function jvp of the household fixed point from the solved state
    ``y``). ``measure`` is static (``jax.jit(value_slope, static_argnames="measure")``)."""

    def f(factor):
        prob = ev_problem(problem, factor, measure)
        yy, _, _ = household_fixed_point(y, prob, hopts)
        return _values(yy, prob, hopts), flatten_state(yy)

    one = jnp.asarray(1.0, jnp.float64)
    (V, _), (dV, dx) = jax.jvp(f, (one,), (jnp.ones_like(one),))
    return V, dV, dx


class EVRoots(NamedTuple):
    """The EV roots of one country (each [Na, Nz] but ``y``): factor, converged, residual
    (|f| / slope), iterations (household solves per state) as :func:`ev_roots`;
    value_residual, the Bellman residual of the values behind each root (sup-norm change
    of v in one reference sweep from the household state at that state's factor; below
    the household tolerance when converged under stop_rule "both"); y, the household
    state of each root (flattened states along the leading axis)."""

    factor: jax.Array
    converged: jax.Array
    residual: jax.Array
    iterations: jax.Array
    value_residual: jax.Array
    y: tuple


def _inner_solve(x0, problem, factor, tol_y, like, hopts, max_iter, measure):
    """Household fixed point at income factor ``factor`` (under ``measure``) from the flat
    warm start x0, to the sup-norm step |F(y) - y| <= tol_y (Anderson, as in
    hat_jax._household). Returns (x, |F(y) - y|, V[a, z], iterations)."""
    prob = ev_problem(problem, factor, measure)
    fn = lambda x: flatten_state(household_operator(unflatten_state(x, like), prob, hopts))
    x, err, it = anderson_iterate(fn, x0, tol_y * stop_scale(hopts), max_iter,
                                  *iteration_settings(like, hopts))
    return x, err, _values(unflatten_state(x, like), prob, hopts), it


class _Start(NamedTuple):
    """First guess of one state: factor0, slope s0 of f there, expected |f(factor0)|
    (sets the first inner tolerance), household state x0 and its slope dx/dfactor."""

    factor0: jax.Array
    s0: jax.Array
    f_exp: jax.Array
    x0: jax.Array
    x_slope: jax.Array


def _next_point(c, l, f, f0, s_est, ok, eps, first, direction):
    """Bracket update and the next evaluation point of one Newton-secant step.

    Bracket [xa, xb]: f(xa) certainly of the sign of f0, f(xb) certainly of the other.
    Before a sign change: the Newton step in the search direction if it is at most 4
    times the last step, else double that step; once bracketed, a Newton step outside
    the bracket is replaced by bisection; a failed solve retreats halfway.
    Returns (next point, xa, xb, bracketed)."""
    certain = ok & (jnp.abs(f) > eps)
    was = c["bracketed"]
    crossed = certain & ~was & (f * f0 < 0)
    same = f * f0 > 0
    xa = jnp.where(crossed, c["xa"], jnp.where(certain & same, l, c["xa"]))
    xb = jnp.where(crossed | (certain & was & ~same), l, c["xb"])
    bracketed = was | crossed
    newton = l - f / s_est
    lo, hi = jnp.minimum(xa, xb), jnp.maximum(xa, xb)
    inside = jnp.isfinite(newton) & (newton > lo) & (newton < hi)
    in_bracket = jnp.where(inside, newton, 0.5 * (xa + xb))
    step = jnp.where(first, l - 1.0, l - c["x_prev"])
    good = jnp.isfinite(newton) & ((newton - l) * direction > 0) \
        & (jnp.abs(newton - l) <= 4.0 * jnp.abs(step))
    good = good | (jnp.abs(newton - l) <= eps / jnp.abs(s_est))  # at the root
    nxt = jnp.where(bracketed, in_bracket, jnp.where(good, newton, l + 2.0 * step))
    nxt = jnp.where(ok, nxt, 0.5 * (l + c["x_prev"]))
    return nxt, xa, xb, bracketed


def _root_state(problem, hopts, opts, inner_max_iter, like, x_base, a_i, z_i, v_t, f0, s_eff,
                start: _Start):
    """Solve f(l) = V_old(a_i, z_i; l) - v_t = 0 for one state.

    Safeguarded Newton-secant with bracketing (:func:`_next_point`), each evaluation an
    inexact household solve. V_old is not monotone in l for every state (at the
    borrowing limit with low productivity, income R a + W z is negative and scaling it
    up first lowers V), so the root sought is the first sign change of f in the
    direction of the welfare change (l > 1 for a gain, l < 1 for a loss). ``s_eff``:
    the exact slope at 1, floored at a quarter of the country's median. f(1) = f0 is
    known without a solve. The first evaluation is at ``start.factor0`` with slope
    ``start.s0``; the slope is then the secant of the last two evaluations when their
    difference is well above the evaluation noise.

    Inexact evaluations: |F(y) - y| <= tol_y = 1e-3 (1 - beta) |f expected|, clipped to
    [0.1 hh_tol, 1e-5], so that the value error, about 2 tol_y / (1 - beta), stays near
    0.1% of the distance to the root; each warm start is the last state extrapolated
    along the secant of the household states in l. Converged when an evaluation at the
    full tolerance 0.1 hh_tol has |f| / |slope| <= opts.tol, or |f| below the value
    error that tolerance allows (states whose slope is too small for tol in l).
    Returns (factor, residual |f|/|slope|, converged, evaluations, state); the baseline
    state ``x_base`` when l = 1 already solves it.
    """
    one = jnp.asarray(1.0, start.x0.dtype)
    floor = 0.1 * hopts.tol
    beta, tol = problem.beta, opts.tol
    direction = jnp.where(f0 > 0, -1.0, 1.0)
    err0 = jnp.abs(f0) / s_eff
    tol_of = lambda f: jnp.clip(1e-3 * (1.0 - beta) * jnp.abs(f), floor, 1e-5)
    noise_of = lambda t: 2.0 * t / (1.0 - beta)

    def body(c):
        l, tol_y = c["factor"], c["tol_y"]
        x, err_y, V, _ = _inner_solve(c["x_start"], problem, l, tol_y, like, hopts,
                                      inner_max_iter, opts.measure)
        f = V[a_i, z_i] - v_t
        ok = (err_y <= tol_y) & jnp.isfinite(f) & (l > 0) & jnp.all(jnp.isfinite(x))
        precise, eps, first = tol_y <= floor, noise_of(tol_y), c["it"] == 0
        # slope: the secant of the last two evaluations where it is well resolved
        dl_prev = l - c["x_prev"]
        sec = (f - c["f_prev"]) / dl_prev
        resolved = ok & ~first & jnp.isfinite(sec) & (dl_prev != 0) \
            & ((eps + c["eps_prev"]) < 0.05 * jnp.abs(f - c["f_prev"]))
        s_est = jnp.where(resolved, sec, c["s_est"])
        err = jnp.where(ok & precise, jnp.abs(f) / jnp.abs(s_est), jnp.inf)
        better = err < c["best_err"]
        # done: within tol of the root, or |f| below what the household tolerance can
        # resolve (states with a small slope dV/dl)
        done = (err <= tol) | (ok & precise & (jnp.abs(f) <= eps))
        nxt, xa, xb, bracketed = _next_point(c, l, f, f0, s_est, ok, eps, first, direction)
        nxt = jnp.where(done, l, nxt)
        # warm start of the next evaluation: the state extrapolated along its secant in l
        y_slope = jnp.where(first, start.x_slope, (x - c["y_last"]) / (l - c["l_last"]))
        dl = nxt - l
        use = ok & jnp.all(jnp.isfinite(y_slope)) \
            & (first | (jnp.abs(dl) <= 2.0 * jnp.abs(l - c["l_last"])))
        x_ok = jnp.where(ok, x, c["x_start"])
        return dict(
            factor=nxt, x_prev=jnp.where(ok, l, c["x_prev"]),
            f_prev=jnp.where(ok, f, c["f_prev"]), eps_prev=jnp.where(ok, eps, c["eps_prev"]),
            s_est=s_est, y_last=jnp.where(ok, x, c["y_last"]),
            l_last=jnp.where(ok, l, c["l_last"]),
            x_start=jnp.where(use, x_ok + dl * y_slope, x_ok),
            tol_y=jnp.where(ok, tol_of(f), tol_y), xa=xa, xb=xb, bracketed=bracketed,
            it=c["it"] + 1, done=done, best=jnp.where(better, l, c["best"]),
            best_err=jnp.where(better, err, c["best_err"]),
            best_x=jnp.where(better, x, c["best_x"]))

    init = dict(factor=start.factor0, x_prev=one, f_prev=f0, eps_prev=noise_of(floor),
                s_est=start.s0, y_last=start.x0, l_last=start.factor0, x_start=start.x0,
                tol_y=tol_of(start.f_exp), xa=one, xb=one, bracketed=jnp.asarray(False),
                it=jnp.asarray(0, jnp.int32), done=err0 <= tol, best=one,
                best_err=err0, best_x=x_base)
    c = lax.while_loop(lambda c: (~c["done"]) & (c["it"] < opts.max_iter), body, init)
    return c["best"], c["best_err"], c["done"], c["it"], c["best_x"]


def _node_solutions(problem, x_base, x_dot, factor1, like, hopts, K: int, measure: str):
    """Household solutions at K equally spaced income factors covering 1 and the
    first-order guesses ``factor1`` (25% margin), one of them exactly 1; solved one after
    another, each warm-started from the previous one extrapolated along their secant.
    Returns (nodes[K], V[K, a, z], x[K, n])."""
    nodes, h = node_grid(factor1, K)
    floor = 0.1 * hopts.tol

    def step(carry, l):
        x_prev, l_prev, slope = carry
        x0 = x_prev + (l - l_prev) * slope
        x, _, V, _ = _inner_solve(x0, problem, l, floor, like, hopts, hopts.max_iter, measure)
        return (x, l, (x - x_prev) / (l - l_prev)), (V, x)

    _, (V, X) = lax.scan(step, (x_base - h * x_dot, 1.0 - h, x_dot), nodes)
    return nodes, V, X


def _cubic_root(xs, gs, a, b, ga, gb):
    """Root in [a, b] of the cubic through (xs, gs) (8 Newton steps from the linear
    interpolant's root). Returns (root, cubic slope there, Lagrange weights and their
    derivative there, the gap between the cubic and the linear interpolant there)."""

    def lagrange(l):
        d = l - xs
        return jnp.stack([jnp.prod(jnp.where(jnp.arange(4) == m, 1.0, d / (xs[m] - xs)))
                          for m in range(4)])

    cubic = lambda l: jnp.dot(lagrange(l), gs)
    lin = a - ga * (b - a) / (gb - ga)
    lin = jnp.where(jnp.isfinite(lin), lin, 0.5 * (a + b))

    def newton(l, _):
        val, der = jax.jvp(cubic, (l,), (jnp.ones_like(l),))
        l_new = l - val / der
        return jnp.clip(jnp.where(jnp.isfinite(l_new), l_new, l), jnp.minimum(a, b),
                        jnp.maximum(a, b)), None

    root, _ = lax.scan(newton, lin, None, length=8)
    _, slope = jax.jvp(cubic, (root,), (jnp.ones_like(root),))
    w, dw = jax.jvp(lagrange, (root,), (jnp.ones_like(root),))
    gap = jnp.abs(cubic(root) - (ga + (gb - ga) * (root - a) / (b - a)))
    return root, slope, w, dw, gap


def _node_start(nodes, V_nodes, X_nodes, x_base, x_dot, f0, v_t, s_eff):
    """First guess of one state from the node solutions: the root of the cubic through the
    four nodes around the first sign change of V(l) - v_t in the search direction (that
    of the welfare change); the state interpolated by the same cubic. Without a sign
    change among the nodes: the secant of the two outermost nodes in the search
    direction if it points the right way, else the Newton step from 1. Returns
    ((found, lo, hi), _Start): found, whether one of the first two guesses applies; [lo,
    hi], where the root must then lie (the two nodes around the sign change, or beyond
    the outermost node in the search direction)."""
    K = nodes.shape[0]
    g = V_nodes - v_t  # [K]
    direction = jnp.where(f0 > 0, -1.0, 1.0)
    k = jnp.arange(K - 1)
    change = g[:-1] * g[1:] <= 0
    side = jnp.where(direction > 0, nodes[1:] > 1.0 + 1e-14, nodes[:-1] < 1.0 - 1e-14)
    valid = change & side
    kstar = jnp.argmin(jnp.where(valid, direction * k, K * 2))
    found = jnp.any(valid)
    idx = jnp.clip(kstar - 1, 0, K - 4) + jnp.arange(4)
    ga, gb = g[kstar], g[kstar + 1]
    l_c, s_c, w, dw, gap = _cubic_root(nodes[idx], g[idx], nodes[kstar], nodes[kstar + 1],
                                       ga, gb)
    x_c, xs_c = w @ X_nodes[idx], dw @ X_nodes[idx]
    good = found & jnp.isfinite(l_c) & (s_c * jnp.sign(gb - ga) >= 0) \
        & jnp.all(jnp.isfinite(x_c))
    e1 = jnp.where(direction > 0, K - 1, 0)
    e0 = jnp.where(direction > 0, K - 2, 1)
    s_end = (g[e1] - g[e0]) / (nodes[e1] - nodes[e0])
    l_e = nodes[e1] - g[e1] / s_end
    x_sl = (X_nodes[e1] - X_nodes[e0]) / (nodes[e1] - nodes[e0])
    ext_ok = ~found & jnp.isfinite(l_e) & ((l_e - nodes[e1]) * direction > 0) & (l_e > 0)
    l1 = 1.0 - f0 / s_eff
    pick = lambda a_, b_, c_: jnp.where(good, a_, jnp.where(ext_ok, b_, c_))
    # where the root must lie: between the two nodes around the sign change, or beyond
    # the outermost node in the search direction (no sign change among the nodes)
    beyond = jnp.where(direction > 0, jnp.inf, 0.0)
    bracket = (good | ext_ok,
               jnp.where(good, jnp.minimum(nodes[kstar], nodes[kstar + 1]),
                         jnp.minimum(nodes[e1], beyond)),
               jnp.where(good, jnp.maximum(nodes[kstar], nodes[kstar + 1]),
                         jnp.maximum(nodes[e1], beyond)))
    return bracket, _Start(
        factor0=pick(l_c, l_e, l1),
        s0=pick(jnp.where(s_c != 0, s_c, s_eff), s_end, s_eff),
        f_exp=pick(jnp.maximum(gap, 1e-12), 0.1 * jnp.abs(g[e1]), 0.1 * jnp.abs(f0)),
        x0=pick(x_c, X_nodes[e1] + (l_e - nodes[e1]) * x_sl, x_base + (l1 - 1.0) * x_dot),
        x_slope=pick(xs_c, x_sl, x_dot))


def _policy_rule(problem, y_base, V_base, V_target, hopts, opts: EVOptions):
    """The roots under the original code's stop rule (:func:`policy_rule_roots`, first
    guesses from the node cubics of :func:`_node_start`) as EVRoots."""
    Na, Nz = V_base.shape
    shape = lambda x: x.reshape(Na, Nz)

    def node_start(nodes, V_nodes, f, vt, se):
        z1 = jnp.zeros((1,), V_base.dtype)
        st = _node_start(nodes, V_nodes, jnp.zeros((nodes.shape[0], 1), V_base.dtype),
                         z1, z1, f, vt, se)[1]
        return st.factor0, st.s0

    factor, err, done, it, dv, y = policy_rule_roots(problem, y_base, V_base, V_target,
                                                     hopts, opts, node_start)
    return EVRoots(shape(factor), shape(done & jnp.isfinite(factor)), shape(err),
                   shape(it), shape(dv), y)


def _solve_roots(problem, y_base, V_base, V_target, slope, x_dot, hopts, opts: EVOptions):
    """All states of one country. ``opts.method == "continuation"`` (default, stop rule
    "both"): the states in the order of their guesses share household solves
    (:mod:`hat_jax.welfare._continuation`); the states it does not settle go to the
    safeguarded per-state solver (:func:`_root_state`), as every state does with
    ``"safeguarded"``: lax.map over chunks of ``opts.batch_size`` states, vmapped
    inside a chunk. Returns EVRoots (with the household state of each root)."""
    Na, Nz = V_base.shape
    shape = lambda x: x.reshape(Na, Nz)
    if hopts.stop_rule == "policy":  # a fixed number of sweeps (policy_rule module)
        return _policy_rule(problem, y_base, V_base, V_target, hopts, opts)
    S, K = Na * Nz, opts.nodes
    a_idx, z_idx = jnp.divmod(jnp.arange(S), Nz)
    f0 = (V_base - V_target).reshape(-1)
    v_t = V_target.reshape(-1)
    slope = slope.reshape(-1)
    slope_typ = jnp.nanmedian(jnp.abs(slope))
    s_eff = jnp.maximum(slope, 0.25 * slope_typ)
    x_base = flatten_state(y_base)
    inner = jnp.minimum(hopts.max_iter, 500)
    factor1 = 1.0 - f0 / s_eff
    B = min(opts.batch_size, S)
    if K >= 4:
        lk, Vk, Xk = _node_solutions(problem, x_base, x_dot, factor1, y_base, hopts, K,
                                     opts.measure)
        Vk = Vk.reshape(K, S)

    def start_of(s_):
        if K >= 4:
            return _node_start(lk, Vk[:, s_], Xk, x_base, x_dot, f0[s_], v_t[s_], s_eff[s_])
        l1 = 1.0 - f0[s_] / s_eff[s_]
        return ((jnp.asarray(False), l1, l1),
                _Start(l1, s_eff[s_], 0.1 * jnp.abs(f0[s_]), x_base + (l1 - 1.0) * x_dot, x_dot))

    def one(s_):  # the safeguarded solver of one state
        return _root_state(problem, hopts, opts, inner, y_base, x_base, a_idx[s_], z_idx[s_],
                           v_t[s_], f0[s_], s_eff[s_], start_of(s_)[1])

    # states in order of their slope at 1, so that the few slow ones (small or negative
    # slope, near the borrowing limit) share chunks: a vmapped loop runs as long as its
    # slowest member
    order = jnp.argsort(slope / slope_typ)
    if opts.method == "safeguarded" or K < 4:
        out = lax.map(one, order, batch_size=B)
        factor, err, done, it, X = jax.tree_util.tree_map(
            lambda x: x[jnp.argsort(order)], out)
    else:
        factor, err, done, it, X = _continuation(problem, hopts, opts, inner, y_base, f0, v_t,
                                                 s_eff, lk, Vk, Xk, start_of)
        # the rest (few: no sign change among the nodes, a root outside its node
        # bracket) by the safeguarded solver, one state after another: on a CPU a
        # vmapped chunk costs as much per state as one state alone, and runs as long as
        # its slowest member (these are the slow ones)
        todo = jnp.argsort(done, stable=True)
        n_need = jnp.sum(~done)

        def rest(c):
            k, (factor, err, done, it, X) = c
            s_ = todo[k]
            l, e, d, i, x = one(s_)
            return k + 1, (factor.at[s_].set(l), err.at[s_].set(e), done.at[s_].set(d),
                           it.at[s_].add(i), X.at[s_].set(x))

        _, (factor, err, done, it, X) = lax.while_loop(
            lambda c: c[0] < n_need, rest, (jnp.asarray(0), (factor, err, done, it, X)))

    def finish(args):  # the Bellman residual of the values behind each root
        l, x = args
        y = unflatten_state(x, y_base)
        dc, dv = sweep_changes(y, ev_problem(problem, l, opts.measure), hopts)
        return jnp.maximum(dc, dv), dv, y

    res_hh, dv, y = lax.map(finish, (factor, X))  # one by one: vmap saves nothing on a CPU
    ok = done & (res_hh <= hopts.tol)
    return EVRoots(shape(factor), shape(ok), shape(err), shape(it), shape(dv), y)


def _continuation(problem, hopts, opts, inner, y_base, f0, v_t, s_eff, lk, Vk, Xk, start_of):
    """The continuation pass (:func:`continuation_roots`) over the states that may take it:
    those with a node guess (a sign change of V(l) - V_new among the nodes in the
    direction of the gain, the root then between those two nodes; or the secant beyond
    the outermost node, the root then beyond it); states already at their root (l = 1)
    are done as they are."""
    S = f0.shape[0]
    K = lk.shape[0]
    (found, lo, hi), st = jax.vmap(start_of)(jnp.arange(S))
    err0 = jnp.abs(f0) / s_eff
    trivial = err0 <= opts.tol
    eligible = found & ~trivial & jnp.isfinite(st.factor0) & (st.s0 != 0)
    order = jnp.argsort(jnp.where(eligible, st.factor0, jnp.inf))
    starts = StateStart(jnp.arange(S), v_t, st.factor0, st.s0, st.x0, st.x_slope, lo, hi,
                        eligible)
    starts = jax.tree_util.tree_map(lambda a: a[order], starts)
    k0 = jnp.clip(jnp.searchsorted(lk, starts.l0[0]) - 2, 0, K - 4) + jnp.arange(4)
    ring0 = Ring(lk[k0], Xk[k0], Vk[k0])

    def solve(x0, l, tol_y):
        x, err_y, V, it = _inner_solve(x0, problem, l, tol_y, y_base, hopts, inner,
                                       opts.measure)
        return x, err_y, V.reshape(-1), it

    x_base = flatten_state(y_base)
    out = continuation_roots(solve, ring0, starts, tol=opts.tol, floor=0.1 * hopts.tol,
                             beta=problem.beta, max_iter=jnp.minimum(opts.max_iter, 8))
    factor, err, done, it, X = jax.tree_util.tree_map(lambda a: a[jnp.argsort(order)], out)
    one = jnp.ones_like(factor)
    factor = jnp.where(trivial, one, factor)
    err = jnp.where(trivial, err0, err)
    X = jnp.where(trivial[:, None], x_base[None, :], X)
    return factor, err, done | trivial, it, X


def solve_ev_roots(problem, y_base, V_base, V_target, slope, x_dot, hopts: HouseholdOptions,
                   opts: EVOptions) -> EVRoots:
    """The roots of :func:`ev_roots` with their diagnostics (:class:`EVRoots`: the Bellman
    residual of the values behind each root and the household states), without
    derivative rules (use :func:`ev_roots` to differentiate)."""
    return _solve_roots(problem, y_base, V_base, V_target, slope, x_dot, hopts, opts)


@jax.custom_jvp
def ev_roots(problem, y_base, V_base, V_target, slope, x_dot, hopts: HouseholdOptions,
             opts: EVOptions):
    """The EV factor l[a, z] solving V_old(a, z; l) = V_target[a, z] for one country
    under ``opts.measure`` (transfer: l = 1 + tau / (W E[z]); proportional: l = lambda).

    problem: the country's HouseholdProblem at the OLD prices; y_base, V_base: its solved
    household state and value (lambda = 1); slope, x_dot: dV/dlambda and the flattened
    dy/dlambda at 1 (:func:`value_slope`); hopts: household options; opts:
    :class:`EVOptions` (tol, max_iter traced; batch_size, nodes structural).
    Returns (factor, converged, residual, iterations), each [Na, Nz].

    Derivatives (implicit function theorem, state by state): dfactor = (dV_target -
    dV_old/dproblem . dproblem) / (dV_old/dlambda at the root), with the household
    derivatives at each state's own factor: one reverse pass per state (the gradient of
    the state's value with respect to lambda and every problem leaf; one factorisation
    and one adjoint solve, ``hopts.tangent_solver``), contracted with the problem's
    tangent, so many tangent directions (jacfwd) cost one pass per state, not one per
    direction (states one after another: costly on large grids; see
    :func:`hat_jax.welfare.ev_derivative` for the local derivative at a zero change).
    No derivative flows through hopts, opts, y_base, V_base, slope or x_dot (starting
    information only).
    """
    r = _solve_roots(problem, y_base, V_base, V_target, slope, x_dot, hopts, opts)
    return r.factor, r.converged, r.residual, r.iterations


@ev_roots.defjvp
def _ev_roots_jvp(primals, tangents):
    problem, y_base, V_base, V_target, slope, x_dot, hopts, opts = primals
    t_problem, t_target = tangents[0], tangents[3]
    r = _solve_roots(problem, y_base, V_base, V_target, slope, x_dot, hopts, opts)
    Na, Nz = V_base.shape
    a_idx, z_idx = jnp.divmod(jnp.arange(Na * Nz), Nz)

    def one(args):
        l, y, a_i, z_i = args

        def V_at(factor, prob):
            pr = ev_problem(prob, factor, opts.measure)
            yy, _, _ = household_fixed_point(y, pr, hopts)
            return _values(yy, pr, hopts)[a_i, z_i]

        # one reverse pass per state (one factorisation, one adjoint solve) gives the
        # gradient of the state's value with respect to l and to every problem leaf
        _, pull = jax.vjp(V_at, l, problem)
        return pull(jnp.ones((), l.dtype))

    # primal work only: under jacfwd / vmap over directions it is not batched, and the
    # directions enter through the contraction with the problem's gradient below
    dl, g = lax.map(one, (r.factor.reshape(-1), r.y, a_idx, z_idx))
    dp = sum(jnp.tensordot(gl, tl, axes=tl.ndim)
             for gl, tl in zip(jax.tree_util.tree_leaves(g),
                               jax.tree_util.tree_leaves(t_problem))
             if jnp.issubdtype(tl.dtype, jnp.inexact))
    t_factor = (t_target.reshape(-1) - dp) / dl
    float0 = lambda x: np.zeros(np.shape(x), jax.dtypes.float0)
    return ((r.factor, r.converged, r.residual, r.iterations),
            (t_factor.reshape(Na, Nz), float0(r.converged), jnp.zeros_like(r.residual),
             float0(r.iterations)))
