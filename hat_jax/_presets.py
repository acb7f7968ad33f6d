"""Named economies of model.md section 13 (factories over the one preset registry).

``two_country``: N = 2, gamma 1.5, sigma 0.25, beta 0.92, A = L = 1, d = 1.745 (R solved).
``two_country_log``: the same with log utility (gamma 1) and d = 2.05.
Each takes keyword overrides (gamma, sigma, beta, d, Na, phi, amax, psi_slope, ...).

The 19-country presets ``ek_baseline``, ``ek_no_quality``, ``ek_log`` and
``ek_paper_2023`` (see :mod:`hat_jax._ek`) read the Eaton-Kortum data (``data_dir``
argument, else ``$HAT_DATA_DIR``, else the copy shipped in the package); they solve beta at their
target R (:func:`solve_defaults`) and start from their default start kind
(:func:`preset_start`: the published prices, or cold for ``ek_paper_2023``).

Every setting is read from :data:`hat_jax._preset_registry.REGISTRY` (re-exported here as
:data:`REGISTRY`, with :class:`Preset`); :data:`PRESETS` (name -> factory) and
:data:`SOLVE_DEFAULTS` are views of it. "Start" is the kind of starting point defined in
:mod:`hat_jax._preset_registry` ("published" or "cold").
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from ._ek_world import ek_baseline, ek_log, ek_no_quality, ek_paper_2023, ek_world
from ._params import Economy, make_economy
from ._preset_registry import REGISTRY, START_KINDS, Preset, preset_record
from ._results import check_choice

__all__ = [
    "PRESETS", "REGISTRY", "SOLVE_DEFAULTS", "TWO_COUNTRY_LABELS", "Preset", "preset",
    "preset_record", "preset_start", "solve_defaults", "two_country", "two_country_log",
]

TWO_COUNTRY_LABELS = ("Home", "Foreign")
_TWO_COUNTRY_COMMON = dict(psi_slope=0.0, phi=0.5, amax=8.0, Na=100)


def _symmetric_costs(N: int, d: float) -> np.ndarray:
    costs = np.full((N, N), float(d))
    np.fill_diagonal(costs, 1.0)
    return costs


def _two_country(name: str, d, overrides: dict) -> Economy:
    settings = dict(REGISTRY[name].settings)
    default_d = settings.pop("d")
    d = default_d if d is None else d
    costs = np.asarray(d, np.float64) if np.ndim(d) == 2 else _symmetric_costs(2, d)
    kw = dict(_TWO_COUNTRY_COMMON, **settings, countries=TWO_COUNTRY_LABELS)
    kw.update(overrides)
    return make_economy(costs, **kw)


def two_country(d: float | np.ndarray | None = None, **overrides) -> Economy:
    """Symmetric two-country economy (gamma 1.5, sigma 0.25, beta 0.92, d 1.745)."""
    return _two_country("two_country", d, overrides)


def two_country_log(d: float | np.ndarray | None = None, **overrides) -> Economy:
    """Symmetric two-country economy with log utility (gamma 1, sigma 0.25, d 2.05)."""
    return _two_country("two_country_log", d, overrides)


_FACTORIES = (two_country, two_country_log, ek_baseline, ek_no_quality, ek_log,
              ek_paper_2023)

#: name -> factory(**overrides) -> Economy, in registry order (a view of REGISTRY: every
#: record has exactly one factory of its name).
PRESETS = {f.__name__: f for f in _FACTORIES}
assert tuple(PRESETS) == tuple(REGISTRY), "every registry record needs one factory"

#: How a preset's equilibrium is solved by default: the unknown ("R" or "beta") and, in
#: the "beta" mode, the target R (the presets that solve beta; a view of REGISTRY).
SOLVE_DEFAULTS = MappingProxyType({p.name: {"unknown": p.unknown, "R": p.R}
                                   for p in REGISTRY.values() if p.unknown == "beta"})


def solve_defaults(name: str) -> dict:
    """{"unknown": ..., "R": ...} for a preset (R is None when R is solved)."""
    p = REGISTRY.get(name)
    return {"unknown": "R", "R": None} if p is None else {"unknown": p.unknown, "R": p.R}


def preset_start(name: str, kind: str | None = None, data_dir=None, **overrides):
    """Starting prices (W0, R0, beta0) of a start kind for a data preset: ``"published"``
    (the published equilibrium) or ``"cold"`` (W = 1, beta = 0.95/R); default: the
    preset's start kind (:attr:`Preset.start`). None for presets without data."""
    p = REGISTRY.get(name)
    if p is None or not p.from_data:
        if kind is not None:
            check_choice("start", kind, START_KINDS)
        return None
    return ek_world(name, data_dir, **overrides).start(p.start if kind is None else kind)


def preset(name: str, **overrides) -> Economy:
    """Economy of a named preset, with keyword overrides."""
    preset_record(name)  # ValueError listing the presets
    return PRESETS[name](**overrides)
