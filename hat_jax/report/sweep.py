"""The resumable output folder of ``hat sweep`` and its merged table, summary and figure.

Layout of ``--out DIR``:

- ``sweep.json`` (:data:`SWEEP_MANIFEST`): format, scenario-set fingerprint, preset,
  options, package version, K, batch, chunk count and format, scenario names, countries
  and the costs floored per scenario. Written once (atomically); a later run into DIR
  must have the same manifest (else it is refused, naming what differs).
- ``chunks/chunk-CCCCC-of-NNNNN.csv`` (or ``.parquet`` where pyarrow is importable): the
  rows of scenarios ``C*batch .. (C+1)*batch - 1`` of the tidy table, each file written
  atomically (a killed sweep loses at most the chunk in flight; ``--resume`` skips the
  chunks present).
- after the merge (every chunk present): ``results.csv`` (the whole tidy table, one row
  per scenario and country), ``summary.json`` and, with ``--plots``, ``sweep.png``,
  written as one set with ``manifest.json`` (:func:`hat_jax.report.files.write_files`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from hat_jax.fileio import atomic_write_bytes
from hat_jax.report.files import CSV_FLOAT, json_num, json_text, records, write_files

__all__ = ["SWEEP_MANIFEST", "SWEEP_FORMAT", "chunk_format", "chunk_name", "n_chunks",
           "chunks_of_shard", "prepare_sweep_folder", "finished_chunks", "write_chunk",
           "read_chunks", "sweep_summary", "merge_sweep", "plot_sweep", "format_sweep"]

SWEEP_MANIFEST = "sweep.json"
SWEEP_FORMAT = "hat-sweep/1"
#: Manifest keys that must agree for a run to continue (or add to) a folder.
_IDENTITY = ("format", "fingerprint", "preset", "options", "version", "K", "batch",
             "n_chunks", "chunk_format")


def chunk_format() -> str:
    """"parquet" where pyarrow is importable, else "csv"."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return "csv"
    return "parquet"


def n_chunks(K: int, batch: int) -> int:
    return -(-int(K) // int(batch))


def chunk_name(c: int, n: int, fmt: str) -> str:
    return f"chunk-{c:05d}-of-{n:05d}.{fmt}"


def chunks_of_shard(n: int, shard: int, shards: int) -> list[int]:
    """The chunks shard ``shard`` of ``shards`` solves: c = shard, shard + shards, ..."""
    return list(range(int(shard), int(n), int(shards)))


def _read_manifest(out: Path) -> dict | None:
    p = out / SWEEP_MANIFEST
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{p}: not a readable sweep manifest ({exc})") from None


def _differences(a, b, path: str) -> list[tuple[str, object, object]]:
    """The leaves where two manifest values differ, as (dotted path, a, b): a changed
    ``--Na`` is named as ``economy.Na``, not hidden in a cut-off dump of the economy."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            if a.get(k) != b.get(k):
                out += _differences(a.get(k), b.get(k), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) if x != y
                for d in _differences(x, y, f"{path}[{i}]")][:5]
    return [(path, a, b)]


def prepare_sweep_folder(out, manifest: dict) -> None:
    """Create ``out`` with ``manifest`` (atomically), or check that the manifest already
    there describes the same sweep (ValueError naming the keys that differ)."""
    out = Path(out)
    old = _read_manifest(out)
    if old is None:
        if (out / "chunks").is_dir() and any((out / "chunks").iterdir()):
            raise ValueError(f"{out} holds sweep chunks but no {SWEEP_MANIFEST}; use another "
                             "--out folder or remove it")
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / SWEEP_MANIFEST, (json_text(manifest) + "\n").encode())
        return
    # the fingerprint (a hash of the scenario set) last: it follows from what is named
    diff = sorted((k for k in _IDENTITY if old.get(k) != manifest.get(k)),
                  key=lambda k: k == "fingerprint")
    if diff:
        detail = "; ".join(f"{path}: folder has {json.dumps(a)[:120]}, this run "
                           f"{json.dumps(b)[:120]}"
                           for k in diff for path, a, b in _differences(old.get(k),
                                                                        manifest.get(k), k))
        raise ValueError(f"{out} holds a different sweep ({SWEEP_MANIFEST} differs in "
                         f"{', '.join(diff)}): {detail}. Use another --out folder, or remove "
                         "this one to start over")


def finished_chunks(out, manifest: dict) -> set[int]:
    """Chunks already written to ``out`` (each is written atomically: present = complete)."""
    d = Path(out) / "chunks"
    n, fmt = manifest["n_chunks"], manifest["chunk_format"]
    return {c for c in range(n) if (d / chunk_name(c, n, fmt)).is_file()}


def write_chunk(out, manifest: dict, c: int, frame: pd.DataFrame) -> Path:
    """Write chunk ``c`` (its rows of the tidy table) atomically."""
    n, fmt = manifest["n_chunks"], manifest["chunk_format"]
    path = Path(out) / "chunks" / chunk_name(c, n, fmt)
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        data = buf.getvalue()
    else:
        data = frame.to_csv(index=False, float_format=CSV_FLOAT).encode()
    atomic_write_bytes(path, data)
    return path


def read_chunks(out) -> tuple[dict, pd.DataFrame]:
    """(manifest, the whole tidy table) of a folder whose chunks are all present
    (ValueError naming the missing chunks and their scenarios otherwise)."""
    out = Path(out)
    man = _read_manifest(out)
    if man is None:
        raise ValueError(f"{out} is not a sweep folder (no {SWEEP_MANIFEST})")
    n, fmt, B = man["n_chunks"], man["chunk_format"], man["batch"]
    missing = sorted(set(range(n)) - finished_chunks(out, man))
    if missing:
        names = man["scenarios"]
        which = ", ".join(f"{c} ({names[c * B]}..{names[min(len(names), (c + 1) * B) - 1]})"
                          for c in missing[:10])
        raise ValueError(f"{out}: {len(missing)} of {n} chunks not written yet: {which}"
                         + (" ..." if len(missing) > 10 else "") +
                         "; run the missing shards (or the sweep with --resume) first")
    parts = []
    for c in range(n):
        p = out / "chunks" / chunk_name(c, n, fmt)
        # labels stay text: a scenario named "007" must not come back as 7
        parts.append(pd.read_parquet(p) if fmt == "parquet" else
                     pd.read_csv(p, keep_default_na=True,
                                 dtype={"scenario": str, "country": str}))
    frame = pd.concat(parts, ignore_index=True)
    frame["scenario"] = frame["scenario"].astype(str)
    frame["converged"] = frame["converged"].astype(str).str.lower().isin(("true", "1"))
    return man, frame


def sweep_summary(man: dict, frame: pd.DataFrame) -> dict:
    """The ``--json`` object of a sweep: manifest facts, counts, the scenarios that did
    not converge (with residual and iterations), the floored costs, each country's own
    gain when scenarios are named after countries (unilateral cuts), and the table."""
    per = frame.drop_duplicates("scenario")
    bad = per[~per["converged"]]
    own = {}
    for c in man["countries"]:
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
        "not_converged": records(bad, ["scenario", "residual", "trade_residual",
                                       "iterations"]
                                 + (["failure"] if "failure" in bad.columns else [])),
        "floored": {k: v for k, v in man.get("floored", {}).items() if v},
        "own_gain": own, "options": man["options"], "fingerprint": man["fingerprint"],
        "version": man["version"], "results": records(frame, list(frame.columns)),
    }


def plot_sweep(summary: dict, frame: pd.DataFrame, ax=None):
    """Each country's gain from its own scenario (unilateral cuts: ACR gain and, where
    computed, the mean EV) as bars; otherwise the utilitarian welfare change of every
    country across scenarios."""
    from hat_jax.report.figures import pyplot

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
        for c, g in frame.groupby("country", sort=False):
            ax.plot(np.arange(len(g)), g["welfare_change"].to_numpy(), marker="o", label=c)
        ax.set_xlabel("scenario")
        ax.set_ylabel("utilitarian welfare change")
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
        from hat_jax.report.figures import figure_bytes

        files["sweep.png"] = figure_bytes(plot_sweep(summary, frame))
    return summary, frame, write_files(out, files)


def format_sweep(summary: dict, frame: pd.DataFrame) -> str:
    """The readable summary of a sweep."""
    lines = [f"hat sweep {summary['preset']}: {summary['scenarios']} scenarios, "
             f"{summary['converged']} converged"]
    for r in summary["not_converged"]:
        lines.append(f"  not converged: {r['scenario']} (residual {r['residual']}, "
                     f"trade residual {r['trade_residual']}, {r['iterations']} iterations)"
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
        cols = ["scenario", "country", "converged", "W", "home_share", "welfare_change",
                "acr_gain"]
        lines.append(frame[cols].to_string(index=False, max_rows=60))
    return "\n".join(lines)
