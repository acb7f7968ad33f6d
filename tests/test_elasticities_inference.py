"""Standard errors of the trade elasticities (model.md s.16): the exact Jacobian of the
elasticities with respect to the calibrated parameters against central differences, and
``hat elasticities --se``. Both use the 4-country world from synthetic tables of the
other --se commands' tests (tests/test_transition_inference.py,
tests/test_tariff_inference.py), so that the check compiles the command's program and
the command reads it from the persistent cache."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tables4(tmp_path_factory):
    """A 4-country world from synthetic tables (Na = 10; K = 9 parameters): the world of
    the --se commands' tests (here, tests/test_transition_inference.py)."""
    from hat_jax.calibration import synthetic_tables

    folder, _ = synthetic_tables(tmp_path_factory.mktemp("tables4") / "tables", N=4, seed=5,
                                 Na=10)
    return folder


@pytest.fixture(scope="module")
def se_inputs(tables4):
    """What `hat elasticities --data DIR --se FILE` gives its Jacobian program: the
    command's baseline (parsed, set up and solved by the CLI's own functions) and its
    (params, problem, start)."""
    from hat_jax.cli import build_parser
    from hat_jax.cli._common import setup_from_args, solve_baseline
    from hat_jax.cli._params_file import delta_method_inputs

    args = build_parser().parse_args(["elasticities", "--data", str(tables4), "--quiet"])
    setup = setup_from_args(args)
    base = solve_baseline(args, setup)
    theta, problem, start = delta_method_inputs(setup, base, "")
    return base, theta, problem, start


def test_elasticities_jacobian_matches_central_differences(se_inputs):
    """d theta / d params by forward over forward mode (the equilibrium's and the
    household fixed point's implicit derivatives, the latter differentiated once more)
    against central differences of the elasticities re-solved at params -+ h v, along a
    random direction v; the Proposition-3 identity theta = 1 + I + E - I_home - E_home
    holds for the values and for their derivatives. The program is the one `hat
    elasticities --data DIR --importer C1 --se FILE` runs (the command's baseline,
    options and start, all K directions; test_elasticities_se_command reads it from the
    persistent cache); the outputs at params -+ h v come from it too."""
    from hat_jax.calibration import elasticities_jacobian

    base, theta, problem, start = se_inputs
    v = np.random.default_rng(7).normal(size=theta.size)
    v /= np.linalg.norm(v)
    kw = dict(start=start, opts=base.opts.replace(tol=1e-12), hh_tol=1e-13)
    rows = ["C1"]  # the command's --importer
    out, jac, _ = elasticities_jacobian(theta, problem, rows, **kw)
    assert bool(out.converged) and out.theta.shape == (1, 4)
    assert jac.theta.shape == (1, 4, theta.size)
    off = ~np.eye(4, dtype=bool)[[0]]
    np.testing.assert_array_equal(np.asarray(out.theta)[~off], 1.0)  # theta_ii = 1
    np.testing.assert_array_equal(np.asarray(jac.theta)[~off], 0.0)
    rebuilt = 1 + out.intensive + out.extensive - out.intensive_home - out.extensive_home
    np.testing.assert_allclose(np.asarray(rebuilt)[off], np.asarray(out.theta)[off],
                               atol=1e-12)
    d_rebuilt = jac.intensive + jac.extensive - jac.intensive_home - jac.extensive_home
    np.testing.assert_allclose(np.asarray(d_rebuilt)[off], np.asarray(jac.theta)[off],
                               atol=1e-12)
    # h: the discretised model is piecewise smooth (a policy crossing an asset-grid node),
    # so the step stays small; the solves are tight (1e-12, 1e-13) so the differences
    # carry ~1e-9
    h = 1e-5
    a, b = (elasticities_jacobian(theta + s * h * v, problem, rows, **kw)[0]
            for s in (1.0, -1.0))
    for name in ("theta", "theta_mean", "intensive", "extensive", "intensive_home",
                 "extensive_home", "W"):
        ad = np.asarray(getattr(jac, name)) @ v
        fd = (np.asarray(getattr(a, name)) - np.asarray(getattr(b, name))) / (2 * h)
        assert np.max(np.abs(ad)) > 1e-4, name  # a derivative that moves
        np.testing.assert_allclose(fd, ad, rtol=0, atol=1e-6 * np.max(np.abs(ad)),
                                   err_msg=name)


def test_elasticities_jacobian_bad_input(se_inputs):
    """Bad arguments are named before anything is traced (the command's world of the
    test above: its baseline is solved once, no program of its own)."""
    from hat_jax import EquilibriumOptions
    from hat_jax.calibration import elasticities_jacobian

    _, theta, problem, _ = se_inputs
    K = theta.size
    with pytest.raises(ValueError, match="directions must be"):
        elasticities_jacobian(theta, problem, 0, directions=np.ones((2, K + 1)))
    with pytest.raises(ValueError, match=f"params must hold the problem's {K}"):
        elasticities_jacobian(theta[:-1], problem, 0)
    with pytest.raises(ValueError, match="opts.unknown must be 'beta'"):
        elasticities_jacobian(theta, problem, 0, opts=EquilibriumOptions(unknown="R"))
    with pytest.raises(ValueError, match="importer.*'Mars'"):
        elasticities_jacobian(theta, problem, ["C1", "Mars"])
    with pytest.raises(ValueError, match="empty list"):
        elasticities_jacobian(theta, problem, [])


def test_elasticities_se_checks_the_file(tmp_path, capsys):
    """hat elasticities --se refuses, before solving, a world without calibrated
    parameters and a file whose parameters are not the baseline's (naming --se and the
    fix)."""
    import json

    from hat_jax.cli import main

    f = tmp_path / "inference.json"
    f.write_text(json.dumps({"params": [0.0] * 46, "V_params": np.eye(46).tolist(),
                             "cov": "hc1"}))
    assert main(["elasticities", "two_country", "--Na", "40", "--se", str(f),
                 "--quiet"]) == 1
    msg = capsys.readouterr().err
    assert "--se" in msg and "no calibrated parameters" in msg
    assert main(["elasticities", "ek_baseline", "--Na", "10", "--se", str(tmp_path),
                 "--quiet"]) == 1
    msg = capsys.readouterr().err
    assert "--se" in msg and "--params" in msg


@pytest.mark.filterwarnings("ignore::hat_jax.data.DataWarning")
def test_elasticities_se_command(tables4, tmp_path, capsys):
    """hat elasticities --data DIR --importer C1 --se FILE (a 4-country world from
    synthetic tables, Na = 10: the world of tests/test_transition_inference.py's CLI
    test): standard errors of C1's theta_ij, mean and margins (finite, positive off the
    diagonal, rows not computed null), the 95% interval around the estimate, the --out
    files and the text report."""
    import json

    import pandas as pd

    from hat_jax.cli import main
    from hat_jax.report.elasticities import format_standard_errors
    from hat_jax.tables import world_from_tables

    folder = tables4
    world = world_from_tables(folder)
    params = np.asarray(world.params, np.float64)
    V = np.diag(np.full(params.size, 1e-4))
    (tmp_path / "inference.json").write_text(json.dumps(
        {"params": params.tolist(), "V_params": V.tolist(), "cov": "hc1"}))
    out = tmp_path / "out"
    assert main(["elasticities", "--data", str(folder), "--importer", "C1", "--se",
                 str(tmp_path), "--json", "--quiet", "--out", str(out)]) == 0
    res = json.loads(capsys.readouterr().out)
    se = res["standard_errors"]
    c = res["countries"]
    i = c.index("C1")
    assert se["importers"] == ["C1"] and se["method"] == "delta" and se["cov"] == "hc1"
    row = np.asarray(se["theta"][i], float)
    off = np.arange(len(c)) != i
    assert row[i] == 0.0 and np.all(np.isfinite(row[off])) and np.all(row[off] > 0)
    assert all(se["theta"][k][0] is None for k in range(len(c)) if k != i)
    for k in ("intensive", "extensive", "intensive_home", "extensive_home"):
        m = np.asarray(se["margins"][k][i], float)
        assert np.all(np.isfinite(m)) and np.all(m[off] > 0) and m[i] == 0.0, k
    lo, hi = se["ci95"]["theta_mean"][i]
    assert (lo + hi) / 2 == pytest.approx(res["theta_mean"][i], rel=1e-12)
    assert (hi - lo) / 2 == pytest.approx(1.959963984540054 * se["theta_mean"][i], rel=1e-12)
    theta_se = pd.read_csv(out / "theta_se.csv", index_col=0)
    assert theta_se.loc["C1", "C2"] == pytest.approx(row[c.index("C2")], rel=1e-12)
    pairs = pd.read_csv(out / "pairs.csv")
    c1 = pairs[(pairs.importer == "C1") & (pairs.exporter == "C2")].iloc[0]
    assert c1["theta_se"] == pytest.approx(row[c.index("C2")], rel=1e-12)
    rebuilt = 1 + c1["intensive"] + c1["extensive"] - c1["intensive_home"] - c1[
        "extensive_home"]
    assert rebuilt == pytest.approx(c1["theta"], abs=1e-9)
    assert "theta_se" in pd.read_csv(out / "partners_C1.csv").columns
    text = format_standard_errors(res)  # the lines the report adds
    j = c.index("C2")
    assert f"{res['theta'][i][j]:.4f} ({row[j]:.4f})" in text and "C1 <- C2" in text
