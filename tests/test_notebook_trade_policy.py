"""Execute notebooks/trade_policy.ipynb at a small grid (two-country part; the
Eaton-Kortum section runs only with HAT_NOTEBOOK_EK=1)."""

from __future__ import annotations

from notebook_runner import ROOT, run_notebook


def test_notebook_executes(request, monkeypatch):
    monkeypatch.setenv("HAT_NOTEBOOK_EK", "0")
    run_notebook(ROOT / "notebooks" / "trade_policy.ipynb", request, monkeypatch)
