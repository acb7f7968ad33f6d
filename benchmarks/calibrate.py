"""Benchmark: calibration by gravity as a guide (hat_jax.calibration) on an EK preset.

Economy: ``hat_jax.ek_world(PRESET, Na=NA)`` (default ``ek_baseline``), 19 countries,
46 parameters, settings of ``hat_jax.calibration.CalibrationOptions()`` (equilibrium
tolerance 5e-13, household 3e-12, stop at max |moment gap| <= 1e-8).

(a) ``moments``: one evaluation of the 46 moment gaps at the published Theta (an
    equilibrium solve, beta unknown at the target R, then the gravity regression),
    warm-started from the equilibrium prices and household states at that Theta (what a
    calibration does once it is close), by the compiled evaluator of
    ``hat_jax.calibration`` (``moment_gaps``); ``moments cold``: the same from the
    published prices and the reference household guess.
(b) ``jacobian``: the same evaluation plus the 46 x 46 Jacobian of the gaps (implicit
    function theorem at the equilibrium, one forward pass with 19 + 46 directions;
    ``moments_and_jacobian``), warm. Same compiled program as (a) (compile_s ~ 0).
    ``equilibrium jacobian``: for scale, the 19 x 19 Jacobian of the excess demands at
    the same point (``hat_jax._equilibrium.value_and_jacobian``, as benchmarks/world.py);
    the record of (b) carries ``ratio_to_equilibrium_jacobian``.
(c) ``calibration published``: the whole calibration from the published vectors
    (``calibrate`` with ``starting_point(world, "published")``, a checkpoint written each
    iteration in a temporary folder); one run, compile excluded (done in (a)).
(d) ``calibration cold``: the same from the cold start (static Eaton-Kortum inversion).

Records (c, d) carry ``iterations``, ``max_gap``, ``converged`` and
``max_diff_published`` (largest |Theta - published Theta|); (a, b) ``max_gap`` at the
evaluated point. Every record asserts that what it timed converged.

    python benchmarks/calibrate.py --quick        # Na = 20, one run per record
    python benchmarks/calibrate.py                # Na = 100 (long: tens of minutes on 2 cores)
    python benchmarks/calibrate.py --sections ab --na 50 --runs 3
    python benchmarks/calibrate.py --json --out benchmarks/results/calibrate.json
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax import calibration as cal  # noqa: E402
from hat_jax._ek import EK_PRESETS, EK_UNPUBLISHED_PRESETS  # noqa: E402
from hat_jax._equilibrium import encode, excess_demands, value_and_jacobian  # noqa: E402

from _common import device_description, load_ek_world, log, main, time_fn  # noqa: E402

QUICK_NA = 20
DEFAULT_NA = 100
DEFAULT_RUNS = 3


def build(args):
    return load_ek_world(args.preset, args.data_dir, args.Na)


def bench_evaluations(world, problem, options, runs, sections) -> list[dict]:
    """(a) and (b) at the starting Theta (published, else cold)."""
    kind = "published" if world.published is not None else "cold"
    start = cal.starting_point(world, kind)
    opts = options.equilibrium
    tag = f"{world.name} Na={problem.economy.Na}"
    extra = dict(N=problem.N, Na=problem.economy.Na, preset=world.name, theta=kind)
    theta = np.asarray(start.params)
    W0, beta0 = np.asarray(start.W), np.asarray(start.beta)
    s_cold = cal.initial_household_state(problem, theta, W0, beta0)

    def args_for(W, beta, s, jac):
        return (theta, problem, np.asarray(W), np.asarray(beta, np.float64), s,
                np.asarray(np.inf if jac else -np.inf), np.asarray(0.0))

    compiled = {}

    def compile_once(args):
        def go():
            if "f" not in compiled:
                compiled["f"] = cal.compiled_evaluator(args, opts)
            return compiled["f"]
        return go

    def info(label, keep=None):
        def f(ev):
            assert bool(ev.converged), f"{label}: the equilibrium did not converge"
            if keep is not None:
                keep["ev"] = ev
            return {"max_gap": float(jnp.max(jnp.abs(ev.gaps))),
                    "eq_iterations": int(ev.iterations)}
        return f

    records, keep = [], {}
    name = f"moments cold {tag}"
    log(f"(a) {name}")
    args = args_for(W0, beta0, s_cold, False)
    rec = time_fn(name, None, *args, runs=runs, compile=compile_once(args),
                  info=info(name, keep), **extra)
    if "a" in sections:
        records.append(rec)
    ev = keep["ev"]
    W, beta, s = np.asarray(ev.W), np.asarray(ev.beta), ev.state
    if "a" in sections:
        name = f"moments warm {tag}"
        log(f"(a) {name}")
        args = args_for(W, beta, s, False)
        records.append(time_fn(name, None, *args, runs=runs, compile=compile_once(args),
                               info=info(name), **extra))
    if "b" in sections:
        name = f"jacobian warm {tag}"
        log(f"(b) {name}")
        args = args_for(W, beta, s, True)

        def jinfo(ev):
            assert bool(ev.has_G), f"{name}: no Jacobian"
            assert bool(jnp.all(jnp.isfinite(ev.G)))
            return {"max_gap": float(jnp.max(jnp.abs(ev.gaps))),
                    "cond_G": float(np.linalg.cond(np.asarray(ev.G)))}

        rec_j = time_fn(name, None, *args, runs=runs, compile=compile_once(args), info=jinfo,
                        **extra)
        name = f"equilibrium jacobian 19x19 {tag}"
        log(f"(b) {name}")
        econ = hat_jax._ek.economy_from_params(jnp.asarray(theta), problem.economy,
                                              problem.geography)
        x = encode(jnp.asarray(W), problem.R, jnp.asarray(beta), econ, opts)
        jac = jax.jit(lambda x, e, R, s: value_and_jacobian(
            lambda y: excess_demands(y, e, opts, R, s), x))
        rec_e = time_fn(name, jac, x, econ, problem.R, s, runs=runs, **extra)
        rec_j["ratio_to_equilibrium_jacobian"] = rec_j["median_s"] / rec_e["median_s"]
        records += [rec_j, rec_e]
    return records


def bench_calibrations(world, problem, options, sections) -> list[dict]:
    """(c) and (d): whole calibrations (one run each; compile already done)."""
    out = []
    todo = [("c", "published"), ("d", "cold")]
    for letter, kind in todo:
        if letter not in sections or (kind == "published" and world.published is None):
            continue
        name = f"calibration {kind} {world.name} Na={problem.economy.Na}"
        log(f"({letter}) {name}")
        start = cal.starting_point(world, kind)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = cal.calibrate(problem, start, options=options,
                                checkpoint=Path(tmp) / cal.CHECKPOINT_NAME)
            wall = time.perf_counter() - t0
        assert res.converged, f"{name}: {res.message}"
        rec = {"name": name, "compile_s": res.compile_s, "median_s": res.seconds, "runs": 1,
               "wall_s": wall, "iterations": res.iterations, "max_gap": res.max_gap,
               "converged": res.converged, "N": problem.N, "Na": problem.economy.Na,
               "preset": world.name, "device": device_description(),
               "theta": res.params.tolist(), "beta": res.beta}
        if world.published is not None:
            rec["max_diff_published"] = float(np.max(np.abs(res.params
                                                            - world.published.params)))
        rec["trade_cost_levels"] = cal.trade_cost_levels(res.params)
        rec["load1"] = round(os.getloadavg()[0], 2)
        out.append(rec)
    return out


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: Na = {QUICK_NA} (unless --na), one run per record")
    parser.add_argument("--na", type=int, default=None,
                        help=f"asset grid points (default {DEFAULT_NA}, or {QUICK_NA} with --quick)")
    parser.add_argument("--preset", default="ek_baseline",
                        choices=sorted([*EK_PRESETS, *EK_UNPUBLISHED_PRESETS]),
                        help="EK preset (default ek_baseline)")
    parser.add_argument("--data-dir", default=None,
                        help="data folder (default $HAT_DATA_DIR, then the copy shipped in the package)")
    parser.add_argument("--sections", default="abcd",
                        help="any of a (moments), b (Jacobian), c (calibration from the "
                             "published start), d (from the cold start); default abcd")


def records(args) -> list[dict]:
    args.Na = args.na if args.na is not None else (QUICK_NA if args.quick else DEFAULT_NA)
    runs = 1 if args.quick else args.runs
    unknown = set(args.sections) - set("abcd")
    if unknown:
        raise SystemExit(f"--sections: unknown section(s) {sorted(unknown)}; use letters from 'abcd'")
    world = build(args)
    problem = cal.problem_from_world(world)
    options = cal.CalibrationOptions(verbose=True)
    out = bench_evaluations(world, problem, options, runs, args.sections)
    out += bench_calibrations(world, problem, options, args.sections)
    # the theta vectors stay in the JSON, not in the table
    if not args.json:
        for r in out:
            r.pop("theta", None)
            r.pop("trade_cost_levels", None)
    return out


if __name__ == "__main__":
    main(records, description=__doc__.splitlines()[0], add_arguments=add_arguments,
         default_runs=DEFAULT_RUNS)
