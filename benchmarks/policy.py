"""Benchmark: tariffs and trade policy in the 19-country Eaton-Kortum world (model.md s.14).

Economy: ``hat_jax.ek_world(PRESET, Na=NA)`` (default ``ek_baseline``); the free-trade
baseline is solved first (beta at R = 1.01 from the published prices; not timed). Then

(a) ``tariff equilibrium``: the USA levies 10% on every partner
    (:func:`hat_jax.welfare.counterfactual` with ``tariffs=``; W, R and the 19 rebates T
    solved, beta fixed). compile_s: the first call's compilation; median_s: warm solves.
(b) ``tariff gradient``: dW_USA / dt_ij for all 342 pairs at that tariff matrix, one
    reverse pass through the equilibrium (:func:`hat_jax.policy.tariff_gradient`).
(c) ``optimal uniform`` and (d) ``optimal by partner``: the USA's optimal tariffs
    (:func:`hat_jax.policy.optimal_tariff`, BFGS / projected Newton with exact
    gradients, from scratch: at Na >= 60 its coarse stage on a 20-point grid first, its
    time included; ``coarse`` and ``steps`` (on the fine grid) in the record), with the
    US welfare gain, the EV mean and quintile gains at the optimum.
(e) ``Nash uniform``: every country's uniform Nash tariff, Broyden's method on the 19
    stacked first-order conditions with exact FOCs (:func:`hat_jax.policy.nash_tariffs`,
    method "foc"), and every country's welfare against free trade.

Each record is one run (the computations are long); median_s is that run's wall time.

    python benchmarks/policy.py --quick              # Na = 20
    python benchmarks/policy.py --sections abcd --na 30 --json --out policy.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax import policy  # noqa: E402
from hat_jax import welfare as wf  # noqa: E402
from hat_jax._ek import EK_PRESETS  # noqa: E402

from _common import load_ek_world, log, main, stamp  # noqa: E402

QUICK_NA = 20
DEFAULT_NA = 100
COUNTRY = "USA"


def _gains(eq, tariffs, i):
    """(utilitarian welfare gain %, EV mean %, EV quintile gains %) of country i."""
    cf = wf.counterfactual(eq, None, tariffs=tariffs)
    ev = wf.equivalent_variation(eq, cf.new, i, throw=False)
    s = wf.welfare_summary(eq, cf.new, ev)
    return (100 * s.welfare_change / abs(s.welfare_old), 100 * s.mean_gain,
            [float(x) for x in 100 * np.asarray(s.quintile_gains)])


def records(args) -> list[dict]:
    Na = args.Na
    world = load_ek_world(args.preset, args.data_dir, Na)
    economy = world.economy
    W0, R0, b0 = world.start("published")
    log(f"baseline: {args.preset}, N={economy.N}, Na={Na} (solving beta at R={R0})...")
    eq = hat_jax.solve_equilibrium(economy, hat_jax.EquilibriumOptions(unknown="beta"),
                                   hat_jax.Start(W=W0, R=R0, beta=b0))
    N, i = economy.N, wf.country_index(economy, COUNTRY)
    extra = dict(N=N, Na=Na, preset=args.preset, country=COUNTRY)
    t10 = hat_jax.policy.uniform_tariffs(N, i, 0.10)
    out: list[dict] = []

    if "a" in args.sections:
        log("(a) equilibrium with a 10% US tariff...")
        times, comp, cf = [], None, None
        for _ in range(max(1, args.runs)):
            cf = wf.counterfactual(eq, None, tariffs=t10)
            comp = cf.stats["compile_s"] if comp is None else comp
            times.append(cf.stats["run_s"])
        out.append(stamp({"name": f"tariff equilibrium {args.preset} Na={Na}",
                          "compile_s": comp, "median_s": float(np.median(times)),
                          "runs": len(times), "iterations": int(cf.new.iterations),
                          "residual": float(cf.new.residual),
                          "T_USA": float(cf.new.T[i])}, **extra))
    if "b" in args.sections:
        log("(b) gradient of US welfare w.r.t. all 342 tariffs...")
        g = policy.tariff_gradient(eq, i, t10)
        t = g.stats
        out.append(stamp({"name": f"tariff gradient (342 t_ij) {args.preset} Na={Na}",
                          "compile_s": t["compile_s"], "median_s": t["run_s"], "runs": 1,
                          "dW_USA_dt_USA_CAN": float(g.grad[i, wf.country_index(economy,
                                                                                "CAN")])},
                          **extra))
    for key, mode in (("c", "uniform"), ("d", "by_partner")):
        if key not in args.sections:
            continue
        log(f"({key}) US optimal tariffs, {mode}...")
        o = policy.optimal_tariff(eq, i, mode=mode, progress=True)
        gain, mean, quint = _gains(eq, o.tariffs, i)
        rates = np.delete(o.rates, i)
        out.append(stamp({"name": f"optimal {mode} tariff USA {args.preset} Na={Na}",
                          "compile_s": float("nan"), "median_s": o.seconds, "runs": 1,
                          "steps": o.steps, "coarse": o.coarse,
                          "foc_residual": o.foc_residual,
                          "converged": o.converged, "tariff_mean_pct": 100 * rates.mean(),
                          "tariff_min_pct": 100 * rates.min(),
                          "tariff_max_pct": 100 * rates.max(),
                          "tariffs_pct": [float(x) for x in 100 * o.rates],
                          "welfare_gain_pct": gain, "mean_gain_pct": mean,
                          "quintile_gains_pct": quint}, **extra))
    if "e" in args.sections:
        log("(e) Nash tariffs (uniform) of all countries...")
        n = policy.nash_tariffs(eq, mode="uniform", start=args.nash_start, progress=True,
                                max_rounds=args.nash_rounds)
        gains = 100 * (n.welfare - n.welfare_free) / np.abs(n.welfare_free)
        out.append(stamp({"name": f"Nash uniform tariffs {args.preset} Na={Na}",
                          "compile_s": float("nan"), "median_s": n.seconds, "runs": 1,
                          "rounds": n.rounds, "converged": n.converged,
                          "foc_residual": n.foc_residual,
                          "tariffs_pct": [float(100 * np.delete(n.tariffs[k], k).mean())
                                          for k in range(N)],
                          "welfare_gain_pct": [float(x) for x in gains]}, **extra))
    return out


def add_arguments(p):
    p.add_argument("--na", dest="Na", type=int, default=None,
                   help=f"asset grid points (default {DEFAULT_NA}; {QUICK_NA} with --quick)")
    p.add_argument("--preset", choices=sorted(EK_PRESETS), default="ek_baseline")
    p.add_argument("--data-dir", dest="data_dir", default=None)
    p.add_argument("--sections", default="abcde", help="any of abcde (default all)")
    p.add_argument("--nash-start", dest="nash_start", type=float, default=0.1)
    p.add_argument("--nash-rounds", dest="nash_rounds", type=int, default=30)
    p.add_argument("--quick", action="store_true", help=f"Na = {QUICK_NA} unless --na")


def records_fn(args):
    if args.Na is None:
        args.Na = QUICK_NA if args.quick else DEFAULT_NA
    return records(args)


if __name__ == "__main__":
    main(records_fn, description=__doc__.split("\n\n")[0], add_arguments=add_arguments,
         default_runs=1)
