"""Execute every notebook in notebooks/ at small grid sizes (HAT_NOTEBOOK_NA, see SMALL_NA)
and check that they are committed without outputs. The runner (a fresh ipykernel on *this*
interpreter, MPLBACKEND=Agg, HAT_DATA_DIR) is in ``notebook_runner.py``; notebooks in
``OWN_FILE`` run from their own test file so that the two test workers share them.
"""

from __future__ import annotations

import pytest

from notebook_runner import (
    NEEDS_DATA,
    NOTEBOOK_NA,
    NOTEBOOKS,
    OWN_FILE,
    ROOT,
    nbformat,
    run_notebook,
)

HERE = [p for p in NOTEBOOKS if p.name not in OWN_FILE]


def test_notebooks_found():
    assert NOTEBOOKS, f"no notebooks in {ROOT / 'notebooks'}"
    names = {p.name for p in NOTEBOOKS}
    stale = sorted((set(NOTEBOOK_NA) | NEEDS_DATA | OWN_FILE) - names)
    assert not stale, f"NOTEBOOK_NA / NEEDS_DATA / OWN_FILE name notebooks that do not exist: {stale}"
    for name in OWN_FILE:
        own = ROOT / "tests" / f"test_notebook_{name.removesuffix('.ipynb')}.py"
        assert own.is_file(), f"{name} is in OWN_FILE but {own} does not exist"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    with_outputs = [k for k, c in enumerate(nb.cells)
                    if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not with_outputs, f"{path.name}: clear the outputs of code cells {with_outputs}"


@pytest.mark.parametrize("path", HERE, ids=[p.name for p in HERE])
def test_notebook_executes(path, request, monkeypatch):
    run_notebook(path, request, monkeypatch)
