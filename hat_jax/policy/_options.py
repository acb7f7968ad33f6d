"""The options of the tariff solvers (:func:`~hat_jax.policy.optimal_tariff`,
:func:`~hat_jax.policy.nash_tariffs`): one validated object, as the equilibrium's
:class:`~hat_jax.EquilibriumOptions` (errors name the field and its value)."""

from __future__ import annotations

import dataclasses

import equinox as eqx

from .._equilibrium import EquilibriumOptions
from .._results import check_choice, check_option_values
from ..welfare import EVOptions

__all__ = ["COARSE_NA", "MODES", "OBJECTIVES", "OPTIMIZERS", "NASH_METHODS", "TariffOptions",
           "tariff_options"]

MODES = ("uniform", "by_partner")
#: utilitarian: W_i = sum lambda V_i; mean_ev: sum lambda_ref (lambda_tau - 1), the
#: lambda-weighted mean EV against the reference equilibrium (:mod:`.mean_ev`)
OBJECTIVES = ("utilitarian", "mean_ev")
#: one country's optimum: BFGS on t = softplus(s), or projected Newton in t
OPTIMIZERS = ("bfgs", "newton")
#: Nash tariffs: Broyden on the stacked first-order conditions, or best responses
NASH_METHODS = ("foc", "best_response")
#: asset grid of the coarse stage of an optimal-tariff solve (used when the grid has at
#: least three times as many points)
COARSE_NA = 20


class TariffOptions(eqx.Module):
    """Settings of the tariff solvers.

    mode: "uniform" (one rate on every partner) or "by_partner"; objective:
    "utilitarian" (W_i = sum lambda V_i) or "mean_ev" (the lambda-weighted mean EV
    against a reference equilibrium); method: the optimizer of one country's optimum,
    "bfgs" or "newton" (None: bfgs for uniform, newton by partner); nash_method: "foc"
    (stacked first-order conditions, uniform utilitarian tariffs) or "best_response"
    (None: foc where it applies); gtol: the first-order residual of a converged optimum
    (the optimizer stops at gtol / 10); tol: the largest tariff change that ends the
    best-response iteration; max_steps: optimizer steps per stage; max_rounds: Nash
    rounds; coarse: the asset grid of a coarse first stage (None: COARSE_NA on grids of
    at least 3 COARSE_NA points when no start is given; 0: none); equilibrium: the
    :class:`~hat_jax.EquilibriumOptions` of the solves (None: the defaults); ev: the
    :class:`~hat_jax.welfare.EVOptions` of the mean-EV objective; progress: lines on
    stderr.
    """

    mode: str = "uniform"
    objective: str = "utilitarian"
    method: str | None = None
    nash_method: str | None = None
    gtol: float = 1e-6
    tol: float = 1e-7
    max_steps: int = 60
    max_rounds: int = 30
    coarse: int | None = None
    equilibrium: EquilibriumOptions | None = None
    ev: EVOptions | None = None
    progress: bool = False

    def __check_init__(self):
        check_choice("mode", self.mode, MODES)
        check_choice("objective", self.objective, OBJECTIVES)
        if self.method is not None:
            check_choice("method", self.method, OPTIMIZERS)
        if self.nash_method is not None:
            check_choice("nash_method", self.nash_method, NASH_METHODS)
        check_option_values(self, positive=("gtol", "tol"),
                            at_least_one=("max_steps", "max_rounds"))
        c = self.coarse
        if c is not None and (isinstance(c, bool) or not isinstance(c, int) or c < 0
                              or c in (1, 2)):
            # an asset grid has at least 3 points (hat_jax._params): the coarse one too
            raise ValueError(f"coarse must be 0 (no coarse stage) or a number of asset grid "
                             f"points >= 3 (None: {COARSE_NA} on grids of at least "
                             f"{3 * COARSE_NA} points), got coarse={c!r}")
        for name, kind in (("equilibrium", EquilibriumOptions), ("ev", EVOptions)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise ValueError(f"{name} must be a {kind.__name__} or None, got "
                                 f"{name}={value!r}")
        if not isinstance(self.progress, bool):
            raise ValueError(f"progress must be True or False, got progress={self.progress!r}")

    @property
    def optimizer(self) -> str:
        """The optimizer of one country's optimum (``method`` resolved by mode)."""
        return self.method or ("bfgs" if self.mode == "uniform" else "newton")

    @property
    def nash_solver(self) -> str:
        """``nash_method`` resolved: "foc" for uniform utilitarian tariffs, else
        "best_response"; refused where "foc" does not apply."""
        method = self.nash_method or ("foc" if self.mode == "uniform"
                                      and self.objective == "utilitarian" else "best_response")
        if method == "foc" and self.objective != "utilitarian":
            raise ValueError("nash_method='foc' (stacked first-order conditions) needs "
                             f"objective='utilitarian', got objective={self.objective!r}: "
                             "use nash_method='best_response'")
        if method == "foc" and self.mode != "uniform":
            raise ValueError(f"nash_method must be 'best_response' by partner ('foc' needs "
                             f"uniform tariffs), got nash_method={method!r} with "
                             f"mode={self.mode!r}")
        return method

    def replace(self, **changes) -> "TariffOptions":
        """A copy with some fields replaced (validated again)."""
        return dataclasses.replace(self, **changes)


def tariff_options(options: TariffOptions | None = None, **fields) -> TariffOptions:
    """``options`` (default: TariffOptions()) with ``fields`` replaced; unknown field
    names are refused by name."""
    options = TariffOptions() if options is None else options
    if not isinstance(options, TariffOptions):
        raise ValueError(f"options must be a TariffOptions, got options={options!r}")
    unknown = sorted(set(fields) - set(TariffOptions.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown tariff option(s) {unknown}; TariffOptions has "
                         f"{sorted(TariffOptions.__dataclass_fields__)}")
    return options.replace(**fields) if fields else options
