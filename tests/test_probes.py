"""Failure modes found by probing bad and extreme inputs (issue 26, part B): each test
failed on the code before its fix."""

import contextlib
import io

import numpy as np
import pytest

from hat_jax import cli
from hat_jax.report._readers import read_cost_matrix


def run(argv):
    """(exit code, stdout, stderr) of ``hat argv`` run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


# ------------------------------------------- 9. a non-number in a plain --costs CSV
@pytest.mark.parametrize("content, match", [
    ("1,1.5\nABC,1\n", r"cell at row 2, column 1 is 'ABC', not a number"),
    ("1,ABC\n1.5,1\n", r"cell at row 1, column 2 is 'ABC', not a number"),
    ("1,2\n3,\n", r"cell at row 2, column 2 is empty, not a number"),
    (",Home,Foreign\nHome,1,x\nForeign,2,1\n",
     r"cell at row HOME, column FOREIGN is 'x', not a number"),
])
def test_costs_csv_names_the_cell_that_is_not_a_number(tmp_path, content, match):
    f = tmp_path / "c.csv"
    f.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        read_cost_matrix(f, ("Home", "Foreign"))
    assert "unknown countries" not in str(info.value)


def test_costs_csv_plain_and_labelled_still_read(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("1,2.5\n3,1\n")
    np.testing.assert_array_equal(read_cost_matrix(f, ("Home", "Foreign")), [[1, 2.5], [3, 1]])
    f.write_text(",foreign,home\nforeign,1,3\nhome,2.5,1\n")
    np.testing.assert_array_equal(read_cost_matrix(f, ("Home", "Foreign")), [[1, 2.5], [3, 1]])


# ------------------------------------------------- 10. models the solver must refuse
def _income(P, z):
    from hat_jax import IncomeProcess
    n = len(z)
    return IncomeProcess(z=np.asarray(z, float), P=np.asarray(P, float),
                         stationary=np.ones(n) / n, y_P=np.zeros(n))


D2 = np.array([[1.0, 1.745], [1.745, 1.0]])


@pytest.mark.parametrize("P, z, what", [
    (np.eye(3), [0.5, 1.0, 1.5], r"P = I"),
    (np.ones((1, 1)), [1.0], r"Nz=1"),
    (np.full((2, 2), 0.5), [1.0, 1.0], r"z are equal"),
])
def test_no_income_risk_is_refused_before_solving(P, z, what):
    import time

    import hat_jax
    from hat_jax import make_economy

    e = make_economy(D2, Na=20, income=_income(P, z))
    t = time.perf_counter()
    with pytest.raises(ValueError, match=rf"no risk \(.*{what}.*no stationary equilibrium.*"
                       r"borrowing limit"):
        hat_jax.solve_equilibrium(e)
    assert time.perf_counter() - t < 2.0  # refused up front, not after a failed solve


def test_duplicate_country_labels_are_refused():
    from hat_jax import make_economy

    with pytest.raises(ValueError, match=r"countries must be distinct.*duplicates \['A', 'a'\]"):
        make_economy(np.array([[1, 2, 2], [2, 1, 2], [2, 2, 1.0]]), countries=("A", "B", "a"))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_traced_cost_check_fails_on_nan_and_inf(bad):
    import jax
    import jax.numpy as jnp

    from hat_jax import make_economy
    from hat_jax._params import traced_cost_check, traced_costs_ok

    e = make_economy(D2, Na=20)
    d = jnp.array([[1.0, bad], [1.745, 1.0]])
    assert not bool(jax.jit(lambda dd: traced_costs_ok(e.replace(d=dd)))(d))
    with pytest.raises(Exception):
        jax.block_until_ready(jax.jit(lambda dd: traced_cost_check(e.replace(d=dd)).d)(d))


# ------------------------------------ 11. --params FILE reads what hat calibrate writes
def test_params_file_round_trip(tmp_path):
    from hat_jax.cli import _common as common
    from hat_jax.data import load_published
    from hat_jax import ek_world
    from hat_jax.report.calibration import params_csv, prices_csv

    pub = load_published("baseline")
    theta = np.asarray(pub.params).copy()
    theta[0] += 0.1  # another world than the published one: log A_1 / A_19 moved
    W = np.asarray(pub.wages) * np.linspace(0.95, 1.05, pub.wages.size)
    W = W / W.mean()
    (tmp_path / "params.csv").write_text(params_csv(theta))  # as hat calibrate writes them
    (tmp_path / "prices.csv").write_text(prices_csv(W, 0.9))
    parser = common.Parser(prog="hat")
    common.add_economy_arguments(parser)
    args = parser.parse_args(["ek_baseline", "--Na", "20", "--params",
                              str(tmp_path / "params.csv")])
    args.quiet = True
    setup = common.setup_from_args(args)
    want = ek_world("ek_baseline", params=theta, Na=20).economy
    np.testing.assert_array_equal(setup.world.params, theta)
    np.testing.assert_allclose(setup.economy.A, want.A, rtol=1e-14)
    np.testing.assert_allclose(setup.economy.d, want.d, rtol=1e-14)
    opts = common.options_from_args(args)
    guess, start = common.starting_prices(args, setup.economy, setup.world, opts)
    np.testing.assert_allclose(guess.W, W, rtol=1e-12)
    assert guess.beta == 0.9 and start == "published"
    (tmp_path / "prices.csv").unlink()  # no prices: a cold start at the file's Theta
    setup = common.setup_from_args(args)
    assert common.starting_prices(args, setup.economy, setup.world, opts)[1] == "cold"


def test_params_file_errors(tmp_path):
    f = tmp_path / "params.csv"
    f.write_text("guess\n1\n2\n")
    rc, _, err = run(["solve", "ek_baseline", "--Na", "20", "--params", str(f), "--quiet"])
    assert rc == 1 and "--params" in err and "46" in err
    rc, _, err = run(["solve", "two_country", "--Na", "20", "--params", str(f), "--quiet"])
    assert rc == 1 and "--params" in err and "two_country" in err
    rc, _, err = run(["solve", "ek_baseline", "--params", str(tmp_path / "nope.csv")])
    assert rc == 1 and "nope.csv" in err and "does not exist" in err


# ------------------------------------------ 4. a borrowing limit beyond the natural one
def test_phi_beyond_natural_limit_is_named():
    rc, _, err = run(["solve", "two_country", "--Na", "20", "--phi", "50", "--amax", "60",
                      "--max-iter", "4", "--quiet"])
    assert rc == 2
    assert "borrowing limit phi=50 is beyond the natural borrowing limit" in err
    assert "cannot consume" in err and "Lower phi" in err
    assert "Trade has nearly vanished" not in err  # trade is ~12% of world GDP


# ------------------------------- 1. an asymmetric equilibrium of a symmetric economy
def test_is_symmetric():
    import hat_jax
    from hat_jax._symmetry import is_symmetric

    assert is_symmetric(hat_jax.two_country(Na=20))
    assert not is_symmetric(hat_jax.two_country(Na=20).replace(A=np.array([1.0, 1.1])))
    assert not is_symmetric(hat_jax.two_country(d=np.array([[1, 1.5], [2.0, 1]]), Na=20))


def test_asymmetric_equilibrium_of_symmetric_economy_is_reported():
    """gamma = 50, Na = 30: Newton from W = 1 ends at W = [1.158, 0.842], R = 0.027, where
    every market clears (also relative to trade) and the inner solves converged: one of
    several equilibria. The warning says so and the symmetric one (W = 1, R = 0.0369)
    is reported next to it."""
    import json
    import re

    rc, out, err = run(["solve", "two_country", "--Na", "30", "--gamma", "50", "--json",
                        "--quiet"])
    assert re.search(r"hat: warning: asymmetric equilibrium of a symmetric "
                     r"economy.*W = \[1\.15.*symmetric equilibrium, solved from W = 1: "
                     r"W = \[1\.0, 1\.0\], R = 0\.0368", err), err
    assert rc == 0
    res = json.loads(out)
    assert res["converged"] and abs(res["wages"][0] - 1.158) < 1e-3
    sym = res["symmetric_equilibrium"]
    assert sym["converged"] and np.allclose(sym["wages"], 1.0)
    assert abs(sym["R"] - 0.03686) < 1e-4 and sym["residual"] < 1e-10


# --------------------------- 11. hat transition shows the shocked countries and movers
def _transition_result():
    c = ["AUS", "AUT", "BEL", "CAN", "DNK", "FIN", "FRA", "USA"]
    T = 3
    W = np.ones((T, 8))
    home = np.full((T, 8), 0.8)
    W[1:, 7] = 1.02  # the shocked USA moves
    W[1:, 3] = 0.9  # Canada moves most among the others
    home[1:, 5] = 0.75  # then Finland
    return {"preset": "ek_baseline", "experiment": {"kind": "unilateral", "country": "USA", "cut": 0.1,
                                                     "shocked": ["USA"]},
            "T": T, "countries": c, "converged": True, "residual": 1e-12,
            "iterations": {"newton": 3, "jacobians": 1}, "terminal_gap": 0.0,
            "wages": W.tolist(), "home_share": home.tolist(), "R": [1.0] * T,
            "terminal": {"R": 1.0}}


def test_transition_table_shows_shocked_country_and_largest_movers():
    from hat_jax.report.transition import format_transition

    text = format_transition(_transition_result())
    header = next(line for line in text.splitlines() if line.strip().startswith("t "))
    assert "W_USA" in header
    assert header.index("W_USA") < header.index("W_CAN") < header.index("W_FIN")
    assert "countries shown: USA" in text and "largest movers CAN, FIN" in text


def test_shocked_countries():
    import hat_jax
    from hat_jax.cli._transition import shocked_countries

    e = hat_jax.make_economy(np.full((3, 3), 2.0) - np.eye(3), Na=20, countries=("A", "B", "C"))
    d = np.asarray(e.d).copy()
    d[1, [0, 2]] *= 0.9  # B cuts its import costs
    assert shocked_countries(e, d) == ["B"]
    assert shocked_countries(e, 1 + 0.9 * (np.asarray(e.d) - 1)) == []  # global cut


# ------------------------------------------------ B3: country-level scenario rows
@pytest.mark.parametrize("field", ["z", "countries", "y_P"])
def test_scenario_rows_set_country_fields_only(field):
    """With N = Nz = 10 a row ``C3, z, 5`` silently set income state 3 in every country,
    and field ``countries`` failed with "could not convert string to float" (issue 26,
    B3): only the country-level fields A and L are accepted, a row naming another field
    is refused naming the row, its scenario and the field."""
    import pandas as pd
    import hat_jax
    from hat_jax.scenarios import scenarios_from_table

    N = 10
    econ = hat_jax.make_economy(np.full((N, N), 2.0) - np.eye(N), Na=20,
                                countries=tuple(f"C{k}" for k in range(N)))
    assert econ.z.shape == (N,)  # the case of the probe: Nz = N
    frame = pd.DataFrame({"scenario": ["s1", "s1"], "country": ["C3", "C4"],
                          "field": ["A", field], "value": ["1.1", "5"]})
    with pytest.raises(ValueError, match=rf"row 2 \(scenario 's1'\): unknown field "
                       rf"'{field}' \(country-level fields: A, L\)"):
        scenarios_from_table(econ, frame)
    ok = scenarios_from_table(econ, frame.iloc[:1])
    assert ok.K == 1 and float(ok.changes[0].values["A"][3]) == 1.1


# ------------------------------------------------ B6: a failed scenario says why
def test_failed_scenario_says_why(two_country_eq):
    """A scenario with costs 1e6 times higher (trade vanishes) failed with a residual
    below the tolerance and a null trade residual, and nothing said why (issue 26, B6):
    its row now carries the reason; the converged scenario's reason is empty."""
    import hat_jax
    from hat_jax.report.sweep import format_sweep, sweep_summary
    from hat_jax.scenarios import scenario_frame, solve_scenarios

    e = two_country_eq.economy
    d = np.asarray(e.d)
    far = hat_jax.Change({"d": np.where(np.eye(2) == 1, d, 1e6 * d)}, "far")
    near = hat_jax.Change({"d": np.where(np.eye(2) == 1, d, 0.95 * d)}, "near")
    res = solve_scenarios(two_country_eq, [near, far])
    assert list(res.converged) == [True, False]
    assert res.failure[0] == "" and "trade has" in res.failure[1], res.failure
    frame = scenario_frame(res)
    man = {"preset": "two_country", "countries": list(e.countries), "K": 2,
           "options": {}, "fingerprint": "x", "version": "0"}
    text = format_sweep(sweep_summary(man, frame), frame)
    assert "not converged: far" in text and "trade has" in text
