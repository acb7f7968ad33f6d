"""Loading the Eaton-Kortum (2002) data and the published HAT parameter vectors.

The data ship inside the package (``hat_jax/_data``, unchanged copies of the public
replication files; see ``hat_jax/_data/README.md``); ``HAT_DATA_DIR`` or an explicit
path overrides them. Every file is validated and any problem raises :class:`DataError` naming the file and the defect.
Outputs are float64 numpy arrays indexed importer-row / exporter-column in
``countries.csv`` order, with ISO3 labels.

Known quirks of the supplied data, kept as they are (documented, not "fixed"):

* ``ek-labor.csv``: Germany's L = 0.0225 is almost surely a transcription of 0.225.
  It is not changed; loading emits a :class:`DataWarning`.
* ``ek-data.csv``: the Australia-United Kingdom distance is 769 miles (both directions),
  inconsistent with its bin (``binmax``/``distbin`` 6, which is the true one). Only the
  bins enter the regression and trade costs, so this is harmless; ``distance`` is
  returned as supplied.
* ``border`` is not symmetric for Finland-Sweden: 1 for Finland importing from Sweden,
  0 for Sweden importing from Finland. Kept (Eaton-Kortum's estimates use it as is).
* The diagonal rows of ``ek-data.csv`` carry ``bin375 = 1, distbin = 1``; they are
  ignored (``dist_bin`` is -1 and all dummies 0 on the diagonal).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ._gravity import N_DIST_BINS, Geography, geography_from_arrays, n_params

__all__ = [
    "DataError",
    "DataWarning",
    "EK_ISO3",
    "DIST_BIN_COLUMNS",
    "PUBLISHED_NAMES",
    "packaged_data_dir",
    "resolve_data_dir",
    "EKData",
    "load_ek2002",
    "PublishedVectors",
    "load_published",
]

#: The 19 countries of the Eaton-Kortum world in ``countries.csv`` order.
EK_ISO3 = (
    "AUS", "AUT", "BEL", "CAN", "DNK", "FIN", "FRA", "DEU", "GRC", "ITA",
    "JPN", "NLD", "NZL", "NOR", "PRT", "ESP", "SWE", "GBR", "USA",
)  # fmt: skip
DIST_BIN_COLUMNS = ("bin375", "bin750", "bin1500", "bin3000", "bin6000", "binmax")
_GRAVITY_COLUMNS = ("distance", "border", *DIST_BIN_COLUMNS, "distbin", "importer", "exporter")
_LANG_COLUMNS = ("sharedlanguage", "europeancom", "efta")
PUBLISHED_NAMES = ("baseline", "no-quality", "log")
_GERMANY_TYPO = 0.0225


class DataError(ValueError):
    """A data file is missing or malformed (the message names the file and the problem)."""


class DataWarning(UserWarning):
    """A data value looks suspicious but is used as supplied."""


# ------------------------------------------------------------------------ locating data


def _as_data_dir(p: Path) -> Path:
    """Map ``.../ek2002`` or ``.../hat-baseline`` to its parent; otherwise return p."""
    if p.name in ("ek2002", "hat-baseline") and not (p / "ek2002").is_dir():
        return p.parent
    return p


def _looks_like_data_dir(p: Path) -> bool:
    return (p / "ek2002").is_dir() or (p / "hat-baseline").is_dir()


def packaged_data_dir() -> Path:
    """The copy of ``ek2002/`` and ``hat-baseline/`` shipped inside the package
    (``hat_jax/_data``), byte-identical to the public replication files."""
    return Path(str(resources.files("hat_jax") / "_data"))


def resolve_data_dir(path: str | os.PathLike | None = None) -> Path:
    """The directory containing ``ek2002/`` and ``hat-baseline/``.

    Order: ``path`` (the data dir itself, or its ``ek2002``/``hat-baseline`` subfolder),
    else the environment variable ``HAT_DATA_DIR``, else the copy shipped with the
    package (:func:`packaged_data_dir`). No other place is searched.
    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_dir():
            raise DataError(f"data directory {p} does not exist or is not a directory")
        return _as_data_dir(p)
    env = os.environ.get("HAT_DATA_DIR")
    if env:
        p = Path(env).expanduser()
        if not p.is_dir():
            raise DataError(f"HAT_DATA_DIR={env!r}: {p} does not exist or is not a directory")
        return _as_data_dir(p)
    p = packaged_data_dir()
    if not _looks_like_data_dir(p):  # pragma: no cover - a broken installation
        raise DataError(f"the packaged data folder {p} is missing (a broken installation?); "
                        "set HAT_DATA_DIR or pass the data directory")
    return p


def _subdir(path, name: str) -> Path:
    """``path/name`` if that folder exists, else ``path`` itself (accepts both forms)."""
    if path is None:
        return resolve_data_dir() / name
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DataError(f"data directory {p} does not exist or is not a directory")
    return p / name if (p / name).is_dir() else p


# ---------------------------------------------------------------------- csv validation


def _read_csv(file: Path, columns, nrows: int) -> pd.DataFrame:
    """Read ``file``; check it exists, has ``columns``, ``nrows`` rows and no NaN there."""
    if not file.is_file():
        raise DataError(f"{file}: missing file")
    try:
        df = pd.read_csv(file)
    except Exception as exc:  # pandas parser / empty-file errors
        raise DataError(f"{file}: cannot be parsed as CSV ({exc})") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{file}: missing column(s) {missing}; found {list(df.columns)}")
    if len(df) != nrows:
        raise DataError(f"{file}: expected {nrows} rows, found {len(df)}")
    df = df[list(columns)]
    bad = [c for c in columns if df[c].isna().any()]
    if bad:
        raise DataError(f"{file}: NaN / empty values in column(s) {bad}")
    return df


def _numeric(file: Path, df: pd.DataFrame, columns) -> dict[str, np.ndarray]:
    out = {}
    for c in columns:
        try:
            out[c] = pd.to_numeric(df[c]).to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{file}: non-numeric values in column {c!r}") from exc
        if not np.all(np.isfinite(out[c])):
            raise DataError(f"{file}: non-finite values in column {c!r}")
    return out


def _check_pairs(file: Path, importer: np.ndarray, exporter: np.ndarray, n: int, diag: bool):
    """Rows must be importer-major / exporter-inner over 1..n (optionally without i == j)."""
    i, j = np.meshgrid(np.arange(1, n + 1), np.arange(1, n + 1), indexing="ij")
    keep = np.ones((n, n), bool) if diag else ~np.eye(n, dtype=bool)
    if not (np.array_equal(importer, i[keep]) and np.array_equal(exporter, j[keep])):
        what = "all pairs" if diag else "off-diagonal pairs"
        raise DataError(
            f"{file}: rows are not ordered importer-major / exporter-inner over {what} of "
            f"countries 1..{n} (importer, exporter) = (1,1), (1,2), ..."
        )


def _check_binary(file: Path, cols: dict[str, np.ndarray]):
    for c, v in cols.items():
        if not np.all((v == 0) | (v == 1)):
            raise DataError(f"{file}: column {c!r} must be 0/1")


# ------------------------------------------------------------------------------ EK data


@dataclass(frozen=True, eq=False)
class EKData:
    """The Eaton-Kortum 19-country world (importer rows, exporter columns).

    ``trade[i, j] = log(X_ij / X_ii)`` (0 on the diagonal); ``distance`` in miles;
    ``dist_bin`` 0..5 for bins [0,375), [375,750), [750,1500), [1500,3000),
    [3000,6000), [6000,max] and -1 on the diagonal; ``border, language, ec, efta`` 0/1
    floats with zero diagonal; ``L`` labour forces relative to the USA. Arrays are
    read-only. See the module docstring for the data quirks (Germany's L etc.).
    """

    iso3: tuple[str, ...]
    names: tuple[str, ...]
    trade: np.ndarray
    distance: np.ndarray
    dist_bin: np.ndarray
    border: np.ndarray
    language: np.ndarray
    ec: np.ndarray
    efta: np.ndarray
    L: np.ndarray

    @property
    def n(self) -> int:
        return len(self.iso3)

    def index(self, iso3: str) -> int:
        """0-based position of a country code."""
        return self.iso3.index(iso3)

    def geography(self) -> Geography:
        """The pair characteristics as a JAX :class:`~hat_jax._gravity.Geography`."""
        return geography_from_arrays(self.dist_bin, self.border, self.language, self.ec, self.efta)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a


def _read_countries(d: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(ISO3 codes, names) of ``countries.csv``, checked against :data:`EK_ISO3`."""
    f = d / "countries.csv"
    table = _read_csv(f, ("index", "iso3", "name"), 19)
    iso3 = tuple(str(s).strip() for s in table["iso3"])
    names = tuple(str(s).strip() for s in table["name"])
    idx = _numeric(f, table, ("index",))["index"]
    if not np.array_equal(idx, np.arange(1, 20)):
        raise DataError(f"{f}: column 'index' must be 1..19 in order")
    if iso3 != EK_ISO3:
        raise DataError(f"{f}: country list mismatch: expected {list(EK_ISO3)}, found {list(iso3)}")
    return iso3, names


def _read_gravity(d: Path, n: int) -> dict[str, np.ndarray]:
    """The columns of the full n x n file ``ek-data.csv`` (trade, distance, bins, ...),
    checked: importer-major pairs, binary dummies, zero trade on the diagonal, one-hot
    distance bins agreeing with ``distbin``."""
    f = d / "ek-data.csv"
    cols = ("trade", *_GRAVITY_COLUMNS)
    g = _numeric(f, _read_csv(f, cols, n * n), cols)
    _check_pairs(f, g["importer"], g["exporter"], n, diag=True)
    _check_binary(f, {k: g[k] for k in ("border", *DIST_BIN_COLUMNS)})
    if np.any(np.diag(g["trade"].reshape(n, n)) != 0):
        raise DataError(f"{f}: 'trade' must be 0 on the diagonal (importer == exporter)")
    off = ~np.eye(n, dtype=bool)
    bins = np.stack([g[k] for k in DIST_BIN_COLUMNS], axis=1).reshape(n, n, N_DIST_BINS)[off]
    distbin = g["distbin"].reshape(n, n)[off]
    if not (np.all(bins.sum(axis=1) == 1) and np.array_equal(bins.argmax(axis=1) + 1, distbin)):
        raise DataError(f"{f}: distance-bin dummies are not one-hot or disagree with 'distbin'")
    return g


def _read_language(d: Path, n: int, g: dict) -> dict[str, np.ndarray]:
    """The language / trade-bloc dummies of ``ek-cntryfix.csv`` (off-diagonal pairs),
    checked against ``ek-data.csv`` and ``ek-language.csv``."""
    off = ~np.eye(n, dtype=bool)
    f = d / "ek-cntryfix.csv"
    cols = (*_GRAVITY_COLUMNS, *_LANG_COLUMNS)
    cf = _numeric(f, _read_csv(f, cols, n * (n - 1)), cols)
    _check_pairs(f, cf["importer"], cf["exporter"], n, diag=False)
    _check_binary(f, {k: cf[k] for k in _LANG_COLUMNS})
    for k in _GRAVITY_COLUMNS:
        if not np.array_equal(cf[k], g[k].reshape(n, n)[off]):
            raise DataError(f"{f}: column {k!r} disagrees with ek-data.csv off the diagonal")
    f = d / "ek-language.csv"
    lg = _numeric(f, _read_csv(f, _LANG_COLUMNS, n * (n - 1)), _LANG_COLUMNS)
    for k in _LANG_COLUMNS:
        if not np.array_equal(lg[k], cf[k]):
            raise DataError(f"{f}: column {k!r} disagrees with ek-cntryfix.csv")
    return cf


def _read_labour(d: Path, iso3: tuple[str, ...]) -> np.ndarray:
    """Labour forces L of ``ek-labor.csv`` (positive; a DataWarning for Germany's 0.0225)."""
    f = d / "ek-labor.csv"
    L = _numeric(f, _read_csv(f, ("L",), len(iso3)), ("L",))["L"]
    if np.any(L <= 0):
        bad = [iso3[k] for k in np.flatnonzero(L <= 0)]
        raise DataError(f"{f}: labour force L must be positive (non-positive for {bad})")
    if L[iso3.index("DEU")] == _GERMANY_TYPO:
        warnings.warn(
            f"{f}: Germany's labour force L = {_GERMANY_TYPO} (relative to the USA) looks like "
            "a transcription error of 0.225; it is used as supplied.",
            DataWarning,
            stacklevel=3,
        )
    return L


def load_ek2002(path: str | os.PathLike | None = None) -> EKData:
    """Load and validate ``ek2002/`` (``path``: the data dir or the ek2002 dir itself)."""
    d = _subdir(path, "ek2002")
    iso3, names = _read_countries(d)
    n = len(iso3)
    off = ~np.eye(n, dtype=bool)
    g = _read_gravity(d, n)
    cf = _read_language(d, n, g)
    L = _read_labour(d, iso3)
    dist_bin = np.full((n, n), -1, dtype=np.int64)
    dist_bin[off] = g["distbin"].reshape(n, n)[off].astype(np.int64) - 1

    def full(v):
        a = np.zeros((n, n))
        a[off] = v
        return a

    return EKData(
        iso3=iso3,
        names=names,
        trade=_frozen(g["trade"].reshape(n, n)),
        distance=_frozen(g["distance"].reshape(n, n) * off),
        dist_bin=_frozen(dist_bin),
        border=_frozen(g["border"].reshape(n, n) * off),
        language=_frozen(full(cf["sharedlanguage"])),
        ec=_frozen(full(cf["europeancom"])),
        efta=_frozen(full(cf["efta"])),
        L=_frozen(L),
    )


# ------------------------------------------------------------------ published vectors


@dataclass(frozen=True, eq=False)
class PublishedVectors:
    """A published calibration: Theta (46, layout of :mod:`hat_jax._gravity`), wages
    W (19; W_19 = 19 - sum(W_1..18), so mean(W) = 1) and the discount factor beta."""

    name: str
    params: np.ndarray
    wages: np.ndarray
    beta: float


def load_published(name: str, path: str | os.PathLike | None = None) -> PublishedVectors:
    """Load ``hat-baseline/{name}-params.csv`` and ``{name}-prices.csv``.

    ``name`` is one of ``"baseline"``, ``"no-quality"``, ``"log"``; ``path`` is the data
    dir or the hat-baseline dir itself. Prices rows 1..18 are W_1..W_18, row 19 is beta.
    """
    if name not in PUBLISHED_NAMES:
        raise ValueError(f"unknown published economy {name!r}; valid names: {list(PUBLISHED_NAMES)}")
    d = _subdir(path, "hat-baseline")
    n = len(EK_ISO3)

    f = d / f"{name}-params.csv"
    params = _numeric(f, _read_csv(f, ("guess",), n_params(n)), ("guess",))["guess"]

    f = d / f"{name}-prices.csv"
    prices = _numeric(f, _read_csv(f, ("guess",), n), ("guess",))["guess"]
    w_free, beta = prices[: n - 1], float(prices[n - 1])
    wages = np.append(w_free, n - w_free.sum())
    if np.any(wages <= 0):
        raise DataError(f"{f}: wages must be positive (W_19 = 19 - sum(W_1..18) = {wages[-1]:.6g})")
    return PublishedVectors(name=name, params=_frozen(params), wages=_frozen(wages), beta=beta)
