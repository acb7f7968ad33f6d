"""``hat elasticities``: trade elasticities of a preset economy (model.md section 9).

    hat elasticities PRESET [economy / equilibrium options of ``hat solve``]
                     [--importer ISO] [--states I J] [--se FILE]
                     [--out DIR] [--json] [--plots] [--quiet]

Solves the preset's equilibrium (as ``hat solve``), then every bilateral elasticity
theta_ij = d log(M_ij/M_ii) / d log d_ij by forward-mode AD through the household
problems (W, R and the distribution fixed; :func:`hat_jax._elasticities.
trade_elasticities`), the trade-weighted mean per importer, and optionally one importer's
partners and one pair's state-level elasticities with the Proposition-3 rebuild. With
``--se FILE`` (the inference.json of ``hat calibrate --se``) the standard errors of
theta_ij, the means and the Proposition-3 margins by the delta method
(:func:`hat_jax.calibration.elasticities_jacobian`, model.md s.16): for the rows of
``--importer`` and the ``--states`` importer if given, else of every importer.
Exit codes as ``hat solve`` (2: the equilibrium or a re-solved household problem did not
converge; outputs are still printed and written, with ``"converged": false``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hat_jax._elasticities import country_index, trade_elasticities
from hat_jax.report.elasticities import (
    elasticities_standard_errors,
    elasticities_summary,
    format_elasticities,
    format_standard_errors,
    write_elasticity_outputs,
)

from ._params_file import delta_method_inputs, inference_for_world

from ._common import (
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    add_economy_arguments,
    add_output_arguments,
    err,
    print_result,
    report_not_converged,
    setup_from_args,
    solve_baseline,
    wrote,
)

__all__ = ["add_parser", "check_args", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``hat elasticities`` to the ``hat`` command's subparsers."""
    p = sub.add_parser(
        "elasticities",
        help="bilateral trade elasticities by automatic differentiation",
        description="Solve a preset's equilibrium, then compute every bilateral trade "
        "elasticity theta_ij = d log(M_ij/M_ii) / d log d_ij (W, R and the distribution "
        "fixed, households re-optimizing) by forward-mode AD, the trade-weighted mean per "
        "importer, one importer's partners (--importer) and one pair's elasticities by "
        "household state (--states). Exit codes: 0 done, 1 bad input, 2 not converged.",
    )
    add_economy_arguments(p)
    o = add_output_arguments(
        p, "summary.json, theta.csv, theta_mean.csv, pairs.csv (and partners_ISO.csv, "
        "states_I_J.csv, figures with --plots)",
        plots="save figures to --out DIR: heatmaps of -theta(a,z) and of the foreign "
        "expenditure share (the --states pair; the two countries of a two-country preset "
        "by default) and, with --importer, elasticities against delivered prices (needs "
        "matplotlib)",
        json_help="print one JSON object on stdout instead of the tables")
    o.title = "elasticities and output"
    o.add_argument("--importer", metavar="ISO",
                   help="report this importer's partners: theta_ij, delivered price p_ij, "
                   "trade share pi_ij (country label, e.g. USA or Home)")
    o.add_argument("--states", nargs=2, metavar=("I", "J"),
                   help="state-level elasticities of importer I with respect to d_IJ "
                   "(margins, weights, Proposition-3 rebuild)")
    o.add_argument("--se", metavar="FILE", default=None,
                   help="standard errors by the delta method (model.md s.16) from the "
                   "parameter covariance in FILE, the inference.json (or its folder) of "
                   "`hat calibrate --se`, whose parameters must be the baseline's (give "
                   "--params DIR/params.csv): theta_ij, the trade-weighted means and the "
                   "Proposition-3 margins, for the --importer and --states rows if given, "
                   "else every importer (the --json key \"standard_errors\", theta_se.csv "
                   "and s.e. columns with --out, s.e. in parentheses in the report)")
    return p


def check_args(args, countries) -> tuple[int | None, tuple[int, int] | None]:
    """(importer index, (i, j) state pair) of --importer / --states, checked against the
    economy's labels, and --plots checked (ValueError on bad input, before any solve)."""
    imp = None
    if args.importer is not None:
        imp = country_index(countries, args.importer, "--importer")
    pair = None
    if args.states is not None:
        i = country_index(countries, args.states[0], "--states importer")
        j = country_index(countries, args.states[1], "--states partner")
        if i == j:
            raise ValueError(f"--states needs two different countries, got {countries[i]!r} "
                             "twice (theta_ii = 1 by convention)")
        pair = (i, j)
    if args.plots:
        if args.out is None:
            raise ValueError("--plots saves PNG files: give --out DIR")
        if pair is None and imp is None and len(countries) != 2:
            raise ValueError("--plots: give --states I J (state heatmaps) and/or --importer "
                             "ISO (elasticities vs delivered prices)")
        try:
            import matplotlib  # noqa: F401
        except ImportError as exc:
            raise ValueError("--plots needs matplotlib (pip install 'hat_jax[plot]')") from exc
    return imp, pair


def _not_converged(args, eq, opts, te) -> bool:
    """Report a failed equilibrium or re-solved household problem; True if one failed."""
    if not bool(eq.converged):
        report_not_converged(eq, opts)
        return True
    conv = np.asarray(te.converged)
    bad = [te.countries[i] for k, i in enumerate(te.importers) if not bool(conv[k])]
    if bad:
        err("not converged: the household problem re-solved for the elasticities did not "
            f"converge to {args.hh_tol:g} in {', '.join(bad)}")
    return bool(bad)


def se_rows(imp, pair, N: int) -> list[int]:
    """The importers whose standard errors --se computes: those of --importer and
    --states if given, else all N."""
    rows = sorted({x for x in (imp, None if pair is None else pair[0]) if x is not None})
    return rows or list(range(N))


def _standard_errors(args, setup, base, rows, V, cov) -> dict:
    """The ``"standard_errors"`` object of ``--se FILE``: the exact Jacobian of the
    elasticities with respect to the parameters, row by row
    (:func:`hat_jax.calibration.elasticities_jacobian`), and the delta method."""
    from hat_jax.calibration import elasticities_jacobian

    countries = setup.economy.countries
    params, problem, start = delta_method_inputs(
        setup, base, f"the elasticities of {len(rows)} importer(s)", cov,
        None if args.quiet else err)
    out, jac, stats = elasticities_jacobian(params, problem, rows, start=start, opts=base.opts,
                                            hh_tol=args.hh_tol)
    return elasticities_standard_errors(out, jac, V, cov, args.se, countries, rows,
                                        {"jacobian_s": stats["seconds"]})


def run(args: argparse.Namespace) -> int:
    """Run ``hat elasticities``; returns the exit code (ValueError: bad input)."""
    setup = setup_from_args(args)
    imp, pair = check_args(args, setup.economy.countries)  # before the long solve
    se = None if args.se is None else inference_for_world(args, setup.world, "--se", args.se)
    if se is not None and args.unknown == "R":
        raise ValueError("--se: the calibrated world solves beta at its target R; drop "
                         "--unknown R")
    base = solve_baseline(args, setup)
    eq, opts = base.eq, base.opts
    if not args.quiet:
        err("computing the trade elasticities (forward-mode AD through the household "
            "problems)...")
    t0 = time.perf_counter()
    te = trade_elasticities(eq, hh_tol=args.hh_tol, throw=False)
    elapsed = time.perf_counter() - t0
    if not args.quiet:
        err(f"done: {elapsed:.2f} s")
    states = te.states(*pair) if pair is not None else None
    result = elasticities_summary(te, args.preset, eq, opts, args.hh_tol, importer=imp,
                                  states=states, stats={"elasticities_s": elapsed})
    if se is not None and bool(eq.converged):
        result["standard_errors"] = _standard_errors(
            args, setup, base, se_rows(imp, pair, len(te.countries)), se[1], se[2])
    if args.out is not None:
        plot_states = states
        if args.plots and plot_states is None and len(te.countries) == 2:
            plot_states = te.states(0, 1)
        wrote(write_elasticity_outputs(args.out, te, result, states=states, importer=imp,
                                       plot_states=plot_states, plots=args.plots),
              args.quiet)
    rc = EXIT_NOT_CONVERGED if _not_converged(args, eq, opts, te) else EXIT_OK
    print_result(args, result, lambda: format_elasticities(result, te) + (
        format_standard_errors(result) if "standard_errors" in result else ""))
    return rc
