import numpy as np
import pytest

from hat_jax.model import custom_income_process, rouwenhorst
from hat_jax import income_process

EXPECTED_LOG_Z = [-1.26223, -0.80529, -0.80917, -0.35223, -0.35611, 0.10083, 0.09694,
                  0.55389, 0.55000, 1.00695]


def test_reference_income_process_log_z():
    ip = income_process()
    np.testing.assert_allclose(np.log(ip.z), EXPECTED_LOG_Z, atol=5e-6)


def test_income_process_is_a_mean_one_markov_chain():
    ip = income_process()
    np.testing.assert_allclose(ip.P.sum(axis=1), 1.0, atol=1e-14)
    assert np.all(ip.P >= 0)
    np.testing.assert_allclose(ip.stationary @ ip.P, ip.stationary, atol=1e-14)
    assert abs(ip.stationary @ ip.z - 1.0) < 1e-14
    # persistent-outer, transitory-inner ordering: y_P constant within pairs
    np.testing.assert_allclose(ip.y_P[0::2], ip.y_P[1::2])


def test_rouwenhorst_matches_ar1_moments():
    rho, s = 0.9, np.sqrt(0.039)
    y, P = rouwenhorst(5, rho, s)
    pi = np.linalg.matrix_power(P.T, 2000)[:, 0]
    var = pi @ y**2
    assert var == pytest.approx(s**2 / (1 - rho**2), rel=1e-10)
    cond_mean = P @ y
    np.testing.assert_allclose(cond_mean, rho * y, atol=1e-12)


def test_custom_income_process_validates():
    with pytest.raises(ValueError, match="not a stochastic matrix"):
        custom_income_process([1.0, 2.0], [[0.5, 0.6], [0.5, 0.5]])
    with pytest.raises(ValueError, match="positive"):
        custom_income_process([-1.0, 2.0], [[0.5, 0.5], [0.5, 0.5]])
    ip = custom_income_process([1.0, 3.0], [[0.9, 0.1], [0.1, 0.9]])
    assert ip.stationary @ ip.z == pytest.approx(1.0)
