"""``benchmarks/suite.py`` (issue 25): the suite's time per test, with the compilation
each test paid, from a pytest plugin in every process. Checked on a two-test file of
its own (one test compiles a program, the other none), in a subprocess."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = '''
import jax
import jax.numpy as jnp


def test_compiles():
    assert float(jax.jit(lambda x: jnp.sin(x) * 2.0)(1.0)) > 0


def test_plain():
    assert sum(range(4)) == 6
'''


def test_suite_profile_sees_each_tests_compilation(tmp_path):
    """The tier record adds up its tests (wall time, compilation), the file record holds
    both tests, the test that jits a function paid a compilation of that program (named),
    the other one none; the JSON file is the records printed."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(textwrap.dedent(PROBE))
    out = tmp_path / "suite.json"
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "suite.py"), "--json",
                        "--out", str(out), "--top", "5", "--", str(probe), "-n", "0"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    recs = json.loads(r.stdout)
    assert json.loads(out.read_text()) == recs
    tier, by_name = recs[0], {x["name"]: x for x in recs}
    assert tier["name"] == "tier quick" and tier["exit"] == 0 and tier["tests"] == 2
    assert "2 passed" in tier["summary"] and tier["cpu_s"] > 0
    assert tier["median_s"] >= tier["test_wall_s"] > 0
    compiles = next(x for n, x in by_name.items() if n.endswith("test_probe.py::test_compiles"))
    plain = next(x for n, x in by_name.items() if n.endswith("test_probe.py::test_plain"))
    assert compiles["compile_s"] > 0 and compiles["compiles"] >= 1
    assert any("lambda" in name for name in compiles["top_programs"])
    assert plain["compile_s"] == 0 and plain["compiles"] == 0
    files = [x for n, x in by_name.items() if n.startswith("file ")]
    assert len(files) == 1 and files[0]["tests"] == 2
    assert abs(tier["compile_s"] - tier["outside_tests_compile_s"]
               - compiles["compile_s"]) < 1e-9
