"""New trade-cost matrices for counterfactuals (model.md s.1, s.10): proportional cuts
floored at d = 1, each checked by the one cost-matrix validator
(:func:`hat_jax.params.validate_trade_costs`), and the N x N directions of log d used
by the welfare derivatives."""

from __future__ import annotations

import numpy as np

from .. import elasticities
from ..params import Economy, validate_trade_costs

__all__ = ["country_index", "check_costs", "scale_costs", "unilateral_cut",
           "global_cut", "bilateral_cut", "pair_direction"]


def country_index(economy: Economy, country) -> int:
    """Index of ``country`` (a label such as an ISO3 code, case-insensitive, or an int) in
    ``economy.countries`` (:func:`hat_jax.elasticities.country_index`)."""
    return elasticities.country_index(economy.countries, country)


def check_costs(economy: Economy, d_new) -> np.ndarray:
    """Validate a new trade-cost matrix of ``economy`` (:func:`hat_jax.params.validate_trade_costs`
    with its country labels): N x N (importer rows), finite, d >= 1, d_ii = 1."""
    return validate_trade_costs(d_new, economy.countries, "the new trade-cost matrix")


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
    trade-cost function clamps at 1 the same way). ``floor=None``: no clamp (then a
    result below 1 is refused by :func:`check_costs`).
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
    return check_costs(economy, new), clamped


def unilateral_cut(economy: Economy, country, cut: float, floor: float | None = 1.0):
    """``country`` cuts its import costs: d'_ij = (1 - cut) d_ij for i = country, all j != i
    (floored at 1; see :func:`scale_costs`). Returns (d', clamped pairs)."""
    i = country_index(economy, country)
    cut = _check_cut(cut)
    f = np.ones((economy.N, economy.N))
    f[i, :] = 1.0 - cut
    return scale_costs(economy, f, floor)


def global_cut(economy: Economy, cut: float, floor: float | None = 1.0):
    """All international costs fall: d'_ij = (1 - cut) d_ij, i != j (floored at 1)."""
    cut = _check_cut(cut)
    return scale_costs(economy, np.full((economy.N, economy.N), 1.0 - cut), floor)


def bilateral_cut(economy: Economy, importer, exporter, cut: float, symmetric: bool = False,
                  floor: float | None = 1.0):
    """d'[importer, exporter] = (1 - cut) d[importer, exporter] (and the reverse pair when
    ``symmetric``), floored at 1."""
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
