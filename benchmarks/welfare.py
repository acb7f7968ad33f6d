"""Benchmark: welfare analysis of the 19-country Eaton-Kortum world (model.md s.10-11).

Economy: ``hat_jax.ek_world(PRESET, Na=NA)`` (default ``ek_baseline``), baseline
equilibrium solved first (``EquilibriumOptions(unknown="beta")`` from the published
prices; not timed), then for the experiment ``--experiment`` (default: the USA cuts its
import costs by 10%, ``unilateral``; ``global``: all international costs fall 10%):

(a) ``counterfactual equilibrium``: :func:`hat_jax.welfare.counterfactual` (beta fixed
    at the baseline's, 18 relative wages and R solved by Newton from the baseline prices
    and household state, tolerance 1e-10). compile_s: the solver's compilation (first
    call); median_s: warm solves (the same computation again).
(b) ``EV all states``: :func:`hat_jax.welfare.equivalent_variation` for every (a, z)
    state of the USA (Na x 10 scalar roots to 1e-10; compile and run timed apart by its
    ``stats``), once per root method of ``--ev-methods`` (default both:
    ``continuation``, the default, where states share household solves, and
    ``safeguarded``, each state its own chain of warm-started solves, the method before
    issue 13), the runs of the methods interleaved so that both see the same machine
    load; records carry ``method``, ``states``, ``evaluations_mean`` / ``_max``
    (household solves per state), ``mean_gain_pct``, whether every state converged,
    the largest Bellman residual of the values behind the roots and, for every method
    but the first, ``max_diff_to_<first>`` and ``speedup_vs_<method>``.
(c) ``welfare gradient``: dW_USA / d log d_ij for all N(N-1) = 342 pairs in general
    equilibrium (W and R re-solved, beta fixed) by one reverse-mode pass through the
    equilibrium (implicit function theorem), :func:`hat_jax.welfare.welfare_gradient`.
(d) ``planner``: :func:`hat_jax._planner.solve_planner` (19 resource constraints by
    Newton, optimistix), compile and run (at least 3 runs).

Every record comes from the public entry point's ``stats`` (compile_s: the first
call's compilation, about 0 when the persistent cache has it; median_s: run time); no
untimed warm-up call (each is long).

    python benchmarks/welfare.py --quick      # Na = 20, one run per record (minutes)
    python benchmarks/welfare.py              # Na = 100, one run (long on 2 cores)
    python benchmarks/welfare.py --sections bc --experiment global --json --out r.json
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax import _planner as pl  # noqa: E402
from hat_jax import welfare as wf  # noqa: E402
from hat_jax._ek import EK_PRESETS  # noqa: E402

from _common import load_ek_world, log, main, stamp  # noqa: E402

QUICK_NA = 20
DEFAULT_NA = 100
COUNTRY = "USA"
CUT = 0.10


def _timed(name: str, call, runs: int, info, **extra) -> dict:
    """Run ``call()`` ``runs`` times (a public entry point whose result carries compile_s
    and run_s in its ``stats``): compile_s of the first call, median / min of run_s."""
    times, comp, o = [], None, None
    for _ in range(max(1, runs)):
        o = call()
        comp = o.stats["compile_s"] if comp is None else comp
        times.append(o.stats["run_s"])
    return stamp({"name": name, "compile_s": comp, "median_s": float(np.median(times)),
                  "min_s": float(np.min(times)), "runs": len(times), **info(o)}, **extra)


def records(args) -> list[dict]:
    Na = args.Na
    world = load_ek_world(args.preset, args.data_dir, Na)
    economy = world.economy
    W0, R0, b0 = world.start("published")
    log(f"baseline: {args.preset}, N={economy.N}, Na={Na} (solving beta at R={R0})...")
    t0 = time.perf_counter()
    eq = hat_jax.solve_equilibrium(economy, hat_jax.EquilibriumOptions(unknown="beta"),
                                   hat_jax.Start(W=W0, R=R0, beta=b0))
    log(f"baseline solved in {time.perf_counter() - t0:.1f} s (compile included)")
    if args.experiment == "unilateral":
        d_new, _ = wf.unilateral_cut(economy, COUNTRY, CUT)
    else:
        d_new, _ = wf.global_cut(economy, CUT)
    extra = dict(N=economy.N, Na=Na, preset=args.preset, experiment=args.experiment,
                 country=COUNTRY)
    out: list[dict] = []
    cf = None

    if "a" in args.sections or "b" in args.sections:
        log("(a) counterfactual equilibrium...")
        times, comp = [], None
        for k in range(max(1, args.runs)):
            cf = wf.counterfactual(eq, d_new)
            comp = cf.stats["compile_s"] if comp is None else comp
            times.append(cf.stats["run_s"])
        if "a" in args.sections:
            out.append(stamp({
                "name": f"counterfactual equilibrium {args.preset} Na={Na}",
                "compile_s": comp, "median_s": float(np.median(times)),
                "min_s": float(np.min(times)), "runs": len(times),
                "iterations": int(cf.new.iterations), "residual": float(cf.new.residual),
                "R_new": float(cf.new.R)}, **extra))

    if "b" in args.sections:
        log("(b) EV for every state...")
        i = wf.country_index(economy, COUNTRY)
        ev_opts = wf.EVOptions(batch_size=args.batch_size, nodes=args.nodes)

        def ev_info(ev):
            dist = np.asarray(eq.world.distribution.lam[i])
            return {"states": int(np.size(ev.factor)), "converged": bool(np.all(ev.converged)),
                    "max_residual": float(np.max(ev.residual)),
                    "evaluations_mean": float(np.mean(ev.iterations)),
                    "evaluations_max": int(np.max(ev.iterations)),
                    "mean_gain_pct": float(100 * np.sum(dist * (np.asarray(ev.factor) - 1)))}

        methods = args.ev_methods.split(",")
        times = {m: [] for m in methods}
        comp, last = {}, {}
        for _ in range(max(1, args.runs)):  # interleaved: the same load for every method
            for m in methods:
                last[m] = wf.equivalent_variation(eq, cf.new, i, ev_opts, throw=False,
                                                  method=m)
                comp.setdefault(m, last[m].stats["compile_s"])
                times[m].append(last[m].stats["run_s"])
        first = methods[0]
        for m in methods:
            ev = last[m]
            rec = {"name": f"EV all states [{m}] {args.preset} Na={Na}", "method": m,
                   "compile_s": comp[m], "median_s": float(np.median(times[m])),
                   "min_s": float(np.min(times[m])), "runs": len(times[m]), **ev_info(ev),
                   "max_value_residual": float(np.max(np.asarray(ev.value_residual)))}
            if m != first:
                rec[f"max_diff_to_{first}"] = float(np.max(np.abs(
                    np.asarray(ev.factor) - np.asarray(last[first].factor))))
            out.append(stamp(rec, batch_size=args.batch_size, nodes=args.nodes, **extra))
        for r in out:
            if r.get("method") == first:
                for m in methods[1:]:
                    r[f"speedup_vs_{m}"] = float(np.median(times[m]) / np.median(times[first]))

    if "c" in args.sections:
        log("(c) welfare gradient w.r.t. all log d_ij (reverse mode)...")
        i = wf.country_index(economy, COUNTRY)

        def g_info(r):
            assert r.converged, "welfare gradient: equilibrium did not converge"
            return {"pairs": int(economy.N * (economy.N - 1)), "welfare": r.value,
                    "grad_norm": float(np.linalg.norm(r.grad)),
                    "dW_dlogd_USA_CAN": float(r.grad[i, wf.country_index(economy, "CAN")])}

        out.append(_timed(f"welfare gradient (342 log d_ij) {args.preset} Na={Na}",
                          lambda: wf.welfare_gradient(eq, i, throw=False),
                          args.runs, g_info, **extra))

    if "d" in args.sections:
        log("(d) planner...")
        out.append(_timed(f"planner {args.preset} N={economy.N}",
                          lambda: pl.solve_planner(economy, beta=eq.beta),
                          max(args.runs, 3),
                          lambda o: {"iterations": int(o.iterations),
                                     "residual": float(o.residual)}, **extra))
    return out


def add_arguments(p):
    p.add_argument("--na", dest="Na", type=int, default=None,
                   help=f"asset grid points (default {DEFAULT_NA}; {QUICK_NA} with --quick)")
    p.add_argument("--preset", choices=sorted(EK_PRESETS), default="ek_baseline")
    p.add_argument("--data-dir", dest="data_dir", default=None)
    p.add_argument("--experiment", choices=("unilateral", "global"), default="unilateral",
                   help="USA unilateral 10%% cut (default) or a global 10%% cut")
    p.add_argument("--sections", default="abcd", help="any of abcd (default all)")
    p.add_argument("--nodes", type=int, default=40,
                   help="EV: household solutions on a lambda grid for the first guesses")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=25,
                   help="EV states solved together (vmap)")
    p.add_argument("--ev-methods", dest="ev_methods", default="continuation,safeguarded",
                   help="EV root methods to time, comma-separated (default both)")
    p.add_argument("--quick", action="store_true",
                   help=f"Na = {QUICK_NA} unless --na, one run per record")


def records_fn(args):
    if args.quick:
        args.runs = 1
        if args.Na is None:
            args.Na = QUICK_NA
    if args.Na is None:
        args.Na = DEFAULT_NA
    return records(args)


if __name__ == "__main__":
    main(records_fn, description=__doc__.split("\n\n")[0], add_arguments=add_arguments,
         default_runs=1)
