"""Shared by the notebook tests: execute a notebook at a small grid size (HAT_NOTEBOOK_NA,
see SMALL_NA).

Each notebook runs in a fresh ipykernel started with *this* interpreter (a temporary
kernelspec put first on JUPYTER_PATH, so a user-installed 'python3' kernel pointing at
another Python cannot shadow it), with MPLBACKEND=Agg, the notebook's folder as working
directory, and HAT_DATA_DIR set to the Eaton-Kortum data folder when one can be found.
Notebooks read HAT_NOTEBOOK_NA (grid size) and HAT_DATA_DIR themselves. Notebooks listed
in NEEDS_DATA take the data folder from the conftest ``data_dir`` fixture (the copy
shipped inside the package).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SMALL_NA = "40"  # = conftest.NA_TEST: the notebooks reuse the tests' compiled programs
# Per-notebook grid sizes where SMALL_NA is too slow (19-country notebooks).
# elasticities.ipynb takes SMALL_NA: its two-country part then runs on the programs of
# the tests' two-country fixtures, and its 19-country part caps Na at 20 itself.
NOTEBOOK_NA = {"ek_world.ipynb": "20", "calibration.ipynb": "10", "welfare.ipynb": "20",
               "own_data.ipynb": "10", "transition.ipynb": "10",
               "financial_globalization.ipynb": "10"}
# Notebooks that read the Eaton-Kortum data.
NEEDS_DATA = {"ek_world.ipynb", "elasticities.ipynb", "calibration.ipynb", "welfare.ipynb",
              "own_data.ipynb", "transition.ipynb", "financial_globalization.ipynb"}
CELL_TIMEOUT_S = 600
# Notebooks executed by a test file of their own (tests/test_notebook_<stem>.py), so that
# the two pytest-xdist workers (whole files per worker) share the long notebooks.
OWN_FILE = {"welfare.ipynb", "calibration.ipynb", "elasticities.ipynb", "trade_policy.ipynb",
            "transition.ipynb", "financial_globalization.ipynb"}


def _data_dir() -> str | None:
    if os.environ.get("HAT_DATA_DIR"):
        return os.environ["HAT_DATA_DIR"]
    try:
        from hat_jax.data import resolve_data_dir

        return str(resolve_data_dir())
    except Exception:  # no data here: notebooks that need it will say so
        return None


def _kernel_env(tmp_path: Path, monkeypatch) -> None:
    """A 'python3' kernelspec running sys.executable, first on JUPYTER_PATH."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python 3 ({sys.executable})",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    jupyter_path = os.pathsep.join(
        [str(tmp_path / "jupyter")] + [p for p in [os.environ.get("JUPYTER_PATH")] if p])
    monkeypatch.setenv("JUPYTER_PATH", jupyter_path)
    monkeypatch.setenv("HAT_NOTEBOOK_NA", SMALL_NA)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    data = _data_dir()
    if data is not None:
        monkeypatch.setenv("HAT_DATA_DIR", data)


def run_notebook(path: Path, request, monkeypatch) -> None:
    """Execute ``path`` in a fresh kernel on this interpreter (kernelspec under the test's
    tmp_path); fails the test with the failing cell's error."""
    _kernel_env(request.getfixturevalue("tmp_path"), monkeypatch)
    na = NOTEBOOK_NA.get(path.name, SMALL_NA)
    monkeypatch.setenv("HAT_NOTEBOOK_NA", na)
    if path.name in NEEDS_DATA:
        data_dir = request.getfixturevalue("data_dir")  # skips when the data are absent
        monkeypatch.setenv("HAT_DATA_DIR", str(data_dir))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{path.name} failed (HAT_NOTEBOOK_NA={na}):\n{err}", pytrace=False)
    deprecated = deprecation_warnings(nb)
    assert not deprecated, (f"{path.name} uses names hat_jax renamed (the tutorials show "
                            f"the current API): {deprecated}")


def deprecation_warnings(nb) -> list[str]:
    """The DeprecationWarning lines in the stream outputs of an executed notebook."""
    lines = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                lines += [ln.strip() for ln in out.get("text", "").splitlines()
                          if "DeprecationWarning" in ln]
    return lines
