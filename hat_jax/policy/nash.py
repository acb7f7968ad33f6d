"""Nash tariffs (model.md s.14) by best-response iteration, and the representative-agent
optimal tariff of the same trade elasticity.

Nash: every country's tariffs (one uniform rate each, or one per partner) are a best
response to the others' at once. Jacobi best-response iteration: in each round every
country's optimal tariffs (:func:`~hat_jax.policy.optimal_tariff`, BFGS with exact
gradients through the equilibrium) against the previous round's profile, until the
largest change is below ``tol``. The first-order-condition residual reported is
max_i max_j |dW_i/dt_ij| at the final profile (uniform: |sum_j dW_i/dt_ij|).

Representative-agent benchmark (two-country Armington / logit economy, trade elasticity
epsilon, balanced trade): Foreign's import demand m* is proportional to lambda_FH(q) / q
in Home's terms of trade q, so its elasticity is 1 + epsilon lambda_FF, and Lerner's
optimal tariff 1 / (elasticity - 1) is

    t* = 1 / (epsilon lambda_FF),

with lambda_FF Foreign's domestic expenditure share (Gros 1987, J. Int. Econ. 23;
Costinot and Rodriguez-Clare 2014, Handbook of International Economics vol. 4, ch. 4).
With N countries :func:`ra_optimal_tariff` applies it with the export-weighted mean of
the partners' domestic shares (an approximation, stated as such).
"""

from __future__ import annotations

import sys
import time
from typing import NamedTuple

import numpy as np

from ..equilibrium import Equilibrium, EquilibriumOptions
from ..tariffs import validate_tariffs
from ..welfare import country_index, utilitarian_welfare
from .gradient import tariff_gradient
from .optimal import MODES, optimal_tariff

__all__ = ["NashTariffs", "nash_tariffs", "ra_optimal_tariff", "foc_residuals"]


class NashTariffs(NamedTuple):
    """Nash tariffs: tariffs (N x N), welfare (W_i at Nash), welfare_free (W_i at free
    trade, the baseline), foc_residual (largest over countries), foc (per country),
    converged (rounds converged and foc_residual <= gtol), rounds, change (largest
    tariff change in the last round), seconds."""

    tariffs: np.ndarray
    welfare: np.ndarray
    welfare_free: np.ndarray
    foc_residual: float
    foc: np.ndarray
    converged: bool
    rounds: int
    change: float
    seconds: float
    mode: str


def foc_residuals(eq: Equilibrium, tariffs, mode: str = "uniform", *,
                  opts: EquilibriumOptions | None = None):
    """(welfare W_i [N], FOC residual of each country [N]) at the tariff matrix: uniform,
    |sum_{j != i} dW_i/dt_ij|; by partner, max_{j != i} |dW_i/dt_ij|."""
    N = eq.economy.N
    W, foc = np.zeros(N), np.zeros(N)
    for i in range(N):
        g = tariff_gradient(eq, i, tariffs, opts=opts)
        row = np.delete(g.grad[i], i)
        W[i] = g.value
        foc[i] = abs(row.sum()) if mode == "uniform" else np.max(np.abs(row))
    return W, foc


def nash_tariffs(eq: Equilibrium, mode: str = "uniform", *, start=0.1,
                 tol: float = 1e-7, gtol: float = 1e-6, max_rounds: int = 30,
                 opts: EquilibriumOptions | None = None, progress: bool = False
                 ) -> NashTariffs:
    """Nash tariffs of every country by Jacobi best-response iteration from the uniform
    profile ``start`` (a number, or an N x N matrix such as a previous answer; see the
    module docstring). ``eq``: the free-trade baseline (the equilibrium each solve
    starts from and the welfare reference). progress: one line per round on stderr."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got mode={mode!r}")
    N = eq.economy.N
    t = validate_tariffs(np.asarray(start, np.float64) * (1.0 - np.eye(N)), N)
    t0 = time.perf_counter()
    change, rounds = np.inf, 0
    while rounds < max_rounds and change > tol:
        new = t.copy()
        for i in range(N):
            row = np.delete(t[i], i)
            s = max(float(row.mean()), 1e-3) if mode == "uniform" else np.maximum(row, 1e-3)
            new[i] = optimal_tariff(eq, i, mode, t, start=s, opts=opts, gtol=gtol).rates
        change, t, rounds = float(np.max(np.abs(new - t))), new, rounds + 1
        if progress:
            print(f"Nash round {rounds}: largest tariff change {change:.3e}",
                  file=sys.stderr, flush=True)
    W, foc = foc_residuals(eq, t, mode, opts=opts)
    W_free = np.asarray(utilitarian_welfare(eq))  # the baseline (free trade)
    res = float(np.max(foc))
    return NashTariffs(t, W, W_free, res, foc, bool(change <= tol and res <= gtol), rounds,
                       change, time.perf_counter() - t0, mode)


def ra_optimal_tariff(eq: Equilibrium, country, elasticity: float) -> float:
    """t* = 1 / (epsilon lambda_FF): the representative-agent optimal tariff of the
    two-country Armington economy with trade elasticity ``elasticity`` (> 0), Foreign's
    domestic share taken from ``eq``; with N > 2, lambda_FF is the mean of the partners'
    domestic shares weighted by ``country``'s exports to them (an approximation)."""
    if not (np.isfinite(elasticity) and elasticity > 0):
        raise ValueError(f"elasticity must be > 0, got {elasticity!r}")
    i = country_index(eq.economy, country)
    a = eq.world.aggregates
    shares = np.diag(np.asarray(a.trade_shares))
    M = np.asarray(a.M)
    others = [j for j in range(eq.economy.N) if j != i]
    w = M[others, i] / M[others, i].sum()
    return float(1.0 / (elasticity * np.dot(w, shares[others])))
