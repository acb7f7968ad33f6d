"""One Baseline and one Start (issue 24): a Baseline holds exactly its equilibrium's
prices and state, experiments from it equal the explicit fixed-beta solve, and a Start
is validated by name and warm-starts a solve to its root."""

import jax.numpy as jnp
import numpy as np
import pytest

import hat_jax
from hat_jax import Baseline, EquilibriumOptions, Start, as_baseline
from hat_jax import welfare as wf


def test_baseline_holds_the_equilibrium(two_country_eq):
    eq = two_country_eq
    b = Baseline.from_equilibrium(eq)
    assert b.equilibrium is eq and b.regime == "global" and b.N == 2
    assert b.countries == eq.economy.countries
    np.testing.assert_array_equal(np.asarray(b.W), np.asarray(eq.W))
    np.testing.assert_array_equal(np.asarray(b.R), np.asarray(eq.R))
    assert float(b.beta) == float(eq.beta) == float(b.economy.beta)
    np.testing.assert_array_equal(np.asarray(b.T), np.asarray(eq.T))
    for a, c in zip(np.asarray(b.state), np.asarray(eq.world.households.state)):
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(np.asarray(b.J), np.asarray(eq.jacobian))
    assert b.opts.unknown == "R" and b.opts.regime == "global"
    assert as_baseline(b) is b and as_baseline(eq).equilibrium is eq
    tight = as_baseline(b, EquilibriumOptions(tol=1e-12, unknown="R"))
    assert float(tight.opts.tol) == 1e-12 and tight.opts.unknown == "R"


def test_fixed_beta_options():
    o = EquilibriumOptions(tol=1e-9).fixed_beta("autarky")
    assert (o.unknown, o.regime, float(o.tol)) == ("R", "autarky", 1e-9)
    assert EquilibriumOptions(unknown="beta").fixed_beta().unknown == "R"


def test_counterfactual_from_a_baseline_is_the_fixed_beta_solve(two_country_eq):
    """counterfactual(Baseline) = counterfactual(Equilibrium) = the explicit solve at the
    equilibrium's beta (unknown R) from its prices, household state and Newton Jacobian;
    with jacobian="exact", the explicit solve without the Jacobian (issue 29)."""
    eq = two_country_eq
    d = np.array([[1.0, 1.6], [1.6, 1.0]])
    by_baseline = wf.counterfactual(Baseline.from_equilibrium(eq), d).new
    by_eq = wf.counterfactual(eq, d).new
    econ = eq.economy.replace(beta=jnp.asarray(eq.beta), d=jnp.asarray(d))
    start = Start(W=eq.W, R=eq.R, beta=eq.beta, state=eq.world.households.state,
                  J=eq.jacobian)
    explicit = hat_jax.solve_equilibrium(econ, EquilibriumOptions(unknown="R"), start)
    exact = hat_jax.solve_equilibrium(econ, EquilibriumOptions(unknown="R"),
                                      start._replace(J=None))
    by_exact = wf.counterfactual(eq, d, jacobian="exact").new
    np.testing.assert_allclose(np.asarray(by_exact.W), np.asarray(exact.W), rtol=0, atol=1e-12)
    for new in (by_baseline, by_eq):
        np.testing.assert_allclose(np.asarray(new.W), np.asarray(explicit.W), rtol=0,
                                   atol=1e-12)
        assert abs(float(new.R) - float(explicit.R)) <= 1e-12
        assert float(new.beta) == float(eq.beta)


@pytest.mark.parametrize("start, match", [
    (Start(W=[1.0, -1.0]), r"Start\.W\[1\]=-1\.0$"),
    (Start(W=[1.0, 1.0, 1.0]), r"Start\.W must have one wage per country"),
    (Start(R=np.nan), r"Start\.R must be finite, got Start\.R=nan"),
    (Start(beta=np.inf), r"Start\.beta must be finite, got Start\.beta=inf"),
    (Start(J=np.eye(3)), r"Start\.J must be the \(2, 2\) Jacobian"),
])
def test_bad_start_is_refused_by_name(two_country_eq, start, match):
    with pytest.raises(ValueError, match=match):
        hat_jax.solve_equilibrium(two_country_eq.economy, start=start)


def test_start_from_equilibrium_is_at_the_root(two_country_eq):
    eq = two_country_eq
    again = hat_jax.solve_equilibrium(eq.economy, start=Start.from_equilibrium(eq))
    assert int(again.iterations) <= 1
    np.testing.assert_allclose(np.asarray(again.W), np.asarray(eq.W), atol=1e-12)
    b = Baseline.from_equilibrium(eq)
    assert Start.from_baseline(b) is b.start and Start.from_baseline(b, False).J is None
