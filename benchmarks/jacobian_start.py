"""Benchmark: scenarios that start Newton from the baseline's Jacobian (issue 29, item 1).

Economy: ``ek_baseline`` at ``--Na`` (default 100; ``--quick``: 20), baseline solved first
as ``hat counterfactual`` / ``hat sweep`` solve it (beta at the published R, from the
published prices; not timed), then every scenario with beta fixed and W, R solved:

(a) ``counterfactual [J]``: the USA's unilateral 10% cut by
    :func:`hat_jax.welfare.counterfactual` with ``jacobian="exact"`` (an exact Jacobian
    at the first point: the method before issue 29) and ``jacobian="baseline"`` (the
    baseline's Jacobian, Broyden-updated, the default), runs interleaved so both see the
    same load; compile_s and median_s from the result's ``stats`` (median_s: the solve,
    warm); ``iterations``, ``jacobians`` (exact Jacobians computed); the ``baseline``
    record carries ``max_diff_W`` / ``diff_R`` against the exact path (both roots within
    tol = 1e-10 of world GDP, so they differ by about the conditioning times 1e-10).
(b) ``sweep 19 [J]``: the 19 unilateral 10% cuts by :func:`hat_jax.solve_scenarios`
    (what ``hat sweep ek_baseline --every-unilateral 0.10`` runs: with ``baseline`` every
    scenario starts from the exact Jacobian at the baseline, computed once and timed
    with the sweep, ``Baseline.with_exact_jacobian``; ACR theta fixed at 4 so
    the model's elasticities are not timed), ``jacobian`` of ``--sweep-jacobians``
    (default ``baseline``; add ``exact`` for the before figure, 165 s on the quiet
    machine); compile_s: the first call minus the median; ``jacobians``: exact Jacobians
    computed, all scenarios together; ``max_diff`` (W, R, trade shares) against the first
    listed start. ``inverses``: the baseline's Jacobian and its warm inverses
    (``Baseline.with_warm_inverses``, hat_jax._warm: chord steps for every household and
    distribution solve), both built once and timed with the sweep.

    (a) also times ``counterfactual [inverses]``, from the baseline's Jacobian and its
    inverses (their build, ``inverses build``, once and apart: it serves every experiment).

    python benchmarks/jacobian_start.py --runs 3                 # Na = 100
    python benchmarks/jacobian_start.py --quick --runs 1          # Na = 20
    python benchmarks/jacobian_start.py --sweep-jacobians baseline,exact --out r.json
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax import scenarios as sc  # noqa: E402
from hat_jax import welfare as wf  # noqa: E402

from _common import load_ek_world, log, main, stamp  # noqa: E402

COUNTRY, CUT = "USA", 0.10


def _baseline(args):
    Na = 20 if args.quick else args.Na
    world = load_ek_world("ek_baseline", args.data_dir, Na)
    W0, R0, b0 = world.start("published")
    log(f"baseline: ek_baseline, N={world.economy.N}, Na={Na} (beta at R={R0})...")
    eq = hat_jax.solve_equilibrium(world.economy, hat_jax.EquilibriumOptions(unknown="beta"),
                                   hat_jax.Start(W=W0, R=R0, beta=b0))
    return hat_jax.Baseline.from_equilibrium(eq), Na


def _counterfactuals(b, runs: int, extra: dict) -> list[dict]:
    change = hat_jax.Change.unilateral_cut(b.economy, COUNTRY, CUT)
    t0 = time.perf_counter()
    bi = b.with_warm_inverses()
    jax.block_until_ready(bi.inverses)
    build = time.perf_counter() - t0
    times = {"exact": [], "baseline": [], "inverses": []}
    comp, last = {}, {}
    for _ in range(max(1, runs)):  # interleaved: the same load for all
        for j in times:
            cf = (wf.counterfactual(bi, change) if j == "inverses"
                  else wf.counterfactual(b, change, jacobian=j))
            comp.setdefault(j, cf.stats["compile_s"])
            times[j].append(cf.stats["run_s"])
            last[j] = cf
    out = [stamp({"name": "inverses build", "compile_s": None, "median_s": build,
                  "runs": 1, "bytes": hat_jax.model.warm_inverse_bytes(b.N, b.economy.Nz,
                                                                       b.economy.Na)}, **extra)]
    for j, t in times.items():
        new = last[j].new
        rec = {"name": f"counterfactual [{j}]", "compile_s": comp[j],
               "median_s": float(np.median(t)), "min_s": float(np.min(t)), "runs": len(t),
               "iterations": int(new.iterations), "jacobians": last[j].stats["jacobians"],
               "residual": float(new.residual), "jacobian": j}
        if j != "exact":
            ref = last["exact"].new
            rec["max_diff_W"] = float(np.max(np.abs(np.asarray(new.W) - np.asarray(ref.W))))
            rec["diff_R"] = float(abs(float(new.R) - float(ref.R)))
        out.append(stamp(rec, **extra))
    return out


def _sweep(b, jacobian: str, runs: int):
    """The 19 cuts as ``hat sweep`` solves them (with ``baseline``: from the exact
    Jacobian at the baseline, ``Baseline.with_exact_jacobian``, its time included)."""
    s = sc.unilateral_scenarios(b.economy, CUT)

    def call():
        bb = b.with_exact_jacobian() if jacobian != "exact" else b
        if jacobian == "inverses":  # and the baseline's Jacobian
            return hat_jax.solve_scenarios(bb.with_warm_inverses(), s, theta=4.0)
        return hat_jax.solve_scenarios(bb, s, theta=4.0, jacobian=jacobian)

    t0 = time.perf_counter()
    res = call()
    first, times = time.perf_counter() - t0, []
    for _ in range(max(0, runs - 1)):
        t0 = time.perf_counter()
        res = call()
        times.append(time.perf_counter() - t0)
    med = float(np.median(times)) if times else first
    return {"compile_s": max(first - med, 0.0) if times else None, "median_s": med,
            "min_s": float(np.min(times)) if times else first, "runs": max(1, len(times))}, res


def records(args) -> list[dict]:
    b, Na = _baseline(args)
    extra = dict(preset="ek_baseline", N=b.N, Na=Na)
    out = []
    if "a" in args.sections:
        log("(a) one counterfactual, exact and baseline Jacobian...")
        out += _counterfactuals(b, args.runs, extra)
    if "b" in args.sections:
        results = {}
        for j in args.sweep_jacobians.split(","):
            log(f"(b) 19 unilateral cuts, jacobian={j}...")
            rec, res = _sweep(b, j, args.runs)
            results[j] = res
            rec.update(name=f"sweep {res.K} [{j}]", jacobian=j, K=res.K,
                       converged=int(res.converged.sum()), jacobians=res.stats["jacobians"],
                       iterations_total=int(res.iterations.sum()),
                       iterations_max=int(res.iterations.max()))
            if len(results) >= 2:
                a, c = list(results.values())[0], res
                rec.update(max_diff_W=float(np.nanmax(np.abs(a.W - c.W))),
                           max_diff_R=float(np.nanmax(np.abs(a.R - c.R))),
                           max_diff_shares=float(np.nanmax(np.abs(a.trade_shares
                                                                  - c.trade_shares))),
                           max_residual=float(np.nanmax(c.residual)))
                rec["max_diff"] = max(rec["max_diff_W"], rec["max_diff_R"],
                                      rec["max_diff_shares"])
            out.append(stamp(rec, **extra))
    return out


def add_arguments(p) -> None:
    p.add_argument("--Na", type=int, default=100)
    p.add_argument("--quick", action="store_true", help="Na = 20")
    p.add_argument("--sections", default="ab", help="a: one counterfactual; b: the sweep")
    p.add_argument("--sweep-jacobians", dest="sweep_jacobians", default="baseline",
                   help="starts of the sweep, comma-separated: baseline, exact, inverses "
                        "(the baseline's Jacobian and its warm inverses, both timed)")
    p.add_argument("--data-dir", dest="data_dir", default=None)


if __name__ == "__main__":
    main(records, __doc__.splitlines()[0], add_arguments, default_runs=3)
