"""Benchmark: the delta method against the parametric bootstrap (issue 28's acceptance:
ek_baseline at Na = 30, K >= 200 draws; docs/tasks/inference.md).

Input: a folder written by ``hat calibrate ek_baseline --Na 30 --se hc1 --out CAL``
(params.csv, prices.csv, inference.json). The output is the US mean EV of the global 10%
cut (``welfare.counterfactual_outputs``: the baseline with beta solved at the target R,
the counterfactual with beta fixed, the EV of every US state).

* ``--part draws``: the parameters drawn from N(params, V_params)
  (``calibration.params_draws``, seeded) and the outputs solved at each draw (the change
  given at the estimate, so a proportional cut keeps its proportion); the draws' outputs
  are appended to ``--store`` after each draw (resumable: finished draws are kept).
* ``--part delta``: the exact Jacobian (``welfare.counterfactual_jacobian``) and the
  delta-method standard errors, written to ``--store``.
* ``--part report``: bootstrap against delta method, per output and for the six distance
  parameters (for the parameters drawn from N(params, V_params) this checks the sampler
  only: their spread is V_params by construction); the ratio bootstrap / delta.

    python benchmarks/inference_bootstrap.py --cal CAL --part draws --draws 200 --store S.json
    python benchmarks/inference_bootstrap.py --cal CAL --part delta --store S.json
    python benchmarks/inference_bootstrap.py --cal CAL --part report --store S.json --json
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax import calibration as cal  # noqa: E402
from hat_jax import welfare as wf  # noqa: E402

from _common import log, main, stamp  # noqa: E402

_OUT = ("mean_ev", "acr", "R")


def _setup(args):
    folder = Path(args.cal)
    params, W, beta = cal.read_start_file(folder / "params.csv")
    inf = json.loads((folder / "inference.json").read_text())
    V = np.asarray(inf["V_params"], np.float64)
    world = hat_jax.ek_world(args.preset, params=params, Na=args.na)
    problem = cal.problem_from_world(world)
    econ = problem.economy.replace(d=np.asarray(cal.trade_costs(cal.unpack_params(params),
                                                                problem.geography)))
    cut = hat_jax.Change.global_cut(econ, args.cut)
    i = list(econ.countries).index(args.country)
    opts = cal.CALIBRATION_EQUILIBRIUM
    start = hat_jax.Start(W=W, beta=beta, R=problem.R)
    if args.start == "baseline":  # the estimate's prices, household state and Jacobian
        eq = hat_jax.solve_equilibrium(world.economy, opts, start)
        start = hat_jax.Start(W=eq.W, beta=eq.beta, R=problem.R,
                              state=eq.world.households.state, J=eq.jacobian)
    ev = wf.EVOptions(hh_tol=args.ev_hh_tol or wf.EVOptions().hh_tol)
    kw = dict(start=start, opts=opts, ev_opts=ev)
    return params, V, inf, problem, cut, i, kw


def _load(store):
    return json.loads(Path(store).read_text()) if Path(store).is_file() else {}


def _save(store, obj):
    tmp = Path(str(store) + ".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, store)


def _draws(args, setup):
    params, V, _, problem, cut, i, kw = setup
    P = cal.params_draws(params, V, args.draws, args.seed)
    obj = _load(args.store)
    rows = obj.setdefault("draws", [])
    obj.update(seed=args.seed, K=args.draws, Na=args.na, country=args.country,
               cut=args.cut, start=args.start, ev_hh_tol=kw["ev_opts"].hh_tol)
    for k in range(len(rows), args.draws):
        t0 = time.perf_counter()
        o = wf.counterfactual_outputs(P[k], problem, cut, i, estimate=params, **kw)
        rows.append({"k": k, "seconds": time.perf_counter() - t0,
                     "converged": bool(o.converged),
                     "equilibria_converged": bool(o.equilibria_converged),
                     "ev_failed": int(o.ev_failed), "ev_residual": float(o.ev_residual),
                     **{n: float(getattr(o, n)) for n in _OUT},
                     "W": np.asarray(o.W).tolist()})
        _save(args.store, obj)
        r = rows[-1]
        log(f"draw {k}: mean_ev {r['mean_ev']:.6f} ({r['seconds']:.1f} s; equilibria "
            f"{r['equilibria_converged']}, EV roots failed {r['ev_failed']}, largest "
            f"residual {r['ev_residual']:.2e})")
    return [stamp({"name": "bootstrap draws", "compile_s": rows[0]["seconds"],
                   "median_s": float(np.median([r["seconds"] for r in rows[1:] or rows])),
                   "runs": len(rows), "Na": args.na})]


def _delta(args, setup):
    params, V, _, problem, cut, i, kw = setup
    out, J, st = wf.counterfactual_jacobian(params, problem, cut, i, **kw)
    obj = _load(args.store)
    obj["delta"] = {"seconds": st["seconds"],
                    **{n: {"value": float(getattr(out, n)),
                           "se": float(cal.delta_method_se(getattr(J, n), V))}
                       for n in _OUT}}
    _save(args.store, obj)
    return [stamp({"name": "delta jacobian", "compile_s": 0.0, "median_s": st["seconds"],
                   "runs": 1, "Na": args.na})]


def _report(args, setup):
    params, V, inf, *_ = setup
    obj = _load(args.store)
    rows = [r for r in obj["draws"] if r["converged"]]
    recs = []
    for n in _OUT:
        x = np.array([r[n] for r in rows])
        b = cal.bootstrap_summary(x)
        d = obj["delta"][n]
        recs.append({"name": f"{n} ({args.country})", "compile_s": 0.0, "median_s": 0.0,
                     "runs": len(rows), "estimate": d["value"], "delta_se": d["se"],
                     "bootstrap_se": float(b["se"]), "ratio": float(b["se"]) / d["se"],
                     "low": float(b["low"]), "high": float(b["high"])})
    P = cal.params_draws(params, V, obj["K"], obj["seed"])[[r["k"] for r in rows]]
    names = inf["parameter_names"]
    for k, name in enumerate(names):
        if name.startswith("dist"):
            se_d = float(np.sqrt(V[k, k]))
            se_b = float(np.std(P[:, k], ddof=1))
            recs.append({"name": name, "compile_s": 0.0, "median_s": 0.0, "runs": len(rows),
                         "estimate": float(params[k]), "delta_se": se_d, "bootstrap_se": se_b,
                         "ratio": se_b / se_d})
    failed = [{k: r.get(k) for k in ("k", "equilibria_converged", "ev_failed", "ev_residual")}
              for r in obj["draws"] if not r["converged"]]
    for f in failed:  # reported, not silently dropped
        log(f"draw {f['k']} not converged: {f}")
    return [stamp({**r, "excluded": len(failed), "failed": failed, "Na": obj["Na"]})
            for r in recs]


def records(args):
    setup = _setup(args)
    return {"draws": _draws, "delta": _delta, "report": _report}[args.part](args, setup)


def _arguments(p):
    p.add_argument("--cal", required=True, help="folder of hat calibrate --se (Na as --na)")
    p.add_argument("--part", choices=("draws", "delta", "report"), required=True)
    p.add_argument("--store", required=True, help="JSON of the draws and the delta method")
    p.add_argument("--preset", default="ek_baseline")
    p.add_argument("--na", type=int, default=30)
    p.add_argument("--draws", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--country", default="USA")
    p.add_argument("--cut", type=float, default=0.1)
    p.add_argument("--start", choices=("baseline", "prices"), default="baseline",
                   help="each draw starts from the estimate's baseline (prices, household "
                   "state, Newton Jacobian; default) or from its prices only")
    p.add_argument("--ev-hh-tol", dest="ev_hh_tol", type=float, default=None,
                   help="household tolerance of the EV roots (default EVOptions().hh_tol)")


if __name__ == "__main__":
    main(records, __doc__.splitlines()[0], _arguments, default_runs=1)
