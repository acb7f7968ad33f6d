"""Financial integration (model.md s.15): capital-account wedges R_i = R + omega_i with
the revenue rebated lump sum, regime counterfactuals and the welfare derivative with
respect to a wedge. Two-country worlds on a small grid."""

import jax
import numpy as np
import pytest

import hat_jax
from hat_jax import Change, EquilibriumOptions, Start, make_economy, solve_equilibrium
from hat_jax import scenarios as sc
from hat_jax import welfare as wf

from conftest import NA_TEST as NA
AUT = EquilibriumOptions(regime="autarky")


@pytest.fixture(scope="module")
def world():
    """An asymmetric two-country world (no TFP scaling, so the autarky returns differ)
    solved under financial globalization and under financial autarky."""
    e = make_economy(np.array([[1.0, 1.8], [1.6, 1.0]]), A=[1.0, 1.4], Na=NA,
                     scale_by_tfp=False)
    return e, solve_equilibrium(e), solve_equilibrium(e, AUT)




def test_zero_wedges_reproduce_globalization(world):
    """omega = 0 (rebates as unknowns, all zero) is financial globalization: the same
    Newton path from the same start, prices to 1e-12."""
    e, g, _ = world
    g0 = solve_equilibrium(e.replace(wedges=np.zeros(2)))
    np.testing.assert_allclose(g0.W, g.W, rtol=0, atol=1e-12)
    np.testing.assert_allclose(g0.R, g.R, rtol=0, atol=1e-12)
    np.testing.assert_allclose(g0.T, 0.0, atol=1e-12)
    assert abs(float(g.world.aggregates.assets[0])) > 1e-3  # the countries do trade bonds


def test_autarky_wedges_reproduce_autarky(world):
    """omega_i = R_i^aut - R_1^aut: the global bond market with these wedges is the
    financial-autarky equilibrium (W, R_i and every household policy to 1e-9), started
    from the globalization prices."""
    e, g, a = world
    omega = sc.autarky_wedges(a)
    assert omega[0] == 0.0 and abs(omega[1]) > 1e-3
    w = solve_equilibrium(e.replace(wedges=omega), start=Start(W=g.W, R=g.R))
    np.testing.assert_allclose(w.W, a.W, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sc.country_returns(w.economy, w.R), a.R, rtol=0, atol=1e-9)
    fa = sc.financial_accounts(w)
    np.testing.assert_allclose(fa.nfa, 0.0, atol=1e-9)
    np.testing.assert_allclose(fa.rebates, 0.0, atol=1e-9)
    for name in ("c", "a_next", "pi", "V"):
        np.testing.assert_allclose(getattr(w.world.households, name),
                                   getattr(a.world.households, name), rtol=0, atol=1e-9,
                                   err_msg=name)
    np.testing.assert_allclose(w.world.distribution.lam, a.world.distribution.lam,
                               rtol=0, atol=1e-9)


def test_wedges_rebate_their_revenue(world):
    """With wedges the rebate is F_i = (R - R_i) A_i / L_i and the national accounts hold
    at the world R: Y_i = PC_i + (A'_i - R A_i) (stationary: A' = A, so (1 - R) A_i)."""
    e, g, _ = world
    w = solve_equilibrium(e.replace(wedges=[0.0, -0.004]), start=Start.from_equilibrium(g, False))
    agg = w.world.aggregates
    fa = sc.financial_accounts(w)
    np.testing.assert_allclose(w.T, fa.rebates, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fa.rebates, 0.004 * np.asarray(agg.assets) * [0, 1],
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(agg.Y, agg.PC + agg.bond_demand - w.R * agg.assets,
                               rtol=1e-9)
    np.testing.assert_allclose(np.sum(agg.bond_demand), 0.0, atol=1e-9)
    # a tax on the lender's return lowers its foreign assets
    lender = int(np.argmax(g.world.aggregates.assets))
    assert abs(float(agg.assets[lender])) < abs(float(g.world.aggregates.assets[lender])) \
        or lender == 0


def test_identical_countries_wedges_do_not_move_the_allocation(two_country_eq):
    """Two identical countries: A_i = 0 under globalization, autarky and symmetric wedges;
    with omega_i = w for both R falls by w and nothing else moves (1e-10)."""
    g = two_country_eq
    symmetric = g.economy
    a = solve_equilibrium(symmetric, AUT, start=Start.from_equilibrium(g, False))
    s = solve_equilibrium(symmetric.replace(wedges=[0.01, 0.01]),
                          start=Start(W=g.W, R=float(g.R) - 0.008))
    for eq in (g, a, s):
        np.testing.assert_allclose(eq.world.aggregates.assets, 0.0, atol=1e-10)
    np.testing.assert_allclose(a.R, float(g.R), rtol=0, atol=1e-10)
    np.testing.assert_allclose(float(s.R) + 0.01, float(g.R), rtol=0, atol=1e-10)
    np.testing.assert_allclose(s.W, g.W, rtol=0, atol=1e-10)
    np.testing.assert_allclose(s.T, 0.0, atol=1e-10)
    for name in ("c", "a_next", "V"):
        np.testing.assert_allclose(getattr(s.world.households, name),
                                   getattr(g.world.households, name), rtol=0, atol=1e-10)


def test_wedge_welfare_gradient_matches_central_differences(world):
    """dW_i/domega_k by AD through the equilibrium (implicit function theorem,
    ``policy.wedge_welfare_jacobian``, whose diagonal is the first-order conditions the
    Nash-wedge iteration solves) equals central finite differences (relative 1e-6)."""
    from hat_jax import policy

    e, g, _ = world
    b = hat_jax.Baseline.from_equilibrium(g)
    args = sc.wedge_args(b)
    opts = b.opts.replace(tol=1e-13, hh_tol=1e-13, dist_tol=1e-14)
    omega = np.array([0.0, -0.003])
    _, jac, eq = policy.wedge_welfare_jacobian(args, omega, opts)
    assert bool(eq.converged)
    f = lambda om: np.asarray(policy.wedge_welfare_jacobian(args, om, opts)[0])  # noqa: E731
    h = 1e-5
    for k in range(2):
        dk = np.eye(2)[k] * h
        fd = (f(omega + dk) - f(omega - dk)) / (2 * h)
        np.testing.assert_allclose(np.asarray(jac)[:, k], fd, rtol=1e-6,
                                   atol=1e-9 * np.abs(fd).max())


def test_regime_change_welfare(world):
    """Autarky -> globalization (and back) with EV by state: the round trip returns the
    starting equilibrium; the new equilibrium of opening is the globalization one, which
    the opening of a globalization baseline starts from (no exact Jacobian, at most one
    Newton iteration) and which Newton also reaches from the autarky prices."""
    e, g, _ = world
    cf = sc.regime_change(g, "autarky", "global")
    assert sc.regime_baseline(g, "global").equilibrium is g
    assert int(cf.new.iterations) <= 1 and cf.new.stats["jacobians"] == 0
    cold = wf.counterfactual(cf.baseline, None, regime="global")  # from the autarky prices
    assert int(cold.new.iterations) > 1 and bool(cold.new.converged)
    for new in (cf.new, cold.new):
        np.testing.assert_allclose(new.W, g.W, rtol=0, atol=1e-9)
        np.testing.assert_allclose(new.R, g.R, rtol=0, atol=1e-9)
    res = wf.welfare_analysis(cf, 0)
    back = sc.regime_change(cf.new, "global", "autarky")
    np.testing.assert_allclose(back.new.R, cf.baseline.R, rtol=0, atol=1e-9)
    res_back = wf.welfare_analysis(back, 0)
    # opening and closing are inverse moves: utilitarian welfare changes cancel, and
    # the EV of each state has the sign of its value change (gain in one, loss back)
    assert abs(res.summary.welfare_change) > 1e-8
    np.testing.assert_allclose(res_back.summary.welfare_change, -res.summary.welfare_change,
                               rtol=1e-9)
    V_aut, V_glob = (np.asarray(eq.world.households.V[0]) for eq in (cf.baseline, cf.new))
    clear = np.abs(V_glob - V_aut) > 1e-8
    np.testing.assert_array_equal((np.asarray(res.ev.factor) > 1.0)[clear],
                                  (V_glob > V_aut)[clear])
    assert 0.0 <= float(res.summary.share_gain) <= 1.0


def test_wedge_inputs_are_checked(world):
    e, _, a = world
    with pytest.raises(ValueError, match=r"wedges\[1\] \(C2\)=nan"):
        Change.wedges(e, [0.0, np.nan])
    with pytest.raises(ValueError, match="one capital-account wedge"):
        Change.wedges(e, [0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match="regime='global'"):
        solve_equilibrium(e.replace(wedges=[0.0, 0.0]), AUT)
    with pytest.raises(ValueError, match="financial autarky"):
        sc.wedge_args(a)
    ch = Change.wedge(e, "C2", -0.01)
    np.testing.assert_array_equal(ch.values["wedges"], [0.0, -0.01])
    assert "C2" in ch.note and ch.apply(e).has_rebates


def test_trade_finance_table_routes_agree(world):
    """The 2 x 2 table: opening after the cut ends in the same equilibrium as the cut
    under globalization (two routes to one point, 1e-9); the cut under autarky keeps
    every A_i = 0; every cell has each country's EV aggregates."""
    e, g, _ = world
    t = sc.trade_finance_table(g, 0.10)
    cfs = t.counterfactuals
    np.testing.assert_allclose(cfs["opening_after_cut"].new.W, cfs["trade_cut_global"].new.W,
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(cfs["opening_after_cut"].new.R, cfs["trade_cut_global"].new.R,
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(cfs["trade_cut_autarky"].new.world.aggregates.assets, 0.0,
                               atol=1e-9)
    for cell in t.cells.values():
        assert set(cell) == {"C1", "C2"}
        for s in cell.values():
            assert np.isfinite(s.mean_gain) and 0.0 <= s.share_gain <= 1.0
    # a 10% cut of trade costs is a gain for the mean household under either regime
    assert all(t.cells[k][c].mean_gain > 0 for k in ("trade_cut_global", "trade_cut_autarky")
               for c in ("C1", "C2"))


def test_opening_gain_slope_matches_central_differences(world):
    """dG_i/d log s of the opening gain G_i(s) = W_i^global(s) - W_i^autarky(s) by AD
    equals central differences (relative 1e-6). The gains at s e^-+h come from the
    program of the slope itself (``opening_gain_curve``'s, whose baselines are arguments:
    the same program for any world of this shape), evaluated at three scales."""
    e, g, _ = world
    opts = EquilibriumOptions(tol=1e-13, hh_tol=1e-13, dist_tol=1e-14)
    oa = sc.opening_args(hat_jax.Baseline.from_equilibrium(g, opts))
    s0 = 0.95
    h = 1e-4  # noise of the solves (~4e-14 in G) over 2h stays below 1e-6 relative
    curve = sc.opening_gain_curve(oa, [s0, s0 * np.exp(h), s0 * np.exp(-h)])
    assert curve["converged"].all()
    G, dG = curve["gain"][0], curve["dgain_dlogs"][0]
    fd = (curve["gain"][1] - curve["gain"][2]) / (2 * h)
    np.testing.assert_allclose(dG, fd, rtol=1e-6, atol=1e-9 * np.abs(fd).max())
    assert np.abs(fd).max() > 1e-4 and np.all(np.isfinite(G))  # a slope that moves


def _hat(argv):
    import contextlib
    import io

    from hat_jax import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


def test_cli_regime_change_and_wedges(tmp_path):
    """hat counterfactual --regime-change / --wedges: the finance object; two identical
    countries gain nothing from opening (EV 1 in every state), and a wedge on Foreign's
    return makes it a borrower, its rebate (R - R_i) A_i / L_i."""
    import json

    # the tests' grid: the baseline, autarky and EV programs are the quick tier's
    small = ["two_country", "--Na", str(NA), "--quiet", "--json"]
    rc, out, _ = _hat(["counterfactual", *small, "--regime-change", "autarky:global",
                       "--ev-all-countries"])
    assert rc == 0
    r = json.loads(out)
    assert {k: r["experiment"][k] for k in ("kind", "source", "target")} == {
        "kind": "regime_change", "source": "autarky", "target": "global"}
    f = r["finance"]
    assert (f["before"]["regime"], f["after"]["regime"]) == ("autarky", "global")
    assert f["before"]["world_R"] is None and f["after"]["world_R"] == pytest.approx(r["R_new"])
    np.testing.assert_allclose(f["before"]["R"], f["after"]["R"], atol=1e-9)
    np.testing.assert_allclose(f["after"]["nfa"], 0.0, atol=1e-9)
    np.testing.assert_allclose(r["ev"], 1.0, atol=1e-8)
    assert [c["country"] for c in r["ev_by_country"]] == r["countries"]
    (tmp_path / "w.csv").write_text("ISO,omega\nForeign,-0.005\n")
    rc, out, _ = _hat(["counterfactual", *small, "--wedges", str(tmp_path / "w.csv")])
    assert rc == 0
    f = json.loads(out)["finance"]["after"]
    assert f["wedges"] == [0.0, -0.005]
    assert f["R"][1] == pytest.approx(f["R"][0] - 0.005, abs=1e-12)
    assert f["nfa"][1] < -1e-4 < 1e-4 < f["nfa"][0]
    np.testing.assert_allclose(f["rebates"], [0.0, 0.005 * f["nfa"][1]], atol=1e-12)
    (tmp_path / "bad.csv").write_text("Mars,0.01\n")
    rc, _, err = _hat(["counterfactual", *small, "--wedges", str(tmp_path / "bad.csv")])
    assert rc == 1 and "unknown country 'Mars'" in err
    rc, _, err = _hat(["counterfactual", *small, "--regime-change", "global:global"])
    assert rc == 1 and "--regime-change must be" in err


def test_optimal_wedge_is_a_maximum(world):
    """C2's optimal wedge (C1's 0): the exact derivative vanishes there (FOC residual
    <= 1e-7), welfare is at least the baseline's and lower at omega* +- 1e-3; the EV
    at the optimum is computed on the optimum's counterfactual."""
    from hat_jax import policy

    e, g, _ = world
    opt = policy.optimal_wedge(g, "C2")
    assert opt.converged and abs(opt.foc_residual) <= 1e-7
    assert opt.welfare >= opt.welfare_base
    args = sc.wedge_args(hat_jax.Baseline.from_equilibrium(g))
    for h in (-1e-3, 1e-3):
        om = opt.wedges.copy()
        om[1] += h
        W, _, eq = policy.wedge_value_and_slope(args, om, 1, hat_jax.Baseline.from_equilibrium(g).opts)
        assert bool(eq.converged) and float(W[1]) < opt.welfare
    assert opt.welfare_result is not None
    assert opt.counterfactual.new.economy.wedges[1] == opt.wedge


def test_optimal_wedge_refuses_and_reports(world):
    """A search stopped after one evaluation raises ConvergenceError naming the country,
    its last wedge and derivative (with throw=False: converged False, the evaluated
    point kept); an unknown country is refused before any solve."""
    from hat_jax import policy

    _, g, _ = world
    with pytest.raises(ValueError, match="XX"):
        policy.optimal_wedge(g, "XX")
    with pytest.raises(hat_jax.ConvergenceError,
                       match=r"optimal wedge of C2: not converged \(1 evaluations\)"):
        policy.optimal_wedge(g, "C2", max_iter=1, ev=False)
    opt = policy.optimal_wedge(g, "C2", max_iter=1, ev=False, throw=False)
    assert not opt.converged and opt.iterations == 1 and abs(opt.foc_residual) > 1e-9
    assert opt.welfare == opt.welfare_base and opt.welfare_result is None


def test_cli_capital_controls(tmp_path):
    """hat capital-controls --nash --compare-tariff --plots --json: stdout is one JSON
    object (progress on stderr), the optimum's FOC residual is small and the path ends at
    the reported wedge; the two identical countries' Nash wedges are equal and leave
    every EV at 0; each instrument's optimum beats the baseline for Home, and Home's
    optimal tariff costs Foreign (a terms-of-trade gain at the partner's expense)."""
    import json

    rc, out, err = _hat(["capital-controls", "two_country", "--Na", "40", "--country",
                         "Home", "--nash", "--compare-tariff", "--json", "--plots",
                         "--out", str(tmp_path / "cc")])
    assert rc == 0, err
    r = json.loads(out)
    assert r["converged"] and abs(r["foc_residual"]) <= 1e-7
    assert r["path"][-1]["omega"] == r["wedge"] and r["wedges"][0] == r["wedge"]
    assert r["welfare"] >= r["welfare_base"]
    assert r["finance"]["after"]["wedges"] == r["wedges"]
    assert json.loads((tmp_path / "cc" / "capital_controls.json").read_text()) == r
    n = r["nash"]
    assert n["converged"] and n["foc_residual"] <= 1e-9
    assert n["wedges"][0] == pytest.approx(n["wedges"][1], abs=1e-9)
    assert [e["country"] for e in n["ev"]] == ["Home", "Foreign"]
    np.testing.assert_allclose([e["mean_gain_pct"] for e in n["ev"]], 0.0, atol=1e-7)
    c = r["tariff_comparison"]
    assert c["country"] == "Home" and c["wedge"]["policy"] == r["wedge"]
    # the same wedge, its equilibrium solved from the baseline instead of warm-started
    assert c["wedge"]["welfare_gain"] == pytest.approx(r["welfare"] - r["welfare_base"],
                                                        abs=1e-9)
    assert c["tariff"]["converged"] and c["tariff"]["policy"] > 0.0
    for k in ("wedge", "tariff"):
        assert c[k]["welfare_gain"] > 0.0
        assert [e["country"] for e in c[k]["ev"]] == ["Home", "Foreign"]
    assert c["tariff"]["ev"][1]["mean_gain_pct"] < 0.0
    for name in ("ev_by_assets.png", "nfa_by_policy.png"):
        assert (tmp_path / "cc" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_symmetric_nash_wedges(two_country_eq):
    """Two identical countries: the Nash wedges are equal (omega_1 = omega_2 = w*, not 0:
    each country subsidizes its savers' return), and, as any symmetric wedges, leave the
    allocation of financial globalization (R falls by w*; A_i = 0, W, V as at omega = 0,
    so every EV is 1). The first-order condition there is a central difference of each
    country's welfare in its own wedge (~0), and W_1 is lower at w* +- 1e-3."""
    from hat_jax import policy

    g = two_country_eq
    n = policy.nash_wedges(g)
    assert n.converged and n.foc_residual <= 1e-9
    w = n.wedges
    assert abs(w[0] - w[1]) <= 1e-9 and w[0] > 1e-3
    eq = n.equilibrium
    np.testing.assert_allclose(float(eq.R) + w[0], float(g.R), rtol=0, atol=1e-10)
    np.testing.assert_allclose(eq.world.aggregates.assets, 0.0, atol=1e-10)
    np.testing.assert_allclose(eq.W, g.W, rtol=0, atol=1e-10)
    np.testing.assert_allclose(eq.world.households.V, g.world.households.V, rtol=0, atol=1e-8)
    np.testing.assert_allclose(n.welfare, n.welfare_base, rtol=0, atol=1e-9)
    for s in n.ev.values():
        assert abs(s.mean_gain) <= 1e-9
    b = hat_jax.Baseline.from_equilibrium(g)
    args = sc.wedge_args(b)
    W = lambda om: np.asarray(policy.wedge_welfare_jacobian(args, om, b.opts)[0])  # noqa: E731
    h = 1e-5
    for i in range(2):
        e = np.eye(2)[i]
        fd = (W(w + h * e)[i] - W(w - h * e)[i]) / (2 * h)
        assert abs(fd - n.foc[i]) <= 1e-6 and abs(fd) <= 1e-6
    assert W(w + 1e-3 * np.eye(2)[0])[0] < n.welfare[0] > W(w - 1e-3 * np.eye(2)[0])[0]


def test_nash_wedges_refuse_and_report(world):
    """A Nash iteration stopped after one step raises ConvergenceError with its FOC
    residual and iterations; throw=False keeps the last point (converged False)."""
    from hat_jax import policy

    _, g, _ = world
    with pytest.raises(hat_jax.ConvergenceError,
                       match=r"Nash wedges: not converged \(1 iterations\); max "
                       r"\|dW_i/domega_i\| .* after 1 iterations"):
        policy.nash_wedges(g, max_iter=1, ev=False)
    n = policy.nash_wedges(g, max_iter=1, ev=False, throw=False)
    assert not n.converged and n.iterations == 1 and n.foc_residual > 1e-9
    assert np.all(np.isfinite(n.wedges)) and n.ev is None
    np.testing.assert_allclose(n.foc, np.asarray(policy.wedge_welfare_jacobian(
        sc.wedge_args(hat_jax.Baseline.from_equilibrium(g)), n.wedges,
        hat_jax.Baseline.from_equilibrium(g).opts)[1]).diagonal(), rtol=1e-6)
