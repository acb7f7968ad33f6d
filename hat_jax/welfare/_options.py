"""Options of the equivalent-variation solver (:class:`EVOptions`)."""

from __future__ import annotations

import dataclasses

import equinox as eqx

from .._household import STOP_RULES
from .._results import as_float, as_int, check_option_values
from ._measure import EV_MEASURES, check_measure

__all__ = ["EV_TOL", "EV_METHODS", "EV_MEASURES", "EVOptions", "ev_options"]

EV_TOL = 1e-10
EV_METHODS = ("continuation", "safeguarded")


class EVOptions(eqx.Module):
    """Settings of :func:`hat_jax.welfare.equivalent_variation`.

    Traced (changing them never recompiles): tol, the distance to the root in units of
    the income factor, |V_old(lambda) - V_new| / (dV_old/dlambda), per state (1e-10);
    max_iter, household solves per state (40); hh_tol, the household tolerance
    (sup-norm change of c and v in one reference sweep, 1e-10).

    Structural (static; they set array shapes): batch_size, states solved together
    (vmapped; memory grows with it; 25); nodes, household solutions on a grid of the
    income factor that give every state its first guess (40; < 4: the Newton step
    from 1); hh_stop_rule, the household stop rule ("both", default: c and v stop
    changing; "policy": c alone, the original code's rule, see
    :class:`hat_jax.HouseholdOptions`); method, how the roots are found:
    "continuation" (default; the states, in the order of their guesses, share household
    solves, :mod:`hat_jax.welfare._continuation`, and those it does not settle fall back
    to the safeguarded solver) or "safeguarded" (every state by its own safeguarded
    Newton-secant iteration, :mod:`hat_jax.welfare._roots`; the method before issue 13);
    measure, what the EV is (:mod:`hat_jax.welfare._measure`): "transfer" (default,
    well posed for every state: the permanent lump-sum transfer tau at the old prices
    with V_old(a, z; tau) = V_new(a, z), the paper's appendix eq. 167, the root
    variable l = 1 + tau / (W_i E[z])) or "proportional" (income R a + W z + T scaled
    by l = lambda, the paper's tables; ill posed where net income <= 0, flagged).
    """

    tol: float = eqx.field(default=EV_TOL, converter=as_float)
    max_iter: int = eqx.field(default=40, converter=as_int)
    hh_tol: float = eqx.field(default=1e-10, converter=as_float)
    batch_size: int = eqx.field(static=True, default=25, converter=as_int)
    nodes: int = eqx.field(static=True, default=40, converter=as_int)
    hh_stop_rule: str = eqx.field(static=True, default="both")
    method: str = eqx.field(static=True, default="continuation")
    # static on purpose: a traced measure (one program for both, tried on 2026-12-07)
    # lets the income factor reach R and W as well as T in every differentiated EV
    # program, whose tangents then run through the whole household problem: the
    # two-country EV programs compiled slower (test_welfare.py and test_tariffs.py: 57 s
    # more between them on a cold cache)
    measure: str = eqx.field(static=True, default="transfer")

    def __check_init__(self):
        if self.method not in EV_METHODS:
            raise ValueError(f"method must be one of {EV_METHODS}, got method={self.method!r}")
        if self.hh_stop_rule not in STOP_RULES:
            raise ValueError(f"hh_stop_rule must be one of {STOP_RULES}, got "
                             f"hh_stop_rule={self.hh_stop_rule!r}")
        check_measure(self.measure)
        check_option_values(self, positive=("tol", "hh_tol"),
                            at_least_one=("max_iter", "batch_size"))


def ev_options(opts: EVOptions | None = None, **fields) -> EVOptions:
    """``opts`` (default EVOptions()) with some fields replaced (tol=..., max_iter=...,
    batch_size=..., nodes=..., hh_tol=..., hh_stop_rule=..., measure=...; ``None`` values are
    ignored)."""
    base = EVOptions() if opts is None else opts
    names = {f.name for f in dataclasses.fields(EVOptions)}
    unknown = set(fields) - names
    if unknown:
        raise TypeError(f"unknown EV option(s) {sorted(unknown)}; EVOptions has "
                        f"{sorted(names)}")
    fields = {k: v for k, v in fields.items() if v is not None}
    return dataclasses.replace(base, **fields) if fields else base
