"""Welfare (model.md section 10): cost helpers, counterfactuals, equivalent variation by
state, aggregates, ACR, welfare derivatives by AD against finite counterfactuals, the
log-utility result and the Proposition-4 decomposition; the ``hat counterfactual``
command.

Everything runs on the two-country economies of conftest (Na = 40), so that compiled
solvers are shared: one counterfactual solver (beta fixed, warm start), one EV solver,
one forward-mode and one reverse-mode derivative program.
"""

import contextlib
import io
import json

import jax.numpy as jnp
import numpy as np
import pytest

import hat_jax
from hat_jax import cli
from hat_jax import welfare as wf
from hat_jax import ConvergenceError

from conftest import NA_TEST

H = 1e-4  # size of the finite counterfactuals (log d_12 +- H)


# ------------------------------------------------------------------ no solves: helpers
@pytest.fixture(scope="module")
def economy():
    return hat_jax.two_country(Na=NA_TEST)


def test_cost_helpers(economy):
    d = np.asarray(economy.d)
    uni, cl = wf.unilateral_cut(economy, "home", 0.10)  # labels are case-insensitive
    assert cl == []
    np.testing.assert_allclose(uni, [[1.0, 0.9 * d[0, 1]], [d[1, 0], 1.0]])
    glob, _ = wf.global_cut(economy, 0.25)
    np.testing.assert_allclose(glob[~np.eye(2, dtype=bool)], 0.75 * d[~np.eye(2, dtype=bool)])
    bil, _ = wf.bilateral_cut(economy, "Foreign", "Home", 0.10)
    np.testing.assert_allclose(bil, [[1.0, d[0, 1]], [0.9 * d[1, 0], 1.0]])
    sym, _ = wf.bilateral_cut(economy, 1, 0, 0.10, symmetric=True)
    np.testing.assert_allclose(sym, [[1.0, 0.9 * d[0, 1]], [0.9 * d[1, 0], 1.0]])
    # a cut below d = 1 is floored at 1 and reported
    near = economy.replace(d=jnp.array([[1.0, 1.05], [1.745, 1.0]]))
    floored, cl = wf.unilateral_cut(near, "Home", 0.10)
    assert floored[0, 1] == 1.0 and cl == [("Home", "Foreign")]


@pytest.mark.parametrize("call, match", [
    (lambda e: wf.unilateral_cut(e, "USA", 0.1), "unknown country 'USA'"),
    (lambda e: wf.unilateral_cut(e, "Home", 1.0), r"cut must lie in \(0, 1\)"),
    (lambda e: wf.global_cut(e, -0.1), r"cut must lie in \(0, 1\)"),
    (lambda e: wf.bilateral_cut(e, "Home", "Home", 0.1), "two different countries"),
    (lambda e: wf.check_costs(e, np.ones((3, 3))), "must be 2 x 2"),
    (lambda e: wf.check_costs(e, [[1.0, 0.9], [1.2, 1.0]]), r"d >= 1: d\[Home, Foreign\]"),
    (lambda e: wf.check_costs(e, [[1.1, 1.5], [1.2, 1.0]]), "domestic trade costs must be 1"),
    (lambda e: wf.check_costs(e, [[1.0, np.nan], [1.2, 1.0]]), "non-finite"),
])
def test_bad_inputs_name_the_problem(economy, call, match):
    with pytest.raises(ValueError, match=match):
        call(economy)


def test_quintile_means_split_mass_at_boundaries():
    # two states with mass 0.5 each: the first quintiles are all state 0, the middle one
    # is half and half, the last ones state 1
    q = wf.weighted_quantile_means([1.0, 3.0], [0.0, 1.0], [0.5, 0.5])
    np.testing.assert_allclose(q, [1.0, 1.0, 2.0, 3.0, 3.0])
    assert wf.acr_gain(0.9, 0.8, 4.0) == pytest.approx(np.log(0.9 / 0.8) / 4.0)


# ------------------------------------------------------------------ equivalent variation
@pytest.fixture(scope="module")
def unilateral(two_country_eq):
    """Home cuts its import cost by 10%: counterfactual and welfare analysis (the
    paper's proportional measure)."""
    d, _ = wf.unilateral_cut(two_country_eq.economy, "Home", 0.10)
    cf = wf.counterfactual(two_country_eq, d)
    return cf, wf.welfare_analysis(cf, "Home", theta=4.0, measure="proportional")


def test_ev_is_exactly_one_when_nothing_changes(two_country_eq):
    ev = wf.equivalent_variation(two_country_eq, two_country_eq, "Home")
    assert np.all(np.asarray(ev.factor) == 1.0)
    assert np.all(np.asarray(ev.iterations) == 0)
    # the tolerance and the iteration cap are traced: changing them does not recompile
    ev = wf.equivalent_variation(two_country_eq, two_country_eq, "Home",
                                 wf.EVOptions(tol=1e-9, max_iter=30))
    assert ev.stats["compile_s"] < 0.05 and np.all(np.asarray(ev.factor) == 1.0)
    # the counterfactual with unchanged costs returns the baseline, and EV = 1 again
    cf = wf.counterfactual(two_country_eq, np.asarray(two_country_eq.economy.d))
    ev = wf.equivalent_variation(two_country_eq, cf, 0)
    np.testing.assert_allclose(np.asarray(ev.factor), 1.0, rtol=0, atol=1e-12)


def test_ev_recovers_a_proportional_income_gift(two_country_eq):
    """V_new = V_old at income scaled by 1 + g: the EV is 1 + g in every state, and
    increases with the gift."""
    lams = []
    for g in (0.005, 0.01):
        V_gift = wf.scaled_values(two_country_eq, "Home", 1.0 + g)
        ev = wf.equivalent_variation(two_country_eq, V_gift, "Home", throw=False,
                                     measure="proportional")
        lam, conv = np.asarray(ev.factor), np.asarray(ev.converged)
        # where V_old hardly moves with lambda (income R a + W z < 0 at the borrowing
        # limit), lambda is only as precise as V allows, |dlambda| ~ 1e-10 / slope, and
        # where it first falls (slope < 0) the EV is the root in the direction of the
        # welfare change, not the gift (see equivalent_variation)
        slope = np.asarray(ev.slope)
        good = slope > 0.25 * np.median(np.abs(slope))
        rising = slope > 0
        assert good.mean() > 0.97 and np.all(conv[rising])
        np.testing.assert_allclose(lam[good], 1.0 + g, rtol=0, atol=1e-9)
        np.testing.assert_allclose(lam[rising], 1.0 + g, rtol=0, atol=1e-6)
        gain = np.asarray(V_gift) > np.asarray(two_country_eq.world.households.V[0])
        # the sign of lambda - 1 is the sign of the gain
        assert np.all(((lam > 1) == gain)[conv])
        lams.append(lam)
    assert np.all(lams[1][rising] > lams[0][rising])


def test_ev_failure_is_reported_per_state(two_country_eq):
    V_gift = wf.scaled_values(two_country_eq, "Home", 1.01)
    # one household solve per state is not enough (max_iter is traced: no recompile)
    ev = wf.equivalent_variation(two_country_eq, V_gift, "Home", wf.EVOptions(max_iter=1),
                                 throw=False)
    assert not bool(np.all(ev.converged))
    assert np.all(np.isfinite(np.asarray(ev.factor)))  # the best iterate, never NaN
    with pytest.warns(DeprecationWarning, match="EquivalentVariation.factor"):
        assert ev.lam is ev.factor  # the name before 0.2
    with pytest.raises(ConvergenceError, match=r"states did not converge.*\(a=\d+, z=\d+\)"):
        wf.check_ev(ev, "Home")
    with pytest.raises(ConvergenceError, match=r"states did not converge"):
        # the keyword form of the same option
        wf.equivalent_variation(two_country_eq, V_gift, "Home", max_iter=1)
    with pytest.raises(ValueError, match="max_iter"):
        wf.EVOptions(max_iter=0)
    with pytest.raises(ValueError, match="max_iter"):
        wf.equivalent_variation(two_country_eq, V_gift, "Home", max_iter=0)
    with pytest.raises(TypeError, match="unknown EV option"):
        wf.equivalent_variation(two_country_eq, V_gift, "Home", tolerance=1e-8)


def test_unilateral_cut_counterfactual_and_aggregates(two_country_eq, unilateral):
    cf, res = unilateral
    base, new = cf.baseline, cf.new
    assert bool(new.converged) and float(new.residual) <= 1e-10
    assert float(new.beta) == float(base.beta)  # beta fixed
    assert float(new.W[0]) < float(base.W[0])  # Home's relative wage falls
    ev, s = res.ev, res.summary
    assert bool(np.all(ev.converged)) and float(np.max(ev.residual)) <= 1e-10
    lam_dist = np.asarray(base.world.distribution.lam[0])
    gain = np.asarray(ev.factor) - 1.0
    assert s.mean_gain == pytest.approx(np.sum(lam_dist * gain), rel=1e-12)
    assert 0.0 < s.mean_gain < 0.05
    # gains are pro-poor: the lowest expenditure quintile gains most
    q = np.asarray(s.quintile_gains)
    assert q[0] > q[-1] > 0
    assert 0.0 <= s.share_gain <= 1.0 + 1e-12
    # the quintile means average back to the mean
    assert np.mean(q) == pytest.approx(s.mean_gain, rel=1e-10)
    assert s.welfare_change == pytest.approx(s.welfare_new - s.welfare_old)
    assert res.home_share_new < res.home_share
    assert 3.0 < res.theta_model < 5.0  # about 1/sigma = 4
    assert res.acr_model == pytest.approx(np.log(res.home_share / res.home_share_new)
                                          / res.theta_model)
    # every state's EV is a root of V_old(lambda) = V_new
    V = wf.scaled_values(base, "Home", float(ev.factor[10, 3]))
    assert float(V[10, 3]) == pytest.approx(float(new.world.households.V[0, 10, 3]),
                                            rel=0, abs=1e-8)


def test_ev_root_derivatives_are_exact():
    """jvp of lambda_tau through the root (implicit function theorem, ev_roots) against
    central differences, on a small problem at fixed prices: in the target values and in
    the old prices (the wage)."""
    import jax

    from hat_jax.model import solve_household
    from hat_jax._params import household_options

    econ = hat_jax.two_country(Na=8)
    prob = jax.tree_util.tree_map(lambda x: x[0],
                                  hat_jax.model.household_problems(econ, jnp.ones(2), 1.0, 0.92))
    hopts = household_options(econ, tol=1e-12)
    ev_opts = wf.EVOptions(batch_size=50, nodes=16, tol=1e-12, max_iter=60)
    sol = solve_household(prob, hopts)
    y = sol.state
    V_t = sol.V * 0.98 + 0.01  # some target the old problem can reach

    def lam_of(W, vt):
        p = prob._replace(W=W)
        s = solve_household(jax.lax.stop_gradient(p), hopts, state0=y, throw=False)
        # starting information only: lambda_tau depends on (p, vt) alone
        y_b, V_b = jax.lax.stop_gradient((s.state, s.V))
        _, slope, x_dot = wf.value_slope(jax.lax.stop_gradient(p), y_b, hopts)
        out = wf.ev_roots(p, y_b, V_b, vt, slope, x_dot, hopts, ev_opts)
        return out[0]

    W0 = jnp.asarray(1.0)
    dV = jnp.linspace(0.5, 1.5, V_t.size).reshape(V_t.shape)
    # one direction moving both the wage (old prices) and the target values; one
    # compiled program gives the primal values for the central difference too
    jvp = jax.jit(lambda W, v: jax.jvp(lam_of, (W, v), (jnp.ones_like(W), dV)))
    _, tangent = jvp(W0, V_t)
    h = 1e-6
    fd = (jvp(W0 + h, V_t + h * dV)[0] - jvp(W0 - h, V_t - h * dV)[0]) / (2 * h)
    assert np.all(np.isfinite(np.asarray(tangent)))
    np.testing.assert_allclose(np.asarray(tangent), np.asarray(fd), rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------ derivatives
@pytest.fixture(scope="module")
def finite_counterfactuals(two_country_eq):
    """Equilibria with log d_12 moved by +H and -H."""
    out = []
    for sgn in (1.0, -1.0):
        d = np.asarray(two_country_eq.economy.d).copy()
        d[0, 1] *= np.exp(sgn * H)
        out.append(wf.counterfactual(two_country_eq, d))
    return out


def test_welfare_derivatives_match_finite_counterfactuals(two_country_eq, finite_counterfactuals):
    eq = two_country_eq
    D = wf.pair_direction(eq.economy, "Home", "Foreign")
    tan = wf.welfare_jvp(eq, D, "Home")
    plus, minus = finite_counterfactuals
    W = lambda cf: float(wf.utilitarian_welfare(cf.new)[0])
    fd = (W(plus) - W(minus)) / (2 * H)
    assert float(tan.dwelfare) < 0  # a higher import cost hurts Home
    assert float(tan.dwelfare) == pytest.approx(fd, rel=1e-5)
    # household values, wages and R
    fd_V = (np.asarray(plus.new.world.households.V[0])
            - np.asarray(minus.new.world.households.V[0])) / (2 * H)
    np.testing.assert_allclose(np.asarray(tan.dV), fd_V, rtol=1e-4, atol=1e-6)
    fd_R = (float(plus.new.R) - float(minus.new.R)) / (2 * H)
    assert float(tan.dR) == pytest.approx(fd_R, rel=1e-4, abs=1e-9)
    # reverse mode: the whole gradient at once, same number
    val, grad = wf.welfare_gradient(eq, "Home")
    assert val == pytest.approx(float(wf.utilitarian_welfare(eq)[0]), rel=1e-12)
    assert grad[0, 1] == pytest.approx(float(tan.dwelfare), rel=1e-8)
    assert grad[0, 0] == 0.0 and grad[1, 1] == 0.0
    # local EV derivative against the EV of the finite counterfactuals
    ev_p = wf.equivalent_variation(eq, plus, "Home")
    ev_m = wf.equivalent_variation(eq, minus, "Home")
    slope = np.asarray(ev_p.slope)
    dlam = wf.ev_derivative(eq, D, "Home", tangent=tan, slope=slope)
    ev_p, ev_m = np.asarray(ev_p.factor), np.asarray(ev_m.factor)
    assert np.all(np.isnan(dlam) == (slope <= 0))
    ok = slope > 0.25 * np.median(np.abs(slope))  # lambda_tau well conditioned
    assert ok.mean() > 0.95
    np.testing.assert_allclose(dlam[ok], ((ev_p - ev_m) / (2 * H))[ok], rtol=2e-3, atol=1e-6)


def test_proposition4_decomposition(two_country_eq):
    eq = two_country_eq
    D = wf.pair_direction(eq.economy, "Home", "Foreign")
    dec = wf.welfare_decomposition(eq, D, "Home")
    agg = dec.aggregate
    # the parts add up to the total (the remainder is the interpolation error of the
    # envelope theorem on the grid: small)
    lam = np.asarray(dec.tangent.lam)
    total = np.sum(lam * dec.dV) + agg["reallocation"]
    assert total == pytest.approx(agg["dwelfare"], rel=1e-10)
    parts = agg["substitution"] + agg["asset_trade"] + agg["wage"] + agg["remainder"]
    assert parts == pytest.approx(np.sum(lam * dec.dV), rel=1e-10)
    assert abs(agg["remainder"]) < 0.02 * abs(agg["dwelfare"])
    assert np.max(np.abs(dec.remainder)) < 0.03 * np.max(np.abs(dec.dV))
    # substitution dominates a change in one import cost
    assert agg["substitution"] < 0 and abs(agg["substitution"]) > abs(agg["wage"])


def test_log_utility_welfare_derivative_is_acr(two_country_log_eq):
    """Log utility (model.md s.10): at fixed W and R every household's value moves by
    dV = -(1/(theta (1 - beta))) d log pi_ii with theta = 1/sigma, and so does W_i."""
    eq = two_country_log_eq
    D = wf.pair_direction(eq.economy, "Home", "Foreign")
    tan = wf.welfare_jvp(eq, D, "Home", general_equilibrium=False)
    theta = 1.0 / float(eq.economy.sigma)
    beta = float(eq.beta)
    dlogpi = np.asarray(tan.dlog_pi_home)
    assert np.ptp(dlogpi) < 1e-12  # the same for every state
    pred = -dlogpi / (theta * (1.0 - beta))
    np.testing.assert_allclose(np.asarray(tan.dV), pred, rtol=1e-10)
    assert float(tan.dwelfare) == pytest.approx(float(pred.mean()), rel=1e-10)
    assert float(tan.dwelfare) < 0
    # the distribution does not move: with log utility savings do not depend on prices
    assert np.max(np.abs(np.asarray(tan.dlam))) < 1e-12


@pytest.mark.ek_solve
def test_log_utility_result_in_ek_log(data_dir):
    """The same state-by-state result in the 19-country ek_log world (Na = 20), for a
    change in every US import cost at once."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        world = hat_jax.ek_world("ek_log", data_dir, Na=20)
    eq = hat_jax.solve_equilibrium(world.economy, hat_jax.EquilibriumOptions(unknown="beta"),
                                   hat_jax.Start(*world.start("published")))
    usa = wf.country_index(eq.economy, "USA")
    D = np.zeros((eq.economy.N, eq.economy.N))
    D[usa, :] = 1.0
    tan = wf.welfare_jvp(eq, D, "USA", general_equilibrium=False)
    theta = 1.0 / float(eq.economy.sigma)  # sigma_i = sigma A_i^(1 - gamma) = sigma
    pred = -np.asarray(tan.dlog_pi_home) / (theta * (1.0 - float(eq.beta)))
    np.testing.assert_allclose(np.asarray(tan.dV), pred, rtol=1e-9)
    assert float(tan.dwelfare) == pytest.approx(float(pred.mean()), rel=1e-9)


# ----------------------------------------------------------------------------- CLI
def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


REQUIRED = {"country", "R", "R_new", "wages", "wages_new", "ev", "mean_gain_pct",
            "quintile_gains_pct", "share_gain", "acr_pct", "home_share", "home_share_new"}


def test_cli_counterfactual_json(unilateral, tmp_path):
    cf, res = unilateral
    out = tmp_path / "cf"
    rc, stdout, _ = run_cli(["counterfactual", "two_country", "--Na", str(NA_TEST), "--quiet",
                             "--unilateral", "Home", "0.10", "--json", "--out", str(out),
                             "--ev-measure", "proportional"])  # the measure of the fixture
    assert rc == 0
    r = json.loads(stdout)
    assert REQUIRED <= set(r)
    assert r["country"] == "Home" and r["converged"] is True
    assert np.asarray(r["ev"]).shape == (NA_TEST, hat_jax.two_country().Nz)
    np.testing.assert_allclose(r["ev"], np.asarray(res.ev.factor), rtol=0, atol=1e-9)
    assert r["mean_gain_pct"] == pytest.approx(100 * res.summary.mean_gain, rel=1e-6)
    assert len(r["quintile_gains_pct"]) == 5
    assert r["acr_pct"] == pytest.approx(100 * res.acr_model, rel=1e-6)
    assert r["R_new"] == pytest.approx(float(cf.new.R), rel=1e-10)
    assert r["home_share_new"] < r["home_share"]
    assert r["experiment"]["kind"] == "unilateral"
    assert {p.name for p in out.iterdir()} >= {"counterfactual.json", "ev.csv", "countries.csv"}


@pytest.mark.parametrize("args, match", [
    (["--unilateral", "USA", "0.1"], "unknown country 'USA'"),
    (["--global-cut", "1.5"], r"cut must lie in \(0, 1\)"),
    (["--bilateral", "Home", "Foreign", "x"], "must be a number"),
    (["--global-cut", "0.1", "--plots"], "--plots needs --out"),
    (["--global-cut", "0.1", "--symmetric"], "--symmetric goes with --bilateral"),
    (["--costs", "no-such-file.csv"], "no such file"),
])
def test_cli_counterfactual_bad_input(args, match):
    rc, _, err = run_cli(["counterfactual", "two_country", "--Na", "20", "--quiet", *args])
    assert rc == 1
    assert "hat: error:" in err and __import__("re").search(match, err)


def test_cli_costs_file_checked(tmp_path):
    f = tmp_path / "costs.csv"
    f.write_text(",Home,Foreign\nHome,1,0.5\nForeign,1.2,1\n")
    rc, _, err = run_cli(["counterfactual", "two_country", "--Na", "20", "--quiet",
                          "--costs", str(f)])
    assert rc == 1 and "d >= 1" in err
    f.write_text("1,1.2,1.3\n1.2,1,1.1\n")
    rc, _, err = run_cli(["counterfactual", "two_country", "--Na", "20", "--quiet",
                          "--costs", str(f)])
    assert rc == 1 and "must be 2 x 2" in err
