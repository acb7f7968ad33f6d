"""Equivalent variation (issue 13 item 7, issue 17): the continuation solver agrees
with the safeguarded per-state solver; under the original code's stop rule
(hh_stop_rule="policy") the EV is well posed (a fixed number of sweeps), recovers a
proportional income gift and differs from the converged EV; trade costs below 1 are
refused under jax.jit with the cost floor. Two-country economies of conftest (Na = 40).
"""

import equinox as eqx
import jax
import numpy as np
import pytest

import hat_jax
from hat_jax import welfare as wf
from hat_jax._params import household_options, traced_cost_check


def test_continuation_agrees_with_the_safeguarded_solver(two_country_eq):
    d, _ = wf.unilateral_cut(two_country_eq.economy, "Home", 0.10)
    cf = wf.counterfactual(two_country_eq, d)
    ev = {m: wf.equivalent_variation(cf.baseline, cf.new, "Home", method=m)
          for m in wf.EV_METHODS}
    fast, safe = ev["continuation"], ev["safeguarded"]
    assert bool(np.all(fast.converged)) and bool(np.all(safe.converged))
    # two roots, each within 1e-10 of the same root (where the slope resolves it)
    slope = np.asarray(fast.slope)
    good = slope > 0.25 * np.median(np.abs(slope))
    gap = np.abs(np.asarray(fast.factor) - np.asarray(safe.factor))
    assert good.mean() > 0.95 and float(gap[good].max()) <= 2.5e-10
    assert float(gap.max()) <= 1e-8
    assert float(np.max(np.asarray(fast.residual))) <= 1e-10
    assert float(np.max(np.asarray(fast.value_residual))) <= 1e-10  # Bellman residual
    # states share solves: fewer household solves per state
    assert np.mean(np.asarray(fast.iterations)) < np.mean(np.asarray(safe.iterations))
    with pytest.raises(ValueError, match="method must be one of"):
        wf.EVOptions(method="bisection")


def test_policy_rule_ev_is_well_posed(two_country_log_eq):
    """V_old(lambda) under the original rule: the baseline's number N of plain sweeps
    from the original guess, at every lambda. A gift V_N(1.01) is recovered exactly;
    the converged EV of the same target is another number (values off their fixed
    point)."""
    eq = two_country_log_eq
    prob, y = wf.country_problem(eq, 0), wf.country_state(eq, 0)
    hopts = household_options(eq.economy, stop_rule="policy")
    N = int(wf.policy_rule_sweeps(prob, y, hopts))
    assert 10 < N < hopts.max_iter
    V_gift, _ = wf.policy_rule_values(prob, 1.01, hopts, N)
    ev = wf.equivalent_variation(eq, V_gift, "Home", hh_stop_rule="policy", throw=False,
                                 measure="proportional")
    lam, conv = np.asarray(ev.factor), np.asarray(ev.converged)
    slope = np.asarray(ev.slope)
    good = slope > 0.25 * np.median(np.abs(slope))
    assert good.mean() > 0.95 and np.all(conv[good])
    np.testing.assert_allclose(lam[good], 1.01, rtol=0, atol=1e-9)
    # the values behind it are the rule's, off their fixed point
    assert float(np.median(np.asarray(ev.value_residual))) > 1e-6
    conv_ev = wf.equivalent_variation(eq, V_gift, "Home", throw=False,
                                      measure="proportional")
    c = np.asarray(conv_ev.converged)
    assert c.mean() > 0.95
    assert float(np.max(np.asarray(conv_ev.value_residual)[c])) <= 1e-10
    diff = np.abs(np.asarray(conv_ev.factor) - lam)[good & c]
    assert float(np.median(diff)) > 1e-5


def test_costs_below_one_refused_under_jit():
    e = hat_jax.two_country(Na=20)
    low = np.array([[1.0, 0.9], [0.9, 1.0]])
    bad = eqx.tree_at(lambda x: x.d, e, low)  # unvalidated, as inside a trace
    total = jax.jit(lambda econ: traced_cost_check(econ).d.sum())
    with pytest.raises(Exception, match=r"d >= 1: some d_ij < 1 under jax.jit.*cost_floor=False"):
        jax.block_until_ready(total(bad))
    neg = eqx.tree_at(lambda x: x.d, e.replace(cost_floor=False), -low)
    with pytest.raises(Exception, match=r"trade costs must be positive"):
        jax.block_until_ready(total(neg))
    # the paper's convention allows them; concrete economies pass unchanged
    assert float(total(e.replace(cost_floor=False, d=low))) == pytest.approx(3.8)
    assert traced_cost_check(e) is e


def test_solve_equilibrium_jit_carries_the_cost_check():
    """The check is in the traced program of solve_equilibrium_jit (one more runtime
    check under the cost floor than without; running it would compile the solver)."""
    from hat_jax._equilibrium import default_guess
    from hat_jax import solve_equilibrium_jit

    e = hat_jax.two_country(Na=20)
    opts = hat_jax.EquilibriumOptions()
    start = hat_jax.Start(*default_guess(e, opts))
    text = lambda econ, throw=True: str(jax.make_jaxpr(
        lambda *a: solve_equilibrium_jit(*a, throw=throw))(econ, opts, start))
    assert text(e).count("callback") > text(e.replace(cost_floor=False)).count("callback")
    # with throw=False the program has no host callback at all (so JAX's persistent
    # cache keeps it: the derivative programs of welfare, tariffs, calibration use it);
    # bad costs then give an unconverged result with an infinite residual
    assert text(e, throw=False).count("callback") == 0
    from hat_jax._params import traced_costs_ok
    ok = jax.jit(lambda econ: traced_costs_ok(econ))
    bad = eqx.tree_at(lambda x: x.d, e, np.array([[1.0, 0.9], [0.9, 1.0]]))
    assert bool(ok(e)) and not bool(ok(bad)) and bool(ok(bad.replace(cost_floor=False)))
    assert traced_costs_ok(e) is None  # concrete: validated when built
