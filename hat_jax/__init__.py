"""hat_jax: a differentiable JAX solver for the Heterogeneous Agent Trade model.

Importing ``hat_jax`` turns on JAX's 64-bit mode (``jax_enable_x64``) process-wide:
the solver's tolerances (1e-10) are out of reach in float32. This is a global side
effect, documented in the README.

Axis conventions: ``[country i, asset a, shock z, variety j]``; ``M[i, j]`` is importer
i's spending on exporter j's variety, ``d[i, j]`` the cost of j's good delivered to i.
"""

import jax

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
from .presets import PRESETS, preset, two_country, two_country_log  # noqa: E402
from .results import ConvergenceError  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Aggregates", "ConvergenceError", "DistributionSolution", "Economy", "Equilibrium",
    "EquilibriumOptions", "HouseholdOptions", "HouseholdProblem", "HouseholdSolution",
    "IncomeProcess", "PRESETS", "World", "aggregate", "asset_demand", "choice_probabilities",
    "custom_income_process", "delivered_prices", "efficiency_units", "expected_value",
    "household_problems", "income_process", "make_economy", "market_residuals", "preset",
    "rouwenhorst", "solve_equilibrium", "solve_equilibrium_jit", "solve_household",
    "solve_households", "solve_world", "stationary_distribution", "stationary_distributions",
    "trade_flows", "transition_matrix", "two_country", "two_country_log",
]
