"""The tidy scenario file of ``hat sweep --scenarios FILE`` (CSV, or Parquet with pyarrow).

Two layouts, one per file, told apart by their columns:

* trade costs: ``scenario, importer, exporter, factor`` (d'_ij = factor d_ij) or
  ``scenario, importer, exporter, level`` (d'_ij = level); pairs not listed keep their cost;
* country-level changes: ``scenario, country, field, value`` (the new level of a
  country-level field of the Economy: ``A`` (TFP) or ``L`` (labour), COUNTRY_FIELDS).

Every scenario is a :class:`~hat_jax.Change` (``Scenarios.changes``). Scenarios are taken
in order of first appearance. Every bad row is refused with a
message naming the row (1 = the first row under the header) and its scenario: unknown
country labels, a missing or non-finite number, factors or levels <= 0, a domestic pair,
duplicate rows, an empty file. Costs that fall below 1 are floored at 1 and listed
(``floor=1.0``, the default) or kept (``floor=None``, the paper's convention).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._params import Economy
from .._change import Change
from ._spec import Scenarios, cost_scenarios, scenarios_of

__all__ = ["COST_COLUMNS", "COUNTRY_COLUMNS", "COUNTRY_FIELDS", "read_scenario_table",
           "scenarios_from_table"]

COST_COLUMNS = ("scenario", "importer", "exporter", "factor")
COUNTRY_COLUMNS = ("scenario", "country", "field", "value")
#: the fields a country-level row may set: TFP A_i and labour L_i (one entry per country)
COUNTRY_FIELDS = ("A", "L")


def read_scenario_table(path) -> pd.DataFrame:
    """The scenario file as a DataFrame (all columns as read); ValueError if missing,
    unreadable or empty."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"scenario file {str(path)!r} does not exist")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except ImportError as exc:
        raise ValueError(f"scenario file {str(path)!r}: reading Parquet needs pyarrow "
                         f"({exc}); install it or give a CSV file") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"scenario file {str(path)!r} is empty (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"scenario file {str(path)!r} cannot be read: {exc}") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if len(frame) == 0:
        raise ValueError(f"scenario file {str(path)!r} has a header but no scenario rows")
    return frame


def _labels(economy: Economy) -> dict:
    return {str(c).upper(): k for k, c in enumerate(economy.countries)}


def _where(row: int, scen) -> str:
    return f"row {row} (scenario {scen!r})"


def _number(x, row, scen, col) -> float:
    try:
        v = float(str(x).strip()) if not isinstance(x, (int, float)) else float(x)
    except ValueError:
        v = None
    if v is None or not np.isfinite(v):
        raise ValueError(f"{_where(row, scen)}: {col} must be a finite number, got {x!r}")
    return v


def _country(x, labels, economy, row, scen, col) -> int:
    k = labels.get(str(x).strip().upper())
    if k is None:
        raise ValueError(f"{_where(row, scen)}: unknown {col} {x!r} (countries: "
                         f"{', '.join(map(str, economy.countries))})")
    return k


def _scenario_names(frame) -> list:
    names = []
    for r, s in enumerate(frame["scenario"], start=1):
        s = str(s).strip()
        if not s or s.lower() == "nan":
            raise ValueError(f"row {r}: the scenario name is empty")
        names.append(s)
    return names


def scenarios_from_table(economy: Economy, frame: pd.DataFrame,
                         floor: float | None = 1.0) -> Scenarios:
    """Build the :class:`~hat_jax.scenarios.Scenarios` of a tidy scenario table (see the
    module docstring); ValueError naming the row and scenario of any bad entry."""
    cols = set(frame.columns)
    if {"importer", "exporter"} <= cols:
        return _cost_table(economy, frame, floor)
    if {"country", "field", "value"} <= cols:
        return _country_table(economy, frame)
    raise ValueError("the scenario file needs the columns scenario, importer, exporter, "
                     "factor (or level) for trade costs, or scenario, country, field, value "
                     f"for country-level changes; got columns {list(frame.columns)}")


def _cost_table(economy: Economy, frame, floor) -> Scenarios:
    kind = "factor" if "factor" in frame.columns else "level" if "level" in frame.columns \
        else None
    if kind is None or "scenario" not in frame.columns:
        raise ValueError("a trade-cost scenario file needs the columns scenario, importer, "
                         f"exporter and factor (or level); got {list(frame.columns)}")
    labels = _labels(economy)
    names = _scenario_names(frame)
    order = list(dict.fromkeys(names))
    d0 = np.asarray(economy.d, np.float64)
    new = {s: d0.copy() for s in order}
    seen: dict = {}
    for r, (s, imp, exp, v) in enumerate(zip(names, frame["importer"], frame["exporter"],
                                             frame[kind]), start=1):
        i = _country(imp, labels, economy, r, s, "importer")
        j = _country(exp, labels, economy, r, s, "exporter")
        if i == j:
            raise ValueError(f"{_where(r, s)}: importer and exporter are both {imp!r}; "
                             "domestic costs d_ii are 1 by definition")
        x = _number(v, r, s, kind)
        if x <= 0:
            raise ValueError(f"{_where(r, s)}: the {kind} of {imp}<-{exp} must be > 0, got {x!r}")
        if (s, i, j) in seen:
            raise ValueError(f"{_where(r, s)}: duplicate of row {seen[(s, i, j)]} (importer "
                             f"{economy.countries[i]}, exporter {economy.countries[j]})")
        seen[(s, i, j)] = r
        new[s][i, j] = x * d0[i, j] if kind == "factor" else x
    factors = np.stack([new[s] / d0 for s in order])
    return cost_scenarios(economy, factors=factors, names=order, floor=floor)


def _country_table(economy: Economy, frame) -> Scenarios:
    labels, N = _labels(economy), economy.N
    names = _scenario_names(frame)
    order = list(dict.fromkeys(names))
    # the economy's country-level fields, by name: a field that merely has N entries
    # (z, the income states, when Nz = N) is not one (issue 26, B3)
    fields = list(COUNTRY_FIELDS)
    values: dict = {s: {} for s in order}
    seen: dict = {}
    for r, (s, c, fld, v) in enumerate(zip(names, frame["country"], frame["field"],
                                           frame["value"]), start=1):
        k = _country(c, labels, economy, r, s, "country")
        f = str(fld).strip()
        if f not in fields:
            raise ValueError(f"{_where(r, s)}: unknown field {fld!r} (country-level fields: "
                             f"{', '.join(fields)})")
        x = _number(v, r, s, "value")
        if x <= 0:
            raise ValueError(f"{_where(r, s)}: {f} of {economy.countries[k]} must be > 0, "
                             f"got {x!r}")
        if (s, k, f) in seen:
            raise ValueError(f"{_where(r, s)}: duplicate of row {seen[(s, k, f)]} (country "
                             f"{economy.countries[k]}, field {f})")
        seen[(s, k, f)] = r
        arr = values[s].setdefault(f, np.asarray(getattr(economy, f), np.float64).copy())
        arr[k] = x
    return scenarios_of(economy, [Change(values[s], s, f"{s}: new "
                                         f"{', '.join(values[s])} from the scenario file",
                                         {"kind": "country"}) for s in order])
