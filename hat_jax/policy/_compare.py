"""How an optimal tariff compares with the planner's allocation and with the
representative-agent (RA) optimal tariff (model.md s.11 and s.14).

- Planner: the efficient allocation of the free-trade economy (:func:`hat_jax.solve_planner`,
  Pareto weights proportional to A_i, beta of the baseline) gives each household of
  country i the value

      P_i = 1/(1 - beta) E_z[ sum_j pi_ij(z) (u(c_ij) + q_ij(z)) - sigma_i sum_j pi_ij(z) log pi_ij(z) ],

  in the units of the equilibrium's utilitarian welfare W_i = sum lambda V_i (both are
  expected lifetime utility per household; sum_i psi_i L_i P_i is the planner's
  objective). planner_gain_pct = 100 (P_i - W_i^free) / |W_i^free| is what efficiency
  (complete risk sharing and efficient trade) is worth to country i at these weights;
  tariff_share_of_planner_pct = 100 (W_i^opt - W_i^free) / (P_i - W_i^free) is the part
  of it the tariff takes (from the partners, not from efficiency: a tariff makes the
  world allocation less efficient).
- RA: t_RA = 1 / (epsilon lambda_FF) (:func:`~hat_jax.policy.ra_optimal_tariff`) at the
  model's own trade elasticity epsilon; ra_welfare_gain_pct is country i's utilitarian
  welfare gain in the HAT model if it levied t_RA on every partner (one more
  equilibrium), never above the HAT optimum's gain (which maximises it) when the
  objective is utilitarian and the mode uniform.
- Within the country: the EV by expenditure quintile at the optimum
  (``quintile_gains_pct``; poorest minus richest in ``quintile_spread_pp``), the
  heterogeneity a representative agent does not have.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from .._baseline import Baseline, as_baseline
from .._change import Change
from .._equilibrium import Equilibrium, EquilibriumOptions
from .._household import utility
from .._params import household_problems
from .._planner import solve_planner, stationary_income_distribution
from ..welfare import counterfactual, country_index, utilitarian_welfare

__all__ = ["TariffComparison", "planner_values", "compare_optimum"]


def planner_values(eq: Equilibrium, weights=None):
    """(P_i for every country [N], the planner solution): per-household lifetime value of
    each country in the efficient allocation of ``eq``'s economy without tariffs (beta
    of ``eq``; Pareto ``weights`` as :func:`hat_jax.solve_planner`)."""
    econ = eq.economy.replace(tariffs=None)
    beta = float(np.ravel(np.asarray(eq.beta))[0])
    sol = solve_planner(econ, weights, beta)
    probs = household_problems(econ, jnp.ones(econ.N), 1.0, beta)
    mu = stationary_income_distribution(econ.P)
    u = utility(sol.c, econ.gamma)[:, None, :] + probs.psi  # [i, z, j]
    pz = sol.pi_z
    ent = -jnp.sum(jnp.where(pz > 0, pz * jnp.log(jnp.where(pz > 0, pz, 1.0)), 0.0), axis=-1)
    per = jnp.einsum("z,iz->i", mu, jnp.sum(pz * u, axis=-1) + probs.sigma[:, None] * ent)
    return np.asarray(per) / (1.0 - beta), sol


class TariffComparison(NamedTuple):
    """The optimum against the planner and the RA rule (module doc): planner_welfare
    (P_i), planner_gain_pct, tariff_share_of_planner_pct, ra_optimal_tariff,
    ra_welfare_gain_pct, tariff_minus_ra_pp (mean optimal rate minus t_RA, percentage
    points), quintile_spread_pp (poorest minus richest quintile EV gain, pp)."""

    planner_welfare: float
    planner_gain_pct: float
    tariff_share_of_planner_pct: float
    ra_optimal_tariff: float
    ra_welfare_gain_pct: float
    tariff_minus_ra_pp: float
    quintile_spread_pp: float


def compare_optimum(eq: Baseline | Equilibrium, opt, ra_tariff: float, quintile_gains_pct=None,
                    opts: EquilibriumOptions | None = None) -> TariffComparison:
    """:class:`TariffComparison` of the optimum ``opt`` (an
    :class:`~hat_jax.policy.OptimalTariff` of country ``opt.country``) found from the
    free-trade baseline ``eq``; ra_tariff: the RA optimal tariff; quintile_gains_pct:
    the EV by expenditure quintile at the optimum (percent), if known."""
    b = as_baseline(eq)
    i = country_index(b.economy, opt.country)
    W_free = float(utilitarian_welfare(b.equilibrium)[i])
    W_opt = float(utilitarian_welfare(counterfactual(
        b, Change.tariffs(b.economy, opt.tariffs, label="optimal"), opts,
        start=opt.start).new)[i])
    P = float(planner_values(b.equilibrium)[0][i])
    ra_eq = counterfactual(b, Change.uniform_tariff(b.economy, i, ra_tariff), opts).new
    W_ra = float(utilitarian_welfare(ra_eq)[i])
    pct = lambda x: 100.0 * (x - W_free) / abs(W_free)
    rate = float(np.mean(np.delete(np.asarray(opt.rates), i)))
    q = np.asarray([np.nan] * 5 if quintile_gains_pct is None else quintile_gains_pct)
    return TariffComparison(P, pct(P), 100.0 * (W_opt - W_free) / (P - W_free), ra_tariff,
                            pct(W_ra), 100.0 * (rate - ra_tariff), float(q[0] - q[-1]))
