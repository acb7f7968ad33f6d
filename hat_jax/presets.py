"""Named economies of model.md section 13.

``two_country``: N = 2, gamma 1.5, sigma 0.25, beta 0.92, A = L = 1, d = 1.745 (R solved).
``two_country_log``: the same with log utility (gamma 1) and d = 2.05.
Each takes keyword overrides (gamma, sigma, beta, d, Na, phi, amax, psi_slope, ...).
The 19-country presets (ek_*) need the Eaton-Kortum data.
"""

from __future__ import annotations

import numpy as np

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


PRESETS = {"two_country": two_country, "two_country_log": two_country_log}


def preset(name: str, **overrides) -> Economy:
    """Economy of a named preset, with keyword overrides."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(sorted(PRESETS))}") from None
    return factory(**overrides)
