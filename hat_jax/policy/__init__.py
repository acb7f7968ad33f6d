"""Trade policy (model.md s.14): welfare as a differentiable function of tariffs,
optimal tariffs of one country and Nash tariffs, by gradients through the equilibrium.

- :mod:`~hat_jax.policy._gradient`: :func:`tariff_welfare` (traceable), :func:`tariff_gradient`;
- :mod:`~hat_jax.policy._mean_ev`: the lambda-weighted mean EV and its exact gradient
  (:func:`mean_ev_value_and_gradient`, :func:`ev_reference`);
- :mod:`~hat_jax.policy._options`: :class:`TariffOptions`, the options of both solvers;
- :mod:`~hat_jax.policy._optimal`: :func:`optimal_tariff` (uniform or by partner, BFGS or
  projected Newton; utilitarian or mean-EV objective), its stages as data
  (:func:`stage_plan`) and the one-stage solve (:func:`solve_stage`);
- :mod:`~hat_jax.policy._nash`: :func:`nash_tariffs` (stacked FOCs or best responses),
  :func:`foc_residuals`, :func:`ra_optimal_tariff` (the representative-agent benchmark);
- :mod:`~hat_jax.policy._compare`: the optimum against the planner and the RA tariff
  (:func:`compare_optimum`, :func:`planner_values`);
- :mod:`~hat_jax.policy._capital`: optimal capital controls, country i's wedge
  (:func:`optimal_wedge`, :func:`wedge_value_and_slope`; model.md s.15), Nash wedges
  (:func:`nash_wedges`, :func:`wedge_welfare_jacobian`) and the optimal wedge beside
  the optimal tariff (:func:`compare_wedge_tariff`);
- :mod:`~hat_jax.policy._inference`: the optimal tariff and its welfare gain as functions
  of the calibrated parameters, their exact Jacobian (:func:`optimal_tariff_jacobian`:
  implicit function theorem on the first-order condition; model.md s.16);
- tariff matrices (:func:`uniform_tariffs`, :func:`tariff_war`, :func:`validate_tariffs`,
  :func:`tariff_revenue`), defined in :mod:`hat_jax._tariffs` below the equilibrium.
"""

from .._tariffs import tariff_revenue, tariff_war, uniform_tariffs, validate_tariffs
from ._gradient import (TariffArgs, TariffGradient, policy_options, tariff_args, tariff_gradient,
                       tariff_welfare, value_and_gradient, welfare_jacobian,
                       welfare_program)
from ._nash import NashTariffs, foc_residuals, nash_tariffs, ra_optimal_tariff
from ._capital import (NashWedges, OptimalWedge, WedgeTariffComparison, compare_wedge_tariff,
                       nash_wedges, optimal_wedge, wedge_value_and_slope,
                       wedge_welfare_jacobian)
from ._compare import TariffComparison, compare_optimum, planner_values
from ._inference import TariffInference, optimal_tariff_jacobian
from ._mean_ev import EVReference, ev_reference, mean_ev_value_and_gradient
from ._optimal import (OptimalTariff, TariffStage, optimal_tariff, softplus_inverse,
                      solve_stage, stage_plan, tariff_row)
from ._options import (COARSE_NA, MODES, NASH_METHODS, OBJECTIVES, OPTIMIZERS, TariffOptions,
                      tariff_options)

__all__ = ["OptimalWedge", "optimal_wedge", "wedge_value_and_slope", "wedge_welfare_jacobian",
           "NashWedges", "nash_wedges", "WedgeTariffComparison", "compare_wedge_tariff",
           "TariffComparison", "compare_optimum", "planner_values",
           "NashTariffs", "foc_residuals", "nash_tariffs", "ra_optimal_tariff",
           "EVReference", "ev_reference", "mean_ev_value_and_gradient",
           "TariffInference", "optimal_tariff_jacobian",
           "MODES", "OBJECTIVES", "OptimalTariff", "optimal_tariff", "softplus_inverse", "tariff_row",
           "COARSE_NA", "NASH_METHODS", "OPTIMIZERS", "TariffOptions", "TariffStage",
           "solve_stage", "stage_plan", "tariff_options",
           "TariffArgs", "TariffGradient", "policy_options", "tariff_args", "tariff_gradient",
           "tariff_welfare", "value_and_gradient", "welfare_jacobian", "welfare_program",
           "uniform_tariffs", "tariff_war", "validate_tariffs", "tariff_revenue"]
