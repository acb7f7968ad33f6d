"""Paths of the distribution and the policies along a transition (issue 30, item 5):
``solve_transition(..., paths=...)``, ``tn.path_percentiles``, ``tn.wealth_decile_means``.
Two-country economy, Na = 40, T = 60 (the programs of tests/test_transition.py)."""

import numpy as np
import pytest

import hat_jax
from hat_jax import model
from hat_jax import transition as tn
from hat_jax import welfare as wf

T = 60


@pytest.fixture(scope="module")
def still(two_country_eq):
    return tn.solve_transition(two_country_eq, horizon=T, paths=tn.PATHS)


@pytest.fixture(scope="module")
def cut(two_country_eq, still):
    d, _ = wf.global_cut(two_country_eq.economy, 0.1)
    return tn.solve_transition(two_country_eq, d=d, horizon=T, cache=still, paths=tn.PATHS)


def _exact_stationary(eq):
    """The initial equilibrium with its distribution solved directly (dense LU) instead
    of iterated to dist_tol: the exact fixed point of its policies."""
    hh, w = eq.world.households, eq.world
    lam = model.stationary_distributions(hh.pi, hh.lottery_lo, hh.lottery_w, w.problems.P,
                                         hat_jax.DistributionOptions(method="direct")).lam
    return eq._replace(world=w._replace(distribution=w.distribution._replace(lam=lam)))


def test_zero_shock_paths_are_the_stationary_distribution(two_country_eq, still):
    """At no shock every date's distribution is the initial stationary one and every
    policy the stationary policy (1e-12), so every percentile is constant."""
    init = _exact_stationary(still.initial)
    tr = tn.solve_transition(two_country_eq, horizon=T, initial=init, cache=still,
                             paths=tn.PATHS)
    dp, hh = tr.paths, init.world.households
    lam0 = np.asarray(init.world.distribution.lam)
    assert np.max(np.abs(np.asarray(dp.lam) - lam0)) <= 1e-12
    for name in ("c", "pi", "a_next"):
        assert np.max(np.abs(np.asarray(getattr(dp, name)) - np.asarray(getattr(hh, name)))) \
            <= 1e-12, name
    for name, q in tn.path_percentiles(dp).items():
        assert np.max(np.ptp(np.asarray(q), axis=0)) <= 1e-12, name
    # the default initial distribution (iterated to dist_tol) drifts by its own error only
    assert np.max(np.abs(np.asarray(still.paths.lam) - np.asarray(
        still.initial.world.distribution.lam))) <= 1e-10


def _numpy_percentile(x, w, q):
    """Smallest x with sum_{x' <= x} w >= q sum w, by brute force over the values."""
    xs = np.unique(x)
    cdf = np.array([w[x <= v].sum() for v in xs]) / w.sum()
    return xs[np.argmax(cdf >= q / 100.0 - 1e-14)]


def test_mass_conservation_and_percentiles_against_numpy(cut, still):
    dp, p = cut.paths, cut.path
    lam = np.asarray(dp.lam)
    assert lam.shape == (T + 1, 2, 40, 10) and np.min(lam) >= 0.0
    np.testing.assert_allclose(np.asarray(dp.mass), 1.0, rtol=0, atol=1e-13)
    np.testing.assert_allclose(lam[-1], np.asarray(p.lam_T), rtol=0, atol=1e-15)
    # the household import shares aggregate to the path's 1 - pi_ii,t
    e, imp = np.asarray(dp.expenditure), np.asarray(dp.import_share)
    agg = (lam[:-1] * e * imp).sum(axis=(2, 3)) / (lam[:-1] * e).sum(axis=(2, 3))
    np.testing.assert_allclose(agg, 1.0 - np.asarray(p.home_share), rtol=0, atol=1e-12)
    pc = {k: np.asarray(v) for k, v in tn.path_percentiles(dp, q=(5, 50, 90)).items()}
    assets = np.broadcast_to(np.asarray(dp.assets)[:, :, None], lam.shape[1:])
    values = {"consumption": e, "assets": np.broadcast_to(assets, e.shape),
              "import_share": imp}
    for t in (0, 1, 7, T - 1):
        for i in range(2):
            for name, x in values.items():
                got = [_numpy_percentile(x[t, i].ravel(), lam[t, i].ravel(), q)
                       for q in (5, 50, 90)]
                np.testing.assert_array_equal(pc[name][t, i], got, err_msg=f"{name} t={t}")
    # the cut moves the path: the median import share is higher than without it
    calm = np.asarray(tn.path_percentiles(still.paths, q=(50,))["import_share"])
    assert np.all(pc["import_share"][:, :, 1] > calm[:, :, 0] + 1e-3)


def test_wealth_decile_means():
    """Grid points split exactly between the deciles their CDF crosses: masses
    (0.05, 0.5, 0.45) give decile 1 half from each of the first two points."""
    lam = np.array([[0.05], [0.5], [0.45]])
    v = np.array([[1.0], [2.0], [3.0]])
    m = tn.wealth_decile_means(lam, v)
    np.testing.assert_allclose(m, [1.5, 2, 2, 2, 2, 2 + 0.5, 3, 3, 3, 3], rtol=0, atol=1e-15)
    rng = np.random.default_rng(0)
    lam, v = rng.random((30, 4)), rng.normal(size=(30, 4))
    lam[3:5] = 0.0
    m = tn.wealth_decile_means(lam, v)
    assert m.mean() == pytest.approx((lam * v).sum() / lam.sum(), abs=1e-14)


def test_bad_paths(two_country_eq, still):
    with pytest.raises(ValueError, match="paths"):
        tn.solve_transition(two_country_eq, horizon=T, cache=still, paths=("wealth",))
    with pytest.raises(ValueError, match="policies"):
        tn.path_percentiles(tn.distribution_paths(still, ("distribution",)))
    with pytest.raises(ValueError, match="q"):
        tn.path_percentiles(still.paths, q=(50, 120))


def test_summary_table_and_figure(cut, tmp_path):
    """The JSON object's percentiles are those of the stored paths; the table and the
    figure are written."""
    from hat_jax.report import transition as rep

    result = rep.transition_summary("two_country", cut, {"kind": "global_cut"})
    dp = result["distribution_paths"]
    np.testing.assert_array_equal(dp["assets"], np.asarray(tn.path_percentiles(cut.paths)["assets"]))
    frame = rep.percentile_frame(result)
    assert len(frame) == 3 * T * 2 and list(frame.columns[-5:]) == ["p10", "p25", "p50", "p75", "p90"]
    axes = rep.plot_percentile_paths(result, "H" if "H" in result["countries"] else None)
    assert len(axes) == 3 and len(axes[2].lines) == len(tn.PERCENTILES)
    written = rep.write_transition_outputs(tmp_path, result, plots=True)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"percentiles.csv", "percentile_paths.png"} <= names, written
