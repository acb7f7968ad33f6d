"""New trade-cost matrices for counterfactuals (model.md s.1, s.10): thin helpers that
return the matrix of a :class:`hat_jax._change.Change` builder (the experiment itself is a
Change: ``Change.global_cut(economy, 0.1)``), and the N x N directions of log d used by
the welfare derivatives.

Two conventions for a scaled cost that falls below 1 (d'_ij = 0.9 d_ij with d_ij < 1.11):
``floor=1.0`` (the default) sets it to 1, as the trade-cost function of model.md s.1
does; ``floor=None`` keeps it (the paper's convention: its global 10% cut of
``ek_baseline`` takes 16 pairs below 1, its US unilateral cut the USA-CAN pair), warns
with :class:`CostsBelowOneWarning` listing the pairs, and needs an economy that allows
it (``cost_floor=False``; :func:`hat_jax.welfare.counterfactual` takes it as a keyword).
"""

from __future__ import annotations

import numpy as np

from .. import _change as ch
from .._change import Change, CostsBelowOneWarning, check_costs, costs_below_one, scale_costs
from .._params import Economy

__all__ = ["CostsBelowOneWarning", "costs_below_one", "country_index", "check_costs", "scale_costs", "unilateral_cut",
           "global_cut", "bilateral_cut", "pair_direction"]


def country_index(economy: Economy, country) -> int:
    """Index of ``country`` (a label such as an ISO3 code, case-insensitive, or an int) in
    ``economy.countries`` (:func:`hat_jax._change.country_index`)."""
    return ch.country_index(economy.countries, country)


def _matrix(c: Change):
    return np.asarray(c.values["d"]), c.clamped


def unilateral_cut(economy: Economy, country, cut: float, floor: float | None = 1.0):
    """The (d', clamped pairs) of :meth:`Change.unilateral_cut`: d'_ij = (1 - cut) d_ij
    for i = country, all j != i (floored at 1 unless ``floor=None``)."""
    return _matrix(Change.unilateral_cut(economy, country, cut, floor))


def global_cut(economy: Economy, cut: float, floor: float | None = 1.0):
    """The (d', clamped pairs) of :meth:`Change.global_cut`: d'_ij = (1 - cut) d_ij,
    i != j (floored at 1 unless ``floor=None``)."""
    return _matrix(Change.global_cut(economy, cut, floor))


def bilateral_cut(economy: Economy, importer, exporter, cut: float, symmetric: bool = False,
                  floor: float | None = 1.0):
    """The (d', clamped pairs) of :meth:`Change.bilateral_cut`: d'[importer, exporter] =
    (1 - cut) d[importer, exporter] (and the reverse pair when ``symmetric``)."""
    return _matrix(Change.bilateral_cut(economy, importer, exporter, cut, symmetric, floor))


def pair_direction(economy: Economy, importer, exporter) -> np.ndarray:
    """The N x N direction that raises log d[importer, exporter] alone."""
    D = np.zeros((economy.N, economy.N))
    D[country_index(economy, importer), country_index(economy, exporter)] = 1.0
    return D
