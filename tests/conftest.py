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
    econ = hat_jax.two_country_log(Na=NA_TEST)
    return hat_jax.solve_equilibrium(econ)


def asset_grid_of(problems, i, Na):
    return np.asarray(problems.a_min[i] + problems.da[i] * np.arange(Na))


# The suite runs in two pytest-xdist workers that take whole files (pyproject: -n 2
# --dist loadfile). Files are collected longest first (longest-processing-time-first
# scheduling: one worker does not start a long file while the other sits idle at the
# end); pytest-xdist (>= 3.6) then hands them out by their number of tests, which puts
# the one-test notebook files last, where their kernels can load the programs the tests
# compiled from the shared persistent cache. (Keeping the collection order instead, with
# the notebooks early, a CI run took 17:47; this order, 17:02.) Rough seconds in a full
# CI run (2 cores, cold compilation cache).
LONG_FILES = (
    "test_tariffs.py",                # ~150 (optimal and Nash tariffs)
    "test_notebook_welfare.py",       # ~115 (19 countries, Na = 20)
    "test_transition.py",             # ~130
    "test_notebook_transition.py",    # ~95 (19 countries, Na = 10, T = 20)
    "test_scenarios.py",              # ~150: subprocesses (4 host devices, SIGKILL, jax.distributed)
    "test_welfare.py",                # ~140
    "test_derivatives.py",            # ~110
    "test_calibration.py",            # ~90
    "test_household.py",              # ~85
    "test_elasticities.py",           # ~60
    "test_tables.py",                 # ~50
    "test_notebook_calibration.py",   # ~47
    "test_planner.py",                # ~45
    "test_ev_methods.py",             # ~40
    "test_notebooks.py",              # ~40 (two_country, ek_world, own_data)
    "test_compile.py",                # ~40: subprocesses
    "test_paper.py",                  # ~35
    "test_calibration_kill.py",       # ~35: three processes
    "test_notebook_trade_policy.py",  # ~35
    "test_properties.py",             # ~33
    "test_ek.py",                     # ~30
    "test_notebook_elasticities.py",  # ~25
    "test_cli.py",                    # ~20
    "test_failure_modes.py",          # ~20: SIGINT subprocesses
    "test_equilibrium.py",            # ~20
    "test_distribution.py",           # ~17
)


def pytest_collection_modifyitems(config, items):
    rank = {name: k for k, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within files
