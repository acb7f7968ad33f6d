"""The ``hat`` command: thin command modules over the hat_jax API and its report layer.

    hat solve PRESET ...            (:mod:`hat_jax.cli._solve`)
    hat elasticities PRESET ...     (:mod:`hat_jax.cli._elasticities`)
    hat calibrate PRESET ...        (:mod:`hat_jax.cli._calibrate`)
    hat counterfactual PRESET ...   (:mod:`hat_jax.cli._counterfactual`)
    hat planner PRESET ...          (:mod:`hat_jax.cli._planner`)
    hat sweep PRESET ...            (:mod:`hat_jax.cli._sweep`)
    hat tariff PRESET ...           (:mod:`hat_jax.cli._tariff`)
    hat transition PRESET ...       (:mod:`hat_jax.cli._transition`)
    hat warmup PRESET ...           (:mod:`hat_jax.cli._warmup`)
    hat capital-controls PRESET ... (:mod:`hat_jax.cli._capital`)

Each command module has ``add_parser(sub)`` and ``run(args) -> exit code``; what they
share (economy options, the baseline solve, exit codes, printing) is in
:mod:`hat_jax.cli._common`. Exit codes: 0 done; 1 bad input (``hat: error: ...``); 2 not
converged; 130 interrupted. ``python -m hat_jax.cli ...`` works as well.

Ctrl-C (SIGINT) ends every command at once, also while XLA compiles (C++ code that
Python's KeyboardInterrupt cannot reach): :func:`hat_jax.cli._common.interrupt_handler`
prints one line on stderr and exits with 130, after a commit of output files in progress
is finished and the staging files of unfinished ones are removed (no partial output).
``--out`` is checked (a folder that can be written or created) before any solve.

Importing this package imports :mod:`hat_jax`, which turns on JAX's 64-bit mode.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Sequence

import hat_jax

from . import (
    _calibrate as calibrate, _counterfactual as counterfactual, _elasticities as
    elasticities, _planner as planner, _solve as solve, _sweep as sweep, _tariff as
    tariff, _transition as transition, _capital as capital, _warmup as warmup)
from hat_jax.data import DataWarning
from hat_jax.report._files import check_writable_folder

from ._common import EXIT_INPUT, Parser, UsageError, interrupt_handler

__all__ = ["main", "build_parser", "COMMANDS"]

#: Command name -> its module (``add_parser(sub)``, ``run(args)``), in help order.
COMMANDS = {
    "solve": solve,
    "elasticities": elasticities,
    "calibrate": calibrate,
    "counterfactual": counterfactual,
    "planner": planner,
    "sweep": sweep,
    "tariff": tariff,
    "transition": transition,
    "capital-controls": capital,
    "warmup": warmup,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``hat`` argument parser with every command's subparser."""
    parser = Parser(prog="hat", description="Heterogeneous Agent Trade model solver (hat_jax).")
    parser.add_argument("--version", action="version", version=f"hat_jax {hat_jax.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"hat: warning: {message}", file=sys.stderr if file is None else file, flush=True)


def _one_line_warnings(quiet: bool) -> None:
    """Warnings as one line each (``hat: warning: ...``, no source line), each message
    once; data notes (DataWarning) not at all with --quiet. Call inside catch_warnings."""
    warnings.showwarning = _show_warning
    warnings.simplefilter("ignore" if quiet else "once", DataWarning)


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
    with interrupt_handler(), warnings.catch_warnings():
        _one_line_warnings(quiet=bool(getattr(args, "quiet", False)))
        try:
            if getattr(args, "out", None) is not None:
                check_writable_folder(args.out, "--out")
            return COMMANDS[args.command].run(args)
        except ValueError as exc:  # bad parameters (hat_jax validation), data errors
            print(f"hat: error: {exc}", file=sys.stderr)
            return EXIT_INPUT
