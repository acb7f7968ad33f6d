"""Trade policy (model.md s.14): welfare as a differentiable function of tariffs,
optimal tariffs of one country and Nash tariffs, by gradients through the equilibrium.

- :mod:`~hat_jax.policy.gradient`: :func:`tariff_welfare` (traceable), :func:`tariff_gradient`;
- :mod:`~hat_jax.policy.optimal`: :func:`optimal_tariff` (uniform or by partner, BFGS);
- :mod:`~hat_jax.policy.nash`: :func:`nash_tariffs` (stacked FOCs or best responses),
  :func:`foc_residuals`, :func:`ra_optimal_tariff` (the representative-agent benchmark).
"""

from .gradient import (TariffArgs, TariffGradient, policy_options, tariff_args, tariff_gradient,
                       tariff_welfare, value_and_gradient, welfare_jacobian,
                       welfare_program)
from .nash import NashTariffs, foc_residuals, nash_tariffs, ra_optimal_tariff
from .optimal import MODES, OptimalTariff, optimal_tariff, softplus_inverse, tariff_row

__all__ = ["NashTariffs", "foc_residuals", "nash_tariffs", "ra_optimal_tariff",
           "MODES", "OptimalTariff", "optimal_tariff", "softplus_inverse", "tariff_row",
           "TariffArgs", "TariffGradient", "policy_options", "tariff_args", "tariff_gradient",
           "tariff_welfare", "value_and_gradient", "welfare_jacobian", "welfare_program"]
