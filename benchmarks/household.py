"""Benchmark: household block, stationary distribution and the two-country equilibrium.

Economy (sections a-c): N countries, d_ij = 2 off the diagonal, W = A = L = 1,
R = 1.01, beta = 0.92, gamma = 1.5, sigma = 0.25, phi = 0.5, amax = 8, Na = 100 asset
points, Nz = 10 productivity states (the reference income process), household
tolerance 1e-10 (sup-norm change of c and v), distribution by the direct method.

(a) ``world cold``: household problems of every country (EGM + Anderson, vmapped over
    countries) from the reference initial guess, plus the stationary distributions, in one
    jitted function, at fixed prices; N = 2 and N = 19.
(b) ``world warm``: the same re-solved from (a)'s fixed-point ``state`` after prices move,
    as inside a Newton iteration. Two moves:
      ``+1%``:      every wage W_j -> 1.01 W_j (so every delivered price p_ij = d_ij W_j / A_j
                    also rises 1%) and R -> 1.001 R = 1.01101;
      ``relative``: W_j -> 1.01 W_j for even j (0-based), 0.99 W_j for odd j (delivered prices
                    follow), R -> 1.001 R. This shares the compiled function of ``+1%``
                    (compile_s ~ 0: nothing recompiles when prices change).
    ``cold_iterations`` is the iteration count of a cold solve at the moved prices.
(c) ``distribution``: the stationary distributions alone for N = 19 from (a)'s policies,
    ``direct`` (dense LU of the (Na Nz)^2 system per country) vs ``iterate`` (forward
    iteration from uniform to sup-norm change 1e-10).
(d) ``equilibrium two_country``: ``jax.jit(solve_equilibrium_jit, static_argnames=("throw",))``
    (the options an ordinary argument, ``throw=False``) on ``hat_jax.two_country(Na=Na)`` (d = 1.745, R solved) from W = 1, R = 1 with the
    default EquilibriumOptions (tolerance 1e-10 on excess demand / world GDP).

``iterations`` is the largest iteration count over countries (a batched while_loop runs
until its slowest member converges). Every record asserts convergence.

    python benchmarks/household.py              # full grid (Na = 100), table
    python benchmarks/household.py --quick      # Na = 30 smoke test
    python benchmarks/household.py --json --out benchmarks/results/household.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (turns on x64)
from hat_jax.model import household_options  # noqa: E402
from _common import log, main, time_fn  # noqa: E402

R_BASE = 1.01
BETA = 0.92
R_MOVE = 1.001  # R -> R_BASE * R_MOVE in the warm-start benchmarks
W_MOVE = 0.01  # wages move by 1%


def symmetric_economy(N: int, Na: int) -> hat_jax.Economy:
    d = np.full((N, N), 2.0)
    np.fill_diagonal(d, 1.0)
    return hat_jax.make_economy(d, gamma=1.5, sigma=0.25, beta=BETA, phi=0.5, amax=8.0, Na=Na)


def world_fn(warm: bool):
    """Households + stationary distributions of every country at fixed prices (the
    household options an ordinary argument: a new tolerance does not recompile)."""

    def solve(economy, W, R, beta, opts, state0=None, inverses=None):
        problems = hat_jax.model.household_problems(economy, W, R, beta)
        sol = hat_jax.model.solve_households(
            problems, opts, state0=state0, throw=False,
            inverse=None if inverses is None else inverses.household)
        dist = hat_jax.model.stationary_distributions(
            sol.pi, sol.lottery_lo, sol.lottery_w, problems.P, throw=False,
            inverse=None if inverses is None else inverses.distribution)
        return sol, dist

    if warm:
        return jax.jit(solve)
    return jax.jit(lambda economy, W, R, beta, opts: solve(economy, W, R, beta, opts))


def world_info(label: str, keep: dict | None = None):
    def info(out):
        sol, dist = out
        assert bool(jnp.all(sol.converged)), (
            f"{label}: household solve did not converge: residuals {np.asarray(sol.residual)}, "
            f"iterations {np.asarray(sol.iterations)}")
        assert bool(jnp.all(dist.converged)), (
            f"{label}: distribution did not converge: residuals {np.asarray(dist.residual)}")
        if keep is not None:
            keep["out"] = out
        return {"iterations": int(jnp.max(sol.iterations)),
                "hh_residual": float(jnp.max(sol.residual)),
                "dist_residual": float(jnp.max(dist.residual))}
    return info


def bench_world(N: int, Na: int, runs: int, sections: str) -> tuple[list[dict], tuple]:
    """(a) and (b) for one N; returns the records and (a)'s output at the base prices."""
    records = []
    economy = symmetric_economy(N, Na)
    opts = household_options(economy, tol=1e-10)
    W = jnp.ones(N)
    R = jnp.asarray(R_BASE)
    beta = jnp.asarray(BETA)
    tag = f"N={N} Na={Na}"

    cold = world_fn(warm=False)
    keep: dict = {}

    def compile_cold():  # keep the executable: (b) also solves cold at the moved prices
        keep["cold_call"] = cold.lower(economy, W, R, beta, opts).compile()
        return keep["cold_call"]

    log(f"(a) world cold, {tag}")
    rec = time_fn(f"world cold {tag}", cold, economy, W, R, beta, opts, runs=runs,
                  compile=compile_cold, info=world_info(f"world cold {tag}", keep), N=N, Na=Na)
    records.append(rec)
    sol0, _ = keep["out"]

    if "b" in sections:
        warm = world_fn(warm=True)
        cold_call = keep["cold_call"]
        R1 = R * R_MOVE
        moves = {
            "+1%": W * (1.0 + W_MOVE),
            "relative": W * jnp.where(jnp.arange(N) % 2 == 0, 1.0 + W_MOVE, 1.0 - W_MOVE),
        }
        compiled: dict = {}

        def compile_warm(args):
            if "call" not in compiled:  # the second move reuses the executable
                compiled["call"] = warm.lower(*args).compile()
            return compiled["call"]

        for move, W1 in moves.items():
            log(f"(b) world warm {move}, {tag}")
            args = (economy, W1, R1, beta, opts, sol0.state)
            cold_sol, _ = jax.block_until_ready(cold_call(economy, W1, R1, beta, opts))
            name = f"world warm {move} {tag}"
            rec = time_fn(name, warm, *args, runs=runs, compile=lambda a=args: compile_warm(a),
                          info=world_info(name), cold_iterations=int(jnp.max(cold_sol.iterations)), N=N, Na=Na,
                          move=f"W*{'1.01' if move == '+1%' else '1.01/0.99 (even/odd j)'}, "
                               f"R*{R_MOVE}")
            records.append(rec)
        records += bench_inverses(economy, (W, R, beta, opts), keep, moves, R1, records, tag,
                                  runs)
    return records, keep["out"]


def bench_inverses(economy, base, keep, moves, R1, records, tag, runs) -> list[dict]:
    """(b) with the base world's inverses (hat_jax._warm): their build, then each move
    warm-started with them as chord steps; ratio to (a)'s cold run, max gaps to the
    plain warm solve."""
    W, R, beta, opts = base
    sol0, dist0 = keep["out"]
    problems = hat_jax.model.household_problems(economy, W, R, beta)
    world = hat_jax.World(problems, sol0, dist0, None)
    log(f"(b) inverses of the base world, {tag}")
    out: list[dict] = []
    inv_keep: dict = {}

    def keep_inv(inv):
        inv_keep["inv"] = inv
        return {"bytes": hat_jax.model.warm_inverse_bytes(economy.N, economy.P.shape[0], economy.Na)}
    out.append(time_fn(f"inverses build {tag}", hat_jax.model.warm_inverses, world, opts,
                       runs=1, info=keep_inv, N=economy.N, Na=economy.Na))
    cold_s = next(r["median_s"] for r in records if r["name"].startswith("world cold"))
    warm = world_fn(warm=True)
    for move, W1 in moves.items():
        plain = warm(economy, W1, R1, beta, opts, sol0.state)
        args = (economy, W1, R1, beta, opts, sol0.state, inv_keep["inv"])
        name = f"world warm {move} inverses {tag}"

        def info(o, plain=plain, name=name):
            rec = world_info(name)(o)
            rec["max_gap_c"] = float(jnp.max(jnp.abs(o[0].c - plain[0].c)))
            rec["max_gap_lam"] = float(jnp.max(jnp.abs(o[1].lam - plain[1].lam)))
            rec["dist_iterations"] = int(jnp.max(o[1].iterations))
            return rec
        log(f"(b) {name}")
        rec = time_fn(name, warm, *args, runs=runs, info=info,
                      N=economy.N, Na=economy.Na)
        rec["ratio_to_cold"] = rec["median_s"] / cold_s
        out.append(rec)
    return out


def bench_distribution(out, Na: int, runs: int) -> list[dict]:
    """(c) the distributions alone from a world solution, direct vs iterate."""
    sol, _ = out
    N = sol.pi.shape[0]
    P0 = symmetric_economy(N, Na).P
    P = jnp.broadcast_to(P0, (N,) + P0.shape)
    records = []
    for method in ("direct", "iterate"):
        log(f"(c) distribution {method}, N={N}")
        fn = jax.jit(lambda pi, lo, w, P, m=method: hat_jax.model.stationary_distributions(
            pi, lo, w, P, method=m, throw=False))

        def info(d, m=method):
            assert bool(jnp.all(d.converged)), (
                f"distribution {m} did not converge: residuals {np.asarray(d.residual)}")
            return {"iterations": int(jnp.max(d.iterations)),
                    "dist_residual": float(jnp.max(d.residual))}

        records.append(time_fn(f"distribution {method} N={N} Na={Na}", fn, sol.pi,
                               sol.lottery_lo, sol.lottery_w, P, runs=runs, info=info,
                               N=N, Na=Na))
    return records


def bench_equilibrium(Na: int, runs: int) -> list[dict]:
    """(d) two-country equilibrium, jitted core (options a dynamic argument)."""
    log(f"(d) equilibrium two_country, Na={Na}")
    economy = hat_jax.two_country(Na=Na)
    opts = hat_jax.EquilibriumOptions()
    args = (economy, opts, hat_jax.Start(W=jnp.ones(economy.N), R=jnp.asarray(1.0),
                                         beta=jnp.asarray(float(economy.beta))))
    solve = jax.jit(hat_jax.solve_equilibrium_jit, static_argnames=("throw",))

    def info(eq):
        assert bool(eq.converged), (
            f"equilibrium did not converge: residual {float(eq.residual):.3e} after "
            f"{int(eq.iterations)} Newton iterations")
        return {"iterations": int(eq.iterations), "residual": float(eq.residual),
                "R": float(eq.R), "hh_iterations_final": int(jnp.max(eq.world.households.iterations))}

    return [time_fn(f"equilibrium two_country Na={Na}", solve, *args, runs=runs,
                    compile=lambda: solve.lower(*args, throw=False).compile(), info=info,
                    N=economy.N, Na=Na)]


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="smoke test on a small grid (Na = 30)")
    parser.add_argument("--na", type=int, default=None,
                        help="asset grid points (default 100, or 30 with --quick)")
    parser.add_argument("--sections", default="abcd",
                        help="which benchmarks to run: any of a (cold world), b (warm world), "
                             "c (distribution N=19), d (two-country equilibrium); default abcd")


def records(args) -> list[dict]:
    Na = args.na if args.na is not None else (30 if args.quick else 100)
    s = args.sections
    out = []
    out19 = None
    if "a" in s or "b" in s:
        for N in (2, 19):
            recs, o = bench_world(N, Na, args.runs, s)
            out += recs
            if N == 19:
                out19 = o
    if "c" in s:
        if out19 is None:
            _, out19 = bench_world(19, Na, 1, "a")
        out += bench_distribution(out19, Na, args.runs)
    if "d" in s:
        out += bench_equilibrium(Na, args.runs)
    return out


if __name__ == "__main__":
    main(records, description=__doc__.splitlines()[0], add_arguments=add_arguments)
