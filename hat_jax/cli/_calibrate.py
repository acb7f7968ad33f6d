"""``hat calibrate``: gravity-as-a-guide calibration of an Eaton-Kortum preset.

    hat calibrate PRESET [--start published|cold|FILE] [--out DIR] [--resume | --restart]
                         [--Na N] [--data-dir DIR] [--tol T] [--max-iter M] [--max-step S]
                         [--eq-tol T] [--hh-tol T] [--se classical|hc1|cluster]
                         [--no-figure] [--json] [--quiet]

PRESET: ``ek_baseline``, ``ek_no_quality``, ``ek_log``, ``ek_paper_2023`` or
``synthetic``. The 46 parameters are solved so that the gravity regression on the
model's trade reproduces the one on the data (:func:`hat_jax.calibration.calibrate`);
each iteration is reported on stderr and checkpointed to ``DIR/checkpoint.npz``.
``synthetic`` is a self-check: a 6-country world (Na = 20 unless --Na) whose data are the
model's own moments at known parameters (:func:`hat_jax.calibration.synthetic_problem`),
calibrated from the cold start; the summary reports the distance to the true parameters.
Outputs in DIR: params.csv, prices.csv (the published layouts), summary.json, moments.csv
(Table-1 style) and fit.png; with ``--se TYPE`` the standard errors of the parameters
(model.md s.16, :func:`hat_jax.calibration.calibration_inference`) in table1.csv,
table1.tex and inference.json. Exit codes: 0 converged (max |gap| <= tol); 1 bad input, or
a checkpoint that is missing, corrupt or belongs to another calibration; 2 not converged
(outputs are still written); 130 interrupted (the checkpoint holds the last finished
iteration: rerun with --resume).
"""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from hat_jax.calibration import (
    CALIBRATION_EQUILIBRIUM,
    CHECKPOINT_NAME,
    COVARIANCE_TYPES,
    CalibrationOptions,
    calibrate,
    calibration_inference,
    problem_from_world,
    starting_point,
    synthetic_problem,
)
from hat_jax.data import DataWarning
from hat_jax._ek_world import ek_world
from hat_jax._preset_registry import names
from hat_jax.report.calibration import (calibration_table, inference_json, inference_table,
                                        summary, write_outputs)
from hat_jax.report._files import json_text
from hat_jax._results import ConvergenceError

from hat_jax.report._files import check_writable_folder

from ._common import (
    add_tables_arguments,
    tables_world,
    EXIT_INTERRUPTED,
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    err,
    print_text,
    set_interrupt_message,
    wrote,
)

__all__ = ["CALIBRATION_PRESETS", "EXIT_INTERRUPTED", "add_parser", "options_from_args",
           "format_table", "run"]

#: Presets that can be calibrated: the Eaton-Kortum world, and the synthetic self-check.
CALIBRATION_PRESETS = (*names(from_data=True), "synthetic")
SYNTHETIC_N, SYNTHETIC_NA = 6, 20


def _add_numeric_options(s: argparse.ArgumentParser, defaults: CalibrationOptions) -> None:
    s.add_argument("--tol", type=float, default=defaults.tol,
                   help="stop at max |moment gap| <= TOL (default %(default)g)")
    s.add_argument("--max-iter", dest="max_iter", type=int, default=defaults.max_iter,
                   help="maximum Newton iterations (default %(default)s)")
    s.add_argument("--max-step", dest="max_step", type=float, default=defaults.max_step,
                   help="cap on the sup norm of a Newton step (default %(default)g)")
    s.add_argument("--eq-tol", dest="eq_tol", type=float, default=defaults.equilibrium.tol,
                   help="equilibrium tolerance, max |excess demand| / world GDP "
                   "(default %(default)g)")
    s.add_argument("--hh-tol", dest="hh_tol", type=float,
                   default=defaults.equilibrium.hh_tol,
                   help="household tolerance, sup-norm change of c and v (default %(default)g)")


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``hat calibrate`` to the ``hat`` command's subparsers."""
    s = sub.add_parser(
        "calibrate",
        help="calibrate an Eaton-Kortum preset by gravity as a guide (resumable)",
        description="Solve the 46 parameters (TFP, importer cost effects, distance bins, "
        "border, language, EC, EFTA) so that the gravity regression on model trade "
        "reproduces the one on the data, by Newton's method with the exact Jacobian "
        "through the equilibrium. Every iteration is checkpointed to DIR/"
        f"{CHECKPOINT_NAME}. Exit codes: 0 converged, 1 bad input or unusable "
        "checkpoint, 2 not converged, 130 interrupted (resume with --resume).",
    )
    s.add_argument("preset", metavar="PRESET", nargs="?", default=None,
                   help=f"one of {', '.join(CALIBRATION_PRESETS)} (optional with --data: "
                   "then an ek_* preset lends its utility settings and R)")
    s.add_argument("--start", default=None, metavar="published|cold|FILE",
                   help="starting point: the published vectors (default where they exist), "
                   "the cold start from the data (static Eaton-Kortum inversion; default "
                   "for ek_paper_2023), or a params file with column 'guess' (46 rows; "
                   "prices from its sibling *prices.csv if present). With --resume the "
                   "default is the checkpoint's start")
    s.add_argument("--out", metavar="DIR", default=None,
                   help="output and checkpoint folder (default: calibration-PRESET)")
    r = s.add_mutually_exclusive_group()
    r.add_argument("--resume", action="store_true",
                   help="continue from DIR/checkpoint.npz (refused if it is corrupt or was "
                   "written for another preset, data or settings)")
    r.add_argument("--restart", action="store_true",
                   help="discard an existing checkpoint in DIR and start afresh")
    s.add_argument("--Na", type=int, default=None,
                   help="asset grid points (default 100; synthetic: 20)")
    s.add_argument("--data-dir", dest="data_dir", metavar="DIR",
                   help="data directory (default: $HAT_DATA_DIR, then the copy shipped in the package)")
    add_tables_arguments(s)
    _add_numeric_options(s, CalibrationOptions())
    s.add_argument("--se", choices=COVARIANCE_TYPES, default=None,
                   help="standard errors of the calibrated parameters (model.md s.16): "
                   "V_params = G^{-1} V_m G^{-T} with V_m the gravity moments' covariance, "
                   "classical, hc1 (robust; for PPML the sandwich) or cluster (by country "
                   "pair); writes table1.csv, table1.tex, inference.json. On a finished "
                   "calibration: --resume --se TYPE (the Jacobian is computed once at the "
                   "calibrated parameters)")
    s.add_argument("--no-figure", dest="figure", action="store_false",
                   help="do not draw fit.png")
    s.add_argument("--json", action="store_true",
                   help="print the summary.json object on stdout instead of the table")
    s.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    return s


def options_from_args(args) -> CalibrationOptions:
    """The calibration options of the command line (ValueError on bad values); the
    settings without an option keep their defaults."""
    for name in ("tol", "max_step", "eq_tol", "hh_tol"):
        v = getattr(args, name)
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"--{name.replace('_', '-')} must be a positive number, got {v!r}")
    if args.max_iter < 0:
        raise ValueError(f"--max-iter must be >= 0, got {args.max_iter}")
    if args.Na is not None and args.Na < 3:
        raise ValueError(f"--Na must be an integer >= 3, got {args.Na}")
    equilibrium = CALIBRATION_EQUILIBRIUM.replace(tol=args.eq_tol, hh_tol=args.hh_tol)
    return CalibrationOptions(tol=args.tol, max_iter=args.max_iter, max_step=args.max_step,
                              equilibrium=equilibrium, verbose=not args.quiet)


def format_table(result, preset: str, true_theta=None, inference=None) -> str:
    """The readable summary: status, Table 1 (common coefficients; with ``inference``
    the standard errors of the data moments and the parameters) and the worst gaps."""

    C = result.problem.geography.n_coef
    if inference is None:
        table = calibration_table(result)
        cols = ["moment", "data", "model", "value", "trade_cost_level"]
    else:
        table = inference_table(result, inference)
        cols = ["moment", "data", "data_se", "model", "value", "se", "trade_cost_level"]
    common = table.iloc[-C:][cols].rename(columns={"value": "parameter"})
    lines = [
        f"HAT calibration: {preset} (N={result.problem.N}, Na={result.problem.economy.Na}, "
        f"R={result.R:g}, start {result.start})",
        f"converged: {'yes' if result.converged else 'NO'}  ({result.message})",
        f"iterations {result.iterations}, max |gap| {result.max_gap:.3e}, "
        f"{result.seconds:.1f} s (+ compile {result.compile_s:.1f} s)",
        f"beta = {result.beta:.10g}, equilibrium residual {result.eq_residual:.1e}",
        *([] if true_theta is None else [
            "largest |calibrated - true parameter| = "
            f"{np.max(np.abs(result.params - true_theta)):.3e}"]),
        "",
        "Gravity moments (data, model), calibrated parameter and trade-cost level "
        "exp(-parameter/theta_d)" + ("" if inference is None else
                                     f"; standard errors ({inference.cov})"),
    ]
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        lines.append(common.to_string(index=False, float_format="{:.6f}".format))
        fe = calibration_table(result).iloc[:-C]
        worst = fe.reindex(fe["gap"].abs().sort_values(ascending=False).index).head(5)
        lines += ["", "Largest gaps among the exporter (S) and destination (m) effects "
                  "(all in moments.csv)",
                  worst[["moment", "data", "model", "gap"]].to_string(
                      index=False, float_format="{:.3e}".format)]
    return "\n".join(lines)


def _problem(args, options: CalibrationOptions):
    """(problem, source of the start, true parameters or None): the synthetic world, or
    the preset's EK world (built once)."""
    if args.preset == "synthetic":
        if not args.quiet:
            err("synthetic: solving the model at the true parameters for the data...")
        problem, true_theta, _, _ = synthetic_problem(
            N=SYNTHETIC_N, Na=SYNTHETIC_NA if args.Na is None else args.Na, seed=0,
            options=options)
        return problem, problem, true_theta
    overrides = {} if args.Na is None else {"Na": args.Na}
    if args.data is not None:
        if args.data_dir is not None:
            raise ValueError("--data builds the world from the tables; --data-dir does not apply")
        world = tables_world(args, **overrides)
        return problem_from_world(world), world, None
    with warnings.catch_warnings():
        if args.quiet:
            warnings.simplefilter("ignore", DataWarning)
        world = ek_world(args.preset, args.data_dir, **overrides)
    return problem_from_world(world), world, None


def _print_json(result, args, paths, checkpoint: Path, true_theta, inference=None) -> None:

    obj = summary(result, args.preset)
    if inference is not None:
        full = inference_json(result, inference, args.preset)
        obj["inference"] = {k: full[k] for k in ("cov", "estimator", "parameters",
                                                 "moments", "timings")}
    obj["files"] = [str(p) for p in paths]
    obj["checkpoint"] = str(checkpoint)
    if true_theta is not None:
        obj["max_diff_true"] = float(np.max(np.abs(result.params - true_theta)))
    print_text(json_text(obj))


def _inference(result, args, options, checkpoint):
    """The standard errors of ``--se`` (None without it, or, with a message, when the
    calibration has not converged)."""
    if args.se is None:
        return None
    if not result.converged:
        err("--se: no standard errors at a calibration that has not converged")
        return None
    if result.jacobian is None and not args.quiet:
        err("--se: the Jacobian of the moments at the calibrated parameters...")
    return calibration_inference(result, args.se, options, checkpoint=checkpoint)


def run(args) -> int:
    """Run ``hat calibrate`` (see the module docstring); returns the exit code."""

    if args.data is not None:
        if args.preset is not None and args.preset not in names(from_data=True):
            raise ValueError(f"with --data, PRESET must be an ek_* preset (its utility "
                             f"settings are used), got {args.preset!r}")
    elif args.preset is None:
        raise ValueError("PRESET is required (unless --data DIR is given)")
    elif args.preset not in CALIBRATION_PRESETS:
        raise ValueError(f"preset {args.preset!r} cannot be calibrated; choose one of "
                         f"{', '.join(CALIBRATION_PRESETS)}")
    options = options_from_args(args)
    default_out = "calibration-tables" if args.data is not None else f"calibration-{args.preset}"
    out = Path(args.out if args.out is not None else default_out)
    check_writable_folder(out, "--out")
    problem, source, true_theta = _problem(args, options)
    if args.data is not None:
        args.preset = source.name
    start = None
    if not (args.resume and args.start is None):
        has_published = getattr(source, "published", None) is not None
        start = starting_point(source, args.start or ("published" if has_published
                                                      else "cold"))
    if not args.quiet:
        err(f"calibrate {args.preset}: N={problem.N}, Na={problem.economy.Na}, "
            f"R={float(problem.R):g}, " + (f"start {start.label}" if start else "resuming")
            + f", out {out}")
    checkpoint = out / CHECKPOINT_NAME
    set_interrupt_message(f"interrupted: {checkpoint} holds the last finished iteration; "
                          "continue with --resume")
    try:
        result = calibrate(problem, start, options=options, checkpoint=checkpoint,
                           resume=args.resume, overwrite=args.restart,
                           meta={"preset": args.preset}, throw=False)
    except ConvergenceError as exc:
        err(f"not converged: {exc}")
        return EXIT_NOT_CONVERGED
    except KeyboardInterrupt:
        err(f"interrupted: {checkpoint} holds the last finished iteration; "
            "continue with --resume")
        return EXIT_INTERRUPTED
    inference = _inference(result, args, options, checkpoint)
    paths = write_outputs(out, result, args.preset, figure=args.figure, inference=inference)
    wrote(paths, args.quiet)
    rc = EXIT_OK
    if not result.converged:
        msg = result.message
        err(msg if msg.startswith("not converged") else f"not converged: {msg}")
        rc = EXIT_NOT_CONVERGED
    if args.json:
        _print_json(result, args, paths, checkpoint, true_theta, inference)
    else:
        print_text(format_table(result, args.preset, true_theta, inference))
    return rc
