"""Aggregation of household choices and national accounts (model.md section 5).

With lambda_i(a, z) summing to one in every country i:

    N_i  = L_i sum lambda z                       (efficiency units; Y_i = W_i N_i)
    M_ij = L_i sum lambda p_ij c_ij pi_ij        (i's spending on j's variety, j = i included)
    PC_i = sum_j M_ij,   trade share pi_ij = M_ij / PC_i
    A'_i = L_i sum lambda sum_j pi_ij a'_ij      (bond demand);  A_i = L_i sum lambda a

Identities (tests): Y_i = PC_i + (A'_i - R A_i) always, and Y_i = PC_i + X_i - M_i when
the goods markets clear (X_i = sum_{n != i} M_ni exports, M_i = sum_{j != i} M_ij imports).

With tariffs t (model.md s.14) M is at consumer prices; the seller j's sales are
S_j = sum_i M_ij / (1 + t_ij) (the goods market is Y_j = S_j), exports and imports are
at producer prices, Rev_i = sum_j t_ij/(1 + t_ij) M_ij, and the identities read
Y_i + Rev_i = PC_i + (A'_i - R A_i) = PC_i + X_i - M_i (with T_i = Rev_i / L_i).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._household import HouseholdProblem, HouseholdSolution, asset_grid
from ._tariffs import producer_values, tariff_revenue

__all__ = [
    "Aggregates", "efficiency_units", "trade_flows", "asset_demand", "aggregate",
]


class Aggregates(NamedTuple):
    """Country aggregates (arrays over countries; M and trade_shares are [importer, exporter]).

    sales[j] = sum_i M_ij / (1 + t_ij): the value seller j receives (the goods market is
    Y_j = sales_j); revenue[i]: importer i's tariff revenue (zeros under free trade).
    """

    M: jax.Array
    trade_shares: jax.Array
    PC: jax.Array
    Y: jax.Array
    efficiency_units: jax.Array
    bond_demand: jax.Array
    assets: jax.Array
    exports: jax.Array
    imports: jax.Array
    home_choice_mean: jax.Array
    share_constrained: jax.Array
    sales: jax.Array | None = None
    revenue: jax.Array | None = None


def efficiency_units(lam, z, L):
    """N_i = L_i sum_{a,z} lambda(a,z) z."""
    return L * jnp.einsum("iaz,iz->i", lam, z)


def trade_flows(lam, c, pi, p, L):
    """M_ij = L_i sum_{a,z} lambda_i(a,z) p_ij c_ij(a,z) pi_ij(a,z)."""
    return L[:, None] * jnp.einsum("iaz,iazj,ij->ij", lam, c * pi, p)


def asset_demand(lam, pi, a_next, L):
    """A'_i = L_i sum_{a,z} lambda_i(a,z) sum_j pi_ij(a,z) a'_ij(a,z)."""
    return L * jnp.einsum("iaz,iazj->i", lam, pi * a_next)


def aggregate(households: HouseholdSolution, lam, problems: HouseholdProblem, L, Na: int,
              tariffs=None) -> Aggregates:
    """All aggregates of the world at given policies and distributions (``tariffs``: the
    N x N tariff matrix the consumer prices ``problems.p`` include, or None)."""
    grid = jax.vmap(asset_grid, in_axes=(0, None))(problems, Na)  # [i, a]
    Neff = efficiency_units(lam, problems.z, L)
    Y = problems.W * Neff
    M = trade_flows(lam, households.c, households.pi, problems.p, L)
    PC = jnp.sum(M, axis=1)
    shares = M / PC[:, None]
    bonds = asset_demand(lam, households.pi, households.a_next, L)
    assets = L * jnp.einsum("iaz,ia->i", lam, grid)
    if tariffs is None:
        M_seller, revenue = M, jnp.zeros_like(PC)
    else:
        M_seller, revenue = producer_values(M, tariffs), tariff_revenue(M, tariffs)
    sales = jnp.sum(M_seller, axis=0)
    offdiag = M_seller - jnp.diag(jnp.diag(M_seller))
    exports = jnp.sum(offdiag, axis=0)
    imports = jnp.sum(offdiag, axis=1)
    N = lam.shape[0]
    pi_home = households.pi[jnp.arange(N), :, :, jnp.arange(N)]  # [i, a, z]
    home = jnp.einsum("iaz,iaz->i", lam, pi_home)
    constrained = jnp.sum(lam[:, 0, :], axis=1)
    return Aggregates(M, shares, PC, Y, Neff, bonds, assets, exports, imports, home,
                      constrained, sales, revenue)
