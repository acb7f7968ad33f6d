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
  :func:`write_chunk`, :func:`finished_chunks`, :func:`read_chunks`.
"""

from ._solve import (FRAME_COLUMNS, ScenarioResults, as_scenarios, model_theta,
                    scenario_frame, solve_scenarios)
from ._spec import (Scenarios, concat_scenarios, cost_scenarios, country_scenarios, fingerprint,
                   global_cut_scenarios, scenarios_of, select_scenarios, parameter_draws, parameter_scenarios,
                   unilateral_scenarios)
from ._store import (SWEEP_FORMAT, SWEEP_MANIFEST, chunk_format, chunk_name, chunks_of_shard,
                    finished_chunks, n_chunks, prepare_sweep_folder, read_chunks, write_chunk)
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
]

from .._deprecation import moved_names

__getattr__ = moved_names("hat_jax.scenarios", {"theta_scenarios": "parameter_scenarios",
                                                "theta_draws": "parameter_draws"})
