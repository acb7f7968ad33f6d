"""What a finished (or failed) equilibrium solve says (host side, after the compiled
programs have returned): the ConvergenceError that names the block, market, country,
residual and iterations; the diagnosis of vanishing trade; the warning for a
near-singular Newton Jacobian; the Newton path as records; the progress line."""

from __future__ import annotations

import sys
import warnings

import numpy as np

from ._params import grid_scale
from ._results import ConvergenceError, check_converged

__all__ = ["borrowing_limit_diagnosis", "check_equilibrium", "newton_path", "print_progress",
           "trade_diagnosis", "warn_if_singular"]


def print_progress(it, row) -> None:
    """One Newton iteration on stderr: iteration, max |excess demand|, step, whether a
    Jacobian was computed, whether the trial was a backtrack."""
    res, step, accepted, jac = (float(v) for v in row)
    print(f"  newton {int(it):3d}  max|excess demand| {res:.3e}  step {step:.3e}"
          + ("  jacobian" if jac else "") + ("" if accepted else "  (backtrack)"),
          file=sys.stderr, flush=True)


def warn_if_singular(J, J_valid=True) -> None:
    """Warn when the last Newton Jacobian J is singular or near-singular: prices are then
    (nearly) undetermined by the market conditions (J_valid False: J is no Jacobian yet,
    nothing to say)."""
    if not bool(J_valid):
        return
    cond = float(np.linalg.cond(np.asarray(J)))
    if not cond < 1e12:
        warnings.warn(
            f"the Jacobian of the excess demands is near-singular (condition number "
            f"{cond:.1e}): the market conditions barely determine the prices (vanishing "
            "trade or degenerate choice probabilities?)", RuntimeWarning, stacklevel=3)


def newton_path(eq):
    """The Newton path of a solved equilibrium as a list of dicts, one per iteration:
    iteration, max_residual, step, accepted, jacobian."""
    h = np.asarray(eq.history)
    rows = []
    for k in range(min(int(eq.iterations), h.shape[0])):
        r = h[k]
        rows.append({"iteration": k, "max_residual": float(r[0]), "step": float(r[1]),
                     "accepted": bool(r[2]), "jacobian": bool(r[3])})
    return rows


def check_equilibrium(eq, opts) -> None:
    """Raise ConvergenceError naming what failed (market, country, residual, iterations)."""
    if bool(eq.converged):
        return
    labels = eq.economy.countries
    hh, dist = eq.world.households, eq.world.distribution
    check_converged("household problem (EGM) at the final prices", hh.converged,
                    hh.iterations, hh.residual, opts.hh_tol, labels=labels)
    check_converged("stationary distribution at the final prices", dist.converged,
                    dist.iterations, dist.residual, opts.dist_tol, labels=labels)
    goods = np.asarray(eq.goods_residuals)
    bonds = np.asarray(eq.bond_residuals)
    worst_goods = int(np.argmax(np.abs(goods))) + 1
    msg = (f"world equilibrium did not converge to tolerance {opts.tol:g} after "
           f"{int(eq.iterations)} Newton iterations: max |excess demand|/GDP = "
           f"{float(eq.residual):.3e}; largest goods-market gap {goods[worst_goods - 1]:.3e} "
           f"({labels[worst_goods]}), bond market {np.max(np.abs(bonds)):.3e}")
    if not np.isfinite(float(eq.residual)):
        msg += " (non-finite residual: check parameters and starting prices)"
    msg += borrowing_limit_diagnosis(eq) or trade_diagnosis(eq, opts)
    raise ConvergenceError(msg)


def borrowing_limit_diagnosis(eq) -> str:
    """A sentence on a borrowing limit beyond the natural one, if Newton's trial points
    had non-finite excess demands and some R below 1/beta leaves a household at the
    limit a' = -phi A_i with the lowest income nothing to consume:
    c = W_i z_min + T_i - (R - 1) phi A_i <= 0 for R >= R_nat,i = 1 + (W_i z_min +
    T_i) / (phi A_i). Utility (and the excess demands) are undefined there."""
    h = np.asarray(eq.history)
    e = eq.economy
    phi = float(e.phi)
    if h.size == 0 or np.all(np.isfinite(h[:, 0])) or phi <= 0:
        return ""
    A = np.asarray(grid_scale(e))
    T = np.zeros(e.N) if eq.T is None else np.asarray(eq.T)
    r_nat = 1.0 + (np.asarray(eq.W) * float(np.min(e.z)) + T) / (phi * A)
    k = int(np.argmin(r_nat))
    r_max = float(np.max(1.0 / np.asarray(eq.beta)))
    if not r_nat[k] < r_max:
        return ""
    bad = int(np.sum(~np.isfinite(h[:, 0])))
    beta = float(np.min(np.asarray(eq.beta)))
    phi_ok = float(np.min(beta * (np.asarray(eq.W) * float(np.min(e.z)) + T)
                          / ((1.0 - beta) * A)))
    bonds = float(np.sum(np.asarray(eq.world.aggregates.bond_demand)) / np.sum(eq.world.aggregates.Y))
    return (f". The borrowing limit phi={phi:g} is beyond the natural borrowing limit: "
            f"{bad} of {h.shape[0]} Newton trial points had non-finite excess demands, "
            f"since for R >= 1 + W_i z_min / (phi A_i) = {r_nat[k]:.6g} ({e.countries[k]}, "
            f"below 1/beta = {r_max:.6g}) a household at the limit a' = -phi A_i with the "
            f"lowest income cannot consume (c = W_i z_min - (R - 1) phi A_i <= 0). At "
            f"R = {float(np.max(np.asarray(eq.R))):.6g} households' net bond holdings are "
            f"still {bonds:.3g} of world GDP (they borrow near the limit), and the bond "
            f"market did not clear below that bound. Lower phi: phi < beta W_i z_min / "
            f"((1 - beta) A_i) = {phi_ok:.4g} keeps every R < 1/beta feasible")


def trade_diagnosis(eq, opts) -> str:
    """A sentence on vanishing trade, if that is why the equilibrium failed."""
    agg = eq.world.aggregates
    trade = (np.asarray(agg.exports) + np.asarray(agg.imports)) / float(np.sum(agg.Y))
    k = int(np.argmin(trade))
    tr = float(eq.trade_residual)
    # the goods markets fail relative to trade because trade is small, not because they
    # fail relative to world GDP as well (then trade is not the reason)
    if not (trade[k] < 1e-6 or (tr > opts.trade_tol and float(eq.residual) <= opts.tol)):
        return ""
    return (f". Trade has nearly vanished: {eq.economy.countries[k]}'s exports + imports "
            f"are {trade[k]:.2e} of world GDP, and the goods markets clear only to "
            f"{tr:.2e} of a country's trade (trade_tol {opts.trade_tol:g}). With so little "
            "trade, goods markets barely determine relative wages and each country's bond "
            "market sets its own R: lower the trade costs d or raise sigma, or solve "
            "each country under regime='autarky'")
