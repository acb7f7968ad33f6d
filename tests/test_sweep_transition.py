"""``hat sweep --transition`` (issue 30 item 4): the transitions of a scenario set batched
with one shared Jacobian, in the resumable sweep folder. Two-country economy, Na = 40,
T = 60 (the programs of tests/test_transition.py)."""

import json

import numpy as np
import pandas as pd
import pytest

import hat_jax
from hat_jax import scenarios as sc
from hat_jax import transition as tn
from hat_jax.cli import main
from hat_jax.scenarios import _store as sst

from conftest import NA_TEST

T = 60
SWEEP = ["sweep", "two_country", "--Na", str(NA_TEST), "--global-cuts", "0.05:0.15:3",
         "--transition", "--path-tol", "1e-12", "--T", str(T), "--batch", "2"]


def _main(argv, capsys):
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_sweep_of_three_equals_one_at_a_time_and_resumes(tmp_path, capsys, two_country_eq):
    """Shard 1 of 2 writes chunk 1 (one scenario) as a run killed after it would; the
    resumed run solves only chunk 0 (two scenarios, batched) and leaves chunk 1 as it
    was; the merged rows equal one-at-a-time transitions (both to residuals of 1e-12 of
    GDP) to 1e-10."""
    out = tmp_path / "run"
    rc, _, err = _main([*SWEEP, "--out", str(out), "--shard", "1/2"], capsys)
    assert rc == 0, err
    man = json.loads((out / sst.SWEEP_MANIFEST).read_text())
    assert man["options"]["transition"] == {"T": T, "announce": 0, "temporary": None,
                                              "tol": 1e-12}
    chunk1 = out / "chunks" / sst.chunk_name(1, 2, man["chunk_format"])
    assert sst.finished_chunks(out, man) == {1}
    before = (chunk1.read_bytes(), chunk1.stat().st_mtime_ns)
    rc, text, err = _main([*SWEEP, "--out", str(out), "--resume", "--json"], capsys)
    assert rc == 0, err
    assert "this process: 1 chunk(s), 2 scenarios" in err
    assert (chunk1.read_bytes(), chunk1.stat().st_mtime_ns) == before   # not redone
    summary = json.loads(text)
    assert summary["kind"] == "transition" and summary["converged"] == 3
    frame = pd.read_csv(out / "results.csv")
    assert list(frame.columns[:len(sc.TRANSITION_COLUMNS)]) == list(sc.TRANSITION_COLUMNS)
    econ = two_country_eq.economy
    changes = sc.global_cut_scenarios(econ, 0.05, 0.15, 3, floor=1.0).changes
    for change in changes:
        one = tn.solve_transition(two_country_eq, change, horizon=T,
                                  opts=tn.TransitionOptions(tol=1e-12))
        rows = frame[frame["scenario"] == change.label]
        p = one.path
        assert rows["converged"].all() and one.converged
        np.testing.assert_allclose(rows["terminal_gap"], one.terminal_gap, rtol=0, atol=1e-10)
        for col, ref in (("W_h0", p.W[0]), ("W_h5", p.W[5]), ("W", one.terminal.W),
                         ("home_share_h1", p.home_share[1]),
                         ("nfa_gdp_h10", p.bond_demand[10] / p.Y[10]),
                         ("R_impact", np.full(2, p.R_next[0]))):
            np.testing.assert_allclose(rows[col], np.asarray(ref), rtol=0, atol=1e-10,
                                       err_msg=f"{change.label} {col}")
    # a run of another horizon into the folder is refused, naming the option
    rc, _, err = _main([*SWEEP[:-4], "--T", "40", "--batch", "2", "--out", str(out)], capsys)
    assert rc == 1 and "options.transition.T" in err


@pytest.mark.parametrize("extra, message", [
    (["--global-cuts", "0.1:0.2:2", "--T", "40"], "--T go(es) with --transition"),
    (["--draws", "2", "--seed", "0", "--transition"], "not --draws"),
    (["--global-cuts", "0.1:0.2:2", "--transition", "--ev", "Home"], "--ev is not available"),
    (["--global-cuts", "0.1:0.2:2", "--transition", "--temporary", "1.5"], "--temporary"),
])
def test_bad_transition_sweeps_are_refused(capsys, extra, message):
    rc, _, err = _main(["sweep", "two_country", "--Na", str(NA_TEST), *extra], capsys)
    assert rc == 1 and message in err, err
