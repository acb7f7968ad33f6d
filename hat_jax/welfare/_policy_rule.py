"""Equivalent variation under the original code's stop rule (``hh_stop_rule="policy"``).

The original code computes V by plain sweeps from its initial guess until consumption
stops changing and takes the values at that point, unconverged (with log utility they
are far from their fixed point). Applied to V_old(lambda) literally, the number of
sweeps depends on lambda, so V_old jumps where that number changes and the EV root is
ill posed (a root finder stalls on the jumps). Here V_old(lambda) takes the SAME number
of sweeps at every lambda:

    V_old(a, z; lambda) = V[T_lambda^N (y0(lambda))](a, z),

with T_lambda the reference sweep at income factor lambda, y0(lambda) the original
initial guess, and N the number of sweeps the original rule takes at lambda = 1 (the
baseline household problem). At lambda = 1 this is exactly the baseline's V under
that rule; as a function of lambda it is continuous and smooth between EGM kinks, so
each root is well posed and a deterministic number. V_new is the counterfactual's V
under the same rule (its own sweep count). The roots: first guesses from N-sweep values
at ``nodes`` factors (the node cubics of :mod:`hat_jax.welfare._roots`), then per state a
secant iteration on V_old(.; lambda) to ``tol`` in lambda.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from .._household import (
    household_fixed_point,
    household_operator,
    initial_state,
    policies,
    sweep_changes,
)
from ._continuation import node_grid
from ._measure import ev_problem

__all__ = ["policy_rule_sweeps", "policy_rule_values", "policy_rule_roots"]


def policy_rule_sweeps(problem, y_base, hopts):
    """N: the plain sweeps the original rule takes for ``problem`` (lambda = 1)."""
    return household_fixed_point(y_base, problem, hopts)[2]


def policy_rule_values(problem, factor, hopts, sweeps, measure: str = "proportional"):
    """(V[a, z], y) after ``sweeps`` plain reference sweeps from the original initial
    guess at income factor ``factor`` under ``measure`` (V_old(.; factor) under the
    policy rule; :func:`hat_jax.welfare._measure.ev_problem`)."""
    prob = ev_problem(problem, factor, measure)
    y = lax.fori_loop(0, sweeps, lambda _, y: household_operator(y, prob, hopts),
                      initial_state(prob, hopts))
    return policies(y, prob, hopts)[4], y


def policy_rule_roots(problem, y_base, V_base, V_target, hopts, opts, node_start):
    """The EV roots of every state under the policy rule (module doc); V_base only sets
    the shape (V_old(1) is recomputed under the rule). ``node_start``:
    (nodes, V_nodes, f0, v_t, s_eff) -> (factor0, s0), the first guess of one state.
    Returns (factor, residual |f|/slope, converged, evaluations, value residual, y),
    each with a leading state axis (row-major (a, z))."""
    Na, Nz = V_base.shape
    S = Na * Nz
    N = policy_rule_sweeps(problem, y_base, hopts)
    v_t = V_target.reshape(-1)
    values = lambda l: policy_rule_values(problem, l, hopts, N, opts.measure)[0].reshape(-1)
    one = jnp.asarray(1.0, V_base.dtype)
    # V_old(1) under the rule (not the V_base given: the baseline may have been solved
    # to convergence) and its slope
    V_one, slope = jax.jvp(values, (one,), (one,))
    f0 = V_one - v_t
    slope_typ = jnp.nanmedian(jnp.abs(slope))
    s_eff = jnp.maximum(slope, 0.25 * slope_typ)
    factor1 = 1.0 - f0 / s_eff
    K = max(opts.nodes, 4)
    nodes, _ = node_grid(factor1, K)
    V_nodes = lax.map(values, nodes)  # [K, S]

    def root(s_):
        f_first = f0[s_]
        l0, s0 = node_start(nodes, V_nodes[:, s_], f_first, v_t[s_], s_eff[s_])
        err0 = jnp.abs(f_first) / s_eff[s_]

        def body(c):
            l = c["l"]
            f = values(l)[s_] - v_t[s_]  # all states' values; one is read (vmapped)
            dl = l - c["l_prev"]
            sec = (f - c["f_prev"]) / dl
            s = jnp.where((c["it"] > 0) & jnp.isfinite(sec) & (jnp.abs(dl) > 1e-12)
                          & (sec * c["s"] > 0), sec, c["s"])
            err = jnp.abs(f) / jnp.abs(s)
            done = jnp.isfinite(f) & (err <= opts.tol)
            better = jnp.isfinite(err) & (err < c["best_err"])
            nxt = jnp.where(done, l, l - f / s)
            return dict(l=nxt, l_prev=l, f_prev=f, s=s, it=c["it"] + 1, done=done,
                        best=jnp.where(better, l, c["best"]),
                        best_err=jnp.where(better, err, c["best_err"]))

        init = dict(l=l0, l_prev=one, f_prev=f_first, s=s0, it=jnp.asarray(0, jnp.int32),
                    done=err0 <= opts.tol, best=one, best_err=err0)
        c = lax.while_loop(lambda c: ~c["done"] & (c["it"] < opts.max_iter), body, init)
        V, y = policy_rule_values(problem, c["best"], hopts, N, opts.measure)
        _, dv = sweep_changes(y, ev_problem(problem, c["best"], opts.measure), hopts)
        return c["best"], c["best_err"], c["done"], c["it"], dv, y

    return lax.map(root, jnp.arange(S), batch_size=min(opts.batch_size, S))
