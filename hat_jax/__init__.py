"""hat_jax: a differentiable JAX solver for the Heterogeneous Agent Trade model.

Importing ``hat_jax`` turns on JAX's 64-bit mode (``jax_enable_x64``) process-wide:
the solver's tolerances (1e-10) are out of reach in float32. This is a global side
effect, documented in the README.

It also adds ``--xla_cpu_multi_thread_eigen=false`` to ``XLA_FLAGS`` (unless XLA_FLAGS
already sets it, or ``HAT_JAX_CPU_MULTITHREAD=1``): XLA's multi-threaded Eigen pool on
the CPU deadlocks on this library's nested while loops under jvp/vmap (the process hangs
with every thread parked). The flag only takes effect if no JAX computation ran before
``import hat_jax``; a warning says so otherwise.

Axis conventions: ``[country i, asset a, shock z, variety j]``; ``M[i, j]`` is importer
i's spending on exporter j's variety, ``d[i, j]`` the cost of j's good delivered to i.
"""

import os as _os
import warnings as _warnings


def _configure_xla_cpu() -> None:
    if _os.environ.get("HAT_JAX_CPU_MULTITHREAD", "0") == "1":
        return
    flags = _os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" in flags:
        return
    _os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
    try:  # the flag is read when the CPU backend starts
        from jax._src import xla_bridge

        started = bool(getattr(xla_bridge, "_backends", {}))
    except Exception:  # pragma: no cover - private API moved
        started = False
    if started:
        _warnings.warn(
            "hat_jax was imported after JAX started its CPU backend, so XLA_FLAGS="
            "--xla_cpu_multi_thread_eigen=false could not take effect; set it in the "
            "environment to avoid rare deadlocks of nested solves on the CPU",
            RuntimeWarning, stacklevel=3)


_configure_xla_cpu()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

from .aggregates import Aggregates, aggregate, asset_demand, efficiency_units, trade_flows  # noqa: E402
from .distribution import (  # noqa: E402
    DistributionSolution,
    stationary_distribution,
    stationary_distributions,
    transition_matrix,
)
from .equilibrium import (  # noqa: E402
    Equilibrium,
    EquilibriumOptions,
    World,
    market_residuals,
    newton_path,
    solve_equilibrium,
    solve_equilibrium_jit,
    solve_world,
)
from .household import (  # noqa: E402
    HouseholdOptions,
    HouseholdProblem,
    HouseholdSolution,
    choice_probabilities,
    expected_value,
    solve_household,
    solve_households,
)
from .income import IncomeProcess, custom_income_process, income_process, rouwenhorst  # noqa: E402
from .params import Economy, delivered_prices, household_problems, make_economy  # noqa: E402
from .ek import EKWorld, ek_world  # noqa: E402
from .presets import PRESETS, preset, two_country, two_country_log  # noqa: E402
from .results import ConvergenceError  # noqa: E402
from .elasticities import (  # noqa: E402
    StateElasticities,
    TradeElasticities,
    proposition3,
    state_elasticities,
    trade_elasticities,
)
from .calibration import (  # noqa: E402
    CalibrationOptions,
    CalibrationProblem,
    CalibrationResult,
    calibrate,
    make_moments,
    problem_from_world,
    starting_point,
)
from .welfare import (  # noqa: E402
    Counterfactual,
    EquivalentVariation,
    WelfareResult,
    WelfareSummary,
    acr_gain,
    bilateral_cut,
    counterfactual,
    equivalent_variation,
    ev_derivative,
    global_cut,
    unilateral_cut,
    utilitarian_welfare,
    welfare_analysis,
    welfare_decomposition,
    welfare_gradient,
    welfare_jvp,
    welfare_summary,
)
from .planner import PlannerSolution, planner_checks, solve_planner  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Aggregates", "ConvergenceError", "DistributionSolution", "EKWorld", "Economy", "Equilibrium",
    "EquilibriumOptions", "HouseholdOptions", "HouseholdProblem", "HouseholdSolution",
    "IncomeProcess", "PRESETS", "World", "aggregate", "asset_demand", "choice_probabilities",
    "custom_income_process", "delivered_prices", "efficiency_units", "ek_world", "expected_value",
    "household_problems", "income_process", "make_economy", "market_residuals", "preset",
    "newton_path", "rouwenhorst", "solve_equilibrium", "solve_equilibrium_jit", "solve_household",
    "solve_households", "solve_world", "stationary_distribution", "stationary_distributions",
    "trade_flows", "transition_matrix", "two_country", "two_country_log",
    "StateElasticities", "TradeElasticities", "proposition3", "state_elasticities",
    "trade_elasticities",
    "CalibrationOptions", "CalibrationProblem", "CalibrationResult", "calibrate",
    "make_moments", "problem_from_world", "starting_point",
    "Counterfactual", "EquivalentVariation", "WelfareResult", "WelfareSummary", "acr_gain",
    "bilateral_cut", "counterfactual", "equivalent_variation", "ev_derivative", "global_cut",
    "unilateral_cut", "utilitarian_welfare", "welfare_analysis", "welfare_decomposition",
    "welfare_gradient", "welfare_jvp", "welfare_summary",
    "PlannerSolution", "planner_checks", "solve_planner",
]
