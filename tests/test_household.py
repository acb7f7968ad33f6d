"""Household block at fixed prices: Euler equation, budget, monotonicity, log-utility
theory, convergence reporting, implicit derivatives vs finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hat_jax
from hat_jax import HouseholdOptions
from hat_jax.model import solve_household, solve_households

from conftest import NA_TEST


def _problems(gamma=1.5, d=1.745, W=(1.0, 1.0), R=1.0, Na=NA_TEST, psi_slope=0.0):
    econ = hat_jax.two_country(d=d, gamma=gamma, Na=Na, psi_slope=psi_slope)
    return econ, hat_jax.model.household_problems(econ, jnp.asarray(W), R)


@pytest.fixture(scope="module")
def solved():
    econ, probs = _problems(psi_slope=0.3)
    opts = HouseholdOptions(gamma=econ.gamma, Na=econ.Na)
    sol = jax.jit(lambda p: solve_households(p, opts, throw=False))(probs)
    return econ, probs, opts, sol


def test_converges_to_reference_tolerance(solved):
    _, _, opts, sol = solved
    assert bool(np.all(sol.converged))
    assert float(np.max(sol.residual)) <= opts.tol
    assert np.all(np.asarray(sol.iterations) > 0)


def test_budget_constraint_holds(solved):
    econ, probs, _, sol = solved
    for i in range(2):
        a = np.asarray(probs.a_min[i] + probs.da[i] * np.arange(econ.Na))
        coh = float(probs.R[i]) * a[:, None] + float(probs.W[i]) * np.asarray(probs.z[i])[None, :]
        spend = np.asarray(sol.c[i]) * np.asarray(probs.p[i])[None, None, :] + np.asarray(sol.a_next[i])
        np.testing.assert_allclose(spend, np.broadcast_to(coh[:, :, None], spend.shape),
                                   atol=1e-10, rtol=0)


def test_consumption_positive_and_savings_monotone(solved):
    _, _, _, sol = solved
    assert float(np.min(sol.c)) > 0
    assert np.all(np.diff(np.asarray(sol.a_next), axis=1) >= -1e-12)
    # savings within the grid, borrowing limit respected
    assert float(np.min(sol.a_next)) >= -0.5 - 1e-12


def test_choice_probabilities_are_logit_of_values(solved):
    _, probs, _, sol = solved
    np.testing.assert_allclose(np.asarray(sol.pi).sum(-1), 1.0, atol=1e-13)
    psi = np.asarray(probs.psi)[:, None, :, :]
    sig = np.asarray(probs.sigma)[:, None, None, None]
    x = (np.asarray(sol.v) + psi) / sig
    ref = np.exp(x - x.max(-1, keepdims=True))
    ref /= ref.sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(sol.pi), ref, atol=1e-13)
    V = sig[..., 0] * (np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1)) + x.max(-1))
    np.testing.assert_allclose(np.asarray(sol.V), V, atol=1e-12)


def test_euler_equation_and_egm_inversion(solved):
    """The Euler equation at the endogenous grid points, computed from the returned
    policies (fixed-point consistency), and the inversion of the knots onto the grid.

    Knots: c~_j = (p_j Emu[k,z])^(-1/gamma) solves u'(c~)/p_j = beta R E[sum pi u'(c)/p] at
    a'_k; a~_j = (p_j c~ + a'_k - W z)/R. The returned a'_j(a, z) must be the linear
    interpolation of a~ -> a'_k (flat outside the knots), to 1e-8; where a' is at the
    borrowing limit the Euler equation holds as an inequality u'(c)/p >= Emu(a_0)."""
    econ, probs, opts, sol = solved
    gamma = econ.gamma
    for i in range(2):
        p = np.asarray(probs.p[i])
        c, pi = np.asarray(sol.c[i]), np.asarray(sol.pi[i])
        P = np.asarray(probs.P[i])
        beta, R = float(probs.beta[i]), float(probs.R[i])
        mu = (pi * c ** (-gamma) / p[None, None, :]).sum(-1)  # [k, z']
        Emu = beta * R * mu @ P.T  # [k, z]
        a = np.asarray(probs.a_min[i] + probs.da[i] * np.arange(econ.Na))
        W, z = float(probs.W[i]), np.asarray(probs.z[i])
        for j in range(2):
            c_knot = (p[j] * Emu) ** (-1.0 / gamma)
            a_knot = (p[j] * c_knot + a[:, None] - W * z[None, :]) / R
            assert np.all(np.diff(a_knot, axis=0) > 0)
            for zi in range(len(z)):
                expected = np.interp(a, a_knot[:, zi], a)
                np.testing.assert_allclose(np.asarray(sol.a_next[i][:, zi, j]), expected,
                                           atol=1e-8, rtol=0)
            constrained = np.asarray(sol.a_next[i][..., j]) <= a[0] + 1e-12
            lhs = c[..., j] ** (-gamma) / p[j]
            rhs = np.broadcast_to(Emu[0][None, :], lhs.shape)
            assert np.all(lhs[constrained] >= rhs[constrained] * (1 - 1e-8))
            assert constrained.any()


def test_log_utility_foreign_share_is_closed_form():
    """gamma = 1, equal wages: pi_foreign = d^(-1/sigma) / (1 + d^(-1/sigma)) in every state."""
    d = 2.05
    econ, probs = _problems(gamma=1.0, d=d)
    opts = HouseholdOptions(gamma=1.0, Na=econ.Na)
    sol = solve_households(probs, opts)
    target = d ** (-1 / 0.25) / (1 + d ** (-1 / 0.25))
    np.testing.assert_allclose(np.asarray(sol.pi[0, :, :, 1]), target, atol=1e-9, rtol=0)
    np.testing.assert_allclose(np.asarray(sol.pi[1, :, :, 0]), target, atol=1e-9, rtol=0)
    # savings do not depend on the variety chosen
    np.testing.assert_allclose(np.asarray(sol.a_next[..., 0]), np.asarray(sol.a_next[..., 1]),
                               atol=1e-9)


def test_unconverged_household_raises_with_diagnostics():
    econ, probs = _problems()
    opts = HouseholdOptions(gamma=econ.gamma, Na=econ.Na, max_iter=3)
    with pytest.raises(hat_jax.ConvergenceError,
                       match=r"household problem \(EGM\) did not converge.*residual .* after 3 iterations"):
        solve_households(probs, opts)
    sol = solve_households(probs, opts, throw=False)
    assert not bool(np.any(sol.converged))
    # inside jit the check is a runtime error carried by the result
    with pytest.raises(Exception, match="household problem .* did not converge"):
        jax.block_until_ready(jax.jit(lambda p: solve_households(p, opts))(probs))


def test_plain_reference_iteration_agrees_with_anderson():
    econ, probs = _problems()
    p0 = jax.tree_util.tree_map(lambda x: x[0], probs)
    fast = solve_household(p0, HouseholdOptions(gamma=1.5, Na=econ.Na))
    plain = solve_household(p0, HouseholdOptions(gamma=1.5, Na=econ.Na, anderson_memory=0))
    assert int(plain.iterations) > int(fast.iterations)
    np.testing.assert_allclose(np.asarray(fast.c), np.asarray(plain.c), atol=1e-9)
    np.testing.assert_allclose(np.asarray(fast.v), np.asarray(plain.v), atol=1e-8)


def test_warm_start_reaches_same_solution_faster():
    econ, probs = _problems()
    opts = HouseholdOptions(gamma=1.5, Na=econ.Na)
    cold = solve_households(probs, opts)
    moved = probs._replace(W=probs.W * 1.01, p=probs.p * 1.01)
    warm = solve_households(moved, opts, state0=cold.state)
    ref = solve_households(moved, opts)
    assert int(np.max(warm.iterations)) < int(np.max(ref.iterations))
    np.testing.assert_allclose(np.asarray(warm.c), np.asarray(ref.c), atol=1e-9)


def test_household_derivatives_match_finite_differences():
    """Implicit-function derivatives of the household fixed point (jvp, grad) vs central FD."""
    econ = hat_jax.two_country(Na=NA_TEST)
    opts = HouseholdOptions(gamma=1.5, Na=econ.Na)

    def foreign_spending(log_d):
        e = econ.replace(d=jnp.array([[1.0, 0.0], [1.745, 1.0]])
                         + jnp.array([[0.0, 1.0], [0.0, 0.0]]) * jnp.exp(log_d))
        probs = hat_jax.model.household_problems(e, jnp.ones(2), 1.0)
        sol = solve_households(probs, opts, throw=False)
        # mean foreign choice probability and spending over states (uniform weights)
        return jnp.mean(sol.pi[0, :, :, 1] * sol.c[0, :, :, 1] * probs.p[0, 1])

    x0 = jnp.log(1.745)
    # the differences from the jvp program's primal outputs (one program, no primal one)
    jvp = jax.jit(lambda x: jax.jvp(foreign_spending, (x,), (1.0,)))
    _, tangent = jvp(x0)
    grad = jax.jit(jax.grad(foreign_spending))(x0)
    h = 1e-5
    fd = (jvp(x0 + h)[0] - jvp(x0 - h)[0]) / (2 * h)
    assert float(tangent) == pytest.approx(float(fd), rel=1e-5)
    assert float(grad) == pytest.approx(float(tangent), rel=1e-9)


def test_operator_jacobian_is_the_dense_derivative_of_the_sweep(solved):
    """operator_jacobian builds dF/dy from 2 Na jvps using the block structure in z; it
    must equal jacfwd of the sweep, and its spectral radius is beta (the value part)."""
    from hat_jax._household import (
        flatten_state, household_operator, operator_jacobian, unflatten_state)

    econ, probs, opts, sol = solved
    first = lambda x: jax.tree_util.tree_map(lambda a: a[1], x)
    p, y = first(probs), first(sol.state)
    K = np.asarray(operator_jacobian(y, p, opts))
    sweep = lambda x: flatten_state(household_operator(unflatten_state(x, y), p, opts))
    dense = jax.jit(jax.jacfwd(sweep))(flatten_state(y))  # compiled: op-by-op is slower
    assert K.shape == (2 * econ.Nz * econ.Na,) * 2
    np.testing.assert_allclose(K, np.asarray(dense), atol=1e-13, rtol=0)
    assert np.max(np.abs(np.linalg.eigvals(K))) == pytest.approx(float(econ.beta), abs=1e-8)


def test_lu_and_gmres_tangent_solvers_agree_forward_and_reverse():
    """Both implicit-function solvers give the same derivatives (jacfwd and grad)."""
    econ, _ = _problems()

    def savings(W, solver):
        probs = hat_jax.model.household_problems(econ, W, 1.0)
        opts = HouseholdOptions(gamma=econ.gamma, Na=econ.Na, tangent_solver=solver)
        sol = solve_households(probs, opts, throw=False)
        return jnp.sum(sol.a_next * sol.pi, axis=-1)

    W = jnp.array([1.1, 0.9])
    # compiled (op-by-op dispatch of the solves' loops costs several times more here)
    jac = jax.jit(jax.jacfwd(savings), static_argnums=1)
    J_lu, J_gm = jac(W, "lu"), jac(W, "gmres")
    np.testing.assert_allclose(np.asarray(J_lu), np.asarray(J_gm), atol=1e-11, rtol=0)
    loss = lambda W, s: jnp.sum(savings(W, s) ** 2)
    grad = jax.jit(jax.grad(loss), static_argnums=1)
    g_lu, g_gm = grad(W, "lu"), grad(W, "gmres")
    np.testing.assert_allclose(np.asarray(g_lu), np.asarray(g_gm), rtol=1e-10)
    with pytest.raises(ValueError, match=r"tangent_solver must be one of \('lu', 'gmres'\)"):
        HouseholdOptions(gamma=1.5, Na=10, tangent_solver="qr")


def test_compiled_sweep_derivative_in_prices_is_finite_and_exact(solved):
    """jit(jvp) of one sweep of both countries with respect to the goods prices p alone,
    also inside a scan (the backward pass of a transition), against central differences.
    Regression: the logit's max shift was differentiated through the mask logits == max,
    which a fused program evaluated with other rounding (no element equal: 0/0, NaN)."""
    from hat_jax._household import household_operator

    econ, probs, opts, sol = solved
    y = sol.state
    op = jax.vmap(household_operator, in_axes=(0, 0, None))
    sweep = lambda p: op(y, probs._replace(p=p), opts)[0]

    def in_scan(p):
        back = lambda yy, pr: (op(yy, pr, opts),) * 2
        steps = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), probs._replace(p=p))
        return jax.lax.scan(back, y, steps)[1][0][-1]

    t = jnp.asarray([[0.0, 1.0], [0.5, 0.0]]) * probs.p
    h = 1e-6
    for f in (sweep, in_scan):
        g = jax.jit(f)
        tangent = jax.jit(lambda p: jax.jvp(f, (p,), (t,))[1])(probs.p)
        assert np.all(np.isfinite(np.asarray(tangent)))
        fd = (g(probs.p + h * t) - g(probs.p - h * t)) / (2 * h)
        assert np.max(np.abs(np.asarray(fd))) > 1e-3  # a real response
        np.testing.assert_allclose(np.asarray(tangent), np.asarray(fd), rtol=1e-5, atol=1e-8)
