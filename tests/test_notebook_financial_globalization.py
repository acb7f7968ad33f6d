"""Execute notebooks/financial_globalization.ipynb at a small grid (its own file: see
notebook_runner.OWN_FILE)."""

from __future__ import annotations

from notebook_runner import ROOT, run_notebook


def test_notebook_executes(request, monkeypatch):
    run_notebook(ROOT / "notebooks" / "financial_globalization.ipynb", request, monkeypatch)
