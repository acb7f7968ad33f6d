"""``hat tariff``: one country's optimal tariffs and Nash tariffs (model.md s.14).

    hat tariff PRESET --country ISO [--uniform | --by-partner] [--nash]
               [--objective utilitarian|mean-ev] [--grid K] [--se FILE]
               [economy / equilibrium options] [--out DIR] [--json] [--plots] [--quiet]

Solves the preset's (free-trade) baseline, then the tariffs of ``--country`` (one uniform
rate, the default, or one per partner) that maximise its utilitarian welfare sum lambda V
(or, ``--objective mean-ev``, its lambda-weighted mean EV) with the other countries'
tariffs at zero (uniform: BFGS; by partner: projected Newton from the uniform optimum;
exact gradients through the equilibrium; beta fixed, W, R and the rebates T solved),
the equilibrium and the EV by household state at the optimum, the comparison with the
planner and the representative-agent optimal tariff of the model's trade elasticity
(:func:`hat_jax.policy.compare_optimum`) and, with ``--nash``, every country's Nash
tariffs. With ``--se FILE`` (the inference.json of ``hat calibrate --se``) the standard
errors of the optimal rates and of the welfare gain by the delta method
(:func:`hat_jax.policy.optimal_tariff_jacobian`: the implicit function theorem on the
first-order condition, the envelope theorem for the gain). Exit codes as ``hat solve``
(2: not converged).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hat_jax import policy
from hat_jax._baseline import as_baseline
from hat_jax import welfare as wf
from hat_jax._change import Change
from hat_jax._tariffs import uniform_tariffs
from hat_jax.report.policy import (format_tariff, format_tariff_se, tariff_standard_errors,
                                   tariff_summary, write_tariff_outputs)

from ._params_file import delta_method_inputs, inference_for_world
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

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``hat tariff`` to the ``hat`` command's subparsers."""
    p = sub.add_parser(
        "tariff",
        help="a country's optimal tariffs (uniform or by partner) and Nash tariffs",
        description="Solve a preset's free-trade equilibrium, then the tariffs of one "
        "country that maximise its utilitarian welfare (others at free trade) by BFGS "
        "with exact gradients through the equilibrium, the EV of every household state "
        "at the optimum, the representative-agent optimal tariff, and optionally Nash "
        "tariffs. Exit codes: 0 done, 1 bad input, 2 not converged.",
    )
    add_economy_arguments(p)
    t = p.add_argument_group("policy")
    t.add_argument("--country", metavar="ISO",
                   help="the country setting tariffs (default USA if present, else the first)")
    m = t.add_mutually_exclusive_group()
    m.add_argument("--uniform", dest="mode", action="store_const", const="uniform",
                   help="one rate on every partner (default)")
    m.add_argument("--by-partner", dest="mode", action="store_const", const="by_partner",
                   help="one rate per partner")
    t.add_argument("--nash", action="store_true",
                   help="also every country's Nash tariffs (same mode; best responses)")
    t.add_argument("--objective", choices=("utilitarian", "mean-ev"), default="utilitarian",
                   help="the country's objective: utilitarian welfare sum lambda V "
                   "(default), or mean-ev, the lambda-weighted mean EV against free trade "
                   "(exact gradient through the EV roots; slower, small grids)")
    t.add_argument("--coarse", type=int, default=None, metavar="NA",
                   help="solve first on a coarse asset grid of NA points and start from its "
                   "optimum (and Hessian): fewer evaluations on the fine grid, whose own "
                   "optimum and FOC are reported (default: 20 when --Na is at least 60; "
                   "0: off)")
    t.add_argument("--grid", type=int, default=0, metavar="K",
                   help="also evaluate welfare at K uniform tariffs from 0 to twice the "
                   "optimum (default 0; 9 with --plots)")
    t.add_argument("--se", metavar="FILE", default=None,
                   help="standard errors (delta method) of the optimal rates and the "
                   "welfare gain, from FILE, the inference.json (or its folder) of `hat "
                   "calibrate --se`, whose parameters must be the baseline's (an ek_* "
                   "preset, --params or --data world); utilitarian objective only")
    add_ev_measure_argument(t)
    add_output_arguments(p, "tariff.json, ev.csv (welfare_by_tariff.csv with a grid; "
                         "welfare_by_tariff.png, ev_by_assets.png with --plots)",
                         plots="save figures to --out DIR (needs matplotlib)")
    p.set_defaults(mode="uniform")
    return p


def _grid(eq, i, rate, k):
    b = as_baseline(eq)  # the default options, as the optimum's grid always had
    args, opts = policy.tariff_args(b), policy.policy_options(b)
    rates = np.linspace(0.0, 2.0 * max(rate, 0.01), k)
    N = eq.economy.N
    out = []
    for r in rates:
        w, (ok, _, _) = policy.welfare_program(args, uniform_tariffs(N, i, r), opts)
        out.append(float(w[i]) if bool(ok) else float("nan"))
    return rates, np.asarray(out)


def _read_se(args, setup, objective: str):
    """(V_params, cov) of ``--se FILE``, checked before anything is solved (None without
    --se)."""
    if args.se is None:
        return None
    if objective != "utilitarian":
        raise ValueError(f"--se: standard errors of the optimal tariff are those of the "
                         f"utilitarian objective; got --objective {args.objective}")
    _, V, cov = inference_for_world(args, setup.world, "--se", args.se)
    return V, cov


def _standard_errors(args, setup, base, opt, se) -> dict:
    """The ``"standard_errors"`` object of ``--se FILE``: the exact Jacobian of the
    optimal rates and the welfare gain with respect to the parameters
    (:func:`hat_jax.policy.optimal_tariff_jacobian`) and the delta method."""
    V, cov = se
    params, problem, start = delta_method_inputs(
        setup, base, "the optimum (implicit function theorem)", cov,
        None if args.quiet else err)
    eq = base.eq
    out, jac, stats = policy.optimal_tariff_jacobian(params, problem, opt, start=start,
                                                     opts=base.opts)
    if not (out.converged and out.maximum):
        err("warning: --se: " + ("an equilibrium of the derivative did not converge; "
                                 if not out.converged else "")
            + ("" if out.maximum else "the Hessian d2W/dt2 at the optimum is not negative "
               "definite (not a strict maximum): no standard errors of the rates"))
    return tariff_standard_errors(out, jac, V, cov, args.se, eq.economy.N, opt.country,
                                  {"jacobian_s": stats["seconds"]})


def run(args: argparse.Namespace) -> int:
    """Run ``hat tariff``; returns the exit code (ValueError: bad input)."""
    if args.plots and args.out is None:
        raise ValueError("--plots needs --out DIR")
    if args.grid < 0 or args.grid == 1:
        raise ValueError(f"--grid must be 0 or at least 2, got {args.grid}")
    setup = setup_from_args(args)
    i = default_country(setup.economy, args.country, None)
    se = _read_se(args, setup, args.objective.replace("-", "_"))
    # the options are validated before the long solve (the equilibrium's are added then)
    options = policy.TariffOptions(mode=args.mode, objective=args.objective.replace("-", "_"),
                                   coarse=args.coarse, progress=not args.quiet,
                                   ev=wf.EVOptions(measure=args.ev_measure))
    base = solve_baseline(args, setup)
    eq = base.eq
    stats = {"baseline_s": solve_seconds(eq)}
    if not bool(eq.converged):
        report_not_converged(eq, base.opts)
        return EXIT_NOT_CONVERGED
    name = eq.economy.countries[i]
    if not args.quiet:
        err(f"optimal {args.mode.replace('_', ' ')} tariffs of {name} (quasi-Newton, exact "
            "gradients through the equilibrium)...")
    t0 = time.perf_counter()
    options = options.replace(equilibrium=base.opts)
    opt = policy.optimal_tariff(base.baseline, i, options)
    stats["optimal_s"] = time.perf_counter() - t0
    cf = wf.counterfactual(base.baseline,
                           Change.tariffs(eq.economy, opt.tariffs, label="optimal"),
                           throw=False, start=opt.start)
    if not bool(cf.new.converged):
        report_not_converged(cf.new, cf.opts)
        return EXIT_NOT_CONVERGED
    if not args.quiet:
        err(f"equivalent variation for {name} at the optimum...")
    t0 = time.perf_counter()
    res = wf.welfare_analysis(cf, i, throw=False, measure=args.ev_measure)
    stats["ev_s"] = time.perf_counter() - t0
    ra = policy.ra_optimal_tariff(cf.new, i, res.theta_model)
    t0 = time.perf_counter()
    comparison = policy.compare_optimum(base.baseline, opt, ra,
                                        100 * np.asarray(res.summary.quintile_gains),
                                        opts=base.opts)
    stats["comparison_s"] = time.perf_counter() - t0
    k = args.grid or (9 if args.plots else 0)
    grid = None
    if k:
        t0 = time.perf_counter()
        rate = float(np.mean(np.delete(opt.rates, i)))
        grid = _grid(eq, i, rate, k)
        stats["grid_s"] = time.perf_counter() - t0
    nash = None
    if args.nash:
        if not args.quiet:
            err("Nash tariffs (best-response iteration)...")
        t0 = time.perf_counter()
        nash = policy.nash_tariffs(base.baseline, options,
                                   start=float(np.mean(np.delete(opt.rates, i))))
        stats["nash_s"] = time.perf_counter() - t0
    result = tariff_summary(args.preset, opt, cf, res, ra, grid, nash, stats, comparison)
    if se is not None:
        result["standard_errors"] = _standard_errors(args, setup, base, opt, se)
    rc = EXIT_OK if result["converged"] and (nash is None or nash.converged) \
        else EXIT_NOT_CONVERGED
    if rc != EXIT_OK:
        err(f"not converged: optimal tariff FOC residual {opt.foc_residual:.3e}"
            + ("" if nash is None else f"; Nash FOC residual {nash.foc_residual:.3e}"))
    if args.out is not None:
        wrote(write_tariff_outputs(args.out, result, plots=args.plots), args.quiet)
    print_result(args, result, lambda: format_tariff(result)
                 + format_tariff_se(result.get("standard_errors"), result))
    return rc
