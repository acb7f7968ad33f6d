"""``hat counterfactual``: welfare effects of a change in trade costs (model.md s.10).

    hat counterfactual PRESET (--global-cut C | --unilateral ISO C | --bilateral I J C
                               | --costs FILE | --tariffs FILE | --uniform-tariff ISO T
                               | --tariff-war T) [--symmetric] [--floor-costs | --no-floor-costs]
                      [--country ISO] [--theta T]
                      [--ev-tol TOL] [economy / equilibrium options of ``hat solve``]
                      [--out DIR] [--json] [--plots] [--quiet]

Solves the preset's baseline equilibrium, the equilibrium with the new trade costs (beta
fixed at the baseline's, wages and R solved, warm-started), the equivalent variation
lambda_tau(a, z) of every state of ``--country`` and its aggregates, and the ACR
benchmark. Cuts are proportional reductions of d_ij, i != j, floored at 1 by default
(``--floor-costs``); ``--no-floor-costs`` keeps costs that fall below 1 (the paper's
convention; a warning lists the pairs) and lets a ``--costs`` file hold them. ``--country``
defaults to the cutting country (the importer of a bilateral cut), else USA if present,
else the first country. Tariff experiments (model.md s.14) keep the costs and impose an
N x N tariff matrix (``--tariffs``, importer rows), one country's uniform rate on every
partner (``--uniform-tariff``) or the same rate everywhere (``--tariff-war``); the revenue
is rebated lump sum and the EV scales all income, the rebate included. Exit codes as ``hat solve`` (2: an equilibrium or the EV of some
state did not converge).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from hat_jax import tariffs as tf
from hat_jax import welfare as wf
from hat_jax.report.readers import read_cost_matrix
from hat_jax.report.welfare import (
    counterfactual_summary,
    format_counterfactual,
    write_counterfactual_outputs,
)
from hat_jax.results import ConvergenceError

from .common import (
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
    wrote,
)

__all__ = ["add_cost_experiment", "add_parser", "experiment_costs", "experiment_tariffs", "run"]


def add_cost_experiment(c: argparse.ArgumentParser):
    """The cost experiment options shared by ``hat counterfactual`` and ``hat
    transition`` (read by :func:`experiment_costs`): a group "experiment (exactly one)"
    with --global-cut, --unilateral, --bilateral, --costs, and --symmetric,
    --floor-costs / --no-floor-costs. Returns (group, the
    mutually exclusive subgroup) for a command to add its own options."""
    x = c.add_argument_group("experiment (exactly one)")
    g = x.add_mutually_exclusive_group(required=True)
    g.add_argument("--global-cut", dest="global_cut", type=float, metavar="C",
                   help="scale every international cost d_ij (i != j) by 1 - C (0 < C < 1)")
    g.add_argument("--unilateral", nargs=2, metavar=("ISO", "C"),
                   help="country ISO scales its import costs d_ISO,j by 1 - C")
    g.add_argument("--bilateral", nargs=3, metavar=("I", "J", "C"),
                   help="scale d[I, J] (I importing from J) by 1 - C")
    g.add_argument("--costs", metavar="FILE",
                   help="new N x N trade-cost matrix (CSV or .npy, importer rows)")
    x.add_argument("--symmetric", action="store_true",
                   help="with --bilateral: cut d[J, I] as well")
    x.add_argument("--floor-costs", dest="floor_costs", action=argparse.BooleanOptionalAction,
                   default=True,
                   help="floor scaled costs at d = 1 (default); --no-floor-costs: the "
                   "paper's convention, off-diagonal costs may fall below 1 (the pairs "
                   "are listed)")
    return x, g


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``hat counterfactual`` to the ``hat`` command's subparsers."""
    c = sub.add_parser(
        "counterfactual",
        help="welfare effects of a change in trade costs (EV by household state)",
        description="Solve a preset's equilibrium and the equilibrium with new trade costs "
        "(beta fixed, wages and R solved), the equivalent variation lambda_tau(a, z) of "
        "every household state of one country, its aggregates (mean, quintiles of "
        "expenditure, share who gain) and the ACR benchmark. Exit codes: 0 done, 1 bad "
        "input, 2 not converged.",
    )
    add_economy_arguments(c)
    x, g = add_cost_experiment(c)
    g.add_argument("--tariffs", metavar="FILE",
                   help="N x N ad-valorem tariff matrix t_ij >= 0, t_ii = 0 (CSV or .npy, "
                   "importer rows), revenue rebated lump sum")
    g.add_argument("--uniform-tariff", dest="uniform_tariff", nargs=2, metavar=("ISO", "T"),
                   help="country ISO levies the tariff T (e.g. 0.1) on every partner")
    g.add_argument("--tariff-war", dest="tariff_war", type=float, metavar="T",
                   help="every country levies the tariff T on every partner")
    w = c.add_argument_group("welfare and output")
    w.add_argument("--country", metavar="ISO",
                   help="country whose households' EV is computed (default: the cutting "
                   "country, else USA if present, else the first)")
    w.add_argument("--theta", type=float, default=4.0,
                   help="user trade elasticity of the second ACR number (default 4)")
    w.add_argument("--ev-tol", dest="ev_tol", type=float, default=wf.EV_TOL,
                   help="EV tolerance: |V_old(lambda) - V_new| / slope per state (1e-10)")
    add_output_arguments(c, "counterfactual.json, ev.csv, countries.csv (and "
                         "ev_by_assets.png, quintile_gains.png with --plots)",
                         plots="save figures to --out DIR (needs matplotlib)")
    return c


def _cut(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{flag}: the cut must be a number in (0, 1), got {text!r}") from None


def experiment_costs(args, economy):
    """(new cost matrix, description dict, default country index or None) of the
    experiment given on the command line (ValueError on bad input)."""
    if args.symmetric and args.bilateral is None:
        raise ValueError("--symmetric goes with --bilateral")
    floor_costs = bool(getattr(args, "floor_costs", True))
    floor = 1.0 if floor_costs else None
    conv = lambda d: {"floor_costs": floor_costs, "below_one": wf.costs_below_one(economy, d)}
    if args.global_cut is not None:
        d, cl = wf.global_cut(economy, args.global_cut, floor=floor)
        return d, {"kind": "global", "cut": args.global_cut, "clamped": cl, **conv(d)}, None
    if args.unilateral is not None:
        iso, c = args.unilateral
        cut = _cut(c, "--unilateral")
        d, cl = wf.unilateral_cut(economy, iso, cut, floor=floor)
        i = wf.country_index(economy, iso)
        return d, {"kind": "unilateral", "country": economy.countries[i], "cut": cut,
                   "clamped": cl, **conv(d)}, i
    if args.bilateral is not None:
        a, b, c = args.bilateral
        cut = _cut(c, "--bilateral")
        d, cl = wf.bilateral_cut(economy, a, b, cut, symmetric=args.symmetric, floor=floor)
        i, j = wf.country_index(economy, a), wf.country_index(economy, b)
        return d, {"kind": "bilateral", "importer": economy.countries[i],
                   "exporter": economy.countries[j], "cut": cut,
                   "symmetric": bool(args.symmetric), "clamped": cl, **conv(d)}, i
    d = wf.check_costs(economy, read_cost_matrix(args.costs, economy.countries),
                       floor=floor_costs)
    return d, {"kind": "costs", "file": str(args.costs), "clamped": [], **conv(d)}, None


def experiment_tariffs(args, economy):
    """(tariff matrix or None, description dict, default country index or None) of a
    tariff experiment on the command line (None: not a tariff experiment)."""
    N = economy.N
    if getattr(args, "tariffs", None) is not None:
        t = tf.validate_tariffs(read_cost_matrix(args.tariffs, economy.countries, "--tariffs"),
                                N, economy.countries, "--tariffs")
        return t, {"kind": "tariffs", "file": str(args.tariffs)}, None
    if getattr(args, "uniform_tariff", None) is not None:
        iso, rate = args.uniform_tariff
        try:
            rate = float(rate)
        except ValueError:
            raise ValueError(f"--uniform-tariff: the tariff must be a number >= 0, got "
                             f"{rate!r}") from None
        if not (np.isfinite(rate) and rate >= 0):
            raise ValueError(f"--uniform-tariff: the tariff must be >= 0, got {rate!r}")
        i = wf.country_index(economy, iso)
        return (tf.uniform_tariffs(N, i, rate), {"kind": "uniform_tariff",
                "country": economy.countries[i], "tariff": rate}, i)
    if getattr(args, "tariff_war", None) is not None:
        rate = args.tariff_war
        if not (np.isfinite(rate) and rate >= 0):
            raise ValueError(f"--tariff-war: the tariff must be >= 0, got {rate!r}")
        return tf.tariff_war(N, rate), {"kind": "tariff_war", "tariff": rate}, None
    return None, {}, None


def _check(args) -> None:
    if not (np.isfinite(args.theta) and args.theta > 0):
        raise ValueError(f"--theta must be > 0, got {args.theta!r}")
    if not (np.isfinite(args.ev_tol) and args.ev_tol > 0):
        raise ValueError(f"--ev-tol must be > 0, got {args.ev_tol!r}")
    if args.plots and args.out is None:
        raise ValueError("--plots needs --out DIR")


def run(args: argparse.Namespace) -> int:
    """Run ``hat counterfactual``; returns the exit code (ValueError: bad input)."""
    _check(args)
    setup = setup_from_args(args)
    # the baseline carries the cost convention too (a static field of the Economy), so
    # the baseline and counterfactual solves share one compiled program
    setup = setup._replace(economy=setup.economy.replace(cost_floor=bool(args.floor_costs)))
    with warnings.catch_warnings(record=True) as caught:  # one line, not a traceback-like
        warnings.simplefilter("always", wf.CostsBelowOneWarning)
        t_new, experiment, fallback = experiment_tariffs(args, setup.economy)
        if t_new is None:
            d_new, experiment, fallback = experiment_costs(args, setup.economy)  # before solving
        else:
            d_new = np.asarray(setup.economy.d)
    for w in caught:
        if issubclass(w.category, wf.CostsBelowOneWarning):
            if not args.quiet:
                err(f"warning: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    i = default_country(setup.economy, args.country, fallback)
    base = solve_baseline(args, setup)
    eq = base.eq
    timings = {"baseline_s": base.timings.get("compile_s", 0.0) + base.timings.get("run_s", 0.0)}
    if not bool(eq.converged):
        report_not_converged(eq, base.opts)
        return EXIT_NOT_CONVERGED
    if not args.quiet:
        err("solving the counterfactual equilibrium (beta fixed, W and R solved)...")
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # already said above
        warnings.simplefilter("ignore", wf.CostsBelowOneWarning)
        cf = wf.counterfactual(base.baseline, d_new, cost_floor=bool(args.floor_costs),
                               throw=False, tariffs=t_new)
    timings["counterfactual_s"] = time.perf_counter() - t0
    if not bool(cf.new.converged):
        report_not_converged(cf.new, cf.opts)
        return EXIT_NOT_CONVERGED
    if not args.quiet:
        err(f"equivalent variation for {eq.economy.countries[i]} "
            f"({eq.economy.Na * eq.economy.Nz} states)...")
    res = wf.welfare_analysis(cf, i, theta=args.theta, tol=args.ev_tol, throw=False)
    timings["ev_s"] = res.timings["ev_s"]
    timings["elasticity_s"] = res.timings["elasticity_s"]
    result = counterfactual_summary(args.preset, cf, res, experiment, timings)
    rc = EXIT_OK
    if not result["ev_converged"]:
        try:
            wf.check_ev(res.ev, eq.economy.countries[i], args.ev_tol)
        except ConvergenceError as exc:
            err(f"not converged: {exc}")
        rc = EXIT_NOT_CONVERGED
    if args.out is not None:
        wrote(write_counterfactual_outputs(args.out, cf, result, plots=args.plots), args.quiet)
    print_result(args, result, lambda: format_counterfactual(result))
    return rc
