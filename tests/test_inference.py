"""Statistical inference (model.md section 16): the moment covariance V_m against
statsmodels, V_params = G^{-1} V_m G^{-T}, and the delta method against central
differences through a full re-calibration."""

import warnings

import numpy as np
import pytest

from hat_jax.data import DataWarning, load_ek2002
from hat_jax.calibration import (coefficient_covariance,
                                 moment_covariance, params_covariance)
import jax
import jax.numpy as jnp

from hat_jax._gravity import gravity_design, make_gravity_regression, offdiag_indices

sm = pytest.importorskip("statsmodels.api")

SM_COV = {"classical": ("nonrobust", {}), "hc1": ("HC1", {}), "cluster": ("cluster", None)}


@pytest.fixture(scope="module")
def ek(data_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return load_ek2002(data_dir)


def _groups(n):
    rows, cols = offdiag_indices(n)
    return np.minimum(rows, cols) * n + np.maximum(rows, cols)


def _statsmodels(trade, geo, estimator, cov):
    X = np.asarray(gravity_design(geo))
    rows, cols = offdiag_indices(geo.n)
    y = np.asarray(trade)[rows, cols]
    cov_type, kw = SM_COV[cov]
    if kw is None:
        kw = {"groups": _groups(geo.n)}
    if estimator == "ols":
        fit = sm.OLS(y, X).fit(cov_type=cov_type, cov_kwds=kw or None)
    else:
        fit = sm.GLM(np.exp(y), X, family=sm.families.Poisson()).fit(
            cov_type=cov_type, cov_kwds=kw or None, tol=1e-14)
    return fit.params, fit.cov_params()


def _zero_flow_trade(ek):
    """The EK data with six flows set to zero (three pairs, both directions)."""
    y = np.array(ek.trade)
    for i, j in ((0, 7), (3, 12), (5, 17)):
        y[i, j] = y[j, i] = -np.inf
    return y


@pytest.mark.parametrize("cov", ["classical", "hc1", "cluster"])
@pytest.mark.parametrize("estimator", ["ols", "ppml"])
def test_coefficient_covariance_matches_statsmodels(ek, estimator, cov):
    geo = ek.geography()
    b, V = coefficient_covariance(ek.trade, geo, estimator, cov)
    b_sm, V_sm = _statsmodels(ek.trade, geo, estimator, cov)
    np.testing.assert_allclose(b, b_sm, rtol=1e-8, atol=1e-10)
    scale = np.max(np.abs(V_sm))
    np.testing.assert_allclose(V, V_sm, rtol=1e-8, atol=1e-8 * scale)
    assert np.all(np.linalg.eigvalsh(V) > 0)


@pytest.mark.parametrize("cov", ["classical", "hc1", "cluster"])
def test_ppml_covariance_with_zero_flows(ek, cov):
    geo = ek.geography()
    y = _zero_flow_trade(ek)
    b, V = coefficient_covariance(y, geo, "ppml", cov)
    b_sm, V_sm = _statsmodels(y, geo, "ppml", cov)
    np.testing.assert_allclose(b, b_sm, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(V, V_sm, rtol=1e-8, atol=1e-8 * np.max(np.abs(V_sm)))
    with pytest.raises(ValueError, match="zero flow"):
        coefficient_covariance(y, geo, "ols", cov)


def test_moment_covariance_layout(ek):
    """V_m is the covariance of (S_1..18, m_1..18, coefficients): check it through the
    linearity of the OLS moments in y (moments = P y, so V_m = P V_y P' for V_y = I s^2)."""
    geo = ek.geography()
    V_m = moment_covariance(ek.trade, geo, "ols", "classical")
    rows, cols = offdiag_indices(geo.n)
    regress = make_gravity_regression(geo)  # linear in y: its Jacobian is the map
    P = np.asarray(jax.jacfwd(lambda y: regress(y).moment_vector())(
        jnp.zeros((geo.n, geo.n))))[:, rows, cols]
    b, _ = coefficient_covariance(ek.trade, geo, "ols", "classical")
    X = np.asarray(gravity_design(geo))
    e = np.asarray(ek.trade)[rows, cols] - X @ b
    s2 = e @ e / (rows.size - 46)
    np.testing.assert_allclose(V_m, s2 * P @ P.T, rtol=1e-9, atol=1e-12)
    # the published EK-style standard errors are of the right size (distance ~0.15-0.2)
    se = np.sqrt(np.diag(V_m))[36:42]
    assert np.all((se > 0.05) & (se < 0.5))


def test_params_covariance_identity():
    rng = np.random.default_rng(0)
    G = rng.normal(size=(5, 5)) + 3 * np.eye(5)
    A = rng.normal(size=(5, 5))
    V_m = A @ A.T
    V = params_covariance(G, V_m)
    np.testing.assert_allclose(G @ V @ G.T, V_m, rtol=1e-10, atol=1e-12)


def test_bad_cov_type(ek):
    with pytest.raises(ValueError, match="cov"):
        moment_covariance(ek.trade, ek.geography(), "ols", "hc3")


def test_calibrate_se_command(tmp_path):
    """hat calibrate synthetic --se cluster: Table 1 with standard errors in three formats,
    consistent with V_params = G^{-1} V_m G^{-T} and V_m of the problem's data."""
    import json
    import subprocess
    import sys

    import pandas as pd

    out = tmp_path / "cal"
    r = subprocess.run([sys.executable, "-m", "hat_jax.cli", "calibrate", "synthetic",
                        "--out", str(out), "--se", "cluster", "--no-figure", "--quiet",
                        "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["inference"]["cov"] == "cluster"
    inf = json.loads((out / "inference.json").read_text())
    V, G, V_m = (np.asarray(inf[k]) for k in ("V_params", "G", "V_m"))
    np.testing.assert_allclose(G @ V @ G.T, V_m, rtol=1e-8, atol=1e-12 * np.abs(V_m).max())
    np.testing.assert_allclose(inf["se"], np.sqrt(np.diag(V)), rtol=1e-12)
    table = pd.read_csv(out / "table1.csv")
    np.testing.assert_allclose(table["se"], inf["se"], rtol=1e-12)
    # moments without sampling variance (diag V_m zero up to rounding, which can fall
    # either side of 0: -2.4e-16 against 1.5e-4 with XLA at -O1) have a data s.e. of 0:
    # the library takes sqrt(max(var, 0))
    var_m = np.diag(V_m)
    assert np.all(var_m >= -1e-10 * var_m.max())
    np.testing.assert_allclose(table["data_se"], np.sqrt(np.maximum(var_m, 0.0)), rtol=1e-12)
    assert obj["inference"]["parameters"]["border"]["se"] == pytest.approx(
        inf["se"][inf["parameter_names"].index("border")])
    tex = (out / "table1.tex").read_text()
    assert tex.startswith(r"\begin{tabular}") and "dist\\_1" in tex and "EFTA" in tex
    # G computed at the converged point is kept in the checkpoint: a resumed calibration
    # has it at hand (no second Jacobian), and gives the same G
    r = subprocess.run([sys.executable, "-m", "hat_jax.cli", "calibrate", "synthetic",
                        "--out", str(out), "--resume", "--se", "hc1", "--no-figure",
                        "--quiet", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    again = json.loads((out / "inference.json").read_text())
    assert inf["timings"]["jacobian_s"] > 0 and again["timings"]["jacobian_s"] == 0
    assert again["cov"] == "hc1"
    np.testing.assert_array_equal(np.asarray(again["G"]), G)


# ------------------------------------------------------- delta method through the calibration


@pytest.fixture(scope="module")
def synthetic():
    """A 6-country synthetic world (Na = 20) whose data are the model's moments at known
    parameters (so the calibrated parameters are those), and its Jacobian G there."""
    from hat_jax.calibration import (CALIBRATION_EQUILIBRIUM, moments_and_jacobian,
                                     synthetic_problem)

    problem, theta, W, beta = synthetic_problem(N=6, Na=20)
    gaps, G, ev = moments_and_jacobian(theta, problem, W0=W, beta0=beta)
    assert np.max(np.abs(gaps)) < 1e-10
    return problem, theta, W, beta, G, CALIBRATION_EQUILIBRIUM


def test_counterfactual_delta_method_through_recalibration(synthetic):
    """d output / d m_data = (d output / d params) G^{-1} (AD through both equilibria and
    the EV roots, the calibration map by the implicit function theorem) against central
    differences through a full re-calibration at m_data -+ h v."""
    import jax.numpy as jnp
    import equinox as eqx

    import hat_jax
    from hat_jax import welfare as wf
    from hat_jax.calibration import (CalibrationOptions, Start, calibrate, trade_costs,
                                     unpack_params)

    problem, theta, W, beta, G, eq_opts = synthetic
    econ = problem.economy.replace(d=np.asarray(trade_costs(unpack_params(theta),
                                                            problem.geography)))
    cut = hat_jax.Change.global_cut(econ, 0.1)
    ev_opts = wf.EVOptions(tol=1e-12, hh_tol=1e-12)
    kw = dict(estimate=theta, opts=eq_opts, ev_opts=ev_opts)
    out, jac, _ = wf.counterfactual_jacobian(theta, problem, cut, 0,
                                             start=hat_jax.Start(W=W, beta=beta), **kw)
    assert bool(out.converged)
    v = np.random.default_rng(3).normal(size=theta.size)
    v /= np.linalg.norm(v)
    dparams = np.linalg.solve(G, v)  # d params along m_data + h v
    # the discretised model is piecewise smooth (a policy crossing an asset-grid node moves
    # the lottery weights' derivative), so the steps stay small: at h = 1e-4 some moments
    # already differ from their derivative by 1e-4 relative, not at 1e-5
    h = 1e-5
    opts = CalibrationOptions(tol=1e-12, verbose=False)
    ends = []
    for s in (1.0, -1.0):
        p = eqx.tree_at(lambda q: q.target, problem, problem.target + s * h * jnp.asarray(v))
        r = calibrate(p, Start(theta, W, beta, "estimate"), opts)
        np.testing.assert_allclose((r.params - theta) / (s * h), dparams, rtol=1e-3,
                                   atol=1e-3 * np.abs(dparams).max())
        ends.append(wf.counterfactual_outputs(
            r.params, problem, cut, 0, start=hat_jax.Start(W=r.W, beta=r.beta), **kw))
    errors, sizes = {}, {}
    for name in ("mean_ev", "acr", "W", "R", "ev"):
        ad = np.asarray(getattr(jac, name)) @ dparams
        fd = (np.asarray(getattr(ends[0], name)) - np.asarray(getattr(ends[1], name))) / (2 * h)
        sizes[name] = np.max(np.abs(ad))
        errors[name] = np.max(np.abs(fd - ad)) / sizes[name]
    print(errors, sizes)
    # the outputs the delta method reports: relative 1e-5
    assert max(errors[k] for k in ("mean_ev", "acr", "W")) < 1e-5, errors
    # R_new barely moves along this direction, and the EV of single states carries the
    # per-state root tolerance: absolute agreement
    # (measured: mean EV 6e-8, ACR 6e-8, wages 2e-7, EV of single states 4e-6)
    assert errors["R"] * sizes["R"] < 1e-8 and errors["ev"] < 1e-4, (errors, sizes)


def test_counterfactual_se_checks_the_file(tmp_path, capsys):
    """--se refuses, before solving, a file that is not an inference.json and one whose
    parameters are not the baseline's (naming the option and the fix)."""
    import json

    from hat_jax.cli import main

    bad = tmp_path / "inference.json"
    bad.write_text("{}")
    assert main(["counterfactual", "ek_baseline", "--Na", "10", "--global-cut", "0.1",
                 "--se", str(bad), "--quiet"]) == 1
    assert "--se" in capsys.readouterr().err
    bad.write_text(json.dumps({"params": [0.0] * 46, "V_params": np.eye(46).tolist(),
                               "cov": "hc1"}))
    assert main(["counterfactual", "ek_baseline", "--Na", "10", "--global-cut", "0.1",
                 "--se", str(tmp_path), "--quiet"]) == 1
    assert "--params" in capsys.readouterr().err


def test_change_rule_keeps_proportions():
    """A global cut moves with the parameters as a proportion; floored costs and the
    diagonal stay at 1; a cost matrix given outright does not move."""
    import hat_jax
    from hat_jax import welfare as wf

    econ = hat_jax.two_country(Na=10)
    d = np.array([[1.0, 1.05], [1.5, 1.0]])
    econ = econ.replace(d=d)
    cut = hat_jax.Change.global_cut(econ, 0.1)
    level, scale, fixed = (np.asarray(a) for a in wf.change_rule(cut, econ)["d"])
    np.testing.assert_array_equal(fixed, [[True, True], [False, True]])  # 1.05*0.9 < 1
    assert scale[1, 0] == pytest.approx(0.9)
    own = hat_jax.Change.costs(econ, np.array([[1.0, 1.2], [1.3, 1.0]]))
    assert np.all(np.asarray(wf.change_rule(own, econ)["d"][2]))
    # at other parameters the cut keeps its proportion, floored at 1 under the cost floor
    rule = wf.change_rule(cut, econ)
    moved = wf.apply_change_rule(rule, econ.replace(d=np.array([[1.0, 1.3], [1.05, 1.0]])))
    np.testing.assert_allclose(np.asarray(moved.d), np.ones((2, 2)), rtol=1e-15)  # 0.945 -> 1
    free = econ.replace(cost_floor=False)
    moved = wf.apply_change_rule(wf.change_rule(cut, free),
                                 free.replace(d=np.array([[1.0, 1.3], [1.05, 1.0]])))
    assert float(moved.d[1, 0]) == pytest.approx(0.945)


def test_bootstrap_draws_and_delta_method(ek):
    """Parametric bootstrap machinery: draws from N(params, V) reproduce V (seeded, so
    the same seed gives the same draws), and for the trade-cost levels exp(-x/4) of the
    distance coefficients the bootstrap and the delta method agree within 3%."""
    from hat_jax.calibration import (bootstrap_summary, delta_method_se, params_draws)

    geo = ek.geography()
    b, V = coefficient_covariance(ek.trade, geo, "ols", "hc1")
    draws = params_draws(b, V, 4000, seed=7)
    np.testing.assert_allclose(draws[:5], params_draws(b, V, 5, seed=7), rtol=1e-12)
    np.testing.assert_allclose(np.cov(draws.T), V, atol=0.1 * np.abs(V).max())
    dist = slice(36, 42)
    boot = bootstrap_summary(np.exp(-draws[:, dist] / 4.0))
    J = np.zeros((6, b.size))
    J[np.arange(6), np.arange(36, 42)] = -np.exp(-b[dist] / 4.0) / 4.0
    delta = delta_method_se(J, V)
    np.testing.assert_allclose(boot["se"], delta, rtol=0.03)
    assert np.all(boot["low"] < np.exp(-b[dist] / 4.0)) and np.all(boot["draws"] == 4000)
    with pytest.raises(ValueError, match="draws"):
        params_draws(b, V, 0)


def test_quintile_means_and_smoothed_share():
    """The differentiable quintile means equal weighted_quantile_means; their derivative
    (order held, masses moving with the weights) and that of the smoothed share agree with
    central differences; the smoothed share tends to the exact one as h -> 0 and its
    derivative carries the mass crossing zero (a uniform shift of the gains)."""
    import jax
    import jax.numpy as jnp

    from hat_jax import welfare as wf

    rng = np.random.default_rng(4)
    x, key = rng.normal(size=(12, 3)), rng.uniform(size=(12, 3))
    w = rng.uniform(0.1, 1.0, size=(12, 3))
    np.testing.assert_allclose(np.asarray(wf.quintile_means(jnp.asarray(x), key, w)),
                               wf.weighted_quantile_means(x, key, w), rtol=1e-13)
    dx, dw = rng.normal(size=x.shape), rng.normal(size=w.shape)

    def f(s):
        return wf.quintile_means(jnp.asarray(x + s * dx), key, jnp.asarray(w + s * dw))

    ad = jax.jvp(f, (0.0,), (1.0,))[1]
    h = 1e-6
    np.testing.assert_allclose(ad, (f(h) - f(-h)) / (2 * h), rtol=1e-7)
    exact, smooth, bw = wf.smoothed_share(jnp.asarray(x), jnp.asarray(w))
    assert float(exact) == pytest.approx(np.sum(w * (x > 0)) / np.sum(w), rel=1e-14)
    assert abs(float(smooth) - float(exact)) < 0.1 and float(bw) > 0
    g = lambda s: wf.smoothed_share(jnp.asarray(x + s), jnp.asarray(w))[1]  # noqa: E731
    d_shift = float(jax.jvp(g, (0.0,), (1.0,))[1])
    assert d_shift == pytest.approx(float((g(h) - g(-h)) / (2 * h)), rel=1e-6)
    assert d_shift > 0.1  # shifting every gain up raises the share: mass crosses zero


def test_counterfactual_standard_errors_object():
    """The standard_errors object: delta-method s.e. sqrt(J V J') of every output, the
    quintiles and the smoothed share included, with 95% intervals around the estimates."""
    from hat_jax import welfare as wf
    from hat_jax.report.welfare import counterfactual_standard_errors

    K = 3
    rng = np.random.default_rng(1)
    vals = dict(W=np.ones(2), R=np.asarray(1.01), mean_ev=np.asarray(0.01),
                ev=np.ones((4, 2)), acr=np.asarray(0.02), home_share=np.asarray(0.5),
                home_share_new=np.asarray(0.45), beta=np.asarray(0.9),
                converged=np.asarray(True), quintile_ev=np.linspace(0.005, 0.015, 5),
                share_gain=np.asarray(0.7), share_gain_smooth=np.asarray(0.69),
                share_bandwidth=np.asarray(0.003))
    out = wf.CounterfactualOutputs(**vals)
    jac = wf.CounterfactualOutputs(**{k: rng.normal(size=np.shape(v) + (K,))
                                      for k, v in vals.items()})
    V = np.diag([0.01, 0.04, 0.09])
    se = counterfactual_standard_errors(out, jac, V, "hc1", "inference.json")
    sd = lambda J: np.sqrt(np.einsum("...k,kl,...l->...", J, V, J))  # noqa: E731
    np.testing.assert_allclose(se["quintile_gains_pct"], 100 * sd(jac.quintile_ev), rtol=1e-12)
    assert se["share_gain"] == pytest.approx(float(sd(jac.share_gain_smooth)), rel=1e-12)
    assert se["share_gain_bandwidth"] == pytest.approx(0.003)
    lo, hi = se["ci95"]["share_gain"]
    assert lo < 0.7 < hi and hi - 0.7 == pytest.approx(1.959963984540054 * se["share_gain"])
    q_lo, q_hi = np.asarray(se["ci95"]["quintile_gains_pct"]).T
    np.testing.assert_allclose((q_lo + q_hi) / 2, 100 * vals["quintile_ev"], rtol=1e-12)
    assert se["mean_gain_pct"] == pytest.approx(100 * float(sd(jac.mean_ev)), rel=1e-12)
    # ev.csv's s.e. of every state and the figures' 95% band and error bars
    from hat_jax.report.welfare import ev_frame, plot_ev_by_assets, plot_quintile_gains

    result = {"ev": vals["ev"] * 1.01, "distribution": np.full((4, 2), 0.125),
              "assets": np.arange(4.0), "z": np.array([0.5, 1.5]), "country": "H",
              "quintile_gains_pct": 100 * vals["quintile_ev"], "mean_gain_pct": 1.0,
              "acr_pct": 2.0, "theta_model": -4.0, "standard_errors": se}
    frame = ev_frame(result)
    np.testing.assert_allclose(frame["ev_se"], sd(jac.ev).ravel(), rtol=1e-12)
    np.testing.assert_allclose(frame["gain_pct_se"], 100 * frame["ev_se"], rtol=1e-12)
    assert "ev_se" not in ev_frame({**result, "standard_errors": None}).columns
    ax = plot_ev_by_assets(result)
    band = ax.collections[0].get_paths()[0].vertices[:, 1]  # the first state's band
    half = 100 * 1.959963984540054 * sd(jac.ev)[:, 0]
    np.testing.assert_allclose([band.min(), band.max()], [1 - half.max(), 1 + half.max()],
                               rtol=1e-9)
    from matplotlib.container import BarContainer

    ax = plot_quintile_gains(result)
    bars = next(c for c in ax.containers if isinstance(c, BarContainer))
    segments = bars.errorbar.lines[2][0].get_segments()  # one vertical bar per quintile
    np.testing.assert_allclose([seg[1, 1] - seg[0, 1] for seg in segments],
                               2 * 1.959963984540054 * np.asarray(se["quintile_gains_pct"]),
                               rtol=1e-9)


def test_counterfactual_outputs_from_the_baseline_start(synthetic):
    """A draw of the bootstrap starts from the estimate's baseline (prices, household
    state, Newton Jacobian): the outputs are those of a start from the prices alone (the
    same roots to their tolerances), and the diagnostics say that both equilibria and
    every EV root converged. (The world, options and price start of the delta-method
    test above, so that the start from the prices is that test's compiled program.)"""
    import hat_jax
    from hat_jax import welfare as wf
    from hat_jax.calibration import trade_costs, unpack_params

    problem, theta, W, beta, _, eq_opts = synthetic
    econ = problem.economy.replace(d=np.asarray(trade_costs(unpack_params(theta),
                                                            problem.geography)))
    cut = hat_jax.Change.global_cut(econ, 0.1)
    ev_opts = wf.EVOptions(tol=1e-12, hh_tol=1e-12)
    kw = dict(estimate=theta, opts=eq_opts, ev_opts=ev_opts)
    eq = hat_jax.solve_equilibrium(econ, eq_opts, hat_jax.Start(W=W, beta=beta, R=problem.R))
    assert eq.jacobian is not None and np.shape(eq.jacobian) == (6, 6)
    starts = (hat_jax.Start(W=W, beta=beta),
              hat_jax.Start(W=eq.W, beta=eq.beta, state=eq.world.households.state,
                            J=eq.jacobian))
    outs = [wf.counterfactual_outputs(theta, problem, cut, 0, start=s, **kw) for s in starts]
    for o in outs:
        assert bool(o.converged) and bool(o.equilibria_converged) and int(o.ev_failed) == 0
        assert 0.0 <= float(o.ev_residual) <= ev_opts.tol
    a, b = outs
    assert abs(float(a.mean_ev)) > 1e-4  # a real gain
    np.testing.assert_allclose(b.W, a.W, rtol=1e-10)
    assert float(b.mean_ev) == pytest.approx(float(a.mean_ev), rel=1e-7)
