"""The parametric bootstrap through ``hat sweep`` (model.md section 16, issue 28):
``--draws K --seed S --from-calibration FILE`` draws the parameters from N(params,
V_params) of a ``hat calibrate --se`` file, and ``hat sweep summarize DIR`` gives
bootstrap standard errors and percentile intervals of every output column."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest

import hat_jax
from hat_jax import cli
from hat_jax import scenarios as sc
from hat_jax.calibration import params_draws
from hat_jax.cli import _common as common
from hat_jax.cli import _sweep as csweep
from hat_jax.report import sweep as rs
from hat_jax.scenarios import _store as sst


def _covariance(K, seed=0, scale=1e-2):
    A = np.random.default_rng(seed).normal(size=(K, K))
    return scale ** 2 * (A @ A.T / K + 0.1 * np.eye(K))


def _inference_file(path, params, V, cov="hc1"):
    path.mkdir(parents=True, exist_ok=True)
    (path / "inference.json").write_text(json.dumps(
        {"params": list(map(float, params)), "V_params": np.asarray(V).tolist(), "cov": cov}))
    return path


@pytest.fixture(scope="module")
def ek_setup():
    args = cli.build_parser().parse_args(["sweep", "ek_baseline", "--Na", "10", "--draws",
                                          "3", "--seed", "5"])
    return args, common.setup_from_args(args)


def test_sampler_has_the_file_covariance():
    """params_draws (the sampler of --from-calibration): the same seed gives the same
    draws, and many draws have the mean params and the covariance V (no solves)."""
    K = 12
    params = np.linspace(-1.0, 1.0, K)
    V = _covariance(K, seed=1, scale=1.0)
    draws = params_draws(params, V, 20000, seed=11)
    np.testing.assert_array_equal(draws[:8], params_draws(params, V, 8, seed=11))
    assert not np.allclose(draws[:8], params_draws(params, V, 8, seed=12))
    sd = np.sqrt(np.diag(V))
    np.testing.assert_allclose(draws.mean(axis=0), params, atol=4 * sd.max() / np.sqrt(20000))
    np.testing.assert_allclose(np.cov(draws.T) / np.outer(sd, sd), V / np.outer(sd, sd),
                               atol=0.04)


def test_from_calibration_scenarios_are_the_file_draws(tmp_path, ek_setup):
    """--from-calibration: the scenarios are params_draws(params, V, K, seed) of the file
    turned into economies (the same fingerprint), reproducible from the seed; the
    manifest records the file, the covariance type and the seed."""
    args, setup = ek_setup
    params = np.asarray(setup.world.params, np.float64)
    V = _covariance(params.size, seed=2)
    f = _inference_file(tmp_path / "cal", params, V, "cluster")
    args = argparse.Namespace(**{**vars(args), "from_calibration": str(f)})
    inf = csweep.read_calibration_covariance(args, setup)
    assert inf[2] == "cluster"
    s = csweep.build_scenarios(args, setup, inf)
    expect = sc.parameter_scenarios(setup.world, params_draws(params, V, 3, 5),
                                    [f"draw_{k}" for k in range(3)], economy=setup.economy)
    assert s.names == ("draw_0", "draw_1", "draw_2")
    assert sc.fingerprint(s) == sc.fingerprint(expect)
    assert sc.fingerprint(csweep.build_scenarios(args, setup, inf)) == sc.fingerprint(s)
    # without --from-calibration: the independent draws of --draw-scale (default 0.02)
    plain = csweep.build_scenarios(ek_setup[0], setup)
    assert sc.fingerprint(plain) == sc.fingerprint(
        sc.parameter_draws(setup.world, 3, 5, 0.02, economy=setup.economy))


def test_from_calibration_refusals(tmp_path, capsys, ek_setup):
    """Refused before solving, naming the option and the file: parameters that are not
    the baseline's (naming the baseline's source), the wrong number of parameters, a
    covariance that is not positive definite, --from-calibration without --draws or with
    --draw-scale."""
    base = ["sweep", "ek_baseline", "--Na", "10", "--draws", "3", "--seed", "1", "--quiet"]
    f = _inference_file(tmp_path / "a", np.zeros(46), np.eye(46))
    assert cli.main(base + ["--from-calibration", str(f)]) == 1
    err = capsys.readouterr().err
    assert "--from-calibration" in err and str(f) in err and "ek_baseline" in err
    assert "--params" in err
    f = _inference_file(tmp_path / "b", np.zeros(5), np.eye(5))
    assert cli.main(base + ["--from-calibration", str(f)]) == 1
    assert "holds 5 parameters" in capsys.readouterr().err
    args, setup = ek_setup
    args = argparse.Namespace(**vars(args))
    params = np.asarray(setup.world.params, np.float64)
    V = _covariance(46)
    V[0, 0] = -V[0, 0]
    args.from_calibration = str(_inference_file(tmp_path / "c", params, V))
    with pytest.raises(ValueError, match="--from-calibration.*not positive definite"):
        csweep.read_calibration_covariance(args, setup)
    assert cli.main(["sweep", "ek_baseline", "--global-cuts", "0.1:0.2:2",
                     "--from-calibration", str(f), "--quiet"]) == 1
    assert "goes with --draws" in capsys.readouterr().err
    assert cli.main(base + ["--draw-scale", "0.1", "--from-calibration", str(f)]) == 1
    assert "--draw-scale and --from-calibration" in capsys.readouterr().err


def _sweep_folder(tmp_path):
    """A finished sweep folder of 6 scenarios x 3 countries (scenario draw_2 did not
    converge; ev_mean_gain only for country B), in 2 chunks."""
    rng = np.random.default_rng(4)
    names = [f"draw_{k}" for k in range(6)]
    countries = ["A", "B", "C"]
    rows = []
    for k, s in enumerate(names):
        for c in countries:
            ok = k != 2
            rows.append({"scenario": s, "country": c, "converged": ok, "iterations": 5 + k,
                         "residual": 1e-12, "trade_residual": 1e-13,
                         "W": rng.normal(1, 0.1) if ok else np.nan,
                         "welfare_change": rng.normal(0, 0.01) if ok else np.nan,
                         "ev_mean_gain": rng.normal(0.02, 0.005) if ok and c == "B"
                         else np.nan, "failure": "" if ok else "maximum iterations"})
    frame = pd.DataFrame(rows)
    man = {"format": sst.SWEEP_FORMAT, "fingerprint": "x", "preset": "test", "options": {},
           "version": hat_jax.__version__, "K": 6, "batch": 3, "n_chunks": 2,
           "chunk_format": "csv", "scenarios": names, "countries": countries, "floored": {},
           "from_calibration": {"file": "cal", "cov": "hc1", "seed": 1}}
    sst.prepare_sweep_folder(tmp_path, man)
    for c in (0, 1):
        sst.write_chunk(tmp_path, man, c, frame.iloc[9 * c:9 * c + 9])
    return frame


def test_summarize_matches_numpy(tmp_path, capsys):
    """hat sweep summarize DIR: per country and output column, se = numpy's std (ddof
    1) and the interval numpy's 2.5/97.5 percentiles over the converged scenarios; the
    non-converged one is excluded and counted; diagnostics and empty columns left out."""
    frame = _sweep_folder(tmp_path)
    rc = cli.main(["sweep", "summarize", str(tmp_path), "--json", "--quiet"])
    assert rc == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["scenarios"] == 6 and obj["used"] == 5 and obj["excluded"] == ["draw_2"]
    assert obj["from_calibration"]["cov"] == "hc1"
    table = pd.read_csv(tmp_path / rs.BOOTSTRAP_FILE)
    assert list(table.columns) == rs.BOOTSTRAP_COLUMNS
    assert set(table["output"]) == {"W", "welfare_change", "ev_mean_gain"}
    assert list(table.loc[table["output"] == "ev_mean_gain", "country"]) == ["B"]
    assert len(obj["bootstrap"]) == len(table) == 7
    ok = frame[frame["converged"]]
    for r in table.itertuples():
        x = ok.loc[ok["country"] == r.country, r.output].to_numpy()
        assert r.draws == 5
        assert r.se == pytest.approx(np.std(x, ddof=1), rel=1e-12)
        assert r.mean == pytest.approx(np.mean(x), rel=1e-12)
        assert r.low == pytest.approx(np.percentile(x, 2.5), rel=1e-12)
        assert r.high == pytest.approx(np.percentile(x, 97.5), rel=1e-12)
    assert (tmp_path / "results.csv").is_file()  # merged on the way
    assert cli.main(["sweep", "summarize", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "5 of 6 scenarios used, 1 not converged and excluded (draw_2)" in out
    assert "hc1" in out and "ev_mean_gain" in out


def test_parametric_bootstrap_end_to_end(tmp_path, capsys):
    """hat calibrate --data DIR --se hc1, then hat sweep --draws 4 --from-calibration
    (the baseline at the calibrated params), then hat sweep summarize: a 4-country
    synthetic world at Na = 10, the tables of test_transition_inference.py and
    test_tariff_inference.py, whose programs it shares (slow: the synthetic data, a
    calibration and a sweep)."""
    from hat_jax.calibration import synthetic_tables

    tables, _ = synthetic_tables(tmp_path / "tables", N=4, seed=5, Na=10)
    cal, sw = tmp_path / "cal", tmp_path / "sw"
    assert cli.main(["calibrate", "--data", str(tables), "--se", "hc1", "--out", str(cal),
                     "--no-figure", "--quiet"]) == 0
    capsys.readouterr()
    # hat counterfactual --se: the delta method's program solves both equilibria and the
    # EV roots again from the parameters; its estimates (the centres of the intervals)
    # agree with the command's own counterfactual, and the s.e. are positive
    assert cli.main(["counterfactual", "--data", str(tables), "--params",
                     str(cal / "params.csv"), "--global-cut", "0.1", "--se", str(cal),
                     "--json", "--quiet"]) == 0
    res = json.loads(capsys.readouterr().out)
    se = res["standard_errors"]
    assert se["cov"] == "hc1" and se["method"] == "delta"
    for name in ("mean_gain_pct", "acr_theta_pct"):
        lo, hi = se["ci95"][name]
        assert (lo + hi) / 2 == pytest.approx(res[name], rel=1e-6, abs=1e-9)
        assert hi - lo == pytest.approx(2 * 1.959963984540054 * se[name], rel=1e-12)
        assert np.isfinite(se[name]) and se[name] > 0
    ev_se = np.asarray(se["ev"], np.float64)  # every household state's EV
    assert ev_se.shape[0] == 10 and np.all(np.isfinite(ev_se)) and np.all(ev_se >= 0)
    run = ["sweep", "--data", str(tables), "--draws", "4", "--seed", "2",
           "--from-calibration", str(cal), "--out", str(sw), "--quiet"]
    assert cli.main(run) == 1  # the preset's own params are not the calibration's
    assert "--params" in capsys.readouterr().err
    assert cli.main(run + ["--params", str(cal / "params.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["converged"] == 4
    man = json.loads((sw / sst.SWEEP_MANIFEST).read_text())
    assert man["from_calibration"] == {"file": str(cal), "cov": "hc1", "seed": 2}
    assert cli.main(["sweep", "summarize", str(sw), "--json", "--quiet"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["used"] == 4 and obj["excluded"] == []
    results = pd.read_csv(sw / "results.csv")
    table = pd.read_csv(sw / rs.BOOTSTRAP_FILE)
    w = table[(table["country"] == "C1") & (table["output"] == "W")].iloc[0]
    x = results.loc[results["country"] == "C1", "W"].to_numpy()
    assert w["se"] == pytest.approx(np.std(x, ddof=1), rel=1e-9) and w["se"] > 0
    assert w["low"] == pytest.approx(np.percentile(x, 2.5), rel=1e-9)
