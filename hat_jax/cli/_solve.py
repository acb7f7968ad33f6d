"""``hat solve``: the stationary world equilibrium of a preset economy.

    hat solve PRESET [--gamma G] [--sigma S] [--beta B] [--d D] [--Na N] [--phi P]
                     [--amax A] [--psi-slope K] [--tol T] [--hh-tol T] [--max-iter M]
                     [--regime {global,autarky}] [--unknown {R,beta}] [--R R]
                     [--start {published,cold}] [--distribution {direct,iterate}]
                     [--data-dir DIR] [--out DIR] [--json] [--quiet]

PRESET is a key of :data:`hat_jax.PRESETS`; a preset registered there later is accepted
without changes here (``--data-dir`` is passed on when its factory takes ``data_dir``).
The readable summary (or, with ``--json``, one JSON object) goes to stdout, progress and
diagnostics to stderr. Exit codes: 0 solved; 1 bad input; 2 not converged (outputs are
still written, with ``"converged": false``).
"""

from __future__ import annotations

import argparse

from hat_jax.report.equilibrium import format_summary, summary, write_outputs
from hat_jax._symmetry import check_symmetry

from ._common import (
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    add_economy_arguments,
    add_output_arguments,
    print_result,
    report_not_converged,
    solve_baseline,
    wrote,
)

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``hat solve`` to the ``hat`` command's subparsers."""
    s = sub.add_parser(
        "solve",
        help="solve the stationary world equilibrium of a preset economy",
        description="Solve the stationary world equilibrium of a preset economy and print "
        "a summary (or one JSON object with --json). Exit codes: 0 solved, 1 bad input, "
        "2 not converged.",
    )
    add_economy_arguments(s)
    add_output_arguments(s, "summary.json, trade_shares.csv and countries.csv")
    return s


def run(args: argparse.Namespace) -> int:
    """Run ``hat solve``; returns the exit code (ValueError: bad input)."""
    base = solve_baseline(args)
    eq, opts = base.eq, base.opts
    result = summary(eq, args.preset, opts, world=base.world, start=base.start)
    sym = check_symmetry(eq, opts)  # warns when a symmetric economy's eq is asymmetric
    if sym is not None:
        result["symmetric_equilibrium"] = symmetric_record(sym)
    if args.out is not None:
        wrote(write_outputs(args.out, eq, result), args.quiet)
    rc = EXIT_OK
    if not result["converged"]:
        report_not_converged(eq, opts)
        rc = EXIT_NOT_CONVERGED
    print_result(args, result, lambda: format_summary(result, eq) + _symmetric_text(result))
    return rc


def symmetric_record(sym) -> dict:
    """The symmetric equilibrium next to an asymmetric one (JSON-ready)."""
    import numpy as np

    R = np.asarray(sym.R)
    return {"converged": bool(sym.converged), "wages": np.asarray(sym.W).tolist(),
            "R": float(R) if R.ndim == 0 else R.tolist(), "beta": float(np.asarray(sym.beta)),
            "home_share": np.diag(np.asarray(sym.world.aggregates.trade_shares)).tolist(),
            "residual": float(sym.residual), "trade_residual": float(sym.trade_residual)}


def _num(x) -> str:
    return str([round(v, 10) for v in x]) if isinstance(x, list) else f"{x:.10g}"


def _symmetric_text(result: dict) -> str:
    s = result.get("symmetric_equilibrium")
    if s is None:
        return ""
    return ("\n\nWarning: an asymmetric equilibrium of a symmetric economy (identical "
            "countries); it is one of several equilibria.\nThe symmetric equilibrium "
            f"({'converged' if s['converged'] else 'NOT converged'}): wages "
            f"{[round(w, 6) for w in s['wages']]}, R = {_num(s['R'])}, beta = "
            f"{s['beta']:.10g}, home shares {[round(h, 4) for h in s['home_share']]}, "
            f"max excess demand {s['residual']:.3e}")
