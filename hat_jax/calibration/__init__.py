"""Calibration by gravity as a guide: indirect inference on the gravity regression
(model.md sections 7, 8 and 13).

Theta (K = 2(N-1) + 10 parameters, the layout of :mod:`hat_jax.gravity`) -> (A, d) ->
world equilibrium at the target R with beta unknown -> model trade shares pi_ij ->
gravity regression of log(pi_ij / pi_ii) -> K model moments. The gaps

    g(Theta) = moments_model(Theta) - moments_data

are exactly identified (K equations, K unknowns) and solved by Newton's method with the
exact Jacobian dg/dTheta = m_Theta - m_x f_x^{-1} f_Theta and a backtracking line search,
checkpointed after every iteration. One concern per module:

* :mod:`~hat_jax.calibration.problem`: :class:`CalibrationProblem`, parameter and moment names;
* :mod:`~hat_jax.calibration.options`: :class:`CalibrationOptions`;
* :mod:`~hat_jax.calibration.moments`: g(Theta), its Jacobian, :func:`make_moments`;
* :mod:`~hat_jax.calibration.starts`: :class:`Start`, :func:`starting_point`;
* :mod:`~hat_jax.calibration.checkpoint`: fingerprinted, checksummed checkpoints;
* :mod:`~hat_jax.calibration.newton`: the driver :func:`calibrate`;
* :mod:`~hat_jax.calibration.synthetic`: worlds with known parameters (also as tidy
  tables, :func:`synthetic_tables`).

The output files (params.csv, prices.csv, summary.json, moments.csv, fit.png) are written
by :mod:`hat_jax.report.calibration`. The cold start :func:`static_ek_start` lives in
:mod:`hat_jax.ek` (re-exported here).
"""

from ..ek import static_ek_start
from .checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    IterationState,
    checkpoint_fingerprint,
    load_checkpoint,
    problem_fingerprint,
    save_checkpoint,
    start_fingerprint,
)
from .moments import (
    Evaluation,
    compiled_evaluator,
    initial_household_state,
    make_moments,
    moment_gaps,
    moments_and_jacobian,
)
from .newton import CalibrationResult, calibrate, newton_step
from .options import CALIBRATION_EQUILIBRIUM, CalibrationOptions
from .problem import (
    CalibrationProblem,
    moment_names,
    parameter_names,
    problem_from_world,
    trade_cost_levels,
)
from .starts import Start, read_start_file, starting_point
from .synthetic import synthetic_geography, synthetic_problem, synthetic_tables, synthetic_theta

__all__ = [
    "CHECKPOINT_NAME", "CheckpointError", "CalibrationProblem", "CalibrationOptions",
    "CALIBRATION_EQUILIBRIUM",
    "CalibrationResult", "Evaluation", "IterationState", "Start", "calibrate",
    "checkpoint_fingerprint", "compiled_evaluator", "initial_household_state",
    "load_checkpoint", "make_moments", "moment_gaps", "moment_names", "moments_and_jacobian",
    "newton_step", "parameter_names", "problem_fingerprint", "problem_from_world",
    "read_start_file", "save_checkpoint", "start_fingerprint", "starting_point",
    "static_ek_start", "synthetic_geography", "synthetic_problem", "synthetic_tables",
    "synthetic_theta",
    "trade_cost_levels",
]
