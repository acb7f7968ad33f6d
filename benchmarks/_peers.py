"""The peer section of benchmarks/transition.py (issue 30): sequence-jacobian 1.0.0's own
one-asset HANK example (``sequence_jacobian.examples.hank``: its blocks and calibration)
regridded to nS x nA household states (nS = 10 income states, nA = 100 or 200 assets:
1,000 and 2,000 states), T = 150, a nonlinear impulse to rstar (-25 basis points,
persistence 0.9) solved to its own tolerance (1e-9 here).

Records per grid:
- ``warm``: in one process after a first call: the steady state, the Jacobians
  (partial and H_U, factored) and the Newton of ``solve_impulse_nonlinear``;
- ``cold``: a fresh Python process (``python benchmarks/_peers.py --nS ..``) running the
  same once, wall time from outside (imports, numba compilation included).

Optional: skipped with a message when sequence-jacobian is not installed
(``pip install 'hat_jax[bench]'``).

    python benchmarks/_peers.py --nS 10 --nA 100 --T 150     # one cold run, JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

SHOCK = (-0.0025, 0.9)   # rstar impulse on impact, persistence
TOL = 1e-9


def available() -> bool:
    """Whether sequence-jacobian (and numba) import."""
    try:
        import sequence_jacobian  # noqa: F401
    except ImportError:
        return False
    return True


def _models(nS: int, nA: int):
    """(model, steady state, unknowns, targets) of the HANK example with nS x nA states."""
    from sequence_jacobian import create_model
    from sequence_jacobian.examples import hank as h

    household = h.hh.add_hetinputs([h.transfers, h.wages, h.make_grids])
    household = household.add_hetoutputs([h.labor_supply])
    model = create_model([household, h.firm, h.monetary, h.fiscal, h.mkt_clearing, h.nkpc],
                         name="One-Asset HANK")
    model_ss = create_model([household, h.firm, h.monetary, h.fiscal, h.mkt_clearing,
                             h.nkpc_ss], name="One-Asset HANK SS")
    cal = {'r': 0.005, 'rstar': 0.005, 'eis': 0.5, 'frisch': 0.5, 'B': 5.6, 'mu': 1.2,
           'rho_s': 0.966, 'sigma_s': 0.5, 'kappa': 0.1, 'phi': 1.5, 'Y': 1., 'Z': 1.,
           'pi': 0., 'nS': nS, 'amax': 150, 'nA': nA}
    t0 = time.perf_counter()
    cali = model_ss.solve_steady_state(cal, {'beta': 0.986, 'vphi': 0.8},
                                       {'asset_mkt': 0., 'NE': 1.}, solver='broyden_custom',
                                       verbose=False)
    ss = model.steady_state(cali)
    return model, ss, time.perf_counter() - t0


def run_once(nS: int, nA: int, T: int) -> dict:
    """Steady state, Jacobians and the nonlinear impulse once: timings (s) and the
    Newton's iterations' final error."""
    from sequence_jacobian.classes import FactoredJacobianDict

    model, ss, ss_s = _models(nS, nA)
    unknowns, targets = ['w', 'Y', 'pi'], ['asset_mkt', 'goods_mkt', 'nkpc_res']
    t0 = time.perf_counter()
    H_U = model.jacobian(ss, unknowns, targets, T=T)
    H_U_factored = FactoredJacobianDict(H_U, T)
    jac_s = time.perf_counter() - t0
    shock = {"rstar": SHOCK[0] * SHOCK[1] ** np.arange(T)}
    t0 = time.perf_counter()
    irf = model.solve_impulse_nonlinear(ss, unknowns, targets, shock,
                                        H_U_factored=H_U_factored, tol=TOL, verbose=False)
    newton_s = time.perf_counter() - t0
    return dict(states=nS * nA, nS=nS, nA=nA, T=T, steady_state_s=ss_s, jacobian_s=jac_s,
                newton_s=newton_s, total_s=ss_s + jac_s + newton_s,
                max_target=float(max(np.max(np.abs(irf[k])) for k in targets)))


def cold(nS: int, nA: int, T: int) -> dict:
    """``run_once`` in a fresh process: its own timings and the wall time from outside."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, __file__, "--nS", str(nS), "--nA", str(nA),
                        "--T", str(T)], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    return dict(json.loads(p.stdout.strip().splitlines()[-1]), process_s=wall)


def peer_records(T: int, states=((10, 100), (10, 200)), runs: int = 1) -> list[dict]:
    """Warm (median of ``runs`` after a first call) and cold records per grid."""
    out = []
    for nS, nA in states:
        run_once(nS, nA, T)   # compiles (numba)
        warm = [run_once(nS, nA, T) for _ in range(max(1, runs))]
        med = float(np.median([w["total_s"] for w in warm]))
        rec = dict(warm[len(warm) // 2], median_s=med, runs=len(warm), compile_s=float("nan"),
                   us_per_state_date=1e6 * med / (nS * nA * T))
        out.append(dict(rec, name=f"sequence-jacobian hank {nS * nA} warm"))
        c = cold(nS, nA, T)
        out.append(dict(c, name=f"sequence-jacobian hank {nS * nA} cold", median_s=c["process_s"],
                        runs=1, compile_s=float("nan")))
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nS", type=int, default=10)
    p.add_argument("--nA", type=int, default=100)
    p.add_argument("--T", type=int, default=150)
    a = p.parse_args()
    print(json.dumps(run_once(a.nS, a.nA, a.T)))
