"""The merged table, summary and figure of a ``hat sweep`` folder.

The folder itself (manifest, chunks, resume) is the sweep store,
:mod:`hat_jax.scenarios` (``prepare_sweep_folder``, ``write_chunk``, ``read_chunks``).
After the merge (every chunk present) the folder also holds ``results.csv`` (the whole
tidy table, one row per scenario and country), ``summary.json`` and, with ``--plots``,
``sweep.png``, written as one set with ``manifest.json``
(:func:`hat_jax.report._files.write_files`). ``hat sweep summarize DIR``
(:func:`sweep_bootstrap`) adds ``bootstrap.csv``: per country and numeric output column,
the bootstrap standard error and percentile interval over the converged scenarios (the
parametric bootstrap of model.md s.16 when the scenarios are draws of the parameters).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hat_jax._fileio import atomic_write_bytes
from hat_jax.calibration import bootstrap_summary
from hat_jax.report._files import CSV_FLOAT, json_num, json_text, records, write_files
from hat_jax.scenarios._store import read_chunks

__all__ = ["sweep_summary", "merge_sweep", "plot_sweep", "format_sweep", "BOOTSTRAP_FILE",
           "BOOTSTRAP_COLUMNS", "bootstrap_table", "sweep_bootstrap", "format_bootstrap"]

#: The file ``hat sweep summarize DIR`` writes into DIR, and its columns.
BOOTSTRAP_FILE = "bootstrap.csv"
BOOTSTRAP_COLUMNS = ["country", "output", "draws", "mean", "se", "low", "high"]
#: Numeric columns of the tidy table that are solver diagnostics, not outputs.
_DIAGNOSTICS = ("scenario", "country", "converged", "failure", "iterations", "residual",
                "trade_residual", "terminal_gap", "stop")


def sweep_summary(man: dict, frame: pd.DataFrame) -> dict:
    """The ``--json`` object of a sweep: manifest facts, counts, the scenarios that did
    not converge (with residual and iterations), the floored costs, each country's own
    gain when scenarios are named after countries (unilateral cuts), and the table."""
    per = frame.drop_duplicates("scenario")
    bad = per[~per["converged"]]
    own = {}
    for c in (man["countries"] if "acr_gain" in frame.columns else ()):
        row = frame[(frame["scenario"] == c) & (frame["country"] == c)]
        if len(row):
            r = row.iloc[0]
            own[c] = {k: json_num(r[k]) for k in ("welfare_change", "acr_gain", "home_share")
                      if k in row}
            if "ev_mean_gain" in row:
                own[c]["ev_mean_gain"] = json_num(r["ev_mean_gain"])
    return {
        "preset": man["preset"], "countries": man["countries"], "scenarios": man["K"],
        "converged": int(per["converged"].sum()),
        "not_converged": records(bad, [k for k in ("scenario", "residual", "trade_residual",
                                                   "terminal_gap", "iterations", "failure")
                                       if k in bad.columns]),
        "kind": "transition" if "transition" in man["options"] else "counterfactual",
        "floored": {k: v for k, v in man.get("floored", {}).items() if v},
        "own_gain": own, "options": man["options"], "fingerprint": man["fingerprint"],
        "version": man["version"], "results": records(frame, list(frame.columns)),
    }


def plot_sweep(summary: dict, frame: pd.DataFrame, ax=None):
    """Each country's gain from its own scenario (unilateral cuts: ACR gain and, where
    computed, the mean EV) as bars; otherwise the utilitarian welfare change of every
    country across scenarios (transition sweeps: the home share on impact and at the
    terminal equilibrium)."""
    from hat_jax.report._figures import pyplot

    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(summary["countries"])), 4))
    own = summary["own_gain"]
    if own:
        names = list(own)
        x = np.arange(len(names))
        acr = [100 * (own[c]["acr_gain"] or np.nan) for c in names]
        ev = [own[c].get("ev_mean_gain") for c in names]
        w = 0.4 if any(v is not None for v in ev) else 0.8
        ax.bar(x - (w / 2 if w < 0.8 else 0), acr, w, label="ACR gain")
        if w < 0.8:
            ax.bar(x + w / 2, [100 * (v if v is not None else np.nan) for v in ev], w,
                   label="mean EV gain")
        ax.set_xticks(x, names, rotation=90)
        ax.set_ylabel("gain from its own scenario (%)")
        ax.legend()
    else:
        key = "welfare_change" if "welfare_change" in frame.columns else "home_share"
        for c, g in frame.groupby("country", sort=False):
            line, = ax.plot(np.arange(len(g)), g[key].to_numpy(), marker="o", label=c)
            if "home_share_h0" in frame.columns:  # transitions: impact dashed
                ax.plot(np.arange(len(g)), g["home_share_h0"].to_numpy(), ls="--",
                        color=line.get_color())
        ax.set_xlabel("scenario")
        ax.set_ylabel("utilitarian welfare change" if key == "welfare_change" else
                      "home share: terminal (solid), on impact (dashed)")
        ax.legend(fontsize="small", ncol=2)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.figure.tight_layout()
    return ax


def merge_sweep(out, plots: bool = False) -> tuple[dict, pd.DataFrame, list[Path]]:
    """Merge the chunks of ``out`` into ``results.csv`` and ``summary.json`` (and
    ``sweep.png`` with ``plots``), written as one set; returns (summary, table, paths)."""
    man, frame = read_chunks(out)
    summary = sweep_summary(man, frame)
    files = {"results.csv": frame.to_csv(index=False, float_format=CSV_FLOAT),
             "summary.json": json_text(summary) + "\n"}
    if plots:
        from hat_jax.report._figures import figure_bytes

        files["sweep.png"] = figure_bytes(plot_sweep(summary, frame))
    return summary, frame, write_files(out, files)


def format_sweep(summary: dict, frame: pd.DataFrame) -> str:
    """The readable summary of a sweep."""
    lines = [f"hat sweep {summary['preset']}: {summary['scenarios']} scenarios, "
             f"{summary['converged']} converged"]
    for r in summary["not_converged"]:
        extra = "".join(f", {k.replace('_', ' ')} {r[k]}" for k in ("trade_residual",
                                                                   "terminal_gap") if k in r)
        lines.append(f"  not converged: {r['scenario']} (residual {r['residual']}{extra}, "
                     f"{r['iterations']} iterations)"
                     + (f": {r['failure']}" if isinstance(r.get("failure"), str)
                        and r["failure"] else ""))
    for k, v in summary["floored"].items():
        lines.append(f"  {k}: costs floored at 1: " + ", ".join(f"{a}<-{b}" for a, b in v))
    if summary["own_gain"]:
        lines.append("own-scenario gains (percent):")
        lines.append(f"  {'country':8s} {'ACR':>9s} {'home share':>11s}"
                     + (f" {'mean EV':>9s}" if any("ev_mean_gain" in v for v in
                                                    summary["own_gain"].values()) else ""))
        for c, v in summary["own_gain"].items():
            pct = lambda x: "nan" if x is None else f"{100 * x:9.4f}"
            ev = f" {pct(v['ev_mean_gain'])}" if "ev_mean_gain" in v else ""
            lines.append(f"  {c:8s} {pct(v['acr_gain'])} {v['home_share'] or float('nan'):11.6f}{ev}")
    else:
        cols = [c for c in ("scenario", "country", "converged", "W_h0", "W", "home_share_h0",
                            "home_share", "welfare_change", "acr_gain") if c in frame.columns]
        lines.append(frame[cols].to_string(index=False, max_rows=60))
    return "\n".join(lines)


def bootstrap_table(frame: pd.DataFrame, level: float = 0.95) -> tuple[pd.DataFrame, list]:
    """(table, excluded): per country and numeric output column of the tidy sweep table
    (solver diagnostics left out), :func:`hat_jax.calibration.bootstrap_summary` over the
    scenarios that converged: ``draws`` (finite values used), ``mean``, ``se`` (standard
    deviation, ddof 1), ``low`` and ``high`` (the (1 -+ level)/2 percentiles); outputs
    with no finite value for a country (EV columns of countries not in ``--ev``) are
    left out. ``excluded``: the scenarios that did not converge (not used)."""
    import warnings

    conv = frame.groupby("scenario", sort=False)["converged"].all()
    excluded = [str(k) for k in conv.index[~conv.to_numpy(bool)]]
    ok = frame[frame["scenario"].isin(conv.index[conv.to_numpy(bool)])]
    if ok["scenario"].nunique() < 2:
        raise ValueError(f"the bootstrap needs at least two converged scenarios, the sweep "
                         f"has {ok['scenario'].nunique()} of {len(conv)}")
    cols = [c for c in frame.columns if c not in _DIAGNOSTICS
            and pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool]
    rows = []
    for country in pd.unique(frame["country"]):
        x = ok.loc[ok["country"] == country, cols].to_numpy(np.float64)
        with warnings.catch_warnings():  # all-NaN columns: left out below
            warnings.simplefilter("ignore", RuntimeWarning)
            s = bootstrap_summary(x, level)
        for j, col in enumerate(cols):
            if s["draws"][j] > 0:
                rows.append((str(country), col, int(s["draws"][j]), s["mean"][j], s["se"][j],
                             s["low"][j], s["high"][j]))
    return pd.DataFrame(rows, columns=BOOTSTRAP_COLUMNS), excluded


def sweep_bootstrap(out, level: float = 0.95) -> tuple[dict, pd.DataFrame, list[Path]]:
    """Bootstrap standard errors and percentile intervals of a finished sweep folder
    (:func:`bootstrap_table`; the chunks are merged first where ``results.csv`` is
    missing), written to ``DIR/bootstrap.csv``; returns (the ``--json`` object, the
    table, [the path])."""
    out = Path(out)
    man, frame = read_chunks(out)
    if not (out / "results.csv").is_file():
        merge_sweep(out)
    table, excluded = bootstrap_table(frame, level)
    path = out / BOOTSTRAP_FILE
    atomic_write_bytes(path, table.to_csv(index=False, float_format=CSV_FLOAT).encode())
    summary = {"sweep": str(out), "preset": man["preset"], "scenarios": man["K"],
               "used": man["K"] - len(excluded), "excluded": excluded, "level": level,
               "from_calibration": man.get("from_calibration"),
               "bootstrap": records(table, BOOTSTRAP_COLUMNS)}
    return summary, table, [path]


def format_bootstrap(summary: dict, table: pd.DataFrame) -> str:
    """The readable bootstrap table of ``hat sweep summarize``."""
    src = summary.get("from_calibration")
    pct = 100 * (1 - summary["level"]) / 2
    lines = [f"hat sweep summarize {summary['sweep']}: {summary['used']} of "
             f"{summary['scenarios']} scenarios used, {len(summary['excluded'])} not "
             "converged and excluded"
             + (f" ({', '.join(summary['excluded'][:10])}"
                + (" ..." if len(summary["excluded"]) > 10 else "") + ")"
                if summary["excluded"] else "")]
    if src:
        lines.append(f"parametric bootstrap: draws from N(params, V_params) of {src['file']} "
                     f"({src['cov']})")
    lines.append(f"standard errors and [{pct:g}, {100 - pct:g}] percentile intervals:")
    lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    return "\n".join(lines)
