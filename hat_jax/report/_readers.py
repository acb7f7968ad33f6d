"""Readers of the input files of the ``hat`` command: a trade-cost matrix (``hat
counterfactual --costs``) and Pareto weights (``hat planner --weights``). Each raises
ValueError naming the option and the file on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["read_cost_matrix", "read_weights", "read_inference"]


def _labelled_costs(path: Path, countries, flag: str = "--costs") -> pd.DataFrame:
    """The CSV read with its header row and index column, reordered to ``countries``."""
    df = pd.read_csv(path, index_col=0)
    df.index = df.index.astype(str).str.strip().str.upper()
    df.columns = df.columns.astype(str).str.strip().str.upper()
    up = [str(c).upper() for c in countries]
    unknown = sorted((set(df.index) | set(df.columns)) - set(up))
    if unknown:
        raise ValueError(f"{flag}: {path} names unknown countries {unknown}; the countries "
                         f"are {', '.join(countries)}")
    missing = sorted(set(up) - set(df.index)) + sorted(set(up) - set(df.columns))
    if missing:
        raise ValueError(f"{flag}: {path} lacks countries {sorted(set(missing))}")
    return df.loc[up, up]


def _is_number(x) -> bool:
    try:
        float(x)
        return True
    except (TypeError, ValueError):
        return False


def _has_labels(df: pd.DataFrame, countries) -> bool:
    """Whether the CSV read without a header is a labelled table: its header row (after
    the corner cell) and first column (below it) are all non-numbers, or one of them
    names a country. A plain numeric matrix with a stray word in it is not labelled."""
    if df.shape[1] < 2:
        return False
    header = [str(x).strip() for x in df.iloc[0, 1:]]
    column = [str(x).strip() for x in df.iloc[1:, 0]]
    if not any(_is_number(x) for x in header + column):
        return True
    up = {str(c).strip().upper() for c in countries}
    return any(x.upper() in up for x in header + column)


def _numbers(df: pd.DataFrame, path, flag: str) -> np.ndarray:
    """The table as float64, or ValueError naming the first cell that is not a number
    (by its row and column labels in a labelled table, else 1-based row and column)."""
    labelled = not isinstance(df.index, pd.RangeIndex)
    for i in range(df.shape[0]):
        for j in range(df.shape[1]):
            x = df.iat[i, j]
            if not _is_number(x) or pd.isna(x):
                where = (f"row {df.index[i]}, column {df.columns[j]}" if labelled
                         else f"row {i + 1}, column {j + 1}")
                what = "empty" if pd.isna(x) else f"{str(x).strip()!r}"
                raise ValueError(f"{flag}: {path}: the cell at {where} is {what}, "
                                 "not a number")
    return df.to_numpy(dtype=np.float64)


def read_cost_matrix(path, countries, flag: str = "--costs") -> np.ndarray:
    """An N x N cost matrix d_ij (importer rows) from ``path``: .npy, or CSV with labels
    (header row and index column naming the countries, matched case-insensitively and
    reordered to ``countries``) or plain numbers. ``flag`` names the option in messages
    (``--costs``, ``--tariffs``)."""
    path = Path(path)
    N = len(countries)
    if not path.is_file():
        raise ValueError(f"{flag}: no such file {str(path)!r}")
    if path.suffix == ".npy":
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise ValueError(f"{flag}: {path} is not a NumPy .npy file (no .npy "
                                 "header); save the matrix with numpy.save, or as CSV")
        try:
            d = np.load(path, allow_pickle=False)
            d = np.asarray(d, np.float64)
        except (ValueError, OSError, EOFError, TypeError) as exc:
            reason = str(exc).split(".")[0].split("\n")[0]
            raise ValueError(f"{flag}: {path} is not a numeric NumPy .npy array "
                             f"({reason})") from None
    else:
        try:
            df = pd.read_csv(path, header=None)
        except pd.errors.EmptyDataError:
            raise ValueError(f"{flag}: {path} is empty (expected an N x N matrix with "
                             f"N={N}: countries {', '.join(countries)})") from None
        except pd.errors.ParserError as exc:
            raise ValueError(f"{flag}: {path} is not a CSV table ({exc})") from None
        if _has_labels(df, countries):
            df = _labelled_costs(path, countries, flag)  # a header row with country labels
        d = _numbers(df, path, flag)
    d = np.asarray(d, np.float64)
    if d.shape != (N, N):
        raise ValueError(f"{flag}: the matrix in {path} must be {N} x {N} (countries "
                         f"{', '.join(countries)}), got shape {d.shape}")
    return d


def read_weights(path, countries) -> np.ndarray:
    """Pareto weights from ``path``: CSV with a country column and a weight column (matched
    to ``countries`` case-insensitively; a header row is skipped), or N plain numbers."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--weights: no such file {str(path)!r}")
    df = pd.read_csv(path, header=None)
    N = len(countries)
    if df.shape[1] >= 2 and not pd.api.types.is_numeric_dtype(df.iloc[:, 0]):
        first = str(df.iloc[0, 0]).strip().upper()
        if first not in [c.upper() for c in countries]:
            df = df.iloc[1:]  # a header row
        m = {str(k).strip().upper(): v for k, v in zip(df.iloc[:, 0], df.iloc[:, 1])}
        missing = [c for c in countries if c.upper() not in m]
        if missing:
            raise ValueError(f"--weights: {path} lacks countries {missing}")
        w = np.array([float(m[c.upper()]) for c in countries])
    else:
        w = df.to_numpy(dtype=np.float64).ravel()
    if w.shape != (N,):
        raise ValueError(f"--weights: need {N} weights (one per country), got {w.size}")
    return w


def read_inference(path, flag: str = "--se"):
    """(params [K], V_params [K, K], cov) of an inference.json written by ``hat calibrate
    --se`` (ValueError naming ``flag`` and the file on a missing or malformed file)."""
    import json

    path = Path(path)
    if path.is_dir():
        path = path / "inference.json"
    if not path.is_file():
        raise ValueError(f"{flag}: {path} does not exist (the inference.json of "
                         "`hat calibrate --se`, or its folder)")
    try:
        obj = json.loads(path.read_text())
        params = np.asarray(obj["params"], np.float64)
        V = np.asarray(obj["V_params"], np.float64)
        cov = str(obj["cov"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{flag}: {path} is not an inference.json of `hat calibrate --se` "
                         f"({exc})") from None
    K = params.shape[0]
    if params.ndim != 1 or V.shape != (K, K) or not np.all(np.isfinite(V)):
        raise ValueError(f"{flag}: {path}: V_params must be a finite {K} x {K} matrix, got "
                         f"shape {V.shape}")
    return params, V, cov
