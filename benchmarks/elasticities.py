"""Benchmark: trade elasticities of the 19-country world by AD (hat_jax._elasticities).

Economy: ``hat_jax.ek_world(PRESET, Na=NA)`` (default ``ek_baseline``), solved first
with ``EquilibriumOptions(unknown="beta")`` from the published prices (R = 1.01, beta and
18 relative wages solved to 1e-10).

(e) ``equilibrium``: that solve (one run, no warm-up; context for the numbers below).
(a) ``all 342 elasticities``: ``hat_jax._elasticities.bilateral_elasticities`` (jitted) for
    all 19 importers: every importer's household problem re-solved at the equilibrium
    prices (warm start, tolerance 1e-10), and the forward-mode derivatives with respect to
    the 19 log trade costs of each importer (one implicit-function LU per importer, shared
    by its 19 directions), giving the 19 x 19 theta_ij, every micro elasticity by state
    and the expenditure weights. Extras: the US trade-weighted mean elasticity
    ``theta_mean_USA``, the range of the 342 off-diagonal theta_ij, the largest
    Proposition-3 gap over the 342 pairs.
(b) ``micro one pair``: the same for one importer (``--importer``, default USA; 19
    directions, one LU) and the state-level elasticities with respect to one partner
    (``--partner``, default CAN), Proposition 3 rebuilt. Extras: theta_ij, the
    Proposition-3 gap, the range of theta_ij(a, z).

Every record asserts that the solves it timed converged.

    python benchmarks/elasticities.py --quick     # Na = 20, one run per record
    python benchmarks/elasticities.py             # Na = 100, 3 runs
    python benchmarks/elasticities.py --json --out benchmarks/results/elasticities.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax import _elasticities as el  # noqa: E402
from hat_jax._ek import EK_PRESETS  # noqa: E402
from hat_jax.model import household_options  # noqa: E402

from _common import load_ek_world, log, main, time_fn  # noqa: E402

QUICK_NA = 20
DEFAULT_NA = 100
DEFAULT_RUNS = 3


def solve(args, records):
    world = load_ek_world(args.preset, args.data_dir, args.Na)
    economy = world.economy
    opts = hat_jax.EquilibriumOptions(unknown="beta")
    W0, R0, beta0 = world.start("published")
    jargs = (economy, opts, hat_jax.Start(W=jnp.asarray(W0, jnp.float64),
                                          R=jnp.asarray(R0, jnp.float64),
                                          beta=jnp.asarray(beta0, jnp.float64)))
    solver = jax.jit(hat_jax.solve_equilibrium_jit, static_argnames=("throw",))
    keep = {}

    def info(eq):
        assert bool(eq.converged), f"equilibrium not converged: residual {float(eq.residual):.3e}"
        keep["eq"] = eq
        return {"iterations": int(eq.iterations), "residual": float(eq.residual),
                "beta": float(eq.beta)}

    name = f"equilibrium {args.preset} Na={economy.Na}"
    log(f"(e) {name}")
    records.append(time_fn(name, solver, *jargs, runs=1, warmup=0,
                           compile=lambda: solver.lower(*jargs, throw=False).compile(),
                           info=info, N=economy.N, Na=economy.Na, preset=args.preset))
    return keep["eq"]


def core_args(eq, rows):
    """Arguments of bilateral_elasticities for the importers ``rows`` (as
    trade_elasticities builds them)."""
    e = eq.economy
    take = lambda x: jnp.asarray(x)[np.asarray(rows)]
    problems = jax.tree_util.tree_map(take, hat_jax.model.household_problems(e, eq.W, eq.R, eq.beta))
    state0 = jax.tree_util.tree_map(take, eq.world.households.state)
    return (problems, jnp.asarray(rows), take(eq.world.distribution.lam), take(e.L),
            household_options(e), state0)


#: the jit-able core; the household options are an ordinary (dynamic) argument
BILATERAL = jax.jit(el.bilateral_elasticities)


def timed_core(name, eq, rows, runs, info, **extra):
    """Record for bilateral_elasticities on the importers ``rows`` (compile timed apart)."""
    return time_fn(name, BILATERAL, *core_args(eq, rows), runs=runs, info=info, **extra)


def prop3_gap(te_or_out, countries, rows):
    """max |Proposition 3 rebuild - AD aggregate| over the computed pairs."""
    gaps = []
    for k, i in enumerate(rows):
        for j in range(len(countries)):
            if j == i:
                continue
            rebuilt = (1.0 + np.sum(np.asarray(te_or_out.omega[k, j])
                                    * np.asarray(te_or_out.theta_I[k, j] + te_or_out.theta_E[k, j]))
                       - np.sum(np.asarray(te_or_out.omega[k, i])
                                * np.asarray(te_or_out.theta_I_home[k, j]
                                             + te_or_out.theta_E_home[k, j])))
            gaps.append(abs(rebuilt - float(te_or_out.theta[k, j])))
    return float(max(gaps))


def records(args) -> list[dict]:
    args.Na = args.na if args.na is not None else (QUICK_NA if args.quick else DEFAULT_NA)
    runs = 1 if args.quick else args.runs
    out: list[dict] = []
    eq = solve(args, out)
    e = eq.economy
    N, countries = e.N, e.countries
    imp = el.country_index(countries, args.importer, "--importer")
    par = el.country_index(countries, args.partner, "--partner")
    if imp == par:
        raise SystemExit("--importer and --partner must differ")
    extra = dict(N=N, Na=e.Na, preset=args.preset)
    usa = countries.index("USA") if "USA" in countries else imp

    def info_all(o):
        assert bool(jnp.all(o.converged)), "a household problem did not converge"
        theta = np.asarray(o.theta)
        assert np.all(np.isfinite(theta)), "non-finite elasticities"
        share = np.asarray(o.M) / np.asarray(o.M).sum(axis=1, keepdims=True)
        off = ~np.eye(N, dtype=bool)
        w = np.where(off, share, 0.0)
        mean = (theta * w).sum(axis=1) / w.sum(axis=1)
        return {"pairs": int(off.sum()), "theta_mean_USA": float(mean[usa]),
                "theta_min": float(theta[off].min()), "theta_max": float(theta[off].max()),
                "prop3_max_gap": prop3_gap(o, countries, range(N)),
                "hh_iterations": int(np.max(np.asarray(o.iterations)))}

    name = f"all {N * (N - 1)} elasticities {args.preset} Na={e.Na}"
    log(f"(a) {name}")
    out.append(timed_core(name, eq, list(range(N)), runs, info_all, **extra))

    def info_pair(o):
        assert bool(jnp.all(o.converged)), "the household problem did not converge"
        theta_s = np.asarray(o.theta_state[0, par])
        return {"pair": f"{countries[imp]}<-{countries[par]}",
                "theta_ij": float(o.theta[0, par]),
                "prop3_gap": prop3_gap(o, countries, [imp]),
                "theta_state_min": float(theta_s.min()), "theta_state_max": float(theta_s.max())}

    name = f"micro one importer ({countries[imp]}, {N} partners) {args.preset} Na={e.Na}"
    log(f"(b) {name}")
    out.append(timed_core(name, eq, [imp], runs, info_pair, **extra))

    # the public API end to end (labels, frames), for the record's numbers
    te = el.trade_elasticities(eq, countries[imp])
    st = te.states(countries[imp], countries[par])
    log(f"{countries[imp]} <- {countries[par]}: theta = {float(st.theta_aggregate):.6f}, "
        f"Proposition 3: {float(el.proposition3(st)):.6f}; {countries[imp]} trade-weighted "
        f"mean {float(te.theta_mean[0]):.6f}")
    return out


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help=f"Na = {QUICK_NA} (unless --na) and one run per record")
    parser.add_argument("--na", type=int, default=None,
                        help=f"asset grid points (default {DEFAULT_NA}, or {QUICK_NA} with --quick)")
    parser.add_argument("--preset", default="ek_baseline", choices=sorted(EK_PRESETS),
                        help="EK preset (default ek_baseline)")
    parser.add_argument("--data-dir", default=None,
                        help="data folder (default $HAT_DATA_DIR, then the copy shipped in the package)")
    parser.add_argument("--importer", default="USA", help="importer of record (b) (default USA)")
    parser.add_argument("--partner", default="CAN", help="partner of record (b) (default CAN)")


if __name__ == "__main__":
    main(records, description=__doc__.splitlines()[0], add_arguments=add_arguments,
         default_runs=DEFAULT_RUNS)
