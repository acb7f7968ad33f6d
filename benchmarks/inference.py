"""Benchmark: standard errors (model.md section 16; docs/tasks/inference.md).

World: the synthetic N-country world of ``hat_jax.calibration.synthetic_problem`` (default
N = 6, Na = 20), whose data are the model's own moments at known parameters, so the
calibrated parameters are those parameters.

(a) ``calibration``: ``calibrate`` from the parameters perturbed by 0.02 (one run; compile
    excluded, done by a first calibration), the reference time of issue 28's "standard
    errors of Table 1 take at most 10% of the calibration time when G is at hand".
(b) ``table1 se (G at hand)``: ``params_inference(problem, params, G, cov)`` for each
    covariance type (V_m of the data, V_params = G^{-1} V_m G^{-T}); ``share_of_calibration``.
(c) ``jacobian G``: ``moments_and_jacobian`` at the calibrated parameters, what
    ``calibration_inference`` pays when the calibration did not leave G at hand.
(d) ``counterfactual outputs``: ``welfare.counterfactual_outputs`` of a global 10% cut
    (baseline, counterfactual, EV of every state of country 1), warm.
(e) ``counterfactual jacobian``: ``welfare.counterfactual_jacobian`` (the same plus the
    exact Jacobian in K forward directions), warm; ``ratio_to_outputs``.
(f) ``--cli``: the command as a user runs it, issue 28's "``hat counterfactual --se`` at
    most 3x the time of the run without it": synthetic tables of the same world
    (``synthetic_tables``), ``hat calibrate --data T --se hc1``, then ``hat counterfactual
    --data T --params CAL/params.csv --global-cut 0.1`` with and without ``--se CAL``,
    each a fresh process on a warm compilation cache (one untimed run each first),
    wall-clock medians and ``ratio_se`` (the target: at most 3).

    python benchmarks/inference.py                  # N = 6, Na = 20, 3 runs
    python benchmarks/inference.py --n 8 --na 30 --runs 1 --json --out benchmarks/results/inference.json
    python benchmarks/inference.py --cli --json --out benchmarks/results/inference_cli_n6_na20.json
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import hat_jax  # noqa: E402  (float64)
from hat_jax import calibration as cal  # noqa: E402
from hat_jax import welfare as wf  # noqa: E402

from _common import log, main, stamp, time_runs  # noqa: E402


def _calibration(problem, params, W, beta, args):
    opts = cal.CalibrationOptions(verbose=False)
    start = cal.Start(params + 0.02, W, beta, "perturbed")
    t0 = time.perf_counter()
    cal.calibrate(problem, start, opts)  # compiles the evaluator
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = cal.calibrate(problem, start, opts)
    run = time.perf_counter() - t0
    return r, stamp({"name": "calibration", "compile_s": max(first - run, 0.0),
                     "median_s": run, "runs": 1, "iterations": r.iterations,
                     "max_gap": r.max_gap, "N": args.n, "Na": args.na})


def _hat(argv) -> float:
    """Seconds of one ``hat`` process (python -m hat_jax.cli), failing loudly."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "hat_jax.cli", *argv], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError(f"hat {' '.join(argv)} failed ({r.returncode}):\n{r.stderr}")
    return time.perf_counter() - t0


def _cli_records(args):
    """(f): hat counterfactual with and without --se, fresh processes, warm cache."""
    folder = Path(tempfile.mkdtemp(prefix="hat-inference-"))
    tables, _ = cal.synthetic_tables(folder / "tables", N=args.n, Na=args.na)
    _hat(["calibrate", "--data", str(tables), "--se", "hc1", "--out", str(folder / "cal"),
          "--no-figure", "--quiet"])
    run = ["counterfactual", "--data", str(tables), "--params",
           str(folder / "cal" / "params.csv"), "--global-cut", "0.1", "--quiet", "--json"]
    out, med = [], {}
    for name, argv in (("hat counterfactual", run),
                       ("hat counterfactual --se", run + ["--se", str(folder / "cal")])):
        first = _hat(argv)  # compiles (or loads) its programs
        times = [_hat(argv) for _ in range(args.runs)]
        med[name] = float(np.median(times))
        out.append(stamp({"name": name, "compile_s": max(first - med[name], 0.0),
                          "median_s": med[name], "min_s": min(times), "runs": args.runs,
                          "N": args.n, "Na": args.na}))
    out[-1]["ratio_se"] = med["hat counterfactual --se"] / med["hat counterfactual"]
    return out


def records(args):
    if args.cli:
        return _cli_records(args)
    log(f"synthetic world N={args.n}, Na={args.na}...")
    problem, params, W, beta = cal.synthetic_problem(N=args.n, Na=args.na)
    r, rec_cal = _calibration(problem, params, W, beta, args)
    out = [rec_cal]
    t0 = time.perf_counter()
    _, G, _ = cal.moments_and_jacobian(r.params, problem, W0=r.W, beta0=r.beta)
    first = time.perf_counter() - t0
    _, st = time_runs(lambda: cal.moments_and_jacobian(r.params, problem, W0=r.W,
                                                       beta0=r.beta)[1], runs=args.runs)
    out.append(stamp({"name": "jacobian G", "compile_s": max(first - st["median_s"], 0.0),
                      **st, "N": args.n, "Na": args.na}))
    for cov in cal.COVARIANCE_TYPES:
        _, st = time_runs(lambda: cal.params_inference(problem, r.params, G, cov).se,
                          runs=args.runs)
        out.append(stamp({"name": f"table1 se (G at hand, {cov})", "compile_s": 0.0, **st,
                          "share_of_calibration": st["median_s"] / rec_cal["median_s"],
                          "N": args.n, "Na": args.na}))
    econ = problem.economy.replace(d=np.asarray(cal.trade_costs(cal.unpack_params(r.params),
                                                                problem.geography)))
    cut = hat_jax.Change.global_cut(econ, 0.1)
    kw = dict(start=hat_jax.Start(W=r.W, beta=r.beta), opts=cal.CALIBRATION_EQUILIBRIUM)
    t0 = time.perf_counter()
    wf.counterfactual_outputs(r.params, problem, cut, 0, **kw)
    first = time.perf_counter() - t0
    _, st = time_runs(lambda: wf.counterfactual_outputs(r.params, problem, cut, 0, **kw),
                      runs=args.runs)
    base = stamp({"name": "counterfactual outputs", "compile_s": max(first - st["median_s"], 0),
                  **st, "N": args.n, "Na": args.na})
    t0 = time.perf_counter()
    wf.counterfactual_jacobian(r.params, problem, cut, 0, **kw)
    first = time.perf_counter() - t0
    _, st = time_runs(lambda: wf.counterfactual_jacobian(r.params, problem, cut, 0, **kw)[1],
                      runs=args.runs)
    jac = stamp({"name": "counterfactual jacobian", "compile_s": max(first - st["median_s"], 0),
                 **st, "ratio_to_outputs": st["median_s"] / base["median_s"], "K": r.params.size,
                 "N": args.n, "Na": args.na})
    return out + [base, jac]


def _arguments(p):
    p.add_argument("--n", type=int, default=6, help="countries of the synthetic world (6)")
    p.add_argument("--na", type=int, default=20, help="asset grid points (20)")
    p.add_argument("--cli", action="store_true",
                   help="(f) only: hat counterfactual with and without --se (processes)")


if __name__ == "__main__":
    main(records, __doc__.splitlines()[0], _arguments, default_runs=3)
