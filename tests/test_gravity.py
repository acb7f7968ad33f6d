"""Tests for hat_jax._gravity: parameter layout, trade costs and the gravity regression."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hat_jax.data import DataWarning, load_ek2002, load_published
from hat_jax.calibration import (
    geography_from_arrays, gravity_regression, GravityMoments, n_params, pack_params,
    trade_costs, TradeCostParams, unpack_params)
from hat_jax._gravity import (
    gravity_design, log_share_ratios, log_trade_costs_unclamped, make_gravity_regression,
    moment_vector, tfp)

N = 19
EK_DIST = np.array([-3.102440, -3.665941, -4.033395, -4.218077, -6.064372, -6.558933])
EK_DUMMIES = {"border": 0.303564, "language": 0.510080, "EC": 0.035912, "EFTA": 0.536071}


@pytest.fixture(scope="module")
def ek(data_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return load_ek2002(data_dir)


@pytest.fixture(scope="module")
def geo(ek):
    return ek.geography()


@pytest.fixture(scope="module")
def regress(geo):
    return jax.jit(make_gravity_regression(geo))


@pytest.fixture(scope="module")
def baseline(data_dir):
    return load_published("baseline", data_dir).params


def _off(n=N):
    return ~np.eye(n, dtype=bool)


# ------------------------------------------------------------------ parameter layout


def test_unpack_layout(baseline):
    p = unpack_params(baseline)
    assert p.log_A.shape == (N,) and p.mu.shape == (N,) and p.dist.shape == (6,)
    assert p.log_A[-1] == 0.0
    np.testing.assert_array_equal(p.log_A[:18], baseline[:18])
    np.testing.assert_array_equal(p.mu[:18], baseline[18:36])
    assert float(jnp.sum(p.mu)) == pytest.approx(0.0, abs=1e-13)
    np.testing.assert_array_equal(p.dist, baseline[36:42])
    assert (p.border, p.language, p.ec, p.efta) == tuple(baseline[42:46])
    np.testing.assert_allclose(tfp(p), np.exp(np.append(baseline[:18], 0.0)), rtol=1e-15)


@pytest.mark.parametrize("n", [2, 5, 19])
def test_pack_unpack_round_trip(n):
    theta = np.random.default_rng(n).normal(size=n_params(n))
    p = jax.jit(unpack_params)(theta)
    assert p.log_A.shape == (n,)
    np.testing.assert_array_equal(jax.jit(pack_params)(p), theta)
    q = unpack_params(pack_params(p))
    for a, b in zip(p, q):
        np.testing.assert_array_equal(a, b)


def test_unpack_bad_length():
    with pytest.raises(ValueError, match="2\\(N-1\\)\\+10"):
        unpack_params(np.zeros(45))


# ------------------------------------------------------------------------ trade costs


def _numpy_costs(theta, ek, theta_d=4.0):
    """Direct loop implementation of the README formula."""
    n = ek.n
    mu = np.append(theta[18:36], -theta[18:36].sum())
    dist, (b, l, e, f) = theta[36:42], theta[42:46]
    d = np.ones((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                z = (dist[ek.dist_bin[i, j]] + b * ek.border[i, j] + l * ek.language[i, j]
                     + e * ek.ec[i, j] + f * ek.efta[i, j] + mu[i])
                d[i, j] = max(1.0, np.exp(-z / theta_d))
    return d


def test_trade_costs_match_numpy(baseline, ek, geo):
    d = np.asarray(jax.jit(trade_costs)(unpack_params(baseline), geo))
    assert np.all(np.diag(d) == 1.0) and np.all(d >= 1.0)
    np.testing.assert_allclose(d, _numpy_costs(baseline, ek), rtol=1e-14)
    # the clamp binds only for (some) Belgian imports in the baseline
    binding = {ek.iso3[i] for i, j in zip(*np.nonzero(_off() & (d == 1.0)))}
    assert binding == {"BEL"}


def _cost_jacobians(theta, geo, h=1e-6):
    f = jax.jit(lambda t: trade_costs(unpack_params(t), geo))
    jac = np.asarray(jax.jit(jax.jacfwd(f))(jnp.asarray(theta)))  # [N, N, 46]
    fd = np.stack(
        [(np.asarray(f(theta + h * e)) - np.asarray(f(theta - h * e))) / (2 * h)
         for e in np.eye(theta.size)],
        axis=-1,
    )
    return jac, fd


def test_trade_cost_derivative(baseline, geo):
    x = np.asarray(log_trade_costs_unclamped(unpack_params(baseline), geo))
    jac, fd = _cost_jacobians(np.asarray(baseline), geo)
    free = _off() & (x > 1e-3)
    bound = _off() & (x < -1e-3)
    assert free.sum() + bound.sum() == N * (N - 1) and bound.sum() == 13
    np.testing.assert_allclose(jac[free], fd[free], rtol=1e-7, atol=1e-9)
    assert np.abs(jac[free]).max() > 1.0  # non-trivial derivatives were compared
    # where the clamp binds (Belgium's imports) the derivative is exactly zero
    assert np.all(jac[bound] == 0.0) and np.all(fd[bound] == 0.0)
    assert np.all(jac[np.eye(N, dtype=bool)] == 0.0)
    # analytic value off the clamp: d d_ij / d mu_1 for importer 1 (AUS) = -d_ij / 4
    d = np.asarray(trade_costs(unpack_params(baseline), geo))
    np.testing.assert_allclose(jac[0, 1:, 18], -d[0, 1:] / 4, rtol=1e-14)


def test_trade_cost_derivative_at_tie(geo):
    """At an exact tie (x_ij == 0 for all pairs when Theta = 0) the derivative is zero,
    not the 0.5 split that jnp.maximum would give."""
    theta0 = jnp.zeros(46)
    f = jax.jit(lambda t: trade_costs(unpack_params(t), geo))
    np.testing.assert_array_equal(f(theta0), np.ones((N, N)))
    assert np.all(np.asarray(jax.jit(jax.jacfwd(f))(theta0)) == 0.0)
    assert np.all(np.asarray(jax.jit(jax.grad(lambda t: f(t).sum()))(theta0)) == 0.0)
    # contrast: the naive jnp.maximum version splits the gradient at the tie
    g = lambda t: jnp.maximum(0.0, log_trade_costs_unclamped(unpack_params(t), geo)).sum()
    assert np.asarray(jax.jit(jax.grad(g))(theta0))[36] != 0.0


# ------------------------------------------------------------------ gravity regression


def test_gravity_reproduces_eaton_kortum(ek, regress):
    gm = regress(jnp.asarray(ek.trade))
    assert isinstance(gm, GravityMoments)
    np.testing.assert_allclose(gm.dist, EK_DIST, rtol=0, atol=1e-6)
    for k, v in EK_DUMMIES.items():
        assert abs(float(getattr(gm, k)) - v) < 1e-6, k
    assert abs(float(jnp.sum(gm.S))) < 1e-12 and abs(float(jnp.sum(gm.m))) < 1e-12
    d = gm.as_dict()
    assert set(d) == {"S", "m", "dist", "border", "language", "EC", "EFTA"}
    assert isinstance(d["border"], float) and len(d["S"]) == N and len(d["dist"]) == 6
    # layout of the moment vector equals the layout of the parameter vector
    v = np.asarray(moment_vector(gm))
    assert v.shape == (46,)
    np.testing.assert_array_equal(v, np.asarray(gm.moment_vector()))
    np.testing.assert_array_equal(v[:18], gm.S[:18])
    np.testing.assert_array_equal(v[18:36], gm.m[:18])
    np.testing.assert_array_equal(v[36:42], gm.dist)
    np.testing.assert_array_equal(v[42:], [gm.border, gm.language, gm.EC, gm.EFTA])
    # unpack_params gives back the full effects (m_N = -sum) from the same layout
    np.testing.assert_allclose(unpack_params(v).mu, gm.m, atol=1e-13)


def test_gravity_matches_independent_lstsq(ek, regress):
    """Dummy coding with country 1 dropped from both effect sets, numpy lstsq, then
    re-normalised to sum zero (the shifts are absorbed by the six bin coefficients)."""
    off = _off()
    i, j = np.nonzero(off)
    y = ek.trade[off]
    dummies = lambda idx: np.eye(N)[idx][:, 1:]
    bins = np.eye(6)[ek.dist_bin[off]]
    x = np.column_stack([dummies(i), dummies(j), bins, ek.border[off], ek.language[off],
                         ek.ec[off], ek.efta[off]])
    b = np.linalg.lstsq(x, y, rcond=None)[0]
    im, ex = np.append(0.0, b[:18]), np.append(0.0, b[18:36])
    dist = b[36:42] + im.mean() + ex.mean()
    im, ex = im - im.mean(), ex - ex.mean()
    gm = regress(jnp.asarray(ek.trade))
    np.testing.assert_allclose(gm.dist, dist, atol=1e-8)
    np.testing.assert_allclose(gm.S, ex, atol=1e-8)
    np.testing.assert_allclose(gm.m, im + ex, atol=1e-8)
    np.testing.assert_allclose([gm.border, gm.language, gm.EC, gm.EFTA], b[42:], atol=1e-8)


def test_gravity_recovers_synthetic(ek, geo, regress):
    rng = np.random.default_rng(0)
    im, ex = rng.normal(size=N), rng.normal(size=N)
    im, ex = im - im.mean(), ex - ex.mean()
    dist = -np.sort(rng.uniform(2, 7, 6))
    b, l, e, f = rng.normal(size=4)
    y = (im[:, None] + ex[None, :] + np.where(ek.dist_bin >= 0, dist[ek.dist_bin], 0.0)
         + b * ek.border + l * ek.language + e * ek.ec + f * ek.efta)
    y[np.eye(N, dtype=bool)] = 123.0  # the diagonal must be ignored
    gm = regress(jnp.asarray(y))
    np.testing.assert_allclose(gm.S, ex, atol=1e-10)
    np.testing.assert_allclose(gm.m, im + ex, atol=1e-10)
    np.testing.assert_allclose(gm.dist, dist, atol=1e-10)
    np.testing.assert_allclose([gm.border, gm.language, gm.EC, gm.EFTA], [b, l, e, f], atol=1e-10)
    # the one-shot function agrees with the prebuilt one
    np.testing.assert_allclose(moment_vector(gravity_regression(y, geo)),
                               moment_vector(gm), atol=1e-12)


def test_gravity_jacobian_vs_finite_differences(ek, regress):
    f = jax.jit(lambda y: moment_vector(regress(y)))
    y0 = jnp.asarray(ek.trade)
    jac = np.asarray(jax.jacfwd(f)(y0))  # [46, N, N]
    assert jac.shape == (46, N, N)
    assert np.all(jac[:, np.eye(N, dtype=bool)] == 0.0)  # diagonal does not enter
    h = 1e-4
    rng = np.random.default_rng(1)
    pairs = list(zip(*np.nonzero(_off())))
    for k in rng.choice(len(pairs), size=12, replace=False):
        i, j = pairs[k]
        e = np.zeros((N, N))
        e[i, j] = h
        fd = (np.asarray(f(y0 + e)) - np.asarray(f(y0 - e))) / (2 * h)
        np.testing.assert_allclose(jac[:, i, j], fd, atol=1e-9)
    # jacrev agrees with jacfwd
    np.testing.assert_allclose(np.asarray(jax.jacrev(f)(y0)), jac, atol=1e-12)


def test_gravity_design_rank(geo):
    x = np.asarray(gravity_design(geo))
    assert x.shape == (N * (N - 1), 46)
    assert np.linalg.matrix_rank(x) == 46


def test_log_share_ratios_round_trip(ek, regress):
    """Shares with pi_ij / pi_ii = exp(trade_ij) give back the data moments."""
    s = np.exp(ek.trade)
    s = s / s.sum(axis=1, keepdims=True)
    y = np.asarray(log_share_ratios(s))
    np.testing.assert_allclose(y, ek.trade, atol=1e-12)
    np.testing.assert_allclose(moment_vector(regress(jnp.asarray(y))),
                               moment_vector(regress(jnp.asarray(ek.trade))), atol=1e-10)


def test_geography_from_arrays_small():
    dist_bin = np.array([[-1, 0, 5], [2, -1, 1], [5, 1, -1]])
    ones = np.ones((3, 3))
    geo = geography_from_arrays(dist_bin, ones, ones, ones, ones)
    oh = np.asarray(geo.dist_bin_onehot)
    assert oh.shape == (3, 3, 6)
    assert oh[0, 2, 5] == 1 and oh[1, 0, 2] == 1 and oh[0, 0].sum() == 0
    assert np.all(np.diag(np.asarray(geo.border)) == 0)
    assert isinstance(unpack_params(np.zeros(2 * 2 + 10)), TradeCostParams)
