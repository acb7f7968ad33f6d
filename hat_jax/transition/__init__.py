"""Transitions after a trade shock (model.md section 12; issue 14).

- :mod:`~hat_jax.transition._path`: the path at given prices (backward EGM pass with
  time-varying prices, forward distribution pass, market residuals by date);
- :mod:`~hat_jax.transition._shocks`: permanent, announced and temporary (AR(1)) shocks
  to trade costs, TFP or any economy field (:func:`shock_path`);
- :mod:`~hat_jax.transition._solve`: the exact Jacobian of the market residuals at a
  path by AD (:func:`residual_jacobian`), quasi-Newton, the differentiable root
  :func:`path_root`;
- :mod:`~hat_jax.transition._sequence`: the public linear layer, the general-equilibrium
  sequence-space Jacobians G from input paths (trade costs, TFP) to output paths
  (:func:`sequence_jacobian`, :class:`SequenceJacobian`) and the first-order transition
  (:func:`linear_transition`);
- :mod:`~hat_jax.transition._fakenews`: the stationary sequence-space Jacobian by the
  fake-news algorithm (:func:`fake_news_jacobian`);
- :mod:`~hat_jax.transition._linear`: the linearized path at a stationary equilibrium from
  the constant date blocks (:func:`linear_path_blocks`, :func:`linear_path_response`);
- :mod:`~hat_jax.transition._driver`: :func:`solve_transition` (endpoints, Jacobian,
  Newton, terminal gap);
- :mod:`~hat_jax.transition._batch`: :func:`solve_transitions`, many shocks of one shape
  at once with one shared Jacobian;
- :mod:`~hat_jax.transition._reuse`: :class:`TransitionCache`, what one solve hands to
  the next (endpoints, Jacobian);
- :mod:`~hat_jax.transition._distributions`: the distribution and policy paths
  (:func:`distribution_paths`) and percentiles along the path (:func:`path_percentiles`,
  :func:`wealth_decile_means`);
- :mod:`~hat_jax.transition._elasticity`: the trade elasticity at every horizon
  (:func:`horizon_elasticities`);
- :mod:`~hat_jax.transition._inference`: its standard errors, the elasticities by horizon
  as a differentiable function of the calibrated parameters with their exact Jacobian
  (:func:`horizon_outputs`, :func:`horizon_elasticities_jacobian`);
- :mod:`~hat_jax.transition._welfare`: the date-0 transition EV next to the
  steady-state EV (:func:`transition_welfare`);
- :mod:`~hat_jax.transition._regime` and :mod:`~hat_jax.transition._opening`:
  transitions across financial regimes, capital-account wedges by date with their
  rebates (:func:`solve_regime_transition`, :func:`wedge_shock`) and the opening of the
  capital account from financial autarky (:func:`open_capital_account`);
- :mod:`~hat_jax.transition._autarky`: trade shocks under financial autarky throughout,
  N bond markets per date (:func:`solve_transition` of an autarky baseline;
  :func:`autarky_outcomes`, :func:`autarky_fake_news_jacobian`).
"""

from ._driver import Transition, check_transition, endpoint_equilibria, solve_transition, \
    stationary_jacobian, stationary_shock, transition_eq_options, transition_jit
from ._fakenews import fake_news_jacobian
from ._reuse import TransitionCache
from ._distributions import (PATHS, PERCENTILES, DistributionPaths, distribution_paths,
                             path_percentiles, wealth_decile_means)
from ._batch import Transitions, solve_transitions
from ._linear import LinearPath, linear_path_blocks, linear_path_response
from ._elasticity import HorizonElasticities, horizon_elasticities, time_series_estimate
from ._inference import (HorizonOutputs, horizon_elasticities_jacobian, horizon_outputs,
                         time_series_weights)
from ._path import (Endpoint, PathOutcomes, ShockPath, endpoint, path_outcomes, path_residuals,
                   steady_unknowns)
from ._shocks import DEFAULT_HORIZON, check_horizon, shock_path
from ._solve import TransitionOptions, path_root, residual_jacobian, terminal_gap
from ._sequence import (LinearTransition, SequenceJacobian, linear_transition,
                        sequence_jacobian)
from ._welfare import TransitionWelfare, transition_welfare
from ._regime import RegimeOrigin, regime_fake_news_jacobian, regime_jacobian
from ._opening import (RegimeTransition, open_capital_account, solve_regime_transition,
                       wedge_shock)
from ._autarky import (autarky_fake_news_jacobian, autarky_jacobian, autarky_outcomes,
                       stationary_autarky_jacobian, steady_autarky_unknowns)

__all__ = [
    "Transition", "TransitionCache", "Transitions", "solve_transitions", "check_transition", "endpoint_equilibria", "solve_transition",
    "stationary_shock", "stationary_jacobian", "transition_eq_options", "transition_jit", "fake_news_jacobian", "HorizonElasticities", "horizon_elasticities", "time_series_estimate",
    "Endpoint", "PathOutcomes", "ShockPath", "endpoint", "path_outcomes", "path_residuals",
    "steady_unknowns", "DEFAULT_HORIZON", "check_horizon", "shock_path", "TransitionOptions",
    "path_root", "sequence_jacobian", "residual_jacobian", "SequenceJacobian",
    "LinearTransition", "linear_transition", "terminal_gap", "TransitionWelfare",
    "transition_welfare", "LinearPath", "linear_path_blocks", "linear_path_response",
    "RegimeOrigin", "RegimeTransition", "open_capital_account", "solve_regime_transition",
    "wedge_shock", "regime_jacobian", "regime_fake_news_jacobian",
    "autarky_outcomes", "autarky_jacobian", "autarky_fake_news_jacobian",
    "steady_autarky_unknowns", "stationary_autarky_jacobian",
    "DistributionPaths", "distribution_paths", "path_percentiles", "wealth_decile_means",
    "PATHS", "PERCENTILES",
    "HorizonOutputs", "horizon_outputs", "horizon_elasticities_jacobian", "time_series_weights",
]

from .._deprecation import moved_names

__getattr__ = moved_names("hat_jax.transition", {"DEFAULT_T": "DEFAULT_HORIZON"})
