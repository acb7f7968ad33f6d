"""Benchmark: the table a cluster user needs, in one command (issue 29, item 4).

Runs, on JAX's default device (a GPU where there is one), each record timed apart:

(a) ``import``: ``import hat_jax`` (this process's first import; JAX included);
(b) ``baseline``: the ``--preset`` (default ``ek_baseline``) equilibrium at ``--Na``
    (default 100), beta at the published R from the published prices, as ``hat solve``
    does it: compile_s and median_s from its ``stats``;
(c) ``scenarios K``: K (``--scenarios``, default 1000) counterfactual scenarios by
    :func:`hat_jax.solve_scenarios` (the 19 unilateral 10% cuts, then global cuts from
    1% to 30%), blocks of ``--batch`` (default all K), the EV summaries of the USA
    (``ev_s``), ACR theta 4; first call (compilation included) and the solve / EV split;
    converged scenarios, the USA's mean EV over them;
(d) ``transition``: the perfect-foresight transition after a permanent global 10% cut
    (:func:`hat_jax.transition.solve_transition`, horizon ``--T``, default 150), first
    call, then (e) ``elasticities by horizon``: the USA's trade elasticity by horizon
    against every partner (:func:`hat_jax.transition.horizon_elasticities`), with the
    trade-weighted means at h = 0, 1, 4, 19 and the long run;
(f) ``optimal tariff``: the USA's optimal uniform tariff
    (:func:`hat_jax.policy.optimal_tariff`, its coarse stage included at Na >= 60).

Every record carries ``device`` and ``load1``. The whole run should take under 5 minutes
on one GPU (the persistent compilation cache empty; the figures for a warm cache are in
the compile_s columns). ``--quick``: a CPU check that every section still runs (a
slow-tier test runs it so that the script does not rot): the ``two_country`` preset
(unless ``--preset`` names another) at Na = 40, 8 scenarios, T = 60, the grid and
horizon of the test suite's two-country fixtures, so that the check compiles almost
nothing the tests have not compiled (the 19-country programs are checked by the
19-country tests and notebooks). On a preset without published vectors the baseline
is ``solve_equilibrium``'s R mode, and the country is the preset's first.

    python benchmarks/gpu.py --out benchmarks/results/gpu_<device>.json   # on the GPU
    python benchmarks/gpu.py --quick --json                                # CPU check
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

_t0 = time.perf_counter()
import hat_jax  # noqa: E402  (float64)

IMPORT_S = time.perf_counter() - _t0

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from hat_jax import policy  # noqa: E402
from hat_jax import scenarios as sc  # noqa: E402
from hat_jax import transition as tn  # noqa: E402
from hat_jax import welfare as wf  # noqa: E402

from _common import load_ek_world, log, main, stamp  # noqa: E402
from hat_jax._ek import EK_PRESETS, EK_UNPUBLISHED_PRESETS  # noqa: E402

DATA_PRESETS = frozenset(EK_PRESETS) | frozenset(EK_UNPUBLISHED_PRESETS)

COUNTRY = "USA"  # the country of sections (c) to (f); a preset without it: its first
HORIZONS = (0, 1, 4, 19)


def _timed(call):
    t0 = time.perf_counter()
    out = call()
    return out, time.perf_counter() - t0


def _baseline(args, extra):
    if args.preset not in DATA_PRESETS:  # a built-in world: the R mode from the default guess
        log(f"(b) baseline {args.preset}, Na={args.Na}...")
        eq = hat_jax.solve_equilibrium(hat_jax.preset(args.preset, Na=args.Na))
        return hat_jax.Baseline.from_equilibrium(eq), _baseline_record(eq, extra)
    world = load_ek_world(args.preset, args.data_dir, args.Na)
    W0, R0, b0 = world.start("published")
    log(f"(b) baseline {args.preset}, N={world.economy.N}, Na={args.Na}...")
    eq = hat_jax.solve_equilibrium(world.economy, hat_jax.EquilibriumOptions(unknown="beta"),
                                   hat_jax.Start(W=W0, R=R0, beta=b0))
    return hat_jax.Baseline.from_equilibrium(eq), _baseline_record(eq, extra)


def _baseline_record(eq, extra):
    return stamp({"name": "baseline", "compile_s": eq.stats["compile_s"],
                  "median_s": eq.stats["run_s"], "runs": 1,
                  "iterations": int(eq.iterations), "residual": float(eq.residual)}, **extra)


def _country(b) -> str:
    countries = list(b.economy.countries)
    return COUNTRY if COUNTRY in countries else countries[0]


def _scenarios(b, args, extra):
    K = args.scenarios
    uni = sc.unilateral_scenarios(b.economy, 0.10)
    s = sc.select_scenarios(uni, slice(0, K)) if K <= uni.K else sc.concat_scenarios(
        uni, sc.global_cut_scenarios(b.economy, 0.01, 0.30, K - uni.K))
    c = _country(b)
    log(f"(c) {K} scenarios with the EV of {c}...")
    res, first = _timed(lambda: hat_jax.solve_scenarios(
        b, s, batch=args.batch, ev=(c,), theta=4.0))
    ok = res.converged
    ev = res.ev[c]
    return stamp({"name": f"scenarios {K} with EV", "compile_s": float("nan"),
                  "median_s": first, "runs": 1, "K": K, "batch": args.batch or K,
                  "solve_s": res.stats["solve_s"], "ev_s": res.stats["ev_s"],
                  "jacobians": res.stats["jacobians"], "converged": int(ok.sum()),
                  "ev_converged": int(np.sum(ev["converged"])),
                  "iterations_max": int(res.iterations.max()),
                  "scen_per_s": K / first,
                  "ev_mean_gain_pct_mean": float(100 * np.nanmean(ev["mean_gain"]))},
                 **extra)


def _transition(b, args, extra):
    d, _ = wf.global_cut(b.economy, 0.10)
    log(f"(d) transition, global 10% cut, T={args.T}...")
    tr, first = _timed(lambda: tn.solve_transition(b, d=d, horizon=args.T, throw=False))
    out = [stamp({"name": "transition", "compile_s": float("nan"), "median_s": first,
                  "runs": 1, "T": args.T, "converged": bool(tr.converged),
                  "iterations": int(tr.iterations), "jacobians": int(tr.jacobians),
                  "residual": float(tr.residual)}, **extra)]
    c = _country(b)
    log(f"(e) {c} elasticities by horizon...")
    he, t = _timed(lambda: tn.horizon_elasticities(b, c, horizon=args.T))
    ge = he.mean("general_equilibrium")
    table = {f"h{h}": float(ge[h]) for h in HORIZONS if h < args.T}
    table["long_run"] = float(he.mean("long_run"))
    out.append(stamp({"name": "elasticities by horizon", "compile_s": float("nan"),
                      "median_s": t, "runs": 1, "T": args.T, "partners": len(he.partners),
                      "ge_mean": table}, **extra))
    return out


def _tariff(b, args, extra):
    c = _country(b)
    log(f"(f) {c} optimal uniform tariff...")
    o, t = _timed(lambda: policy.optimal_tariff(b, c, mode="uniform"))
    i = wf.country_index(b.economy, c)
    return stamp({"name": "optimal tariff", "compile_s": float("nan"), "median_s": t,
                  "runs": 1, "converged": bool(o.converged), "steps": int(o.steps),
                  "tariff_pct": float(100 * np.delete(o.rates, i).mean()),
                  "foc_residual": float(o.foc_residual)}, **extra)


def records(args) -> list[dict]:
    if args.quick:
        args.Na, args.scenarios, args.T = 40, 8, 60
    if args.preset is None:
        args.preset = "two_country" if args.quick else "ek_baseline"
    extra = dict(preset=args.preset, Na=args.Na, quick=bool(args.quick))
    t0 = time.perf_counter()
    out = [stamp({"name": "import hat_jax", "compile_s": 0.0, "median_s": IMPORT_S,
                  "runs": 1}, **extra)]
    b, rec = _baseline(args, extra)
    out.append(rec)
    if "c" in args.sections:
        out.append(_scenarios(b, args, extra))
    if "d" in args.sections:
        out += _transition(b, args, extra)
    if "f" in args.sections:
        out.append(_tariff(b, args, extra))
    out.append(stamp({"name": "total", "compile_s": float("nan"),
                      "median_s": IMPORT_S + time.perf_counter() - t0, "runs": 1}, **extra))
    return out


def add_arguments(p) -> None:
    p.add_argument("--preset", default=None,
                   help="the world (default ek_baseline; two_country under --quick)")
    p.add_argument("--Na", type=int, default=100)
    p.add_argument("--scenarios", type=int, default=1000, help="K scenarios (default 1000)")
    p.add_argument("--batch", type=int, default=None, help="scenarios per block (default K)")
    p.add_argument("--T", dest="T", type=int, default=150, help="transition horizon")
    p.add_argument("--quick", action="store_true",
                   help="two_country (unless --preset), Na = 40, 8 scenarios, T = 60: "
                   "a CPU check that every section runs")
    p.add_argument("--sections", default="cdf",
                   help="c: scenarios with EV; d: transition and elasticities by horizon; "
                   "f: optimal tariff (the import and the baseline always run)")
    p.add_argument("--data-dir", dest="data_dir", default=None)


if __name__ == "__main__":
    main(records, __doc__.splitlines()[0], add_arguments, default_runs=1)
