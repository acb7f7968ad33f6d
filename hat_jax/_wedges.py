"""Capital-account wedges (model.md s.15): checks, country returns and the wedge rebate.

Households of country i save and borrow at R_i = R + omega_i, R the world return. The
government of i holds the country's net position at R and rebates the wedge revenue

    F_i L_i = (R - R_i) A_i = -omega_i A_i        (A_i = L_i sum lambda a, bonds carried
                                                   into the period)

lump sum; national income is W_i Z_i + R A_i as under financial globalization and the
bond market is sum_i A'_i = 0 (one R). An economy without wedges (``Economy.wedges is
None``, the default) solves exactly the program it solved before wedges existed; with a
wedge vector (zeros included) the N lump-sum rebates are equilibrium unknowns with the
conditions

    L_i T_i = Rev_i + (R - R_i) A_i                (tariff revenue plus wedge revenue):

tariff and wedge rebates enter the budget p_ij c + a' = R_i a + W_i z + T_i + F_i only
as their sum, so one vector of N unknowns carries both (``Equilibrium.T`` is the sum;
:func:`wedge_rebates` is F alone).

omega = 0 is financial globalization; the wedges omega_i = R_i^aut - R_k^aut
(:func:`autarky_wedges`) reproduce financial autarky exactly (A_i = 0, F_i = 0, R = R_k).
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
import numpy as np

__all__ = ["validate_wedges", "country_returns", "wedge_revenue", "rebate_residuals",
           "wedge_rebates", "autarky_wedges", "check_wedge_regime"]


def validate_wedges(omega, N: int | None = None, countries: Sequence[str] | None = None,
                    what: str = "wedges") -> np.ndarray:
    """Check a wedge vector: one finite omega_i per country. Returns it as float64;
    raises ValueError naming the entry (with its country label when given) and value."""
    omega = np.asarray(omega, dtype=np.float64)
    if N is None:
        N = len(countries) if countries is not None else (omega.shape[0] if omega.ndim else 0)
    if omega.shape != (N,):
        raise ValueError(f"{what} must have one capital-account wedge omega_i per country, "
                         f"shape ({N},), got shape {omega.shape}")
    if not np.all(np.isfinite(omega)):
        k = int(np.argwhere(~np.isfinite(omega))[0, 0])
        tag = f" ({countries[k]})" if countries is not None else ""
        raise ValueError(f"{what}[{k}]{tag}={float(omega[k])!r} is not finite: a wedge "
                         "is a finite number (R_i = R + omega_i)")
    return omega


def check_wedge_regime(economy, regime: str) -> None:
    """Wedges need one world bond market: raise ValueError under financial autarky."""
    if regime == "autarky" and economy.wedges is not None:
        raise ValueError("capital-account wedges (Economy.wedges) need one world bond "
                         "market (regime='global'): under financial autarky every R_i is "
                         "solved and a wedge has no meaning (autarky is the limit of "
                         "wedges that make every A_i = 0, hat_jax.scenarios.autarky_wedges)")


def country_returns(economy, R):
    """R_i = R + omega_i (R broadcast to the N countries; R itself without wedges)."""
    R = jnp.broadcast_to(jnp.asarray(R, jnp.float64), (economy.N,))
    return R if economy.wedges is None else R + economy.wedges


def wedge_revenue(economy, assets):
    """(R - R_i) A_i = -omega_i A_i: the wedge revenue of every country (zeros without
    wedges); ``assets`` A_i = L_i sum lambda a (``Aggregates.assets``)."""
    if economy.wedges is None:
        return jnp.zeros_like(assets)
    return -economy.wedges * assets


def rebate_residuals(agg, economy, T):
    """(L_i T_i - Rev_i - (R - R_i) A_i) / world GDP: the rebate condition of every
    country (tariff revenue plus wedge revenue rebated lump sum)."""
    revenue = agg.revenue + wedge_revenue(economy, agg.assets)
    return (economy.L * T - revenue) / jnp.sum(agg.Y)


def wedge_rebates(eq):
    """F_i = (R - R_i) A_i / L_i: the wedge rebate per household of a solved equilibrium
    (zeros without wedges)."""
    agg = eq.world.aggregates
    return wedge_revenue(eq.economy, agg.assets) / eq.economy.L


def autarky_wedges(eq, reference: int = 0) -> np.ndarray:
    """omega_i = R_i^aut - R_k^aut (k = ``reference``) from a financial-autarky
    equilibrium ``eq``: the wedges under which financial globalization reproduces it
    (the world R is then R_k^aut)."""
    R = np.asarray(eq.R, np.float64)
    if R.ndim != 1:
        raise ValueError("autarky_wedges needs a financial-autarky equilibrium (one R_i "
                         f"per country), got R of shape {R.shape}")
    return R - R[int(reference)]
