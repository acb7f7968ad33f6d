"""Shared fixtures. Importing hat_jax turns on float64 (jax_enable_x64)."""

import os
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
    """The shared data directory (HAT_DATA_DIR, else ../shared/data); skip if absent."""
    env = os.environ.get("HAT_DATA_DIR")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (path / "ek2002").is_dir():
        pytest.skip(f"Eaton-Kortum data not found at {path}")
    return path


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
