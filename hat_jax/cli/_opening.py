"""``hat transition PRESET --open-capital-account [--announce S]``: the opening of the
capital account (model.md s.15) as a transition.

From the financial-autarky stationary equilibrium of the preset's economy (beta fixed at
the solved baseline's) the wedges that represent autarky go to zero at date S (news at
t = 0); R_{i,0} = R_i^aut is predetermined. The ``--json`` object is that of ``hat
transition`` (no elasticity by horizon) plus the regime keys of
:func:`opening_summary` (docs/reference/outputs.md).
"""

from __future__ import annotations

import time

from hat_jax import transition as tn
from hat_jax.report._files import json_nums
from hat_jax.report.transition import (format_transition, transition_summary,
                                       write_transition_outputs)

from ._common import (EXIT_NOT_CONVERGED, EXIT_OK, default_country, err, print_result,
                      report_not_converged, solve_baseline, wrote)

__all__ = ["add_opening_argument", "opening_summary", "run_opening"]

NOTE = "opening of the capital account (financial autarky -> globalization)"


def add_opening_argument(group) -> None:
    """``--open-capital-account`` in the (mutually exclusive) experiment group."""
    group.add_argument("--open-capital-account", dest="open_capital_account",
                       action="store_true",
                       help="the opening of the capital account: from the financial-autarky "
                       "equilibrium (beta fixed) the capital-account wedges go to zero at "
                       "date --announce S (news at 0); R_i,0 is the autarky return")


def opening_summary(result: dict, rt) -> dict:
    """The regime keys added to the ``hat transition`` object: returns (R_i,t [T][N]),
    wedges (omega_i,t), rebates (F_i,t), nfa (A'_i,t), trade_balance (X - M) and
    trade_balance_gdp [T][N]; initial.R_i (R_i^aut) and terminal.nfa_gdp [N]."""
    agg = rt.transition.terminal.world.aggregates
    result.update(returns=json_nums(rt.returns), wedges=json_nums(rt.wedges),
                  rebates=json_nums(rt.rebates), nfa=json_nums(rt.nfa),
                  trade_balance=json_nums(rt.trade_balance),
                  trade_balance_gdp=json_nums(rt.trade_balance_gdp))
    result["initial"]["R_i"] = json_nums(rt.returns[0])
    result["terminal"]["nfa_gdp"] = json_nums(agg.bond_demand / agg.Y)
    return result


def _format(result: dict) -> str:
    lines = [format_transition(result, NOTE), "",
             "   t  " + "  ".join(f"{'R_' + c:>9s} {'nfa/Y_' + c:>10s}"
                                  for c in result["countries"][:6])]
    T = result["T"]
    for t in sorted({t for t in (0, 1, 2, 5, 10, 20, 50, T - 1) if t < T}):
        row = "  ".join(f"{result['returns'][t][k]:9.5f} {result['nfa_gdp'][t][k]:10.5f}"
                        for k in range(min(6, len(result["countries"]))))
        lines.append(f"{t:4d}  {row}")
    return "\n".join(lines)


def run_opening(args, setup) -> int:
    """Run ``hat transition --open-capital-account``; returns the exit code."""
    if args.temporary is not None:
        raise ValueError("--temporary does not apply to --open-capital-account (the "
                         "wedges go to zero for good at --announce S)")
    base = solve_baseline(args, setup)
    eq = base.eq
    if not bool(eq.converged):
        report_not_converged(eq, base.opts)
        return EXIT_NOT_CONVERGED
    say = (lambda m: None) if args.quiet else err
    say(f"opening of the capital account: T={args.T}, announce={args.announce}")
    rt = tn.open_capital_account(base.baseline, args.announce, args.T, eq_opts=base.opts,
                                 verbose=not args.quiet, throw=False)
    tr = rt.transition
    if not tr.converged:
        err(f"not converged: transition residual {tr.residual:.3e} after {tr.iterations} "
            f"quasi-Newton iterations ({tr.jacobians} exact Jacobians; stopped: {tr.stop})")
    elif tr.terminal_gap > float(tn.TransitionOptions().terminal_tol):
        tn.check_transition(tr, tn.TransitionOptions())  # raises ValueError naming T, gap
    stats, tw = dict(tr.stats), None
    if args.ev:
        i = default_country(eq.economy, args.country, None)
        say(f"equivalent variation of {eq.economy.countries[i]}...")
        t0 = time.perf_counter()
        tw = tn.transition_welfare(tr, i, throw=False, measure=args.ev_measure)
        stats["ev_s"] = time.perf_counter() - t0
    experiment = {"kind": "open_capital_account", "announce": int(args.announce)}
    result = opening_summary(transition_summary(args.preset, tr, experiment, None, tw, stats),
                             rt)
    rc = EXIT_OK if tr.converged and result.get("ev_ok", True) else EXIT_NOT_CONVERGED
    if args.out is not None:
        wrote(write_transition_outputs(args.out, result, plots=args.plots), args.quiet)
    print_result(args, result, lambda: _format(result))
    return rc
