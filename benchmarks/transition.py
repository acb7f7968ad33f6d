"""Benchmark: perfect-foresight transitions (hat_jax.transition, issue 14).

Economies: ``two_country`` and ``ek_baseline`` (19 countries; beta solved at R = 1.01
from the published prices), Na = 100 by default, T = 150, a global 10% cut of every
international trade cost (permanent, at t = 0).

Records per economy:
- ``jacobian``: the stationary sequence-space Jacobian (N T x N T) at the terminal
  equilibrium by the fake-news algorithm (``hat_jax.transition.stationary_jacobian``);
- ``newton``: the quasi-Newton solve of the path with that Jacobian (from the constant
  terminal path to max |residual| / GDP <= 1e-9), iterations in ``iterations``;
- ``transition``: the whole ``solve_transition`` call (initial and terminal stationary
  equilibria, Jacobian, Newton), warm;
- ``second_transition``: another shock of the same shape (a global 8% cut) with the
  first transition's ``cache`` (issue 30): the initial equilibrium and the Jacobian
  reused, the new terminal solved warm, quasi-Newton with the 10% cut's Jacobian;
- ``second_same_terminal``: the 10% cut announced for date 10, with the cache (both
  endpoints and the Jacobian reused: the Newton alone);
- with ``--linear``: ``sequence_jacobian``, the public G (inputs log_d and A, every
  output; economies with ``scale_by_tfp=False``), first call and warm median;
- with ``--batch K``: ``batch``, ``solve_transitions`` of K global cuts (1% to 15%) with
  the first transition's cache, against ``one`` (the first of them alone, same cache):
  the ratio batch / one in ``ratio``, and ``max_gap_vs_one`` (batch against
  one-at-a-time solves of 5 of the K, to ``--batch-tol``, default 1e-12);
- with ``--elasticities`` (or only it: ``--elasticities-only``):
  ``elasticity_by_horizon``, the trade elasticity of the first country (two_country) /
  USA (ek) by horizon, every partner (fixed prices, GE, the time-series estimate),
  including the stationary sequence-space Jacobian, first call and warm median, and a
  table of the trade-weighted means.

- with ``--peers``: sequence-jacobian 1.0.0's own HANK example at 1,000 and 2,000
  household states, T = 150, warm and cold (a fresh process), in the same run
  (``benchmarks/_peers.py``), and the ratios of hat_jax's warm transition and second
  transition (per state-date: N Na Nz states) to the peer's warm solve; skipped with a
  message when sequence-jacobian is not installed (``pip install 'hat_jax[bench]'``).

    python benchmarks/transition.py --quick        # Na = 20 for EK, Na = 40 two-country
    python benchmarks/transition.py                # Na = 100, T = 150
    python benchmarks/transition.py --economies two_country --na 100 --runs 3
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from _common import load_ek_world, log, main  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax import transition as tn  # noqa: E402
from hat_jax import welfare as wf  # noqa: E402

HORIZONS = (0, 1, 2, 5, 10, 20)


def _baseline(name: str, Na: int, data_dir):
    if name.startswith("ek_"):
        world = load_ek_world(name, data_dir, Na)
        W0, R0, beta0 = world.start("published")
        opts = hat_jax.EquilibriumOptions(unknown="beta")
        return hat_jax.solve_equilibrium(world.economy, opts, hat_jax.Start(W=W0, R=R0,
                                                                            beta=beta0))
    return hat_jax.solve_equilibrium(hat_jax.preset(name, Na=Na))


def _median(fn, runs):
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times)), float(min(times))


def records(args) -> list[dict]:
    out = []
    for name in args.economies.split(","):
        Na = args.Na if args.Na is not None else (20 if args.quick and name.startswith("ek_")
                                                  else 40 if args.quick else 100)
        log(f"{name}: Na={Na}, T={args.T}: baseline...")
        eq = _baseline(name, Na, args.data_dir)
        d, _ = wf.global_cut(eq.economy, 0.1)
        extra = dict(economy=name, N=eq.economy.N, Na=Na, Nz=int(np.size(eq.economy.z)),
                     T=args.T,
                     load1=os.getloadavg()[0])
        if args.elasticities_only:
            opts = tn.TransitionOptions()
            base = hat_jax.Baseline.from_equilibrium(eq)
            initial, _ = tn.endpoint_equilibria(base, tn.stationary_shock(
                base.economy, args.T), opts)[1:]
            out.append(_elasticity_record(initial, args, extra))
            continue
        log("  first transition (compiles)...")
        t0 = time.perf_counter()
        tr = tn.solve_transition(eq, d=d, horizon=args.T, verbose=True, throw=False)
        first = time.perf_counter() - t0
        opts = tn.TransitionOptions()
        jac, med, mn = _median(lambda: tn.stationary_jacobian(tr.terminal, args.T, opts),
                               args.runs)
        out.append(dict(name=f"{name} jacobian", compile_s=float("nan"), median_s=med,
                        min_s=mn, runs=args.runs, **extra))
        res, med, mn = _median(lambda: tn.solve_transition(eq, d=d, horizon=args.T, jacobian=jac,
                                                           throw=False), args.runs)
        newton_s = res.stats["newton_s"]
        out.append(dict(name=f"{name} newton", compile_s=float("nan"), median_s=newton_s,
                        runs=1, iterations=res.iterations, residual=res.residual,
                        terminal_gap=res.terminal_gap, **extra))
        res, med, mn = _median(lambda: tn.solve_transition(eq, d=d, horizon=args.T, throw=False),
                               args.runs)
        out.append(dict(name=f"{name} transition", compile_s=first - med, median_s=med,
                        min_s=mn, runs=args.runs, iterations=res.iterations,
                        jacobians=res.jacobians, residual=res.residual,
                        terminal_gap=res.terminal_gap, first_call_s=first,
                        **{k: float(v) for k, v in res.stats.items() if k.endswith("_s")},
                        **extra))
        out.extend(_second_records(eq, tr, name, args, extra))
        if args.batch:
            out.extend(_batch_records(eq, tr, name, args, extra))
        if args.linear:
            out.append(_linear_record(eq, tr, name, args, extra))
        if args.elasticities:
            out.append(_elasticity_record(tr.initial, args, extra))
    if args.peers:
        out.extend(_peer_records(out, args))
    return out


def _second_records(eq, tr, name, args, extra):
    """Warm second transitions from ``tr.cache`` (issue 30): another cut (8%), and the
    same 10% cut announced for date 10 (same terminal)."""
    d8, _ = wf.global_cut(eq.economy, 0.08)
    shocks = {"second_transition": tn.shock_path(tr.economy, None, args.T, d=d8),
              "second_same_terminal": tn.shock_path(tr.economy, None, args.T,
                                                    d=tr.shock.fields["d"][-1],
                                                    announce=min(10, args.T - 1))}
    out = []
    for label, shock in shocks.items():
        log(f"  {label} (cache of the first)...")
        run = lambda: tn.solve_transition(eq, shock, cache=tr.cache, throw=False)
        run()  # compiles whatever is new (a warm-started terminal solve)
        res, med, mn = _median(run, args.runs)
        out.append(dict(name=f"{name} {label}", compile_s=float("nan"), median_s=med,
                        min_s=mn, runs=args.runs, iterations=res.iterations,
                        jacobians=res.jacobians, residual=res.residual,
                        terminal_gap=res.terminal_gap,
                        **{k: float(v) for k, v in res.stats.items() if k.endswith("_s")},
                        **extra))
    return out


def _batch_records(eq, tr, name, args, extra):
    """K global cuts as one batch (``solve_transitions``) against the first alone, both
    from ``tr.cache`` (terminals solved once beforehand: the Newton parts compared), to
    residuals of ``--batch-tol`` of GDP; ``max_gap_vs_one``: the largest gap of W, R_next
    and trade shares at any date between the batch and one-at-a-time solves of
    ``gap_sample`` shocks spread over the K (issue 30: <= 1e-10)."""
    K = args.batch
    opts = tn.TransitionOptions(tol=args.batch_tol)
    changes = [hat_jax.Change.global_cut(eq.economy, c) for c in np.linspace(0.01, 0.15, K)]
    log(f"  {K} transitions batched (first call compiles)...")
    first = tn.solve_transitions(eq, changes, args.T, cache=tr.cache, opts=opts, throw=False)
    run = lambda: tn.solve_transitions(eq, changes, args.T, cache=tr.cache, opts=opts,
                                       throw=False)
    res, med, mn = _median(run, args.runs)
    alone = lambda k: tn.solve_transition(eq, changes[k], horizon=args.T, cache=tr.cache,
                                          terminal=first.terminals[k], opts=opts, throw=False)
    alone(0)
    _, med1, mn1 = _median(lambda: alone(0), args.runs)
    sample = np.unique(np.linspace(0, K - 1, min(K, 5)).astype(int))
    gap = 0.0
    for k in sample:
        one, p = alone(int(k)), res.path
        for a, b in ((p.W[k], one.path.W), (p.R_next[k], one.path.R_next),
                     (p.trade_shares[k], one.path.trade_shares)):
            gap = max(gap, float(np.max(np.abs(np.asarray(a) - np.asarray(b)))))
    log(f"  batch of {K}: {med:.2f} s, one: {med1:.2f} s, ratio {med / med1:.1f}; "
        f"max gap vs one-at-a-time ({len(sample)} shocks) {gap:.2e}")
    return [dict(name=f"{name} batch", K=K, compile_s=float("nan"), median_s=med, min_s=mn,
                 runs=args.runs, converged=int(res.converged.sum()),
                 iterations=int(res.iterations.max()), ratio=med / med1, tol=args.batch_tol,
                 max_gap_vs_one=gap, gap_sample=len(sample),
                 **{k: float(v) for k, v in res.stats.items()}, **extra),
            dict(name=f"{name} one", compile_s=float("nan"), median_s=med1, min_s=mn1,
                 runs=args.runs, tol=args.batch_tol, **extra)]


def _linear_record(eq, tr, name, args, extra):
    """The public G of ``sequence_jacobian`` (both inputs, every output)."""
    econ = eq.economy
    if econ.scale_by_tfp:
        eq = hat_jax.solve_equilibrium(econ.replace(scale_by_tfp=False))
        tr = None
    log("  sequence_jacobian (first call)...")
    t0 = time.perf_counter()
    tn.sequence_jacobian(eq, horizon=args.T, cache=tr)
    first = time.perf_counter() - t0
    _, med, mn = _median(lambda: tn.sequence_jacobian(eq, horizon=args.T, cache=tr).G,
                         args.runs)
    return dict(name=f"{name} sequence_jacobian", compile_s=first - med, median_s=med,
                min_s=mn, runs=args.runs, first_call_s=first, **extra)


def _elasticity_record(initial, args, extra):
    """horizon_elasticities of USA (ek) / the first country, every partner, including the
    stationary sequence-space Jacobian at ``initial``: first call and warm median."""
    i = "USA" if "USA" in initial.economy.countries else 0
    log(f"  elasticity by horizon of {i} (first call)...")
    t0 = time.perf_counter()
    tn.horizon_elasticities(initial, i, horizon=args.T, rho=0.9)
    first = time.perf_counter() - t0
    log("  elasticity by horizon (warm)...")
    he, med, mn = _median(lambda: tn.horizon_elasticities(initial, i, horizon=args.T, rho=0.9),
                          args.runs)
    fp, ge = he.mean("fixed_prices"), he.mean("general_equilibrium")
    table = {f"h{h}": (float(fp[h]), float(ge[h])) for h in HORIZONS if h < args.T}
    table["long_run"] = (float(he.mean("limit_fixed_prices")), float(he.mean("long_run")))
    table["time_series"] = float(he.mean("time_series"))
    table["time_series_population"] = float(he.mean("time_series_population"))
    log(f"  elasticity by horizon (fixed prices, GE): {table}")
    return dict(name=f"{extra['economy']} elasticity_by_horizon", compile_s=first - med,
                median_s=med, min_s=mn, runs=args.runs, first_call_s=first,
                partners=len(he.partners), table=table, **extra)


def _peer_records(out, args):
    """The peer section: sequence-jacobian's HANK at 1,000 and 2,000 states, warm and cold,
    with the ratios to hat_jax's records of this run printed (per state-date)."""
    import _peers

    if not _peers.available():
        log("peers: sequence-jacobian is not installed (pip install 'hat_jax[bench]'): "
            "the peer section is skipped")
        return []
    log("peers: sequence-jacobian 1.0.0 HANK example (warm, then a cold process)...")
    peers = _peers.peer_records(args.T, runs=args.runs)
    for r in peers:
        r["load1"] = os.getloadavg()[0]
    ours = {r["name"]: r for r in out}
    for r in peers:
        if not r["name"].endswith("warm"):
            continue
        for mine in ("two_country transition", "two_country second_transition"):
            if mine in ours:
                m = ours[mine]
                per = m["median_s"] / (m["N"] * m["Na"] * m["Nz"] * m["T"])
                peer = r["median_s"] / (r["states"] * r["T"])
                r[f"ratio_{mine.split()[1]}"] = per / peer
                log(f"  {mine} per state-date / {r['name']} per state-date: {per / peer:.2f}")
    return peers


def add_arguments(p):
    p.add_argument("--economies", default="two_country,ek_baseline")
    p.add_argument("--na", dest="Na", type=int, default=None)
    p.add_argument("--T", dest="T", type=int, default=150)
    p.add_argument("--quick", action="store_true", help="small grids, one run")
    p.add_argument("--batch", type=int, default=0, metavar="K",
                   help="also K transitions batched (solve_transitions) against one")
    p.add_argument("--batch-tol", dest="batch_tol", type=float, default=1e-12,
                   help="path tolerance of the --batch records (default 1e-12, so that "
                   "batch and one-at-a-time agree to 1e-10)")
    p.add_argument("--linear", action="store_true",
                   help="also the public sequence_jacobian G (inputs log_d and A)")
    p.add_argument("--elasticities", action="store_true",
                   help="also the elasticity by horizon (US for ek)")
    p.add_argument("--elasticities-only", dest="elasticities_only", action="store_true",
                   help="only the elasticity by horizon (no transition records)")
    p.add_argument("--peers", action="store_true",
                   help="also sequence-jacobian's HANK example at 1,000 and 2,000 states, "
                   "warm and cold (skipped if not installed)")
    p.add_argument("--data-dir", dest="data_dir", default=os.environ.get("HAT_DATA_DIR"))


def records_fn(args):
    if args.quick:
        args.runs = 1
    return records(args)


if __name__ == "__main__":
    main(records_fn, description=__doc__.split("\n\n")[0], add_arguments=add_arguments,
         default_runs=1)
