"""hat_jax: a differentiable JAX solver for the Heterogeneous Agent Trade model.

Importing ``hat_jax`` turns on JAX's 64-bit mode (``jax_enable_x64``) process-wide:
the solver's tolerances (1e-10) are out of reach in float32. This is a global side
effect, documented in docs/model.md (Conventions).

It also adds ``--xla_cpu_multi_thread_eigen=false`` to ``XLA_FLAGS`` (see
``hat_jax._config``) and turns on JAX's persistent compilation cache in the user's cache
directory (``HAT_JAX_CACHE_DIR`` moves it, ``HAT_JAX_CACHE=0`` turns it off;
:func:`compilation_cache_dir` says where it is).

Axis conventions: ``[country i, asset a, shock z, variety j]``; ``M[i, j]`` is importer
i's spending on exporter j's variety, ``d[i, j]`` the cost of j's good delivered to i.
"""

from . import _config

_config.configure()

from .aggregates import Aggregates, aggregate, asset_demand, efficiency_units, trade_flows
from .distribution import (
    DistributionOptions,
    DistributionSolution,
    stationary_distribution,
    stationary_distributions,
    transition_matrix,
)
from .equilibrium import (
    Equilibrium,
    EquilibriumOptions,
    World,
    market_residuals,
    newton_path,
    solve_equilibrium,
    solve_equilibrium_jit,
    solve_world,
)
from .household import (
    HouseholdOptions,
    HouseholdProblem,
    HouseholdSolution,
    choice_probabilities,
    expected_value,
    solve_household,
    solve_households,
)
from .income import IncomeProcess, custom_income_process, income_process, rouwenhorst
from .params import Economy, delivered_prices, household_problems, make_economy
from .ek import EKWorld, ek_world
from .presets import PRESETS, preset, two_country, two_country_log
from .results import ConvergenceError
from .elasticities import (
    StateElasticities,
    TradeElasticities,
    proposition3,
    state_elasticities,
    trade_elasticities,
)
from .calibration import (
    CalibrationOptions,
    CalibrationProblem,
    CalibrationResult,
    calibrate,
    make_moments,
    problem_from_world,
    starting_point,
)
from .welfare import (
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
from .change import Change
from .planner import PlannerSolution, planner_checks, solve_planner
from . import scenarios
from .batched import solve_equilibria, stack_economies
from .baseline import Baseline, as_baseline
from .start import Start
from .scenarios import ScenarioResults, Scenarios, scenario_frame, solve_scenarios
from . import tables
from .tables import GravitySpec, TablesError, world_from_tables
from .tariffs import tariff_war, uniform_tariffs, validate_tariffs
from . import policy
from .policy import (NashTariffs, OptimalTariff, TariffOptions, nash_tariffs, optimal_tariff,
                     tariff_gradient)
from .transition import (Transition, TransitionOptions, horizon_elasticities, solve_transition,
                         transition_welfare)

__version__ = "0.1.0"

compilation_cache_dir = _config.cache_dir

__all__ = [
    "compilation_cache_dir", "DistributionOptions",
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
    "scenarios", "solve_equilibria", "stack_economies", "ScenarioResults", "Scenarios",
    "scenario_frame", "solve_scenarios",
    "tables", "GravitySpec", "TablesError", "world_from_tables",
    "tariff_war", "uniform_tariffs", "validate_tariffs", "policy", "NashTariffs",
    "OptimalTariff", "TariffOptions", "nash_tariffs", "optimal_tariff", "tariff_gradient",
    "Transition", "TransitionOptions", "horizon_elasticities", "solve_transition",
    "transition_welfare",
    "Change", "Baseline", "Start", "as_baseline",
]
