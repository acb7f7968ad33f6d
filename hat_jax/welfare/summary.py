"""Aggregates of the equivalent variation and the ACR benchmark (model.md s.10).

:func:`welfare_summary`: the mean gain sum lambda(a,z) (lambda_tau(a,z) - 1) under the
baseline stationary distribution lambda, means by quintile of household expenditure
e(a,z) = sum_j p_ij c_ij pi_ij (mass at quintile boundaries split exactly), the share of
households that gain, and utilitarian welfare sum_{a,z} lambda_i V_i before and after.
ACR (:func:`acr_gain`): (1/theta) log(pi_ii / pi'_ii) with theta the model's own
trade-weighted elasticity (:func:`model_trade_elasticity`) or a user theta.
:func:`welfare_analysis` puts EV, aggregates and ACR together for one country.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import elasticities
from ..equilibrium import Equilibrium
from .costs import country_index
from .counterfactual import Counterfactual
from .ev import EquivalentVariation, equivalent_variation
from .options import EVOptions

__all__ = ["utilitarian_welfare", "expenditure", "weighted_quantile_means", "WelfareSummary",
           "welfare_summary", "model_trade_elasticity", "acr_gain", "WelfareResult",
           "welfare_analysis"]


def utilitarian_welfare(eq: Equilibrium):
    """sum_{a,z} lambda_i(a,z) V_i(a,z) for every country i (per household)."""
    return jnp.einsum("iaz,iaz->i", eq.world.distribution.lam, eq.world.households.V)


def expenditure(eq: Equilibrium, i: int):
    """Household expenditure e(a,z) = sum_j p_ij c_ij(a,z) pi_ij(a,z) of country i."""
    hh = eq.world.households
    p = eq.world.problems.p[i]
    return jnp.einsum("azj,azj,j->az", hh.c[i], hh.pi[i], p)


def weighted_quantile_means(x, key, w, n: int = 5):
    """Means of x within the n quantile groups of ``key`` under weights w (summing to one).
    A state straddling a boundary contributes its mass to both groups in proportion."""
    x, key, w = (np.asarray(v, np.float64).reshape(-1) for v in (x, key, w))
    order = np.argsort(key, kind="stable")
    x, w = x[order], w[order]
    w = w / w.sum()
    hi = np.cumsum(w)
    lo = hi - w
    out = np.empty(n)
    for q in range(n):
        a, b = q / n, (q + 1) / n
        m = np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0.0, None)
        out[q] = np.sum(m * x) / np.sum(m)
    return out


class WelfareSummary(NamedTuple):
    """Aggregates of the EV of one country (fractions, not percent).

    mean_gain: sum lambda (lambda_tau - 1) (baseline distribution lambda);
    quintile_gains[5]: means by quintile of household expenditure (poorest first);
    share_gain: mass with V_new > V_old (the same as lambda_tau > 1); welfare_old /
    welfare_new: utilitarian welfare sum lambda V (each at its own stationary
    distribution); welfare_change: their difference; welfare_change_fixed_dist:
    sum lambda_old (V_new - V_old).
    """

    mean_gain: float
    quintile_gains: np.ndarray
    share_gain: float
    welfare_old: float
    welfare_new: float
    welfare_change: float
    welfare_change_fixed_dist: float


def welfare_summary(baseline: Equilibrium, new: Equilibrium, ev: EquivalentVariation
                    ) -> WelfareSummary:
    """Aggregate the EV of country ``ev.country`` (see :class:`WelfareSummary`)."""
    i = ev.country
    dist_old = np.asarray(baseline.world.distribution.lam[i])
    gain = np.asarray(ev.factor) - 1.0
    mean = float(np.sum(dist_old * gain))
    quint = weighted_quantile_means(gain, np.asarray(expenditure(baseline, i)), dist_old)
    dV = np.asarray(new.world.households.V[i]) - np.asarray(baseline.world.households.V[i])
    share = float(np.sum(dist_old * (dV > 0)) / np.sum(dist_old))  # in [0, 1] exactly
    welfare_before = float(utilitarian_welfare(baseline)[i])
    welfare_after = float(utilitarian_welfare(new)[i])
    fixed = float(np.sum(dist_old * dV))
    return WelfareSummary(mean, quint, share, welfare_before, welfare_after,
                          welfare_after - welfare_before, fixed)


def model_trade_elasticity(eq: Equilibrium, country, hh_tol: float = 1e-10):
    """(theta_ij for all j, theta_bar_i) of importer ``country`` as positive numbers:
    theta_ij = -d log(M_ij/M_ii)/d log d_ij at fixed W, R and distribution, households
    re-solved (model.md s.9; :func:`hat_jax.elasticities.trade_elasticities`, by AD);
    theta_ii = nan; theta_bar_i = sum_{j != i} theta_ij pi_ij / sum_{j != i} pi_ij."""
    i = country_index(eq.economy, country)
    te = elasticities.trade_elasticities(eq, i, hh_tol=hh_tol)
    theta = -np.asarray(te.theta[0], np.float64)
    theta[i] = np.nan
    return theta, float(-te.theta_mean[0])


def acr_gain(home_share_old, home_share_new, theta):
    """ACR representative-agent gain (1/theta) log(pi_ii / pi'_ii) (log points; theta > 0)."""
    return float(np.log(float(home_share_old) / float(home_share_new)) / float(theta))


class WelfareResult(NamedTuple):
    """Everything :func:`welfare_analysis` reports for one country (fractions): the
    country index, the EV, its summary, the model's trade-weighted elasticity and the
    bilateral ones, ACR with the model's and the user's theta, the home trade shares
    before and after, and stats (ev_s, elasticity_s)."""

    country: int
    ev: EquivalentVariation
    summary: WelfareSummary
    theta_model: float
    theta_ij: np.ndarray
    acr_model: float
    acr_user: float
    theta_user: float
    home_share: float
    home_share_new: float
    stats: dict


def welfare_analysis(cf: Counterfactual, country, opts: EVOptions | None = None, *,
                     theta: float = 4.0, throw: bool = True, **fields) -> WelfareResult:
    """EV by state, its aggregates and the ACR benchmarks for ``country`` in ``cf``.
    opts / fields: the EV's :class:`EVOptions` (e.g. ``tol=...``, ``batch_size=...``);
    throw: raise ConvergenceError if an EV state did not converge."""
    if not (np.isfinite(theta) and theta > 0):
        raise ValueError(f"theta (user trade elasticity for ACR) must be > 0, got {theta!r}")
    i = country_index(cf.baseline.economy, country)
    t0 = time.perf_counter()
    ev = equivalent_variation(cf.baseline, cf.new, i, opts, throw=throw, **fields)
    jax.block_until_ready(ev.factor)
    t1 = time.perf_counter()
    summ = welfare_summary(cf.baseline, cf.new, ev)
    theta_ij, bar = model_trade_elasticity(cf.baseline, i)
    t2 = time.perf_counter()
    h0 = float(cf.baseline.world.aggregates.trade_shares[i, i])
    h1 = float(cf.new.world.aggregates.trade_shares[i, i])
    return WelfareResult(i, ev, summ, bar, theta_ij, acr_gain(h0, h1, bar),
                         acr_gain(h0, h1, theta), float(theta), h0, h1,
                         {"ev_s": t1 - t0, "elasticity_s": t2 - t1})
