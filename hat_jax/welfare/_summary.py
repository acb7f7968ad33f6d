"""Aggregates of the equivalent variation and the ACR benchmark (model.md s.10).

:func:`welfare_summary`: the mean gain sum lambda(a,z) (l(a,z) - 1) under the baseline
stationary distribution lambda (l the EV factor: under the transfer measure l - 1 =
tau / (W_i E[z]), the transfer in units of mean labour income; under the proportional
measure l = lambda_tau), means by quintile of household expenditure e(a,z) = sum_j p_ij
c_ij pi_ij (mass at quintile boundaries split exactly), the share of households that
gain, and utilitarian welfare sum_{a,z} lambda_i V_i before and after. Under the
transfer measure also the mean transfer sum lambda tau (numeraire) and the transfer in
percent of the state's own expenditure, tau(a,z) / e(a,z) (mean and quintiles); under
the proportional measure the number and mass of the ill-posed states (net income
R a + W z + T <= 0).
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

from .. import _elasticities as elasticities
from .._equilibrium import Equilibrium
from ._costs import country_index
from ._counterfactual import Counterfactual
from ._ev import EquivalentVariation, equivalent_variation
from ._options import EVOptions

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
    sum lambda_old (V_new - V_old). measure: the EV measure ("transfer" or
    "proportional"; under "transfer" mean_gain and quintile_gains are tau / (W_i E[z]));
    unit: W_i E[z], mean labour income; mean_transfer: sum lambda tau in the numeraire;
    mean_gain_expenditure, quintile_gains_expenditure: tau(a,z) / e(a,z) (nan under
    "proportional"); ill_posed_count, ill_posed_mass: states (and their baseline mass)
    where the measure is ill posed (net income <= 0 under "proportional"; 0 under
    "transfer").
    """

    mean_gain: float
    quintile_gains: np.ndarray
    share_gain: float
    welfare_old: float
    welfare_new: float
    welfare_change: float
    welfare_change_fixed_dist: float
    measure: str = "transfer"
    unit: float = float("nan")
    mean_transfer: float = float("nan")
    mean_gain_expenditure: float = float("nan")
    quintile_gains_expenditure: np.ndarray = np.full(5, np.nan)
    ill_posed_count: int = 0
    ill_posed_mass: float = 0.0


def _measure_aggregates(ev: EquivalentVariation, gain, spend, dist) -> dict:
    """The measure-specific fields of :class:`WelfareSummary` (its doc)."""
    unit = float("nan") if ev.unit is None else float(np.asarray(ev.unit))
    out = dict(measure=ev.measure, unit=unit)
    if ev.ill_posed is not None:
        bad = np.asarray(ev.ill_posed, bool)
        out.update(ill_posed_count=int(bad.sum()),
                   ill_posed_mass=float(np.sum(dist * bad) / np.sum(dist)))
    if ev.measure == "transfer" and np.isfinite(unit):
        tau = gain * unit
        share = tau / spend
        out.update(mean_transfer=float(np.sum(dist * tau)),
                   mean_gain_expenditure=float(np.sum(dist * share)),
                   quintile_gains_expenditure=weighted_quantile_means(share, spend, dist))
    return out


def welfare_summary(baseline: Equilibrium, new: Equilibrium, ev: EquivalentVariation
                    ) -> WelfareSummary:
    """Aggregate the EV of country ``ev.country`` (see :class:`WelfareSummary`)."""
    i = ev.country
    dist_old = np.asarray(baseline.world.distribution.lam[i])
    gain = np.asarray(ev.factor) - 1.0
    mean = float(np.sum(dist_old * gain))
    spend = np.asarray(expenditure(baseline, i))
    quint = weighted_quantile_means(gain, spend, dist_old)
    dV = np.asarray(new.world.households.V[i]) - np.asarray(baseline.world.households.V[i])
    share = float(np.sum(dist_old * (dV > 0)) / np.sum(dist_old))  # in [0, 1] exactly
    welfare_before = float(utilitarian_welfare(baseline)[i])
    welfare_after = float(utilitarian_welfare(new)[i])
    fixed = float(np.sum(dist_old * dV))
    return WelfareSummary(mean, quint, share, welfare_before, welfare_after,
                          welfare_after - welfare_before, fixed,
                          **_measure_aggregates(ev, gain, spend, dist_old))


def model_trade_elasticity(eq: Equilibrium, country, hh_tol: float = 1e-10):
    """(theta_ij for all j, theta_bar_i) of importer ``country`` as positive numbers:
    theta_ij = -d log(M_ij/M_ii)/d log d_ij at fixed W, R and distribution, households
    re-solved (model.md s.9; :func:`hat_jax._elasticities.trade_elasticities`, by AD);
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


def _ev_target(cf: Counterfactual, i: int):
    """What country i's EV compares with: the new equilibrium, or i's new values V_new
    when the change moves TFP but not i's asset grid and preferences (another country's
    A, or any A without the reference country scaling, which scales i's grid, sigma and
    psi with A_i)."""
    e0, e1 = cf.baseline.economy, cf.new.economy
    A0, A1 = np.asarray(e0.A), np.asarray(e1.A)
    if not np.array_equal(A0, A1) and (not bool(e0.scale_by_tfp) or A0[i] == A1[i]):
        return cf.new.world.households.V[i]
    return cf.new


def welfare_analysis(cf: Counterfactual, country, opts: EVOptions | None = None, *,
                     theta: float = 4.0, throw: bool = True, **fields) -> WelfareResult:
    """EV by state, its aggregates and the ACR benchmarks for ``country`` in ``cf``.
    opts / fields: the EV's :class:`EVOptions` (e.g. ``tol=...``, ``measure=...``);
    throw: raise ConvergenceError if an EV state did not converge (under
    ``measure="proportional"`` states flagged ill posed only warn)."""
    if not (np.isfinite(theta) and theta > 0):
        raise ValueError(f"theta (user trade elasticity for ACR) must be > 0, got {theta!r}")
    i = country_index(cf.baseline.economy, country)
    t0 = time.perf_counter()
    ev = equivalent_variation(cf.baseline, _ev_target(cf, i), i, opts, throw=throw, **fields)
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
