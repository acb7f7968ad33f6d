"""``hat counterfactual``: welfare effects of a change (model.md s.10, s.14).

    hat counterfactual PRESET EXPERIMENT [--symmetric] [--floor-costs | --no-floor-costs]
                      [--country ISO] [--theta T]
                      [--ev-tol TOL] [--ev-measure transfer|proportional] [--se FILE]
                      [economy / equilibrium options of ``hat solve``]
                      [--out DIR] [--json] [--plots] [--quiet]

EXPERIMENT is exactly one flag (``hat counterfactual --help`` lists them: --global-cut,
--unilateral, --bilateral, --costs, --tariffs, --uniform-tariff, --tariff-war, --tfp,
...); each parses into one :class:`~hat_jax.Change` (:func:`experiment_change`), whose
``info`` is the ``"experiment"`` object of the --json output and whose ``note`` the
summary prints. Solves the preset's baseline equilibrium, the equilibrium after the
change (beta fixed at the baseline's, wages and R solved, warm-started), the equivalent
variation of every state of ``--country`` and its aggregates, and the ACR benchmark;
with ``--se FILE`` (the inference.json of ``hat calibrate --se``) their standard errors
by the delta method (:func:`hat_jax.welfare.counterfactual_jacobian`, model.md s.16).
The EV is by default (``--ev-measure transfer``) the permanent lump-sum transfer tau at
the old prices with V_old(a, z; tau) = V_new(a, z), reported in the numeraire, in
percent of mean labour income W E[z] and of the state's expenditure; ``--ev-measure
proportional`` scales income R a + W z + T by lambda_tau (the paper's tables), ill posed
where net income <= 0: those states are flagged (``ev_ill_posed``) and do not fail the
run. Cuts are proportional reductions of d_ij, i != j, floored at 1 by default
(``--floor-costs``); ``--no-floor-costs`` keeps costs that fall below 1 (the paper's
convention; a warning lists the pairs) and lets a ``--costs`` file hold them.
``--country`` defaults to the change's country (the importer of a bilateral cut), else
USA if present, else the first country. Tariff experiments (model.md s.14) keep the
costs and impose a tariff matrix; the revenue is rebated lump sum (the proportional EV
scales all income, the rebate included; the transfer adds to it). Exit codes as ``hat
solve`` (2: an equilibrium or the EV of some state did not converge, states flagged ill
posed aside).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from hat_jax import Start
from hat_jax import welfare as wf
from hat_jax._change import Change
from hat_jax.report._readers import read_cost_matrix
from ._params_file import delta_method_problem, inference_for_world
from ._finance import (add_finance_experiments, check_args as check_finance_args,
                       ev_by_country_record, finance_change, finance_record, format_ev_by_country,
                       format_finance, regime_pair)
from hat_jax import scenarios as sc
from hat_jax.report.welfare import (
    counterfactual_standard_errors,
    counterfactual_summary,
    format_counterfactual,
    write_counterfactual_outputs,
)
from hat_jax._results import ConvergenceError

from ._common import (
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    add_economy_arguments,
    add_ev_measure_argument,
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

__all__ = ["add_cost_experiment", "add_parser", "cost_change", "experiment_change",
           "experiment_record", "run"]


def add_cost_experiment(c: argparse.ArgumentParser):
    """The cost experiment options shared by ``hat counterfactual`` and ``hat
    transition`` (read by :func:`cost_change`): a group "experiment (exactly one)"
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
        help="welfare effects of a change: trade costs, tariffs, TFP (EV by household state)",
        description="Solve a preset's equilibrium and the equilibrium after a change "
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
    g.add_argument("--tfp", nargs=2, metavar=("ISO", "FACTOR"),
                   help="scale country ISO's TFP A by FACTOR (e.g. 1.1); its asset grid "
                   "scales with A, so the EV is for another --country")
    w = c.add_argument_group("welfare and output")
    w.add_argument("--country", metavar="ISO",
                   help="country whose households' EV is computed (default: the cutting "
                   "country, else USA if present, else the first)")
    w.add_argument("--theta", type=float, default=4.0,
                   help="user trade elasticity of the second ACR number (default 4)")
    w.add_argument("--ev-tol", dest="ev_tol", type=float, default=wf.EV_TOL,
                   help="EV tolerance: |V_old(lambda) - V_new| / slope per state (1e-10)")
    add_ev_measure_argument(w)
    add_finance_experiments(g, w)
    w.add_argument("--se", metavar="FILE", default=None,
                   help="standard errors by the delta method (model.md s.16) from the "
                   "parameter covariance in FILE, the inference.json (or its folder) of "
                   "`hat calibrate --se`, whose parameters must be the baseline's (give "
                   "--params DIR/params.csv): the --json key \"standard_errors\" (wages, R, "
                   "mean EV, ACR, the EV of every state)")
    add_output_arguments(c, "counterfactual.json, ev.csv, countries.csv (and "
                         "ev_by_assets.png, quintile_gains.png with --plots)",
                         plots="save figures to --out DIR (needs matplotlib)")
    return c


def _cut(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{flag}: the cut must be a number in (0, 1), got {text!r}") from None


def cost_change(args, economy) -> Change:
    """The trade-cost :class:`~hat_jax.Change` given on the command line (--global-cut,
    --unilateral, --bilateral, --costs; ValueError on bad input)."""
    if args.symmetric and args.bilateral is None:
        raise ValueError("--symmetric goes with --bilateral")
    floor_costs = bool(getattr(args, "floor_costs", True))
    floor = 1.0 if floor_costs else None
    if args.global_cut is not None:
        return Change.global_cut(economy, args.global_cut, floor=floor)
    if args.unilateral is not None:
        iso, c = args.unilateral
        return Change.unilateral_cut(economy, iso, _cut(c, "--unilateral"), floor=floor)
    if args.bilateral is not None:
        a, b, c = args.bilateral
        return Change.bilateral_cut(economy, a, b, _cut(c, "--bilateral"),
                                    symmetric=args.symmetric, floor=floor)
    return Change.costs(economy, read_cost_matrix(args.costs, economy.countries),
                        floor=floor_costs, source=args.costs)


def experiment_change(args, economy) -> Change:
    """The :class:`~hat_jax.Change` of ``hat counterfactual``'s experiment flag (exactly
    one; ValueError on bad input)."""
    finance = finance_change(args, economy)
    if finance is not None:
        return finance
    if getattr(args, "tariffs", None) is not None:
        return Change.tariffs(economy, read_cost_matrix(args.tariffs, economy.countries,
                                                        "--tariffs"),
                              source=args.tariffs, what="--tariffs")
    if getattr(args, "uniform_tariff", None) is not None:
        iso, rate = args.uniform_tariff
        return Change.uniform_tariff(economy, iso, rate, what="--uniform-tariff")
    if getattr(args, "tariff_war", None) is not None:
        return Change.tariff_war(economy, args.tariff_war, what="--tariff-war")
    if getattr(args, "tfp", None) is not None:
        return Change.tfp(economy, *args.tfp)
    return cost_change(args, economy)


def experiment_record(change: Change, economy, floor_costs: bool = True):
    """(the ``"experiment"`` object of the --json output, default country index or None):
    the change's ``info`` plus, for new trade costs, the cost convention (floor_costs)
    and the pairs below 1; the default country is the change's country (or importer)."""
    record = change.experiment
    if "d" in change.values:
        record.update(floor_costs=bool(floor_costs),
                      below_one=wf.costs_below_one(economy, change.values["d"]))
    who = record.get("country", record.get("importer"))
    return record, (None if who is None else wf.country_index(economy, who))


def _check_ev_country(change: Change, economy, i: int) -> None:
    """The EV of country i needs its asset grid and preferences unchanged: refuse (before
    solving) a change of A_i under the reference country scaling."""
    A = change.values.get("A")
    if A is not None and economy.scale_by_tfp and float(A[i]) != float(economy.A[i]):
        raise ValueError(f"--country {economy.countries[i]}: its TFP changes, which scales "
                         "its asset grid and preferences (the reference country scaling), "
                         "so its EV is not defined; choose another --country")


def _check(args) -> None:
    if not (np.isfinite(args.theta) and args.theta > 0):
        raise ValueError(f"--theta must be > 0, got {args.theta!r}")
    if not (np.isfinite(args.ev_tol) and args.ev_tol > 0):
        raise ValueError(f"--ev-tol must be > 0, got {args.ev_tol!r}")
    if args.plots and args.out is None:
        raise ValueError("--plots needs --out DIR")
    if args.se is not None and getattr(args, "regime_change", None):
        raise ValueError("--se is not available with --regime-change (the delta method "
                         "differentiates a change within one financial regime)")
    check_finance_args(args)


def _se_lines(se, result) -> str:
    """The standard-error lines of the text report ('' without --se)."""
    if se is None:
        return ""
    f = lambda x: "nan" if x is None else f"{x:.4f}"  # noqa: E731
    lo, hi = se["ci95"]["mean_gain_pct"]
    return (f"\nStandard errors ({se['cov']}, delta method): mean gain "
            f"{f(result['mean_gain_pct'])}% (s.e. {f(se['mean_gain_pct'])}; 95% "
            f"[{f(lo)}, {f(hi)}]), ACR theta {result['theta']:g} "
            f"{f(result['acr_theta_pct'])}% (s.e. {f(se['acr_theta_pct'])})\n"
            "  by expenditure quintile (s.e.)   " + "  ".join(
                f"{f(q)}% ({f(e)})" for q, e in zip(result["quintile_gains_pct"],
                                                    se["quintile_gains_pct"]))
            + f"\n  share who gain {f(result['share_gain'])} (s.e. {f(se['share_gain'])}, "
            f"smoothed indicator, bandwidth {f(se['share_gain_bandwidth'])})")


def _read_se(args, setup):
    """(V_params, cov) of ``--se FILE``, checked against the baseline's parameters
    before anything is solved (None without --se)."""
    if args.se is None:
        return None
    _, V, cov = inference_for_world(args, setup.world, "--se", args.se)
    return V, cov


def _standard_errors(args, setup, base, cf, change, i, se) -> dict:
    """The ``"standard_errors"`` object of ``--se FILE``: the exact Jacobian of the
    outputs with respect to the parameters (:func:`hat_jax.welfare.counterfactual_jacobian`)
    and the delta method with the file's V_params."""
    V, cov = se
    world_params, problem = delta_method_problem(setup, "the outputs", cov,
                                               None if args.quiet else err)
    # both equilibria start where this run solved them (prices, household states and
    # Newton Jacobians), so the program's primal solves take no Newton step
    start = Start.from_equilibrium(base.eq)
    ev_opts = wf.EVOptions(tol=args.ev_tol, measure=args.ev_measure)
    out, jac, stats = wf.counterfactual_jacobian(
        world_params, problem, change, i, theta_user=args.theta, start=start, opts=base.opts,
        ev_opts=ev_opts, cf_start=Start.from_equilibrium(cf.new))
    return counterfactual_standard_errors(out, jac, V, cov, args.se,
                                          {"jacobian_s": stats["seconds"]})


def _finance_lines(result, change: Change, countries) -> str:
    """R_i, NFA and trade balances before and after (finance experiments) and the EV of
    every country (--ev-all-countries)."""
    text = ""
    if change.kind in ("regime_change", "wedges", "wedge"):
        text += "\n" + format_finance(result["finance"], countries)
    if "ev_by_country" in result:
        text += "\n" + format_ev_by_country(result["ev_by_country"])
    return text


def run(args: argparse.Namespace) -> int:
    """Run ``hat counterfactual``; returns the exit code (ValueError: bad input)."""
    _check(args)
    setup = setup_from_args(args)
    # the baseline carries the cost convention too (a static field of the Economy), so
    # the baseline and counterfactual solves share one compiled program
    setup = setup._replace(economy=setup.economy.replace(cost_floor=bool(args.floor_costs)))
    with warnings.catch_warnings(record=True) as caught:  # one line, not a traceback-like
        warnings.simplefilter("always", wf.CostsBelowOneWarning)
        change = experiment_change(args, setup.economy)  # before solving
    experiment, fallback = experiment_record(change, setup.economy, args.floor_costs)
    for w in caught:
        if issubclass(w.category, wf.CostsBelowOneWarning):
            if not args.quiet:
                err(f"warning: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    i = default_country(setup.economy, args.country, fallback)
    _check_ev_country(change, setup.economy, i)
    se = _read_se(args, setup)
    base = solve_baseline(args, setup)
    eq = base.eq
    stats = {"baseline_s": solve_seconds(eq)}
    if not bool(eq.converged):
        report_not_converged(eq, base.opts)
        return EXIT_NOT_CONVERGED
    if not args.quiet:
        err("solving the counterfactual equilibrium (beta fixed, W and R solved)...")
    t0 = time.perf_counter()
    source, regime = regime_pair(args) or (None, None)
    try:
        b = base.baseline if source is None else sc.regime_baseline(base.baseline, source)
    except ConvergenceError as exc:
        err(f"not converged: the {source} equilibrium: {exc}")
        return EXIT_NOT_CONVERGED
    with warnings.catch_warnings():  # already said above
        warnings.simplefilter("ignore", wf.CostsBelowOneWarning)
        cf = wf.counterfactual(b, change, cost_floor=bool(args.floor_costs),
                               throw=False, regime=regime)
    stats["counterfactual_s"] = time.perf_counter() - t0
    if not bool(cf.new.converged):
        report_not_converged(cf.new, cf.opts)
        return EXIT_NOT_CONVERGED
    if not args.quiet:
        err(f"equivalent variation for {eq.economy.countries[i]} "
            f"({eq.economy.Na * eq.economy.Nz} states)...")
    res = wf.welfare_analysis(cf, i, theta=args.theta, tol=args.ev_tol,
                              measure=args.ev_measure, throw=False)
    stats["ev_s"] = res.stats["ev_s"]
    stats["elasticity_s"] = res.stats["elasticity_s"]
    result = counterfactual_summary(args.preset, cf, res, experiment, stats)
    result["finance"] = finance_record(cf)
    if args.ev_all:
        t0 = time.perf_counter()
        result["ev_by_country"] = ev_by_country_record(cf, args)
        result["timings"]["ev_all_s"] = time.perf_counter() - t0
    if se is not None:
        result["standard_errors"] = _standard_errors(args, setup, base, cf, change, i, se)
    rc = EXIT_OK
    if not result["ev_converged"]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", wf.EVIllPosedWarning)
            try:
                wf.check_ev(res.ev, eq.economy.countries[i], args.ev_tol, baseline=eq)
            except ConvergenceError as exc:
                err(f"not converged: {exc}")
        for w in caught:
            if not args.quiet:
                err(f"warning: {w.message}")
        rc = EXIT_OK if result["ev_ok"] else EXIT_NOT_CONVERGED
    if args.out is not None:
        wrote(write_counterfactual_outputs(args.out, cf, result, plots=args.plots), args.quiet)
    print_result(args, result, lambda: format_counterfactual(result, change.note)
                 + _se_lines(result.get("standard_errors"), result)
                 + _finance_lines(result, change, eq.economy.countries))
    return rc
