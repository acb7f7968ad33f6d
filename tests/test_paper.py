"""Reproducing the paper (issue 17 A): cost cuts in the paper's convention (costs may
fall below 1, ``cost_floor=False`` / ``floor=None`` / ``--no-floor-costs``) against the
floor at 1, and value-function convergence: the values behind every EV satisfy their
Bellman equation, and the original code's stop rule (``stop_rule="policy"``) leaves
them off it in the log model while consumption has converged.

Two-country economies of conftest (Na = 40).
"""

import warnings

import jax
import numpy as np
import pytest

import hat_jax
from hat_jax import cli
from hat_jax import welfare as wf
from hat_jax.cli._counterfactual import cost_change, experiment_record
from hat_jax.model import solve_household
from hat_jax._household import sweep_changes
from hat_jax._params import household_options

from conftest import NA_TEST


# ------------------------------------------------------------ the two cost conventions
def test_floor_none_keeps_costs_below_one_and_warns():
    e = hat_jax.two_country(Na=NA_TEST)  # d = 1.745: a 50% cut takes it to 0.8725
    floored, clamped = wf.global_cut(e, 0.5)
    assert np.all(floored == 1.0) and clamped == [("Home", "Foreign"), ("Foreign", "Home")]
    with pytest.warns(wf.CostsBelowOneWarning, match=r"2 trade cost\(s\) below 1.*"
                      r"Home<-Foreign, Foreign<-Home"):
        paper, clamped = wf.global_cut(e, 0.5, floor=None)
    assert clamped == [] and paper[0, 1] == pytest.approx(0.5 * 1.745, rel=1e-15)
    assert wf.costs_below_one(e, paper) == [("Home", "Foreign"), ("Foreign", "Home")]
    # the default economy refuses them, naming the way out
    with pytest.raises(ValueError,
                       match=r"d >= 1: d\[Home, Foreign\].*cost floor.*cost_floor=False"):
        wf.check_costs(e, paper)
    with pytest.raises(ValueError, match="cost_floor=False"):
        e.replace(d=paper)
    e2 = e.replace(cost_floor=False, d=paper)
    assert e2.cost_floor is False and float(e2.d[0, 1]) < 1
    # d_ii = 1 and d > 0 hold under either convention
    with pytest.raises(ValueError, match="domestic trade costs must be 1"):
        e.replace(cost_floor=False, d=np.array([[0.9, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="must be positive"):
        e.replace(cost_floor=False, d=np.array([[1.0, -0.5], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="cost_floor must be True or False"):
        e.replace(cost_floor="no")
    assert hat_jax.make_economy(paper, cost_floor=False).cost_floor is False


def test_paper_convention_counterfactual_solves_and_differs(two_country_eq):
    e = two_country_eq.economy
    floored, _ = wf.global_cut(e, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wf.CostsBelowOneWarning)
        paper, _ = wf.global_cut(e, 0.5, floor=None)
    with pytest.raises(ValueError, match="cost_floor=False"):
        wf.counterfactual(two_country_eq, paper)
    with pytest.warns(wf.CostsBelowOneWarning, match="Home<-Foreign"):
        cf_paper = wf.counterfactual(two_country_eq, paper, cost_floor=False)
    cf_floor = wf.counterfactual(two_country_eq, floored)
    assert bool(cf_paper.converged) and float(cf_paper.residual) <= 1e-10
    assert cf_paper.new.economy.cost_floor is False
    np.testing.assert_allclose(np.asarray(cf_paper.new.economy.d), paper)
    # symmetric: W = 1 in both; the paper's cut makes imports cheaper than home goods
    h_paper = float(cf_paper.new.world.aggregates.trade_shares[0, 0])
    h_floor = float(cf_floor.new.world.aggregates.trade_shares[0, 0])
    h_base = float(two_country_eq.world.aggregates.trade_shares[0, 0])
    assert h_paper < h_floor < h_base
    assert h_paper < 0.5 < h_floor  # below 1, the foreign variety is the cheaper one


def test_cli_floor_flags():
    p = cli.build_parser()
    e = hat_jax.two_country(Na=20)
    args = p.parse_args(["counterfactual", "two_country", "--global-cut", "0.5"])
    assert args.floor_costs is True
    c = cost_change(args, e)
    exp, _ = experiment_record(c, e, args.floor_costs)
    d = np.asarray(c.values["d"])
    assert exp["floor_costs"] is True and exp["below_one"] == [] and len(exp["clamped"]) == 2
    assert np.all(d == 1.0)
    args = p.parse_args(["counterfactual", "two_country", "--global-cut", "0.5",
                         "--no-floor-costs"])
    assert args.floor_costs is False
    with pytest.warns(wf.CostsBelowOneWarning):
        c = cost_change(args, e.replace(cost_floor=False))
        exp, _ = experiment_record(c, e.replace(cost_floor=False), args.floor_costs)
        d = np.asarray(c.values["d"])
    assert exp["floor_costs"] is False and exp["clamped"] == []
    assert exp["below_one"] == [("Home", "Foreign"), ("Foreign", "Home")]
    assert d[0, 1] == pytest.approx(0.8725)
    args = p.parse_args(["counterfactual", "two_country", "--unilateral", "Home", "0.1",
                         "--floor-costs"])
    c = cost_change(args, e)
    exp, i = experiment_record(c, e, args.floor_costs)
    d = np.asarray(c.values["d"])
    assert exp["floor_costs"] is True and i == 0 and d[0, 1] == pytest.approx(0.9 * 1.745)


# ------------------------------------------------------------------ value convergence
def test_values_behind_every_ev_are_converged(two_country_eq):
    d, _ = wf.unilateral_cut(two_country_eq.economy, "Home", 0.10)
    cf = wf.counterfactual(two_country_eq, d)
    ev = wf.equivalent_variation(cf.baseline, cf.new, "Home")
    assert bool(np.all(ev.converged))
    vr = np.asarray(ev.value_residual)
    assert vr.shape == ev.factor.shape and np.all(np.isfinite(vr))
    assert float(vr.max()) <= 1e-10  # Bellman residual of V at every EV root
    # and those of the equilibria compared (one more sweep at the solved states)
    for eq in (cf.baseline, cf.new):
        hopts = hat_jax.EquilibriumOptions().household_options(eq.economy)
        for i in range(eq.economy.N):
            _, dv = sweep_changes(wf.country_state(eq, i), wf.country_problem(eq, i), hopts)
            assert float(dv) <= 1e-10


def test_policy_stop_rule_leaves_log_values_unconverged():
    """The original rule stops when c stops changing; with log utility v is then far
    from its fixed point (c does not depend on the level of v)."""
    e = hat_jax.model.two_country_log(Na=NA_TEST)
    prob = jax.tree_util.tree_map(lambda x: x[0],
                                  hat_jax.model.household_problems(e, np.ones(2), 1.01))
    out = {}
    for rule in ("both", "policy"):
        hopts = household_options(e, stop_rule=rule)
        sol = solve_household(prob, hopts)
        out[rule] = (sol, *sweep_changes(sol.state, prob, hopts))
    sol_b, dc_b, dv_b = out["both"]
    sol_p, dc_p, dv_p = out["policy"]
    assert float(dc_b) <= 1e-10 and float(dv_b) <= 1e-10
    assert float(dc_p) <= 1e-10  # consumption has converged...
    assert float(dv_p) > 1e-4  # ...the values have not
    gap = np.max(np.abs(np.asarray(sol_p.V) - np.asarray(sol_b.V)))
    assert gap > 1e-3
    np.testing.assert_allclose(np.asarray(sol_p.c), np.asarray(sol_b.c), rtol=0, atol=1e-8)


def test_stop_rule_options_are_plumbed_and_checked():
    e = hat_jax.two_country(Na=20)
    assert hat_jax.EquilibriumOptions(hh_stop_rule="policy").household_options(e).stop_rule \
        == "policy"
    assert hat_jax.EquilibriumOptions().household_options(e).stop_rule == "both"
    assert wf.ev_options(hh_stop_rule="policy").hh_stop_rule == "policy"
    for make in (lambda: household_options(e, stop_rule="values"),
                 lambda: hat_jax.EquilibriumOptions(hh_stop_rule="values").household_options(e),
                 lambda: wf.EVOptions(hh_stop_rule="values")):
        with pytest.raises(ValueError, match="stop_rule must be one of"):
            make()
