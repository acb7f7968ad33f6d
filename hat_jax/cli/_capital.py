"""``hat capital-controls``: one country's optimal capital-account wedge (model.md s.15).

    hat capital-controls PRESET --country ISO [--nash] [--compare-tariff]
                         [economy / equilibrium options] [--out DIR] [--json] [--quiet]

Solves the preset's baseline (financial globalization), then the wedge omega_i of
``--country`` (households of i save and borrow at R_i = R + omega_i, the revenue
rebated lump sum; the other countries' wedges 0) that maximizes its utilitarian welfare
sum lambda V_i (:func:`hat_jax.policy.optimal_wedge`: the secant method on the exact
derivative through the equilibrium), the first-order residual, and the EV of every
household state at the optimum against the baseline. ``--nash``: every country's Nash
wedge (:func:`hat_jax.policy.nash_wedges`), its first-order residuals, welfare and EV
against the baseline; ``--compare-tariff``: the optimal wedge beside the country's
optimal uniform tariff (:func:`hat_jax.policy.compare_wedge_tariff`). Exit codes as
``hat solve`` (2: not converged).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hat_jax import policy
from hat_jax._results import ConvergenceError
from hat_jax import welfare as wf
from hat_jax.report._files import json_num, json_nums, json_timings
from hat_jax.report.finance import ev_panel, write_capital_controls_outputs

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

__all__ = ["add_parser", "run", "capital_controls_summary", "format_capital_controls",
           "nash_record", "comparison_record"]


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
    t.add_argument("--nash", action="store_true",
                   help="also every country's Nash wedge (Broyden on the stacked "
                   "first-order conditions dW_i/domega_i = 0), with welfare and the EV of "
                   "every country against the baseline")
    t.add_argument("--compare-tariff", dest="compare_tariff", action="store_true",
                   help="also the country's optimal uniform tariff beside its optimal "
                   "wedge: welfare gains, mean EV and the partners' mean EV")
    add_output_arguments(p, "capital_controls.json (ev_by_assets.png, nfa_by_policy.png "
                         "with --plots)", plots="save figures to --out DIR (needs matplotlib)")
    return p


def capital_controls_summary(preset: str, opt, stats: dict) -> dict:
    """The ``hat capital-controls --json`` object: preset, country, wedge (omega_i at
    the optimum), wedges (N), welfare, welfare_base, foc_residual, iterations,
    converged, path [{omega, welfare, foc}], mean_gain_pct, quintile_gains_pct,
    share_gain (the EV at the optimum against the baseline), finance {before, after}
    (as ``hat counterfactual``), countries, ev_state (the EV by state at the optimum:
    :func:`hat_jax.report.finance.ev_panel`), nash and nash_ev_state (``--nash``:
    :func:`nash_record`; the country's EV by state at Nash), tariff_comparison
    (``--compare-tariff``: :func:`comparison_record`), timings."""
    res = opt.welfare_result
    out = {"preset": preset, "country": opt.country,
           "countries": list(opt.equilibrium.economy.countries), "wedge": json_num(opt.wedge),
           "wedges": json_nums(opt.wedges), "welfare": json_num(opt.welfare),
           "welfare_base": json_num(opt.welfare_base),
           "foc_residual": json_num(opt.foc_residual), "iterations": opt.iterations,
           "converged": bool(opt.converged),
           "path": [{"omega": json_num(w), "welfare": json_num(f), "foc": json_num(g)}
                    for w, f, g in opt.path],
           "mean_gain_pct": None, "quintile_gains_pct": None, "share_gain": None,
           "finance": None, "ev_state": None, "nash": None, "nash_ev_state": None,
           "tariff_comparison": None,
           "timings": json_timings(stats)}
    if res is not None:
        s = res.summary
        out.update(mean_gain_pct=json_num(100 * s.mean_gain),
                   quintile_gains_pct=json_nums(100 * np.asarray(s.quintile_gains)),
                   share_gain=json_num(s.share_gain))
    if opt.counterfactual is not None:
        out["finance"] = finance_record(opt.counterfactual)
        if res is not None:
            out["ev_state"] = ev_panel(opt.counterfactual, res)
    return out


def _ev_rows(evs: dict) -> list:
    return [{"country": c, "mean_gain_pct": json_num(100 * s.mean_gain),
             "share_gain": json_num(s.share_gain), "welfare_change": json_num(s.welfare_change)}
            for c, s in evs.items()]


def nash_record(n) -> dict:
    """The ``"nash"`` object (``--nash``): countries, wedges, foc (dW_i/domega_i at
    Nash), foc_residual, welfare, welfare_base, converged, iterations, ev [{country,
    mean_gain_pct, share_gain, welfare_change}] against the baseline, finance."""
    return {"countries": list(n.countries), "wedges": json_nums(n.wedges),
            "foc": json_nums(n.foc), "foc_residual": json_num(n.foc_residual),
            "welfare": json_nums(n.welfare), "welfare_base": json_nums(n.welfare_base),
            "converged": bool(n.converged), "iterations": n.iterations,
            "ev": None if n.ev is None else _ev_rows(n.ev),
            "finance": None if n.counterfactual is None else finance_record(n.counterfactual)}


def comparison_record(c) -> dict:
    """The ``"tariff_comparison"`` object (``--compare-tariff``): country, and for
    ``wedge`` and ``tariff``: policy (omega_i, or the uniform rate), welfare_gain
    (W_i at the optimum minus the baseline's), ev [{country, mean_gain_pct, share_gain,
    welfare_change}] (the country first, then its partners), converged."""
    conv = {"wedge": c.wedge.converged, "tariff": c.tariff.converged}
    return {"country": c.country, **{k: {"policy": json_num(r["policy"]),
                                         "welfare_gain": json_num(r["welfare_gain"]),
                                         "ev": _ev_rows(r["ev"]),
                                         "converged": bool(conv[k])}
                                     for k, r in c.rows.items()}}


def format_capital_controls(r: dict) -> str:
    """The text summary of ``hat capital-controls``."""
    lines = [f"optimal capital-account wedge of {r['country']}: omega = {r['wedge']:+.6f} "
             f"(FOC residual {r['foc_residual']:.2e}, {r['iterations']} evaluations)",
             f"utilitarian welfare {r['welfare_base']:.8f} -> {r['welfare']:.8f}"]
    if r["mean_gain_pct"] is not None:
        lines.append(f"EV at the optimum: mean {r['mean_gain_pct']:.4f}%, share who gain "
                     f"{r['share_gain']:.3f}")
    n = r.get("nash")
    if n is not None:
        lines.append(f"Nash wedges (max FOC residual {n['foc_residual']:.2e}, "
                     f"{n['iterations']} iterations):")
        ev = {e["country"]: e for e in n["ev"] or []}
        for k, c in enumerate(n["countries"]):
            e = ev.get(c)
            lines.append(f"  {c:>8}  omega {n['wedges'][k]:+.6f}  W {n['welfare_base'][k]:.8f}"
                         f" -> {n['welfare'][k]:.8f}"
                         + ("" if e is None else f"  EV mean {e['mean_gain_pct']:.4f}%"))
    tc = r.get("tariff_comparison")
    if tc is not None:
        lines.append(f"optimal wedge vs optimal tariff of {tc['country']} (welfare gain; "
                     "mean EV % of the country, then of its partners):")
        for k in ("wedge", "tariff"):
            x = tc[k]
            evs = ", ".join(f"{e['country']} {e['mean_gain_pct']:.4f}%" for e in x["ev"])
            lines.append(f"  {k:>6} {x['policy']:+.6f}: dW {x['welfare_gain']:+.3e}; {evs}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``hat capital-controls``; returns the exit code (ValueError: bad input)."""
    if args.plots and args.out is None:
        raise ValueError("--plots needs --out DIR")
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
    ok = _extras(args, base, i, opt, result, stats)
    rc = EXIT_OK if opt.converged and ok else EXIT_NOT_CONVERGED
    if not opt.converged:
        err(f"not converged: optimal wedge FOC residual {opt.foc_residual:.3e}")
    if args.out is not None:
        wrote(write_capital_controls_outputs(args.out, result, plots=args.plots), args.quiet)
    print_result(args, result, lambda: format_capital_controls(result))
    return rc


def _extras(args, base, i, opt, result: dict, stats: dict) -> bool:
    """--nash and --compare-tariff into ``result``; False if one did not converge."""
    ok = True
    if args.nash:
        if not args.quiet:
            err("Nash wedges (Broyden on the stacked first-order conditions)...")
        t0 = time.perf_counter()
        n = policy.nash_wedges(base.baseline, progress=not args.quiet, throw=False)
        stats["nash_s"] = time.perf_counter() - t0
        result["nash"] = nash_record(n)
        if n.counterfactual is not None:
            result["nash_ev_state"] = ev_panel(n.counterfactual,
                                               wf.welfare_analysis(n.counterfactual, i,
                                                                   throw=False))
        if not n.converged:
            ok = False
            err(f"not converged: Nash wedges FOC residual {n.foc_residual:.3e} after "
                f"{n.iterations} iterations")
    if args.compare_tariff:
        if not args.quiet:
            err("optimal uniform tariff for the comparison (BFGS, exact gradients)...")
        t0 = time.perf_counter()
        c = policy.compare_wedge_tariff(base.baseline, i, wedge=opt)
        stats["compare_tariff_s"] = time.perf_counter() - t0
        result["tariff_comparison"] = comparison_record(c)
        if not c.tariff.converged:
            ok = False
            err(f"not converged: optimal tariff FOC residual {c.tariff.foc_residual:.3e}")
    result["timings"] = json_timings(stats)
    return ok
