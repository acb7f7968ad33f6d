"""Stationary distribution: mass, stationarity, direct vs reference iteration, derivatives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hat_jax
from hat_jax._distribution import asset_transition
from hat_jax.model import stationary_distribution
from hat_jax import HouseholdOptions

from conftest import NA_TEST


@pytest.fixture(scope="module")
def household():
    econ = hat_jax.two_country(Na=NA_TEST)
    probs = hat_jax.model.household_problems(econ, jnp.ones(2), 1.0)
    sol = hat_jax.model.solve_households(probs, HouseholdOptions(gamma=1.5, Na=econ.Na))
    first = lambda x: jax.tree_util.tree_map(lambda y: y[0], x)
    return econ, first(probs), first(sol)


def test_lottery_rows_are_probabilities(household):
    _, _, sol = household
    G = asset_transition(sol.pi, sol.lottery_lo, sol.lottery_w)
    np.testing.assert_allclose(np.asarray(G).sum(-1), 1.0, atol=1e-13)
    assert float(np.min(G)) >= 0


def test_lottery_preserves_expected_savings(household):
    econ, probs, sol = household
    G = np.asarray(asset_transition(sol.pi, sol.lottery_lo, sol.lottery_w))
    a = np.asarray(probs.a_min + probs.da * np.arange(econ.Na))
    np.testing.assert_allclose(G @ a, np.sum(np.asarray(sol.pi * sol.a_next), -1), atol=1e-12)


@pytest.mark.parametrize("method", ["direct", "iterate"])
def test_stationary_distribution_mass_and_fixed_point(household, method):
    _, probs, sol = household
    d = stationary_distribution(sol.pi, sol.lottery_lo, sol.lottery_w, probs.P, method=method)
    lam = np.asarray(d.lam)
    assert lam.sum() == pytest.approx(1.0, abs=1e-12)
    assert lam.min() > -1e-14
    assert float(d.residual) <= 1e-10
    # marginal over z equals the income chain's stationary distribution
    ip = hat_jax.income_process()
    np.testing.assert_allclose(lam.sum(0), ip.stationary, atol=1e-9)


def test_direct_and_iterated_distributions_agree(household):
    _, probs, sol = household
    a = stationary_distribution(sol.pi, sol.lottery_lo, sol.lottery_w, probs.P, method="direct")
    b = stationary_distribution(sol.pi, sol.lottery_lo, sol.lottery_w, probs.P,
                                method="iterate", tol=1e-13)
    np.testing.assert_allclose(np.asarray(a.lam), np.asarray(b.lam), atol=1e-10)


def test_distribution_derivatives_direct_iterate_and_fd(household):
    _, probs, sol = household

    def mass_at_limit(scale, method, solver="lu"):
        pi = jax.nn.softmax(jnp.log(sol.pi) * scale, axis=-1)
        d = stationary_distribution(pi, sol.lottery_lo, sol.lottery_w, probs.P, method=method,
                                    tol=1e-13, throw=False, tangent_solver=solver)
        return jnp.sum(d.lam[0])  # households at the borrowing limit

    # compiled (op-by-op dispatch of the solves' loops is slower than compiling them)
    grad = jax.jit(jax.grad(mass_at_limit), static_argnums=(1, 2))
    g_direct, g_iter = grad(1.0, "direct"), grad(1.0, "iterate")
    g_gmres = grad(1.0, "iterate", "gmres")
    t_iter = jax.jit(lambda s: jax.jvp(lambda u: mass_at_limit(u, "iterate"), (s,),
                                       (1.0,))[1])(1.0)
    h = 1e-5
    direct = jax.jit(lambda s: mass_at_limit(s, "direct"))
    fd = (direct(1.0 + h) - direct(1.0 - h)) / (2 * h)
    assert float(g_direct) == pytest.approx(float(fd), rel=1e-6)
    assert float(g_iter) == pytest.approx(float(g_direct), rel=1e-7)
    assert float(g_gmres) == pytest.approx(float(g_iter), rel=1e-9)
    assert float(t_iter) == pytest.approx(float(g_iter), rel=1e-10)  # forward = reverse


def test_bad_method_rejected(household):
    _, probs, sol = household
    with pytest.raises(ValueError, match=r"method must be one of \('direct', 'iterate'\)"):
        stationary_distribution(sol.pi, sol.lottery_lo, sol.lottery_w, probs.P, method="power")
