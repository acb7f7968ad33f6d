"""The benchmark scripts that a test keeps from rotting (issue 29): ``benchmarks/gpu.py
--quick`` (the cluster user's table on the CPU) and ``benchmarks/scale_n.py --quick``
(cost against the number of countries), each in a subprocess, its JSON checked."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script, *argv, timeout=3000):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *argv],
                         env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def test_gpu_benchmark_quick(tmp_path):
    """Every record of the cluster table is there, converged, with device and load
    (``--quick``: the two-country preset on the test suite's grid and horizon)."""
    recs = {r["name"]: r for r in _run("gpu.py", "--quick", "--json", "--out",
                                       str(tmp_path / "gpu.json"))}
    assert json.loads((tmp_path / "gpu.json").read_text())
    for name in ("import hat_jax", "baseline", "scenarios 8 with EV", "transition",
                 "elasticities by horizon", "optimal tariff", "total"):
        assert name in recs, sorted(recs)
        assert recs[name]["device"].startswith("cpu") and recs[name]["median_s"] > 0
        assert recs[name]["preset"] == "two_country" and recs[name]["Na"] == 40
    sc = recs["scenarios 8 with EV"]
    assert sc["converged"] == 8 and sc["ev_converged"] == 8
    assert recs["transition"]["converged"] and recs["optimal tariff"]["converged"]
    ge = recs["elasticities by horizon"]["ge_mean"]
    assert ge["h0"] < 0 and ge["long_run"] < 0  # imports fall when their cost rises
    assert 0 < recs["optimal tariff"]["tariff_pct"] < 100
    parts = sum(r["median_s"] for n, r in recs.items() if n != "total")
    assert recs["total"]["median_s"] >= 0.99 * parts


def test_scale_n_quick():
    """Two small synthetic worlds, each in its own process: every quantity measured,
    the equilibria and counterfactuals converged (the one from the warm inverses equal
    to the one without), an exponent fitted for each."""
    recs = _run("scale_n.py", "--quick", "--json")
    whats = ("households", "equilibrium", "jacobian", "counterfactual", "inverses",
             "counterfactual_inverses")
    for N in (3, 5):
        mine = {r["what"]: r for r in recs if r.get("N") == N and "what" in r}
        assert set(mine) == set(whats), recs
        assert mine["equilibrium"]["converged"] and mine["counterfactual"]["converged"]
        assert mine["jacobian"]["finite"] and mine["households"]["peak_rss_gb"] > 0
        cfi = mine["counterfactual_inverses"]
        assert cfi["converged"] and cfi["max_diff_W"] <= 1e-9
        assert mine["inverses"]["bytes"] == 4 * N * ((2 * 10 * 10) ** 2 + (10 * 10) ** 2)
    fitted = {r["name"]: r for r in recs if r["name"].startswith("exponent")}
    assert set(fitted) == {f"exponent {w}" for w in whats}
    assert all(np.isfinite(r["median_s"]) and r["N"] == [3, 5] for r in fitted.values())
