"""Trade elasticities by AD (hat_jax._elasticities, model.md section 9): theory checks,
finite differences of the re-solved household problem, Proposition 3, frames, figures
and the ``hat elasticities`` command.

Compilations are shared: the elasticities compile once per (gamma, Na, hh_tol, number of
importers), so the two-country results come from three module fixtures (gamma 1.5, both
importers; gamma 1.5, one importer at a tight tolerance; log utility) and the
command-line test reuses the first.
"""

import contextlib
import io
import json

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hat_jax
from hat_jax import HouseholdOptions
from hat_jax.model import household_problems, solve_households, trade_flows
from hat_jax import cli
from hat_jax import _elasticities as el
from hat_jax.cli import _common as common
from hat_jax.report import elasticities as rep

TIGHT = 1e-13  # household tolerance of the finite-difference checks
H = 1e-6  # central-difference step in log d_ij (below the kinks of the discretised model)


@pytest.fixture(scope="module")
def te2(two_country_eq):
    return el.trade_elasticities(two_country_eq)


@pytest.fixture(scope="module")
def te2_tight(two_country_eq):
    """Importer Home only (one factorisation), household tolerance 1e-13."""
    return el.trade_elasticities(two_country_eq, importer="home", hh_tol=TIGHT)


@pytest.fixture(scope="module")
def te_log(two_country_log_eq):
    return el.trade_elasticities(two_country_log_eq)


# ------------------------------------------------------------------------ theory checks
def test_log_utility_theta_is_minus_one_over_sigma(te_log, two_country_log_eq):
    """gamma = 1: theta_ij = -1/sigma for every pair and every state, theta^I = -1 (the
    saving choice does not depend on the variety's price), theta^I_ii,j = 0, and
    gravity M_ij / M_ii = (p_ij / p_ii)^(-1/sigma)."""
    sigma = float(two_country_log_eq.economy.sigma)
    theta = np.asarray(te_log.theta)
    off = ~np.eye(2, dtype=bool)
    np.testing.assert_allclose(theta[off], -1.0 / sigma, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.diag(theta), 1.0)
    np.testing.assert_allclose(te_log.theta_mean, -1.0 / sigma, atol=1e-9)
    for i, j in ((0, 1), (1, 0)):
        st = te_log.states(i, j)
        np.testing.assert_allclose(st.theta, -1.0 / sigma, rtol=0, atol=1e-9)
        np.testing.assert_allclose(st.theta_I, -1.0, rtol=0, atol=1e-9)
        np.testing.assert_allclose(st.theta_I_home, 0.0, rtol=0, atol=1e-9)
        # logit extensive margins: -(1 - s_j)/sigma and s_j/sigma (s_j = expenditure
        # share = choice probability when spending does not depend on the variety)
        np.testing.assert_allclose(st.theta_E, -(1.0 - st.partner_share) / sigma, atol=1e-9)
        np.testing.assert_allclose(st.theta_E_home, st.partner_share / sigma, atol=1e-9)
    M, p = np.asarray(te_log.M), np.asarray(te_log.price)
    for i, j in ((0, 1), (1, 0)):
        assert M[i, j] / M[i, i] == pytest.approx((p[i, j] / p[i, i]) ** (-1.0 / sigma),
                                                  rel=1e-9)


def test_constrained_households_intensive_margin_is_exactly_minus_one(te2):
    """At the borrowing limit a' does not move, so c_ij = (R a + W z + phi)/p_ij and
    theta^I = -1 exactly (and the home good's consumption does not change)."""
    for k, (i, j) in enumerate(((0, 1), (1, 0))):
        st = te2.states(i, j)
        con = np.asarray(st.constrained)
        assert con.sum() >= 3, "expected households at the borrowing limit"
        assert np.all(np.asarray(st.theta_I)[con] == -1.0)
        home_con = np.asarray(te2.at_limit[i, :, :, i])
        assert np.all(np.asarray(st.theta_I_home)[home_con] == 0.0)
        # unconstrained: saving adjusts, |theta^I| < 1 (gamma > 1)
        free = ~con
        assert np.all(np.asarray(st.theta_I)[free] > -1.0)
        assert np.all(np.asarray(st.theta_I)[free] < 0.0)


def test_symmetric_two_country_economy(te2):
    theta = np.asarray(te2.theta)
    assert theta[0, 1] == pytest.approx(theta[1, 0], rel=1e-9)
    assert theta[0, 1] < -1.0  # imports fall more than one for one with the cost
    np.testing.assert_array_equal(np.diag(theta), 1.0)
    np.testing.assert_allclose(te2.theta_mean, theta[[0, 1], [1, 0]], rtol=1e-14)
    a, b = te2.states(0, 1), te2.states(1, 0)
    for name in ("theta", "theta_I", "theta_E", "theta_I_home", "theta_E_home", "omega_ij",
                 "omega_ii", "foreign_share"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-7, atol=1e-9,
                                   err_msg=name)
    np.testing.assert_array_equal(a.constrained, b.constrained)


def test_proposition3_rebuilds_the_aggregate(te2, te_log):
    """theta_ij = 1 + sum omega_ij (theta^I + theta^E)_ij - sum omega_ii (theta^I + theta^E)_ii,j."""
    for te in (te2, te_log):
        for i, j in ((0, 1), (1, 0)):
            st = te.states(i, j)
            assert float(el.proposition3(st)) == pytest.approx(float(te.theta[i, j]),
                                                               rel=0, abs=1e-10)
            assert float(jnp.sum(st.omega_ij)) == pytest.approx(1.0, abs=1e-12)
            assert float(jnp.sum(st.omega_ii)) == pytest.approx(1.0, abs=1e-12)
        m = te.margins()  # the same sums for every pair at once, 0 on the diagonal
        rebuilt = 1 + m["intensive"] + m["extensive"] - m["intensive_home"] - m["extensive_home"]
        np.testing.assert_allclose(rebuilt[[0, 1], [1, 0]], te.theta[[0, 1], [1, 0]],
                                   atol=1e-10)
        for x in m.values():
            np.testing.assert_array_equal(np.diag(np.asarray(x)), 0.0)
        st = te.states(0, 1)
        assert float(m["intensive"][0, 1]) == pytest.approx(
            float(jnp.sum(st.omega_ij * st.theta_I)), rel=1e-12)


def test_poor_households_are_more_elastic(te2):
    """gamma = 1.5: -theta_ij(a, z) falls with assets at every productivity state, from
    the borrowing limit to the top of the grid (up to wiggles below 1e-3 from the kinks
    of the discretised policies, against a range of ~7), and constrained households are
    more elastic than the average, the rich (upper half of the grid) less."""
    st = te2.states(0, 1)
    th = np.asarray(st.theta)  # [a, z]
    lam = np.asarray(st.lam)
    steps = np.diff(th, axis=0)  # > 0: less elastic with more assets
    assert steps.min() > -1e-3
    assert np.all(th[0] < th[-1] - 0.5)  # at the limit vs the top, every z
    assert np.mean(steps > 0) > 0.95
    con = np.asarray(st.constrained)
    mean_con = np.sum((lam * th)[con]) / np.sum(lam[con])
    half = th.shape[0] // 2
    mean_rich = np.sum((lam * th)[half:]) / np.sum(lam[half:])
    assert mean_con < float(te2.theta[0, 1]) < mean_rich


# ------------------------------------------------------------------ finite differences
def _resolved_logs(eq, i, j, h, tol):
    """log(M_ij/M_ii) (lambda fixed) and state-level log c, log pi of varieties j and i,
    with p_ij scaled by exp(h) and the households re-solved (warm start, tolerance tol)."""
    e = eq.economy
    probs = household_problems(e, eq.W, eq.R, eq.beta)
    opts = HouseholdOptions(gamma=e.gamma, Na=e.Na, tol=tol)
    lam = eq.world.distribution.lam

    @jax.jit
    def f(h):
        p = probs.p.at[i, j].multiply(jnp.exp(h))
        hh = solve_households(probs._replace(p=p), opts, eq.world.households.state,
                              throw=False)
        M = trade_flows(lam, hh.c, hh.pi, p, e.L)
        c, pi = hh.c[i], hh.pi[i]
        logs = (jnp.log(M[i, j] / M[i, i]), jnp.log(c[..., j]), jnp.log(pi[..., j]),
                jnp.log(c[..., i]), jnp.log(pi[..., i]))
        return logs, jnp.all(hh.converged)

    return f


def test_ad_matches_central_differences(two_country_eq, te2_tight, te2):
    """Aggregate and state-level elasticities against central differences (h = 1e-6) of
    the re-solved household problem at tolerance 1e-13: relative 1e-6."""
    eq = two_country_eq
    i, j = 0, 1
    f = _resolved_logs(eq, i, j, H, TIGHT)
    (plus, ok_p), (minus, ok_m) = f(H), f(-H)
    assert bool(ok_p) and bool(ok_m)
    fd = [(np.asarray(a) - np.asarray(b)) / (2 * H) for a, b in zip(plus, minus)]
    agg, dlc_j, dlpi_j, dlc_i, dlpi_i = fd
    te = te2_tight
    assert float(te.theta[0, j]) == pytest.approx(float(agg), rel=1e-6)
    st = te.states(i, j)
    # state total: 1 + d log(c_ij pi_ij) - d log(c_ii pi_ii)
    total = 1.0 + (dlpi_j - dlpi_i) + (dlc_j - dlc_i)
    np.testing.assert_allclose(st.theta, total, rtol=1e-6)
    scale = np.max(np.abs(np.asarray(st.theta)))
    for name, x in (("theta_I", dlc_j), ("theta_E", dlpi_j), ("theta_I_home", dlc_i),
                    ("theta_E_home", dlpi_i)):
        np.testing.assert_allclose(getattr(st, name), x, rtol=1e-6, atol=1e-6 * scale,
                                   err_msg=name)
    # the default tolerance gives the same answer to ~1e-8
    assert float(te2.theta[i, j]) == pytest.approx(float(te.theta[0, j]), rel=1e-8)


# ----------------------------------------------------------------------- API and frames
def test_one_importer_equals_its_row_of_the_matrix(two_country_eq, te2, te2_tight):
    """importer="home" (case-insensitive) computes row Home alone; it matches the full
    matrix up to the household tolerances (1e-13 here, 1e-10 there)."""
    one = te2_tight
    assert one.importers == (0,) and one.theta.shape == (1, 2)
    np.testing.assert_allclose(one.theta[0], te2.theta[0], rtol=1e-8)
    np.testing.assert_allclose(one.theta_state[0], te2.theta_state[0], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(one.share[0], te2.share[0], rtol=1e-9)
    with pytest.raises(ValueError, match="importer 'Foreign' was not computed"):
        one.states("Foreign", "Home")
    # from an equilibrium (computes that importer's row; same compiled function)
    st = el.state_elasticities(two_country_eq, "Home", "Foreign", hh_tol=TIGHT)
    assert st.importer == "Home" and st.partner == "Foreign"
    assert float(st.theta_aggregate) == float(one.theta[0, 1])


def test_bad_country_labels(two_country_eq, te2, te2_tight):
    with pytest.raises(ValueError, match=r"unknown importer 'USA'.*Home, Foreign"):
        el.trade_elasticities(two_country_eq, importer="USA")
    with pytest.raises(ValueError, match="importer index 5 out of range"):
        el.trade_elasticities(two_country_eq, importer=5)
    with pytest.raises(ValueError, match="partner must differ"):
        te2.states("Home", "Home")
    with pytest.raises(ValueError, match="unknown partner 'Mars'"):
        te2.states("Home", "Mars")
    with pytest.raises(ValueError, match="hh_tol"):
        el.trade_elasticities(two_country_eq, hh_tol=0.0)
    # one options object: the same re-solve through opts= as through hh_tol=
    opts = hat_jax.EquilibriumOptions(hh_tol=TIGHT)
    via_opts = el.trade_elasticities(two_country_eq, importer="home", opts=opts)
    np.testing.assert_array_equal(np.asarray(via_opts.theta), np.asarray(te2_tight.theta))


def test_frames(te2, two_country_eq):
    m = rep.theta_matrix(te2)
    assert list(m.index) == ["Home", "Foreign"] and list(m.columns) == ["Home", "Foreign"]
    assert m.loc["Home", "Foreign"] == float(te2.theta[0, 1])
    pairs = rep.elasticity_frame(te2)
    assert list(pairs.columns) == ["importer", "exporter", "theta", "price", "share", "M"]
    assert len(pairs) == 2 and set(pairs["importer"]) == {"Home", "Foreign"}
    shares = np.asarray(two_country_eq.world.aggregates.trade_shares)
    np.testing.assert_allclose(pairs["share"], [shares[0, 1], shares[1, 0]], rtol=1e-8)
    np.testing.assert_allclose(pairs["price"], 1.745, rtol=1e-9)  # d W_j / A_j, W ~ A = 1
    part = rep.partners_frame(te2, "Home")
    assert list(part.columns) == ["country", "theta", "price", "share"]
    assert part["country"].tolist() == ["Foreign"]
    means = rep.theta_mean_frame(te2)
    assert list(means.columns) == ["importer", "theta_mean", "import_share"]
    st = te2.states("Home", "Foreign")
    df = rep.states_frame(st)
    Na, Nz = two_country_eq.economy.Na, two_country_eq.economy.Nz
    assert len(df) == Na * Nz
    assert {"asset", "z_index", "theta", "theta_E", "theta_I", "omega_ij", "omega_ii"} <= set(df)
    assert df["asset"].iloc[0] == pytest.approx(-0.5) and df["z_index"].iloc[Nz - 1] == Nz - 1
    assert df["theta"].iloc[Nz + 2] == float(st.theta[1, 2])  # asset-major order
    assert df["constrained"].dtype == bool


def test_figures(te2, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = rep.plot_state_heatmaps(te2.states("Home", "Foreign"))
    assert len(fig.axes) == 4  # two panels and their colour bars
    fig.savefig(tmp_path / "heat.png")
    fig2 = rep.plot_elasticity_vs_price(te2, "Home")
    fig2.savefig(tmp_path / "price.png")
    plt.close("all")
    assert (tmp_path / "heat.png").stat().st_size > 1000
    assert (tmp_path / "price.png").stat().st_size > 1000


# ---------------------------------------------------------------------------- the CLI
def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


def test_cli_json_out_and_plots(tmp_path, te2):
    """--json keys, partners and states records, the files of --out and the figures.
    Na = 40 and --quiet reuse the compilations of the fixtures."""
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "el"
    rc, stdout, stderr = _run(["elasticities", "two_country", "--Na", "40", "--quiet",
                               "--json", "--importer", "Home", "--states", "Home", "Foreign",
                               "--out", str(out_dir), "--plots"])
    assert rc == 0, stderr
    res = json.loads(stdout)
    assert {"countries", "theta", "theta_mean", "partners", "states", "states_pair",
            "converged", "settings", "timings"} <= set(res)
    assert res["countries"] == ["Home", "Foreign"] and res["converged"] is True
    np.testing.assert_allclose(res["theta"], np.asarray(te2.theta), rtol=1e-9)
    assert res["theta"][0][0] == 1.0 and res["theta"][1][1] == 1.0
    assert len(res["theta_mean"]) == 2
    assert res["partners"] == [{"country": "Foreign", "theta": pytest.approx(res["theta"][0][1]),
                                "price": pytest.approx(1.745), "share": pytest.approx(
                                    float(te2.share[0, 1]), rel=1e-9)}]
    assert len(res["states"]) == 40 * 10
    rec = res["states"][0]
    assert {"asset", "z_index", "theta", "theta_E", "theta_I", "omega_ij", "omega_ii"} <= set(rec)
    assert rec["asset"] == pytest.approx(-0.5) and rec["z_index"] == 0
    sp = res["states_pair"]
    assert sp["theta_proposition3"] == pytest.approx(sp["theta"], abs=1e-10)
    names = {p.name for p in out_dir.iterdir()}
    assert {"summary.json", "theta.csv", "theta_mean.csv", "pairs.csv", "partners_Home.csv",
            "states_Home_Foreign.csv", "state_heatmaps_Home_Foreign.png",
            "elasticity_vs_price_Home.png"} <= names
    assert json.loads((out_dir / "summary.json").read_text()) == res
    theta_csv = pd.read_csv(out_dir / "theta.csv", index_col=0)
    assert theta_csv.loc["Foreign", "Home"] == pytest.approx(res["theta"][1][0], rel=1e-15)

    rc, text, _ = _run(["elasticities", "two_country", "--Na", "40", "--quiet"])
    assert rc == 0 and "Trade-weighted mean elasticity" in text and "Home" in text


def test_cli_not_converged_exit_2(monkeypatch, te2):
    """An unconverged equilibrium: elasticities still reported, exit code 2; the economy
    is built once although the labels are checked before the solve."""
    real = common.solve_equilibrium
    real_preset = hat_jax.preset
    built = []

    def unconverged(*args, **kwargs):
        eq = real(*args, **kwargs)
        return eq._replace(converged=np.asarray(False))

    def preset(*args, **kwargs):
        built.append(args[0])
        return real_preset(*args, **kwargs)

    monkeypatch.setattr(common, "solve_equilibrium", unconverged)
    monkeypatch.setattr(hat_jax, "preset", preset)
    rc, stdout, stderr = _run(["elasticities", "two_country", "--Na", "40", "--quiet",
                               "--json", "--states", "Home", "Foreign"])
    assert rc == 2 and "not converged" in stderr
    assert built == ["two_country"]
    res = json.loads(stdout)
    assert res["converged"] is False and len(res["theta"]) == 2


@pytest.mark.parametrize("argv, words", [
    (["--importer", "USA"], ["--importer", "'USA'", "Home, Foreign"]),
    (["--states", "Home", "Home"], ["--states", "different"]),
    (["--states", "Home", "Mars"], ["--states partner", "'Mars'"]),
    (["--plots"], ["--out"]),
])
def test_cli_bad_input_exit_1(argv, words):
    """Labels and options are checked before the equilibrium is solved."""
    rc, stdout, stderr = _run(["elasticities", "two_country", "--Na", "40", "--quiet", *argv])
    assert rc == 1 and stdout == ""
    assert stderr.startswith("hat: error: ")
    for w in words:
        assert w in stderr, (w, stderr)


# ------------------------------------------------------------------- the 19-country world
@pytest.mark.ek_solve
@pytest.mark.filterwarnings("ignore::hat_jax.data.DataWarning")
def test_ek_baseline_all_pairs(data_dir):
    """ek_baseline at Na = 20: all 342 elasticities finite and negative, the trade-weighted
    means as defined, Proposition 3 for every pair of one importer."""
    world = hat_jax.ek_world("ek_baseline", data_dir, Na=20)
    eq = hat_jax.solve_equilibrium(world.economy, hat_jax.EquilibriumOptions(unknown="beta"),
                                   hat_jax.Start(*world.start("published")))
    te = el.trade_elasticities(eq)
    theta = np.asarray(te.theta)
    off = ~np.eye(19, dtype=bool)
    assert np.all(np.isfinite(theta)) and np.all(theta[off] < -1.0)
    np.testing.assert_array_equal(np.diag(theta), 1.0)
    share = np.asarray(eq.world.aggregates.trade_shares)
    w = np.where(off, share, 0.0)
    np.testing.assert_allclose(te.theta_mean, (theta * w).sum(1) / w.sum(1), rtol=1e-8)
    usa = world.countries.index("USA")
    assert -8.0 < float(te.theta_mean[usa]) < -2.0
    for j in range(19):
        if j != usa:
            st = te.states(usa, j)
            assert float(el.proposition3(st)) == pytest.approx(theta[usa, j], abs=1e-10)
    part = rep.partners_frame(te, "USA")
    assert len(part) == 18 and "USA" not in set(part["country"])
