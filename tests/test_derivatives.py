"""Derivatives through the household, distribution and equilibrium fixed points
(implicit function theorem) against central finite differences of the re-solved model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hat_jax
from hat_jax import EquilibriumOptions, solve_equilibrium_jit, solve_world
from hat_jax._newton import value_and_jacobian

from conftest import NA_TEST

# Tight tolerances so that central differences are not limited by solver noise.
OPTS = EquilibriumOptions(tol=1e-13, hh_tol=1e-13, dist_tol=1e-14)


def _central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def _solve(economy, beta0=0.92):
    """The re-solved model for a finite difference: the host-driven solver, whose compiled
    programs every two-country test shares (a jitted copy would compile the whole
    equilibrium again)."""
    return hat_jax.solve_equilibrium(economy, OPTS, hat_jax.Start(W=np.ones(2), R=1.01,
                                                                  beta=beta0))


@pytest.fixture(scope="module")
def economy():
    return hat_jax.two_country(Na=NA_TEST)


def test_bond_demand_derivative_wrt_R_at_fixed_prices(economy):
    """d(bond demand)/dR with W fixed: households and distributions re-solved (forward
    mode; reverse mode through the same fixed points is checked through the equilibrium,
    test_welfare.py::test_welfare_derivatives_match_finite_counterfactuals)."""

    def bond(R):
        return solve_world(economy, jnp.ones(2), R, 0.92).aggregates.bond_demand[0]

    # the differences from the jvp program's primal outputs (one program, no primal one)
    jvp = jax.jit(lambda R: jax.jvp(bond, (R,), (jnp.ones_like(R),)))
    R0 = jnp.asarray(1.0)
    _, tangent = jvp(R0)
    fd = _central(lambda R: jvp(R)[0], R0, 1e-5)
    assert float(tangent) > 0  # a higher return raises savings
    assert float(tangent) == pytest.approx(float(fd), rel=1e-5)


def test_trade_flows_jacobian_wrt_wages_at_fixed_prices(economy):
    def flows(W):
        return solve_world(economy, W, 1.0, 0.92).aggregates.M.reshape(-1)

    W0 = jnp.array([1.0, 1.05])
    # one program: the values (for the differences) and the Jacobian by forward mode
    # from one primal solve (the Newton's own value_and_jacobian)
    lin = jax.jit(lambda W: value_and_jacobian(lambda w: (flows(w), None), W)[:2])
    J = lin(W0)[1]
    f = lambda W: lin(W)[0]
    h = 1e-5
    for k in range(2):
        e = jnp.zeros(2).at[k].set(h)
        fd = (f(W0 + e) - f(W0 - e)) / (2 * h)
        np.testing.assert_allclose(np.asarray(J[:, k]), np.asarray(fd), rtol=1e-5, atol=1e-9)


def test_equilibrium_prices_jacobian_wrt_parameters(economy):
    """jacfwd of (W_1, R, country 1's foreign share) with respect to (beta, sigma, A_2,
    gamma, log d_12) through the equilibrium (wages and R re-solved; gamma is traced: it
    enters the household operator through the options, which the implicit derivative of
    the household fixed point includes) against central differences of the host solver.
    One program for the five directions (the trade cost's was a program of its own, 14 s
    of compilation on CI's cold cache); reverse mode through the equilibrium is checked
    against the same jvp, and so against central differences, by
    test_welfare.py::test_welfare_derivatives_match_finite_counterfactuals.

    The discretised model is piecewise smooth (EGM brackets and lottery indices switch at
    kinks), so the central difference uses a small step: with h = 1e-5 a kink inside
    [x - h, x + h] moves dW_1/dbeta by 1e-3 relative, with h = 1e-6 it agrees to 1e-8."""

    def trade_costs(log_d12):
        return jnp.array([[1.0, 0.0], [1.745, 1.0]]) \
            + jnp.array([[0.0, 1.0], [0.0, 0.0]]) * jnp.exp(log_d12)

    def outputs(eq):
        return jnp.stack([eq.W[0], eq.R, eq.world.aggregates.trade_shares[0, 1]])

    def prices(theta):
        beta, sigma, A2, gamma, log_d12 = theta
        e = economy.replace(beta=beta, sigma=sigma, A=jnp.stack([jnp.asarray(1.0), A2]),
                            gamma=gamma, d=trade_costs(log_d12))
        return outputs(solve_equilibrium_jit(e, OPTS, hat_jax.Start(W=jnp.ones(2), R=1.01,
                                                                      beta=beta)))

    th0 = jnp.array([0.92, 0.25, 1.1, 1.5, np.log(1.745)])
    J = jax.jit(jax.jacfwd(prices))(th0)

    def f(theta):  # the same function, solved on the host
        beta, sigma, A2, gamma, log_d12 = (float(v) for v in theta)
        d = np.array([[1.0, np.exp(log_d12)], [1.745, 1.0]])
        return outputs(_solve(economy.replace(beta=beta, sigma=sigma, A=[1.0, A2],
                                              gamma=gamma, d=jnp.asarray(d)), beta0=beta))

    assert float(J[2, 4]) < 0  # a dearer import lowers the foreign share
    h = 1e-6
    for k in range(5):
        e = jnp.zeros(5).at[k].set(h)
        fd = (f(th0 + e) - f(th0 - e)) / (2 * h)
        np.testing.assert_allclose(np.asarray(J[:, k]), np.asarray(fd), rtol=1e-5, atol=1e-8)
