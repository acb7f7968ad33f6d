"""The pytest plugin of ``benchmarks/suite.py`` (loaded with ``-p _suite_plugin``, in
every xdist worker too): per test, its wall time and the seconds JAX reports through
``jax.monitoring`` in this process for XLA compilation (``backend_compile_duration``)
and for tracing and lowering (``jaxpr_trace_duration``,
``jaxpr_to_mlir_module_duration``), with the compiled programs by name. Fixture set-up
counts toward the test that needs it. Written as JSON to
``$HAT_SUITE_PROFILE_DIR/<pid>.json`` when the session ends (nothing where no test ran,
as in xdist's controller). Compilations in subprocesses (``hat`` commands, notebook
kernels) are not seen here: they count in the wall time only.
"""

from __future__ import annotations

import collections
import json
import os
import time

import jax.monitoring
import pytest

_COMPILE = "backend_compile_duration"
_TRACE = ("jaxpr_trace_duration", "jaxpr_to_mlir_module_duration")

_current = ["(collection)"]
_tests: dict[str, dict] = collections.defaultdict(
    lambda: {"wall_s": 0.0, "compile_s": 0.0, "trace_s": 0.0, "compiles": 0,
             "programs": collections.defaultdict(float)})


def _on_duration(event: str, seconds: float, **kwargs) -> None:
    rec = _tests[_current[0]]
    if event.endswith(_COMPILE):
        rec["compile_s"] += seconds
        rec["compiles"] += 1
        rec["programs"][str(kwargs.get("fun_name", "?"))] += seconds
    elif event.endswith(_TRACE):
        rec["trace_s"] += seconds


jax.monitoring.register_event_duration_secs_listener(_on_duration)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current[0] = item.nodeid
    t0 = time.perf_counter()
    yield
    _tests[item.nodeid]["wall_s"] += time.perf_counter() - t0
    _current[0] = "(between tests)"


def pytest_sessionfinish(session):
    folder = os.environ.get("HAT_SUITE_PROFILE_DIR")
    ran = {k: v for k, v in _tests.items() if v["wall_s"] > 0 or v["compiles"]}
    if not folder or not ran:
        return
    out = {k: {**v, "programs": dict(v["programs"])} for k, v in ran.items()}
    with open(os.path.join(folder, f"{os.getpid()}.json"), "w") as f:
        json.dump(out, f)
