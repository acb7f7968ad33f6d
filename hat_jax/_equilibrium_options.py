"""The settings of the equilibrium solve (:class:`EquilibriumOptions`): which system is
solved (regime, unknown), how its inner problems are solved and differentiated
(distribution, tangent_solver, jacobian_block, coarse_grid) and when it stops. Kept
apart from :mod:`hat_jax._equilibrium`, which re-exports it, as the settings every
layer above the solver passes around."""

from __future__ import annotations

import dataclasses

import equinox as eqx

from ._coarse import check_coarse_grid
from ._distribution import DistributionOptions
from ._household import STOP_RULES, HouseholdOptions
from ._memory import (TANGENT_SOLVERS, check_jacobian_block, resolve_jacobian_block,
                      resolve_tangent_solver)
from ._params import Economy, household_options
from ._results import as_float, as_int, check_choice, check_option_values

__all__ = ["EquilibriumOptions"]


class EquilibriumOptions(eqx.Module):
    """Settings of the equilibrium solve.

    Structural (static; a different program): regime, "global" (one world bond market,
    default) or "autarky" (A'_i = 0, R_i each); unknown, "R" (solve R at the economy's
    beta) or "beta" (solve beta at a given R; global regime only); distribution,
    "iterate" (default; forward iteration to dist_tol, implicit derivative by LU or
    GMRES) or "direct" (dense LU per country; see hat_jax._distribution); tangent_solver,
    "lu" (dense LU per country of the household and distribution
    implicit-function systems, factorised once per Jacobian and shared by all
    directions) or "gmres" (matrix-free; for grids too large for (2 Nz Na)^2 doubles
    per country) or "auto" (default: "lu" where its memory estimate fits in what this
    process may use, else "gmres"; resolved by :meth:`resolved` at the start of every
    solve, see :mod:`hat_jax._memory`); hh_stop_rule, the household stop rule ("both",
    default: c and v stop changing; "policy": c alone, the original code's rule; see
    :class:`~hat_jax.HouseholdOptions`); jacobian_block, the directions of an exact
    N x N Jacobian pushed through the world at once (a positive int, or "auto", the
    default: all of them where their memory fits, else blocks that fit, with a
    :class:`~hat_jax._memory.JacobianBlockNote`; the same numbers either way);
    coarse_grid, a cold :func:`solve_equilibrium` of a large world first solved on a
    coarse asset grid, its prices and Jacobian the start ("auto": 20 points where N >=
    40; an int: that many points; 0: never; :mod:`hat_jax._coarse`); verbose,
    one line per Newton iteration on stderr (printed from Python by
    :func:`solve_equilibrium`; inside :func:`solve_equilibrium_jit` a host callback).

    Numeric (traced: changing them never recompiles): tol, max |excess demand| / world
    GDP at the root (1e-10); max_iter, Newton iterations (40); jacobian_reuse, keep the
    Jacobian while a step of a fraction f of the Newton step cuts max |excess demand| to
    at most 1 - f (1 - jacobian_reuse) of its value (0.3; 0 = plain Newton); max_step,
    cap on the sup-norm of a Newton step in the unconstrained coordinates (1);
    hh_tol, hh_max_iter: household tolerance (sup-norm change of c and v, 1e-10) and
    sweep cap (2000); dist_tol, dist_max_iter: sup-norm change of lambda at which the
    distribution iteration stops (1e-12, tighter than the reference 1e-10 so that market
    residuals of 1e-10 are not limited by it) and its cap (100000); trade_tol, the
    largest goods-market excess demand allowed relative to the seller's trade volume
    (exports + imports; 1e-4): near autarky a residual of 1e-10 of world GDP can be all
    of a country's trade, and relative wages are then not determined by it.
    """

    regime: str = eqx.field(static=True, default="global")
    unknown: str = eqx.field(static=True, default="R")
    tol: float = eqx.field(default=1e-10, converter=as_float)
    max_iter: int = eqx.field(default=40, converter=as_int)
    jacobian_reuse: float = eqx.field(default=0.3, converter=as_float)
    max_step: float = eqx.field(default=1.0, converter=as_float)
    hh_tol: float = eqx.field(default=1e-10, converter=as_float)
    hh_max_iter: int = eqx.field(default=2000, converter=as_int)
    distribution: str = eqx.field(static=True, default="iterate")
    dist_tol: float = eqx.field(default=1e-12, converter=as_float)
    dist_max_iter: int = eqx.field(default=100_000, converter=as_int)
    trade_tol: float = eqx.field(default=1e-4, converter=as_float)
    tangent_solver: str = eqx.field(static=True, default="auto")
    verbose: bool = eqx.field(static=True, default=False)
    hh_stop_rule: str = eqx.field(static=True, default="both")
    jacobian_block: int | str = eqx.field(static=True, default="auto")
    coarse_grid: int | str = eqx.field(static=True, default="auto")

    def __check_init__(self):
        check_choice("regime", self.regime, ("global", "autarky"))
        check_choice("unknown", self.unknown, ("R", "beta"))
        if self.regime == "autarky" and self.unknown == "beta":
            raise ValueError("unknown='beta' needs one world bond market (regime='global'); "
                             "under financial autarky solve R_i at a given beta")
        check_choice("tangent_solver", self.tangent_solver, TANGENT_SOLVERS)
        check_choice("hh_stop_rule", self.hh_stop_rule, STOP_RULES)
        check_choice("distribution", self.distribution, ("direct", "iterate"))
        check_jacobian_block(self.jacobian_block)
        check_coarse_grid(self.coarse_grid)
        check_option_values(self, positive=("tol", "max_step", "hh_tol", "dist_tol",
                                            "trade_tol"),
                            at_least_one=("max_iter", "hh_max_iter", "dist_max_iter"),
                            unit_interval=("jacobian_reuse",))

    def resolved(self, economy: Economy) -> "EquilibriumOptions":
        """These options with ``tangent_solver="auto"`` and ``jacobian_block="auto"``
        resolved for ``economy`` (see :func:`hat_jax._memory.resolve_tangent_solver`
        and :func:`~hat_jax._memory.resolve_jacobian_block`); unchanged otherwise."""
        solver = resolve_tangent_solver(economy, "auto") if self.tangent_solver == "auto" \
            else self.tangent_solver
        block = resolve_jacobian_block(economy, solver) if self.jacobian_block == "auto" \
            else self.jacobian_block
        if (solver, block) == (self.tangent_solver, self.jacobian_block):
            return self
        return self.replace(tangent_solver=solver, jacobian_block=block)

    @property
    def block(self) -> int | None:
        """The Jacobian's directions pushed at once (None: all; "auto" unresolved)."""
        return None if self.jacobian_block == "auto" else self.jacobian_block

    def household_options(self, economy: Economy) -> HouseholdOptions:
        """The household settings these options imply for ``economy``."""
        return household_options(economy, tol=self.hh_tol, max_iter=self.hh_max_iter,
                                 tangent_solver=self.resolved(economy).tangent_solver,
                                 stop_rule=self.hh_stop_rule)

    def distribution_options(self, economy: Economy) -> DistributionOptions:
        """The stationary-distribution settings these options imply for ``economy``."""
        return DistributionOptions(method=self.distribution, tol=self.dist_tol,
                                   max_iter=self.dist_max_iter,
                                   tangent_solver=self.resolved(economy).tangent_solver)

    def replace(self, **changes) -> "EquilibriumOptions":
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def fixed_beta(self, regime: str = "global") -> "EquilibriumOptions":
        """These options for a solve at a given beta (unknown "R": wages and R solved)
        under the bond-market ``regime`` ("global" or "autarky"): counterfactuals,
        welfare derivatives, tariffs and transitions from a baseline."""
        return self.replace(unknown="R", regime=regime)
