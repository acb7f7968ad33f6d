"""The ``hat`` command: thin command modules over the hat_jax API and its report layer.

    hat solve PRESET ...            (:mod:`hat_jax.cli.solve`)
    hat elasticities PRESET ...     (:mod:`hat_jax.cli.elasticities`)
    hat calibrate PRESET ...        (:mod:`hat_jax.cli.calibrate`)
    hat counterfactual PRESET ...   (:mod:`hat_jax.cli.counterfactual`)
    hat planner PRESET ...          (:mod:`hat_jax.cli.planner`)

Each command module has ``add_parser(sub)`` and ``run(args) -> exit code``; what they
share (economy options, the baseline solve, exit codes, printing) is in
:mod:`hat_jax.cli.common`. Exit codes: 0 done; 1 bad input (``hat: error: ...``); 2 not
converged; 130 (calibrate) interrupted. ``python -m hat_jax.cli ...`` works as well.

Importing this package imports :mod:`hat_jax`, which turns on JAX's 64-bit mode.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import hat_jax

from . import calibrate, counterfactual, elasticities, planner, solve
from .common import EXIT_INPUT, Parser, UsageError

__all__ = ["main", "build_parser", "COMMANDS"]

#: Command name -> its module (``add_parser(sub)``, ``run(args)``), in help order.
COMMANDS = {
    "solve": solve,
    "elasticities": elasticities,
    "calibrate": calibrate,
    "counterfactual": counterfactual,
    "planner": planner,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``hat`` argument parser with every command's subparser."""
    parser = Parser(prog="hat", description="Heterogeneous Agent Trade model solver (hat_jax).")
    parser.add_argument("--version", action="version", version=f"hat_jax {hat_jax.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hat`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"hat: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_INPUT
    try:
        return COMMANDS[args.command].run(args)
    except ValueError as exc:  # bad parameters (hat_jax validation), data errors
        print(f"hat: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
