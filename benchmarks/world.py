"""Benchmark: the 19-country Eaton-Kortum world (excess demands, Jacobian, equilibrium).

Economy: ``hat_jax.ek_world(PRESET, Na=NA)`` (default ``ek_baseline``: gamma 1.45,
sigma 0.33, psi_slope 0.725, phi 0.5, amax 8, Nz = 10), 19 countries, equilibrium
options ``EquilibriumOptions(unknown="beta")`` (R fixed at the target 1.01, beta and 18
relative wages solved; tolerances 1e-10, distribution by forward iteration). "Published
prices" are the preset's published wages and beta (``world.start("published")``); they
are the equilibrium at Na = 100 only.

(a) ``residual``: one evaluation of the 19 excess demands, the jitted
    ``hat_jax._equilibrium.excess_demands`` (households of every country, stationary
    distributions, aggregates, market residuals) at the published prices:
      ``cold``:       household state = the reference initial guess (as in Newton's first
                      iteration);
      ``warm``:       from the household state solved at these very prices (as in the last
                      Newton iterations, when steps are tiny);
      ``warm moved``: from that state after the wages move W_j -> W_j * 1.01 (even j) or
                      * 0.99 (odd j, 0-based), beta unchanged (as in an early Newton step).
    All three share one compiled function (the state is an argument).
(b) ``jacobian``: ``value_and_jacobian`` of (a) (the 19 x 19 Jacobian by forward mode, one
    primal evaluation), jitted; ``cold`` and ``warm`` as in (a), one compiled function.
(c) ``equilibrium published``: ``jax.jit(solve_equilibrium_jit, static_argnames=("opts",
    "throw"))`` from the published prices (W0 published, R = 1.01, beta0 published).
(d) ``equilibrium cold``: the same compiled function from W = 1, beta = 0.95 / R
    (``world.start("cold")``); its compile_s is ~0.

Records (a, b) carry ``max_excess_demand`` (max |excess demand| / world GDP at the
evaluated prices; not small at Na != 100) and (b) ``cond_J``; (c, d) carry Newton
``iterations``, ``residual`` and the solved ``beta``. Every record asserts convergence of
what it timed (the inner household and distribution solves for a/b, the equilibrium for
c/d). ``compile_s`` is ~0 for records that reuse an earlier record's executable.
The equilibrium records (c, d) take no untimed warm-up call (one solve is long).

    python benchmarks/world.py --quick       # Na = 20, one run per record (minutes)
    python benchmarks/world.py               # Na = 100, 3 runs (long: tens of minutes on 2 cores)
    python benchmarks/world.py --na 50 --sections ab --runs 5
    python benchmarks/world.py --json --out benchmarks/results/world.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax._ek import EK_PRESETS  # noqa: E402
from hat_jax._equilibrium import decode, encode, excess_demands, value_and_jacobian  # noqa: E402
from hat_jax._household import initial_state  # noqa: E402
from hat_jax._params import household_options  # noqa: E402

from _common import load_ek_world, log, main, time_fn  # noqa: E402

QUICK_NA = 20
DEFAULT_NA = 100
DEFAULT_RUNS = 3
W_MOVE = 0.01


def build(args):
    return load_ek_world(args.preset, args.data_dir, args.Na)


def cold_state(economy, x, opts, R):
    """The reference initial household guess at the prices x (what a cold solve uses)."""
    W, Rx, beta = decode(x, economy, opts, R)
    probs = hat_jax.model.household_problems(economy, W, Rx, beta)
    hopts = household_options(economy)
    return jax.vmap(initial_state, in_axes=(0, None))(probs, hopts)


def residual_info(label, keep=None):
    def info(out):
        r, (state, ok) = out
        assert bool(ok), f"{label}: a household or distribution solve did not converge"
        if keep is not None:
            keep["state"] = state
        return {"max_excess_demand": float(jnp.max(jnp.abs(r)))}
    return info


def jacobian_info(label):
    def info(out):
        r, J, (_, ok) = out
        assert bool(ok), f"{label}: a household or distribution solve did not converge"
        assert bool(jnp.all(jnp.isfinite(J))), f"{label}: non-finite Jacobian"
        return {"max_excess_demand": float(jnp.max(jnp.abs(r))),
                "cond_J": float(np.linalg.cond(np.asarray(J)))}
    return info


def bench_residual(world, opts, runs, sections) -> list[dict]:
    """(a) and (b): excess demands and their Jacobian at the published prices."""
    economy = world.economy
    N, Na = economy.N, economy.Na
    W0, R0, beta0 = world.start("published")
    R = jnp.asarray(R0, jnp.float64)
    x = encode(jnp.asarray(W0), R, jnp.asarray(beta0), economy, opts)
    s_cold = cold_state(economy, x, opts, R)
    tag = f"{world.name} Na={Na}"
    extra = dict(N=N, Na=Na, preset=world.name)
    records = []
    compiled: dict = {}

    def compile_once(key, fn, args):
        def go():
            if key not in compiled:  # later records reuse the executable (compile_s ~ 0)
                compiled[key] = fn.lower(*args).compile()
            return compiled[key]
        return go

    resid = jax.jit(lambda x, economy, R, s: excess_demands(x, economy, opts, R, s))
    keep: dict = {}  # the household state solved at the published prices (warm start)
    if "a" in sections:
        name = f"residual cold {tag}"
        log(f"(a) {name}")
        args = (x, economy, R, s_cold)
        records.append(time_fn(name, resid, *args, runs=runs,
                               compile=compile_once("a", resid, args),
                               info=residual_info(name, keep), **extra))
    else:
        log(f"solving households at the published prices ({tag}) for the warm start")
        out = jax.block_until_ready(resid(x, economy, R, s_cold))
        residual_info("warm-start state", keep)(out)
    s_warm = keep["state"]

    if "a" in sections:
        W1 = jnp.asarray(W0) * jnp.where(jnp.arange(N) % 2 == 0, 1.0 + W_MOVE, 1.0 - W_MOVE)
        x_moved = encode(W1, R, jnp.asarray(beta0), economy, opts)
        for label, xx in (("warm", x), ("warm moved", x_moved)):
            name = f"residual {label} {tag}"
            log(f"(a) {name}")
            args = (xx, economy, R, s_warm)
            records.append(time_fn(name, resid, *args, runs=runs,
                                   compile=compile_once("a", resid, args),
                                   info=residual_info(name), **extra))

    if "b" in sections:
        jac = jax.jit(lambda x, economy, R, s: value_and_jacobian(
            lambda y: excess_demands(y, economy, opts, R, s), x))
        for label, s in (("cold", s_cold), ("warm", s_warm)):
            name = f"jacobian {label} {tag}"
            log(f"(b) {name}")
            args = (x, economy, R, s)
            records.append(time_fn(name, jac, *args, runs=runs,
                                   compile=compile_once("b", jac, args),
                                   info=jacobian_info(name), **extra))
    return records


def bench_equilibrium(world, opts, runs, sections) -> list[dict]:
    """(c) and (d): the full equilibrium solve from the published and a cold start."""
    economy = world.economy
    tag = f"{world.name} Na={economy.Na}"
    solve = jax.jit(lambda economy, start, opts, throw: hat_jax.solve_equilibrium_jit(
        economy, opts, start, throw), static_argnames=("opts", "throw"))
    compiled: dict = {}
    records = []
    for sec, start in (("c", "published"), ("d", "cold")):
        if sec not in sections:
            continue
        W0, R0, beta0 = world.start(start)
        args = (economy, hat_jax.Start(W=jnp.asarray(W0, jnp.float64),
                                       R=jnp.asarray(R0, jnp.float64),
                                       beta=jnp.asarray(beta0, jnp.float64)))

        def compile_eq(a=args):
            if "eq" not in compiled:  # (d) reuses (c)'s executable
                compiled["eq"] = solve.lower(*a, opts=opts, throw=False).compile()
            return compiled["eq"]

        name = f"equilibrium {start} {tag}"

        def info(eq, name=name):
            assert bool(eq.converged), (
                f"{name}: not converged: residual {float(eq.residual):.3e} after "
                f"{int(eq.iterations)} Newton iterations")
            return {"iterations": int(eq.iterations), "residual": float(eq.residual),
                    "beta": float(eq.beta),
                    "hh_iterations_final": int(jnp.max(eq.world.households.iterations))}

        log(f"({sec}) {name}")
        records.append(time_fn(name, solve, *args, runs=runs, warmup=0, compile=compile_eq,
                               info=info, N=economy.N, Na=economy.Na, preset=world.name,
                               start=start))
    return records


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: Na = {QUICK_NA} (unless --na) and one run per "
                             "record (overrides --runs)")
    parser.add_argument("--na", type=int, default=None,
                        help=f"asset grid points (default {DEFAULT_NA}, or {QUICK_NA} with --quick)")
    parser.add_argument("--preset", default="ek_baseline", choices=sorted(EK_PRESETS),
                        help="EK preset (default ek_baseline)")
    parser.add_argument("--data-dir", default=None,
                        help="data folder (default $HAT_DATA_DIR, then the copy shipped in the package)")
    parser.add_argument("--sections", default="abcd",
                        help="which benchmarks to run: any of a (excess demands), b (Jacobian), "
                             "c (equilibrium from published prices), d (from a cold start); "
                             "default abcd")


def records(args) -> list[dict]:
    args.Na = args.na if args.na is not None else (QUICK_NA if args.quick else DEFAULT_NA)
    runs = 1 if args.quick else args.runs
    s = args.sections
    unknown = set(s) - set("abcd")
    if unknown:
        raise SystemExit(f"--sections: unknown section(s) {sorted(unknown)}; use letters from 'abcd'")
    world = build(args)
    opts = hat_jax.EquilibriumOptions(unknown="beta")
    out = []
    if "a" in s or "b" in s:
        out += bench_residual(world, opts, runs, s)
    if "c" in s or "d" in s:
        out += bench_equilibrium(world, opts, runs, s)
    return out


if __name__ == "__main__":
    main(records, description=__doc__.splitlines()[0], add_arguments=add_arguments,
         default_runs=DEFAULT_RUNS)
