"""Calibration by gravity as a guide: indirect inference on the gravity regression
(model.md sections 7, 8 and 13).

Theta (K = 2(N-1) + 10 parameters, the layout of :mod:`hat_jax._gravity`) -> (A, d) ->
world equilibrium at the target R with beta unknown -> model trade shares pi_ij ->
gravity regression of log(pi_ij / pi_ii) -> K model moments. The gaps

    g(Theta) = moments_model(Theta) - moments_data

are exactly identified (K equations, K unknowns) and solved by Newton's method with the
exact Jacobian dg/dTheta = m_Theta - m_x f_x^{-1} f_Theta and a backtracking line search,
checkpointed after every iteration. One concern per module:

* :mod:`~hat_jax.calibration._problem`: :class:`CalibrationProblem`, parameter and moment names;
* :mod:`~hat_jax.calibration._options`: :class:`CalibrationOptions`;
* :mod:`~hat_jax.calibration._moments`: g(Theta), its Jacobian, :func:`make_moments`;
* :mod:`~hat_jax.calibration._starts`: :class:`Start`, :func:`starting_point`;
* :mod:`~hat_jax.calibration._checkpoint`: fingerprinted, checksummed checkpoints;
* :mod:`~hat_jax.calibration._newton`: the driver :func:`calibrate`;
* :mod:`~hat_jax.calibration._inference`: standard errors (model.md section 16): the
  moment covariance V_m (:func:`moment_covariance`), V_params = G^{-1} V_m G^{-T}
  (:func:`params_inference`), the delta method (:func:`delta_method_se`);
* :mod:`~hat_jax.calibration._elasticities`: the trade elasticities and their exact
  Jacobian with respect to the parameters (:func:`elasticities_jacobian`), for their
  standard errors;
* :mod:`~hat_jax.calibration._synthetic`: worlds with known parameters (also as tidy
  tables, :func:`synthetic_tables`).

The trade-cost parameters and the gravity regression they are calibrated to
(:class:`TradeCostParams`, :func:`trade_costs`, :class:`Geography`,
:func:`gravity_regression`, :class:`GravityMoments`, :func:`n_params`,
:func:`pack_params`, :func:`unpack_params`) are defined in :mod:`hat_jax._gravity` and
re-exported here.

The output files (params.csv, prices.csv, summary.json, moments.csv, fit.png) are written
by :mod:`hat_jax.report.calibration`. The cold start :func:`static_ek_start` lives in
:mod:`hat_jax._ek` (re-exported here).
"""

from .._ek import static_ek_start
from .._gravity import (Geography, GravityMoments, TradeCostParams, geography_from_arrays,
                        gravity_regression, n_params, pack_params, trade_costs, unpack_params)
from ._checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    IterationState,
    checkpoint_fingerprint,
    load_checkpoint,
    problem_fingerprint,
    save_checkpoint,
    start_fingerprint,
)
from ._moments import (
    Evaluation,
    compiled_evaluator,
    initial_household_state,
    make_moments,
    moment_gaps,
    moments_and_jacobian,
)
from ._elasticities import ElasticityOutputs, elasticities_jacobian, elasticity_outputs
from ._inference import (COVARIANCE_TYPES, ParamsInference, calibration_inference,
                         bootstrap_summary, coefficient_covariance, params_draws,
                         delta_method_se, moment_covariance, params_covariance,
                         params_inference)
from ._newton import CalibrationResult, calibrate, newton_step
from ._options import CALIBRATION_EQUILIBRIUM, CalibrationOptions
from ._problem import (
    CalibrationProblem,
    moment_names,
    parameter_names,
    problem_from_world,
    trade_cost_levels,
)
from ._starts import Start, read_start_file, starting_point
from ._synthetic import synthetic_geography, synthetic_problem, synthetic_tables, synthetic_params

__all__ = [
    "CHECKPOINT_NAME", "CheckpointError", "CalibrationProblem", "CalibrationOptions",
    "CALIBRATION_EQUILIBRIUM",
    "CalibrationResult", "Evaluation", "IterationState", "Start", "calibrate",
    "checkpoint_fingerprint", "compiled_evaluator", "initial_household_state",
    "load_checkpoint", "make_moments", "moment_gaps", "moment_names", "moments_and_jacobian",
    "newton_step", "parameter_names", "problem_fingerprint", "problem_from_world",
    "read_start_file", "save_checkpoint", "start_fingerprint", "starting_point",
    "static_ek_start", "synthetic_geography", "synthetic_problem", "synthetic_tables",
    "synthetic_params",
    "trade_cost_levels",
    "COVARIANCE_TYPES", "ParamsInference", "calibration_inference", "coefficient_covariance", "delta_method_se",
    "moment_covariance", "params_covariance", "params_inference", "params_draws",
    "bootstrap_summary", "ElasticityOutputs", "elasticities_jacobian", "elasticity_outputs",
    "TradeCostParams", "trade_costs", "Geography", "geography_from_arrays",
    "gravity_regression", "GravityMoments", "n_params", "pack_params", "unpack_params",
]

from .._deprecation import moved_names

__getattr__ = moved_names("hat_jax.calibration", {"synthetic_theta": "synthetic_params"})
