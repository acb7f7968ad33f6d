"""Shared fixtures. Importing hat_jax turns on float64 (jax_enable_x64)."""

from pathlib import Path

import jax
import numpy as np
import pytest

import hat_jax

assert jax.config.jax_enable_x64, "hat_jax must enable float64 at import"

# Small grids keep the suite fast; the accuracy tests do not depend on grid size.
NA_TEST = 40


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data copy shipped inside the package (hat_jax/_data): tests use it, whatever
    HAT_DATA_DIR says (tests/test_packaged_data.py checks it against the originals)."""
    from hat_jax.data import packaged_data_dir

    return packaged_data_dir()


@pytest.fixture(scope="session")
def two_country_eq():
    """The symmetric two-country equilibrium on a small grid (solved once)."""
    econ = hat_jax.two_country(Na=NA_TEST)
    return hat_jax.solve_equilibrium(econ)


@pytest.fixture(scope="session")
def two_country_log_eq():
    econ = hat_jax.model.two_country_log(Na=NA_TEST)
    return hat_jax.solve_equilibrium(econ)


@pytest.fixture(autouse=True, scope="module")
def _room_for_compiled_programs_between_files():
    """After each test file, release the worker's compiled programs once they hold a
    quarter of the kernel's cap on memory mappings (vm.max_map_count): a test worker
    compiles thousands of programs, and past the cap XLA's compiler dies of a
    segmentation fault (hat_jax._memory_maps; 41,000 mappings were counted in one
    worker of the quick tier). Programs return from the persistent cache."""
    yield
    from hat_jax import _memory_maps

    _memory_maps.release_if_crowded(0.25, warn=False)


@pytest.fixture(autouse=True)
def _room_for_compiled_programs():
    """The same after each test, at half the cap (a file that compiles many programs:
    one test added 15,000 mappings)."""
    yield
    from hat_jax import _memory_maps

    _memory_maps.release_if_crowded(0.5, warn=False)


def asset_grid_of(problems, i, Na):
    return np.asarray(problems.a_min[i] + problems.da[i] * np.arange(Na))


# The suite runs in two pytest-xdist workers that take whole files (pyproject: -n 2
# --dist loadfile). Files are collected longest first (longest-processing-time-first
# scheduling: one worker does not start a long file while the other sits idle at the
# end); pytest-xdist (>= 3.6) then hands them out by their number of tests, which puts
# one-test files (the notebooks) last, where they can load the programs the tests
# compiled from the shared persistent cache. (Keeping the collection order instead, with
# the notebooks early, a CI run of the one-tier suite took 17:47; this order, 17:02.)
# One order serves both tiers (each run keeps the relative order of its files).
# Quick tier: seconds per file summed over its tests, measured 2026-12-06 in one cold
# `pytest -q --durations=0` (2 cores, heavily loaded: load average 8-16, about 6x a
# quiet machine; relative costs only). Slow tier: seconds in the quiet one-tier CI run
# of 2026-12-01 (17:02).
LONG_FILES = (
    "test_tariffs.py",                # quick 1474 (FD gradients, optimum) | slow ~145 (coarse stage, Nash)
    "test_notebook_welfare.py",       # slow ~181 (19 countries, Na = 20)
    "test_inference.py",              # quick ~15 | slow ~190: delta method through re-calibration, hat calibrate --se
    "test_elasticities_inference.py", # quick ~50 (2026-12-07): the elasticities' Jacobian check, then hat elasticities --se from its program
    "test_benchmarks.py",             # slow ~140: gpu.py --quick and scale_n.py --quick in subprocesses
    "test_ev_measure.py",             # quick ~18 | slow ~100: the JPN cut, both measures
    "test_notebook_financial_globalization.py",  # slow 180 loaded (load 4, warm cache; 19 countries, Na = 10)
    "test_welfare.py",                # quick 1270 (EV roots and welfare FD)
    "test_notebook_trade_policy.py",  # slow ~101
    "test_transition.py",             # quick 702
    "test_notebook_transition.py",    # slow ~83 (19 countries, Na = 10, T = 20)
    "test_bootstrap.py",              # slow ~87: calibration, sweep and summary of a 4-country world
    "test_finance.py",                # quick: wedge and autarky programs, two FD checks | slow: optimum, CLI
    "test_transition_linear.py",      # quick ~85 (linear layer, batched transitions)
    "test_transition_regime.py",      # slow ~180 warm: regime transitions, autarky trade shocks
    "test_transition_inference.py",   # quick ~15 | slow ~110: FD of the horizon Jacobian, then hat transition --se from its program
    "test_tariff_inference.py",       # quick ~7 | slow ~200 alone: FD of the optimal tariff, hat tariff --se (one program)
    "test_tables.py",                 # quick 526 (CLI calibration of a synthetic world)
    "test_cli.py",                    # quick 375
    "test_scenarios.py",              # quick 342: 4 host devices | slow ~60: SIGKILL, jax.distributed
    "test_failure_modes.py",          # quick 334: SIGINT subprocesses, calibrate not converged
    "test_household.py",              # quick 166
    "test_notebook_calibration.py",   # slow ~47
    "test_notebooks.py",              # slow ~40 (two_country, ek_world, own_data)
    "test_ek.py",                     # quick 104 | slow: residuals at Na = 100
    "test_derivatives.py",            # quick 98
    "test_calibration_kill.py",       # slow ~35: three processes
    "test_properties.py",             # slow ~33 (hypothesis)
    "test_ev_methods.py",             # quick 69
    "test_elasticities.py",           # quick 45 | slow: all 342 elasticities (19 countries)
    "test_compile.py",                # quick 40: subprocesses
    "test_warm.py",                   # quick ~40 (2026-12-07, loaded) | slow ~15: batch with/without inverses
    "test_calibration.py",            # quick 38 | slow: kill and resume, CLI resume
    "test_notebook_elasticities.py",  # slow ~25
    "test_planner.py",                # quick 34
    "test_gravity.py",                # quick 34
    "test_paper.py",                  # quick 28
    "test_equilibrium.py",            # quick 22
    "test_distribution.py",           # quick 11
)


# The slow tier: the tests marked `slow` here (the one place that marks them), with the
# reason. `pytest -q` deselects them (pyproject addopts: -m "not slow"); `pytest -q -m slow`
# runs only them, `pytest -q -m ""` everything; .ci/run runs both tiers (tests/README.md).
# Keys are a file name (every test in it) or "file::test function" (all its parameters).
# Every finite-difference check of a derivative the library offers stays in the quick tier.
SLOW = {
    "test_inference.py::test_counterfactual_delta_method_through_recalibration":
        "delta method against a full re-calibration twice (AD through two equilibria and "
        "every EV root: about 2 minutes)",
    "test_inference.py::test_counterfactual_outputs_from_the_baseline_start":
        "the delta-method test's 6-country world (Na = 20): its counterfactual program "
        "from the prices, and a second one from the baseline's state and Jacobian",
    "test_bootstrap.py::test_parametric_bootstrap_end_to_end":
        "synthetic tables, a calibration with --se and a 4-draw sweep of a 4-country world "
        "at Na = 10 (the tables of the tariff and transition --se tests), end to end",
    # notebooks, each executed end to end in a fresh kernel (19-country worlds, except
    # two_country.ipynb and trade_policy.ipynb): the runnable tutorials, not unit checks
    "test_notebook_welfare.py": "welfare.ipynb, 19 countries (Na = 20)",
    "test_notebook_trade_policy.py": "trade_policy.ipynb: optimal and Nash tariffs in a kernel",
    "test_notebook_transition.py": "transition.ipynb, 19 countries (Na = 10, T = 20)",
    "test_notebook_financial_globalization.py":
        "financial_globalization.ipynb, 19 countries (Na = 10): both financial regimes, "
        "the EV of every country, the 2 x 2 table and the opening-gain curve by AD",
    "test_notebook_calibration.py": "calibration.ipynb, 19 countries (Na = 10)",
    "test_notebook_elasticities.py": "elasticities.ipynb (its 19-country part at Na = 20)",
    "test_notebooks.py::test_notebook_executes": "two_country, ek_world and own_data notebooks",
    # processes killed and resumed, several processes
    "test_scenarios.py::test_sigkill_then_resume_then_two_processes":
        "a sweep SIGKILLed and resumed, then two jax.distributed processes",
    "test_calibration_kill.py": "hat calibrate SIGKILLed and resumed (three processes)",
    "test_calibration.py::test_killed_run_resumes_to_the_same_result":
        "a calibration killed in iteration 2 and resumed",
    "test_calibration.py::test_cli_synthetic_calibration_resumes":
        "hat calibrate in a subprocess, stopped after one iteration and resumed",
    # the property-based (hypothesis) tier
    "test_properties.py": "hypothesis: random economies, two compiled shapes",
    # programs that no other test compiles
    "test_tariffs.py::test_symmetric_nash_tariffs":
        "Nash tariffs (Broyden on the stacked FOCs): the slowest fixture of the quick tier",
    "test_tariffs.py::test_by_partner_optimum_and_best_response_nash":
        "by-partner optimum and best responses from the Nash fixture",
    "test_tariffs.py::test_coarse_grid_stage":
        "compiles the two-country tariff programs a second time at Na = 20 for the coarse stage",
    "test_ek.py::test_published_prices_clear_markets_on_the_published_grid":
        "the 19-country residuals at the published grid, Na = 100",
    "test_elasticities.py::test_ek_baseline_all_pairs":
        "all 342 elasticities of the 19-country world (Na = 20)",
    # issue 26 (trust): probes whose programs no other test compiles
    "test_probes.py::test_asymmetric_equilibrium_of_symmetric_economy_is_reported":
        "gamma = 50 at Na = 30: a two-country grid of its own, solved twice",
    "test_probes.py::test_failed_scenario_says_why":
        "a batched two-scenario program of its own (costs x 1e6: the probe's case)",
    "test_ev_measure.py::test_jpn_unilateral_cut_has_an_ev_in_every_state":
        "the issue's JPN unilateral cut on the 19-country world (Na = 20), both measures",
    "test_finance.py::test_optimal_wedge_is_a_maximum":
        "a secant search with one forward-mode pass through the equilibrium per step",
    "test_finance.py::test_cli_regime_change_and_wedges":
        "hat counterfactual --regime-change / --wedges in-process on the tests' grid: "
        "the wedge economy's Newton program (4 unknowns), EV of every country",
    "test_finance.py::test_trade_finance_table_routes_agree":
        "four counterfactuals under two regimes and eight EVs",
    "test_finance.py::test_optimal_wedge_refuses_and_reports":
        "the optimal wedge's program (shared with test_optimal_wedge_is_a_maximum)",
    "test_finance.py::test_cli_capital_controls":
        "hat capital-controls --nash --compare-tariff --plots: a secant search, the Nash "
        "wedges and the optimal tariff through the equilibrium in-process",
    "test_finance.py::test_symmetric_nash_wedges":
        "Nash wedges: Broyden on exact FOCs (the welfare Jacobian's program, forward mode "
        "through the equilibrium), about 12 evaluations",
    "test_finance.py::test_nash_wedges_refuse_and_report":
        "the Nash wedges' program (shared with test_symmetric_nash_wedges)",
    "test_ev_measure.py::test_cli_ev_measure": "hat counterfactual --ev-measure in subprocesses",
    "test_ev_measure.py::test_paper_benchmark_prints_both_measures":
        "benchmarks/paper.py's table under both measures",
    "test_equilibrium.py::test_equilibrium_with_jacobian_in_blocks":
        "the Newton program compiled again with the Jacobian's directions one at a time "
        "(its Jacobian against the vmapped one and central differences stays quick)",
    # issue 25 (quick tier at most 10 minutes): checks that are not finite-difference
    # checks and compile programs of their own or run whole processes
    "test_scenarios.py::test_four_host_devices_equal_one":
        "the batch again on 4 forced host devices in a subprocess (a process of its own, "
        "as the jax.distributed run)",
    "test_tables.py::test_synthetic_world_recovered_by_cli_calibration":
        "a cold calibration of an 8-country world end to end through the CLI",
    "test_failure_modes.py::test_calibrate_not_converged_said_once_and_checkpoint_kept":
        "a calibration run to its iteration cap",
    "test_failure_modes.py::test_ctrl_c_is_clean": "SIGINT to hat subprocesses",
    "test_failure_modes.py::test_ctrl_c_waits_for_a_commit_on_the_main_thread":
        "SIGINT to a hat subprocess while it commits",
    "test_cli.py::test_ek_preset_json_and_out": "the 19-country ek_log world through the CLI",
    "test_welfare.py::test_log_utility_result_in_ek_log":
        "the log-utility result state by state in the 19-country ek_log world",
    "test_transition_regime.py":
        "regime transitions (no derivative is checked there): each test solves paths with "
        "rebate unknowns or the autarky and opening programs of its own world, the "
        "fake-news Jacobian with rebate inputs against jvps, hat transition "
        "--open-capital-account in a subprocess, and trade shocks under financial "
        "autarky (N bond markets per date; those six tests 94-140 s cold on 2 shared "
        "cores, 27 s from the compilation cache)",
    "test_sweep_transition.py::test_sweep_of_three_equals_one_at_a_time_and_resumes":
        "a transition sweep written by a shard and resumed, against three one-at-a-time "
        "transitions at --path-tol 1e-12",
    "test_warmup.py::test_warmup_reports_each_command":
        "hat warmup compiles every command's programs for a preset",
    "test_finance.py::test_identical_countries_wedges_do_not_move_the_allocation":
        "a theory check (no derivative) whose symmetric wedge economies nothing else in "
        "the quick tier solves",
    "test_ev_methods.py::test_continuation_agrees_with_the_safeguarded_solver":
        "the safeguarded per-state EV solver's program, compiled for this comparison only",
    "test_ev_methods.py::test_policy_rule_ev_is_well_posed":
        "the EV under the original's policy stop rule: programs of its own (log utility)",
    "test_probes.py::test_phi_beyond_natural_limit_is_named":
        "a two-country grid of its own (amax = 60) run into the natural borrowing limit",
    "test_inference.py::test_calibrate_se_command":
        "hat calibrate synthetic --se in two subprocesses (a calibration and its resume)",
    "test_ek.py::test_cold_start_finds_the_same_equilibrium":
        "a 19-country equilibrium from the cold start (about 20 s of Newton, no new check "
        "of a derivative)",
    "test_compile.py::test_compiled_programs_persist_across_processes":
        "two subprocesses on a cache of their own: every program compiled again",
    "test_compile.py::test_compile_flags_do_not_change_results":
        "two subprocesses on a cache of their own, one of them at XLA's default -O2: "
        "the households' programs compiled twice (a check of the configuration, no "
        "derivative; 15 s of the quick tier, 2026-12-07)",
    "test_equilibrium.py::test_coarse_grid_start_reaches_the_same_root":
        "the coarse-grid stage's own programs (the asymmetric two-country world at Na = "
        "20; no derivative; 20 s of the quick tier, 2026-12-07)",
    # issue 25 (quick tier at most 10 minutes: 607.8 s in the clean-clone run of
    # 2026-12-06): two checks that are not finite-difference checks
    "test_household.py::test_lu_and_gmres_tangent_solvers_agree_forward_and_reverse":
        "the dense and the matrix-free tangent solvers against each other, forward and "
        "reverse (both compiled for this comparison only; 25 s)",
    "test_transition.py::test_tfp_path_ends_at_the_stationary_equilibrium_of_the_new_tfp":
        "a theory check (no derivative): the path after a TFP rise ends at the new "
        "stationary equilibrium, an economy without TFP scaling of its own (23 s)",
    # issue 25 (quick tier at most 10 minutes: 658.9 s in a cold profiled run of
    # 2026-12-07): two more checks with no derivative whose Newton programs no other
    # quick test compiles
    "test_tariffs.py::test_tariffs_under_financial_autarky":
        "tariffs under financial autarky: the Newton step with 2 R's and 2 rebates as "
        "unknowns (5), its own program (an accounting check; 16 s of the quick tier)",
    "test_equilibrium.py::test_beta_mode_inverts_R_mode":
        "the beta mode's Newton step, its own program (beta solved at a given R; a check "
        "of the mode, no derivative; 15 s of the quick tier)",
    # issue 28: hat tariff --se (the optimal tariff's derivative)
    "test_tariff_inference.py::test_optimal_tariff_derivative_matches_reoptimised_central_differences":
        "hat tariff --se on the 4-country synthetic tables (Na = 10) with V = v v', the "
        "library's optimum and Jacobian, and the optimum re-solved at params -+ h v: the "
        "Jacobian program (forward over forward mode through both equilibria, 10 "
        "directions in two batches of 5), compiled once: the command's, the library call's "
        "and the next test's are one program since their inputs are no longer placed on "
        "a device (hat_jax._compiled.unplaced); 237 s in a whole slow tier (2026-12-07, "
        "348 s when the program was compiled twice)",
    "test_tariff_inference.py::test_tariff_se_command_end_to_end":
        "hat tariff --data --params --se on the same tables, another country (the "
        "Jacobian program of the test above: 4 s after it)",
    # issue 28: hat transition --se (the elasticity by horizon)
    "test_transition_inference.py::test_horizon_elasticities_jacobian_matches_central_differences":
        "forward over forward mode through the stationary solve, the fake-news Jacobian and "
        "the linearised path: the program of hat transition --data --se (T = 40, 9 "
        "directions), which compiles for a minute (93 s with the other worker busy, 64 s "
        "alone)",
    "test_transition_inference.py::test_transition_se_command":
        "hat transition --data --se in a process of its own: a transition (T = 40) and the "
        "Jacobian program, read from the persistent cache that the finite-difference "
        "test above filled (32 s alone; 116 s when it compiled the program itself)",
    # issue 29: warm inverses
    "test_warm.py::test_batched_scenarios_with_inverses":
        "the batched equilibria with and without the baseline's inverses (two batch "
        "programs compiled for this comparison; the counterfactual with inverses and its "
        "derivative stay in the quick tier)",
    # issue 29: benchmark scripts run end to end so that they do not rot
    "test_benchmarks.py": "benchmarks/gpu.py --quick (two_country at the tests' Na = 40: "
                          "8 scenarios with EV, transition, elasticities, optimal tariff) "
                          "and benchmarks/scale_n.py --quick (N = 3, 5 at Na = 10), in "
                          "subprocesses",
}


def _slow_reason(item):
    return (SLOW.get(item.path.name)
            or SLOW.get(f"{item.path.name}::{getattr(item, 'originalname', item.name)}"))


def _names_a_test(key, modules):
    file, _, function = key.partition("::")
    if not (Path(__file__).parent / file).is_file():
        return False
    return not function or file not in modules or hasattr(modules[file], function)


@pytest.hookimpl(tryfirst=True)  # before -m selects on the marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        reason = _slow_reason(item)
        if reason:
            item.add_marker(pytest.mark.slow(reason=reason))
    # a key that names no test file, or no function of a collected test module, is stale
    modules = {item.path.name: item.module for item in items if hasattr(item, "module")}
    stale = [key for key in SLOW if not _names_a_test(key, modules)]
    if stale:
        raise pytest.UsageError(f"tests/conftest.py SLOW names tests that do not exist: {stale}")
    rank = {name: k for k, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within files
