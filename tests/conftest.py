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
# --dist loadfile), handed out in collection order. Collecting the longest files first
# (longest-processing-time-first scheduling) keeps one worker from starting a
# long file while the other sits idle at the end. Rough minutes on 2 cores, cold
# compilation cache.
LONG_FILES = (
    "test_notebook_transition.py",    # ~5 (19 countries, Na = 10, T = 20)
    "test_notebook_welfare.py",       # ~2.2
    "test_tariffs.py",                # ~2-4 (optimal and Nash tariffs; loaded machine)
    "test_notebook_trade_policy.py",  # ~2-5 (loaded machine)
    "test_welfare.py",                # ~2
    "test_scenarios.py",              # ~1.5?: five subprocesses (jax.distributed, SIGKILL)
    "test_derivatives.py",            # ~1.3
    "test_household.py",              # ~1.3
    "test_calibration.py",            # ~1.1
    "test_ek.py",                     # ~1
    "test_calibration_kill.py",       # ~0.8: three processes
    "test_cli.py",                    # ~0.7
    "test_failure_modes.py",          # ~0.5: SIGINT subprocesses
    "test_properties.py",             # ~0.5
    "test_elasticities.py",           # ~0.45
    "test_transition.py",             # ~1 (loaded machine; ~0.9 warm with the sigma jvp)
    "test_paper.py",                  # ~0.4
    "test_planner.py",                # ~0.35
    "test_notebook_elasticities.py",  # ~0.35
    "test_notebook_calibration.py",   # ~0.3
)


def pytest_configure(config):
    # pytest-xdist (>= 3.6) reorders --dist loadfile work units by their number of tests
    # unless told not to, which would hand out the one-test notebook files last and
    # ignore LONG_FILES; keep the collection order
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    rank = {name: k for k, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within files
