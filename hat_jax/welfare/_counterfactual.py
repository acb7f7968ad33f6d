"""Counterfactual equilibria (model.md s.10, s.14): a :class:`~hat_jax._change.Change`
(new trade costs d', tariffs t', TFP, any economy field),
beta fixed at the baseline's, wages, R (and the tariff rebates T) solved, warm-started
from the baseline."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._baseline import Baseline, as_baseline
from .._change import Change
from .._equilibrium import Equilibrium, EquilibriumOptions, Start, solve_equilibrium
from .._params import Economy, household_problems
from .._scenario_start import check_jacobian_start, exact_jacobians, scenario_start
from .._household import HouseholdProblem
from .._tariffs import validate_tariffs
from ._costs import check_costs

__all__ = ["Counterfactual", "counterfactual", "as_change", "country_problem", "country_state"]


class Counterfactual(NamedTuple):
    """A baseline and a counterfactual stationary equilibrium (beta fixed, W and R solved).

    baseline, new: :class:`~hat_jax.Equilibrium`; d: the new cost matrix; opts: the
    options of the counterfactual solve; stats: iterations, compile_s, run_s of that
    solve (``new.stats``);
    tariffs: the new tariff matrix (None: the baseline's, free trade if it had none);
    change: the :class:`~hat_jax._change.Change` that was solved.
    converged, iterations, residual: those of the counterfactual solve (``new``).
    """

    baseline: Equilibrium
    new: Equilibrium
    d: np.ndarray
    opts: EquilibriumOptions
    stats: dict
    tariffs: np.ndarray | None = None
    change: Change | None = None

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


def as_change(economy: Economy, change=None, d_new=None, tariffs=None) -> Change:
    """The :class:`~hat_jax._change.Change` of a counterfactual: ``change`` itself, or (the
    older spelling) a new cost matrix ``d_new`` (``change`` given as a matrix is read as
    d_new) and/or a tariff matrix ``tariffs``; None and None: no change."""
    if change is not None and not isinstance(change, Change):
        if d_new is not None:
            raise ValueError("give the new trade costs once: as the change or as d_new=")
        change, d_new = None, change
    if change is not None:
        if d_new is not None or tariffs is not None:
            raise ValueError("give either a Change or d_new= / tariffs=, not both")
        return change
    values, kinds = {}, []
    if d_new is not None:
        values["d"] = np.asarray(d_new, np.float64)  # checked by counterfactual
        kinds.append("costs")
    if tariffs is not None:
        values["tariffs"] = validate_tariffs(tariffs, economy.N, economy.countries)
        kinds.append("tariffs")
    return Change(values, "+".join(kinds) or "none", "new " + " and ".join(kinds)
                  if kinds else "no change", {"kind": "+".join(kinds) or "none"})


def counterfactual(baseline: Baseline | Equilibrium, change=None,
                   opts: EquilibriumOptions | None = None, *, cost_floor: bool | None = None,
                   throw: bool = True, tariffs=None, d_new=None,
                   jacobian: str = "baseline", regime: str | None = None,
                   start: Start | None = None) -> Counterfactual:
    """Solve the stationary equilibrium after ``change`` (model.md s.10, s.14).

    baseline: a :class:`~hat_jax.Baseline` (an :class:`~hat_jax.Equilibrium` is
    converted once). change: a :class:`~hat_jax._change.Change` (new trade costs, tariffs,
    TFP, any economy field; e.g. ``Change.global_cut(b.economy, 0.1)``), applied to the
    baseline economy with beta fixed at the baseline's (solved or given); wages (mean one) and
    R are solved (one world bond market, or R_i per country if the baseline is under
    financial autarky), starting from the baseline prices and household state. None: no
    change. Deprecated spellings, converted to a Change: a cost matrix as ``change`` or
    ``d_new=``, and ``tariffs=`` (N x N, importer rows, t_ij >= 0, t_ii = 0), rebated lump
    sum (the rebates T are solved with W and R). ``opts`` supplies tolerances and the
    like (default: the baseline's); its ``unknown`` / ``regime`` are overridden.
    cost_floor: whether the new costs must satisfy d >= 1 (True) or may fall below 1 off
    the diagonal (False, the paper's convention for proportional cuts; a
    :class:`~hat_jax.welfare.CostsBelowOneWarning` lists the pairs); default: the
    baseline economy's ``cost_floor`` (True unless built with cost_floor=False). The
    counterfactual economy carries the setting (a static field: a different value
    compiles a different program; build the baseline with the same value to share it).
    throw: raise ConvergenceError (residual, iterations) if the solve fails; with
    throw=False check ``converged``. The result's ``stats``: iterations, compile_s, run_s,
    jacobians (the exact Jacobians Newton computed).
    jacobian: where Newton starts: ``"baseline"`` (default), from the baseline's
    Jacobian, Broyden-updated along the steps, an exact one only where the steps stop
    delivering (:mod:`hat_jax._scenario_start`); ``"exact"``, an exact Jacobian at the
    first point (the method before issue 29). Both reach a root within ``tol``. A change
    of regime (other unknowns) always starts from an exact Jacobian.
    regime: the financial regime of the new equilibrium, "global" or "autarky" (model.md
    s.15; default: the baseline's): ``regime="global"`` from an autarky baseline opens
    the capital account (started at the mean of the R_i), "autarky" closes it.
    start: where Newton starts instead of the baseline's solution (a
    :class:`~hat_jax.Start` of an equilibrium of this change or near it, under the new
    regime, e.g. ``OptimalTariff.start``; its Jacobian is used as ``jacobian`` says
    where it fits the new equilibrium's unknowns).
    """
    check_jacobian_start(jacobian)
    b = as_baseline(baseline)
    floor = bool(b.economy.cost_floor) if cost_floor is None else cost_floor
    if not isinstance(floor, (bool, np.bool_)):
        raise ValueError(f"cost_floor must be True, False or None, got cost_floor={cost_floor!r}")
    change = as_change(b.economy, change, d_new, tariffs)
    if "d" in change.values:
        check_costs(b.economy, change.values["d"], floor=floor)
    cf_opts = b.options(opts)
    econ = change.apply(b.economy.replace(cost_floor=bool(floor)))
    given = start is not None
    start = scenario_start(b, econ.has_rebates, jacobian, start,
                           b.regime if regime is None else regime)
    if regime is not None and regime != b.regime:
        cf_opts = cf_opts.replace(regime=regime)
        if not given:  # other unknowns: R from the mean of the R_i, a new Jacobian
            start = start._replace(R=np.mean(np.asarray(b.R)), J=None)
    d_new = np.asarray(econ.d)
    new = solve_equilibrium(econ, cf_opts, start, throw=throw)
    new = new._replace(stats={**new.stats, "jacobians": exact_jacobians(new.history)})
    t_new = np.asarray(econ.tariffs) if "tariffs" in change.values else None
    return Counterfactual(b.equilibrium, new, d_new, cf_opts, new.stats, t_new, change)
