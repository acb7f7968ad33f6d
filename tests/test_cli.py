"""Tests for the ``hat`` command (hat_jax.cli), run in-process on a small grid.

The solver compiles once per distinct grid size and set of static options (a compile
takes ~30 s on a laptop CPU), so every solve here uses ``--quiet`` (verbose is a static
option), the default tolerances and Na = 40, the NA_TEST of conftest.py: in a full run
the global and autarky solves then reuse the compilations of test_equilibrium.py. The
global-regime solve runs once (module fixture) and is reused.
"""

import contextlib
import io
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hat_jax import cli
from hat_jax.cli import _common as common
from hat_jax import EquilibriumOptions
from hat_jax.report import _files as files

SMALL = ["--Na", "40", "--quiet"]  # Na = conftest.NA_TEST
TOP_KEYS = {
    "preset", "countries", "R", "beta", "wages", "trade_shares", "home_choice_mean",
    "share_borrowing_limit", "bond_demand", "residuals", "iterations", "converged",
    "timings", "settings", "home_share", "import_share", "nfa_gdp", "A", "L", "start",
    "path",
}
SETTINGS_KEYS = {
    "gamma", "sigma", "beta", "Na", "phi", "amax", "psi_slope", "regime", "unknown", "tol",
    "hh_tol", "distribution",
}


def run(argv):
    """(exit code, stdout, stderr) of ``hat argv`` run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """One global-regime solve with --json and --out: (exit code, JSON, out dir)."""
    out_dir = tmp_path_factory.mktemp("hat") / "run"
    rc, stdout, _ = run(["solve", "two_country", *SMALL, "--json", "--out", str(out_dir)])
    return rc, json.loads(stdout), out_dir


def test_json_keys_and_types(solved):
    rc, res, _ = solved
    assert rc == 0
    assert set(res) == TOP_KEYS
    assert res["preset"] == "two_country"
    assert res["countries"] == ["Home", "Foreign"]
    assert res["converged"] is True
    assert isinstance(res["R"], float) and 1.0 < res["R"] < 1.0 / 0.92
    assert res["beta"] == pytest.approx(0.92)
    for key in ("wages", "home_choice_mean", "share_borrowing_limit", "bond_demand"):
        assert len(res[key]) == 2 and all(isinstance(x, float) for x in res[key]), key
    assert set(res["residuals"]) == {"goods", "bonds", "walras", "max"}
    assert len(res["residuals"]["goods"]) == 1 and len(res["residuals"]["bonds"]) == 1
    assert 0.0 <= res["residuals"]["max"] <= 1e-10
    assert abs(res["residuals"]["walras"]) <= 1e-9
    assert isinstance(res["iterations"]["newton"], int) and res["iterations"]["newton"] >= 1
    assert isinstance(res["iterations"]["household_max"], int)
    # the Newton path: one record per iteration, a Jacobian at the first, converged at
    # the last (where no Jacobian is computed)
    path = res["path"]
    assert len(path) == res["iterations"]["newton"]
    assert [r["iteration"] for r in path] == list(range(len(path)))
    assert path[0]["jacobian"] is True and path[-1]["jacobian"] is False
    assert path[-1]["max_residual"] == pytest.approx(res["residuals"]["max"], rel=1e-6)
    assert res["iterations"]["jacobians"] == sum(r["jacobian"] for r in path) >= 1
    assert set(res["timings"]) == {"compile_s", "run_s"}
    assert SETTINGS_KEYS <= set(res["settings"])
    s = res["settings"]
    assert (s["Na"], s["gamma"], s["sigma"], s["regime"], s["unknown"]) == (
        40, 1.5, 0.25, "global", "R")


def test_trade_shares_and_symmetry(solved):
    _, res, _ = solved
    M = np.array(res["trade_shares"])
    assert M.shape == (2, 2)
    np.testing.assert_allclose(M.sum(axis=1), 1.0, atol=1e-12)
    assert M[0, 0] > 0.5  # home bias at d = 1.745
    np.testing.assert_allclose(res["wages"][0], res["wages"][1], rtol=1e-9)
    np.testing.assert_allclose(M, M[::-1, ::-1], atol=1e-9)
    assert np.all(np.abs(res["bond_demand"]) < 1e-8)  # symmetric: no net foreign assets


def test_out_files(solved):
    _, res, out_dir = solved
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "countries.csv", "manifest.json", "summary.json", "trade_shares.csv"]  # no temp files
    assert sorted(files.check_output_folder(out_dir)["files"]) == [
        "countries.csv", "summary.json", "trade_shares.csv"]
    assert json.loads((out_dir / "summary.json").read_text()) == res
    ts = pd.read_csv(out_dir / "trade_shares.csv", index_col=0)
    assert list(ts.index) == ["Home", "Foreign"] and list(ts.columns) == ["Home", "Foreign"]
    np.testing.assert_allclose(ts.to_numpy(), res["trade_shares"], rtol=1e-15)
    c = pd.read_csv(out_dir / "countries.csv")
    assert list(c.columns) == [
        "country", "W", "A", "L", "home_share", "import_share", "home_choice_mean",
        "share_borrowing_limit", "bond_demand", "nfa_gdp", "Y"]
    assert list(c["country"]) == ["Home", "Foreign"]
    np.testing.assert_allclose(c["home_share"] + c["import_share"], 1.0, atol=1e-12)
    np.testing.assert_allclose(c["nfa_gdp"], c["bond_demand"] / c["Y"])
    np.testing.assert_allclose(c["W"], res["wages"], rtol=1e-15)


def test_text_summary_and_override(solved):
    # same grid and options as the fixture: no recompilation
    rc, stdout, _ = run(["solve", "two_country", *SMALL, "--d", "2.5"])
    assert rc == 0
    for text in ("converged: yes", "Trade shares", "Walras", "Newton iterations", "Home"):
        assert text in stdout
    rc, stdout, _ = run(["solve", "two_country", *SMALL, "--d", "2.5", "--json"])
    res = json.loads(stdout)
    assert res["settings"]["d"] == [[1.0, 2.5], [2.5, 1.0]]
    # higher trade costs: more home spending than at the preset's d = 1.745
    assert res["trade_shares"][0][0] > solved[1]["trade_shares"][0][0]


def test_autarky_returns_R_per_country():
    rc, stdout, _ = run(["solve", "two_country", *SMALL, "--json", "--regime", "autarky"])
    assert rc == 0
    res = json.loads(stdout)
    assert res["converged"] is True and res["settings"]["regime"] == "autarky"
    assert isinstance(res["R"], list) and len(res["R"]) == 2
    np.testing.assert_allclose(res["R"][0], res["R"][1], rtol=1e-9)
    assert len(res["residuals"]["bonds"]) == 2
    assert np.all(np.abs(res["bond_demand"]) < 1e-8)  # A'_i = 0 in every country


def test_not_converged_exit_code(monkeypatch, tmp_path):
    real = common.solve_equilibrium

    def unconverged(*args, **kwargs):
        eq = real(*args, **kwargs)
        return eq._replace(converged=np.asarray(False), residual=np.asarray(np.nan))

    monkeypatch.setattr(common, "solve_equilibrium", unconverged)
    rc, stdout, stderr = run(["solve", "two_country", *SMALL, "--json", "--out", str(tmp_path)])
    assert rc == 2
    assert "did not converge" in stderr
    res = json.loads(stdout)
    assert res["converged"] is False and res["residuals"]["max"] is None  # NaN -> null
    assert json.loads((tmp_path / "summary.json").read_text())["converged"] is False


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--sigma", "-1"], ["sigma", "-1"]),
        (["--d", "0.5"], ["d", "0.5"]),
        (["--beta", "1.2"], ["beta"]),
        (["--Na", "2"], ["Na"]),
        (["--hh-tol", "0"], ["hh-tol"]),
        (["--max-iter", "0"], ["max-iter"]),
        (["--regime", "autarky", "--unknown", "beta"], ["beta", "global"]),
        (["--regime", "nowhere"], ["--regime", "nowhere"]),
        (["--gamma", "abc"], ["--gamma", "abc"]),
        (["--R", "1.2"], ["beta*R"]),  # beta R >= 1: no stationary distribution
    ],
)
def test_bad_input_exit_1(argv, words):
    rc, stdout, stderr = run(["solve", "two_country", "--json", "--quiet", *argv])
    assert rc == 1
    assert stdout == ""
    assert stderr.startswith("hat: error: ")
    for w in words:
        assert w in stderr, (w, stderr)


def test_unknown_preset():
    rc, stdout, stderr = run(["solve", "no_such_economy"])
    assert rc == 1 and stdout == ""
    assert "unknown preset 'no_such_economy'" in stderr
    assert "two_country" in stderr and "two_country_log" in stderr  # lists the choices


def test_usage():
    assert run([])[0] == 1  # no command: help on stderr
    rc, stdout, _ = run(["solve", "--help"])
    assert rc == 0 and "--regime" in stdout and "PRESET" in stdout


def test_python_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "hat_jax.cli", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("hat_jax ")


def test_json_numbers_are_finite_or_null():
    assert files.json_nums([1.0, math.nan, math.inf]) == [1.0, None, None]
    assert files.json_num(np.float32(0.5)) == 0.5 and type(files.json_num(np.float64(2))) is float
    assert files.json_nums(np.float64(3.0)) == 3.0  # a scalar stays a scalar


@pytest.mark.ek_solve
@pytest.mark.filterwarnings("ignore::hat_jax.data.DataWarning")
def test_ek_preset_json_and_out(tmp_path, data_dir):
    """An ek_* preset: beta solved at R = 1.01 from the published prices, ISO3 countries
    in data order, the gravity object (model and data moments), gravity.csv."""
    from hat_jax.data import EK_ISO3

    out_dir = tmp_path / "ek"
    rc, stdout, _ = run(["solve", "ek_log", "--Na", "20", "--data-dir", str(data_dir),
                         "--json", "--quiet", "--out", str(out_dir)])
    assert rc == 0
    res = json.loads(stdout)
    assert set(res) == TOP_KEYS | {"gravity"}
    assert res["countries"] == list(EK_ISO3) and res["start"] == "published"
    assert res["R"] == 1.01 and res["settings"]["unknown"] == "beta"
    assert res["converged"] and res["residuals"]["max"] <= 1e-10
    assert len(res["trade_shares"]) == 19 and all(len(r) == 19 for r in res["trade_shares"])
    g = res["gravity"]
    assert set(g) == {"model", "data"}
    for side in g.values():
        assert set(side) == {"S", "m", "dist", "border", "language", "EC", "EFTA"}
        assert len(side["S"]) == 19 and len(side["m"]) == 19 and len(side["dist"]) == 6
        assert all(isinstance(side[k], float) for k in ("border", "language", "EC", "EFTA"))
    # the data moments are Eaton-Kortum's
    assert g["data"]["border"] == pytest.approx(0.303564, abs=1e-6)
    np.testing.assert_allclose(res["import_share"], 1.0 - np.diag(res["trade_shares"]), atol=1e-14)
    grav = pd.read_csv(out_dir / "gravity.csv")
    assert list(grav.columns) == ["moment", "data", "model", "model_minus_data"]
    assert grav["moment"].iloc[0] == "S_AUS" and len(grav) == 2 * 19 + 10
    assert {"summary.json", "trade_shares.csv", "countries.csv"} <= {p.name for p in out_dir.iterdir()}


def test_published_start_needs_a_data_preset():
    rc, _, err = run(["solve", "two_country", "--start", "published"])
    assert rc == 1 and "has no published prices" in err


def test_unpublished_preset_starts_cold(data_dir):
    """ek_paper_2023 has no published prices: the default start is cold, and asking for
    the published one is a clear error (no solve needed for either)."""
    import argparse

    from hat_jax import ek_world

    world = ek_world("ek_paper_2023", data_dir, Na=10)
    opts = EquilibriumOptions(unknown="beta")
    args = cli.build_parser().parse_args(["solve", "ek_paper_2023", "--Na", "10",
                                          "--data-dir", str(data_dir)])
    economy, built = common.setup_from_args(args)  # the EK world, as for the published presets
    assert built is not None and built.name == "ek_paper_2023" and economy.Na == 10
    guess, start = common.starting_prices(args, world.economy, world, opts)
    assert start == "cold" and guess.R == pytest.approx(1.015)
    np.testing.assert_array_equal(guess.W, np.ones(19))
    assert guess.beta == pytest.approx(0.95 / 1.015)
    with pytest.raises(ValueError, match="no published prices"):
        common.starting_prices(argparse.Namespace(preset="ek_paper_2023", start="published",
                                               R=None, beta=None), world.economy, world, opts)


def test_save_figure_atomic_and_closed(tmp_path):
    """report.figures.save_figure: a PNG written through a temporary file (none left), the
    figure closed; an Axes is accepted for its figure."""
    pytest.importorskip("matplotlib")
    from hat_jax.report._figures import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(ax, tmp_path / "sub" / "line.png")
    assert path == tmp_path / "sub" / "line.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["line.png"]
    assert fig.number not in plt.get_fignums()


def test_every_command_is_registered():
    """The commands, in help order, each a module with add_parser and run."""
    assert list(cli.COMMANDS) == ["solve", "elasticities", "calibrate", "counterfactual",
                                  "planner", "sweep", "tariff", "transition",
                                  "capital-controls", "warmup"]
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == list(cli.COMMANDS)
