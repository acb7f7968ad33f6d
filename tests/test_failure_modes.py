"""Failure modes found by probing the ``hat`` command as a user would (issue 17, part B):
output folders all or nothing, Ctrl-C, checks before the long work, memory, messages."""

import contextlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import hat_jax
from hat_jax import cli
from hat_jax.cli import _common as common
from hat_jax.data import DataWarning
from hat_jax.report import _files as files
from hat_jax.report._readers import read_cost_matrix

ROOT = Path(__file__).resolve().parents[1]


def run(argv):
    """(exit code, stdout, stderr) of ``hat argv`` run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


# ------------------------------------------------------------- 4. all or nothing
def test_new_folder_appears_whole(tmp_path):
    out = tmp_path / "a" / "run"
    paths = files.write_files(out, {"x.csv": "1\n", "y.png": b"\x89PNG"})
    assert paths == [out / "x.csv", out / "y.png"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "x.csv", "y.png"]
    assert [p.name for p in out.parent.iterdir()] == ["run"]  # no staging folder left
    man = files.check_output_folder(out)
    assert set(man["files"]) == {"x.csv", "y.png"} and len(man["run_id"]) == 32
    assert man["files"]["x.csv"]["bytes"] == 2


def test_rewrite_replaces_the_set_and_keeps_foreign_files(tmp_path):
    out = tmp_path / "run"
    files.write_files(out, {"summary.json": "{}\n", "plot.png": b"old"})
    (out / "checkpoint.npz").write_bytes(b"mine")  # a file the writer does not own
    first = files.check_output_folder(out)["run_id"]
    files.write_files(out, {"summary.json": '{"new": 1}\n'})
    # the earlier run's plot is gone (not of this run), the foreign file is kept
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "manifest.json",
                                                     "summary.json"]
    man = files.check_output_folder(out)
    assert man["run_id"] != first and list(man["files"]) == ["summary.json"]
    assert (out / "checkpoint.npz").read_bytes() == b"mine"


def test_failure_while_staging_leaves_the_old_folder(tmp_path, monkeypatch):
    out = tmp_path / "run"
    files.write_files(out, {"a.csv": "old a\n", "b.csv": "old b\n"})
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_open = open
    calls = []

    def failing_open(path, mode="r", *a, **k):
        if "w" in mode and "partial-" in str(path):
            calls.append(path)
            if len(calls) == 2:
                raise KeyboardInterrupt  # Ctrl-C after the first new file
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(KeyboardInterrupt):
        files.write_files(out, {"a.csv": "new a\n", "b.csv": "new b\n"})
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing mixed, no temp
    files.check_output_folder(out)
    # a fresh folder that fails while staging does not appear at all
    monkeypatch.setattr("builtins.open", failing_open)
    calls.clear()
    fresh = tmp_path / "fresh"
    with pytest.raises(KeyboardInterrupt):
        files.write_files(fresh, {"a.csv": "1\n", "b.csv": "2\n"})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_check_output_folder_refuses_incomplete_or_changed(tmp_path):
    out = tmp_path / "run"
    files.write_files(out, {"a.csv": "1\n"})
    (out / "a.csv").write_text("2\n")
    with pytest.raises(ValueError, match="does not match the manifest"):
        files.check_output_folder(out)
    (out / "manifest.json").unlink()
    with pytest.raises(ValueError, match="no manifest.json: not a complete hat output"):
        files.check_output_folder(out)
    with pytest.raises(ValueError, match="not a plain file name"):
        files.write_files(out, {"../x": "1"})


# ----------------------------------------------------- 6. --out checked first
def test_writable_folder_checks(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match=r"--out '.*file' is a file, not a folder"):
        files.check_writable_folder(f)
    with pytest.raises(ValueError, match=r"--out '.*file/sub': '.*file' is a file"):
        files.check_writable_folder(f / "sub")
    files.check_writable_folder(tmp_path / "new" / "deeper")  # can be created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing created
    ro = Path("/sys/hat-probe")
    try:
        files.check_writable_folder(ro)
    except ValueError as exc:
        assert "cannot write in '/sys'" in str(exc)
    else:  # pragma: no cover - /sys writable here
        pytest.skip("no read-only filesystem to test against")


@pytest.mark.parametrize("kind", ["file", "readonly"])
def test_cli_out_checked_before_solving(tmp_path, monkeypatch, kind):
    def no_solve(*a, **k):
        raise AssertionError("solved before checking --out")

    monkeypatch.setattr(common, "solve_equilibrium", no_solve)
    if kind == "file":
        target = tmp_path / "taken"
        target.write_text("x")
    else:
        target = Path("/sys/hat-out")
    t0 = time.perf_counter()
    rc, _, err = run(["solve", "two_country", "--Na", "40", "--quiet", "--out", str(target)])
    assert rc == 1 and err.startswith("hat: error: --out ") and "Traceback" not in err
    assert time.perf_counter() - t0 < 5


# ------------------------------------------------------------------ 5. Ctrl-C
def _interrupt(wait_for: str, delay: float, cache_dir: str):
    env = dict(os.environ, PYTHONPATH=str(ROOT), HAT_JAX_CACHE_DIR=cache_dir)
    p = subprocess.Popen([sys.executable, "-m", "hat_jax.cli", "solve", "two_country",
                          "--Na", "40"], env=env, cwd=tempfile.gettempdir(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in p.stderr:
        seen.append(line)
        if wait_for in line:
            break
    else:
        pytest.fail(f"no {wait_for!r} line: {''.join(seen)}")
    time.sleep(delay)
    t0 = time.perf_counter()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    return p.returncode, time.perf_counter() - t0, err, out


@pytest.mark.parametrize("wait_for, delay", [("compiling", 1.5), ("newton", 0.0)])
def test_ctrl_c_is_clean(tmp_path, wait_for, delay):
    """SIGINT while XLA compiles (a fresh compilation cache) and while Newton runs: exit
    130 within 2 s, one line on stderr, no traceback, nothing on stdout."""
    cache = str(tmp_path / "cache") if wait_for == "compiling" else os.environ.get(
        "HAT_JAX_CACHE_DIR", str(tmp_path / "cache"))
    rc, seconds, err, out = _interrupt(wait_for, delay, cache)
    assert rc == 130, err
    assert seconds < 2.0
    assert err == "hat: interrupted\n" and out == ""


def test_interrupt_handler_restores_the_previous_handler():
    before = signal.getsignal(signal.SIGINT)
    with common.interrupt_handler():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_waits_for_a_commit_on_the_main_thread(tmp_path):
    """Ctrl-C while the main thread itself is inside the critical section (replacing an
    --out folder) ends the process only after the commit (issue 26, B2: the handler ran
    on the thread that held the re-entrant lock and exited mid-commit)."""
    marker = tmp_path / "committed"
    code = (
        "import os, signal, time\n"
        "from hat_jax.cli import _common as common\n"
        "from hat_jax._fileio import critical_section\n"
        "with common.interrupt_handler():\n"
        "    with critical_section():\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        for _ in range(50):\n"
        "            time.sleep(0.01)\n"
        f"        open({str(marker)!r}, 'w').write('done')\n"
        "    time.sleep(10)\n")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert marker.read_text() == "done"
    assert time.perf_counter() - t0 < 60  # ended at the interrupt, not after the sleep


def test_resume_refusal_names_the_changed_option(tmp_path):
    """A resumed sweep with another --Na is refused naming options.economy.Na and both
    values (issue 26, B7: the text was cut before the difference)."""
    from hat_jax.scenarios import prepare_sweep_folder

    econ = {k: None for k in ("gamma", "sigma", "beta", "d", "phi", "amax", "psi_slope")}
    base = {"format": 1, "fingerprint": "a" * 64, "preset": "ek_baseline", "version": "0",
            "K": 19, "batch": 4, "n_chunks": 5, "chunk_format": "csv",
            "options": {"tol": 1e-10, "regime": "global", "ev": [], "start": None,
                        "economy": dict(econ, Na=30)}}
    prepare_sweep_folder(tmp_path, base)
    other = dict(base, fingerprint="b" * 64,
                 options=dict(base["options"], economy=dict(econ, Na=40)))
    with pytest.raises(ValueError) as info:
        prepare_sweep_folder(tmp_path, other)
    msg = str(info.value)
    assert "options.economy.Na: folder has 30, this run 40" in msg
    assert msg.index("options.economy.Na") < msg.index("fingerprint:")


# ------------------------------------------------------------------- 7. memory
def test_memory_estimate_matches_measurements():
    """Peak RSS measured with /usr/bin/time -v (hat solve two_country, lu): 0.89, 1.20,
    2.52 GB at Na = 100, 200, 400."""
    for Na, measured in ((100, 0.89e9), (200, 1.20e9), (400, 2.52e9)):
        est = common.memory_estimate(hat_jax.two_country(Na=Na), "lu")
        assert est == pytest.approx(measured, rel=0.1)
    big = hat_jax.two_country(Na=2000)
    assert common.memory_estimate(big, "lu") > 40e9  # (2 Nz Na)^2 = 1.6e9 doubles
    assert common.memory_estimate(big, "gmres") == pytest.approx(4.7e9, rel=0.1)  # measured


def test_tangent_solver_choice():
    econ = hat_jax.two_country(Na=400)
    assert common.choose_tangent_solver(econ, None, available=10e9) == "lu"
    assert common.choose_tangent_solver(econ, "gmres", available=10e9) == "gmres"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert common.choose_tangent_solver(econ, None, available=2e9) == "gmres"
    assert "needs about 2.5 GB" in err.getvalue() and "using --tangent-solver gmres" in \
        err.getvalue()
    with pytest.raises(ValueError, match=r"--tangent-solver lu: .*2\.5 GB.*--tangent-solver "
                       "gmres"):
        common.choose_tangent_solver(econ, "lu", available=2e9)


def test_library_resolves_auto(recwarn):
    """tangent_solver="auto" (the default) is resolved inside the library: "lu" where it
    fits, else "gmres" with a TangentSolverNote; "lu" that does not fit is refused."""
    from hat_jax._memory import resolve_tangent_solver, TangentSolverNote

    econ = hat_jax.two_country(Na=400)
    assert hat_jax.EquilibriumOptions().tangent_solver == "auto"
    assert resolve_tangent_solver(econ, "auto", available=10e9) == "lu"
    with pytest.warns(TangentSolverNote, match=r"needs about 2\.5 GB.*tangent_solver='gmres'"):
        assert resolve_tangent_solver(econ, "auto", available=2e9) == "gmres"
    with pytest.raises(ValueError, match=r"tangent_solver='lu': .*2\.5 GB"):
        resolve_tangent_solver(econ, "lu", available=2e9)
    with pytest.raises(ValueError, match=r"tangent_solver must be one of .* got "
                       r"tangent_solver='cholesky'"):
        hat_jax.EquilibriumOptions(tangent_solver="cholesky")
    small = hat_jax.two_country(Na=20)
    assert hat_jax.EquilibriumOptions().resolved(small).tangent_solver == "lu"
    assert hat_jax.EquilibriumOptions().household_options(small).tangent_solver == "lu"


def test_jacobian_block_resolved_by_memory():
    """jacobian_block="auto" pushes all N directions of an exact Jacobian at once where
    they fit, else the largest block that fits, with a JacobianBlockNote naming the
    option; the command line prints the note; bad values are refused by name."""
    from hat_jax._memory import (JacobianBlockNote, jacobian_direction_bytes,
                                 memory_estimate, resolve_jacobian_block)

    small = hat_jax.two_country(Na=20)
    assert hat_jax.EquilibriumOptions().jacobian_block == "auto"
    assert hat_jax.EquilibriumOptions().resolved(small).jacobian_block == 2
    assert hat_jax.EquilibriumOptions(jacobian_block=1).resolved(small).jacobian_block == 1
    N = 80
    big = hat_jax.make_economy(np.full((N, N), 2.0) - np.eye(N), np.ones(N), np.ones(N), Na=100)
    base, per = memory_estimate(big, "lu"), jacobian_direction_bytes(big)
    assert per == 14.0 * 8 * N * N * 10 * 100      # 0.72 GB a direction at N = 80
    assert resolve_jacobian_block(big, "lu", available=(base + N * per) / 0.7 + 1) == N
    with pytest.warns(JacobianBlockNote, match=r"80 x 80 equilibrium Jacobian .* pushing "
                      r"them 16 at a time \(jacobian_block=16"):
        assert resolve_jacobian_block(big, "lu", available=24e9) == 16
    with pytest.warns(JacobianBlockNote, match="1 at a time"):
        assert resolve_jacobian_block(big, "lu", available=1e9) == 1
    # room for 74 of the calibration's 121 directions at N = 40: two equal blocks of 61
    # (the blocks _newton.value_and_jacobian runs), not 74 and a remainder of 47
    mid = hat_jax.make_economy(np.full((40, 40), 2.0) - np.eye(40), np.ones(40), np.ones(40),
                               Na=100)
    room = memory_estimate(mid, "lu") + 74.5 * jacobian_direction_bytes(mid)
    with pytest.warns(JacobianBlockNote, match="121 directions .* 61 at a time"):
        assert resolve_jacobian_block(mid, "lu", available=room / 0.7, directions=121) == 61
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert common.choose_jacobian_block(big, "lu", available=24e9) == 16
    assert "note: the 80 x 80 equilibrium Jacobian" in err.getvalue()
    for bad in (0, -2, 2.5, "all", True):
        with pytest.raises(ValueError, match=r"jacobian_block must be 'auto' or an integer "
                           r">= 1, got jacobian_block="):
            hat_jax.EquilibriumOptions(jacobian_block=bad)


def test_available_memory_reads_the_process_limit():
    """A process under RLIMIT_AS (ulimit -v) sees that limit, not the machine's free
    memory (issue 26, B5: --Na 1000 died with RESOURCE_EXHAUSTED under a 10 GiB limit)."""
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (10 * 2**30, "
            "resource.RLIM_INFINITY)); from hat_jax._memory import available_memory; "
            "import hat_jax; from hat_jax._memory import resolve_tangent_solver; "
            "import warnings; warnings.simplefilter('ignore'); "
            "print(available_memory() / 2**30, resolve_tangent_solver("
            "hat_jax.two_country(Na=1000), 'auto'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert 0 < float(out[0]) < 10 and out[1] == "gmres"


def test_cli_refuses_lu_that_does_not_fit(monkeypatch):
    monkeypatch.setattr(common, "available_memory", lambda: 8e9)
    t0 = time.perf_counter()
    rc, _, err = run(["solve", "two_country", "--Na", "2000", "--tangent-solver", "lu",
                      "--quiet"])
    assert rc == 1 and time.perf_counter() - t0 < 5
    assert "hat: error: --tangent-solver lu: the dense tangent solver (lu) needs about " \
           "44.9 GB at Na=2000" in err
    rc, _, err = run(["solve", "two_country", "--tangent-solver", "cholesky"])
    assert rc == 1 and "invalid choice: 'cholesky'" in err


def test_tangent_solver_in_settings(monkeypatch, two_country_eq):
    from hat_jax import EquilibriumOptions
    from hat_jax.report.equilibrium import summary

    s = summary(two_country_eq, "two_country", EquilibriumOptions(tangent_solver="gmres"))
    assert s["settings"]["tangent_solver"] == "gmres"


# ------------------------------------------------------------------ 9. messages
@pytest.mark.parametrize("content, name, match", [
    (",Home,XXX\nHome,1,2\nXXX,2,1\n", "c.csv", r"names unknown countries \['XXX'\]"),
    ("", "c.csv", r"c\.csv is empty \(expected an N x N matrix with N=2"),
    (b"\x00garbage bytes", "c.npy", r"is not a NumPy \.npy file \(no \.npy header\)"),
])
def test_costs_file_messages(tmp_path, content, name, match):
    f = tmp_path / name
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=match) as info:
        read_cost_matrix(f, ("Home", "Foreign"))
    assert "allow_pickle" not in str(info.value) and "non-numeric" not in str(info.value)
    np.save(tmp_path / "obj.npy", np.array([{}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"not a numeric NumPy \.npy array"):
        read_cost_matrix(tmp_path / "obj.npy", ("Home", "Foreign"))


@pytest.mark.parametrize("quiet", [False, True])
def test_data_warning_once_in_one_line(monkeypatch, quiet):
    def fake_run(args):
        for _ in range(3):
            warnings.warn("Germany's labour force looks like a typo", DataWarning)
        return 0

    fake = types.SimpleNamespace(run=fake_run, add_parser=cli.COMMANDS["solve"].add_parser)
    monkeypatch.setitem(cli.COMMANDS, "solve", fake)
    rc, _, err = run(["solve", "two_country", *(["--quiet"] if quiet else [])])
    assert rc == 0
    if quiet:
        assert err == ""
    else:
        assert err == "hat: warning: Germany's labour force looks like a typo\n"


def test_starting_wage_message_is_plain():
    from hat_jax import EquilibriumOptions
    from hat_jax._equilibrium import default_guess

    econ = hat_jax.two_country(Na=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning leaks
        with pytest.raises(ValueError, match=r"Start\.W\[1\]=-1\.0$"):
            default_guess(econ, EquilibriumOptions(), W=[1.0, -1.0])


def test_calibrate_not_converged_said_once_and_checkpoint_kept(tmp_path):
    out = tmp_path / "cal"
    rc, _, err = run(["calibrate", "synthetic", "--max-iter", "1", "--out", str(out),
                      "--no-figure", "--quiet"])
    assert rc == 2
    assert err.count("not converged") == 1 and err.startswith("hat: not converged: max |gap|")
    assert sorted(files.check_output_folder(out)["files"]) == [
        "moments.csv", "params.csv", "prices.csv", "summary.json"]
    assert (out / "checkpoint.npz").is_file()  # not part of the output set, kept
