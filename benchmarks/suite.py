"""Where the test suite's time goes (issue 25: the quick tier in at most 10 minutes on
2 cores from a cold cache): runs a tier of the suite under a pytest plugin
(``benchmarks/_suite_plugin.py``) and reports, per test, its wall time and the seconds
of XLA compilation, tracing and lowering it paid in its process.

    python benchmarks/suite.py                           # the quick tier, a cold cache
    python benchmarks/suite.py --tier slow --cache DIR   # the slow tier on a kept cache
    python benchmarks/suite.py --top 40 --out f.json
    python benchmarks/suite.py -- tests/test_household.py -n 0   # pytest's own arguments

Records (the benchmarks' contract, ``runs`` = 1):

- ``tier <name>``: ``median_s`` pytest's wall time, ``compile_s`` the compilation seen in
  its processes; ``test_wall_s`` (summed over the workers), ``trace_s``, ``cpu_s`` (user
  and system CPU of pytest and its workers), ``steal_s`` (CPU time the hypervisor took
  from this machine during the run), ``cores``, ``load1`` before and after, the exit
  status, and the programs that took longest to compile (``top_programs``);
- ``file <path>``: each file's tests summed;
- one record per test for the ``--top`` longest (``name`` its id).

A program compiled by two tests' processes at once (two workers starting alike) counts
in both; one read from the persistent cache counts in neither. Compilations in
subprocesses (``hat`` commands, notebook kernels) are not seen: their time is in the
wall time only.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import log, main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TIERS = {"quick": [], "slow": ["-m", "slow"], "all": ["-m", ""]}


def _cpu_ticks() -> tuple[float, float]:
    """(busy, steal) seconds of every core since boot (/proc/stat; zeros elsewhere)."""
    try:
        with open("/proc/stat") as f:
            v = [float(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / hz, (v[7] if len(v) > 7 else 0.0) / hz


def run_tier(tier: str, pytest_args: list[str], cache: str, folder: str) -> dict:
    """Run pytest on the tier with the plugin; the run's totals (wall, CPU, steal, exit)."""
    env = dict(os.environ, HAT_SUITE_PROFILE_DIR=folder,
               PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parent),
                                           os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env["HAT_JAX_CACHE_DIR"] = cache
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
           "_suite_plugin", *TIERS[tier], *pytest_args]
    log(f"{' '.join(cmd[2:])}  (HAT_JAX_CACHE_DIR={cache})")
    load0, (busy0, steal0) = os.getloadavg()[0], _cpu_ticks()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, steal1 = _cpu_ticks()
    tail = proc.stdout.strip().splitlines()[-1:] or [""]
    log(f"pytest: exit {proc.returncode}, {tail[0]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "steal_s": steal1 - steal0,
            "machine_busy_s": busy1 - busy0, "load1_before": round(load0, 2),
            "exit": proc.returncode, "summary": tail[0]}


def load_tests(folder: str) -> dict[str, dict]:
    """The plugin's records of every process, by test id. A test runs in one process,
    but every process has its "(collection)" and "(between tests)" records: those are
    added up (seconds, counts and programs), not taken from the first process alone."""
    tests: dict[str, dict] = {}
    for path in glob.glob(os.path.join(folder, "*.json")):
        with open(path) as f:
            for k, v in json.load(f).items():
                if k not in tests:
                    tests[k] = v
                    continue
                t = tests[k]
                for key in ("wall_s", "compile_s", "trace_s", "compiles"):
                    t[key] += v[key]
                for name, sec in v["programs"].items():
                    t["programs"][name] = t["programs"].get(name, 0.0) + sec
    return tests


def _top(programs: dict, n: int) -> dict:
    return {k: round(v, 2) for k, v in sorted(programs.items(), key=lambda kv: -kv[1])[:n]}


def records(tier: str, totals: dict, seen: dict, top: int) -> list[dict]:
    """The tier's record, one per file (longest first) and the ``top`` longest tests
    (``seen``: the plugin's records; those named "(...)" are compilations outside any
    test, during collection or between tests: in the tier's totals only)."""
    programs, files = collections.Counter(), collections.defaultdict(collections.Counter)
    for t in seen.values():
        programs.update(t["programs"])
    tests = {k: t for k, t in seen.items() if not k.startswith("(")}
    for k, t in tests.items():
        files[k.split("::")[0]].update({"median_s": t["wall_s"], "compile_s": t["compile_s"],
                                        "trace_s": t["trace_s"], "tests": 1})
    total = lambda key: sum(t[key] for t in seen.values())  # noqa: E731
    outside = sum(t["compile_s"] for k, t in seen.items() if k.startswith("("))
    out = [{"name": f"tier {tier}", "compile_s": total("compile_s"),
            "median_s": totals["wall_s"], "runs": 1, "tests": len(tests),
            "test_wall_s": total("wall_s"), "trace_s": total("trace_s"),
            "outside_tests_compile_s": outside, "cpu_s": totals["cpu_s"],
            "steal_s": totals["steal_s"], "machine_busy_s": totals["machine_busy_s"],
            "cores": os.cpu_count(), "load1_before": totals["load1_before"],
            "load1": round(os.getloadavg()[0], 2), "exit": totals["exit"],
            "summary": totals["summary"], "top_programs": _top(programs, 15)}]
    for path, c in sorted(files.items(), key=lambda kv: -kv[1]["median_s"]):
        out.append({"name": f"file {path}", "compile_s": c["compile_s"],
                    "median_s": c["median_s"], "runs": 1, "trace_s": c["trace_s"],
                    "tests": int(c["tests"])})
    for k, t in sorted(tests.items(), key=lambda kv: -kv[1]["wall_s"])[:top]:
        out.append({"name": k, "compile_s": t["compile_s"], "median_s": t["wall_s"],
                    "runs": 1, "trace_s": t["trace_s"], "compiles": t["compiles"],
                    "top_programs": _top(t["programs"], 3)})
    return out


def _records(args) -> list[dict]:
    extra = [a for a in args.pytest_args if a != "--"]
    with tempfile.TemporaryDirectory(prefix="hat-suite-") as folder:
        cache = args.cache or os.path.join(folder, "jax-cache")
        totals = run_tier(args.tier, extra, cache, folder)
        tests = load_tests(folder)
    if not tests:
        raise SystemExit(f"no test ran (pytest exit {totals['exit']}: {totals['summary']})")
    return records(args.tier, totals, tests, args.top)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tier", choices=sorted(TIERS), default="quick",
                   help="quick (pytest -q, the default), slow (-m slow) or all (-m '')")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="the JAX compilation cache to use and keep (default: a new, empty "
                   "one, removed afterwards: a cold run, as CI's quick tier)")
    p.add_argument("--top", type=int, default=30, help="tests listed (longest first)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER,
                   help="after --: arguments passed to pytest (paths, -k, -n 0, ...)")


if __name__ == "__main__":
    main(_records, description=__doc__.splitlines()[0], add_arguments=_arguments,
         default_runs=1)
