"""Benchmark: many counterfactuals at once (issue 13), batched vs one at a time.

Economy: ``ek_baseline`` at ``--Na`` (default 100), baseline solved first (beta at R =
1.01 from the published prices; not timed). The process starts with two forced host
devices (``XLA_FLAGS=--xla_force_host_platform_device_count=2`` unless XLA_FLAGS sets a
device count already), so one and two devices are compared in the same run.

(a) ``sequential K``: K unilateral 10% cuts (the first K countries) one after another
    with :func:`hat_jax.welfare.counterfactual` (the host-driven Newton, programs
    compiled once; compile_s: the first call's compilation).
(b) ``batched K, D dev, S``: the same K scenarios by :func:`hat_jax.solve_scenarios` as
    one block (``batch=K``) on D devices with block strategy S (``--strategies``; ``map``:
    one scenario after another inside the program, the CPU default; ``vmap``: lock step,
    the accelerator default) (ACR theta fixed at 4, so the model's
    elasticities are not timed). compile_s: the first call (compilation, or loading
    from the persistent cache); median_s: warm calls. ``scen_per_s`` = K / median_s.
    For K = 19 (every unilateral 10% cut) the record also carries ``max_diff``: the
    largest difference of W, R and trade shares from the sequential counterfactuals
    (= ``hat counterfactual --unilateral ISO 0.10``, acceptance 1e-8).

K = 1, 8, 19 by default (``--sizes``); on a GPU machine run ``--sizes 1,100,1000
--devices 1`` (scenarios cycle through global cuts beyond 19; the device is named in
every record).

    python benchmarks/scenarios.py --runs 3               # ek_baseline, Na = 100
    python benchmarks/scenarios.py --quick                # Na = 20, K = 1, 8, 19
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

if not re.search(r"xla_force_host_platform_device_count", os.environ.get("XLA_FLAGS", "")):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_force_host_platform_device_count=2").strip()

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax import scenarios as sc  # noqa: E402
from hat_jax import welfare as wf  # noqa: E402
from hat_jax._batched import resolve_strategy  # noqa: E402

from _common import load_ek_world, log, main, stamp  # noqa: E402

CUT = 0.10


def _scenarios(eq, K: int) -> sc.Scenarios:
    """The first K unilateral cuts; beyond N, global cuts from 1% to 30%."""
    uni = sc.unilateral_scenarios(eq.economy, CUT)
    if K <= uni.K:
        return sc.select_scenarios(uni, slice(0, K))
    return sc.concat_scenarios(uni, sc.global_cut_scenarios(eq.economy, 0.01, 0.3, K - uni.K))


def _sequential(eq, s: sc.Scenarios, opts, runs: int):
    """Each scenario's counterfactual in turn; (record fields, the equilibria)."""
    times, outs, compile_s = [], None, 0.0
    for r in range(runs):
        t0, news = time.perf_counter(), []
        for k in range(s.K):
            d = np.asarray(s.economies.d[k])
            news.append(wf.counterfactual(eq, d, opts).new)
            if r == 0 and k == 0:
                compile_s = news[-1].stats.get("compile_s", 0.0)
        times.append(time.perf_counter() - t0 - (compile_s if r == 0 else 0.0))
        outs = news
    return {"compile_s": compile_s, "median_s": float(np.median(times)),
            "min_s": float(np.min(times)), "runs": runs}, outs


def _batched(eq, s: sc.Scenarios, opts, devices: int, runs: int, strategy: str):
    t0 = time.perf_counter()
    res = hat_jax.solve_scenarios(eq, s, opts, theta=4.0, devices=devices, strategy=strategy)
    first = time.perf_counter() - t0
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        res = hat_jax.solve_scenarios(eq, s, opts, theta=4.0, devices=devices,
                                      strategy=strategy)
        times.append(time.perf_counter() - t0)
    med = float(np.median(times))
    return {"compile_s": max(first - med, 0.0), "median_s": med, "min_s": float(np.min(times)),
            "runs": runs}, res


def records(args) -> list[dict]:
    Na = 20 if args.quick else args.Na
    world = load_ek_world("ek_baseline", args.data_dir, Na)
    eq = hat_jax.solve_equilibrium(world.economy, hat_jax.EquilibriumOptions(unknown="beta"),
                                   hat_jax.Start(*world.start("published")))
    opts = hat_jax.EquilibriumOptions()
    n_dev = len(jax.local_devices())
    devs = [d for d in (1, 2) if d <= n_dev] if args.devices is None else [args.devices]
    out = []
    for K in (int(k) for k in args.sizes.split(",")):
        s = _scenarios(eq, K)
        seq = None
        if K <= 19 and not args.no_sequential:
            log(f"K={K}: sequential counterfactuals...")
            rec, seq = _sequential(eq, s, opts, args.runs)
            out.append(stamp({"name": f"sequential {K}", **rec}, K=K, Na=Na,
                              scen_per_s=K / rec["median_s"]))
        for strategy, D in ((st, D) for st in args.strategies.split(",") for D in devs):
            strategy = resolve_strategy(strategy)
            log(f"K={K}: batched ({strategy}) on {D} device(s)...")
            rec, res = _batched(eq, s, opts, D, args.runs, strategy)
            extra = {"K": K, "Na": Na, "devices": D, "strategy": strategy,
                     "scen_per_s": K / rec["median_s"],
                     "converged": int(res.converged.sum()),
                     "iterations_max": int(res.iterations.max())}
            if seq is not None:
                extra["max_diff"] = max(
                    max(float(np.max(np.abs(res.W[k] - np.asarray(n.W)))),
                        float(np.max(np.abs(res.R[k] - np.asarray(n.R)))),
                        float(np.max(np.abs(res.trade_shares[k]
                                            - np.asarray(n.world.aggregates.trade_shares)))))
                    for k, n in enumerate(seq))
            out.append(stamp({"name": f"batched {K}, {D} dev, {strategy}", **rec}, **extra))
    return out


def add_arguments(p) -> None:
    p.add_argument("--Na", type=int, default=100)
    p.add_argument("--quick", action="store_true", help="Na = 20")
    p.add_argument("--sizes", default="1,8,19", help="numbers of scenarios K (default 1,8,19)")
    p.add_argument("--devices", type=int, default=None,
                   help="only this device count (default: 1 and 2)")
    p.add_argument("--strategies", default="auto",
                   help="block strategies, comma-separated: auto (by backend), map, vmap "
                   "(default auto)")
    p.add_argument("--no-sequential", dest="no_sequential", action="store_true")
    p.add_argument("--data-dir", dest="data_dir", default=None)


if __name__ == "__main__":
    main(records, __doc__.splitlines()[0], add_arguments, default_runs=3)
