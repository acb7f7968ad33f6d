"""Tariffs in the equilibrium (model.md s.14): free trade reproduced, revenue and national
accounts identities, the symmetric log-utility theory check, bad input, counterfactuals,
welfare derivatives against central differences, optimal and Nash tariffs."""

import contextlib
import io

import numpy as np
import pytest

import hat_jax
from hat_jax import cli
from hat_jax import policy
from hat_jax import welfare as wf
from hat_jax import Change
from hat_jax.welfare import utilitarian_welfare

from conftest import NA_TEST

T10 = 0.1 * (1.0 - np.eye(2))


@pytest.fixture(scope="module")
def tariff_eq(two_country_eq):
    """The two-country economy with a 10% tariff both ways (beta fixed at the baseline)."""
    return wf.counterfactual(two_country_eq, tariffs=T10).new


def test_zero_tariffs_reproduce_free_trade(two_country_eq):
    zero = hat_jax.solve_equilibrium(two_country_eq.economy.replace(tariffs=np.zeros((2, 2))))
    np.testing.assert_allclose(zero.W, two_country_eq.W, rtol=0, atol=1e-12)
    assert abs(float(zero.R) - float(two_country_eq.R)) <= 1e-12
    np.testing.assert_array_equal(zero.T, 0.0)
    for a, b in ((zero.world.aggregates.M, two_country_eq.world.aggregates.M),
                 (zero.world.distribution.lam, two_country_eq.world.distribution.lam),
                 (zero.world.households.c, two_country_eq.world.households.c)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(zero.world.households.V, two_country_eq.world.households.V,
                               rtol=1e-12)


def test_revenue_and_national_accounts(tariff_eq):
    eq = tariff_eq
    a, e = eq.world.aggregates, eq.economy
    t = np.asarray(e.tariffs)
    M = np.asarray(a.M)
    rev = np.sum(t / (1 + t) * M, axis=1)
    np.testing.assert_allclose(a.revenue, rev, rtol=1e-14)
    gdp = float(np.sum(a.Y))
    assert np.max(np.abs(np.asarray(e.L) * np.asarray(eq.T) - rev)) / gdp <= 1e-10
    assert np.all(np.asarray(eq.T) > 0)
    # goods markets at producer prices: Y_j = sum_i M_ij / (1 + t_ij)
    np.testing.assert_allclose(a.Y, np.sum(M / (1 + t), axis=0), rtol=0, atol=1e-10 * gdp)
    # Y + Rev = PC + (A' - R A) = PC + X - M (producer prices)
    lhs = np.asarray(a.Y) + rev
    np.testing.assert_allclose(lhs, np.asarray(a.PC) + np.asarray(a.bond_demand)
                               - float(eq.R) * np.asarray(a.assets), atol=1e-10 * gdp)
    np.testing.assert_allclose(lhs, np.asarray(a.PC) + np.asarray(a.exports)
                               - np.asarray(a.imports), atol=1e-10 * gdp)
    assert float(eq.residual) <= 1e-10


def test_symmetric_log_utility_theory(two_country_log_eq):
    """Same tariff both ways in the symmetric log economy: W = 1 and home share
    1 / (1 + ((1 + t) d)^(-1/sigma))."""
    t = 0.15
    cf = wf.counterfactual(two_country_log_eq, tariffs=t * (1 - np.eye(2)))
    e, eq = cf.new.economy, cf.new
    np.testing.assert_allclose(eq.W, 1.0, atol=1e-12)
    d, sigma = float(e.d[0, 1]), float(e.sigma)
    home = 1.0 / (1.0 + ((1 + t) * d) ** (-1.0 / sigma))
    np.testing.assert_allclose(np.diag(eq.world.aggregates.trade_shares), home, atol=1e-9)
    np.testing.assert_allclose(eq.T[0], eq.T[1], rtol=1e-9)


@pytest.mark.parametrize("bad, match", [
    ([[0.0, -0.1], [0.0, 0.0]], r"tariffs\[0, 1\] \(Home on Foreign\)=-0.1 < 0"),
    ([[0.0, np.nan], [0.0, 0.0]], r"tariffs\[0, 1\] \(Home on Foreign\)=nan is not finite"),
    ([[0.2, 0.1], [0.0, 0.0]], r"tariffs\[0, 0\] \(Home on Home\)=0.2: .*own \(home\) good"),
    (np.zeros((3, 3)), r"must be 2 x 2 .*got shape \(3, 3\)"),
])
def test_bad_tariffs(two_country_eq, bad, match):
    with pytest.raises(ValueError, match=match):
        two_country_eq.economy.replace(tariffs=np.asarray(bad))
    with pytest.raises(ValueError, match=match):
        wf.counterfactual(two_country_eq, tariffs=np.asarray(bad))


def test_welfare_gradient_in_tariffs_matches_central_differences(two_country_eq):
    """dW_i/dt_kl by AD through the equilibrium (IFT) against central differences of the
    welfare, taken from the values of the same compiled program (value_and_gradient, the
    program of tariff_gradient) at t -+ h: one program, not a second primal one."""
    t = np.array([[0.0, 0.1], [0.05, 0.0]])
    at_t = wf.counterfactual(two_country_eq, tariffs=t).new  # a warm start for every solve
    args = policy.tariff_args(at_t)
    # differences of h = 1e-5 need solves below the default tolerances (1e-10): the
    # household values and the markets at 1e-10 move W by ~1e-10, 1e-5 of the quotient
    opts = policy.policy_options(at_t).replace(tol=1e-12, hh_tol=1e-13)
    home = np.array([1.0, 0.0])
    welfare = lambda tt: policy.value_and_gradient(args, tt, home, opts)[0]
    g = policy.tariff_gradient(at_t, "Home")
    assert g.converged and abs(g.value - welfare(t)) < 1e-10
    h = 1e-5
    for k, l in ((0, 1), (1, 0)):
        E = np.zeros((2, 2))
        E[k, l] = h
        fd = (welfare(t + E) - welfare(t - E)) / (2 * h)
        assert abs(g.grad[k, l] - fd) <= 1e-6 * max(1.0, abs(fd)), (k, l, g.grad[k, l], fd)
    assert g.grad[0, 1] > 0 > g.grad[1, 0]  # own tariff helps at 10%, the partner's hurts


@pytest.fixture(scope="module")
def home_optimum(two_country_eq):
    return policy.optimal_tariff(two_country_eq, "Home", mode="uniform", start=0.3)


def test_optimal_uniform_tariff(two_country_eq, home_optimum):
    """The optimum is interior, converged, and beats nearby uniform rates. The welfare
    at those rates comes from the program the optimiser itself runs (value_and_gradient,
    Home's welfare and its gradient), not from a second, primal-only program."""
    o = home_optimum
    assert o.converged and o.foc_residual <= 1e-6
    rate = float(o.rates[1])
    assert 0.05 < rate < 1.0 and o.welfare > o.welfare0
    at_opt = wf.counterfactual(two_country_eq, tariffs=o.tariffs).new  # warm start
    args = policy.tariff_args(at_opt)
    opts = policy.policy_options(at_opt)
    home = np.array([1.0, 0.0])
    grid = rate + np.array([-0.1, -0.01, 0.01, 0.1])
    for r in grid:
        t = r * np.array([[0.0, 1.0], [0.0, 0.0]])
        w, g, ok, _ = policy.value_and_gradient(args, t, home, opts)
        assert ok and w < o.welfare, (r, w, o.welfare)
        assert np.sign(g[0, 1]) == np.sign(rate - r), (r, g[0, 1])  # uphill to the optimum


def test_optimum_carries_its_equilibrium(two_country_eq, home_optimum):
    """OptimalTariff.start is the equilibrium at the optimum: a counterfactual started
    there needs at most one Newton iteration and finds the root the baseline start finds
    (to the solver's tolerance), with the optimiser's welfare."""
    o = home_optimum
    change = Change.tariffs(two_country_eq.economy, o.tariffs, label="optimal")
    warm = wf.counterfactual(two_country_eq, change, start=o.start)
    cold = wf.counterfactual(two_country_eq, change)
    assert int(warm.new.iterations) <= 1 < int(cold.new.iterations)
    np.testing.assert_allclose(warm.new.W, cold.new.W, atol=1e-8)
    np.testing.assert_allclose(warm.new.T, cold.new.T, atol=1e-8)
    assert float(utilitarian_welfare(warm.new)[0]) == pytest.approx(o.welfare, rel=1e-9)


@pytest.fixture(scope="module")
def uniform_nash(two_country_eq, home_optimum):
    return policy.nash_tariffs(two_country_eq, mode="uniform", start=float(home_optimum.rates[1]))


def test_symmetric_nash_tariffs(uniform_nash):
    """Nash tariffs of the symmetric economy (Broyden on the stacked FOCs) are symmetric,
    every FOC holds and both countries lose against free trade (a tariff war)."""
    n = uniform_nash
    assert n.converged and n.foc_residual <= 1e-6
    assert abs(n.tariffs[0, 1] - n.tariffs[1, 0]) <= 1e-6
    assert abs(n.welfare[0] - n.welfare[1]) <= 1e-7
    assert np.all(n.welfare < n.welfare_free)
    assert 0.05 < n.tariffs[0, 1] < 1.0


def test_tariffs_under_financial_autarky(two_country_eq):
    """Both bond-market regimes: under financial autarky (R_i each, A'_i = 0) with
    asymmetric tariffs the rebates clear and Y_i + Rev_i = PC_i (trade balanced at
    producer prices plus revenue)."""
    econ = two_country_eq.economy.replace(tariffs=np.array([[0.0, 0.2], [0.05, 0.0]]))
    eq = hat_jax.solve_equilibrium(econ, hat_jax.EquilibriumOptions(regime="autarky"))
    a = eq.world.aggregates
    gdp = float(np.sum(a.Y))
    assert np.shape(eq.R) == (2,) and float(eq.residual) <= 1e-10
    np.testing.assert_allclose(np.asarray(econ.L) * np.asarray(eq.T), a.revenue,
                               atol=1e-10 * gdp)
    np.testing.assert_allclose(a.Y + a.revenue, a.PC, atol=1e-9 * gdp)
    np.testing.assert_allclose(a.Y + a.revenue, a.PC + a.exports - a.imports, atol=1e-10 * gdp)
    assert float(a.revenue[0]) > float(a.revenue[1]) > 0


def _cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, err.getvalue()


@pytest.mark.parametrize("argv, message", [
    (["counterfactual", "two_country", "--tariff-war", "-0.1"], "--tariff-war: the tariff must be >= 0"),
    (["counterfactual", "two_country", "--uniform-tariff", "Home", "x"], "--uniform-tariff: the tariff must be a number"),
    (["counterfactual", "two_country", "--uniform-tariff", "Mars", "0.1"], "Mars"),
    (["tariff", "two_country", "--grid", "1"], "--grid must be 0 or at least 2"),
    (["tariff", "two_country", "--coarse", "1"], "coarse must be 0 (no coarse stage) or"),
    # issue 26 B8: 2 passed the range check and failed later with "Na must be >= 3"
    (["tariff", "two_country", "--coarse", "2"], "asset grid points >= 3"),
])
def test_cli_bad_tariff_input(argv, message):
    rc, err = _cli(argv + ["--Na", str(NA_TEST)])
    assert rc == 1 and message in err, err


def test_by_partner_optimum_and_best_response_nash(two_country_eq, home_optimum,
                                                   uniform_nash):
    """With one partner, "by partner" is "uniform" solved another way: the projected
    Newton optimum equals the BFGS one, and the uniform Nash tariffs (Broyden on the
    stacked FOCs) are a fixed point of by-partner best responses."""
    rate = float(home_optimum.rates[1])
    b = policy.optimal_tariff(two_country_eq, "Home", mode="by_partner", start=1.05 * rate)
    assert b.converged and b.foc_residual <= 1e-6 and b.objective == "utilitarian"
    assert abs(float(b.rates[1]) - rate) <= 1e-5 and abs(b.welfare - home_optimum.welfare) <= 1e-8
    n = policy.nash_tariffs(two_country_eq, mode="by_partner", start=uniform_nash.tariffs,
                           tol=1e-6)
    assert n.mode == "by_partner" and n.converged and n.foc_residual <= 1e-6 and n.rounds == 1
    np.testing.assert_allclose(n.tariffs, uniform_nash.tariffs, atol=1e-6)
    np.testing.assert_allclose(n.welfare, uniform_nash.welfare, rtol=1e-10)


def test_coarse_grid_stage(two_country_eq, home_optimum):
    """A coarse stage (Na = 20; its optimum and quasi-Newton Hessian start the fine grid's
    Newton) reaches the fine grid's own optimum: the one found without it, FOC <= 1e-6
    on the fine grid; bad ``coarse`` values are refused by name."""
    b = policy.optimal_tariff(two_country_eq, "Home", mode="by_partner", coarse=20)
    assert b.coarse == 20 and b.converged and b.foc_residual <= 1e-6
    assert b.hessian.shape == (1, 1) and float(b.hessian[0, 0]) < 0
    assert abs(float(b.rates[1]) - float(home_optimum.rates[1])) <= 1e-5
    assert abs(b.welfare - home_optimum.welfare) <= 1e-8
    u = policy.optimal_tariff(two_country_eq, "Home", mode="uniform", coarse=20)
    assert u.coarse == 20 and u.converged and u.foc_residual <= 1e-6
    assert abs(float(u.rates[1]) - float(home_optimum.rates[1])) <= 1e-5
    assert home_optimum.coarse == 0 and float(home_optimum.hessian[0, 0]) < 0
    # the one-rate problem seen two ways: BFGS's secant curvature (mapped from s to t) and
    # Newton's (difference Hessian plus updates) agree
    assert float(u.hessian[0, 0]) == pytest.approx(float(b.hessian[0, 0]), rel=0.05)
    for bad in (1, NA_TEST, -3, 2.5, True):
        with pytest.raises(ValueError, match=rf"coarse must be .*coarse={bad!r}"):
            policy.optimal_tariff(two_country_eq, "Home", mode="uniform", coarse=bad)
    with pytest.raises(ValueError, match="pass start or coarse, not both"):
        policy.optimal_tariff(two_country_eq, "Home", mode="uniform", coarse=20, start=0.3)


def test_optimal_tariff_not_converged_reports_foc(two_country_eq, home_optimum):
    """One BFGS step from far away: converged is False and the FOC residual reported is
    the one of an independent gradient at the answer (never a silent number)."""
    o = policy.optimal_tariff(two_country_eq, "Home", mode="uniform", start=0.02, max_steps=1)
    assert not o.converged and o.steps == 1
    g = policy.tariff_gradient(two_country_eq, "Home", o.tariffs)
    assert o.foc_residual > 1e-6 and abs(o.foc_residual - abs(g.grad[0, 1])) <= 1e-9
    assert o.welfare < home_optimum.welfare


def test_partial_equilibrium_gradient_includes_rebate(tariff_eq):
    """At fixed W, R and rebates T (here T > 0 from a 10% tariff) the welfare is the
    equilibrium's own sum lambda V (T in every household's income) and its gradient in
    log d agrees with central differences."""
    g = wf.welfare_gradient(tariff_eq, "Home", general_equilibrium=False)
    assert abs(g.value - float(wf.utilitarian_welfare(tariff_eq)[0])) <= 1e-9
    h = 1e-4
    d = np.asarray(tariff_eq.economy.d)
    E = np.zeros((2, 2))
    E[0, 1] = h
    vals = [wf.welfare_gradient(tariff_eq._replace(
        economy=tariff_eq.economy.replace(d=d * np.exp(s * E))), "Home",
        general_equilibrium=False).value for s in (1.0, -1.0)]
    fd = (vals[0] - vals[1]) / (2 * h)
    assert abs(g.grad[0, 1] - fd) <= 2e-6 * max(1.0, abs(fd)), (g.grad[0, 1], fd)


def test_mean_ev_gradient_matches_central_differences(two_country_eq):
    """The lambda-weighted mean EV against free trade and its exact gradient (IFT through
    the equilibrium and every EV root) against central differences of the mean EV from
    :func:`hat_jax.welfare.equivalent_variation`."""
    t = np.array([[0.0, 0.1], [0.05, 0.0]])
    at_t = wf.counterfactual(two_country_eq, tariffs=t).new
    args, opts = policy.tariff_args(at_t), policy.policy_options(at_t)
    # the default EV options: the EV program of the finite differences is the one the
    # welfare tests compile for this economy (shared through the compilation cache)
    ev_opts = wf.EVOptions()
    ref = policy.ev_reference(two_country_eq, 0, ev_opts)
    val, g, ok, _ = policy.mean_ev_value_and_gradient(args, t, ref, opts)

    def mean_ev(tt):
        new = wf.counterfactual(at_t, tariffs=tt).new
        ev = wf.equivalent_variation(two_country_eq, new, 0, ev_opts)
        return wf.welfare_summary(two_country_eq, new, ev).mean_gain

    assert ok and abs(val - mean_ev(t)) <= 1e-9 and val > 0
    h = 1e-5
    E = np.zeros((2, 2))
    E[0, 1] = h
    fd = (mean_ev(t + E) - mean_ev(t - E)) / (2 * h)
    assert abs(g[0, 1] - fd) <= 1e-6 * max(1.0, abs(fd)), (g[0, 1], fd)


def test_comparison_with_planner_and_ra(two_country_eq, home_optimum):
    """The planner's per-household values add up to its objective, efficiency is worth
    more than free trade (risk sharing), and the RA tariff does no better in the HAT
    model than the HAT optimum (which maximises the same welfare)."""
    P, sol = policy.planner_values(two_country_eq)
    L, psi = np.asarray(two_country_eq.economy.L), np.asarray(sol.weights)
    assert abs(np.sum(psi * L * P) - float(sol.welfare)) <= 1e-10 * abs(float(sol.welfare))
    assert abs(P[0] - P[1]) <= 1e-10  # symmetric economy
    theta = float(wf.model_trade_elasticity(two_country_eq, 0)[1])
    ra = policy.ra_optimal_tariff(two_country_eq, 0, theta)
    c = policy.compare_optimum(two_country_eq, home_optimum, ra)
    W = wf.utilitarian_welfare(two_country_eq)
    gain = 100 * (home_optimum.welfare - float(W[0])) / abs(float(W[0]))
    assert c.planner_gain_pct > gain > c.ra_welfare_gain_pct
    assert abs(c.tariff_share_of_planner_pct - 100 * gain / c.planner_gain_pct) <= 1e-6
    assert abs(c.tariff_minus_ra_pp - 100 * (home_optimum.rates[1] - ra)) <= 1e-12
