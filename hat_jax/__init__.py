"""hat_jax: a differentiable JAX solver for the Heterogeneous Agent Trade model.

Importing ``hat_jax`` turns on JAX's 64-bit mode (``jax_enable_x64``) process-wide:
the solver's tolerances (1e-10) are out of reach in float32. This is a global side
effect, documented in docs/model.md (Conventions).

It also adds ``--xla_cpu_multi_thread_eigen=false`` and, for faster compilation,
``--xla_backend_optimization_level=1`` to ``XLA_FLAGS`` on the CPU (see
``hat_jax._config``; ``HAT_JAX_FAST_COMPILE=0`` leaves the second out), and turns on
JAX's persistent compilation cache in the user's cache directory (``HAT_JAX_CACHE_DIR``
moves it, ``HAT_JAX_CACHE=0`` turns it off; :func:`compilation_cache_dir` says where
it is).

The public face is this namespace (``hat_jax.__all__``: the solvers, their options and
results, the experiment types) and the namespaces :mod:`hat_jax.model` (the model's
building blocks), :mod:`hat_jax.calibration`, :mod:`hat_jax.welfare`,
:mod:`hat_jax.policy`, :mod:`hat_jax.transition`, :mod:`hat_jax.scenarios`,
:mod:`hat_jax.tables`, :mod:`hat_jax.data` and :mod:`hat_jax.report`. Modules whose name
starts with an underscore are the implementation and may change without notice.

Axis conventions: ``[country i, asset a, shock z, variety j]``; ``M[i, j]`` is importer
i's spending on exporter j's variety, ``d[i, j]`` the cost of j's good delivered to i.
"""

from . import _config, _deprecation

_config.configure()

from ._baseline import Baseline, as_baseline
from ._change import Change
from ._distribution import DistributionOptions
from ._ek import EKWorld
from ._ek_world import ek_world
from ._elasticities import TradeElasticities, proposition3, state_elasticities, trade_elasticities
from ._equilibrium import (Equilibrium, EquilibriumOptions, World, solve_equilibrium,
                           solve_equilibrium_jit, solve_world)
from ._household import HouseholdOptions
from ._income import IncomeProcess, income_process
from ._params import Economy, make_economy
from ._planner import PlannerSolution, solve_planner
from ._presets import PRESETS, preset, two_country
from ._results import ConvergenceError
from ._start import Start
from . import calibration, data, model, policy, scenarios, tables, transition, welfare
from .calibration import CalibrationOptions, CalibrationResult, calibrate
from .policy import NashTariffs, OptimalTariff, TariffOptions, nash_tariffs, optimal_tariff
from .scenarios import ScenarioResults, Scenarios, solve_scenarios
from .tables import GravitySpec, TablesError, world_from_tables
from .transition import (Transition, TransitionOptions, horizon_elasticities, solve_transition,
                         transition_welfare)
from .welfare import (Counterfactual, EquivalentVariation, WelfareResult, acr_gain,
                      counterfactual, equivalent_variation, welfare_analysis, welfare_gradient)

__version__ = "0.1.0"

compilation_cache_dir = _config.cache_dir

__all__ = [
    # economies, worlds and their equilibrium
    "Economy", "make_economy", "IncomeProcess", "income_process", "HouseholdOptions",
    "DistributionOptions", "preset", "PRESETS", "two_country", "ek_world", "EKWorld",
    "world_from_tables", "GravitySpec", "TablesError",
    "Equilibrium", "EquilibriumOptions", "solve_equilibrium", "solve_equilibrium_jit",
    "World", "solve_world", "Start", "Baseline", "as_baseline", "ConvergenceError",
    # experiments and what they return
    "Change", "counterfactual", "Counterfactual", "equivalent_variation",
    "EquivalentVariation", "welfare_analysis", "WelfareResult", "welfare_gradient",
    "acr_gain", "trade_elasticities", "TradeElasticities", "state_elasticities",
    "proposition3", "solve_planner", "PlannerSolution",
    "calibrate", "CalibrationOptions", "CalibrationResult",
    "solve_scenarios", "Scenarios", "ScenarioResults",
    "optimal_tariff", "nash_tariffs", "TariffOptions", "OptimalTariff", "NashTariffs",
    "solve_transition", "Transition", "TransitionOptions", "horizon_elasticities",
    "transition_welfare",
    # namespaces and settings
    "model", "calibration", "welfare", "policy", "transition", "scenarios", "tables", "data",
    "compilation_cache_dir",
]

#: Names that ``hat_jax`` exported before 0.2 and that now live in a namespace (see
#: CHANGELOG.md): still reachable here, with a DeprecationWarning naming the new home.
_MOVED = {
    **{n: "model" for n in (
        "Aggregates", "aggregate", "asset_demand", "efficiency_units", "trade_flows",
        "DistributionSolution", "stationary_distribution", "stationary_distributions",
        "transition_matrix", "market_residuals", "newton_path", "HouseholdProblem",
        "HouseholdSolution", "choice_probabilities", "expected_value", "solve_household",
        "solve_households", "custom_income_process", "rouwenhorst", "delivered_prices",
        "household_problems", "two_country_log", "StateElasticities", "planner_checks",
        "solve_equilibria", "stack_economies")},
    **{n: "calibration" for n in (
        "CalibrationProblem", "make_moments", "problem_from_world", "starting_point")},
    **{n: "welfare" for n in (
        "WelfareSummary", "bilateral_cut", "ev_derivative", "global_cut", "unilateral_cut",
        "utilitarian_welfare", "welfare_decomposition", "welfare_jvp", "welfare_summary")},
    **{n: "scenarios" for n in ("scenario_frame",)},
    **{n: "policy" for n in (
        "tariff_war", "uniform_tariffs", "validate_tariffs", "tariff_gradient")},
}


__getattr__ = _deprecation.moved_names(
    "hat_jax", {name: f"hat_jax.{home}.{name}" for name, home in _MOVED.items()})
