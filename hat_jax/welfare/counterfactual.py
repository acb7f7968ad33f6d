"""Counterfactual equilibria (model.md s.10, s.14): new trade costs d' and/or tariffs t',
beta fixed at the baseline's, wages, R (and the tariff rebates T) solved, warm-started
from the baseline."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..baseline import Baseline, as_baseline
from ..equilibrium import Equilibrium, EquilibriumOptions, Start, solve_equilibrium
from ..params import household_problems
from ..household import HouseholdProblem
from ..tariffs import validate_tariffs
from .costs import check_costs

__all__ = ["Counterfactual", "counterfactual", "country_problem", "country_state"]


class Counterfactual(NamedTuple):
    """A baseline and a counterfactual stationary equilibrium (beta fixed, W and R solved).

    baseline, new: :class:`~hat_jax.Equilibrium`; d: the new cost matrix; opts: the
    options of the counterfactual solve; timings: compile_s / run_s of that solve;
    tariffs: the new tariff matrix (None: the baseline's, free trade if it had none).
    converged, iterations, residual: those of the counterfactual solve (``new``).
    """

    baseline: Equilibrium
    new: Equilibrium
    d: np.ndarray
    opts: EquilibriumOptions
    timings: dict
    tariffs: np.ndarray | None = None

    @property
    def converged(self):
        return self.new.converged

    @property
    def iterations(self):
        return self.new.iterations

    @property
    def residual(self):
        return self.new.residual


def country_problem(eq: Baseline | Equilibrium, i: int) -> HouseholdProblem:
    """Country i's household problem at the baseline prices (W, R, beta) and tariff
    rebates T of ``eq`` (a :class:`~hat_jax.Baseline`; an Equilibrium is converted)."""
    b = as_baseline(eq)
    probs = household_problems(b.economy, b.W, b.R, b.beta, b.T)
    return jax.tree_util.tree_map(lambda x: x[i], probs)


def country_state(eq: Baseline | Equilibrium, i: int):
    """Country i's solved household fixed-point variable y (a warm start)."""
    return as_baseline(eq).country_state(i)


def counterfactual(baseline: Baseline | Equilibrium, d_new=None,
                   opts: EquilibriumOptions | None = None, *, cost_floor: bool | None = None,
                   throw: bool = True, timings: dict | None = None,
                   tariffs=None) -> Counterfactual:
    """Solve the stationary equilibrium with trade costs ``d_new`` (model.md s.10).

    baseline: a :class:`~hat_jax.Baseline` (an :class:`~hat_jax.Equilibrium` is
    converted once). Beta is fixed at the baseline's (solved or given); wages (mean one)
    and R are solved (one world bond market, or R_i per country if the baseline is under
    financial autarky), starting from the baseline prices and household state. ``opts``
    supplies tolerances and the like (default: the baseline's); its ``unknown`` /
    ``regime`` are overridden.
    cost_floor: whether d_new must satisfy d >= 1 (True) or may fall below 1 off the
    diagonal (False, the paper's convention for proportional cuts; a
    :class:`~hat_jax.welfare.CostsBelowOneWarning` lists the pairs); default: the
    baseline economy's ``cost_floor`` (True unless built with cost_floor=False). The
    counterfactual economy carries the setting (a static field: a different value
    compiles a different program; build the baseline with the same value to share it).
    throw: raise ConvergenceError (residual, iterations) if the solve fails; with
    throw=False check ``converged``. timings: receives compile_s / run_s.
    d_new=None keeps the baseline's costs. tariffs: a new N x N tariff matrix (importer
    rows, t_ij >= 0, t_ii = 0; model.md s.14), rebated lump sum (the rebates T are
    solved with W and R); None keeps the baseline's.
    """
    b = as_baseline(baseline)
    floor = bool(b.economy.cost_floor) if cost_floor is None else cost_floor
    if not isinstance(floor, (bool, np.bool_)):
        raise ValueError(f"cost_floor must be True, False or None, got cost_floor={cost_floor!r}")
    d_new = check_costs(b.economy, b.economy.d if d_new is None else d_new, floor=floor)
    cf_opts = b.options(opts)
    econ = b.economy.replace(d=jnp.asarray(d_new), cost_floor=bool(floor))
    if tariffs is not None:
        tariffs = validate_tariffs(tariffs, econ.N, econ.countries)
        econ = econ.replace(tariffs=jnp.asarray(tariffs))
    t: dict = {}
    new = solve_equilibrium(econ, cf_opts, Start.from_baseline(b, jacobian=False),
                            throw=throw, timings=t)
    if timings is not None:
        timings.update(t)
    return Counterfactual(b.equilibrium, new, d_new, cf_opts, t, tariffs)
