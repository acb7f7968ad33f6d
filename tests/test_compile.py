"""Compile once: numeric options are traced (changing them never recompiles), and
compiled programs persist across processes (JAX's compilation cache, on by default)."""

import os
import subprocess
import sys
import textwrap
from contextlib import contextmanager

import jax
import jax.monitoring
import numpy as np
import pytest

import hat_jax
from hat_jax import EquilibriumOptions, HouseholdOptions

from conftest import NA_TEST

_EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/backend_compile_duration")
_counts = {e: 0 for e in _EVENTS}
_active = [False]


def _listener(event, duration, **kwargs):
    if _active[0] and event in _counts:
        _counts[event] += 1


jax.monitoring.register_event_duration_secs_listener(_listener)


@contextmanager
def count_compilations():
    """Counts traces and XLA compilations inside the block."""
    for e in _EVENTS:
        _counts[e] = 0
    _active[0] = True
    try:
        yield _counts
    finally:
        _active[0] = False


def test_equilibrium_tolerances_do_not_recompile():
    economy = hat_jax.two_country(Na=NA_TEST)
    first = hat_jax.solve_equilibrium(economy, EquilibriumOptions())
    changed = EquilibriumOptions(tol=1e-11, max_iter=25, jacobian_reuse=0.5, max_step=0.5,
                                 hh_tol=1e-11, hh_max_iter=1500, dist_tol=1e-13,
                                 dist_max_iter=50_000, verbose=True)
    with count_compilations() as n:
        second = hat_jax.solve_equilibrium(economy, changed)
    assert n == {e: 0 for e in _EVENTS}, n
    assert second.stats["compile_s"] < 0.5
    assert second.stats["iterations"] == int(second.iterations)
    assert float(second.residual) <= 1e-11
    np.testing.assert_allclose(np.asarray(second.W), np.asarray(first.W), atol=1e-10)


def test_log_utility_is_the_same_program():
    """gamma is traced: the log-utility economy (gamma = 1) reuses the CRRA programs."""
    hat_jax.solve_equilibrium(hat_jax.two_country(Na=NA_TEST))
    with count_compilations() as n:
        eq = hat_jax.solve_equilibrium(hat_jax.model.two_country_log(Na=NA_TEST))
    assert n == {e: 0 for e in _EVENTS}, n
    assert bool(eq.converged) and float(eq.economy.gamma) == 1.0


def test_placed_and_unplaced_inputs_share_one_program():
    """A solved equilibrium's arrays are not placed on a device (the compiled programs
    are lowered from unplaced inputs), so a program given them and the same program
    given NumPy copies lower to one text (one compile, one persistent-cache key); and
    compiled() lowers a placed input as an unplaced one, whose outputs stay unplaced."""
    from hat_jax._compiled import compiled, unplaced

    eq = hat_jax.solve_equilibrium(hat_jax.two_country(Na=NA_TEST))
    leaves = [x for x in jax.tree_util.tree_leaves(eq) if isinstance(x, jax.Array)]
    assert leaves and not any(x.committed for x in leaves)
    f = jax.jit(lambda W, beta, state: W.sum() * beta
                + sum(x.sum() for x in jax.tree_util.tree_leaves(state)))
    state = eq.world.households.state
    assert f.lower(eq.W, eq.beta, state).as_text() == f.lower(
        np.asarray(eq.W), np.asarray(eq.beta), jax.tree_util.tree_map(np.asarray, state)
    ).as_text()
    placed = jax.device_put(np.arange(3.0), jax.devices()[0])
    assert placed.committed
    g = jax.jit(lambda x: 2 * x)
    plain = g.lower(np.arange(3.0)).as_text()
    assert g.lower(placed).as_text() != plain  # jit alone writes the placement in
    assert g.lower(*unplaced((placed,))).as_text() == plain
    out = compiled(g, (placed,))(placed)
    assert not out.committed
    np.testing.assert_array_equal(np.asarray(out), [0.0, 2.0, 4.0])


def test_household_tolerance_does_not_recompile():
    economy = hat_jax.two_country(Na=NA_TEST)
    problems = hat_jax.model.household_problems(economy, np.ones(2), 1.0, 0.92)
    solve = jax.jit(lambda p, o: hat_jax.model.solve_households(p, o, throw=False))
    loose = solve(problems, hat_jax.model.household_options(economy, tol=1e-6))
    with count_compilations() as n:
        tight = solve(problems, HouseholdOptions(gamma=economy.gamma, Na=economy.Na, tol=1e-11,
                                                 max_iter=3000))
        jax.block_until_ready(tight)
    assert n == {e: 0 for e in _EVENTS}, n
    assert np.all(np.asarray(tight.residual) <= 1e-11)
    assert np.all(np.asarray(loose.residual) <= 1e-6)
    assert np.all(np.asarray(tight.iterations) > np.asarray(loose.iterations))


def test_bad_numeric_options_are_refused_before_compiling():
    with pytest.raises(ValueError, match="max_iter must be an integer >= 1, got max_iter=0"):
        EquilibriumOptions(max_iter=0)
    with pytest.raises(ValueError, match="hh_tol must be a positive number, got hh_tol=-1"):
        EquilibriumOptions(hh_tol=-1)
    with pytest.raises(ValueError, match="max_step must be a positive number"):
        EquilibriumOptions(max_step=0.0)
    with pytest.raises(ValueError, match="max_iter must be an integer >= 1, got max_iter=20.9"):
        HouseholdOptions(gamma=1.5, Na=40, max_iter=20.9)
    with pytest.raises(ValueError, match=r"method must be one of \('direct', 'iterate'\)"):
        hat_jax.DistributionOptions(method="power")


_CHILD = textwrap.dedent("""
    import json, jax, jax.monitoring, hat_jax
    hits = []
    jax.monitoring.register_event_listener(
        lambda e, **kw: hits.append(e) if e == "/jax/compilation_cache/cache_hits" else None)
    economy = hat_jax.two_country(Na=12)
    problems = hat_jax.model.household_problems(economy, jax.numpy.ones(2), 1.0, 0.92)
    opts = hat_jax.model.household_options(economy)
    sol = jax.jit(lambda p, o: hat_jax.model.solve_households(p, o, throw=False))(problems, opts)
    print(json.dumps({"dir": str(hat_jax.compilation_cache_dir()), "hits": len(hits),
                      "residual": float(sol.residual.max())}))
""")


def _child(env):
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def test_compiled_programs_persist_across_processes(tmp_path):
    env = dict(os.environ, HAT_JAX_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("HAT_JAX_CACHE", None)
    first = _child(env)
    assert first["dir"] == str(tmp_path / "cache") and first["hits"] == 0
    assert any((tmp_path / "cache").iterdir())
    second = _child(env)
    assert second["hits"] >= 1
    assert second["residual"] == first["residual"]
    off = _child(dict(env, HAT_JAX_CACHE="0"))
    assert off["dir"] == "None" and off["hits"] == 0


def test_compile_flags_are_added_unless_set(monkeypatch):
    """import hat_jax adds the compile-time flag to XLA_FLAGS on this jaxlib (the suite
    runs with it unless HAT_JAX_FAST_COMPILE=0), leaves a level the user set alone, and
    adds none under HAT_JAX_FAST_COMPILE=0 or when JAX_PLATFORMS leaves the CPU out."""
    from hat_jax import _config

    flags = _config.compile_flags()
    assert flags in ({}, {"xla_backend_optimization_level": "1"})
    for name, value in flags.items():
        assert f"--{name}={value}" in os.environ["XLA_FLAGS"]
    monkeypatch.delenv("HAT_JAX_FAST_COMPILE", raising=False)
    assert _config.compile_flags() in ({}, {"xla_backend_optimization_level": "1"})
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=3")
    _config.configure_xla_compile()
    assert os.environ["XLA_FLAGS"] == "--xla_backend_optimization_level=3"
    for env in ({"HAT_JAX_FAST_COMPILE": "0"}, {"HAT_JAX_FAST_COMPILE": "off"},
                {"JAX_PLATFORMS": "cuda"}):
        monkeypatch.setenv("XLA_FLAGS", "")
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            _config.configure_xla_compile()
        assert os.environ["XLA_FLAGS"] == "", env


_POLICY = textwrap.dedent("""
    import json, os, jax, numpy as np, hat_jax
    solve = jax.jit(lambda p, o: hat_jax.model.solve_households(p, o, throw=False))
    c = []
    for gamma in (1.5, 50.0):  # the preset's, and the probes' extreme curvature
        economy = hat_jax.two_country(Na=12, gamma=gamma)
        problems = hat_jax.model.household_problems(economy, jax.numpy.ones(2), 1.0, 0.92)
        sol = solve(problems, hat_jax.model.household_options(economy, tol=1e-13))
        c += np.asarray(sol.c).ravel().tolist()
    print(json.dumps({"flags": os.environ.get("XLA_FLAGS", ""), "c": c}))
""")


def test_compile_flags_do_not_change_results(tmp_path):
    """The households' policy (gamma 1.5 and 50) compiled with the library's compile-time
    flag and with XLA's defaults (HAT_JAX_FAST_COMPILE=0): the same to 1e-12 relative."""
    import json

    from hat_jax import _config

    with pytest.MonkeyPatch.context() as m:
        m.delenv("HAT_JAX_FAST_COMPILE", raising=False)
        if not _config.compile_flags():
            pytest.skip("no compile-time flag in this installation (jaxlib, GPU plugin)")
    env = dict(os.environ, HAT_JAX_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("XLA_FLAGS", None)
    runs = []
    for fast in ("1", "0"):
        out = subprocess.run([sys.executable, "-c", _POLICY], capture_output=True, text=True,
                             env=dict(env, HAT_JAX_FAST_COMPILE=fast), timeout=300, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "optimization_level=1" in runs[0]["flags"]
    assert "optimization_level" not in runs[1]["flags"]
    np.testing.assert_allclose(runs[0]["c"], runs[1]["c"], rtol=1e-12, atol=0)
