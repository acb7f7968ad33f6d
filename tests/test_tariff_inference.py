"""Standard errors of the optimal tariff (model.md s.14 and s.16): the implicit-function
derivative of the optimum and the envelope derivative of its welfare gain against
central differences of optima re-solved at perturbed parameters, and ``hat tariff --se``."""

import json

import numpy as np
import pytest

import hat_jax
from hat_jax import policy
from hat_jax.model import economy_from_params
from hat_jax.welfare import utilitarian_welfare

OPTS = hat_jax.EquilibriumOptions(unknown="beta")
COUNTRY_FD = "C1"  # the finite-difference check's country (the s.e. command's: C2)


def _tariff_json(folder, params, inference, country, capsys) -> dict:
    """``hat tariff --data folder --params params --country C --se inference --json``,
    in-process (the tests of this file share its compiled Jacobian program)."""
    from hat_jax.cli import main

    assert main(["tariff", "--data", str(folder), "--params", str(params), "--country",
                 country, "--se", str(inference), "--json", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


def _optimum(problem, params, i, start=None):
    """Country i's uniform optimum (FOC to 1e-11) on the baseline of ``params`` (beta
    solved at the target R) and that baseline's welfare of country i."""
    econ = economy_from_params(np.asarray(params), problem.economy, problem.geography,
                               problem.theta_d)
    eq = hat_jax.solve_equilibrium(econ, OPTS, hat_jax.Start(R=problem.R))
    b = hat_jax.Baseline.from_equilibrium(eq, OPTS)
    opt = policy.optimal_tariff(b, i, gtol=1e-10, coarse=0, start=start)
    assert opt.converged
    return opt, float(utilitarian_welfare(eq)[i])


def test_optimal_tariff_derivative_matches_reoptimised_central_differences(tables_world,
                                                                           tmp_path, capsys):
    """dt*/dTheta = -H^{-1} g_Theta (exact second derivatives through both equilibria)
    and dG/dTheta (envelope theorem) against optima re-solved at Theta -+ h v, and
    ``hat tariff --se``'s report of them: with V_params = v v' its s.e. of a quantity x
    is |dx/dTheta v|. The command compiles the Jacobian program (1 + 9 directions in two
    blocks of 5); the library call here, with the command's baseline options and start,
    and test_tariff_se_command_end_to_end reuse it."""
    from hat_jax.cli import build_parser
    from hat_jax.cli._common import setup_from_args, solve_baseline
    from hat_jax.cli._params_file import delta_method_problem

    folder, params_csv, _ = tables_world
    args = build_parser().parse_args(["tariff", "--data", str(folder), "--params",
                                      str(params_csv), "--quiet"])
    setup = setup_from_args(args)
    params, problem = delta_method_problem(setup, "", "hc1")
    v = np.random.default_rng(3).normal(size=params.size)
    v /= np.linalg.norm(v)
    f = tmp_path / "inference.json"
    f.write_text(json.dumps({"params": params.tolist(), "V_params": np.outer(v, v).tolist(),
                             "cov": "hc1"}))
    res = _tariff_json(folder, params_csv, f, COUNTRY_FD, capsys)
    se, i = res["standard_errors"], res["countries"].index(COUNTRY_FD)
    assert res["converged"] and se["converged"] and se["maximum"]
    rate = np.delete(res["rates"], i)[0]
    assert rate > 0.05  # an interior optimum (about 3,100%: this world's are near-prohibitive)
    with pytest.raises(hat_jax.ConvergenceError, match="Newton's reach"):  # not a KeyError
        _optimum(problem, params, i, start=rate)  # from free trade: out of Newton's reach
    opt, W0 = _optimum(problem, params, i)  # the optimum's own path from 10%
    base = solve_baseline(args, setup)  # the command's baseline: its options and start
    eq = base.baseline.equilibrium
    out, jac, _ = policy.optimal_tariff_jacobian(
        params, problem, opt, opts=base.opts,
        start=hat_jax.Start(W=eq.W, beta=eq.beta, state=eq.world.households.state))
    assert out.converged and out.maximum and not out.at_bound.any()
    # the program's values are the optimiser's: same optimum, FOC zero, H < 0
    assert float(out.rates[0]) == pytest.approx(np.delete(opt.rates, i)[0], rel=1e-12)
    assert float(out.welfare) == pytest.approx(opt.welfare, rel=1e-10)
    assert float(out.welfare_free) == pytest.approx(W0, rel=1e-10)
    assert abs(float(out.foc[0])) < 1e-8 and float(out.hessian[0, 0]) < 0
    assert float(out.gain) > 0
    h = 1e-4  # FOC to 1e-11: the re-solved rates carry ~1e-11 / |H| of noise
    ends, focs = [], []
    for s in (1.0, -1.0):
        o, w0 = _optimum(problem, params + s * h * v, i, start=None)
        ends.append(np.array([np.delete(o.rates, i)[0], o.welfare - w0,
                              100 * (o.welfare - w0) / abs(w0)]))
        focs.append(o.foc_residual)
    fd = (ends[0] - ends[1]) / (2 * h)
    ad = np.array([jac.rates[0] @ v, jac.gain @ v, jac.gain_pct @ v])
    # The rate's central difference carries the noise of the two re-solved problems: each
    # optimum stops at a FOC residual |foc| (off by |foc| / |H|) and each baseline at
    # OPTS.tol of world GDP (prices, and with them the optimum, off by about tol), so
    # (|foc+| + |foc-|) / (|H| 2 h) + 2 tol / (2 h): allowed twice. Measured (2026-12-07,
    # against the command's |J v|): the rate 1.7e-6 relative (noise 2.0e-5 absolute), the
    # gain 4e-8, the gain % 5e-8.
    noise = (focs[0] + focs[1]) / (abs(float(out.hessian[0, 0])) * 2 * h) \
        + 2 * float(OPTS.tol) / (2 * h)
    np.testing.assert_allclose(ad[0], fd[0], rtol=2e-5, atol=2 * noise)
    np.testing.assert_allclose(ad[1:], fd[1:], rtol=2e-5)
    assert np.all(np.abs(ad) > 1e-3)  # a direction along which all three move
    # the command's report: |J v| at its own optimum (|FOC| < TariffOptions().gtol / 10)
    assert abs(se["foc"][0]) < 1e-7 and se["hessian"][0][0] < 0
    reported = [np.delete(se["rates"], i)[0], se["welfare_gain"], se["welfare_gain_pct"]]
    np.testing.assert_allclose(reported, np.abs(ad), rtol=2e-5)
    with pytest.raises(ValueError, match="params"):
        policy.optimal_tariff_jacobian(params[:-1], problem, opt)
    with pytest.raises(ValueError, match="directions"):
        policy.optimal_tariff_jacobian(params, problem, opt, directions=0)


def test_tariff_se_checks_its_input(tmp_path, capsys):
    """--se refuses, before solving: the mean-EV objective, a preset without calibrated
    parameters, and a file whose parameters are not the baseline's (naming the fix)."""
    from hat_jax.cli import main

    f = tmp_path / "inference.json"
    f.write_text(json.dumps({"params": [0.0] * 46, "V_params": np.eye(46).tolist(),
                             "cov": "hc1"}))
    assert main(["tariff", "two_country", "--objective", "mean-ev", "--se", str(f),
                 "--quiet"]) == 1
    assert "--se" in (e := capsys.readouterr().err) and "utilitarian" in e
    assert main(["tariff", "two_country", "--se", str(f), "--quiet"]) == 1
    assert "no calibrated parameters" in capsys.readouterr().err
    assert main(["tariff", "ek_baseline", "--Na", "10", "--se", str(tmp_path), "--quiet"]) == 1
    assert "--params" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tables_world(tmp_path_factory):
    """The 4-country world of synthetic tables (seed 5, Na = 10; K = 9 parameters; the
    world of test_transition_inference.py) with its parameters in a ``params.csv``
    (column ``guess``) and an ``inference.json`` with a stand-in V_params."""
    import pandas as pd

    from hat_jax.calibration import synthetic_tables

    root = tmp_path_factory.mktemp("se_tariff")
    folder, params = synthetic_tables(root / "tables", N=4, seed=5, Na=10)
    params = np.asarray(params, np.float64)
    pd.DataFrame({"guess": params}).to_csv(root / "params.csv", index=False)
    K = params.size
    (root / "inference.json").write_text(json.dumps(
        {"params": params.tolist(), "V_params": (1e-3 * (np.eye(K) + 0.2)).tolist(),
         "cov": "hc1"}))
    return folder, root / "params.csv", root / "inference.json"


def test_tariff_se_command_end_to_end(tables_world, capsys):
    """hat tariff --data DIR --params FILE --country C2 --se FILE: the Jacobian program's
    optimum and gain are the command's own (the centres of the intervals), a strict
    interior maximum with positive s.e., the s.e. of C2's own rate 0. This world's
    optimum is near-prohibitive (about 2,600%), out of Newton's reach from the free-trade
    baseline: the report's re-solve and the derivative program start from the optimum's
    own equilibrium (``OptimalTariff.start``), without which both failed (slow: the
    optimum, then 10 directions of forward over forward mode through both equilibria)."""
    folder, params, inference = tables_world
    res = _tariff_json(folder, params, inference, "C2", capsys)
    se, i = res["standard_errors"], res["countries"].index("C2")
    assert res["converged"] and res["rates"][i] == 0.0 and min(np.delete(res["rates"], i)) > 1
    assert se["maximum"] and se["converged"] and not any(se["at_bound"])
    np.testing.assert_allclose(se["estimates"]["rates"], res["rates"], rtol=1e-9)
    assert se["estimates"]["welfare_gain_pct"] == pytest.approx(res["welfare_gain_pct"],
                                                                rel=1e-9)
    rates = np.asarray(se["rates"], float)
    assert rates[i] == 0.0 and np.all(rates[np.arange(rates.size) != i] > 0)
    lo, hi = se["ci95"]["welfare_gain_pct"]
    assert (lo + hi) / 2 == pytest.approx(res["welfare_gain_pct"], rel=1e-9)
    assert se["welfare_gain_pct"] > 0 and hi - lo == pytest.approx(
        2 * 1.959963984540054 * se["welfare_gain_pct"], rel=1e-12)


def test_tariff_standard_errors_object():
    """The standard_errors object: sqrt(J V J') of the rates (country i's row, 0 at i,
    a rate on the bound with s.e. 0) and of the gain, 95% intervals around the
    estimates, and the text lines by partner and without a strict maximum."""
    from hat_jax.report.policy import format_tariff_se, tariff_standard_errors

    rng = np.random.default_rng(2)
    K, N, i = 4, 4, 1
    out = policy.TariffInference(np.array([0.3, 0.0, 0.2]), np.asarray(-10.0),
                                 np.asarray(-10.2), np.asarray(0.2), np.asarray(1.96),
                                 np.zeros(3), -np.eye(3), np.array([False, True, False]),
                                 True, True)
    jac = policy.TariffInference(rng.normal(size=(3, K)) * np.array([[1], [0], [1]]),
                                 *rng.normal(size=(4, K)))
    V = np.diag([0.01, 0.04, 0.09, 0.16])
    se = tariff_standard_errors(out, jac, V, "hc1", "inference.json", N, i)
    sd = lambda J: np.sqrt(np.einsum("...k,kl,...l->...", J, V, J))  # noqa: E731
    np.testing.assert_allclose(se["rates"], [sd(jac.rates[0]), 0.0, 0.0, sd(jac.rates[2])],
                               rtol=1e-12)
    assert se["at_bound"] == [False, False, True, False]
    assert se["estimates"]["rates"] == [0.3, 0.0, 0.0, 0.2]
    assert se["welfare_gain_pct"] == pytest.approx(float(sd(jac.gain_pct)), rel=1e-12)
    lo, hi = se["ci95"]["welfare_gain"]
    assert (lo + hi) / 2 == pytest.approx(0.2) and hi - lo == pytest.approx(
        2 * 1.959963984540054 * float(sd(jac.gain)))
    r = {"country": "B", "countries": ["A", "B", "C", "D"], "mode": "by_partner"}
    text = format_tariff_se(se, r)
    assert "A 30.0000% (" in text and "D 20.0000% (" in text and "welfare gain 1.9600%" in text
    se["maximum"] = False
    assert "not a strict maximum" in format_tariff_se(se, r)
    assert format_tariff_se(None, r) == ""
