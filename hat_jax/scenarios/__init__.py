"""Many scenarios at once (batched counterfactuals) and the ``hat sweep`` engine.

- :mod:`~hat_jax.scenarios._spec`: :class:`Scenarios` (names, stacked economies, floored
  costs, the :class:`~hat_jax.Change` of each scenario) and builders
  (:func:`scenarios_of` any list of Changes, :func:`cost_scenarios`, :func:`unilateral_scenarios`,
  :func:`global_cut_scenarios`, :func:`country_scenarios`, :func:`parameter_scenarios`,
  :func:`parameter_draws`), :func:`fingerprint`;
- :mod:`~hat_jax.scenarios._table`: the tidy scenario file (:func:`scenarios_from_table`);
- :mod:`~hat_jax.scenarios._solve`: :func:`solve_scenarios` (one jitted, vmapped program
  per block, sharded over local devices), :class:`ScenarioResults`, :func:`scenario_frame`;
- :mod:`~hat_jax.scenarios._store`: the resumable ``hat sweep --out`` folder (manifest,
  chunks written atomically, resume, shards): :func:`prepare_sweep_folder`,
  :func:`write_chunk`, :func:`finished_chunks`, :func:`read_chunks`;
- :mod:`~hat_jax.scenarios._transitions`: the transitions of a scenario block batched
  with one shared Jacobian (:func:`solve_transition_scenarios`, :func:`transition_frame`;
  ``hat sweep --transition``);
- :mod:`~hat_jax.scenarios._finance`: financial integration (model.md s.15): regime
  counterfactuals (:func:`regime_baseline`, :func:`regime_change`), capital-account
  wedges (:func:`autarky_wedges`, :func:`country_returns`, :func:`wedge_rebates`,
  :func:`validate_wedges`), :func:`financial_accounts`, :func:`wedge_welfare`,
  :func:`ev_by_country`, the 2 x 2 table :func:`trade_finance_table` and the opening
  gain along trade-cost scalings :func:`opening_gain_curve` (with its AD slope).
"""

from .._wedges import autarky_wedges, country_returns, validate_wedges, wedge_rebates
from ._finance import (REGIMES, FinancialAccounts, OpeningArgs, TradeFinanceTable, WedgeArgs,
                       ev_by_country, financial_accounts, opening_args, opening_gain,
                       opening_gain_and_slope, opening_gain_curve, regime_baseline,
                       regime_change, trade_finance_table, wedge_args, wedge_welfare)
from ._solve import (FRAME_COLUMNS, ScenarioResults, as_scenarios, model_theta,
                    scenario_frame, solve_scenarios)
from ._spec import (Scenarios, concat_scenarios, cost_scenarios, country_scenarios, fingerprint,
                   global_cut_scenarios, scenarios_of, select_scenarios, parameter_draws, parameter_scenarios,
                   unilateral_scenarios)
from ._store import (SWEEP_FORMAT, SWEEP_MANIFEST, chunk_format, chunk_name, chunks_of_shard,
                    finished_chunks, n_chunks, prepare_sweep_folder, read_chunks, write_chunk)
from ._transitions import (TRANSITION_COLUMNS, TRANSITION_HORIZONS,
                           solve_transition_scenarios, transition_frame)
from ._table import (COST_COLUMNS, COUNTRY_COLUMNS, read_scenario_table,
                    scenarios_from_table)

__all__ = [
    "Scenarios", "cost_scenarios", "unilateral_scenarios", "global_cut_scenarios",
    "country_scenarios", "parameter_scenarios", "parameter_draws", "fingerprint", "select_scenarios",
    "concat_scenarios", "scenarios_of",
    "COST_COLUMNS", "COUNTRY_COLUMNS", "read_scenario_table", "scenarios_from_table",
    "ScenarioResults", "solve_scenarios", "as_scenarios", "model_theta", "scenario_frame",
    "FRAME_COLUMNS",
    "SWEEP_MANIFEST", "SWEEP_FORMAT", "chunk_format", "chunk_name", "n_chunks",
    "chunks_of_shard", "prepare_sweep_folder", "finished_chunks", "write_chunk", "read_chunks",
    "REGIMES", "FinancialAccounts", "WedgeArgs", "financial_accounts", "regime_baseline",
    "regime_change", "wedge_args", "wedge_welfare", "autarky_wedges", "country_returns",
    "validate_wedges", "wedge_rebates", "ev_by_country", "TradeFinanceTable",
    "trade_finance_table", "OpeningArgs", "opening_args", "opening_gain",
    "opening_gain_and_slope", "opening_gain_curve", "TRANSITION_COLUMNS",
    "TRANSITION_HORIZONS", "solve_transition_scenarios", "transition_frame",
]

from .._deprecation import moved_names

__getattr__ = moved_names("hat_jax.scenarios", {"theta_scenarios": "parameter_scenarios",
                                                "theta_draws": "parameter_draws"})
