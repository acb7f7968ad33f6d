"""Standard errors of the trade elasticity by horizon (model.md s.12 and s.16): the
exact derivatives of the trade-weighted theta_i(h) with respect to the calibrated
parameters (forward mode over the forward-mode elasticities, through the stationary
solve with beta at the target R, the fake-news Jacobian and the linearised path)
against central differences, and ``hat transition --se``."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hat_jax import transition as tn
from hat_jax.calibration import problem_from_world, synthetic_tables

T_CLI = 40  # with a small cut (0.1%), long enough for the terminal gap of the path


@pytest.fixture(scope="module")
def tables_world(tmp_path_factory):
    """A 4-country world from synthetic tables (Na = 10; K = 9 parameters)."""
    from hat_jax.tables import world_from_tables

    folder, _ = synthetic_tables(tmp_path_factory.mktemp("se_trans") / "tables", N=4,
                                 seed=5, Na=10)
    return folder, world_from_tables(folder)


def test_time_series_weights_are_the_ols_slope():
    """The simulated OLS slope is linear in the impulse response: g . irf equals
    time_series_estimate's slope (an independent implementation) for two responses."""
    rng = np.random.default_rng(0)
    g = tn.time_series_weights(12, 0.8, n=3000, seed=4)
    for irf in (rng.normal(size=12), -np.linspace(1.0, 3.0, 12)):
        slope, population = tn.time_series_estimate(irf, 0.8, n=3000, seed=4)
        assert g @ irf == pytest.approx(slope, rel=1e-10)
        assert population == pytest.approx((1 - 0.64) * np.sum(irf * 0.8 ** np.arange(12)))


def test_horizon_elasticities_jacobian_matches_central_differences(tables_world):
    """d theta_i(h) / d params along a random direction v against central differences,
    relative 1e-6; the outputs are horizon_elasticities' trade-weighted means. The
    program is the one `hat transition --data DIR --se FILE` runs (test_transition_se_command
    below, next in this worker, reads it from the persistent cache): the command's
    baseline, options (tolerances aside: traced) and start, T_CLI dates, all K
    directions; the outputs at params -+ h v come from the same program, and the
    derivative along v is the Jacobian times v."""
    from hat_jax.cli import build_parser
    from hat_jax.cli._common import setup_from_args, solve_baseline
    from hat_jax.cli._params_file import delta_method_inputs

    folder, _ = tables_world
    args = build_parser().parse_args(["transition", "--data", str(folder), "--global-cut",
                                      "0.001", "--T", str(T_CLI), "--quiet"])
    setup = setup_from_args(args)
    base = solve_baseline(args, setup)
    params, problem, start = delta_method_inputs(setup, base, "")
    opts = base.opts.replace(tol=1e-12, hh_tol=1e-13)
    v = np.random.default_rng(3).normal(size=params.size)
    v /= np.linalg.norm(v)
    kw = dict(horizon=T_CLI, opts=opts, start=start)
    out, jac, _ = tn.horizon_elasticities_jacobian(params, problem, 0, **kw)
    assert bool(out.converged) and out.fixed_prices.shape == (T_CLI,)
    # the outputs are the command's: horizon_elasticities at the same baseline
    he = tn.horizon_elasticities(base.baseline, 0, horizon=T_CLI, eq_opts=opts)
    for name in ("fixed_prices", "general_equilibrium", "long_run", "time_series",
                 "time_series_population"):
        np.testing.assert_allclose(getattr(out, name), he.mean(name), rtol=1e-8)
    h = 1e-5
    up, dn = (tn.horizon_elasticities_jacobian(params + s * h * v, problem, 0, **kw)[0]
              for s in (1.0, -1.0))
    errors = {}
    for name in ("fixed_prices", "general_equilibrium", "limit_fixed_prices", "long_run",
                 "time_series", "time_series_population", "weights"):
        ad = np.asarray(getattr(jac, name)) @ v
        fd = (np.asarray(getattr(up, name)) - np.asarray(getattr(dn, name))) / (2 * h)
        assert np.max(np.abs(ad)) > 1e-4, name  # the direction moves every output
        errors[name] = np.max(np.abs(fd - ad)) / np.max(np.abs(ad))
    print(errors)
    assert max(errors.values()) < 1e-6, errors


def test_transition_se_checks_the_file(tmp_path, capsys):
    """hat transition --se refuses, before solving, a file that is not an inference.json,
    one whose parameters are not the baseline's, a preset without calibrated parameters,
    and --open-capital-account (naming the option and the fix)."""
    from hat_jax.cli import main

    bad = tmp_path / "inference.json"
    bad.write_text("{}")
    run = ["transition", "ek_baseline", "--Na", "10", "--global-cut", "0.1", "--T", "5",
           "--quiet", "--se"]
    assert main(run + [str(bad)]) == 1
    assert "--se" in capsys.readouterr().err
    bad.write_text(json.dumps({"params": [0.0] * 46, "V_params": np.eye(46).tolist(),
                               "cov": "hc1"}))
    assert main(run + [str(tmp_path)]) == 1
    assert "--params" in capsys.readouterr().err
    assert main(["transition", "two_country", "--global-cut", "0.1", "--T", "5", "--quiet",
                 "--se", str(tmp_path)]) == 1
    assert "no calibrated parameters" in capsys.readouterr().err
    assert main(["transition", "ek_baseline", "--Na", "10", "--open-capital-account",
                 "--T", "5", "--quiet", "--se", str(tmp_path)]) == 1
    assert "--open-capital-account" in capsys.readouterr().err


def test_transition_se_command(tables_world, tmp_path):
    """hat transition --data DIR --se FILE: the JSON's standard errors of the elasticity
    at every horizon are finite and positive, the differentiated estimates are the
    reported elasticity_by_horizon, the 95% intervals are estimate -+ 1.96 s.e., the
    text table shows the s.e. and the figure is written (slow: the forward-over-forward
    program compiles for minutes)."""
    from hat_jax.report.transition import format_transition

    folder, world = tables_world
    K = np.asarray(world.params).size
    V = 1e-3 * (np.eye(K) + 0.2 * np.ones((K, K)))
    se_file = tmp_path / "inference.json"
    se_file.write_text(json.dumps({"params": np.asarray(world.params).tolist(),
                                   "V_params": V.tolist(), "cov": "hc1"}))
    out_dir = tmp_path / "out"
    # a process of its own, as a user runs it: in the test worker, after the
    # finite-difference test's programs, writing this program to the persistent cache
    # crashed XLA:CPU's executable serialization (a segmentation fault, jaxlib 0.10.2)
    r = subprocess.run([sys.executable, "-m", "hat_jax.cli", "transition", "--data",
                        str(folder), "--global-cut", "0.001", "--T", str(T_CLI), "--se",
                        str(se_file), "--json", "--quiet", "--out", str(out_dir), "--plots"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout)
    se, eh = result["standard_errors"], result["elasticity_by_horizon"]
    assert se["cov"] == "hc1" and se["method"] == "delta" and se["converged"]
    for name in ("fixed_prices", "general_equilibrium", "limit_fixed_prices", "long_run",
                 "time_series", "time_series_population"):
        e, x = np.asarray(se[name], float), np.asarray(eh[name], float)
        assert e.shape == x.shape and np.all(np.isfinite(e)) and np.all(e > 0), name
        np.testing.assert_allclose(se["estimates"][name], x, rtol=1e-6, err_msg=name)
        lo, hi = np.moveaxis(np.asarray(se["ci95"][name], float), -1, 0)
        np.testing.assert_allclose(hi - lo, 2 * 1.959963984540054 * e, rtol=1e-12)
    assert (out_dir / "elasticity_by_horizon.png").stat().st_size > 0
    csv = (out_dir / "elasticity_by_horizon.csv").read_text().splitlines()
    assert len(csv) == T_CLI + 1 and "general_equilibrium_se" in csv[0]
    text = format_transition(result)  # the text report of the same result
    assert "s.e. in parentheses, hc1, delta method" in text
    assert f"({se['fixed_prices'][0]:.4f})" in text


def test_transition_standard_errors_object():
    """The "standard_errors" object from given outputs and Jacobian: s.e. by horizon
    sqrt(g' V g) (computed here row by row), 95% intervals, the text table's s.e. and
    the by-horizon CSV's columns."""
    from hat_jax.report.transition import (elasticity_frame, format_transition,
                                           transition_standard_errors)

    rng = np.random.default_rng(2)
    K, H = 4, 3
    A = rng.normal(size=(K, K))
    V = A @ A.T
    draw = lambda *shape: rng.normal(size=shape)  # noqa: E731
    out = tn.HorizonOutputs(draw(H), draw(H), draw(), draw(), draw(H), draw(), draw(),
                            draw(2), draw(), True)
    jac = tn.HorizonOutputs(draw(H, K), draw(H, K), draw(K), draw(K), draw(H, K), draw(K),
                            draw(K), draw(2, K), draw(K), None)
    se = transition_standard_errors(out, jac, V, "hc1", "x/inference.json", {"jacobian_s": 1.0})
    for h in range(H):
        g = jac.general_equilibrium[h]
        assert se["general_equilibrium"][h] == pytest.approx(np.sqrt(g @ V @ g), rel=1e-12)
    assert se["long_run"] == pytest.approx(np.sqrt(jac.long_run @ V @ jac.long_run))
    lo, hi = se["ci95"]["long_run"]
    assert (lo + hi) / 2 == pytest.approx(out.long_run) and hi - lo == pytest.approx(
        2 * 1.959963984540054 * se["long_run"])
    eh = {"importer": "C1", "h": list(range(H)), "rho": 0.9,
          **{k: np.asarray(getattr(out, k)).tolist() for k in (
              "fixed_prices", "general_equilibrium", "limit_fixed_prices", "long_run",
              "time_series")}}
    result = {"countries": ["C1", "C2"], "T": H, "preset": "p", "experiment": {},
              "converged": True, "residual": 0.0, "terminal_gap": 0.0,
              "iterations": {"newton": 1, "jacobians": 1}, "wages": [[1.0, 1.0]] * H,
              "home_share": [[0.5, 0.5]] * H, "R": [1.01] * H,
              "terminal": {"R": 1.01}, "elasticity_by_horizon": eh, "standard_errors": se}
    text = format_transition(result, note="a test")
    assert f"({se['general_equilibrium'][1]:.4f})" in text and "hc1, delta method" in text
    frame = elasticity_frame(result)
    np.testing.assert_allclose(frame["fixed_prices_se"], se["fixed_prices"])
    np.testing.assert_allclose(frame["general_equilibrium_high"] - frame["general_equilibrium"],
                               1.959963984540054 * frame["general_equilibrium_se"], rtol=1e-12)


def test_horizon_elasticities_jacobian_bad_input():
    """Bad arguments are named before anything is compiled or solved."""
    import warnings

    import hat_jax

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        world = hat_jax.ek_world("ek_baseline", Na=10)
    problem = problem_from_world(world)
    params = np.asarray(world.params)
    with pytest.raises(ValueError, match="rho"):
        tn.horizon_elasticities_jacobian(params, problem, "USA", horizon=5, rho=1.0)
    with pytest.raises(ValueError, match="tangents"):
        tn.horizon_elasticities_jacobian(params, problem, "USA", horizon=5,
                                         tangents=np.ones((2, 3)))
    with pytest.raises(ValueError, match="directions"):
        tn.horizon_elasticities_jacobian(params, problem, "USA", horizon=5, directions=0)
    with pytest.raises(ValueError, match="exporters"):
        tn.horizon_outputs(params, problem, "USA", ["USA"], horizon=5)
