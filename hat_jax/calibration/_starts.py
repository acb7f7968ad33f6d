"""Where a calibration starts (:class:`Start`): the published vectors, the cold start from
the data, or a params file. "Start" is the kind of starting point defined in
:mod:`hat_jax._preset_registry` ("published" or "cold"), or here also a file path."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._ek import EKWorld, static_ek_start
from .._gravity import n_countries_from_length
from ._problem import CalibrationProblem, problem_from_world

__all__ = ["Start", "guess_column", "read_prices", "read_start_file", "sibling_prices",
           "starting_point", "validate_start"]


class Start(NamedTuple):
    """A starting point: Theta [K], wages W [N] (mean one) and beta, with a label
    ("published", "cold" or "file:PATH")."""

    params: np.ndarray
    W: np.ndarray
    beta: float
    label: str


def guess_column(f: Path, what: str) -> np.ndarray:
    """The finite numbers of column ``guess`` of a CSV file (ValueError naming the file)."""
    import pandas as pd

    if not f.is_file():
        raise ValueError(f"{what} file {f} does not exist")
    try:
        df = pd.read_csv(f)
    except Exception as exc:
        raise ValueError(f"{what} file {f} cannot be parsed as CSV ({exc})") from exc
    if "guess" not in df.columns:
        raise ValueError(f"{what} file {f} has no column 'guess' (found {list(df.columns)})")
    try:
        v = pd.to_numeric(df["guess"]).to_numpy(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} file {f}: non-numeric values in column 'guess'") from exc
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{what} file {f}: non-finite values in column 'guess'")
    return v


def sibling_prices(path: Path) -> Path | None:
    """The prices file beside a params file (``X-params.csv`` -> ``X-prices.csv``,
    ``params.csv`` -> ``prices.csv``) when it exists, else None."""
    name = path.name
    if not name.endswith("params.csv"):
        return None
    sib = path.with_name(name[: -len("params.csv")] + "prices.csv")
    return sib if sib.is_file() else None


def read_prices(sib: Path, n: int, what: str) -> tuple[np.ndarray, float]:
    """(W [n], beta) from a prices file (column ``guess``: W_1..W_{n-1}, mean-one wages,
    then beta; W_n = n - sum(W_1..W_{n-1})); ValueError naming ``what`` and the file."""
    prices = guess_column(sib, f"{what} (prices)")
    if prices.size != n:
        raise ValueError(f"{what}: the prices file {sib} must have {n} rows (W_1..W_{n - 1}, "
                         f"then beta), found {prices.size}")
    W = np.append(prices[: n - 1], n - prices[: n - 1].sum())
    if np.any(W <= 0):
        raise ValueError(f"{what}: the prices file {sib} gives a wage W_{n} = {n} - "
                         f"sum(W_1..W_{n - 1}) = {W[-1]:.6g} <= 0")
    return W, float(prices[n - 1])


def read_start_file(path, n_coef: int = 10) -> tuple[np.ndarray, np.ndarray | None, float | None]:
    """Theta from a params file (column ``guess``, K rows: the published layout, e.g.
    ``hat-baseline/baseline-params.csv`` or a calibration's ``params.csv``), and the
    prices from its sibling (``X-params.csv`` -> ``X-prices.csv``, ``params.csv`` ->
    ``prices.csv``) when that exists (``n_coef``: C, the number of covariate
    coefficients, 10 for Eaton-Kortum): (params, W or None, beta or None). The prices file
    holds W_1..W_{N-1} (mean-one wages) then beta; W_N = N - sum(W_1..W_{N-1})."""
    path = Path(path).expanduser()
    params = guess_column(path, "start (params)")
    n = n_countries_from_length(params.size, n_coef)  # validates the length
    sib = sibling_prices(path)
    if sib is None:
        return params, None, None
    W, beta = read_prices(sib, n, "start")
    return params, W, beta


def starting_point(source, start: str = "published") -> Start:
    """Starting Theta, wages and beta for a preset world (:class:`~hat_jax._ek.EKWorld`) or
    a :class:`CalibrationProblem`.

    ``"published"``: the published vectors (ValueError for presets without them, and
    for a bare problem); ``"cold"``: :func:`hat_jax._ek.static_ek_start` from the data
    moments and labour forces, beta = 0.95/R; a path: a params file (see
    :func:`read_start_file`; without a sibling prices file the wages and beta are the
    cold ones).
    """
    if isinstance(source, EKWorld):
        what, published = f"preset {source.name!r}", source.published
        problem = problem_from_world(source)
    else:
        what, published, problem = "a bare calibration problem", None, source
    R = float(problem.R)
    if start == "published":
        if published is None:
            raise ValueError(f"{what} has no published vectors; use start 'cold' (or a "
                             "params file)")
        return Start(np.asarray(published.params, np.float64),
                     np.asarray(published.wages, np.float64), float(published.beta),
                     "published")
    theta_c, W_c = static_ek_start(np.asarray(problem.target), np.asarray(problem.economy.L),
                                   problem.geography, problem.theta_d)
    if start == "cold":
        return Start(theta_c, W_c, 0.95 / R, "cold")
    params, W, beta = read_start_file(start, problem.geography.n_coef)
    if params.size != theta_c.size:
        raise ValueError(f"start file {start}: expected {theta_c.size} parameters "
                         f"(published layout), found {params.size}")
    if W is not None and W.size != problem.N:
        raise ValueError(f"start file {start}: the prices file has {W.size} wages, "
                         f"expected {problem.N}")
    if beta is not None and not (0.0 < beta * R < 1.0):
        raise ValueError(f"start file {start}: beta = {beta!r} violates 0 < beta R < 1 "
                         f"at R = {R}")
    return Start(params, W_c if W is None else W, 0.95 / R if beta is None else beta,
                 f"file:{Path(start).expanduser().resolve()}")


def validate_start(start: Start, problem: CalibrationProblem):
    """(params [K], W [N] normalised to mean one, beta) of a start, checked against the
    problem: finite Theta of length K, positive wages, 0 < beta R < 1 (ValueError)."""
    K, N, R = problem.K, problem.N, float(problem.R)
    theta0 = np.asarray(start.params, np.float64)
    if theta0.shape != (K,):
        raise ValueError(f"start params must have {K} entries, got shape {theta0.shape}")
    if not np.all(np.isfinite(theta0)):
        raise ValueError("start params has non-finite entries at positions "
                         f"{np.flatnonzero(~np.isfinite(theta0)).tolist()}")
    W0 = np.asarray(start.W, np.float64)
    if W0.shape != (N,) or np.any(~np.isfinite(W0)) or np.any(W0 <= 0):
        raise ValueError(f"start wages must be {N} positive numbers, got {W0}")
    W0 = W0 / W0.mean()
    beta0 = float(start.beta)
    if not 0.0 < beta0 * R < 1.0:
        raise ValueError(f"start beta = {beta0!r} violates 0 < beta R < 1 at R = {R!r}")
    return theta0, W0, beta0
