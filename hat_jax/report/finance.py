"""Reports of financial integration (model.md s.15): the EV by household state under each
financial regime or capital-account policy, and net foreign assets by country (bars
across policies, paths over a transition), with the ``hat capital-controls --out``
files.

- :func:`ev_panel`: the EV of one country by state (asset grid, productivity levels,
  factors) from a counterfactual and its welfare analysis, the keys of
  :func:`hat_jax.report.welfare.plot_ev_by_assets`;
- :func:`plot_ev_by_regime`: one panel of EV (% by asset and income state) per regime
  or policy change;
- :func:`plot_nfa_bars`: net foreign assets / GDP by country under several regimes or
  policies (the ``finance`` records of ``hat counterfactual`` / ``hat capital-controls``);
- :func:`plot_nfa_paths`: net foreign assets / GDP over a transition (a ``hat
  transition`` summary);
- :func:`write_capital_controls_outputs`: capital_controls.json and, with ``plots``,
  ev_by_assets.png and nfa_by_policy.png.

The figures take plain dicts (JSON objects), so a notebook can draw them from saved files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hat_jax import welfare as wf

from ._figures import figure_bytes, pyplot
from ._files import json_nums, json_text, write_files
from .welfare import plot_ev_by_assets

__all__ = ["ev_panel", "plot_ev_by_regime", "plot_nfa_bars", "plot_nfa_paths",
           "nfa_positions", "write_capital_controls_outputs"]


def ev_panel(cf, res) -> dict:
    """{country, ev (Na x Nz factors lambda_tau), assets (Na), z (Nz), ev_measure,
    mean_gain_pct}: the EV of ``res`` (:func:`hat_jax.welfare.welfare_analysis` of
    the counterfactual ``cf``) by household state (a, z)."""
    base = cf.baseline
    i = res.country
    prob = wf.country_problem(base, i)
    assets = np.asarray(prob.a_min + prob.da * np.arange(base.economy.Na))
    return {"country": base.economy.countries[i], "ev": json_nums(res.ev.factor),
            "assets": json_nums(assets), "z": json_nums(base.economy.z),
            "ev_measure": res.ev.measure,
            "mean_gain_pct": float(100 * res.summary.mean_gain)}


def plot_ev_by_regime(panels: dict):
    """One panel per entry of ``panels`` ({title: :func:`ev_panel` dict}): the welfare
    gain 100 (lambda_tau - 1) (or the EV transfer) against assets, one line per
    productivity state, e.g. {"autarky -> global": ..., "global -> autarky": ...}.
    Returns the Figure."""
    plt = pyplot()
    n = len(panels)
    if n == 0:
        raise ValueError("plot_ev_by_regime needs at least one panel")
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.0), squeeze=False)
    for ax, (title, panel) in zip(axes[0], panels.items()):
        plot_ev_by_assets(panel, ax)
        ax.set_title(f"{panel['country']}: {title} (mean {panel['mean_gain_pct']:.3f}%)",
                     fontsize=9)
    fig.tight_layout()
    return fig


def nfa_positions(records: dict) -> dict:
    """{label: nfa_gdp (N)} from {label: a ``finance`` side ({regime, nfa_gdp, ...}, the
    ``before``/``after`` of :func:`hat_jax.cli._finance.finance_record`)}."""
    return {k: np.asarray(r["nfa_gdp"], np.float64) for k, r in records.items()}


def plot_nfa_bars(countries, positions: dict, ax=None):
    """Net foreign assets / GDP (A_i / Y_i, percent) by country, one bar per entry of
    ``positions`` ({label: N values}, e.g. globalization, optimal wedge, Nash wedges).
    Returns the Axes."""
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(countries) * len(positions)), 4.0))
    x = np.arange(len(countries))
    w = 0.8 / max(1, len(positions))
    for k, (label, v) in enumerate(positions.items()):
        v = np.asarray(v, np.float64)
        if v.shape != (len(countries),):
            raise ValueError(f"positions[{label!r}] has shape {v.shape}, expected "
                             f"({len(countries)},) (one per country)")
        ax.bar(x + (k - (len(positions) - 1) / 2) * w, 100 * v, w, label=label)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xticks(x, list(countries), rotation=90 if len(countries) > 8 else 0)
    ax.set(ylabel="net foreign assets / GDP (%)", title="Net foreign assets by country")
    ax.legend(fontsize=8)
    return ax


def plot_nfa_paths(result: dict, ax=None, n: int = 6):
    """Net foreign assets / GDP (percent) over a transition (a ``hat transition``
    summary: ``t``, ``countries``, ``nfa_gdp`` T x N), the countries of
    :func:`hat_jax.report.transition.shown_countries` (at most ``n``). Returns the Axes."""
    from .transition import shown_countries

    if ax is None:
        _, ax = pyplot().subplots(figsize=(6.5, 4.2))
    nfa = np.asarray(result["nfa_gdp"], np.float64)
    for k in shown_countries(result, n)[0]:
        ax.plot(result["t"], 100 * nfa[:, k], lw=1.2, label=result["countries"][k])
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set(xlabel="t (years)", ylabel="net foreign assets / GDP (%)",
           title="Net foreign assets over the transition")
    ax.legend(fontsize=8)
    return ax


def write_capital_controls_outputs(out_dir, result: dict, plots: bool = False) -> list[Path]:
    """Write capital_controls.json (``result``, the ``hat capital-controls --json``
    object); with ``plots`` also ev_by_assets.png (the country's EV by state at its
    optimal wedge, and at the Nash wedges with ``--nash``) and nfa_by_policy.png (net
    foreign assets / GDP at the baseline, the optimal wedge and the Nash wedges)."""
    files = {"capital_controls.json": json_text(result)}
    if plots:
        panels = {k: result[key] for k, key in (("optimal wedge", "ev_state"),
                                                ("Nash wedges", "nash_ev_state"))
                  if result.get(key) is not None}
        if panels:
            files["ev_by_assets.png"] = figure_bytes(plot_ev_by_regime(panels))
        f = result.get("finance")
        if f is not None:
            pos = {"baseline": f["before"]["nfa_gdp"], "optimal wedge": f["after"]["nfa_gdp"]}
            n = result.get("nash")
            if n is not None and n.get("finance") is not None:
                pos["Nash wedges"] = n["finance"]["after"]["nfa_gdp"]
            ax = plot_nfa_bars(result["countries"], pos)
            ax.figure.tight_layout()
            files["nfa_by_policy.png"] = figure_bytes(ax.figure)
    return write_files(out_dir, files)
