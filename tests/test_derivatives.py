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
    """d(bond demand)/dR with W fixed: households and distributions re-solved."""

    def bond(R):
        return solve_world(economy, jnp.ones(2), R, 0.92).aggregates.bond_demand[0]

    # the differences from the jvp program's primal outputs (one program, no primal one)
    jvp = jax.jit(lambda R: jax.jvp(bond, (R,), (jnp.ones_like(R),)))
    R0 = jnp.asarray(1.0)
    _, tangent = jvp(R0)
    fd = _central(lambda R: jvp(R)[0], R0, 1e-5)
    assert float(tangent) > 0  # a higher return raises savings
    assert float(tangent) == pytest.approx(float(fd), rel=1e-5)
    assert float(jax.jit(jax.grad(bond))(R0)) == pytest.approx(float(tangent), rel=1e-9)


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


def test_equilibrium_foreign_share_derivative_wrt_log_trade_cost(economy):
    """d(foreign share of country 1)/d log d_12 in general equilibrium (wages, R re-solved)
    by reverse mode (the transpose of the equilibrium's implicit-function jvp) against
    central differences of the host solver. Forward mode through the same equilibrium is
    checked against central differences by test_equilibrium_prices_jacobian_wrt_parameters
    (and along trade costs by test_ek's Theta direction): one program here, not a jvp
    program beside the gradient's (16 s of compilation on CI's cold cache)."""

    def foreign_share(log_d12):
        d = jnp.array([[1.0, 0.0], [1.745, 1.0]]) + jnp.array([[0.0, 1.0], [0.0, 0.0]]) \
            * jnp.exp(log_d12)
        eq = solve_equilibrium_jit(economy.replace(d=d), OPTS,
                                   hat_jax.Start(W=jnp.ones(2), R=1.01, beta=0.92))
        return eq.world.aggregates.trade_shares[0, 1]

    x0 = jnp.log(1.745)

    def f(log_d12):  # the same function, solved on the host
        d = np.array([[1.0, np.exp(float(log_d12))], [1.745, 1.0]])
        return _solve(economy.replace(d=jnp.asarray(d))).world.aggregates.trade_shares[0, 1]

    grad = float(jax.jit(jax.grad(foreign_share))(x0))
    fd = _central(f, x0, 1e-4)
    assert grad < 0
    assert grad == pytest.approx(float(fd), rel=1e-5)


def test_equilibrium_prices_jacobian_wrt_parameters(economy):
    """jacfwd of (W_1, R) with respect to (beta, sigma, A_2, gamma) through the
    equilibrium (gamma is traced: it enters the household operator through the options,
    which the implicit derivative of the household fixed point includes).

    The discretised model is piecewise smooth (EGM brackets and lottery indices switch at
    kinks), so the central difference uses a small step: with h = 1e-5 a kink inside
    [x - h, x + h] moves dW_1/dbeta by 1e-3 relative, with h = 1e-6 it agrees to 1e-8."""

    def prices(theta):
        beta, sigma, A2, gamma = theta
        e = economy.replace(beta=beta, sigma=sigma, A=jnp.stack([jnp.asarray(1.0), A2]),
                            gamma=gamma)
        eq = solve_equilibrium_jit(e, OPTS, hat_jax.Start(W=jnp.ones(2), R=1.01, beta=beta))
        return jnp.stack([eq.W[0], eq.R])

    th0 = jnp.array([0.92, 0.25, 1.1, 1.5])
    J = jax.jit(jax.jacfwd(prices))(th0)

    def f(theta):  # the same function, solved on the host
        beta, sigma, A2, gamma = (float(v) for v in theta)
        eq = _solve(economy.replace(beta=beta, sigma=sigma, A=[1.0, A2], gamma=gamma),
                    beta0=beta)
        return jnp.stack([eq.W[0], eq.R])

    for k, h in enumerate([1e-6, 1e-6, 1e-6, 1e-6]):
        e = jnp.zeros(4).at[k].set(h)
        fd = (f(th0 + e) - f(th0 - e)) / (2 * h)
        np.testing.assert_allclose(np.asarray(J[:, k]), np.asarray(fd), rtol=1e-5, atol=1e-8)

