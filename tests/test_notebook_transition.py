"""Execute notebooks/transition.ipynb at a small grid and horizon (its own file: see
notebook_runner.OWN_FILE)."""

from __future__ import annotations

from notebook_runner import ROOT, run_notebook


def test_notebook_executes(request, monkeypatch):
    monkeypatch.setenv("HAT_NOTEBOOK_T", "20")
    monkeypatch.setenv("HAT_NOTEBOOK_PARTNERS", "CAN,JPN,GBR")
    run_notebook(ROOT / "notebooks" / "transition.ipynb", request, monkeypatch)
