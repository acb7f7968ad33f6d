"""Every bad input gives a ValueError naming the parameter and the value."""

import numpy as np
import pytest

import hat_jax
from hat_jax import IncomeProcess
from hat_jax._params import check_prices

D2 = np.array([[1.0, 1.5], [1.5, 1.0]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(d=np.array([[1.0, 0.9], [1.5, 1.0]])), r"d >= 1.*d\[0, 1\]=.*0\.9"),
        (dict(d=np.array([[1.2, 1.5], [1.5, 1.0]])), r"d\[0, 0\]=.*1\.2"),
        (dict(d=np.ones((2, 3))), "N x N"),
        (dict(sigma=0.0), r"sigma.*> 0.*sigma=0\.0"),
        (dict(sigma=-0.25), r"sigma=-0\.25"),
        (dict(beta=1.0), r"beta.*\(0, 1\).*beta=1\.0"),
        (dict(gamma=-1.0), r"gamma.*gamma=-1\.0"),
        (dict(A=np.array([1.0, -2.0])), r"A\[1\]=.*-2\.0"),
        (dict(L=np.array([1.0, 0.0])), r"L\[1\]=.*0\.0"),
        (dict(L=np.ones(3)), r"L \(labour\) must have one entry per country, shape \(2,\)"),
        (dict(A=np.ones(3)), r"A \(TFP\) must have one entry per country, shape \(2,\).*\(3,\)"),
        (dict(phi=0.5, amax=-1.0), r"amax.*must be > 0, got amax=-1\.0"),
        (dict(phi=0.5, amax=-0.1), r"amax.*must be > 0, got amax=-0\.1"),
        (dict(phi=-0.5), r"phi.*must be >= 0, got phi=-0\.5.*cannot clear"),
        (dict(d=np.ones((1, 1))), r"N=1 country.*closed economy is not supported"),
        (dict(Na=2), r"Na.*Na=2"),
        (dict(countries=("A",)), r"countries must have 2 labels"),
        (dict(scale_by_tfp=2), r"scale_by_tfp must be True or False, got scale_by_tfp=2"),
        (dict(scale_by_tfp="no"), r"scale_by_tfp must be True or False"),
    ],
)
def test_make_economy_rejects_bad_input(kwargs, match):
    args = dict(d=D2)
    args.update(kwargs)
    d = args.pop("d")
    with pytest.raises(ValueError, match=match):
        hat_jax.make_economy(d, **args)


def test_non_stochastic_transition_matrix_rejected():
    P = np.array([[0.5, 0.6], [0.5, 0.5]])
    bad = IncomeProcess(z=np.array([0.5, 1.5]), P=P, stationary=np.array([0.5, 0.5]),
                        y_P=np.zeros(2))
    with pytest.raises(ValueError, match=r"not a stochastic matrix: row 0 sums to 1\.1"):
        hat_jax.make_economy(D2, income=bad)


@pytest.mark.parametrize("y_P, match", [
    (np.ones(3), r"y_P .*shape \(10,\), got shape \(3,\)"),
    (np.full(10, np.nan), r"y_P .*must be finite"),
])
def test_bad_income_shifter_rejected(y_P, match):
    econ = hat_jax.two_country(Na=20)
    with pytest.raises(ValueError, match=match):
        econ.replace(y_P=y_P)


def test_phi_zero_is_allowed():
    assert float(hat_jax.make_economy(D2, phi=0.0).phi) == 0.0


def test_replace_validates_too():
    econ = hat_jax.two_country(Na=20)
    with pytest.raises(ValueError, match="sigma"):
        econ.replace(sigma=np.asarray(-1.0))


def test_beta_R_at_least_one_rejected():
    econ = hat_jax.two_country(Na=20)
    with pytest.raises(ValueError, match=r"beta\*R >= 1.*no stationary distribution"):
        check_prices(econ, np.ones(2), 1.0 / 0.92 + 1e-6)
    with pytest.raises(ValueError, match=r"beta\*R >= 1"):
        hat_jax.solve_equilibrium(econ, start=hat_jax.Start(R=1.09))


def test_borrowing_limit_beyond_natural_limit_rejected():
    econ = hat_jax.two_country(Na=20, phi=20.0, amax=30.0)
    with pytest.raises(ValueError, match=r"natural borrowing limit"):
        check_prices(econ, np.ones(2), 1.05)


def test_wages_must_be_positive():
    econ = hat_jax.two_country(Na=20)
    with pytest.raises(ValueError, match=r"W\[1\]=.*-1"):
        check_prices(econ, np.array([1.0, -1.0]), 1.0)


def test_equilibrium_options_validated():
    with pytest.raises(ValueError, match="regime"):
        hat_jax.EquilibriumOptions(regime="closed")
    with pytest.raises(ValueError, match="unknown='beta' needs one world bond market"):
        hat_jax.EquilibriumOptions(regime="autarky", unknown="beta")


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        hat_jax.preset("nope")


def test_country_scaling_of_household_inputs():
    A = np.array([1.0, 2.0])
    econ = hat_jax.make_economy(D2, A=A, gamma=1.5, sigma=0.25, psi_slope=0.5, Na=20)
    probs = hat_jax.model.household_problems(econ, np.ones(2), 1.0)
    np.testing.assert_allclose(probs.sigma, 0.25 * A ** (1 - 1.5))
    np.testing.assert_allclose(probs.a_min, -0.5 * A)
    np.testing.assert_allclose(probs.a_min + probs.da * 19, 8.0 * A)
    # psi only on the home variety, slope scaled like sigma
    np.testing.assert_allclose(probs.psi[1, :, 1], 0.5 * 2.0 ** (-0.5) * np.asarray(econ.y_P))
    assert np.all(np.asarray(probs.psi[1, :, 0]) == 0)
    # delivered prices p_ij = d_ij W_j / A_j
    np.testing.assert_allclose(probs.p, D2 * (1.0 / A)[None, :])


def test_country_scaling_is_traced_one_program_for_both():
    """scale_by_tfp is a traced switch: one jitted program gives the scaled household
    inputs (grid -phi A_i .. amax A_i, sigma A_i^(1-gamma)) and the unscaled ones
    (A_i = 1 in both), traced once."""
    import jax

    A = np.array([1.0, 2.0])
    on = hat_jax.make_economy(D2, A=A, gamma=1.5, sigma=0.25, Na=20)
    off = on.replace(scale_by_tfp=False)
    assert bool(on.scale_by_tfp) and not off.scale_by_tfp
    traces = []

    @jax.jit
    def inputs(e):
        traces.append(1)
        p = hat_jax.model.household_problems(e, np.ones(2), 1.0)
        return p.a_min, p.sigma, p.p

    (lo1, s1, p1), (lo0, s0, p0) = inputs(on), inputs(off)
    assert len(traces) == 1
    np.testing.assert_allclose(lo1, -0.5 * A)
    np.testing.assert_allclose(s1, 0.25 * A ** (1 - 1.5))
    np.testing.assert_allclose(lo0, -0.5 * np.ones(2))
    np.testing.assert_allclose(s0, 0.25 * np.ones(2))
    np.testing.assert_allclose(p0, p1)  # prices d_ij W_j / A_j either way


def test_beta_mode_start_respects_target_R():
    """Solving beta at a high target R must not be refused because of the economy's
    (irrelevant) beta: the default starting beta is lowered to keep beta R < 1."""
    from hat_jax._equilibrium import default_guess

    econ = hat_jax.two_country(Na=20)
    opts = hat_jax.EquilibriumOptions(unknown="beta")
    W0, R0, beta0 = default_guess(econ, opts, R=1.1)
    assert beta0 * R0 < 1
    check_prices(econ, W0, R0, beta0)  # does not raise
    with pytest.raises(ValueError, match=r"beta\*R >= 1"):
        check_prices(econ, W0, 1.1, 0.92)
