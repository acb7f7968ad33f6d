"""New trade-cost matrices for counterfactuals (model.md s.1, s.10): proportional cuts,
each checked by the one cost-matrix validator
(:func:`hat_jax.params.validate_trade_costs`), and the N x N directions of log d used
by the welfare derivatives.

Two conventions for a scaled cost that falls below 1 (d'_ij = 0.9 d_ij with d_ij < 1.11):
``floor=1.0`` (the default) sets it to 1, as the trade-cost function of model.md s.1
does; ``floor=None`` keeps it (the paper's convention: its global 10% cut of
``ek_baseline`` takes 16 pairs below 1, its US unilateral cut the USA-CAN pair), warns
with :class:`CostsBelowOneWarning` listing the pairs, and needs an economy that allows
it (``cost_floor=False``; :func:`hat_jax.welfare.counterfactual` takes it as a keyword).
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import elasticities
from ..params import Economy, validate_trade_costs

__all__ = ["CostsBelowOneWarning", "costs_below_one", "country_index", "check_costs", "scale_costs", "unilateral_cut",
           "global_cut", "bilateral_cut", "pair_direction"]


def country_index(economy: Economy, country) -> int:
    """Index of ``country`` (a label such as an ISO3 code, case-insensitive, or an int) in
    ``economy.countries`` (:func:`hat_jax.elasticities.country_index`)."""
    return elasticities.country_index(economy.countries, country)


class CostsBelowOneWarning(UserWarning):
    """A trade-cost matrix has off-diagonal entries below 1 (the paper's convention for
    proportional cuts; the message lists the (importer, exporter) pairs)."""


def costs_below_one(economy: Economy, d) -> list:
    """(importer, exporter) labels of the off-diagonal entries of ``d`` below 1."""
    d = np.asarray(d, np.float64)
    off = ~np.eye(economy.N, dtype=bool)
    return [(economy.countries[i], economy.countries[j])
            for i, j in np.argwhere(off & (d < 1.0))]


def check_costs(economy: Economy, d_new, floor: bool | None = None) -> np.ndarray:
    """Validate a new trade-cost matrix of ``economy`` (:func:`hat_jax.params.validate_trade_costs`
    with its country labels): N x N (importer rows), finite, d_ii = 1, and d >= 1 when
    ``floor`` (default: the economy's ``cost_floor``), else d > 0 with a
    :class:`CostsBelowOneWarning` listing the pairs below 1."""
    floor = bool(economy.cost_floor) if floor is None else bool(floor)
    d = validate_trade_costs(d_new, economy.countries, "the new trade-cost matrix", floor=floor)
    low = [] if floor else costs_below_one(economy, d)
    if low:
        pairs = ", ".join(f"{a}<-{b}" for a, b in low[:20]) + (" ..." if len(low) > 20 else "")
        warnings.warn(f"{len(low)} trade cost(s) below 1 (importer<-exporter; the paper's "
                      f"convention, no floor): {pairs}", CostsBelowOneWarning, stacklevel=3)
    return d


def _check_cut(cut) -> float:
    cut = float(cut)
    if not (np.isfinite(cut) and 0.0 < cut < 1.0):
        raise ValueError(f"cut must lie in (0, 1) (a proportional reduction of trade costs, "
                         f"0.10 = 10%), got cut={cut!r}")
    return cut


def scale_costs(economy: Economy, factor, floor: float | None = 1.0):
    """d'_ij = max(floor, factor_ij d_ij) for i != j, d'_ii = 1.

    Returns (d', clamped) with ``clamped`` the list of (importer, exporter) labels whose
    scaled cost fell below ``floor`` and was set to it (model.md s.1 requires d >= 1, the
    trade-cost function clamps at 1 the same way). ``floor=None``: no clamp, the paper's
    convention (costs below 1 are kept, with a :class:`CostsBelowOneWarning` listing
    them; solve them with ``counterfactual(..., cost_floor=False)``).
    """
    d = np.asarray(economy.d, np.float64)
    f = np.broadcast_to(np.asarray(factor, np.float64), d.shape)
    off = ~np.eye(economy.N, dtype=bool)
    new = np.where(off, f * d, 1.0)
    clamped = []
    if floor is not None:
        low = off & (new < floor)
        clamped = [(economy.countries[i], economy.countries[j]) for i, j in np.argwhere(low)]
        new = np.where(low, floor, new)
    return check_costs(economy, new, floor=floor is not None and floor >= 1.0), clamped


def unilateral_cut(economy: Economy, country, cut: float, floor: float | None = 1.0):
    """``country`` cuts its import costs: d'_ij = (1 - cut) d_ij for i = country, all j != i
    (floored at 1 unless ``floor=None``; see :func:`scale_costs`). Returns (d', clamped
    pairs)."""
    i = country_index(economy, country)
    cut = _check_cut(cut)
    f = np.ones((economy.N, economy.N))
    f[i, :] = 1.0 - cut
    return scale_costs(economy, f, floor)


def global_cut(economy: Economy, cut: float, floor: float | None = 1.0):
    """All international costs fall: d'_ij = (1 - cut) d_ij, i != j (floored at 1 unless
    ``floor=None``)."""
    cut = _check_cut(cut)
    return scale_costs(economy, np.full((economy.N, economy.N), 1.0 - cut), floor)


def bilateral_cut(economy: Economy, importer, exporter, cut: float, symmetric: bool = False,
                  floor: float | None = 1.0):
    """d'[importer, exporter] = (1 - cut) d[importer, exporter] (and the reverse pair when
    ``symmetric``), floored at 1 unless ``floor=None``."""
    i, j = country_index(economy, importer), country_index(economy, exporter)
    if i == j:
        raise ValueError(f"bilateral cut needs two different countries, got {importer!r} twice")
    cut = _check_cut(cut)
    f = np.ones((economy.N, economy.N))
    f[i, j] = 1.0 - cut
    if symmetric:
        f[j, i] = 1.0 - cut
    return scale_costs(economy, f, floor)


def pair_direction(economy: Economy, importer, exporter) -> np.ndarray:
    """The N x N direction that raises log d[importer, exporter] alone."""
    D = np.zeros((economy.N, economy.N))
    D[country_index(economy, importer), country_index(economy, exporter)] = 1.0
    return D
