"""Welfare (model.md section 10): counterfactuals, equivalent variation by household,
aggregates, the ACR benchmark, and welfare derivatives by automatic differentiation.

One module per concern, every public name re-exported here
(``from hat_jax import welfare as wf; wf.global_cut(...)``):

- :mod:`~hat_jax.welfare._costs`: the matrices of the cost changes of
  :class:`hat_jax.Change` (the experiment type; :func:`unilateral_cut`,
  :func:`global_cut`, :func:`bilateral_cut`, :func:`scale_costs`), floored at d = 1
  by default or, with ``floor=None``, the paper's convention (costs may fall below 1;
  :class:`CostsBelowOneWarning`, :func:`costs_below_one`), and their check (:func:`check_costs`, by :func:`hat_jax._params.validate_trade_costs`);
- :mod:`~hat_jax.welfare.counterfactual`: the new stationary equilibrium after a
  :class:`hat_jax.Change`, beta fixed at the baseline's, wages and R solved, warm-started
  (:func:`counterfactual`, :func:`as_change`);
- :mod:`~hat_jax.welfare._options`, :mod:`~hat_jax.welfare._measure`,
  :mod:`~hat_jax.welfare._roots`, :mod:`~hat_jax.welfare._ev`: the equivalent variation,
  for each state (a, z) the factor l with V_old(a, z; l) = V_new(a, z), under the
  measure "transfer" (default: a permanent lump-sum transfer tau = (l - 1) W_i E[z] at
  the old prices) or "proportional" (income scaled by l) (:class:`EVOptions`,
  :func:`equivalent_variation`, the custom-jvp root :func:`ev_roots`), found by
  :mod:`~hat_jax.welfare._continuation` (states share household solves) with the
  safeguarded per-state solver behind it, and under the original code's stop rule by
  :mod:`~hat_jax.welfare._policy_rule` (a fixed number of sweeps);
- :mod:`~hat_jax.welfare._summary`: the distribution-weighted mean gain, quintiles of
  expenditure, share who gain, utilitarian welfare sum lambda V, ACR
  (:func:`welfare_analysis`);
- :mod:`~hat_jax.welfare._inference`: the outputs of a counterfactual as one
  differentiable function of the calibrated parameters and their exact Jacobian, for
  standard errors by the delta method (:func:`counterfactual_outputs`,
  :func:`counterfactual_jacobian`; model.md s.16);
- :mod:`~hat_jax.welfare._derivatives`: d welfare / d log d by AD in general or partial
  equilibrium (:func:`welfare_gradient`, :func:`welfare_jvp`, :func:`ev_derivative`,
  :func:`welfare_decomposition`, Proposition 4).
"""

from ._costs import (CostsBelowOneWarning, bilateral_cut, check_costs, costs_below_one,
                    country_index, global_cut, pair_direction, scale_costs, unilateral_cut)
from ._counterfactual import (Counterfactual, as_change, counterfactual, country_problem,
                             country_state)
from ._derivatives import (WelfareDecomposition, WelfareGradient, WelfareTangent,
                          ev_derivative, welfare_decomposition,
                          welfare_gradient, welfare_jvp)
from ._ev import (EquivalentVariation, EVIllPosedWarning, check_ev, equivalent_variation,
                 equivalent_variations, ev_at, ev_slope, scaled_values)
from ._inference import (CounterfactualOutputs, apply_change_rule, change_rule,
                         counterfactual_jacobian,
                         counterfactual_outputs, quintile_means, smoothed_share)
from ._measure import (EV_MEASURES, ev_problem, ill_posed_states, mean_efficiency, net_income,
                      transfer_unit)
from ._options import EV_METHODS, EV_TOL, EVOptions, ev_options
from ._policy_rule import policy_rule_roots, policy_rule_sweeps, policy_rule_values
from ._roots import EVRoots, ev_roots, scaled_problem, solve_ev_roots, value_slope
from ._summary import (WelfareResult, WelfareSummary, acr_gain, expenditure,
                      model_trade_elasticity, utilitarian_welfare, weighted_quantile_means,
                      welfare_analysis, welfare_summary)

__all__ = [
    # costs
    "CostsBelowOneWarning", "costs_below_one", "country_index", "check_costs",
    "scale_costs", "unilateral_cut",
    "global_cut", "bilateral_cut", "pair_direction",
    # counterfactual
    "Counterfactual", "counterfactual", "as_change", "country_problem", "country_state",
    # equivalent variation
    "EV_TOL", "EVOptions", "ev_options", "EquivalentVariation", "equivalent_variation",
    "equivalent_variations", "ev_at",
    "ev_roots", "EVRoots", "solve_ev_roots", "value_slope", "scaled_problem", "scaled_values", "ev_slope", "check_ev",
    "EV_METHODS", "EV_MEASURES", "EVIllPosedWarning", "ev_problem", "ill_posed_states",
    "mean_efficiency", "net_income", "transfer_unit",
    "policy_rule_sweeps", "policy_rule_values", "policy_rule_roots",
    # aggregates and ACR
    "utilitarian_welfare", "expenditure", "weighted_quantile_means", "WelfareSummary",
    "welfare_summary", "model_trade_elasticity", "acr_gain", "WelfareResult",
    "welfare_analysis",
    # standard errors (delta method)
    "CounterfactualOutputs", "counterfactual_outputs", "counterfactual_jacobian", "change_rule",
    "apply_change_rule", "quintile_means", "smoothed_share",
    # derivatives
    "WelfareGradient", "welfare_gradient", "WelfareTangent",
    "welfare_jvp", "ev_derivative", "WelfareDecomposition", "welfare_decomposition",
]
