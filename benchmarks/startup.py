"""First run vs cached run of whole ``hat`` processes (the persistent compilation cache).

Each record runs one command as a fresh process: once on an empty compilation cache (a
temporary ``HAT_JAX_CACHE_DIR``: what a new machine sees) and ``--runs`` times more on
the cache that the first run filled. Fields: ``first_wall_s`` and ``first_compile_s``
(the first process: wall time, and the compile part the command reports in its JSON
``timings``), ``median_s`` and ``compile_s`` (medians over the cached runs), ``run_s``
(median solve time reported by the command). Wall times include Python start-up and
``import hat_jax``.

    python benchmarks/startup.py                 # two_country and ek_baseline (Na = 100)
    python benchmarks/startup.py --only two_country --runs 5
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import device_description, log, main  # noqa: E402

COMMANDS = {
    "two_country": ["solve", "two_country", "--json", "--quiet"],
    "ek_baseline": ["solve", "ek_baseline", "--json", "--quiet"],
}


def _run(argv, env):
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "hat_jax.cli", *argv], env=env,
                         capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"hat {' '.join(argv)} exited {out.returncode}: {out.stderr[-2000:]}")
    result = json.loads(out.stdout)
    assert result["converged"], f"hat {' '.join(argv)} did not converge"
    return wall, result["timings"]


def records(args):
    recs = []
    names = args.only or list(COMMANDS)
    for name in names:
        argv = COMMANDS[name]
        with tempfile.TemporaryDirectory(prefix="hat-startup-") as cache:
            env = dict(os.environ, HAT_JAX_CACHE_DIR=cache)
            env.pop("HAT_JAX_CACHE", None)
            log(f"{name}: first run on an empty cache...")
            first_wall, first_t = _run(argv, env)
            walls, compiles, runs = [], [], []
            for k in range(args.runs):
                log(f"{name}: cached run {k + 1}/{args.runs}...")
                wall, t = _run(argv, env)
                walls.append(wall)
                compiles.append(t["compile_s"])
                runs.append(t["run_s"])
        recs.append({
            "name": f"hat {' '.join(argv[:2])} (process)", "compile_s": statistics.median(compiles),
            "median_s": statistics.median(walls), "min_s": min(walls), "runs": args.runs,
            "run_s": statistics.median(runs), "first_wall_s": first_wall,
            "first_compile_s": first_t["compile_s"], "device": device_description(),
            "load1": round(os.getloadavg()[0], 2),
        })
    return recs


def _arguments(parser):
    parser.add_argument("--only", nargs="+", choices=sorted(COMMANDS),
                        help="commands to time (default: all)")


if __name__ == "__main__":
    main(records, description=__doc__.splitlines()[0], add_arguments=_arguments,
         default_runs=3)
