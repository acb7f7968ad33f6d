"""Benchmark: financial integration and goods trade in the 19-country Eaton-Kortum world
(model.md s.15).

Economy: ``hat_jax.ek_world(PRESET, Na=NA)`` (default ``ek_baseline``); the baseline
under financial globalization is solved first (beta at R = 1.01 from the published
prices; not timed). Then

(a) ``regime counterfactual``: financial opening, autarky -> globalization
    (:func:`hat_jax.scenarios.regime_change`: the autarky equilibrium at the baseline's
    beta, then the globalization one from it) with the EV of every US household state
    and its aggregates; median_s: the whole of it (both solves and the EV) in ``--runs``
    warm runs after a first one (first_s, compilation included).
(b) ``2x2 table``: a global 10% cut of every international cost under each regime, and
    financial opening at today's and at the 10%-lower costs
    (:func:`hat_jax.scenarios.trade_finance_table`), mean EV (%) and share who gain for
    USA, DEU, JPN, CAN; the table is printed on stderr and stored in the record.
(c) ``opening-gain curve``: the utilitarian gain from financial opening
    G_i(s) = W_i^global(s) - W_i^autarky(s) along trade-cost scalings s, with
    dG_i/d log s by AD (:func:`hat_jax.scenarios.opening_gain_curve`).
(o) ``opening transition``: the capital account opens at t = 0 from the
    financial-autarky stationary equilibrium (:func:`hat_jax.transition.
    open_capital_account`, T = ``--T``, default 150): the autarky equilibrium at the
    baseline's beta, the globalization terminal, the fake-news Jacobian and the path,
    then the date-0 EV of every US state; median_s: the transition (compilation
    included, one run), ev_s apart; NFA / GDP of the four countries at t = 0, 10, T-1.
(w) ``optimal wedge``: the US wedge maximizing its utilitarian welfare, others' at zero
    (:func:`hat_jax.policy.optimal_wedge`: a secant search on the exact derivative
    through the equilibrium), with the EV of every US state at the optimum; median_s:
    all of it (compilation included, one run).

    python benchmarks/finance.py --quick                # Na = 20, three scalings
    python benchmarks/finance.py --sections ab --json --out results/finance.json
    python benchmarks/finance.py --sections aow --na 100    # issue 27's three targets
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax import scenarios as sc  # noqa: E402
from hat_jax import transition as tn  # noqa: E402
from hat_jax import welfare as wf  # noqa: E402
from hat_jax._ek import EK_PRESETS  # noqa: E402

from _common import load_ek_world, log, main, stamp  # noqa: E402

QUICK_NA = 20
DEFAULT_NA = 100
COUNTRIES = ("USA", "DEU", "JPN", "CAN")
CELLS = ("trade_cut_global", "trade_cut_autarky", "opening", "opening_after_cut")


def _table_text(table) -> str:
    head = f"{'':>5} " + " ".join(f"{c:>18}" for c in CELLS)
    rows = [head]
    for c in COUNTRIES:
        rows.append(f"{c:>5} " + " ".join(
            f"{100 * table.cells[k][c].mean_gain:11.4f}% ({table.cells[k][c].share_gain:.2f})"
            for k in CELLS))
    return "\n".join(rows)


def records(args) -> list[dict]:
    Na = args.Na
    world = load_ek_world(args.preset, args.data_dir, Na)
    economy = world.economy
    W0, R0, b0 = world.start("published")
    log(f"baseline: {args.preset}, N={economy.N}, Na={Na} (solving beta at R={R0})...")
    eq = hat_jax.solve_equilibrium(economy, hat_jax.EquilibriumOptions(unknown="beta"),
                                   hat_jax.Start(W=W0, R=R0, beta=b0))
    base = hat_jax.Baseline.from_equilibrium(eq)
    extra = dict(N=economy.N, Na=Na, preset=args.preset)
    out: list[dict] = []

    if "a" in args.sections:
        out.append(_regime_record(base, args, extra))

    if "b" in args.sections:
        log("(b) the 2 x 2 table (10% global cut x financial regime)...")
        t0 = time.perf_counter()
        table = sc.trade_finance_table(base, 0.10, COUNTRIES)
        dt = time.perf_counter() - t0
        log("mean EV % (share who gain):\n" + _table_text(table))
        cells = {k: {c: {"mean_gain_pct": 100 * s.mean_gain, "share_gain": float(s.share_gain)}
                     for c, s in v.items()} for k, v in table.cells.items()}
        out.append(stamp({"name": f"2x2 table {args.preset} Na={Na}", "compile_s": None,
                          "median_s": dt, "runs": 1, "cells": cells}, **extra))

    if "c" in args.sections:
        scales = [0.9, 1.0, 1.1] if args.quick else [0.8, 0.9, 1.0, 1.1, 1.25]
        log(f"(c) opening-gain curve at scales {scales}...")
        t0 = time.perf_counter()
        oa = sc.opening_args(base)
        curve = sc.opening_gain_curve(oa, scales)
        dt = time.perf_counter() - t0
        idx = [wf.country_index(economy, c) for c in COUNTRIES]
        for k, s in enumerate(scales):
            log(f"  s={s:5.2f} " + " ".join(
                f"{c}: G={curve['gain'][k, i]:+.5f} dG/dlogs={curve['dgain_dlogs'][k, i]:+.5f}"
                for c, i in zip(COUNTRIES, idx)))
        out.append(stamp({"name": f"opening-gain curve {args.preset} Na={Na}",
                          "compile_s": None, "median_s": dt, "runs": 1, "scales": scales,
                          "countries": list(COUNTRIES),
                          "gain": curve["gain"][:, idx].tolist(),
                          "dgain_dlogs": curve["dgain_dlogs"][:, idx].tolist(),
                          "converged": curve["converged"].tolist()}, **extra))

    if "o" in args.sections:
        out.append(_opening_record(base, args, extra))
    if "w" in args.sections:
        out.append(_wedge_record(base, args, extra))
    return out


def _regime_record(base, args, extra) -> dict:
    """(a): financial opening (autarky -> globalization) with the EV of every US state:
    a first run (compilation included: ``compile_s`` is its excess over the median),
    then ``--runs`` warm runs (median_s)."""
    log("(a) financial opening with the EV of every US state...")

    def once():
        t0 = time.perf_counter()
        cf = sc.regime_change(base, "autarky", "global")
        res = wf.welfare_analysis(cf, "USA", throw=False)
        return time.perf_counter() - t0, cf, res

    first, cf, res = once()
    warm = [once()[0] for _ in range(max(args.runs, 1))]
    median = float(np.median(warm))
    log(f"  first run {first:.1f} s, warm median {median:.1f} s ({len(warm)} runs)")
    fa0, fa1 = sc.financial_accounts(cf.baseline), sc.financial_accounts(cf.new)
    i = wf.country_index(base.economy, "USA")
    return stamp({"name": f"regime counterfactual autarky->global {args.preset} "
                          f"Na={args.Na}", "compile_s": first - median, "median_s": median,
                  "first_s": first, "runs": len(warm), "country": "USA",
                  "mean_gain_pct": 100 * res.summary.mean_gain,
                  "share_gain": float(res.summary.share_gain),
                  "R_USA_autarky": float(fa0.R[i]), "R_world": float(cf.new.R),
                  "nfa_gdp_USA": float(fa1.nfa_gdp[i]),
                  "trade_balance_gdp_USA": float(fa1.trade_balance_gdp[i])}, **extra)


def _wedge_record(base, args, extra) -> dict:
    """(w): the US optimal wedge, with the EV of every US state at the optimum."""
    from hat_jax import policy

    log("(w) the US optimal wedge...")
    t0 = time.perf_counter()
    ow = policy.optimal_wedge(base, "USA", throw=False, verbose=True)
    dt = time.perf_counter() - t0
    res = ow.welfare_result
    log(f"  omega_USA = {ow.wedge:+.6f}, FOC {ow.foc_residual:.2e}, {ow.iterations} "
        f"evaluations, converged {ow.converged}; {dt:.1f} s")
    return stamp({"name": f"optimal wedge USA {args.preset} Na={args.Na}",
                  "compile_s": None, "median_s": dt, "runs": 1, "wedge": float(ow.wedge),
                  "foc_residual": float(ow.foc_residual), "iterations": int(ow.iterations),
                  "converged": bool(ow.converged),
                  "welfare_gain": float(ow.welfare - ow.welfare_base),
                  "mean_gain_pct_USA": None if res is None else 100 * float(
                      res.summary.mean_gain)}, **extra)


def _opening_record(base, args, extra) -> dict:
    """(o): the opening of the capital account as a transition, then the US EV."""
    T = args.T
    log(f"(o) opening transition, T={T}...")
    t0 = time.perf_counter()
    rt = tn.open_capital_account(base, horizon=T, verbose=True, throw=False)
    dt = time.perf_counter() - t0
    t1 = time.perf_counter()
    i = wf.country_index(base.economy, "USA")
    tw = tn.transition_welfare(rt.transition, i, throw=False)
    ev_s = time.perf_counter() - t1
    tr = rt.transition
    idx = [wf.country_index(base.economy, c) for c in COUNTRIES]
    dates = [0, min(10, T - 1), T - 1]
    log(f"  converged {tr.converged}, residual {tr.residual:.2e}, terminal gap "
        f"{tr.terminal_gap:.2e}, {tr.iterations} iterations; {dt:.1f} s (+ EV {ev_s:.1f} s)")
    return stamp({"name": f"opening transition {args.preset} Na={args.Na} T={T}",
                  "compile_s": None, "median_s": dt, "runs": 1, "ev_s": ev_s, "T": T,
                  "converged": bool(tr.converged), "residual": float(tr.residual),
                  "terminal_gap": float(tr.terminal_gap), "iterations": int(tr.iterations),
                  "stats": {k: float(v) for k, v in tr.stats.items()},
                  "mean_gain_pct_USA": float(tw.mean_gain_pct),
                  "steady_state_mean_gain_pct_USA": float(tw.steady_state_mean_gain_pct),
                  "countries": list(COUNTRIES), "dates": dates,
                  "nfa_gdp": rt.nfa_gdp[np.ix_(dates, idx)].tolist()}, **extra)


def add_arguments(p):
    p.add_argument("--na", dest="Na", type=int, default=None,
                   help=f"asset grid points (default {DEFAULT_NA}; {QUICK_NA} with --quick)")
    p.add_argument("--preset", choices=sorted(EK_PRESETS), default="ek_baseline")
    p.add_argument("--data-dir", dest="data_dir", default=None)
    p.add_argument("--sections", default="abcow", help="any of abcow (default all)")
    p.add_argument("--T", type=int, default=150, help="horizon of the opening transition (o)")
    p.add_argument("--quick", action="store_true", help=f"Na = {QUICK_NA} unless --na")


def records_fn(args):
    if args.Na is None:
        args.Na = QUICK_NA if args.quick else DEFAULT_NA
    return records(args)


if __name__ == "__main__":
    main(records_fn, description=__doc__.split("\n\n")[0], add_arguments=add_arguments,
         default_runs=1)
