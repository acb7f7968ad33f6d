"""Transitions across financial regimes (issue 27 item 4, model.md s.12 and s.15): wedge
paths with their rebates solved by date, the opening of the capital account from financial
autarky (at once and announced). An asymmetric two-country world (no TFP scaling, so
the autarky returns differ) and the symmetric two-country economy, Na = 40."""

import json

import jax
import numpy as np
import pytest

from hat_jax import EquilibriumOptions, make_economy, solve_equilibrium
from hat_jax import model
from hat_jax import scenarios as sc
from hat_jax import transition as tn

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
