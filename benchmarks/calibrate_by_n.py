"""Benchmark: calibration time against the number of countries N (worlds from tables).

For each N (default 8, 19, 40): a synthetic world written as tidy tables by
``hat_jax.calibration.synthetic_tables`` (countries C1..CN, log distance + border, OLS
moments, so K = 2(N-1) + 3 parameters; flows are the model's own at known Theta),
read back by ``hat_jax.world_from_tables`` and calibrated from the cold start (static
Eaton-Kortum inversion) with ``CalibrationOptions()``. With ``--ek`` the N = 19 world is
instead the Eaton-Kortum data in the tidy layout (``hat_jax.tables.ek_tables``, K = 46).

One calibration per N (``runs`` = 1): ``compile_s`` is the compile time of the evaluator
(equilibrium + Jacobian program), ``median_s`` the calibration's wall time without it.
Records carry N, K, Na, iterations, max_gap, max_diff_true (largest |Theta - true
Theta|, synthetic only) and load1 (1-minute load average: on a shared machine compare
timings only when it is below the number of cores).

    python benchmarks/calibrate_by_n.py --quick          # Na = 20, N = 8 and 19
    python benchmarks/calibrate_by_n.py                  # Na = 100, N = 8, 19, 40 (long)
    python benchmarks/calibrate_by_n.py --n 8 40 --na 50 --json --out by_n.json
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import device_description, log, main  # noqa: E402

import hat_jax  # noqa: E402
from hat_jax import calibration as cal  # noqa: E402
from hat_jax.tables import ek_tables  # noqa: E402

DEFAULT_NA, QUICK_NA = 100, 20
DEFAULT_N, QUICK_N = (8, 19, 40), (8, 19)


def one(N: int, Na: int, ek: bool, tmp: Path) -> dict:
    folder = tmp / f"N{N}"
    if ek and N == 19:
        ek_tables(folder)
        world = hat_jax.world_from_tables(folder, Na=Na)
        true = None
    else:
        log(f"N={N}: solving the model at the true parameters for the flows...")
        _, true = cal.synthetic_tables(folder, N=N, seed=N, Na=Na)
        world = hat_jax.world_from_tables(folder)
    problem = cal.problem_from_world(world)
    name = f"calibration cold {'EK tables' if true is None else 'synthetic'} N={N} Na={Na}"
    log(f"{name} (K={problem.K})")
    t0 = time.perf_counter()
    res = cal.calibrate(problem, cal.starting_point(world, "cold"),
                        options=cal.CalibrationOptions(verbose=True),
                        checkpoint=folder / cal.CHECKPOINT_NAME)
    wall = time.perf_counter() - t0
    assert res.converged, f"{name}: {res.message}"
    rec = {"name": name, "compile_s": res.compile_s, "median_s": res.seconds, "runs": 1,
           "wall_s": wall, "N": N, "K": problem.K, "Na": Na, "iterations": res.iterations,
           "max_gap": res.max_gap, "device": device_description(),
           "load1": round(os.getloadavg()[0], 2)}
    if true is not None:
        rec["max_diff_true"] = float(np.max(np.abs(res.params - true)))
    return rec


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help=f"Na = {QUICK_NA} and N = {QUICK_N} unless given")
    parser.add_argument("--na", type=int, default=None, help=f"asset grid (default {DEFAULT_NA})")
    parser.add_argument("--n", type=int, nargs="+", default=None,
                        help=f"numbers of countries (default {DEFAULT_N})")
    parser.add_argument("--ek", action="store_true",
                        help="N = 19 is the Eaton-Kortum data (46 parameters), not synthetic")


def records(args) -> list[dict]:
    Na = args.na if args.na is not None else (QUICK_NA if args.quick else DEFAULT_NA)
    ns = args.n if args.n is not None else (QUICK_N if args.quick else DEFAULT_N)
    with tempfile.TemporaryDirectory() as tmp:
        return [one(N, Na, args.ek, Path(tmp)) for N in ns]


if __name__ == "__main__":
    main(records, description=__doc__.splitlines()[0], add_arguments=add_arguments,
         default_runs=1)
