"""The measures of the equivalent variation (issue 26 A; model.md s.10): the permanent
lump-sum transfer at the old prices (default, well posed for every state) and the
proportional income scaling (the paper's tables; ill posed where net income R a + W z
+ T <= 0, those states flagged, not failed).

The two-country tests use the conftest economy (Na = NA_TEST) so that the EV and
counterfactual programs are those of tests/test_welfare.py; the JPN case solves the
19-country ek_baseline on the grid of tests/test_ek.py (Na = 20).
"""

import contextlib
import io
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import hat_jax
from hat_jax import cli
from hat_jax import welfare as wf
from hat_jax import ConvergenceError

from conftest import NA_TEST

H = 1e-4  # the small shock: log d_12 +- H


@pytest.fixture(scope="module")
def unilateral_cf(two_country_eq):
    d, _ = wf.unilateral_cut(two_country_eq.economy, "Home", 0.10)
    return wf.counterfactual(two_country_eq, d)


def test_measure_option_default_and_check():
    assert wf.EVOptions().measure == "transfer" and "proportional" in wf.EV_MEASURES
    assert wf.ev_options(measure="proportional").measure == "proportional"
    with pytest.raises(ValueError, match=r"measure must be one of .*got measure='lump'"):
        wf.EVOptions(measure="lump")


def test_transfer_ev_recovers_a_transfer(two_country_eq):
    """V_new = V_old with a transfer of 1% of mean labour income W E[z] every period:
    the transfer EV is that transfer in every state (no exception at the borrowing
    limit), and V_old rises with the transfer in every state."""
    eq = two_country_eq
    V_gift = wf.scaled_values(eq, "Home", 1.01, measure="transfer")
    ev = wf.equivalent_variation(eq, V_gift, "Home")
    assert ev.measure == "transfer" and bool(np.all(ev.converged))
    np.testing.assert_allclose(np.asarray(ev.factor), 1.01, rtol=0, atol=1e-9)
    unit = float(eq.W[0]) * float(wf.mean_efficiency(wf.country_problem(eq, 0)))
    assert float(ev.unit) == pytest.approx(unit, rel=1e-12)
    assert float(ev.unit) == pytest.approx(float(eq.W[0]), rel=1e-10)  # E[z] = 1
    np.testing.assert_allclose(np.asarray(ev.tau), 0.01 * unit, rtol=0, atol=1e-9)
    assert not np.any(np.asarray(ev.ill_posed))
    assert np.all(np.asarray(wf.ev_slope(eq, "Home")) > 0)  # dV_old/dtau > 0 everywhere


def test_proportional_flags_ill_posed_states(two_country_eq, unilateral_cf):
    """Under the proportional measure the states with net income <= 0 are flagged
    (mask, count, mass); under the transfer measure there are none and every state has
    its root. The transfer aggregates: numeraire, % of mean labour income, % of own
    expenditure."""
    eq, cf = two_country_eq, unilateral_cf
    net = np.asarray(wf.net_income(wf.country_problem(eq, 0), NA_TEST))
    lam = np.asarray(eq.world.distribution.lam[0])
    ev_p = wf.equivalent_variation(eq, cf, "Home", measure="proportional", throw=False)
    np.testing.assert_array_equal(np.asarray(ev_p.ill_posed), net <= 0)
    s_p = wf.welfare_summary(eq, cf.new, ev_p)
    assert s_p.measure == "proportional" and s_p.ill_posed_count == int(np.sum(net <= 0)) > 0
    assert s_p.ill_posed_mass == pytest.approx(float(np.sum(lam[net <= 0])), rel=1e-12)
    assert ev_p.tau is None and np.isnan(s_p.mean_transfer)

    ev = wf.equivalent_variation(eq, cf, "Home")  # throw=True: every state converged
    s = wf.welfare_summary(eq, cf.new, ev)
    assert s.measure == "transfer" and s.ill_posed_count == 0 and s.ill_posed_mass == 0.0
    tau, spend = np.asarray(ev.tau), np.asarray(wf.expenditure(eq, 0))
    assert s.mean_transfer == pytest.approx(float(np.sum(lam * tau)), rel=1e-12)
    assert s.mean_gain == pytest.approx(s.mean_transfer / s.unit, rel=1e-12)
    assert s.mean_gain_expenditure == pytest.approx(float(np.sum(lam * tau / spend)),
                                                    rel=1e-12)
    assert np.mean(s.quintile_gains_expenditure) == pytest.approx(s.mean_gain_expenditure,
                                                                  rel=1e-10)
    gain = np.asarray(cf.new.world.households.V[0]) > np.asarray(eq.world.households.V[0])
    assert np.all((tau > 0) == gain)  # the sign of the transfer is the sign of the gain
    # a root of V_old(tau) = V_new
    V = wf.scaled_values(eq, "Home", float(ev.factor[0, 0]), measure="transfer")
    assert float(V[0, 0]) == pytest.approx(float(cf.new.world.households.V[0, 0, 0]),
                                           rel=0, abs=1e-8)


def test_failures_at_ill_posed_states_say_why(two_country_eq, unilateral_cf):
    eq = two_country_eq
    ev = wf.equivalent_variation(eq, unilateral_cf, "Home", measure="proportional",
                                 throw=False)
    flag = np.asarray(ev.ill_posed)
    only_flagged = ev._replace(converged=~flag)
    with pytest.warns(wf.EVIllPosedWarning, match=r"net income R a \+ W z \+ T = -?[\d.]"):
        wf.check_ev(only_flagged, "Home", baseline=eq)  # flagged: no error
    one_more = ~flag
    one_more[-1, -1] = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wf.EVIllPosedWarning)
        with pytest.raises(ConvergenceError, match=r"1 of \d+ states did not converge.*"
                           rf"\(a={NA_TEST - 1}, z=9\)"):
            wf.check_ev(ev._replace(converged=one_more), "Home", baseline=eq)


def test_small_shock_limit_of_the_transfer_ev(two_country_eq):
    """d tau / d log d = (dV_new/d log d) / (dV_old/d tau): the AD derivative of the new
    values over the marginal value of a transfer equals the central difference of the
    transfer EV of two small counterfactuals (log d_12 +- H) to 1e-6."""
    eq = two_country_eq
    D = wf.pair_direction(eq.economy, "Home", "Foreign")
    tan = wf.welfare_jvp(eq, D, "Home")
    unit = float(wf.transfer_unit(wf.country_problem(eq, 0)))
    dV_dtau = np.asarray(wf.ev_slope(eq, "Home")) / unit
    limit = np.asarray(tan.dV) / dV_dtau  # d tau / d log d by AD
    np.testing.assert_allclose(unit * wf.ev_derivative(eq, D, "Home", tangent=tan), limit,
                               rtol=1e-12)
    tau = {}
    # the new values to 1e-12 (household and markets; traced tolerances, the programs
    # of the default ones): with 1e-10 the difference quotient carries about 1e-10 / H
    opts = hat_jax.EquilibriumOptions(tol=1e-12, hh_tol=1e-12)
    for sgn in (1.0, -1.0):
        d = np.asarray(eq.economy.d).copy()
        d[0, 1] *= np.exp(sgn * H)
        cf = wf.counterfactual(eq, d, opts)
        tau[sgn] = np.asarray(wf.equivalent_variation(eq, cf, "Home", tol=1e-13,
                                                      hh_tol=1e-12).tau)
    fd = (tau[1.0] - tau[-1.0]) / (2 * H)
    assert np.all(limit < 0)  # a dearer import hurts every Home household
    np.testing.assert_allclose(fd, limit, rtol=0, atol=1e-6 * np.max(np.abs(limit)))
    lam = np.asarray(eq.world.distribution.lam[0])
    assert float(np.sum(lam * fd)) == pytest.approx(float(np.sum(lam * limit)), rel=1e-6)


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


def test_cli_ev_measure(two_country_eq):
    """``--ev-measure``: the JSON gains the measure's keys; proportional flags the
    ill-posed states and exits 0."""
    base = ["counterfactual", "two_country", "--unilateral", "Home", "0.1", "--Na",
            str(NA_TEST), "--quiet", "--json"]
    rc, out, _ = _run(base)
    r = json.loads(out)
    assert rc == 0 and r["ev_measure"] == "transfer" and r["ev_ok"]
    assert r["mean_labour_income"] == pytest.approx(float(two_country_eq.W[0]), rel=1e-6)
    tau = np.asarray(r["ev_transfer"])
    np.testing.assert_allclose(tau, (np.asarray(r["ev"]) - 1) * r["mean_labour_income"],
                               rtol=1e-12, atol=1e-15)
    assert r["ev_ill_posed_count"] == 0 and len(r["quintile_gains_pct_expenditure"]) == 5
    rc, out, _ = _run(base + ["--ev-measure", "proportional"])
    r = json.loads(out)
    assert rc == 0 and r["ev_measure"] == "proportional" and r["ev_transfer"] is None
    flag = np.asarray(r["ev_ill_posed"])
    assert r["ev_ill_posed_count"] == int(flag.sum()) > 0 and 0 < r["ev_ill_posed_mass"] < 1
    rc, _, err = _run(base + ["--ev-measure", "lump"])
    assert rc == 1 and "--ev-measure" in err and "'lump'" in err


def test_paper_benchmark_prints_both_measures(unilateral_cf):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import paper

    rows, res = paper.measure_rows(unilateral_cf, "Home", wf.EVOptions(measure="proportional"),
                                   "two-country unilateral", "test", NA_TEST,
                                   time.perf_counter())
    names = [r["name"] for r in rows]
    assert "two-country unilateral: mean gain % [transfer]" in names
    ill = rows[names.index("two-country unilateral: mass at ill-posed states %")]
    assert ill["value"] == pytest.approx(100 * res.summary.ill_posed_mass) and ill["value"] > 0
    table = paper.measures_table(rows)
    assert "proportional" in table and "transfer" in table and "ill-posed %" in table
    assert len(table.splitlines()) == 2 + 4 + 1  # head, rule, 4 quantities, note


@pytest.mark.ek_solve
@pytest.mark.filterwarnings("ignore::hat_jax.data.DataWarning")
def test_jpn_unilateral_cut_has_an_ev_in_every_state(data_dir):
    """Issue 26: JPN cuts its import costs by 10% (ek_baseline; ``hat counterfactual
    ek_baseline --unilateral JPN 0.10`` exited 2 at Na = 30): under the transfer measure
    every state has its EV; under the proportional one the states with net income <= 0
    (JPN at the borrowing limit, low z) are flagged, every other state converges."""
    world = hat_jax.ek_world("ek_baseline", data_dir, Na=20)  # the grid of test_ek.py
    W0, R0, b0 = world.start("published")
    eq = hat_jax.solve_equilibrium(world.economy, hat_jax.EquilibriumOptions(unknown="beta"),
                                   hat_jax.Start(W=W0, R=R0, beta=b0))
    d, _ = wf.unilateral_cut(eq.economy, "JPN", 0.10)
    cf = wf.counterfactual(eq, d)
    ev = wf.equivalent_variation(eq, cf, "JPN")  # raises if any state fails
    assert bool(np.all(ev.converged)) and not np.any(np.asarray(ev.ill_posed))
    ev_p = wf.equivalent_variation(eq, cf, "JPN", measure="proportional", throw=False)
    flag = np.asarray(ev_p.ill_posed)
    net = np.asarray(wf.net_income(wf.country_problem(eq, ev_p.country), 20))
    np.testing.assert_array_equal(flag, net <= 0)
    assert flag[0, 0] and flag.sum() >= 3
    assert np.all(np.asarray(ev_p.converged) | flag)  # flagged, not failed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wf.EVIllPosedWarning)
        wf.check_ev(ev_p, "JPN", baseline=eq)  # no ConvergenceError
