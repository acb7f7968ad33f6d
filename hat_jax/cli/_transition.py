"""``hat transition``: the perfect-foresight transition after a trade shock (model.md s.12).

    hat transition PRESET (--global-cut C | --unilateral ISO C | --bilateral I J C
                           | --costs FILE | --open-capital-account) [--symmetric]
                   [--floor-costs | --no-floor-costs]
                   [--announce S] [--temporary RHO] [--T T]
                   [--country ISO] [--ts-rho RHO] [--ev [--ev-measure M]] [--paths]
                   [--se FILE]
                   [economy / equilibrium options of hat solve]
                   [--json] [--out DIR] [--plots] [--quiet]

Solves the preset's equilibrium, then (beta fixed) the terminal stationary equilibrium,
the sequence-space Jacobian and the path; the trade elasticity of ``--country`` by
horizon (fixed prices, general equilibrium, time-series estimate); with ``--ev`` the
date-0 EV of every state of ``--country`` with the transition (from the path's date-0
values), next to the steady-state EV (from the terminal equilibrium's); with ``--se
FILE`` (the inference.json of ``hat calibrate --se``) the standard errors of the
elasticity at every horizon by the delta method (:func:`_standard_errors`). Exit
codes as ``hat solve`` (1 also when T is too short for the terminal gap; 2 not
converged). ``--open-capital-account``: the opening of the capital account from
financial autarky (:mod:`hat_jax.cli._opening`).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from hat_jax import transition as tn
from hat_jax import welfare as wf
from hat_jax.report.transition import (format_transition, transition_standard_errors,
                                       transition_summary, write_transition_outputs)

from ._common import (EXIT_NOT_CONVERGED, EXIT_OK, add_economy_arguments,
                     add_ev_measure_argument, add_output_arguments,
                     default_country, err, print_result, report_not_converged,
                     setup_from_args, solve_baseline, wrote)
from ._counterfactual import add_cost_experiment, cost_change, experiment_record
from ._opening import add_opening_argument, run_opening
from ._params_file import delta_method_inputs, inference_for_world
from ._sweep_transition import check_path_arguments

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``hat transition`` to the ``hat`` command's subparsers."""
    c = sub.add_parser(
        "transition", help="perfect-foresight transition after a trade shock",
        description="Solve a preset's equilibrium, the terminal equilibrium after a change "
        "in trade costs (beta fixed) and the transition path between them by sequence-space "
        "Newton with an exact Jacobian; the trade elasticity by horizon and, with --ev, the "
        "welfare of every household state with the transition. Exit codes: 0 done, 1 bad input (or T "
        "too short), 2 not converged.")
    add_economy_arguments(c)
    _, experiments = add_cost_experiment(c)
    add_opening_argument(experiments)
    t = c.add_argument_group("transition")
    t.add_argument("--announce", type=int, default=0, metavar="S",
                   help="the change takes effect at date S (news at 0; 0 <= S < T)")
    t.add_argument("--temporary", type=float, default=None, metavar="RHO",
                   help="temporary change decaying at rate RHO in [0, 1) (default: permanent)")
    t.add_argument("--T", "--horizon", dest="T", type=int, default=tn.DEFAULT_HORIZON,
                   help=f"the horizon T, transition dates (default {tn.DEFAULT_HORIZON})")
    t.add_argument("--country", metavar="ISO",
                   help="country of the elasticity by horizon and the EV (default: the "
                   "cutting country, else USA, else the first)")
    t.add_argument("--ts-rho", dest="ts_rho", type=float, default=0.9,
                   help="persistence of the AR(1) cost shocks of the time-series estimate "
                   "(default 0.9)")
    t.add_argument("--ev", action="store_true",
                   help="also the date-0 equivalent variation of every household state of "
                   "--country, with the transition and across steady states (JSON keys ev, "
                   "steady_state_ev, mean_gain_pct, ev_by_wealth_decile_pct, ...; ev.csv)")
    add_ev_measure_argument(t)
    t.add_argument("--se", metavar="FILE", default=None,
                   help="standard errors of the trade elasticity at every horizon by the "
                   "delta method, with the parameter covariance in FILE, the inference.json "
                   "(or its folder) of `hat calibrate --se`, whose parameters must be the "
                   "baseline's (give --params DIR/params.csv): the --json key "
                   "\"standard_errors\", s.e. in the text table, 95%% bands in "
                   "elasticity_by_horizon.png")
    t.add_argument("--paths", action="store_true",
                   help="also the distribution and policy paths: percentiles of household "
                   "expenditure, assets and the import share at every date (JSON key "
                   "distribution_paths; percentiles.csv; percentile_paths.png with --plots)")
    add_output_arguments(c, "summary.json, path.csv, ev.csv with --ev (and price_paths.png, "
                         "trade_paths.png, elasticity_by_horizon.png, transition_gains.png "
                         "(with --ev) with --plots)", plots="save figures to --out DIR (needs matplotlib)")
    return c


def _check(args, economy) -> None:
    check_path_arguments(args)
    if not (np.isfinite(args.ts_rho) and 0.0 <= args.ts_rho < 1.0):
        raise ValueError(f"--ts-rho must lie in [0, 1), got {args.ts_rho!r}")
    if args.plots and args.out is None:
        raise ValueError("--plots needs --out DIR")
    if args.se is not None and args.open_capital_account:
        raise ValueError("--se goes with a change of trade costs (the elasticity by "
                         "horizon), not with --open-capital-account")


def _standard_errors(args, setup, base, i, V, cov) -> dict:
    """The ``"standard_errors"`` object of ``--se FILE``: the exact Jacobian of the
    trade-weighted elasticities by horizon with respect to the parameters
    (:func:`hat_jax.transition.horizon_elasticities_jacobian`; the baseline re-solved
    with beta at the target R, from the solved one) and the delta method."""
    params, problem, start = delta_method_inputs(setup, base, "the elasticity by horizon",
                                                 cov, None if args.quiet else err)
    out, jac, stats = tn.horizon_elasticities_jacobian(
        params, problem, i, horizon=args.T, rho=args.ts_rho, start=start, opts=base.opts,
        throw=False)
    result = transition_standard_errors(out, jac, V, cov, args.se,
                                        {"jacobian_s": stats["seconds"]})
    result["converged"] = bool(out.converged)
    if not result["converged"]:
        err("--se: the baseline re-solved at the file's parameters did not converge (its "
            "derivatives are not reported as standard errors: exit 2); try more --max-iter")
    return result


def shocked_countries(economy, d_new) -> list[str]:
    """The countries the cost change centres on: those with the most changed entries of
    d (as importer or exporter), unless that is every country (a global change)."""
    changed = np.asarray(d_new) != np.asarray(economy.d)
    count = changed.sum(axis=0) + changed.sum(axis=1)
    if not changed.any() or np.all(count == count.max()):
        return []
    return [economy.countries[k] for k in np.flatnonzero(count == count.max())]


def run(args: argparse.Namespace) -> int:
    """Run ``hat transition``; returns the exit code (ValueError: bad input)."""
    setup = setup_from_args(args)
    setup = setup._replace(economy=setup.economy.replace(cost_floor=bool(args.floor_costs)))
    _check(args, setup.economy)
    se = None
    if args.se is not None:  # checked against the baseline's parameters before solving
        _, V, cov = inference_for_world(args, setup.world, "--se", args.se)
        se = V, cov
    if args.open_capital_account:
        return run_opening(args, setup)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wf.CostsBelowOneWarning)
        change = cost_change(args, setup.economy)
    experiment, fallback = experiment_record(change, setup.economy, args.floor_costs)
    experiment.update(announce=args.announce, temporary=args.temporary,
                      shocked=shocked_countries(setup.economy,
                                                change.apply(setup.economy).d))
    i = default_country(setup.economy, args.country, fallback)
    shock = tn.shock_path(setup.economy, change, args.T, announce=args.announce,
                          rho=args.temporary)
    base = solve_baseline(args, setup)
    eq = base.eq
    if not bool(eq.converged):
        report_not_converged(eq, base.opts)
        return EXIT_NOT_CONVERGED
    say = (lambda m: None) if args.quiet else err
    say(f"transition: T={args.T}, {eq.economy.N * args.T} unknowns")
    tr = tn.solve_transition(base.baseline, shock, eq_opts=base.opts, verbose=not args.quiet,
                             throw=False, paths=tn.PATHS if args.paths else None)
    if not tr.converged:
        err(f"not converged: transition residual {tr.residual:.3e} after {tr.iterations} "
            f"quasi-Newton iterations ({tr.jacobians} exact Jacobians; stopped: {tr.stop})")
    elif tr.terminal_gap > float(tn.TransitionOptions().terminal_tol):
        tn.check_transition(tr, tn.TransitionOptions())  # raises ValueError naming T, gap
    say(f"trade elasticity of {eq.economy.countries[i]} by horizon...")
    t0 = time.perf_counter()
    jac = tr.jacobian if tr.terminal is tr.initial else None  # else: at the initial one
    he = tn.horizon_elasticities(tr.initial, i, horizon=args.T, rho=args.ts_rho, jacobian=jac,
                                 eq_opts=base.opts)
    stats = dict(tr.stats, elasticity_s=time.perf_counter() - t0)
    tw = None
    if args.ev:
        say(f"equivalent variation of {eq.economy.countries[i]}...")
        t0 = time.perf_counter()
        tw = tn.transition_welfare(tr, i, throw=False, measure=args.ev_measure)
        stats["ev_s"] = time.perf_counter() - t0
    result = transition_summary(args.preset, tr, experiment, he, tw, stats)
    if se is not None:
        say(f"standard errors of the elasticity of {eq.economy.countries[i]} by horizon...")
        result["standard_errors"] = _standard_errors(args, setup, base, i, *se)
    ok = result.get("ev_ok", True) and result.get("standard_errors", {}).get("converged", True)
    rc = EXIT_OK if tr.converged and ok else EXIT_NOT_CONVERGED
    if args.out is not None:
        wrote(write_transition_outputs(args.out, result, plots=args.plots), args.quiet)
    print_result(args, result, lambda: format_transition(result, change.note))
    return rc

