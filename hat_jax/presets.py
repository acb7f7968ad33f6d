"""Named economies of model.md section 13.

``two_country``: N = 2, gamma 1.5, sigma 0.25, beta 0.92, A = L = 1, d = 1.745 (R solved).
``two_country_log``: the same with log utility (gamma 1) and d = 2.05.
Each takes keyword overrides (gamma, sigma, beta, d, Na, phi, amax, psi_slope, ...).

The 19-country presets ``ek_baseline``, ``ek_no_quality`` and ``ek_log`` (see
:mod:`hat_jax.ek`) read the Eaton-Kortum data and the published vectors (``data_dir``
argument, else ``$HAT_DATA_DIR``, else ``../shared/data``); they solve beta at R = 1.01
(:data:`SOLVE_DEFAULTS`) and start from the published prices (:func:`preset_start`).
"""

from __future__ import annotations

import numpy as np

from .ek import (
    EK_PRESETS,
    EK_UNPUBLISHED_PRESETS,
    ek_baseline,
    ek_log,
    ek_no_quality,
    ek_paper_2023,
    ek_world,
)
from .params import Economy, make_economy

TWO_COUNTRY_LABELS = ("Home", "Foreign")


def _symmetric_costs(N: int, d: float) -> np.ndarray:
    costs = np.full((N, N), float(d))
    np.fill_diagonal(costs, 1.0)
    return costs


def two_country(d: float | np.ndarray = 1.745, **overrides) -> Economy:
    """Symmetric two-country economy (gamma 1.5, sigma 0.25, beta 0.92, d 1.745)."""
    costs = np.asarray(d, np.float64) if np.ndim(d) == 2 else _symmetric_costs(2, d)
    kw = dict(gamma=1.5, sigma=0.25, beta=0.92, psi_slope=0.0, phi=0.5, amax=8.0, Na=100,
              countries=TWO_COUNTRY_LABELS)
    kw.update(overrides)
    return make_economy(costs, **kw)


def two_country_log(d: float | np.ndarray = 2.05, **overrides) -> Economy:
    """Symmetric two-country economy with log utility (gamma 1, sigma 0.25, d 2.05)."""
    kw = dict(gamma=1.0)
    kw.update(overrides)
    return two_country(d, **kw)


PRESETS = {
    "two_country": two_country,
    "two_country_log": two_country_log,
    "ek_baseline": ek_baseline,
    "ek_no_quality": ek_no_quality,
    "ek_log": ek_log,
    "ek_paper_2023": ek_paper_2023,
}

#: How a preset's equilibrium is solved by default: the unknown ("R" or "beta") and, in
#: the "beta" mode, the target R. Presets not listed solve R at the economy's beta.
SOLVE_DEFAULTS = {name: {"unknown": "beta", "R": spec["R"]}
                  for name, spec in {**EK_PRESETS, **EK_UNPUBLISHED_PRESETS}.items()}


def solve_defaults(name: str) -> dict:
    """{"unknown": ..., "R": ...} for a preset (R is None when R is solved)."""
    return dict(SOLVE_DEFAULTS.get(name, {"unknown": "R", "R": None}))


def preset_start(name: str, kind: str = "published", data_dir=None, **overrides):
    """Starting prices (W0, R0, beta0) of a data preset: ``"published"`` (the published
    equilibrium) or ``"cold"`` (W = 1, beta = 0.95/R). None for presets without data."""
    if name not in EK_PRESETS and name not in EK_UNPUBLISHED_PRESETS:
        if kind not in ("published", "cold"):
            raise ValueError(f"start must be 'published' or 'cold', got start={kind!r}")
        return None
    return ek_world(name, data_dir, **overrides).start(kind)


def preset(name: str, **overrides) -> Economy:
    """Economy of a named preset, with keyword overrides."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(sorted(PRESETS))}") from None
    return factory(**overrides)
