"""Benchmark: cost against the number of countries N (issue 29, item 2).

Synthetic worlds of N countries (``--n``, default 19, 40, 80, 160) at ``--Na`` (default
100): countries at random points of the unit square, d_ij = 1 + 2 |p_i - p_j| (d_ii = 1),
log A uniform in [-0.3, 0.3], L uniform in [0.5, 2], the rest ``hat_jax.make_economy``'s
defaults (seed ``--seed``). Each N runs in its own process (so that ``peak_rss_gb``, the
process's peak resident memory, is that N's), measuring

- ``households``: households and stationary distributions of every country at W = 1,
  R = 1 from the cold start (:func:`hat_jax.solve_world`, jitted; compile apart);
- ``equilibrium``: the stationary equilibrium from the default guess (W = 1, R = 1, the
  cold household start; :func:`hat_jax.solve_equilibrium`; compile_s from its stats;
  from N = 40 on it first solves a 20-point grid, ``coarse_grid="auto"``: its seconds
  are included, ``coarse_run_s`` and ``coarse_iterations`` beside; ``jacobians``: the
  exact Jacobians of the given grid's Newton);
- ``jacobian``: the N x N Jacobian of the market residuals (goods j = 1..N-1, bonds) in
  (W_2..W_N, R) at the root, forward mode through the implicit derivatives (the
  library's, jitted: its directions in blocks where all at once would not fit,
  ``jacobian_block`` in the records; what one exact Newton Jacobian costs);
- ``counterfactual``: C1 cuts its import costs by 10%
  (:func:`hat_jax.welfare.counterfactual`, Newton from the baseline's Jacobian);
- ``inverses``: the baseline's warm inverses (``Baseline.with_warm_inverses``, built
  once for every experiment; ``bytes``), and ``counterfactual from inverses``: the same
  counterfactual with them (chord steps in every household and distribution solve;
  ``max_diff_W`` against the one without);

and then, over the N measured, the fitted exponent b of time = a N^b (least squares in
logs) of each: records ``exponent <what>`` (``median_s`` holds b). On this 2-core
machine with 24 GB run the large worlds one at a time; the tangent solver is chosen by
memory (``tangent_solver="auto"``: GMRES where the per-country LU factors do not fit),
and a world that runs out of memory or time is recorded with its error.

    python benchmarks/scale_n.py --quick                  # N = 3, 5 at Na = 10
    python benchmarks/scale_n.py --n 19 40 80 160 --out benchmarks/results/scale_n.json
    python benchmarks/scale_n.py --n 160 --solve-only 160   # households and equilibrium only
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hat_jax  # noqa: E402,F401  (float64 in this process too)

from _common import device_description, log, main  # noqa: E402

QUICK_N, QUICK_NA = (3, 5), 10  # a CI check that the script runs, not a measurement
WHATS = ("households", "equilibrium", "jacobian", "counterfactual", "inverses",
         "counterfactual_inverses")


def synthetic_economy(N: int, Na: int, seed: int = 0):
    """The synthetic world of N countries (module docstring)."""
    import hat_jax

    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 1.0, (N, 2))
    d = 1.0 + 2.0 * np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1)
    np.fill_diagonal(d, 1.0)
    A = np.exp(rng.uniform(-0.3, 0.3, N))
    L = rng.uniform(0.5, 2.0, N)
    return hat_jax.make_economy(d, A, L, Na=Na, countries=tuple(f"C{i + 1}" for i in range(N)))


def _timed(fn, args, runs=1):
    """(last output, compile seconds, median of ``runs`` runs) of the jitted ``fn`` at
    ``args``: compiled ahead of time (``lower().compile()``), then run. (Compile as the
    first call's time minus the median's came out negative at N = 160, where one run
    varies by more than the compile time.)"""
    import jax

    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(max(runs, 1)):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t0)
    return out, compile_s, float(np.median(times))


def one(N: int, Na: int, seed: int, runs: int, solve_only: bool = False) -> list[dict]:
    """The records of one world (run in its own process); ``solve_only``: households
    and the cold equilibrium only."""
    import jax
    import jax.numpy as jnp

    import hat_jax
    from hat_jax import model
    from hat_jax import welfare as wf
    from hat_jax._newton import value_and_jacobian

    e = synthetic_economy(N, Na, seed)
    opts = hat_jax.EquilibriumOptions().resolved(e)
    base = dict(N=N, Na=Na, tangent_solver=opts.tangent_solver, jacobian_block=opts.block)
    out = []
    log(f"N={N}, Na={Na} ({opts.tangent_solver}): households...")
    world = jax.jit(lambda e_: hat_jax.solve_world(e_, jnp.ones(N), 1.0, e_.beta, None, opts))
    w, compile_s, med = _timed(world, (e,), runs)
    out.append(dict(name="households", what="households", compile_s=compile_s,
                    median_s=med, runs=runs, **base))
    log(f"N={N}: equilibrium from the cold start...")
    eq = hat_jax.solve_equilibrium(e, opts, throw=False)
    out.append(dict(name="equilibrium", what="equilibrium", compile_s=eq.stats["compile_s"],
                    median_s=eq.stats["run_s"], runs=1, iterations=int(eq.iterations),
                    converged=bool(eq.converged), coarse_na=eq.stats.get("coarse_na", 0),
                    coarse_run_s=eq.stats.get("coarse_run_s", 0.0),
                    coarse_iterations=eq.stats.get("coarse_iterations", 0),
                    jacobians=sum(r["jacobian"] for r in model.newton_path(eq)), **base))
    if solve_only:
        return _finished(out)
    log(f"N={N}: the {N} x {N} Jacobian at the root...")
    state = eq.world.households.state

    def residuals(y):
        W = jnp.concatenate([eq.W[:1], y[:-1]])
        wd = hat_jax.solve_world(e, W, y[-1], eq.beta, state, opts)
        goods, bonds, _ = model.market_residuals(wd.aggregates, opts)
        return jnp.concatenate([goods, bonds])

    y = jnp.concatenate([eq.W[1:], jnp.atleast_1d(eq.R)])
    # the library's exact Jacobian: its directions in blocks where all at once would not
    # fit (EquilibriumOptions.jacobian_block, resolved by memory)
    jac = jax.jit(lambda y_: value_and_jacobian(lambda z: (residuals(z), None), y_,
                                                opts.block)[1])
    J, compile_s, med = _timed(jac, (y,), runs)
    out.append(dict(name="jacobian", what="jacobian", compile_s=compile_s, median_s=med,
                    runs=runs, finite=bool(np.all(np.isfinite(np.asarray(J)))), **base))
    log(f"N={N}: counterfactual (C1 cuts its import costs by 10%)...")
    b = hat_jax.Baseline.from_equilibrium(eq)
    cf = wf.counterfactual(b, hat_jax.Change.unilateral_cut(b.economy, "C1", 0.10),
                           throw=False)
    out.append(dict(name="counterfactual", what="counterfactual",
                    compile_s=cf.stats["compile_s"], median_s=cf.stats["run_s"], runs=1,
                    iterations=int(cf.new.iterations), jacobians=cf.stats["jacobians"],
                    converged=bool(cf.new.converged), **base))
    log(f"N={N}: the baseline's warm inverses and the counterfactual from them...")
    t0 = time.perf_counter()
    bi = b.with_warm_inverses()
    jax.block_until_ready(bi.inverses)
    out.append(dict(name="inverses", what="inverses", compile_s=float("nan"),
                    median_s=time.perf_counter() - t0, runs=1,
                    bytes=model.warm_inverse_bytes(N, e.Nz, Na), **base))
    cfi = wf.counterfactual(bi, hat_jax.Change.unilateral_cut(b.economy, "C1", 0.10),
                            throw=False)
    out.append(dict(name="counterfactual from inverses", what="counterfactual_inverses",
                    compile_s=cfi.stats["compile_s"], median_s=cfi.stats["run_s"], runs=1,
                    iterations=int(cfi.new.iterations), jacobians=cfi.stats["jacobians"],
                    converged=bool(cfi.new.converged),
                    max_diff_W=float(jnp.max(jnp.abs(cfi.new.W - cf.new.W))), **base))
    return _finished(out)


def _finished(out: list[dict]) -> list[dict]:
    """The records with the process's peak memory, the device and the load."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # kB -> GB
    for r in out:
        r.update(peak_rss_gb=round(peak, 3), device=device_description(),
                 load1=round(os.getloadavg()[0], 2))
    return out


def exponents(recs: list[dict]) -> list[dict]:
    """The fitted exponent b of median_s = a N^b for each measured quantity."""
    out = []
    for what in WHATS:
        pts = [(r["N"], r["median_s"]) for r in recs if r.get("what") == what
               and r.get("median_s", 0) > 0]
        if len(pts) >= 2:
            n, t = np.log(np.array(pts, float)).T
            b = float(np.polyfit(n, t, 1)[0])
            out.append(dict(name=f"exponent {what}", compile_s=float("nan"), median_s=b,
                            runs=len(pts), N=[p[0] for p in pts]))
    return out


def records(args) -> list[dict]:
    Ns, Na = (QUICK_N, QUICK_NA) if args.quick else (tuple(args.n), args.Na)
    recs = []
    for N in Ns:
        cmd = [sys.executable, __file__, "--one", str(N), "--Na", str(Na), "--seed",
               str(args.seed), "--runs", str(args.runs), "--solve-only",
               str(int(N in (args.solve_only or ())))]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            recs.append(dict(name=f"N={N} failed", compile_s=float("nan"),
                             median_s=float("nan"), runs=0, N=N, Na=Na,
                             error=f"over --timeout {args.timeout} s"))
            continue
        sys.stderr.write(p.stderr[-2000:] if p.returncode else "")
        if p.returncode:
            recs.append(dict(name=f"N={N} failed", compile_s=float("nan"),
                             median_s=float("nan"), runs=0, N=N, Na=Na,
                             error=p.stderr.strip().splitlines()[-1] if p.stderr else
                             f"exit {p.returncode}"))
            continue
        recs += json.loads(p.stdout)
    return recs + exponents(recs)


def add_arguments(p) -> None:
    p.add_argument("--n", type=int, nargs="+", default=[19, 40, 80, 160])
    p.add_argument("--Na", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help=f"N = {QUICK_N}, Na = {QUICK_NA}")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per world")
    p.add_argument("--solve-only", type=int, nargs="*", default=(), metavar="N",
                   help="for these N only the households and the cold equilibrium")


if __name__ == "__main__":
    if "--one" in sys.argv:  # one world in this process: its records as JSON on stdout
        import argparse

        a = argparse.ArgumentParser()
        for flag in ("--one", "--Na", "--seed", "--runs", "--solve-only"):
            a.add_argument(flag, type=int, default=0)
        ns = a.parse_args()
        print(json.dumps(one(ns.one, ns.Na, ns.seed, ns.runs, bool(ns.solve_only))))
    else:
        main(records, __doc__.splitlines()[0], add_arguments, default_runs=1)
