"""Batched counterfactuals (hat_jax.solve_scenarios) and ``hat sweep`` (issue 13).

Kept small (two_country, Na = 40): one in-process batch of three scenarios (two
unilateral cuts and a deliberately failing one), compared with one-at-a-time
counterfactuals; one subprocess with four forced host devices; a SIGKILLed sweep
resumed; two processes under jax.distributed; bad scenario files.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import hat_jax
from hat_jax import cli
from hat_jax import scenarios as sc
from hat_jax import welfare as wf
from hat_jax.report import sweep as rs
from hat_jax.scenarios import _store as sst

from conftest import NA_TEST

# a failing scenario: near-autarky costs (trade too small for the goods markets to pin
# down wages within max_iter = 8); the good scenarios converge in 5 iterations
OPTS = hat_jax.EquilibriumOptions(max_iter=8)
SWEEP = ["sweep", "two_country", "--Na", str(NA_TEST), "--theta", "4", "--max-iter", "8",
         "--batch", "1"]
# three deepening symmetric cuts and a failing scenario (costs x 20: near autarky)
SCENARIO_FILE = "scenario,importer,exporter,factor\n" + "".join(
    f"{name},{i},{j},{f}\n" for name, f in (("cut05", 0.95), ("cut10", 0.9), ("cut20", 0.8),
                                            ("autarkic", 20.0))
    for i, j in (("Home", "Foreign"), ("Foreign", "Home")))


SCENARIOS = """
uni = sc.unilateral_scenarios(eq.economy, 0.10)
bad = sc.cost_scenarios(eq.economy, levels=[[[1.0, 30.0], [30.0, 1.0]]], names=["autarkic"])
s = sc.concat_scenarios(uni, bad)
"""


def _scenarios(eq):
    env = {"sc": sc, "eq": eq}
    exec(SCENARIOS, env)
    return env["s"]


@pytest.fixture(scope="module")
def batch(two_country_eq):
    s = _scenarios(two_country_eq)
    return s, hat_jax.solve_scenarios(two_country_eq, s, OPTS, theta=4.0, ev=("Home",))


def test_batch_equals_one_at_a_time_and_a_failure_stays_isolated(two_country_eq, batch):
    eq = two_country_eq
    s, res = batch
    assert res.names == ("Home", "Foreign", "autarkic")
    assert list(res.converged) == [True, True, False]
    # the failed scenario says why (issue 26, B6), the converged ones say nothing
    assert list(res.failure[:2]) == ["", ""] and res.failure[2], res.failure
    assert "trade" in res.failure[2] or "excess demand" in res.failure[2]
    # the failing scenario: reported with its residuals and iterations, no numbers
    assert res.iterations[2] == OPTS.max_iter
    assert np.isfinite(res.residual[2]) and res.trade_residual[2] > OPTS.trade_tol
    assert np.all(np.isnan(res.W[2])) and np.all(np.isnan(res.welfare_change[2]))
    w0 = np.asarray(wf.utilitarian_welfare(eq))
    h0 = np.diag(np.asarray(eq.world.aggregates.trade_shares))
    for k, iso in enumerate(("Home", "Foreign")):
        d, _ = wf.unilateral_cut(eq.economy, iso, 0.10)
        cf = wf.counterfactual(eq, d, OPTS)  # = hat counterfactual --unilateral ISO 0.10
        new = cf.new
        assert res.iterations[k] == int(new.iterations)
        np.testing.assert_allclose(res.W[k], new.W, atol=1e-10, rtol=0)
        np.testing.assert_allclose(res.R[k], new.R, atol=1e-10, rtol=0)
        shares = np.asarray(new.world.aggregates.trade_shares)
        np.testing.assert_allclose(res.trade_shares[k], shares, atol=1e-10, rtol=0)
        np.testing.assert_allclose(res.welfare_change[k],
                                   np.asarray(wf.utilitarian_welfare(new)) - w0, atol=1e-10)
        np.testing.assert_allclose(res.acr_gain[k], np.log(h0 / np.diag(shares)) / 4.0,
                                   atol=1e-10)
        # the batched EV summaries equal the one-at-a-time EV's
        one = wf.welfare_summary(eq, new, wf.equivalent_variation(eq, new, "Home"))
        np.testing.assert_allclose(res.ev["Home"]["mean_gain"][k], one.mean_gain, atol=1e-12)
        np.testing.assert_allclose(res.ev["Home"]["quintile_gains"][k], one.quintile_gains,
                                   atol=1e-12)
    # symmetric countries: Home's own cut mirrors Foreign's
    np.testing.assert_allclose(res.W[0], res.W[1][::-1], atol=1e-9)
    frame = hat_jax.scenarios.scenario_frame(res)
    assert len(frame) == 6 and list(frame.columns[:len(sc.FRAME_COLUMNS)]) == \
        list(sc.FRAME_COLUMNS)
    # EV of Home's households: both cuts help Home on average (its own cut most), the
    # failing scenario has none
    ev = res.ev["Home"]
    assert list(ev["converged"]) == [True, True, False] and np.isnan(ev["mean_gain"][2])
    assert ev["mean_gain"][0] > ev["mean_gain"][1] > 0
    assert np.all((ev["share_gain"][:2] >= 0) & (ev["share_gain"][:2] <= 1))
    np.testing.assert_allclose(ev["quintile_gains"][:2].mean(axis=1), ev["mean_gain"][:2],
                               rtol=1e-9)  # five equal-mass quintiles average to the mean
    assert frame.loc[frame.country == "Foreign", "ev_mean_gain"].isna().all()
    good = frame[frame.converged]
    np.testing.assert_allclose(good["share_Home"] + good["share_Foreign"], 1.0, atol=1e-12)
    assert frame.loc[frame.scenario == "autarkic", "W"].isna().all()


@pytest.mark.parametrize("strategy", ["vmap"])
def test_four_host_devices_equal_one(tmp_path, batch, strategy):
    """The same batch sharded over 4 forced host devices (padded to 4), in a subprocess,
    iterated in lock step (``vmap``, the accelerator strategy) against the in-process
    batch (``auto``: ``map`` on this CPU): same iterations, same numbers."""
    s, res = batch
    code = f"""
import json, numpy as np, jax, hat_jax
from hat_jax import scenarios as sc
assert len(jax.local_devices()) == 4
eq = hat_jax.solve_equilibrium(hat_jax.two_country(Na={NA_TEST}))
{SCENARIOS}
r = hat_jax.solve_scenarios(eq, s, hat_jax.EquilibriumOptions(max_iter={OPTS.max_iter}),
                            theta=4.0, devices=4, strategy="{strategy}")
np.savez("{tmp_path}/r.npz", W=r.W, R=r.R, s=r.trade_shares, w=r.welfare_change,
         c=r.converged, it=r.iterations, res=r.residual)
"""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               PYTHONPATH=os.pathsep.join([str(_root()), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=600, cwd=_root())
    assert out.returncode == 0, out.stderr[-3000:]
    r = np.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(r["c"], res.converged)
    np.testing.assert_array_equal(r["it"], res.iterations)
    for a, b in ((r["W"], res.W), (r["R"], res.R), (r["s"], res.trade_shares),
                 (r["w"], res.welfare_change)):
        np.testing.assert_allclose(a, b, atol=1e-12, rtol=0)  # NaN rows equal NaN rows


def _root():
    from pathlib import Path
    return Path(__file__).resolve().parents[1]


def _hat(*argv, **kw):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(_root()),
                                                       os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-m", "hat_jax.cli", *argv], env=env,
                            cwd=_root(), **kw)


def _main(argv, capsys):
    rc = cli.main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_sigkill_then_resume_then_two_processes(tmp_path, capsys):
    """A sweep of 4 chunks (one failing scenario) SIGKILLed after its first chunk, then
    resumed; a different sweep into the folder is refused; two jax.distributed processes
    reproduce the table."""
    sfile = ["--scenarios", _write(tmp_path / "s.csv", SCENARIO_FILE)]
    # without the warm inverses: with them the inner solves are exact to 1e-16 and the
    # near-autarky scenario converges within the 8 iterations (CI, 2026-12-07)
    sfile += ["--inverses", "off"]
    run = tmp_path / "run"
    p = _hat(*SWEEP, *sfile, "--out", str(run), "--quiet", stdout=subprocess.DEVNULL,
             stderr=subprocess.DEVNULL)
    first = run / "chunks" / sst.chunk_name(0, 4, sst.chunk_format())
    t0 = time.monotonic()
    while not first.exists() and p.poll() is None and time.monotonic() - t0 < 600:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    man = json.loads((run / sst.SWEEP_MANIFEST).read_text())
    done = sst.finished_chunks(run, man)
    assert 0 in done and len(done) < 4 and not (run / "results.csv").exists()
    rc, out, err = _main([*SWEEP, *sfile, "--out", str(run), "--resume", "--json"], capsys)
    assert rc == 2, err  # the failing scenario: exit 2, every row written
    assert f"this process: {4 - len(done)} chunk(s)" in err
    summary = json.loads(out)
    assert summary["converged"] == 3 and [r["scenario"] for r in summary["not_converged"]] \
        == ["autarkic"] and summary["not_converged"][0]["iterations"] == 8
    single = pd.read_csv(run / "results.csv")
    assert len(single) == 8 and list(single["converged"]) == [True] * 6 + [False] * 2
    bad = single[~single["converged"]]
    assert bad["W"].isna().all() and np.isfinite(bad["residual"]).all()
    # the cuts deepen: the home share falls in every country
    hs = single[single.converged].pivot(index="scenario", columns="country",
                                        values="home_share").loc[["cut05", "cut10", "cut20"]]
    assert np.all(np.diff(hs.to_numpy(), axis=0) < 0)
    # a different sweep into the same folder is refused before solving
    rc, _, err = _main([*SWEEP, "--global-cuts", "0.05:0.2:3", "--out", str(run)], capsys)
    assert rc == 1 and "holds a different sweep" in err and "fingerprint" in err

    # two processes under jax.distributed on 127.0.0.1, one CPU device each: each writes
    # its own chunks (no device collectives needed), process 0 merges after the barrier
    dist = tmp_path / "dist"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    procs = [_hat(*SWEEP, *sfile, "--out", str(dist), "--quiet", "--distributed",
                  "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
                  "--process-id", str(i), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for i in range(2)]
    for q in procs:
        _, e = q.communicate(timeout=600)
        assert q.returncode == 2, e.decode()[-3000:]  # chunk 3 (process 1) fails
    merged = pd.read_csv(dist / "results.csv")
    pd.testing.assert_frame_equal(merged, single, check_exact=False, rtol=0, atol=1e-12)


def _write(path, text):
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text, message", [
    ("scenario,importer,exporter,factor\na,Home,Mars,0.9\n", "row 1 (scenario 'a'): unknown exporter 'Mars'"),
    ("scenario,importer,exporter,factor\na,Home,Foreign,0.9\nb,Home,Foreign,nan\n", "row 2 (scenario 'b'): factor must be a finite number"),
    ("scenario,importer,exporter,factor\na,Home,Foreign,0\n", "row 1 (scenario 'a'): the factor of Home<-Foreign must be > 0"),
    ("scenario,importer,exporter,factor\na,Home,Foreign,-1\n", "must be > 0, got -1.0"),
    ("scenario,importer,exporter,factor\na,Home,Foreign,0.9\na,home,Foreign,0.8\n", "row 2 (scenario 'a'): duplicate of row 1"),
    ("", "is empty"),
    ("scenario,importer,exporter,factor\n", "no scenario rows"),
    ("scenario,country,field,value\nx,Home,A,-2\n", "row 1 (scenario 'x'): A of Home must be > 0"),
    ("scenario,country,field,value\nx,Home,tfp,2\n", "row 1 (scenario 'x'): unknown field 'tfp'"),
    ("scenario,a,b\nx,1,2\n", "needs the columns"),
])
def test_bad_scenario_files_name_the_row(tmp_path, capsys, text, message):
    f = _write(tmp_path / "s.csv", text)
    rc, _, err = _main(["sweep", "two_country", "--Na", str(NA_TEST), "--scenarios", f], capsys)
    assert rc == 1 and message in err, err


def test_scenario_table_floors_costs_below_one_and_lists_them():
    e = hat_jax.two_country(Na=NA_TEST)  # d = 1.5 off the diagonal (preset)
    d01 = float(e.d[0, 1])
    frame = pd.DataFrame({"scenario": ["deep", "deep", "mild"],
                          "importer": ["Home", "Foreign", "Home"],
                          "exporter": ["Foreign", "Home", "Foreign"],
                          "factor": [0.5 / d01, 0.95, 0.9]})
    s = sc.scenarios_from_table(e, frame)
    assert s.names == ("deep", "mild") and s.floored == ((("Home", "Foreign"),), ())
    d = np.asarray(s.economies.d)
    assert d[0, 0, 1] == 1.0 and d[0, 1, 0] == pytest.approx(0.95 * float(e.d[1, 0]))
    assert d[1, 0, 1] == pytest.approx(0.9 * d01) and d[1, 1, 0] == float(e.d[1, 0])
    with pytest.warns(wf.CostsBelowOneWarning, match="Home<-Foreign"):
        kept = sc.scenarios_from_table(e.replace(cost_floor=False), frame, floor=None)
    assert kept.floored == ((), ()) and np.asarray(kept.economies.d)[0, 0, 1] == \
        pytest.approx(0.5)
    assert sc.fingerprint(s) != sc.fingerprint(kept) and sc.fingerprint(s) == \
        sc.fingerprint(sc.scenarios_from_table(e, frame))


@pytest.mark.filterwarnings("ignore::hat_jax.data.DataWarning")
def test_theta_and_country_scenarios_build_the_economies(data_dir):
    world = hat_jax.ek_world("ek_baseline", data_dir, Na=20)
    theta = np.asarray(world.params, np.float64)
    up = theta.copy()
    up[0] += 0.1  # log A of the first country
    s = sc.parameter_scenarios(world, np.stack([theta, up]))
    np.testing.assert_allclose(np.asarray(s.economies.A[0]), world.economy.A, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(s.economies.d[0]), world.economy.d, rtol=1e-12)
    np.testing.assert_allclose(float(s.economies.A[1, 0]),
                               float(world.economy.A[0]) * np.exp(0.1), rtol=1e-12)
    draws = sc.parameter_draws(world, 3, seed=7)
    assert draws.K == 3 and sc.fingerprint(draws) == sc.fingerprint(sc.parameter_draws(world, 3, 7))
    e = hat_jax.two_country(Na=NA_TEST)
    c = sc.country_scenarios(e, {"L": [[1.0, 2.0], [3.0, 1.0]]}, names=["big_F", "big_H"])
    np.testing.assert_array_equal(np.asarray(c.economies.L), [[1.0, 2.0], [3.0, 1.0]])
    with pytest.raises(ValueError, match="scenario 'big_H'.*L must be positive"):
        sc.country_scenarios(e, {"L": [[1.0, 2.0], [-3.0, 1.0]]}, names=["big_F", "big_H"])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_chunks_round_trip_in_either_format(tmp_path, fmt):
    """Chunks written as Parquet (pyarrow present) or CSV (the fallback) read back as the
    same table: float64 bit for bit, NaN rows of a failed scenario, booleans, labels."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"scenario": ["a", "a", "007", "007"],
                          "country": ["Home", "Foreign", "Home", "Foreign"],
                          "converged": [True, True, False, False],
                          "W": [1.0, 0.1 + 0.2, np.nan, np.nan],
                          "welfare_change": [1e-300, -np.pi, np.nan, np.nan]})
    man = {"format": sst.SWEEP_FORMAT, "n_chunks": 2, "chunk_format": fmt, "batch": 1,
           "scenarios": ["a", "007"]}
    sst.prepare_sweep_folder(tmp_path, man)
    for c in (0, 1):
        path = sst.write_chunk(tmp_path, man, c, frame.iloc[2 * c:2 * c + 2])
        assert path.suffix == "." + fmt
    assert sst.finished_chunks(tmp_path, man) == {0, 1}
    _, back = sst.read_chunks(tmp_path)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


def test_parquet_scenario_file_equals_csv(tmp_path):
    """The same scenarios from a Parquet file and from the CSV file."""
    pytest.importorskip("pyarrow")
    e = hat_jax.two_country(Na=NA_TEST)
    csv = _write(tmp_path / "s.csv", SCENARIO_FILE)
    frame = pd.read_csv(csv)
    frame.to_parquet(tmp_path / "s.parquet", index=False)
    a = sc.scenarios_from_table(e, sc.read_scenario_table(csv))
    b = sc.scenarios_from_table(e, sc.read_scenario_table(tmp_path / "s.parquet"))
    assert a.names == b.names == ("cut05", "cut10", "cut20", "autarkic")
    np.testing.assert_array_equal(np.asarray(a.economies.d), np.asarray(b.economies.d))


def test_bad_strategy_and_ev_shapes_are_refused(two_country_eq):
    """An unknown block strategy and new values of the wrong shape name the bad value."""
    eq = two_country_eq
    s = sc.unilateral_scenarios(eq.economy, 0.10)
    with pytest.raises(ValueError, match=r"strategy must be one of .*got strategy='lockstep'"):
        hat_jax.solve_scenarios(eq, s, strategy="lockstep")
    V = np.asarray(eq.world.households.V[0])
    with pytest.raises(ValueError, match=r"V_new must have shape \(K,\)"):
        wf.equivalent_variations(eq, V, "Home")  # one scenario's [Na, Nz], no K axis
    with pytest.raises(ValueError, match="strategy must be one of"):
        wf.equivalent_variations(eq, V[None], "Home", strategy="scan")


def test_counterfactual_starts_from_the_baseline_jacobian(two_country_eq):
    """Issue 29: a counterfactual starts Newton from the baseline's Jacobian
    (Broyden-updated) and reaches the root of the exact-Newton path (an exact Jacobian at
    the first point, the method before) with fewer exact Jacobians; a start Jacobian of
    the wrong sign is caught by the safeguard (an exact one is computed, same root)."""
    b = hat_jax.Baseline.from_equilibrium(two_country_eq)
    ch = hat_jax.Change.unilateral_cut(b.economy, "Home", 0.10)
    opts = hat_jax.EquilibriumOptions(tol=1e-12)  # roots to 1e-12: paths compared to 1e-10
    exact = wf.counterfactual(b, ch, opts, jacobian="exact")
    fast = wf.counterfactual(b, ch, opts)
    assert bool(exact.converged) and bool(fast.converged)
    assert fast.stats["jacobians"] < exact.stats["jacobians"], (fast.stats, exact.stats)
    for a, c in ((fast.new.W, exact.new.W), (fast.new.R, exact.new.R),
                 (fast.new.world.aggregates.trade_shares,
                  exact.new.world.aggregates.trade_shares),
                 (wf.utilitarian_welfare(fast.new), wf.utilitarian_welfare(exact.new))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(c), atol=1e-10, rtol=0)
    econ = ch.apply(b.economy)
    bad = hat_jax.solve_equilibrium(econ, b.options(opts), b.start._replace(J=-b.J))
    assert bool(bad.converged) and np.nansum(np.asarray(bad.history)[:, 3]) >= 1
    np.testing.assert_allclose(np.asarray(bad.W), np.asarray(exact.new.W), atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match=r"jacobian must be one of .*got jacobian='broyden'"):
        wf.counterfactual(b, ch, jacobian="broyden")
    with pytest.raises(ValueError, match=r"jacobian must be one of"):
        hat_jax.solve_scenarios(b, [ch], jacobian="broyden")
    stacked = hat_jax.model.stack_economies([econ])
    with pytest.raises(ValueError, match=r"Start.J must be the \(2, 2\) Jacobian"):
        hat_jax.model.solve_equilibria(stacked, b.opts, b.start._replace(J=np.eye(3)))


def test_exact_baseline_jacobian_and_the_sweep_from_it(two_country_eq, batch):
    """``Baseline.with_exact_jacobian`` (what ``hat sweep`` starts every scenario from):
    the Jacobian of the fixed-beta excess demands in the unknowns x = (log W_1/W_2,
    log(1 - beta R)) at the baseline equals central finite differences; a sweep from it
    equals its one-at-a-time counterfactuals (same steps), computes no exact Jacobian and
    reaches the roots of the sweep from the baseline's own Jacobian."""
    import jax
    import jax.numpy as jnp

    b = hat_jax.Baseline.from_equilibrium(two_country_eq).with_exact_jacobian()
    e = b.economy
    fine = b.opts.replace(hh_tol=1e-13, dist_tol=1e-14)

    @jax.jit
    def residuals(x):
        W = 2.0 * jax.nn.softmax(jnp.stack([x[0], 0.0]))
        w = hat_jax.solve_world(e, W, (1.0 - jnp.exp(x[1])) / e.beta, e.beta, b.state, fine)
        goods, bonds, _ = hat_jax.model.market_residuals(w.aggregates, fine)
        return jnp.concatenate([goods, bonds])

    x0 = np.array([np.log(b.W[0] / b.W[1]), np.log(1.0 - float(e.beta) * float(b.R))])
    h = 1e-5
    fd = np.stack([(np.asarray(residuals(x0 + h * u)) - np.asarray(residuals(x0 - h * u)))
                   / (2 * h) for u in np.eye(2)], axis=1)
    J = np.asarray(b.J)
    np.testing.assert_allclose(J, fd, rtol=0, atol=1e-6 * np.max(np.abs(J)))
    s, res0 = batch
    # the two cuts and the first again: a batch of three, the size of ``batch``, whose
    # compiled program it shares (a batch of two compiled its own, 12 s)
    good = sc.select_scenarios(s, [0, 1, 0])
    res = hat_jax.solve_scenarios(b, good, OPTS, theta=4.0)
    assert list(res.converged) == [True] * 3 and res.stats["jacobians"] == 0
    np.testing.assert_array_equal(res.W[2], res.W[0])  # a scenario's answer is its own
    for k, iso in enumerate(("Home", "Foreign")):
        cf = wf.counterfactual(b, hat_jax.Change.unilateral_cut(e, iso, 0.10), OPTS)
        assert res.iterations[k] == int(cf.new.iterations)
        np.testing.assert_allclose(res.W[k], cf.new.W, atol=1e-12, rtol=0)
        np.testing.assert_allclose(res.W[k], res0.W[k], atol=1e-9, rtol=0)
