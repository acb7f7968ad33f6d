"""Welfare of a transition (model.md s.10 with the path's date-0 values).

For every state (a, z) of country i the transition EV is the income factor lambda_tau
with V_old(a, z; lambda_tau) = V_0(a, z), V_0 the date-0 ex-ante value under the
perfect-foresight path (prices W_t, R_t and costs d_t), solved by the same root finder
as the steady-state EV (:func:`hat_jax.welfare.equivalent_variation`, whose V_new is
then the terminal stationary value). Gains are in percent of income; the means are
weighted by the initial distribution.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..welfare import EVOptions, EquivalentVariation, country_index, equivalent_variation
from ._driver import Transition

__all__ = ["TransitionWelfare", "transition_welfare"]


class TransitionWelfare(NamedTuple):
    """country (index); ev / steady_state: :class:`~hat_jax.EquivalentVariation` of the
    transition (V_0 under the path) and of the steady-state comparison (terminal
    stationary values), [Na, Nz]; mean_gain_pct / steady_state_mean_gain_pct:
    100 sum lambda_0 (lambda_tau - 1); V0: the date-0 values."""

    country: int
    ev: EquivalentVariation
    steady_state: EquivalentVariation
    mean_gain_pct: float
    steady_state_mean_gain_pct: float
    V0: np.ndarray


def transition_welfare(tr: Transition, country, opts: EVOptions | None = None, *,
                       throw: bool = True, **fields) -> TransitionWelfare:
    """The date-0 transition EV of every state of ``country`` next to the steady-state
    EV (options as :func:`hat_jax.welfare.equivalent_variation`)."""
    i = country_index(tr.economy, country)
    V0 = np.asarray(tr.path.V0[i])
    ev = equivalent_variation(tr.initial, V0, i, opts, throw=throw, **fields)
    if tr.terminal is tr.initial:
        ss = equivalent_variation(tr.initial, np.asarray(tr.initial.world.households.V[i]), i,
                                  opts, throw=throw, **fields)
    else:
        ss = equivalent_variation(tr.initial, tr.terminal, i, opts, throw=throw, **fields)
    lam = np.asarray(tr.initial.world.distribution.lam[i])
    mean = lambda e: float(100.0 * np.sum(lam * (np.asarray(e.factor) - 1.0)))
    return TransitionWelfare(i, ev, ss, mean(ev), mean(ss), V0)
