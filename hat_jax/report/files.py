"""Output files and JSON numbers: the one atomic writer of the report layer and the one
conversion of numbers to JSON (plain floats; a non-finite value becomes ``null``)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from hat_jax.fileio import atomic_write_text

__all__ = ["CSV_FLOAT", "json_num", "json_nums", "json_text", "records", "write_files"]

CSV_FLOAT = "%.17g"  # float format of every CSV file: round-trips float64 exactly


def json_num(x) -> float | None:
    """A JSON number: a plain float, or None when not finite."""
    x = float(x)
    return x if math.isfinite(x) else None


def json_nums(x):
    """Nested lists of plain floats (None for non-finite entries); a scalar for 0-d input."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        return json_num(a)
    return [json_nums(v) for v in a]


def json_text(obj) -> str:
    """``obj`` as indented JSON (NaN refused: convert with :func:`json_num` first)."""
    return json.dumps(obj, indent=2, allow_nan=False)


def records(df, keys) -> list[dict]:
    """Rows of a frame as JSON records over ``keys``: bools, ints and strings as they are,
    every other value through :func:`json_num`."""
    out = []
    for row in df[list(keys)].itertuples(index=False):
        rec = {}
        for k, v in zip(keys, row):
            if isinstance(v, (bool, np.bool_)):
                rec[k] = bool(v)
            elif isinstance(v, (int, np.integer)):
                rec[k] = int(v)
            elif isinstance(v, str):
                rec[k] = v
            else:
                rec[k] = json_num(v)
        out.append(rec)
    return out


def write_files(out_dir: str | os.PathLike, files: dict[str, str]) -> list[Path]:
    """Create ``out_dir`` and write each ``name -> text`` of ``files`` atomically
    (temporary file, fsync, rename); returns the paths in order."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        atomic_write_text(out / name, text)
        paths.append(out / name)
    return paths
