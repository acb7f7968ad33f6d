"""The resumable store of a sweep: the ``hat sweep --out DIR`` folder's manifest and chunks.

Layout of ``DIR``:

- ``sweep.json`` (:data:`SWEEP_MANIFEST`): format, scenario-set fingerprint, preset,
  options, package version, K, batch, chunk count and format, scenario names, countries
  and the costs floored per scenario. Written once (atomically); a later run into DIR
  must have the same manifest (else it is refused, naming what differs).
- ``chunks/chunk-CCCCC-of-NNNNN.csv`` (or ``.parquet`` where pyarrow is importable): the
  rows of scenarios ``C*batch .. (C+1)*batch - 1`` of the tidy table, each file written
  atomically (a killed sweep loses at most the chunk in flight; ``--resume`` skips the
  chunks present).

The merged table, summary and figure are the report layer's
(:mod:`hat_jax.report.sweep`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from hat_jax._fileio import atomic_write_bytes
from hat_jax._fileio import CSV_FLOAT, json_text

__all__ = ["SWEEP_MANIFEST", "SWEEP_FORMAT", "chunk_format", "chunk_name", "n_chunks",
           "chunks_of_shard", "prepare_sweep_folder", "finished_chunks", "write_chunk",
           "read_chunks"]

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
