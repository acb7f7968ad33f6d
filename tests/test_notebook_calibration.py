"""Execute notebooks/calibration.ipynb at a small grid (its own file: see notebook_runner.OWN_FILE)."""

from __future__ import annotations

import pytest

from notebook_runner import ROOT, run_notebook


@pytest.mark.slow
def test_notebook_executes(request, monkeypatch):
    run_notebook(ROOT / "notebooks" / "calibration.ipynb", request, monkeypatch)
