"""Transitions across financial regimes (issue 27 item 4, model.md s.12 and s.15): wedge
paths with their rebates solved by date, the opening of the capital account from financial
autarky (at once and announced), and trade shocks under financial autarky throughout
(solve_transition of an autarky baseline). An asymmetric two-country world (no TFP scaling, so
the autarky returns differ) and the symmetric two-country economy, Na = 40."""

import json

import jax
import numpy as np
import pytest

from hat_jax import Baseline, Change, EquilibriumOptions, make_economy, solve_equilibrium
from hat_jax import model
from hat_jax import scenarios as sc
from hat_jax import transition as tn
from hat_jax.welfare import counterfactual

from conftest import NA_TEST as NA

T = 60   # opening: terminal gap below 1e-6 (checked)


@pytest.fixture(scope="module")
def autarky():
    """The financial-autarky equilibrium of an asymmetric two-country world."""
    e = make_economy(np.array([[1.0, 1.8], [1.6, 1.0]]), A=[1.0, 1.4], Na=NA,
                     scale_by_tfp=False)
    return solve_equilibrium(e, EquilibriumOptions(regime="autarky"))


@pytest.fixture(scope="module")
def opening(autarky):
    """The capital account opens at t = 0."""
    return tn.open_capital_account(autarky, horizon=T)


@pytest.fixture(scope="module")
def announced(autarky, opening):
    """The opening announced at t = 0 for date 5 (rebates solved at every date), the
    endpoints taken from the immediate opening."""
    tr = opening.transition
    return tn.open_capital_account(autarky, announce=5, horizon=T, initial=tr.initial,
                                   terminal=tr.terminal)


def test_autarky_wedge_path_stays_at_autarky(autarky, opening):
    """omega_t = R_i^aut - R_1^aut at every date: the path is the autarky stationary
    equilibrium (no net foreign assets, no rebates, EV exactly one up to 1e-8)."""
    omega = sc.autarky_wedges(autarky)
    econ = opening.transition.economy
    rt = tn.solve_regime_transition(autarky, tn.wedge_shock(econ, omega, omega, 12),
                                    initial=opening.transition.initial)
    p = rt.transition.path
    assert rt.converged and rt.transition.iterations <= 1
    np.testing.assert_allclose(p.W, np.broadcast_to(autarky.W, p.W.shape), rtol=0, atol=1e-10)
    np.testing.assert_allclose(rt.returns, np.broadcast_to(autarky.R, rt.returns.shape),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(rt.nfa, 0.0, atol=1e-10)
    np.testing.assert_allclose(rt.rebates, 0.0, atol=1e-10)
    np.testing.assert_allclose(p.trade_shares, np.broadcast_to(
        autarky.world.aggregates.trade_shares, p.trade_shares.shape), rtol=0, atol=1e-10)
    tw = tn.transition_welfare(rt.transition, 1)
    np.testing.assert_allclose(tw.ev.factor, 1.0, rtol=0, atol=1e-8)


def test_opening_converges_to_globalization(opening, autarky):
    """The path ends at the globalization stationary equilibrium (same beta, no wedges);
    R_i,0 is the autarky return; from date 1 one return; bonds carried into date 0 are
    zero and net foreign assets build up to the terminal ones."""
    tr = opening.transition
    assert tr.converged and tr.residual <= 1e-9 and tr.terminal_gap <= 1e-6
    term = tr.terminal
    assert term.economy.wedges is None and np.ndim(term.R) == 0
    assert float(term.beta) == float(autarky.beta)
    np.testing.assert_allclose(tr.path.W[-1], term.W, rtol=0, atol=1e-6)
    np.testing.assert_allclose(tr.path.R_next[-1], term.R, rtol=0, atol=1e-6)
    np.testing.assert_allclose(opening.nfa[-1], term.world.aggregates.bond_demand,
                               rtol=0, atol=1e-5)
    assert np.all(opening.returns[0] == np.asarray(autarky.R))
    np.testing.assert_allclose(opening.returns[1:, 0], opening.returns[1:, 1], rtol=0, atol=0)
    np.testing.assert_allclose(tr.path.assets[0], 0.0, atol=1e-10)
    lender = int(np.argmax(term.world.aggregates.bond_demand))
    assert opening.nfa[0, lender] > 0 and np.all(np.diff(opening.nfa[:, lender]) > -1e-12)
    np.testing.assert_allclose(opening.rebates, 0.0, atol=0)
    tw = tn.transition_welfare(tr, 0)
    assert np.all(np.asarray(tw.ev.converged)) and np.isfinite(tw.mean_gain_pct)


def test_symmetric_opening_moves_nothing(two_country_eq):
    """Two identical countries: the autarky returns are equal, the opening moves nothing
    (A_i = 0 at every date, wages and R at the stationary values, 1e-10)."""
    rt = tn.open_capital_account(two_country_eq, horizon=20)
    p = rt.transition.path
    assert rt.converged
    np.testing.assert_allclose(rt.nfa, 0.0, atol=1e-10)
    np.testing.assert_allclose(p.assets, 0.0, atol=1e-10)
    np.testing.assert_allclose(p.W, 1.0, rtol=0, atol=1e-10)
    np.testing.assert_allclose(rt.returns, float(two_country_eq.R), rtol=0, atol=1e-10)


def test_announced_opening_accounts_at_every_date(announced, opening):
    """Wedges until date 5: the rebate L_i F_i,t = (R_t - R_i,t) A_i,t, the household
    budget PC + A' = R_i A + Y + L F, the current account A' - R A = X - M and the bond
    market sum_i A'_i = 0 hold at every date; rebates are paid before date 5 only and
    the returns differ by the autarky wedges until then."""
    tr = announced.transition
    assert tr.converged and tr.terminal_gap <= 1e-6
    p, L = tr.path, np.asarray(tr.economy.L)
    gdp = float(np.asarray(p.Y).sum(axis=1).max())
    R, R_i, F = np.asarray(p.R)[:, None], announced.returns, announced.rebates
    A, Ap, Y, PC = (np.asarray(x) for x in (p.assets, p.bond_demand, p.Y, p.PC))
    assert tr.path.residuals.shape == (T, 4)                     # goods, bonds, 2 rebates
    solved = 1e-9 * gdp                  # the markets and rebates: to the path's tolerance
    np.testing.assert_allclose(L * F, (R - R_i) * A, rtol=0, atol=solved)
    np.testing.assert_allclose(PC + Ap, R_i * A + Y + L * F, rtol=0, atol=1e-10 * gdp)
    np.testing.assert_allclose(Ap - R * A, announced.trade_balance, rtol=0, atol=3 * solved)
    np.testing.assert_allclose(Ap.sum(axis=1), 0.0, atol=solved)
    omega = sc.autarky_wedges(tr.initial)
    np.testing.assert_allclose(R_i[1:5] - R[1:5], np.broadcast_to(omega, (4, 2)), atol=1e-8)
    np.testing.assert_allclose(R_i[5:] - R[5:], 0.0, atol=0)
    assert np.min(np.abs(F[1:5, 1])) > 1e-7
    np.testing.assert_allclose(F[5:], 0.0, atol=solved)
    assert np.all(np.abs(announced.nfa[:5]) < np.abs(opening.nfa[:5]))  # slower build-up


def test_rebate_jacobian_fake_news_matches_jvp(opening):
    """The sequence-space Jacobian with rebate unknowns at a terminal without wedges:
    the fake-news algorithm equals one jvp per column (2 N T = 24 columns, T = 6)."""
    tr, H = opening.transition, 6
    econ, end = tr.economy, tn.endpoint(tr.terminal)
    hopts = model.household_options(econ, tol=1e-12)
    origin = tn.RegimeOrigin(end.R, jax.numpy.full(2, end.R), jax.numpy.zeros(2),
                             jax.numpy.zeros(2))
    shock = tn.wedge_shock(econ, np.zeros(2), np.zeros(2), H)
    U = jax.numpy.concatenate([tn.steady_unknowns(end, H), jax.numpy.zeros((H, 2))], axis=1)
    J = tn.regime_jacobian(U, econ, shock, origin, end, end, hopts)
    J_fn = tn.regime_fake_news_jacobian(econ, end, H, hopts)
    np.testing.assert_allclose(J_fn, J, rtol=0, atol=1e-8 * np.max(np.abs(J)))
    assert np.max(np.abs(J[:, 2::4])) > 1e-3      # the rebate columns matter


def test_regime_inputs_are_checked(autarky, opening):
    econ = opening.transition.economy
    with pytest.raises(ValueError, match="announce"):
        tn.wedge_shock(econ, np.zeros(2), np.zeros(2), 10, announce=10)
    with pytest.raises(ValueError, match="old wedges"):
        tn.wedge_shock(econ, np.zeros(3), np.zeros(2), 10)
    with pytest.raises(ValueError, match="'wedges' field"):
        tn.solve_regime_transition(autarky, tn.shock_path(econ, None, 10))
    with pytest.raises(ValueError, match="solve_regime_transition"):
        term = opening.transition.terminal
        tn.solve_transition(term._replace(economy=term.economy.replace(wedges=np.zeros(2))),
                            horizon=10)


def _hat(argv):
    import contextlib
    import io

    from hat_jax import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


def test_cli_open_capital_account(tmp_path):
    """hat transition --open-capital-account --json: the regime keys by date; two
    identical countries have no net foreign assets at any date."""
    rc, out, _ = _hat(["transition", "two_country", "--Na", "20", "--quiet", "--json",
                       "--open-capital-account", "--announce", "2", "--T", "20",
                       "--out", str(tmp_path)])
    assert rc == 0
    r = json.loads(out)
    assert r["experiment"] == {"kind": "open_capital_account", "announce": 2}
    for key in ("returns", "wedges", "rebates", "nfa", "trade_balance", "trade_balance_gdp"):
        assert np.shape(r[key]) == (20, 2), key
    np.testing.assert_allclose(r["nfa"], 0.0, atol=1e-9)
    assert len(r["initial"]["R_i"]) == 2 and (tmp_path / "summary.json").exists()
    rc, _, err = _hat(["transition", "two_country", "--Na", "20", "--quiet",
                       "--open-capital-account", "--temporary", "0.5"])
    assert rc == 1 and "--temporary" in err


# Trade shocks under financial autarky throughout (issue 27 item 4): solve_transition of
# an autarky baseline, N bond markets A'_i,t = 0 per date, R_i,t per country.
T_AUT = 40


@pytest.fixture(scope="module")
def autarky_cut(autarky):
    """A 10% global cut under financial autarky (asymmetric world), solved to 1e-10."""
    b = Baseline.from_equilibrium(autarky)
    return tn.solve_transition(b, Change.global_cut(b.economy, 0.1), horizon=T_AUT,
                               opts=tn.TransitionOptions(tol=1e-10))


def test_autarky_transition_not_converged_says_so(autarky, autarky_cut):
    """A path stopped after one quasi-Newton iteration short of a tight tolerance raises
    ConvergenceError with its residual and iteration count; with throw=False the result
    says converged False and carries that residual (no stale path as a result)."""
    from hat_jax import ConvergenceError

    b = Baseline.from_equilibrium(autarky)
    cut = Change.global_cut(b.economy, 0.1)
    opts = tn.TransitionOptions(max_iter=1, tol=1e-14)
    kw = dict(horizon=T_AUT, initial=autarky_cut.initial, terminal=autarky_cut.terminal,
              jacobian=autarky_cut.jacobian, opts=opts)
    with pytest.raises(ConvergenceError, match=r"did not converge.*after 1 quasi-Newton"):
        tn.solve_transition(b, cut, **kw)
    tr = tn.solve_transition(b, cut, throw=False, **kw)
    assert not tr.converged and tr.iterations == 1 and tr.residual > 1e-14


def test_autarky_zero_shock_stays_at_autarky(autarky, autarky_cut):
    """No change under autarky: every date is the autarky stationary equilibrium (W_t,
    R_i,t, trade shares, A'_i,t = 0; 1e-10), with no Newton step."""
    tr = tn.solve_transition(autarky, None, horizon=T_AUT, initial=autarky_cut.initial)
    p = tr.path
    assert tr.converged and tr.iterations == 0 and tr.regime == "autarky"
    assert tr.terminal is tr.initial and tr.U.shape == (T_AUT, 3)
    eq = tr.initial
    np.testing.assert_allclose(p.W, np.broadcast_to(eq.W, p.W.shape), rtol=0, atol=1e-10)
    np.testing.assert_allclose(tr.returns, np.broadcast_to(eq.R, (T_AUT, 2)), rtol=0,
                               atol=1e-10)
    np.testing.assert_allclose(p.R_next, np.broadcast_to(eq.R, (T_AUT, 2)), rtol=0,
                               atol=1e-10)
    np.testing.assert_allclose(p.trade_shares, np.broadcast_to(
        eq.world.aggregates.trade_shares, p.trade_shares.shape), rtol=0, atol=1e-10)
    np.testing.assert_allclose(tr.nfa, 0.0, atol=1e-10)
    assert abs(float(eq.R[0]) - float(eq.R[1])) > 1e-3          # two autarky returns


def test_autarky_cut_converges_with_balanced_trade(autarky_cut):
    """A 10% global cut under autarky: the path ends at the autarky stationary
    equilibrium of the cut (terminal gap 1e-6); every date clears the goods markets and
    every country's bond market (A'_i,t = 0, 1e-9 of GDP), so trade is balanced; R_i,0
    is the initial autarky return and the returns move along the path."""
    tr = autarky_cut
    p, term = tr.path, tr.terminal
    assert tr.converged and tr.residual <= 1e-10 and tr.terminal_gap <= 1e-6
    assert np.shape(term.R) == (2,) and not (term is tr.initial)
    assert float(term.beta) == float(tr.initial.beta)
    np.testing.assert_allclose(np.asarray(term.economy.d), np.asarray(tr.shock.fields["d"][-1]))
    np.testing.assert_allclose(p.W[-1], term.W, rtol=0, atol=1e-6)
    np.testing.assert_allclose(p.R_next[-1], term.R, rtol=0, atol=1e-6)
    gdp = np.asarray(p.Y).sum(axis=1)[:, None]
    assert np.max(np.abs(tr.nfa) / gdp) <= 1e-9
    assert np.max(np.abs(np.asarray(p.assets)) / gdp) <= 1e-9
    assert np.max(np.abs(tr.trade_balance) / gdp) <= 1e-9
    goods = np.asarray(p.Y) - np.asarray(p.M).sum(axis=1)        # Y_j - sum_i M_ij
    assert np.max(np.abs(goods) / gdp) <= 1e-9
    assert np.all(tr.returns[0] == np.asarray(tr.initial.R))
    moved = np.abs(tr.returns[1:] - np.asarray(tr.initial.R)).max()
    assert moved > 1e-5 and np.abs(np.asarray(term.R) - np.asarray(tr.initial.R)).max() > 1e-5
    np.testing.assert_allclose(tr.returns[1:], p.R_next[:-1], rtol=0, atol=0)
    tw = tn.transition_welfare(tr, 1)
    assert np.all(np.asarray(tw.ev.converged)) and np.isfinite(tw.mean_gain_pct)


def test_announced_tfp_rise_under_autarky(autarky, autarky_cut):
    """Home's TFP rises 5% at date 3, announced at 0, under autarky: Home's households
    want to borrow against it and cannot, so Home's return rises before date 3 (it is
    the initial one before the news) while every A'_i,t stays zero (1e-9 of GDP); the
    path ends at Home's new autarky equilibrium."""
    b = Baseline.from_equilibrium(autarky)
    tr = tn.solve_transition(b, Change.tfp(b.economy, 0, 1.05), horizon=T_AUT, announce=3,
                             initial=autarky_cut.initial)
    assert tr.converged and tr.terminal_gap <= 1e-6
    np.testing.assert_allclose(np.asarray(tr.terminal.economy.A), [1.05, 1.4])
    gdp = np.asarray(tr.path.Y).sum(axis=1)[:, None]
    assert np.max(np.abs(tr.nfa) / gdp) <= 1e-9
    R0 = np.asarray(tr.initial.R)
    assert np.all(tr.returns[0] == R0)
    assert np.all(tr.returns[1:4, 0] > R0[0] + 1e-5)               # anticipation in Home


def test_symmetric_autarky_cut_equals_global_cut(two_country_eq):
    """Two identical countries (two_country is symmetric: A_i = 0 under globalization)
    and a symmetric 10% cut: the autarky path equals the globalization path (prices,
    returns, trade shares, date-0 values; 1e-9)."""
    b = Baseline.from_equilibrium(two_country_eq)
    assert np.allclose(b.economy.d, np.asarray(b.economy.d).T) and \
        np.allclose(b.economy.A, b.economy.A[0])
    aut = Baseline.from_equilibrium(counterfactual(b, None, regime="autarky").new)
    change, opts = Change.global_cut(b.economy, 0.1), tn.TransitionOptions(tol=1e-11)
    g = tn.solve_transition(b, change, horizon=T_AUT, opts=opts)
    a = tn.solve_transition(aut, change, horizon=T_AUT, opts=opts)
    assert a.regime == "autarky" and g.regime == "global" and a.converged and g.converged
    np.testing.assert_allclose(a.path.W, g.path.W, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.returns, g.returns, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.path.trade_shares, g.path.trade_shares, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.path.V0, g.path.V0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(g.nfa, 0.0, atol=1e-9)
    assert np.abs(g.returns[1:] - g.returns[0]).max() > 1e-6       # the cut moves R_t


def test_autarky_jacobian_fake_news_matches_jvp(autarky_cut):
    """The autarky path's stationary Jacobian [(2N-1) T]^2 at the cut's terminal: fake
    news = one jvp per column (T = 5)."""
    tr, H = autarky_cut, 5
    econ, end = tr.terminal.economy, tn.endpoint(tr.terminal)
    hopts = model.household_options(econ, tol=1e-12)
    J = tn.stationary_autarky_jacobian(econ, end, H, hopts,
                                       tn.TransitionOptions(jacobian_method="jvp"))
    J_fn = tn.stationary_autarky_jacobian(econ, end, H, hopts, tn.TransitionOptions())
    assert J.shape == (15, 15)
    np.testing.assert_allclose(J_fn, J, rtol=0, atol=1e-8 * np.max(np.abs(J)))
    assert np.max(np.abs(J[:, 2::3])) > 1e-3       # R_2 moves the markets


def test_autarky_transition_inputs_are_checked(autarky, autarky_cut, two_country_eq):
    import equinox as eqx

    b = Baseline.from_equilibrium(autarky)
    with pytest.raises(ValueError, match="wedges"):
        tn.solve_transition(eqx.tree_at(lambda x: x.economy, b,
                                        b.economy.replace(wedges=np.zeros(2))), horizon=10)
    with pytest.raises(ValueError, match="wedges"):
        tn.solve_transition(b, tn.wedge_shock(b.economy, np.zeros(2), np.zeros(2), 10))
    with pytest.raises(ValueError, match="cache"):
        tn.solve_transition(b, horizon=10, cache=autarky_cut)
    with pytest.raises(ValueError, match="paths"):
        tn.solve_transition(b, horizon=10, paths=("distribution",))
    with pytest.raises(ValueError, match="jacobian must be 30 x 30"):
        tn.solve_transition(b, horizon=10, jacobian=np.eye(20))
    with pytest.raises(ValueError, match="initial must be a financial-autarky"):
        tn.solve_transition(b, horizon=10, initial=two_country_eq)
    with pytest.raises(ValueError, match="endpoint_equilibria needs one world bond"):
        tn.endpoint_equilibria(b, tn.stationary_shock(b.economy, 10), tn.TransitionOptions())
