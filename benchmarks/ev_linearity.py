"""Does the EV vanish with the shock? The mean EV gain of a 1% and a 10% global cut
(ek_baseline, the paper's convention: costs may fall below 1), JPN and USA, under both
measures (issue 26 A; model.md s.10).

A well-posed measure is about linear in a small shock: 10 x the 1% cut's mean gain
should be close to the 10% cut's (ratio within 0.7-1.25). Under the proportional
measure the states with net income R a + W z + T <= 0 keep a gain that does not vanish
with the shock, so the ratio is far off; the transfer measure (a permanent lump-sum
transfer at the old prices, % of mean labour income W E[z]) is well posed everywhere.

    python benchmarks/ev_linearity.py --na 30            # about 20 minutes on 2 cores
    python benchmarks/ev_linearity.py --na 30 --measures transfer --json
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax import welfare as wf  # noqa: E402

from _common import device_description, load_ek_world, log, main  # noqa: E402

CUTS = (0.01, 0.10)
COUNTRIES = ("JPN", "USA")


def _rec(name, value, t, Na, **extra) -> dict:
    import os

    r = {"name": name, "value": None if value is None else float(value), "compile_s": 0.0,
         "median_s": float(t), "runs": 1, "Na": Na, "device": device_description(),
         "load1": round(os.getloadavg()[0], 2)}
    r.update(extra)
    return r


def records(args) -> list[dict]:
    Na = args.Na
    world = load_ek_world("ek_baseline", args.data_dir, Na)
    econ = world.economy.replace(cost_floor=False)
    W0, R0, b0 = world.start("published")
    t0 = time.perf_counter()
    eq = hat_jax.solve_equilibrium(econ, hat_jax.EquilibriumOptions(unknown="beta"),
                                   hat_jax.Start(W=W0, R=R0, beta=b0))
    log(f"baseline solved in {time.perf_counter() - t0:.1f} s")
    cfs = {}
    for cut in CUTS:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wf.CostsBelowOneWarning)
            d, _ = wf.global_cut(eq.economy, cut, floor=None)
            cfs[cut] = wf.counterfactual(eq, d, cost_floor=False)
        log(f"global cut {cut:g}: counterfactual in {time.perf_counter() - t0:.1f} s")
    rows = []
    for measure in args.measures.split(","):
        for c in COUNTRIES:
            gains = {}
            for cut in CUTS:
                t0 = time.perf_counter()
                ev = wf.equivalent_variation(eq, cfs[cut], c, throw=False, measure=measure)
                s = wf.welfare_summary(eq, cfs[cut].new, ev)
                t = time.perf_counter() - t0
                gains[cut] = s.mean_gain
                ok = bool(np.all(np.asarray(ev.converged) | np.asarray(ev.ill_posed)))
                rows.append(_rec(f"{c} global {cut:g}: mean gain % [{measure}]",
                                 100 * s.mean_gain, t, Na, measure=measure, country=c,
                                 cut=cut, ev_ok=ok, ill_posed_mass=s.ill_posed_mass,
                                 quintiles_pct=[100 * q for q in s.quintile_gains],
                                 mean_transfer=s.mean_transfer))
                log(f"  {rows[-1]['name']}: {100 * s.mean_gain:.5f} (quintiles "
                    + " ".join(f"{100 * q:.4f}" for q in s.quintile_gains)
                    + f"; ill-posed mass {s.ill_posed_mass:.4f}; {t:.0f} s)")
            ratio = 10 * gains[0.01] / gains[0.10]
            rows.append(_rec(f"{c}: 10 x mean gain(1%) / mean gain(10%) [{measure}]", ratio,
                             0.0, Na, measure=measure, country=c, within=0.7 <= ratio <= 1.25))
            log(f"  {rows[-1]['name']}: {ratio:.4f}")
    return rows


def add_arguments(p):
    p.add_argument("--na", dest="Na", type=int, default=30, help="asset grid points (30)")
    p.add_argument("--data-dir", dest="data_dir", default=None)
    p.add_argument("--measures", default="transfer,proportional",
                   help="comma-separated EV measures (default transfer,proportional)")


def records_fn(args):
    args.runs = 1
    return records(args)


if __name__ == "__main__":
    main(records_fn, description=__doc__.split("\n\n")[0], add_arguments=add_arguments,
         default_runs=1)
