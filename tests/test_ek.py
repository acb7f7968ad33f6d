"""The 19-country Eaton-Kortum world: presets, published equilibrium, cold start, Walras'
law, the log-utility separation result and gravity, derivatives against finite
differences. Equilibria are solved on small grids (NA_EK) except the published-price
check, which needs the published grid (Na = 100) and only evaluates residuals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hat_jax
from hat_jax import EquilibriumOptions
from hat_jax.data import DataError, load_ek2002, load_published
from hat_jax._ek import EK_PRESETS, THETA_D
from hat_jax.model import economy_from_params
from hat_jax import ek_world
from hat_jax._equilibrium import encode, excess_demands
from hat_jax import solve_equilibrium_jit
from hat_jax._gravity import log_trade_costs_unclamped
from hat_jax.calibration import trade_costs, unpack_params
from hat_jax._household import initial_state
from hat_jax.model import delivered_prices, household_problems
from hat_jax._params import household_options

NA_EK = 20
BETA_MODE = EquilibriumOptions(unknown="beta")

pytestmark = pytest.mark.filterwarnings("ignore::hat_jax.data.DataWarning")


@pytest.fixture(scope="module")
def baseline(data_dir):
    return ek_world("ek_baseline", data_dir, Na=NA_EK)


@pytest.fixture(scope="module")
def baseline_eq(baseline):
    return hat_jax.solve_equilibrium(baseline.economy, BETA_MODE,
                                     hat_jax.Start(*baseline.start("published")))


@pytest.fixture(scope="module")
def log_world(data_dir):
    return ek_world("ek_log", data_dir, Na=NA_EK)


@pytest.fixture(scope="module")
def log_eq(log_world):
    return hat_jax.solve_equilibrium(log_world.economy, BETA_MODE,
                                     hat_jax.Start(*log_world.start("published")))


# ------------------------------------------------------------------------- presets
@pytest.mark.parametrize("name", sorted(EK_PRESETS))
def test_ek_preset_is_built_from_data_and_published_vectors(name, data_dir):
    spec = EK_PRESETS[name]
    w = ek_world(name, data_dir)
    e = w.economy
    data = load_ek2002(data_dir)
    pub = load_published(spec["published"], data_dir)
    assert e.countries == data.iso3 and e.countries[-1] == "USA" and e.N == 19
    np.testing.assert_array_equal(np.asarray(e.L), data.L)
    np.testing.assert_allclose(np.asarray(e.A)[:-1], np.exp(pub.params[:18]), rtol=1e-15)
    assert float(e.A[-1]) == 1.0
    d = np.asarray(e.d)
    np.testing.assert_array_equal(np.diag(d), 1.0)
    assert np.all(d >= 1.0)
    np.testing.assert_allclose(d, np.asarray(trade_costs(unpack_params(pub.params),
                                                         data.geography(), THETA_D)))
    assert (e.gamma, float(e.sigma), float(e.psi_slope)) == (spec["gamma"], spec["sigma"],
                                                             spec["psi_slope"])
    assert (float(e.phi), float(e.amax), e.Na) == (0.5, 8.0, 100)
    assert float(e.beta) == pub.beta and w.R == 1.01
    # the preset factory and the world agree; presets are registered for the CLI
    assert hat_jax.preset(name, data_dir=data_dir).countries == e.countries


def test_baseline_clamp_binds_only_for_belgian_imports(data_dir):
    w = ek_world("ek_baseline", data_dir)
    x = np.asarray(log_trade_costs_unclamped(w.cost_params, w.geography))
    binds = (x < 0) & ~np.eye(19, dtype=bool)
    importers = {w.countries[i] for i in np.nonzero(binds)[0]}
    assert binds.sum() == 13 and importers == {"BEL"}
    np.testing.assert_array_equal(np.asarray(w.economy.d)[binds], 1.0)


def test_economy_from_params_is_differentiable(baseline):
    """d(d_ij)/d(border) = -d_ij border_ij / theta_d where the clamp does not bind, 0 where
    it binds; d A / d log A = A."""
    theta = jnp.asarray(baseline.params)
    k_border = 2 * 18 + 6
    tangent = jnp.zeros_like(theta).at[k_border].set(1.0).at[0].set(1.0)
    econ, t = jax.jvp(lambda th: economy_from_params(th, baseline.economy, baseline.geography),
                      (theta,), (tangent,))
    x = np.asarray(log_trade_costs_unclamped(baseline.cost_params, baseline.geography))
    d = np.asarray(econ.d)
    expected = np.where(x > 0, -d * np.asarray(baseline.geography.border) / THETA_D, 0.0)
    np.testing.assert_allclose(np.asarray(t.d), expected, atol=1e-15)
    assert float(t.A[0]) == pytest.approx(float(econ.A[0]), rel=1e-14)


def test_ek_world_rejects_bad_input(data_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown EK preset 'ek_nope'"):
        ek_world("ek_nope", data_dir)
    with pytest.raises(ValueError, match="params must have 46 entries"):
        ek_world("ek_baseline", data_dir, params=np.zeros(45))
    with pytest.raises(ValueError, match=r"cannot override \['d'\]"):
        ek_world("ek_baseline", data_dir, d=np.ones((19, 19)))
    with pytest.raises(ValueError, match="target R"):
        ek_world("ek_baseline", data_dir, R=-1.0)
    with pytest.raises(ValueError, match="start must be"):
        ek_world("ek_baseline", data_dir).start("warm")
    with pytest.raises(DataError, match="countries.csv: missing file"):
        ek_world("ek_baseline", tmp_path)


# --------------------------------------------------------------- the published world
def test_published_prices_clear_markets_on_the_published_grid(data_dir):
    """At the published parameters and prices (Na = 100) every market clears to the
    accuracy the published prices were solved to (max |excess demand|/GDP ~ 1e-8)."""
    w = ek_world("ek_baseline", data_dir)
    e = w.economy
    W0, R0, b0 = w.start("published")
    x0 = encode(jnp.asarray(W0), R0, b0, e, BETA_MODE)
    probs = household_problems(e, jnp.asarray(W0), R0, b0)
    s0 = jax.vmap(initial_state, in_axes=(0, None))(probs, household_options(e))
    f = jax.jit(lambda x, s: excess_demands(x, e, BETA_MODE, jnp.asarray(R0), s))
    r, (_, ok) = f(x0, s0)
    assert bool(ok)
    assert np.max(np.abs(np.asarray(r))) < 3e-8


@pytest.mark.ek_solve
def test_baseline_equilibrium_clears_markets(baseline_eq):
    eq = baseline_eq
    agg = eq.world.aggregates
    gdp = float(np.sum(agg.Y))
    assert bool(eq.converged) and float(eq.residual) <= 1e-10
    np.testing.assert_allclose(np.asarray(agg.Y), np.asarray(agg.M).sum(0), atol=1e-10 * gdp)
    assert abs(float(eq.walras_residual)) < 1e-10  # the dropped goods market (Walras' law)
    assert abs(float(np.sum(agg.bond_demand))) < 1e-10 * gdp
    assert float(eq.R) == 1.01 and float(eq.beta) * 1.01 < 1.0
    assert float(np.mean(eq.W)) == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(np.asarray(agg.trade_shares).sum(1), 1.0, atol=1e-13)


@pytest.mark.ek_solve
def test_cold_start_finds_the_same_equilibrium(baseline, baseline_eq):
    W0, R0, b0 = baseline.start("cold")
    np.testing.assert_array_equal(W0, np.ones(19))
    eq = hat_jax.solve_equilibrium(baseline.economy, BETA_MODE, hat_jax.Start(W0, R0, b0))
    assert int(eq.iterations) > int(baseline_eq.iterations)
    np.testing.assert_allclose(np.asarray(eq.W), np.asarray(baseline_eq.W), atol=1e-8)
    assert float(eq.beta) == pytest.approx(float(baseline_eq.beta), abs=1e-8)


# ------------------------------------------------------------------- log utility
@pytest.mark.ek_solve
def test_log_utility_separation_result(log_eq):
    """gamma = 1: M_ij / M_ii = (p_ij / p_ii)^(-1/sigma) for every pair, whatever the
    heterogeneity (expenditure does not depend on the variety chosen)."""
    eq = log_eq
    M = np.asarray(eq.world.aggregates.M)
    p = np.asarray(delivered_prices(eq.economy, eq.W))
    sigma = float(eq.economy.sigma)
    lhs = M / np.diag(M)[:, None]
    rhs = (p / np.diag(p)[:, None]) ** (-1.0 / sigma)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9)


@pytest.mark.ek_solve
def test_log_utility_gravity_recovers_cost_coefficients(log_world, log_eq):
    """No clamp binds in ek_log, so the model gravity regression returns exactly the
    trade-cost coefficients divided by theta_d sigma, and S_j = -(1/sigma) log(W_j/A_j)
    up to the normalisation sum S = 0."""
    x = np.asarray(log_trade_costs_unclamped(log_world.cost_params, log_world.geography))
    assert np.all(x[~np.eye(19, dtype=bool)] > 0)
    gm = log_world.model_moments(log_eq.world.aggregates.trade_shares)
    p = log_world.cost_params
    k = THETA_D * float(log_eq.economy.sigma)
    np.testing.assert_allclose(np.asarray(gm.dist), np.asarray(p.dist) / k, rtol=1e-9)
    for ours, theirs in ((gm.border, p.border), (gm.language, p.language), (gm.EC, p.ec),
                         (gm.EFTA, p.efta)):
        assert float(ours) == pytest.approx(float(theirs) / k, rel=1e-9, abs=1e-12)
    s = -np.log(np.asarray(log_eq.W) / np.asarray(log_eq.economy.A)) / float(log_eq.economy.sigma)
    np.testing.assert_allclose(np.asarray(gm.S), s - s.mean(), atol=1e-9)


# -------------------------------------------------------------------- derivatives
@pytest.mark.ek_solve
def test_equilibrium_derivatives_match_finite_differences(baseline, baseline_eq):
    """d(W, beta, trade shares)/d Theta in one direction that moves TFP, importer effects,
    a distance bin and the border coefficient: implicit function theorem vs central FD."""
    opts = EquilibriumOptions(unknown="beta", tol=1e-13, hh_tol=1e-12, dist_tol=1e-14)
    base = baseline.economy
    geo = baseline.geography
    W0, R0 = baseline_eq.W, jnp.asarray(1.01)
    b0 = baseline_eq.beta
    s0 = baseline_eq.world.households.state

    def outputs(theta):
        e = economy_from_params(theta, base, geo)
        eq = solve_equilibrium_jit(e, opts, hat_jax.Start(W0, R0, b0, state=s0))
        return jnp.concatenate([eq.W, eq.beta[None], eq.world.aggregates.trade_shares.ravel()])

    theta = jnp.asarray(baseline.params)
    direction = np.zeros(theta.shape)
    direction[[0, 10, 18, 25, 36, 39, 42]] = [0.3, -0.2, 0.5, -0.4, 0.2, 0.1, -0.3]
    direction = jnp.asarray(direction)
    def f(theta):  # the same function on the host-driven solver (programs already compiled)
        e = economy_from_params(theta, base, geo)
        eq = hat_jax.solve_equilibrium(e, opts, hat_jax.Start(W0, R0, b0, state=s0))
        return jnp.concatenate([eq.W, eq.beta[None], eq.world.aggregates.trade_shares.ravel()])

    _, tangent = jax.jit(lambda th, t: jax.jvp(outputs, (th,), (t,)))(theta, direction)
    # The solves stop at max|excess demand| 1e-13, so each FD quotient carries noise of
    # order 1e-13/h: measured max |AD - FD| = 3.8e-7 at h = 1e-4 (truncation), 3.2e-8 at
    # 1e-5, 2.7e-7 at 1e-6, 1.5e-6 at 3e-7 (noise), with AD fixed. h = 1e-5 is the
    # sweet spot.
    h = 1e-5
    fd = (f(theta + h * direction) - f(theta - h * direction)) / (2 * h)
    np.testing.assert_allclose(np.asarray(tangent), np.asarray(fd), rtol=1e-5, atol=1e-7)
    assert np.max(np.abs(np.asarray(tangent[:19]))) > 1e-3  # wages do move


def test_one_preset_registry_and_no_calibration_import():
    """Every preset table is a view of the one registry; "start" kinds are the registry's;
    ek.py does not import the calibration (no ek <-> calibration circle)."""
    import ast
    import inspect

    from hat_jax import _ek as ek, _presets as presets
    from hat_jax._ek import EK_UNPUBLISHED_PRESETS
    from hat_jax._preset_registry import REGISTRY, START_KINDS

    assert tuple(hat_jax.PRESETS) == tuple(REGISTRY)
    for name, p in REGISTRY.items():
        assert presets.solve_defaults(name) == {"unknown": p.unknown, "R": p.R}
        assert p.start in (None, *START_KINDS)
        if p.from_data:
            spec = (EK_PRESETS if p.has_published else EK_UNPUBLISHED_PRESETS)[name]
            assert spec["R"] == p.R and spec["published"] == p.published
            assert p.start == ("published" if p.has_published else "cold")
        else:
            assert name not in EK_PRESETS and name not in EK_UNPUBLISHED_PRESETS
            assert p.start is None and presets.preset_start(name) is None
    assert set(presets.SOLVE_DEFAULTS) == {*EK_PRESETS, *EK_UNPUBLISHED_PRESETS}
    e = hat_jax.preset("two_country_log", Na=10)
    assert float(e.gamma) == 1.0 and float(e.d[0, 1]) == 2.05
    with pytest.raises(ValueError, match="start must be"):
        presets.preset_start("two_country", "warm")
    tree = ast.parse(inspect.getsource(ek))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any("calibration" in (m or "") for m in imported), imported
