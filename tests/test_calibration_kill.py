"""A real SIGKILL: ``hat calibrate synthetic`` is killed (kill -9) after its first
iteration, resumed with ``--resume``, and ends on exactly the files of an uninterrupted
run (computed in this process). The killed and the resumed runs are separate processes,
as a user would run them (a file of its own so that the test
workers can run it beside the other calibration tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

from hat_jax import cli
from hat_jax.calibration import CHECKPOINT_NAME, load_checkpoint

TIMEOUT_S = 600


def _hat(*argv, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "hat_jax.cli", "calibrate", "synthetic",
                             *argv], env=env, **kw)


def test_sigkill_then_resume_gives_the_uninterrupted_result(tmp_path):
    ref, run = tmp_path / "ref", tmp_path / "run"
    # the uninterrupted reference in this process (it also fills the persistent cache
    # that the two processes below load their programs from)
    assert cli.main(["calibrate", "synthetic", "--out", str(ref), "--quiet",
                     "--no-figure"]) == 0
    ref_iterations = load_checkpoint(ref / CHECKPOINT_NAME).iteration
    assert ref_iterations >= 2

    # the run to kill: wait until iteration 1 is reported (its checkpoint is written
    # before the line), then kill -9 at once, while a later iteration is being computed
    # (with the compiled programs in the persistent cache an iteration of this small
    # world takes a fraction of a second, so which one is racy: any before the last)
    log = tmp_path / "killed.err"
    with open(log, "wb") as f:
        p = _hat("--out", str(run), "--no-figure", stdout=subprocess.DEVNULL, stderr=f)
        t0 = time.monotonic()
        while b"calibration   1 " not in log.read_bytes():
            assert p.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() - t0 < TIMEOUT_S, "no iteration 1 reported in time"
            time.sleep(0.01)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL
    st = load_checkpoint(run / CHECKPOINT_NAME)  # intact: checksum and format verified
    assert st.status == "running" and 1 <= st.iteration < ref_iterations, st
    assert not [q.name for q in run.iterdir() if q.name.endswith(".tmp")]

    p = _hat("--out", str(run), "--resume", "--quiet", "--no-figure",
             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = p.communicate(timeout=TIMEOUT_S)
    assert p.returncode == 0, err.decode()
    done = load_checkpoint(run / CHECKPOINT_NAME)
    assert done.status == "converged" and done.iteration == ref_iterations
    for name in ("params.csv", "prices.csv"):
        assert (run / name).read_bytes() == (ref / name).read_bytes(), name
    np.testing.assert_array_equal(done.params, load_checkpoint(ref / CHECKPOINT_NAME).params)
