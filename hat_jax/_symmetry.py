"""Asymmetric equilibria of a symmetric economy.

An economy whose countries are identical (same A, L, costs and tariffs to every
partner) has a symmetric equilibrium (W = 1, one R), but it may have asymmetric ones as
well: with gamma = 50 (two_country, Na = 30) Newton from W = 1 ends at W = [1.158, 0.842],
R = 0.0270, where every market clears (3.6e-14 of world GDP, 3.8e-13 of each country's
trade), the household Bellman change is 3e-11 (1e-22 of |v|) and the distribution change
7e-13: an equilibrium, not a spurious stop; the symmetric one is W = 1, R = 0.03686.
:func:`check_symmetry` reports such a case with a warning and the symmetric equilibrium
next to it.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["AsymmetricEquilibriumWarning", "check_symmetry", "is_symmetric"]


class AsymmetricEquilibriumWarning(RuntimeWarning):
    """A converged equilibrium of a symmetric economy is not symmetric (one of several
    equilibria; the message gives the symmetric one)."""


def _same(x) -> bool:
    x = np.asarray(x, np.float64)
    return bool(np.all(x == x.flat[0])) if x.size else True


def is_symmetric(economy) -> bool:
    """Whether all countries are identical: equal A and L, one off-diagonal trade cost
    and (with tariffs) one off-diagonal tariff and one domestic one."""
    d = np.asarray(economy.d)
    off = ~np.eye(economy.N, dtype=bool)
    sym = _same(economy.A) and _same(economy.L) and _same(d[off])
    if economy.tariffs is not None:
        t = np.asarray(economy.tariffs)
        sym = sym and _same(t[off]) and _same(np.diag(t))
    return sym


def _describe(eq) -> str:
    R = np.asarray(eq.R)
    shares = np.diag(np.asarray(eq.world.aggregates.trade_shares))
    r = f"R = {float(R):.6g}" if R.ndim == 0 else f"R = {np.round(R, 6).tolist()}"
    return (f"W = {np.round(np.asarray(eq.W), 6).tolist()}, {r}, home shares "
            f"{np.round(shares, 4).tolist()} (max excess demand {float(eq.residual):.1e} of "
            f"world GDP, {float(eq.trade_residual):.1e} of trade)")


def check_symmetry(eq, opts, tol: float = 1e-6):
    """If ``eq`` converged in a symmetric economy (:func:`is_symmetric`) but its wages
    differ by more than ``tol``, solve again from the symmetric start (W = 1, R and beta
    of ``eq``), warn (:class:`AsymmetricEquilibriumWarning`) with both equilibria, and
    return the symmetric one (an :class:`~hat_jax.Equilibrium`; check its
    ``converged``). Otherwise return None."""
    from ._equilibrium import solve_equilibrium
    from ._start import Start

    W = np.asarray(eq.W)
    if not bool(eq.converged) or not is_symmetric(eq.economy) or np.ptp(W) <= tol:
        return None
    R0 = float(np.mean(np.asarray(eq.R)))
    sym = solve_equilibrium(eq.economy, opts.replace(verbose=False),
                            Start(W=np.ones(W.size), R=R0, beta=float(np.asarray(eq.beta))),
                            throw=False)
    if bool(sym.converged) and np.ptp(np.asarray(sym.W)) <= tol:
        other = f"The symmetric equilibrium, solved from W = 1: {_describe(sym)}."
    else:
        other = (f"A solve from the symmetric start (W = 1, R0 = {R0:.6g}) did not find the "
                 f"symmetric equilibrium ({'converged' if bool(sym.converged) else 'not converged'}"
                 f" at {_describe(sym)}).")
    warnings.warn(
        "asymmetric equilibrium of a symmetric economy: the countries are identical (A, L, "
        f"trade costs) but the equilibrium found is {_describe(eq)}. Every market clears "
        "and the household and distribution solves converged, so it is one of several "
        f"equilibria, not a failed solve. {other}", AsymmetricEquilibriumWarning,
        stacklevel=2)
    return sym
