"""The model's building blocks, one level below the solvers (model.md sections 2-6).

``import hat_jax`` offers the solvers and their results; this namespace offers the pieces
they are made of, for users who assemble their own experiments:

- the household block (section 3): :class:`HouseholdProblem`, :func:`solve_household`,
  :func:`solve_households` (vmapped over countries), the logit choice
  :func:`choice_probabilities` (eq. 3) and its expected value :func:`expected_value`;
- the stationary distribution (section 4): :func:`transition_matrix`,
  :func:`stationary_distribution`, :func:`stationary_distributions`;
- aggregation (section 5): :func:`aggregate` (trade flows M_ij, asset demand, efficiency
  units), :func:`trade_flows`, :func:`asset_demand`, :func:`efficiency_units`;
- market clearing (section 6): :func:`market_residuals` (eqs. 9-11) and the Newton
  iterates :func:`newton_path`;
- economies: :func:`delivered_prices` (p_ij = d_ij W_j / A_j), :func:`household_problems`,
  :func:`household_options` (an economy's :class:`~hat_jax.HouseholdOptions`),
  :func:`economy_from_params` (an EK economy from calibrated parameters), batches
  (:func:`stack_economies`, :func:`solve_equilibria`), income processes
  (:func:`rouwenhorst`, :func:`custom_income_process`), the log-utility two-country
  preset :func:`two_country_log`;
- the efficient benchmark (section 11): :func:`planner_checks` and the planner's
  options :class:`PlannerOptions`;
- elasticities by household state: :class:`StateElasticities`,
  :func:`bilateral_elasticities`;
- warm solves: :class:`WarmInverses` of a solved world (:func:`warm_inverses`,
  :func:`warm_inverse_bytes`), chord steps for nearby household and distribution solves
  (``Baseline.with_warm_inverses()``).

Every name here is defined in a private implementation module (``hat_jax._name``) and
re-exported; import it from here.
"""

from ._aggregates import Aggregates, aggregate, asset_demand, efficiency_units, trade_flows
from ._batched import solve_equilibria, stack_economies
from ._distribution import (DistributionSolution, stationary_distribution,
                            stationary_distributions, transition_matrix)
from ._ek import economy_from_params
from ._elasticities import BilateralElasticities, StateElasticities, bilateral_elasticities
from ._equilibrium import market_residuals, newton_path
from ._household import (HouseholdProblem, HouseholdSolution, choice_probabilities,
                         expected_value, solve_household, solve_households)
from ._income import custom_income_process, rouwenhorst
from ._params import delivered_prices, household_options, household_problems
from ._planner import PlannerOptions, planner_checks
from ._presets import two_country_log
from ._warm import WarmInverses, warm_inverse_bytes, warm_inverses

__all__ = [
    "HouseholdProblem", "HouseholdSolution", "solve_household", "solve_households",
    "choice_probabilities", "expected_value",
    "DistributionSolution", "transition_matrix", "stationary_distribution",
    "stationary_distributions",
    "Aggregates", "aggregate", "trade_flows", "asset_demand", "efficiency_units",
    "market_residuals", "newton_path",
    "delivered_prices", "household_problems", "household_options", "economy_from_params", "stack_economies",
    "solve_equilibria", "rouwenhorst", "custom_income_process", "two_country_log",
    "planner_checks", "PlannerOptions", "StateElasticities", "BilateralElasticities", "bilateral_elasticities",
    "WarmInverses", "warm_inverses", "warm_inverse_bytes",
]
