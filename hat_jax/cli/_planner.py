"""``hat planner``: the efficient (planner) allocation and its trade pattern (model.md
section 11).

    hat planner PRESET [--weights FILE] [--country ISO] [economy / equilibrium options]
                [--out DIR] [--json] [--plots] [--quiet]

Solves the baseline equilibrium (for beta and the decentralized trade shares) and the
efficient allocation with Pareto weights proportional to TFP (or ``--weights FILE``: one
number per country, CSV with a country column and a weight column, or plain numbers).
Exit codes as ``hat solve`` (2: the equilibrium or the planner did not converge).
"""

from __future__ import annotations

import argparse
import time

from hat_jax import _planner as pl
from hat_jax.report._readers import read_weights
from hat_jax.report.welfare import format_planner, planner_summary, write_planner_outputs

from ._common import (
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    add_economy_arguments,
    add_output_arguments,
    default_country,
    err,
    print_result,
    report_not_converged,
    setup_from_args,
    solve_baseline,
    solve_seconds,
    wrote,
)

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``hat planner`` to the ``hat`` command's subparsers."""
    p = sub.add_parser(
        "planner",
        help="the efficient (planner) allocation and its trade pattern",
        description="Solve a preset's equilibrium (for beta and the decentralized trade "
        "shares), then the utilitarian planner's efficient allocation with Pareto weights "
        "proportional to TFP: efficient trade shares next to the decentralized ones, "
        "efficient elasticities and the welfare gain of cost cuts. Exit codes: 0 done, "
        "1 bad input, 2 not converged.",
    )
    add_economy_arguments(p)
    q = p.add_argument_group("planner and output")
    q.add_argument("--weights", metavar="FILE",
                   help="Pareto weights, one per country (CSV: country,weight; or plain "
                   "numbers); default proportional to TFP A_i")
    q.add_argument("--country", metavar="ISO",
                   help="report this country's import pattern (default USA if present, "
                   "else the first)")
    add_output_arguments(p, "planner.json, planner_pairs.csv (and efficient_trade.png with "
                         "--plots)", plots="save figures to --out DIR (needs matplotlib)")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``hat planner``; returns the exit code (ValueError: bad input)."""
    if args.plots and args.out is None:
        raise ValueError("--plots needs --out DIR")
    setup = setup_from_args(args)
    weights = None if args.weights is None else read_weights(args.weights,
                                                            setup.economy.countries)
    if weights is not None:
        pl.pareto_weights(setup.economy, weights)  # validates, before solving
    k = default_country(setup.economy, args.country, None)
    base = solve_baseline(args, setup)
    eq = base.eq
    stats = {"baseline_s": solve_seconds(eq)}
    rc = EXIT_OK
    if not bool(eq.converged):
        report_not_converged(eq, base.opts)
        rc = EXIT_NOT_CONVERGED
    if not args.quiet:
        err("solving the planner's problem...")
    t0 = time.perf_counter()
    sol = pl.solve_planner(eq.economy, weights, beta=eq.beta, throw=False)
    checks = pl.planner_checks(eq.economy, sol)
    stats["planner_s"] = time.perf_counter() - t0
    if not bool(sol.converged):
        err(f"not converged: planner allocation, max |resource residual| "
            f"{float(sol.residual):.3e} after {int(sol.iterations)} iterations")
        rc = EXIT_NOT_CONVERGED
    result = planner_summary(args.preset, eq, sol, checks, k, stats)
    if args.out is not None:
        wrote(write_planner_outputs(args.out, result, plots=args.plots), args.quiet)
    print_result(args, result, lambda: format_planner(result))
    return rc
