"""Reading and checking the tidy tables, and the one world builder :func:`build_world`
(the layout and the rules: :mod:`hat_jax.tables`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._deprecation import renamed_keywords
from .data import DataError, PublishedVectors
from ._ek import THETA_D, EKWorld, data_moments, static_ek_start
from ._gravity import (
    COMMON_NAMES,
    ESTIMATORS,
    Geography,
    gravity_design,
    geography_from_covariates,
    n_params,
    tfp,
    trade_costs,
    unpack_params,
)
from ._params import make_economy
from ._results import check_choice
from ._preset_registry import REGISTRY

__all__ = ["TablesError", "GravitySpec", "TradeTables", "TABLE_NAMES", "MODEL_DEFAULTS",
           "read_tables", "world_from_tables", "build_world", "write_tables", "load_spec"]

TABLE_NAMES = ("countries", "flows", "gravity")
#: Model settings of a tables world when neither spec.json nor the caller sets them
#: (those of ``ek_baseline``).
MODEL_DEFAULTS = dict(gamma=1.45, sigma=0.33, psi_slope=0.725, R=1.01, phi=0.5, amax=8.0,
                      Na=100)


class TablesError(DataError):
    """A bad input table (the message names the file, the row and the value)."""


@dataclass(frozen=True)
class GravitySpec:
    """The gravity regression: ``distance`` ``"log"``, ``"bins"`` (with the edges
    ``bins``, increasing, e.g. ``(0, 375, 750, 1500, 3000, 6000, inf)``) or ``None``;
    ``covariates``: gravity-table columns; ``estimator``: ``"ols"`` or ``"ppml"``."""

    distance: str | None = "log"
    bins: tuple = ()
    covariates: tuple = ()
    estimator: str = "ols"

    def __post_init__(self):
        object.__setattr__(self, "covariates", tuple(self.covariates))
        object.__setattr__(self, "bins", tuple(float(b) for b in self.bins))
        check_choice("distance", self.distance, ("log", "bins", None))
        check_choice("estimator", self.estimator, ESTIMATORS)
        if self.distance == "bins":
            e = np.asarray(self.bins)
            if e.size < 2 or np.any(np.diff(e) <= 0) or np.isnan(e).any():
                raise ValueError(f"bins must be at least 2 increasing edges, got {self.bins}")
        elif self.bins:
            raise ValueError("bins are only used with distance='bins'")
        if len(set(self.covariates)) != len(self.covariates):
            raise ValueError(f"covariates repeated: {list(self.covariates)}")

    def as_dict(self) -> dict:
        return {"distance": self.distance, "bins": list(self.bins),
                "covariates": list(self.covariates), "estimator": self.estimator}


@dataclass(frozen=True, eq=False)
class TradeTables:
    """Validated tables: ``iso3``, ``names``, ``L`` [N], ``A`` [N] or None, ``flows``
    X [N, N] (importer rows), ``trade`` = log(X_ij / X_ii) (-inf for a zero flow),
    ``covariates`` [N, N, C] with ``coef_names`` [C], the ``spec`` and the ``source``."""

    iso3: tuple
    names: tuple
    L: np.ndarray
    A: np.ndarray | None
    flows: np.ndarray
    trade: np.ndarray
    covariates: np.ndarray
    coef_names: tuple
    spec: GravitySpec
    source: str = ""
    notes: tuple = field(default=())

    @property
    def n(self) -> int:
        return len(self.iso3)

    def geography(self) -> Geography:
        return geography_from_covariates(self.covariates, self.coef_names)


# ------------------------------------------------------------------------------ reading


def _table(source, name: str) -> tuple[pd.DataFrame, str]:
    """(frame, its file name for messages): ``source`` is a folder or a dict of frames."""
    if isinstance(source, dict):
        if name not in source:
            raise TablesError(f"{name}: table missing (give '{name}')")
        return pd.DataFrame(source[name]).reset_index(drop=True), f"{name} table"
    d = Path(source)
    files = [d / f"{name}.{ext}" for ext in ("csv", "parquet") if (d / f"{name}.{ext}").is_file()]
    if not files:
        raise TablesError(f"{d / name}.csv: missing file (nor {name}.parquet)")
    if len(files) > 1:
        raise TablesError(f"{files[0]}: both {name}.csv and {name}.parquet exist; keep one")
    f = files[0]
    try:
        df = pd.read_csv(f) if f.suffix == ".csv" else pd.read_parquet(f)
    except ImportError as exc:
        raise TablesError(f"{f}: reading Parquet needs pyarrow ({exc})") from exc
    except Exception as exc:
        raise TablesError(f"{f}: cannot be read ({exc})") from exc
    return df, str(f)


def _require(df: pd.DataFrame, f: str, columns) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise TablesError(f"{f}: missing column(s) {missing}; found {list(df.columns)}")


def _show(x) -> str:
    """A cell value for a message: numbers as plain floats, anything else as repr."""
    try:
        return repr(float(x))
    except (TypeError, ValueError):
        return repr(x)


def _numbers(df: pd.DataFrame, f: str, col: str, ids=None, rownum=None) -> np.ndarray:
    """Column ``col`` as finite floats. ``ids``: a label per row for messages; ``rownum``:
    the file's row number of each row (default 1, 2, ...)."""
    v = pd.to_numeric(df[col], errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        k = bad[0]
        row = k + 1 if rownum is None else rownum[k]
        who = "" if ids is None else f" ({ids[k]})"
        raise TablesError(f"{f}: row {row}{who}: {col} = {_show(df[col].iloc[k])} is missing "
                          f"or not a finite number ({bad.size} such row(s))")
    return v


def _countries(df: pd.DataFrame, f: str):
    _require(df, f, ("iso3", "name", "L"))
    if len(df) < 2:
        raise TablesError(f"{f}: {len(df)} countries; a world needs at least 2")
    iso3 = []
    for k, x in enumerate(df["iso3"]):
        s = "" if pd.isna(x) else str(x).strip()
        if not s:
            raise TablesError(f"{f}: row {k + 1}: empty iso3 ({x!r})")
        if s in iso3:
            raise TablesError(f"{f}: row {k + 1}: iso3 {s!r} repeated (first in row "
                              f"{iso3.index(s) + 1})")
        iso3.append(s)
    L = _numbers(df, f, "L", iso3)
    if np.any(L <= 0):
        k = int(np.flatnonzero(L <= 0)[0])
        raise TablesError(f"{f}: row {k + 1} ({iso3[k]}): L = {float(L[k])!r} must be positive")
    A = None
    if "A" in df.columns:
        A = _numbers(df, f, "A", iso3)
        if np.any(A <= 0):
            k = int(np.flatnonzero(A <= 0)[0])
            raise TablesError(f"{f}: row {k + 1} ({iso3[k]}): A = {float(A[k])!r} must be positive")
    names = tuple(str(x) for x in df["name"].fillna(""))
    return tuple(iso3), names, L, A


def _pairs(df: pd.DataFrame, f: str, iso3: tuple, diagonal: str) -> tuple[np.ndarray, np.ndarray]:
    """Row -> (importer index, exporter index); unknown codes, duplicates and missing
    pairs raise. ``diagonal``: "required", "ignored" (rows i == j allowed, dropped)."""
    _require(df, f, ("importer", "exporter"))
    pos = {c: k for k, c in enumerate(iso3)}
    idx = []
    for col in ("importer", "exporter"):
        codes = [("" if pd.isna(x) else str(x).strip()) for x in df[col]]
        for k, c in enumerate(codes):
            if c not in pos:
                raise TablesError(f"{f}: row {k + 1}: {col} {c!r} is not in the countries "
                                  f"table ({', '.join(iso3[:8])}{', ...' if len(iso3) > 8 else ''})")
        idx.append(np.array([pos[c] for c in codes], dtype=np.int64))
    i, j = idx
    seen: dict = {}
    for k, key in enumerate(zip(i.tolist(), j.tolist())):
        if key in seen:
            raise TablesError(f"{f}: row {k + 1}: pair ({iso3[key[0]]}, {iso3[key[1]]}) "
                              f"repeated (first in row {seen[key] + 1})")
        seen[key] = k
    n = len(iso3)
    want = [(a, b) for a in range(n) for b in range(n) if a != b or diagonal == "required"]
    missing = [(iso3[a], iso3[b]) for a, b in want if (a, b) not in seen]
    if missing:
        raise TablesError(f"{f}: {len(missing)} (importer, exporter) pair(s) missing, e.g. "
                          f"{missing[:5]}" + (" (home purchases importer == exporter are "
                                               "required)" if diagonal == "required" else ""))
    return i, j


def _flows(df: pd.DataFrame, f: str, iso3: tuple, estimator: str) -> np.ndarray:
    i, j = _pairs(df, f, iso3, "required")
    _require(df, f, ("value",))
    v = _numbers(df, f, "value", [f"{iso3[a]}, {iso3[b]}" for a, b in zip(i, j)])
    if np.any(v < 0):
        k = int(np.flatnonzero(v < 0)[0])
        raise TablesError(f"{f}: row {k + 1} ({iso3[i[k]]}, {iso3[j[k]]}): value = {float(v[k])!r} "
                          "is negative")
    home0 = np.flatnonzero((v == 0) & (i == j))
    if home0.size:
        k = int(home0[0])
        raise TablesError(f"{f}: row {k + 1} ({iso3[i[k]]}, {iso3[j[k]]}): home purchases "
                          "must be positive (value = 0); X_ij / X_ii normalises every flow")
    zero = np.flatnonzero(v == 0)
    if zero.size and estimator == "ols":
        pairs = ", ".join(f"row {k + 1} ({iso3[i[k]]}, {iso3[j[k]]})" for k in zero[:5])
        raise TablesError(f"{f}: {zero.size} zero flow(s) ({pairs}{', ...' if zero.size > 5 else ''})"
                          ": OLS on log flows cannot use them; use the PPML estimator "
                          "(estimator='ppml', --gravity-estimator ppml), which keeps zeros")
    X = np.zeros((len(iso3), len(iso3)))
    X[i, j] = v
    return X


def _regressors(df: pd.DataFrame, f: str, iso3: tuple, spec: GravitySpec):
    """(covariates [N, N, C], names): distance terms, the user's covariates, and a constant
    when they do not span one; constant and collinear columns raise."""
    i, j = _pairs(df, f, iso3, "ignored")
    off = i != j
    rows = np.flatnonzero(off)
    sub = df.iloc[rows].reset_index(drop=True)
    ids = [f"{iso3[a]}, {iso3[b]}" for a, b in zip(i[rows], j[rows])]
    n = len(iso3)
    cols, names = [], []
    if spec.distance is not None:
        _require(df, f, ("distance",))
        dist = _numbers(sub, f, "distance", ids, rows + 1)
        if np.any(dist <= 0):
            k = int(rows[np.flatnonzero(dist <= 0)[0]])
            raise TablesError(f"{f}: row {k + 1} ({iso3[i[k]]}, {iso3[j[k]]}): distance = "
                              f"{_show(df['distance'].iloc[k])} must be positive")
        if spec.distance == "log":
            cols.append(np.log(dist))
            names.append("log_distance")
        else:
            e = np.asarray(spec.bins)
            out = np.flatnonzero((dist < e[0]) | (dist >= e[-1]))
            if out.size:
                k = int(rows[out[0]])
                raise TablesError(f"{f}: row {k + 1} ({iso3[i[k]]}, {iso3[j[k]]}): distance = "
                                  f"{float(dist[out[0]])!r} is outside the bins [{e[0]}, {e[-1]})")
            b = np.searchsorted(e, dist, side="right") - 1
            for k in range(e.size - 1):
                cols.append((b == k).astype(np.float64))
                names.append(f"dist_{k + 1}")
    _require(df, f, spec.covariates)
    for c in spec.covariates:
        if c in ("importer", "exporter", "distance"):
            raise TablesError(f"{f}: {c!r} cannot be a covariate")
        cols.append(_numbers(sub, f, c, ids, rows + 1))
        names.append(str(c))
    if n == 2 and cols:
        raise TablesError(f"{f}: with N = 2 countries the two pairs cannot identify gravity "
                          f"coefficients ({names}); use distance=None and no covariates")
    spanned = bool(cols) and np.linalg.lstsq(np.column_stack(cols), np.ones(rows.size),
                                             rcond=None)[1].sum() <= 1e-9 * rows.size
    if n > 2 and not spanned:
        cols.insert(0, np.ones(rows.size))
        names.insert(0, "const")
    n_bins = len(spec.bins) - 1 if spec.distance == "bins" else 0
    for k, (c, name) in enumerate(zip(cols, names)):
        if k < n_bins and not c.any():
            raise TablesError(f"{f}: bin {name} [{spec.bins[k]}, {spec.bins[k + 1]}) has no "
                              "pairs: its coefficient is not identified; merge it with a neighbour")
        if k >= n_bins and name != "const" and np.all(c == c[0]):
            raise TablesError(f"{f}: covariate {name!r} is constant (value {float(c[0])!r} in "
                              "every pair i != j): it is not identified next to the fixed effects")
    z = np.zeros((n, n, len(cols)))
    if cols:
        z[i[rows], j[rows]] = np.column_stack(cols)
    geo = geography_from_covariates(z, names)
    X = np.asarray(gravity_design(geo))
    m = n_params(n, 0)  # the importer and exporter effects
    for k in range(len(names)):
        if np.linalg.matrix_rank(X[:, : m + k + 1]) < m + k + 1:
            raise TablesError(f"{f}: covariate {names[k]!r} is collinear with the importer and "
                              f"exporter fixed effects and the regressors before it "
                              f"({names[:k]}): drop it or another one")
    if n * (n - 1) < X.shape[1]:  # pragma: no cover - implied by the rank check
        raise TablesError(f"{f}: {n * (n - 1)} pairs for {X.shape[1]} coefficients")
    return z, tuple(names)


def load_spec(folder) -> tuple[GravitySpec | None, dict]:
    """(gravity spec or None, model settings) from ``folder/spec.json`` if it exists:
    ``{"gravity": {distance, bins, covariates, estimator}, "model": {gamma, sigma,
    psi_slope, R, phi, amax, Na}}`` (both keys optional)."""
    f = Path(folder) / "spec.json"
    if not f.is_file():
        return None, {}
    try:
        obj = json.loads(f.read_text())
        spec = GravitySpec(**obj["gravity"]) if "gravity" in obj else None
    except (ValueError, TypeError) as exc:
        raise TablesError(f"{f}: {exc}") from exc
    model = dict(obj.get("model", {}))
    bad = sorted(set(model) - set(MODEL_DEFAULTS))
    if bad:
        raise TablesError(f"{f}: unknown model setting(s) {bad}; known: {sorted(MODEL_DEFAULTS)}")
    return spec, model


def read_tables(source, spec: GravitySpec | None = None) -> TradeTables:
    """Read and validate the tables of a folder (or a dict ``{"countries": df, "flows":
    df, "gravity": df}``). ``spec``: the gravity specification (default: the folder's
    spec.json, else log distance and no covariates)."""
    if spec is None and not isinstance(source, dict):
        spec = load_spec(source)[0]
    spec = GravitySpec() if spec is None else spec
    cdf, cf = _table(source, "countries")
    iso3, names, L, A = _countries(cdf, cf)
    fdf, ff = _table(source, "flows")
    X = _flows(fdf, ff, iso3, spec.estimator)
    gdf, gf = _table(source, "gravity")
    z, coef_names = _regressors(gdf, gf, iso3, spec)
    with np.errstate(divide="ignore"):
        trade = np.log(X) - np.log(np.diag(X))[:, None]
    notes = []
    unused = sorted(set(gdf.columns) - {"importer", "exporter", "distance", *spec.covariates})
    if unused:
        notes.append(f"{gf}: columns not in the specification, not used: {unused}")
    return TradeTables(iso3, names, L, A, X, trade, z, coef_names, spec,
                       "" if isinstance(source, dict) else str(source), tuple(notes))


@renamed_keywords(theta="params")
def world_from_tables(source=None, *, spec: GravitySpec | None = None, preset: str | None = None,
                      params=None, R: float | None = None, theta_d: float = THETA_D,
                      countries=None, flows=None, gravity=None, **overrides) -> EKWorld:
    """A world (:class:`~hat_jax.EKWorld`) from tidy tables: a folder ``source`` or
    the frames ``countries``, ``flows``, ``gravity``.

    Model settings, later ones winning: :data:`MODEL_DEFAULTS` (ek_baseline's), the
    folder's spec.json ``"model"``, the settings of ``preset`` (an ``ek_*`` name),
    ``R`` and ``overrides`` (Economy settings). ``params``: the K = 2(N-1) + C
    parameters (default: the static Eaton-Kortum inversion of the data moments, with
    log A from the countries table's A when given). Starting prices: ``world.start("cold")``.
    """
    if source is None:
        if countries is None or flows is None or gravity is None:
            raise ValueError("give a folder, or all three tables countries=, flows=, gravity=")
        source = {"countries": countries, "flows": flows, "gravity": gravity}
        model = {}
    else:
        if not Path(source).is_dir():
            raise TablesError(f"{source}: not a folder (expected countries, flows, gravity tables)")
        file_spec, model = load_spec(source)
        spec = file_spec if spec is None else spec
    data = read_tables(source, spec)
    kw = dict(MODEL_DEFAULTS)
    kw.update(model)
    if preset is not None:
        if preset not in REGISTRY or not REGISTRY[preset].from_data:
            raise ValueError(f"preset {preset!r} is not an ek_* preset")
        kw.update(REGISTRY[preset].settings, R=REGISTRY[preset].R)
    kw.update({k: v for k, v in overrides.items() if v is not None})
    R_target = kw.pop("R") if R is None else R
    name = f"tables:{data.source}" if data.source else "tables"
    return build_world(data, name=name, settings=kw, R=R_target, params=params,
                       theta_d=theta_d)


def build_world(data: TradeTables, *, name: str, settings: dict, R: float, params=None,
                theta_d: float = THETA_D, published: PublishedVectors | None = None
                ) -> EKWorld:
    """The one world builder (tables worlds and the ``ek_*`` presets): Theta ``params``
    (default: the static Eaton-Kortum inversion of the data moments, log A from the
    countries table's A when given) -> A = exp(log A), d = trade_costs(Theta) (model.md
    s.7) -> the Economy with ``settings`` (beta default 0.95 / R) and the target ``R``."""
    R_target = float(R)
    if not (np.isfinite(R_target) and R_target > 0):
        raise ValueError(f"target R must be positive and finite, got R={R_target!r}")
    geo = data.geography()
    K = n_params(data.n, geo.n_coef)
    if params is None:
        target = np.asarray(data_moments(data, data.spec.estimator).moment_vector())
        params = static_ek_start(target, data.L, geo, theta_d)[0]
        if data.A is not None:
            params[: data.n - 1] = np.log(data.A[:-1] / data.A[-1])
    params = np.asarray(params, np.float64)
    if params.shape != (K,):
        raise ValueError(f"params must have {K} entries (2(N-1) + C), got shape "
                         f"{params.shape}")
    if not np.all(np.isfinite(params)):
        raise ValueError("params has non-finite entries at positions "
                         f"{np.flatnonzero(~np.isfinite(params)).tolist()}")
    kw = dict(settings)
    p = unpack_params(params, geo.n_coef)
    econ = make_economy(np.asarray(trade_costs(p, geo, theta_d)), np.asarray(tfp(p)), data.L,
                        countries=data.iso3, beta=kw.pop("beta", 0.95 / R_target), **kw)
    return EKWorld(name=name, economy=econ, data=data, params=params, published=published,
                   R=R_target, theta_d=theta_d, estimator=data.spec.estimator)


# ------------------------------------------------------------------------------ writing


def write_tables(folder, *, countries: pd.DataFrame, flows: pd.DataFrame,
                 gravity: pd.DataFrame, spec: GravitySpec | None = None,
                 model: dict | None = None) -> Path:
    """Write the three tables as CSV (full float precision) and, when given, spec.json."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    for name, df in (("countries", countries), ("flows", flows), ("gravity", gravity)):
        df.to_csv(d / f"{name}.csv", index=False)  # shortest round-trip float repr
    if spec is not None or model:
        obj = {}
        if spec is not None:
            obj["gravity"] = spec.as_dict()
        if model:
            obj["model"] = dict(model)
        (d / "spec.json").write_text(json.dumps(obj, indent=1) + "\n")
    return d
