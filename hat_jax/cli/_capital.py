"""``hat capital-controls``: one country's optimal capital-account wedge (model.md s.15).

    hat capital-controls PRESET --country ISO [economy / equilibrium options]
                         [--out DIR] [--json] [--quiet]

Solves the preset's baseline (financial globalization), then the wedge omega_i of
``--country`` (households of i save and borrow at R_i = R + omega_i, the revenue
rebated lump sum; the other countries' wedges 0) that maximizes its utilitarian welfare
sum lambda V_i (:func:`hat_jax.policy.optimal_wedge`: the secant method on the exact
derivative through the equilibrium), the first-order residual, and the EV of every
household state at the optimum against the baseline. Exit codes as ``hat solve`` (2:
not converged).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hat_jax import policy
from hat_jax._results import ConvergenceError
from hat_jax.report._files import json_num, json_nums, json_text, json_timings, write_files

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
from ._finance import finance_record

__all__ = ["add_parser", "run", "capital_controls_summary", "format_capital_controls"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``hat capital-controls`` to the ``hat`` command's subparsers."""
    p = sub.add_parser(
        "capital-controls",
        help="a country's optimal capital-account wedge (capital controls)",
        description="Solve a preset's equilibrium under financial globalization, then "
        "the capital-account wedge omega_i of one country (R_i = R + omega_i, revenue "
        "rebated lump sum) that maximizes its utilitarian welfare, by exact derivatives "
        "through the equilibrium, with the first-order residual and the EV of every "
        "household state at the optimum. Exit codes: 0 done, 1 bad input, 2 not "
        "converged.",
    )
    add_economy_arguments(p)
    t = p.add_argument_group("policy")
    t.add_argument("--country", metavar="ISO",
                   help="the country setting its wedge (default USA if present, else the "
                   "first)")
    add_output_arguments(p, "capital_controls.json")
    return p


def capital_controls_summary(preset: str, opt, stats: dict) -> dict:
    """The ``hat capital-controls --json`` object: preset, country, wedge (omega_i at
    the optimum), wedges (N), welfare, welfare_base, foc_residual, iterations,
    converged, path [{omega, welfare, foc}], mean_gain_pct, quintile_gains_pct,
    share_gain (the EV at the optimum against the baseline), finance {before, after}
    (as ``hat counterfactual``), timings."""
    res = opt.welfare_result
    out = {"preset": preset, "country": opt.country, "wedge": json_num(opt.wedge),
           "wedges": json_nums(opt.wedges), "welfare": json_num(opt.welfare),
           "welfare_base": json_num(opt.welfare_base),
           "foc_residual": json_num(opt.foc_residual), "iterations": opt.iterations,
           "converged": bool(opt.converged),
           "path": [{"omega": json_num(w), "welfare": json_num(f), "foc": json_num(g)}
                    for w, f, g in opt.path],
           "mean_gain_pct": None, "quintile_gains_pct": None, "share_gain": None,
           "finance": None, "timings": json_timings(stats)}
    if res is not None:
        s = res.summary
        out.update(mean_gain_pct=json_num(100 * s.mean_gain),
                   quintile_gains_pct=json_nums(100 * np.asarray(s.quintile_gains)),
                   share_gain=json_num(s.share_gain))
    if opt.counterfactual is not None:
        out["finance"] = finance_record(opt.counterfactual)
    return out


def format_capital_controls(r: dict) -> str:
    """The text summary of ``hat capital-controls``."""
    lines = [f"optimal capital-account wedge of {r['country']}: omega = {r['wedge']:+.6f} "
             f"(FOC residual {r['foc_residual']:.2e}, {r['iterations']} evaluations)",
             f"utilitarian welfare {r['welfare_base']:.8f} -> {r['welfare']:.8f}"]
    if r["mean_gain_pct"] is not None:
        lines.append(f"EV at the optimum: mean {r['mean_gain_pct']:.4f}%, share who gain "
                     f"{r['share_gain']:.3f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``hat capital-controls``; returns the exit code (ValueError: bad input)."""
    if args.regime != "global":
        raise ValueError("capital controls need one world bond market (--regime global)")
    setup = setup_from_args(args)
    i = default_country(setup.economy, args.country, None)
    base = solve_baseline(args, setup)
    eq = base.eq
    stats = {"baseline_s": solve_seconds(eq)}
    if not bool(eq.converged):
        report_not_converged(eq, base.opts)
        return EXIT_NOT_CONVERGED
    if not args.quiet:
        err(f"optimal wedge of {eq.economy.countries[i]} (secant method on the exact "
            "derivative through the equilibrium)...")
    t0 = time.perf_counter()
    try:
        opt = policy.optimal_wedge(base.baseline, i, verbose=not args.quiet, throw=False)
    except ConvergenceError as exc:
        err(f"not converged: {exc}")
        return EXIT_NOT_CONVERGED
    stats["optimal_s"] = time.perf_counter() - t0
    result = capital_controls_summary(args.preset, opt, stats)
    rc = EXIT_OK if opt.converged else EXIT_NOT_CONVERGED
    if rc != EXIT_OK:
        err(f"not converged: optimal wedge FOC residual {opt.foc_residual:.3e}")
    if args.out is not None:
        wrote(write_files(args.out, {"capital_controls.json": json_text(result)}), args.quiet)
    print_result(args, result, lambda: format_capital_controls(result))
    return rc
