"""``hat sweep``: many counterfactuals of one preset, batched on every local device,
sharded over processes, with resumable output (the sweep store of :mod:`hat_jax.scenarios`).

    hat sweep PRESET (--scenarios FILE | --every-unilateral CUT | --global-cuts FROM:TO:K
                      | --draws K --seed S [--draw-scale S | --from-calibration FILE])
                     [--ev ISO ...] [--batch B] [--devices N]
                     [--transition [--T T] [--announce S] [--temporary RHO]]
                     [--distributed [--coordinator HOST:PORT --num-processes P --process-id I]]
                     [--shard I/N] [--out DIR] [--resume] [--json] [--plots]
                     [--theta T] [--floor-costs | --no-floor-costs] [economy / equilibrium
                     options of ``hat solve``] [--quiet]
    hat sweep merge DIR [--json] [--plots] [--quiet]
    hat sweep summarize DIR [--json] [--quiet]

``--draws K --seed S --from-calibration FILE`` is the parametric bootstrap (model.md
s.16): the draws are ``params_draws(params, V_params, K, S)`` of FILE (the inference.json
of ``hat calibrate --se``, or its folder), whose params must be the baseline's; ``hat
sweep summarize DIR`` writes ``bootstrap.csv`` (bootstrap standard errors and 2.5/97.5
percentile intervals of every numeric output, per country, over the converged scenarios).
``--transition`` solves each scenario's perfect-foresight transition instead (batched
with one shared sequence-space Jacobian; :mod:`hat_jax.cli._sweep_transition`), in the
same resumable folder.

Exit codes: 0 every scenario converged; 1 bad input; 2 the baseline or some scenario did
not converge (those scenarios are rows with converged = false and their residual; every
other row is written); 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings

import numpy as np

import hat_jax
from hat_jax import scenarios as sc
from hat_jax import welfare as wf
from hat_jax.calibration import params_draws
from ._params_file import inference_for_world
from ._sweep_transition import (add_transition_arguments, check_transition_arguments,
                                solve_transition_chunks, transition_manifest)
from hat_jax.report import sweep as rs
from hat_jax._memory import available_memory
from hat_jax._scenario_start import JACOBIAN_STARTS
from hat_jax._warm import warm_inverse_bytes
from hat_jax.scenarios import _store as sst

from ._common import (EXIT_NOT_CONVERGED, EXIT_OK, add_economy_arguments,
                     add_ev_measure_argument, add_output_arguments, choose_tangent_solver,
                     err, options_from_args, print_result, report_not_converged,
                     setup_from_args, solve_baseline, wrote)

__all__ = ["add_parser", "run", "parse_shard", "parse_global_cuts", "build_scenarios",
           "read_calibration_covariance", "Progress"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``hat sweep`` to the ``hat`` command's subparsers."""
    c = sub.add_parser(
        "sweep", help="many counterfactuals at once (batched, every device, resumable)",
        description="Solve many counterfactual scenarios of a preset against its baseline "
        "(beta fixed, W and R solved), batched on every local device; one row per scenario "
        "and country (W, R, trade shares, welfare change, ACR gain, optional EV). "
        "`hat sweep merge DIR` merges the chunks of finished shards; `hat sweep summarize DIR` "
        "gives bootstrap standard errors and percentile intervals of every output "
        "(bootstrap.csv; with --draws K --from-calibration FILE, the parametric bootstrap). Exit codes: 0 done, "
        "1 bad input, 2 some scenario (or the baseline) did not converge.")
    add_economy_arguments(c)
    c.add_argument("merge_dir", nargs="?", metavar="DIR",
                   help="with PRESET = merge or summarize: the sweep folder")
    x = c.add_argument_group("scenarios (exactly one)")
    g = x.add_mutually_exclusive_group()
    g.add_argument("--scenarios", metavar="FILE",
                   help="tidy CSV or Parquet: scenario,importer,exporter,factor (or level) "
                   "for trade costs; scenario,country,field,value for country-level changes")
    g.add_argument("--every-unilateral", dest="every_unilateral", type=float, metavar="CUT",
                   help="every country in turn cuts its import costs by CUT (0 < CUT < 1)")
    g.add_argument("--global-cuts", dest="global_cuts", metavar="FROM:TO:K",
                   help="K global cuts evenly spaced from FROM to TO")
    g.add_argument("--draws", type=int, metavar="K",
                   help="K draws of the calibration parameters Theta (ek_* presets)")
    x.add_argument("--seed", type=int, help="random seed of --draws")
    x.add_argument("--draw-scale", dest="draw_scale", type=float, default=None,
                   help="standard deviation of each Theta entry in --draws (default 0.02)")
    x.add_argument("--from-calibration", dest="from_calibration", metavar="FILE",
                   help="with --draws: draw params from N(params, V_params) of FILE, the "
                   "inference.json (or its folder) of `hat calibrate --se`, whose params "
                   "must be the baseline's (give --params DIR/params.csv): the parametric "
                   "bootstrap; then `hat sweep summarize DIR`")
    x.add_argument("--floor-costs", dest="floor_costs", action=argparse.BooleanOptionalAction,
                   default=True, help="floor costs at d = 1 and list the pairs (default); "
                   "--no-floor-costs keeps costs below 1 (the paper's convention)")
    w = c.add_argument_group("results")
    w.add_argument("--ev", nargs="+", metavar="ISO", default=[],
                   help="countries whose EV summaries (mean gain, quintiles, share who gain) "
                   "are computed in every scenario")
    add_ev_measure_argument(w)
    w.add_argument("--theta", type=float, default=None,
                   help="trade elasticity of the ACR gain (default: the model's own, per "
                   "country)")
    r = c.add_argument_group("execution")
    r.add_argument("--batch", type=int, default=32,
                   help="scenarios per compiled block and output chunk (default 32)")
    r.add_argument("--devices", type=int, default=None,
                   help="local devices to shard each block over (default: all)")
    r.add_argument("--strategy", choices=("auto", "vmap", "map"), default="auto",
                   help="iterate a block's scenarios in lock step (vmap: accelerators) or one "
                   "after another inside one program (map: CPU); default auto, by backend")
    r.add_argument("--jacobian", choices=JACOBIAN_STARTS, default="baseline",
                   help="where each scenario's Newton starts: from the exact Jacobian at "
                   "the baseline (computed once for all scenarios), Broyden-updated, an "
                   "exact one only where the steps stop delivering (baseline, the "
                   "default), or from an exact Jacobian at its first point (exact, the "
                   "method before issue 29)")
    r.add_argument("--inverses", choices=("auto", "on", "off"), default="auto",
                   help="build the baseline's warm inverses once (hat_jax._warm) and start "
                   "every household and distribution solve of every scenario with chord "
                   "steps from them: the same solutions, fewer sweeps; auto (default): on "
                   "for more than one scenario when they take at most a quarter of the "
                   "memory this process may use")
    r.add_argument("--distributed", action="store_true",
                   help="jax.distributed.initialize() (SLURM / Open MPI detected; else "
                   "--coordinator, --num-processes, --process-id); each process solves its "
                   "chunks, process 0 merges")
    r.add_argument("--coordinator", metavar="HOST:PORT", help="coordinator of --distributed")
    r.add_argument("--num-processes", dest="num_processes", type=int)
    r.add_argument("--process-id", dest="process_id", type=int)
    r.add_argument("--shard", metavar="I/N",
                   help="solve only chunks I, I+N, I+2N, ... (scheduler array jobs; merge "
                   "with `hat sweep merge DIR`, or automatically by the last shard)")
    r.add_argument("--resume", action="store_true",
                   help="keep the chunks already in --out (same sweep) and solve the rest")
    add_transition_arguments(c)
    add_output_arguments(c, "sweep.json, chunks/, results.csv, summary.json (and "
                         "sweep.png with --plots)", plots="save sweep.png to --out DIR")
    return c


def parse_shard(text: str) -> tuple[int, int]:
    """"I/N" -> (I, N) with 0 <= I < N."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be I/N (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"--shard I/N needs 0 <= I < N, got {text!r}")
    return i, n


def parse_global_cuts(text: str) -> tuple[float, float, int]:
    """"FROM:TO:K" -> (from, to, K)."""
    try:
        a, b, k = text.split(":")
        a, b, k = float(a), float(b), int(k)
    except ValueError:
        raise ValueError(f"--global-cuts must be FROM:TO:K (e.g. 0.05:0.3:6), got {text!r}") \
            from None
    for v in (a, b):
        if not (np.isfinite(v) and 0.0 < v < 1.0):
            raise ValueError(f"--global-cuts: cuts must lie in (0, 1), got {v!r}")
    if k < 1:
        raise ValueError(f"--global-cuts: K must be >= 1, got {k}")
    return a, b, k


def read_calibration_covariance(args, setup) -> tuple[np.ndarray, np.ndarray, str]:
    """(params, V_params, cov) of ``--from-calibration FILE``, checked before anything is
    solved: the baseline's parameters, and V_params symmetric positive definite
    (ValueError naming the option and the file otherwise)."""
    flag, path = "--from-calibration", args.from_calibration
    params, V, cov = inference_for_world(args, setup.world, flag, path)
    if not np.allclose(V, V.T, rtol=1e-10, atol=1e-14 * np.abs(V).max()):
        raise ValueError(f"{flag}: {path}: V_params is not symmetric")
    w = np.linalg.eigvalsh(0.5 * (V + V.T))
    if not w.min() > 0:
        raise ValueError(f"{flag}: {path}: V_params is not positive definite (smallest "
                         f"eigenvalue {w.min():.3g})")
    return params, V, cov


def build_scenarios(args, setup, inference=None) -> sc.Scenarios:
    """The scenario set of the command line (ValueError on bad input); ``inference``:
    (params, V_params, cov) of ``--from-calibration`` (:func:`read_calibration_covariance`)."""
    e = setup.economy
    floor = 1.0 if args.floor_costs else None
    if args.scenarios is not None:
        return sc.scenarios_from_table(e, sc.read_scenario_table(args.scenarios), floor)
    if args.every_unilateral is not None:
        return sc.unilateral_scenarios(e, args.every_unilateral, floor)
    if args.global_cuts is not None:
        return sc.global_cut_scenarios(e, *parse_global_cuts(args.global_cuts), floor=floor)
    if setup.world is None:
        raise ValueError(f"--draws needs a preset built from the Eaton-Kortum data (ek_*), "
                         f"not {args.preset!r}")
    if inference is not None:
        draws = params_draws(inference[0], inference[1], args.draws, args.seed)
        return sc.parameter_scenarios(setup.world, draws,
                                      [f"draw_{k}" for k in range(args.draws)], economy=e)
    scale = 0.02 if args.draw_scale is None else args.draw_scale
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"--draw-scale must be > 0, got {scale!r}")
    return sc.parameter_draws(setup.world, args.draws, args.seed, scale, economy=e)


class Progress:
    """Scenarios done / total, rate and ETA on stderr (one line rewritten on a terminal,
    one line per block otherwise)."""

    def __init__(self, total: int, quiet: bool):
        self.total, self.quiet, self.done, self.t0 = total, quiet, 0, time.perf_counter()
        self.tty = sys.stderr.isatty()

    def update(self, n: int) -> None:
        self.done += n
        if self.quiet:
            return
        dt = time.perf_counter() - self.t0
        rate = self.done / dt if dt > 0 else float("nan")
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        width = 24
        fill = int(width * self.done / max(self.total, 1))
        line = (f"hat: sweep [{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
                f"scenarios, {rate:.3g}/s, ETA {eta:.0f} s")
        end = "\r" if self.tty and self.done < self.total else "\n"
        print(line, end=end, file=sys.stderr, flush=True)


def _check(args) -> None:
    if args.preset in ("merge", "summarize"):
        if args.merge_dir is None:
            raise ValueError(f"hat sweep {args.preset} DIR: the sweep folder is missing")
        return
    if args.merge_dir is not None:
        raise ValueError(f"unexpected argument {args.merge_dir!r} (only `hat sweep merge DIR` "
                         "and `hat sweep summarize DIR` take a folder)")
    if sum(v is not None for v in (args.scenarios, args.every_unilateral, args.global_cuts,
                                   args.draws)) != 1:
        raise ValueError("give exactly one of --scenarios FILE, --every-unilateral CUT, "
                         "--global-cuts FROM:TO:K, --draws K --seed S")
    if args.draws is not None and (args.seed is None or args.draws < 1):
        raise ValueError("--draws K needs K >= 1 and --seed S")
    if args.from_calibration is not None and args.draws is None:
        raise ValueError(f"--from-calibration {args.from_calibration} goes with --draws K "
                         "--seed S")
    if args.from_calibration is not None and args.draw_scale is not None:
        raise ValueError("--draw-scale and --from-calibration are alternatives (the draws "
                         "of --from-calibration have the file's covariance): give one")
    if args.batch < 1:
        raise ValueError(f"--batch must be >= 1, got {args.batch}")
    if args.devices is not None and args.devices < 1:
        raise ValueError(f"--devices must be >= 1, got {args.devices}")
    if args.theta is not None and not (np.isfinite(args.theta) and args.theta > 0):
        raise ValueError(f"--theta must be > 0, got {args.theta!r}")
    for flag, on in (("--resume", args.resume), ("--shard", args.shard),
                     ("--distributed", args.distributed), ("--plots", args.plots)):
        if on and args.out is None:
            raise ValueError(f"{flag} needs --out DIR")
    if args.shard is not None and args.distributed:
        raise ValueError("--shard and --distributed are alternatives: give one")
    if args.shard is not None:
        parse_shard(args.shard)
    check_transition_arguments(args)


def _distributed(args) -> tuple[int, int]:
    """jax.distributed.initialize() with the explicit settings given; (process, count)."""
    import jax

    kw = {k: v for k, v in (("coordinator_address", args.coordinator),
                            ("num_processes", args.num_processes),
                            ("process_id", args.process_id)) if v is not None}
    jax.distributed.initialize(**kw)
    return jax.process_index(), jax.process_count()


def _barrier(name: str) -> None:
    """Wait for every process of the distributed run (the coordinator's barrier: no
    device collectives are needed, each process only writes its own chunks)."""
    from jax._src import distributed  # the client of jax.distributed.initialize

    distributed.global_state.client.wait_at_barrier(name, 24 * 3600 * 1000)


def _manifest(args, economy, s: sc.Scenarios, B: int, inference=None) -> dict:
    """The sweep manifest of the command line (known before anything is solved); with
    ``--from-calibration`` the key ``from_calibration`` {file, cov, seed}."""
    opts = options_from_args(args).replace(tangent_solver=choose_tangent_solver(
        economy, getattr(args, "tangent_solver", None), quiet=True))
    opts = dataclasses.asdict(opts)
    # printing, and how a root is reached (not which one), stay out of the manifest
    for how in ("verbose", "jacobian_block", "coarse_grid"):
        opts.pop(how, None)
    options = {k: (float(v) if isinstance(v, (np.floating, np.ndarray)) or
                   hasattr(v, "dtype") else v) for k, v in opts.items()}
    options.update(floor_costs=bool(args.floor_costs), theta=args.theta,
                   ev=[str(c) for c in args.ev], ev_measure=args.ev_measure,
                   start=args.start,
                   economy={k: getattr(args, k) for k in ("gamma", "sigma", "beta", "d", "Na",
                                                          "phi", "amax", "psi_slope")})
    man = {"format": sst.SWEEP_FORMAT, "fingerprint": sc.fingerprint(s), "preset": args.preset,
            "options": options, "version": hat_jax.__version__, "K": s.K, "batch": B,
            "n_chunks": sst.n_chunks(s.K, B), "chunk_format": sst.chunk_format(),
            "scenarios": list(s.names), "countries": list(economy.countries),
            "floored": {n: [list(p) for p in f] for n, f in zip(s.names, s.floored)}}
    if args.transition:
        man["options"]["transition"] = transition_manifest(args)
    if inference is not None:
        man["from_calibration"] = {"file": str(args.from_calibration), "cov": inference[2],
                                   "seed": int(args.seed)}
    return man


def _merge_and_print(args, out) -> int:
    summary, frame, paths = rs.merge_sweep(out, plots=bool(args.plots))
    wrote(paths, args.quiet)
    print_result(args, summary, lambda: rs.format_sweep(summary, frame))
    return EXIT_OK if summary["converged"] == summary["scenarios"] else EXIT_NOT_CONVERGED


def _summarize_and_print(args, out) -> int:
    summary, table, paths = rs.sweep_bootstrap(out)
    wrote(paths, args.quiet)
    print_result(args, summary, lambda: rs.format_bootstrap(summary, table))
    return EXIT_OK


def use_inverses(choice: str, K: int, economy) -> bool:
    """Whether ``hat sweep --inverses choice`` builds the baseline's warm inverses: "on",
    "off", or "auto" (more than one scenario and at most a quarter of the memory left)."""
    if choice != "auto":
        return choice == "on"
    need, left = warm_inverse_bytes(economy.N, economy.Nz, economy.Na), available_memory()
    return K > 1 and left is not None and need <= 0.25 * left


def _solve_chunks(args, s, mine, B, man, baseline, base, devices, progress) -> list:
    """Solve the counterfactual chunks ``mine``, each written to --out when known."""
    theta = args.theta if args.theta is not None else sc.model_theta(base.eq)
    frames = []
    for c in mine:
        block = sc.select_scenarios(s, slice(c * B, (c + 1) * B))
        res = sc.solve_scenarios(baseline, block, base.opts, batch=B, devices=devices,
                                 ev=args.ev, theta=theta, strategy=args.strategy,
                                 ev_opts=wf.EVOptions(measure=args.ev_measure),
                                 jacobian=args.jacobian)
        frame = sc.scenario_frame(res)
        if args.out is not None:
            sst.write_chunk(args.out, man, c, frame)
        frames.append(frame)
        progress.update(block.K)
    return frames


def run(args: argparse.Namespace) -> int:
    """Run ``hat sweep``; returns the exit code (ValueError: bad input)."""
    _check(args)
    if args.preset == "merge":
        return _merge_and_print(args, args.merge_dir)
    if args.preset == "summarize":
        return _summarize_and_print(args, args.merge_dir)
    proc, nproc = _distributed(args) if args.distributed else (0, 1)
    shard, shards = parse_shard(args.shard) if args.shard else (proc, nproc)
    setup = setup_from_args(args)
    setup = setup._replace(economy=setup.economy.replace(cost_floor=bool(args.floor_costs)))
    for c in args.ev:
        wf.country_index(setup.economy, c)  # unknown labels: exit 1 before solving
    inference = (read_calibration_covariance(args, setup)
                 if args.from_calibration is not None else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wf.CostsBelowOneWarning)
        s = build_scenarios(args, setup, inference)
    if not args.quiet:
        for name, fl in zip(s.names, s.floored):
            if fl:
                err(f"warning: scenario {name}: {len(fl)} cost(s) below 1 floored at 1 "
                    "(importer<-exporter): " + ", ".join(f"{a}<-{b}" for a, b in fl[:20]))
    devices = hat_jax._batched.local_mesh(args.devices).devices.size
    B = -(-min(args.batch, s.K) // devices) * devices
    n = sst.n_chunks(s.K, B)
    mine = sst.chunks_of_shard(n, shard, shards)
    man = _manifest(args, setup.economy, s, B, inference)
    if args.out is not None:  # a folder of another sweep is refused before solving
        sst.prepare_sweep_folder(args.out, man)
        if args.resume:
            mine = [c for c in mine if c not in sst.finished_chunks(args.out, man)]
    base = solve_baseline(args, setup)
    if not bool(base.eq.converged):
        report_not_converged(base.eq, base.opts)
        return EXIT_NOT_CONVERGED
    baseline = base.baseline
    if args.jacobian == "baseline" and s.K > 1 and not args.transition:
        baseline = baseline.with_exact_jacobian()
    if not args.transition and use_inverses(args.inverses, s.K, baseline.economy):
        baseline = baseline.with_warm_inverses()
    todo = sum(min(s.K, (c + 1) * B) - c * B for c in mine)
    if not args.quiet:
        err(f"{s.K} scenarios in {n} chunk(s) of {B}; this process: {len(mine)} chunk(s), "
            f"{todo} scenarios on {devices} device(s)"
            + (f", process {proc} of {nproc}" if nproc > 1 else "")
            + (f", shard {shard}/{shards}" if args.shard else ""))
    progress = Progress(todo, args.quiet)
    if args.transition:
        frames = solve_transition_chunks(args, s, mine, B, man, baseline, base.opts, progress)
    else:
        frames = _solve_chunks(args, s, mine, B, man, baseline, base, devices, progress)
    own_ok = all(bool(f["converged"].all()) for f in frames)
    if args.out is None:
        import pandas as pd

        frame = pd.concat(frames, ignore_index=True)
        summary = rs.sweep_summary(man, frame)
        print_result(args, summary, lambda: rs.format_sweep(summary, frame))
        return EXIT_OK if summary["converged"] == s.K else EXIT_NOT_CONVERGED
    if nproc > 1:
        _barrier("hat-sweep-chunks-written")
        if proc != 0:  # process 0 merges and reports; the others say how their share went
            return EXIT_OK if own_ok else EXIT_NOT_CONVERGED
    elif len(sst.finished_chunks(args.out, man)) < n:
        if not args.quiet:
            err(f"shard {shard}/{shards} done; {n - len(sst.finished_chunks(args.out, man))} "
                f"chunk(s) of other shards missing: run `hat sweep merge {args.out}` when "
                "they are written")
        return EXIT_OK if own_ok else EXIT_NOT_CONVERGED
    return _merge_and_print(args, args.out)
