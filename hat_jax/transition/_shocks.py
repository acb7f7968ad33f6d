"""Shock paths of a transition (model.md s.12): permanent, announced, temporary (AR(1)).

A shock is a :class:`~hat_jax.Change` (trade costs d, TFP A, or any array field of the
:class:`~hat_jax.Economy` pytree) that moves those fields from their initial to new values:

    permanent:   x_t = x_new for t >= 0;
    announced:   x_t = x_old for t < s, x_new from s on (news at t = 0);
    temporary:   log x_t = log x_old + rho^t (log x_new - log x_old)   (0 <= rho < 1;
                 the terminal economy is the initial one).

Every bad input raises ValueError naming the parameter and the value.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._deprecation import renamed_keywords
from .._change import Change
from .._params import Economy, validate_trade_costs
from ._path import ShockPath

__all__ = ["shock_path", "check_horizon", "DEFAULT_HORIZON"]

DEFAULT_HORIZON = 150  # T, the number of transition dates (model.md s.12)


def check_horizon(horizon) -> int:
    """The horizon T (number of transition dates) as an int >= 2."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 2:
        raise ValueError(f"horizon T (transition dates) must be an integer >= 2, got "
                         f"horizon={horizon!r}")
    return int(horizon)


def _weights(T: int, announce: int, rho):
    """Weight w_t on log x_new - log x_old for t = 0..T (row T: terminal)."""
    t = np.arange(T + 1)
    if rho is None:
        return (t >= announce).astype(np.float64)
    return np.where(t >= announce, float(rho) ** np.maximum(t - announce, 0), 0.0) \
        * (t < T)


def _change(economy: Economy, change, d, A, fields) -> Change:
    """The Change of a shock: ``change``, or one built from the older keywords (d, A,
    fields); neither: the no-shock path (d unchanged)."""
    if change is not None and not isinstance(change, Change):
        raise ValueError(f"change must be a hat_jax.Change (e.g. Change.global_cut(economy, "
                         f"0.1)), got change={change!r}")
    old = dict(fields or {})
    if d is not None:
        old["d"] = d
    if A is not None:
        old["A"] = A
    if change is not None and old:
        raise ValueError("give either a Change or d= / A= / fields=, not both")
    if change is None:
        change = Change(old or {"d": np.asarray(economy.d)}, "shock")
    return change


def _check_values(economy: Economy, change: Change) -> dict:
    """The change's new values as float64 numpy arrays, checked (model.md s.1, s.12)."""
    change.check(economy)
    new = {k: np.asarray(v, np.float64) for k, v in change.values.items()}
    if "d" in new:
        new["d"] = validate_trade_costs(new["d"], economy.countries, "d (new trade costs)",
                                        floor=economy.cost_floor)
    if "A" in new:
        A = new["A"]
        if np.any(~np.isfinite(A)) or np.any(A <= 0):
            raise ValueError(f"A (TFP) must have {economy.N} positive entries, got {A}")
        if economy.scale_by_tfp and not np.allclose(A, np.asarray(economy.A)):
            raise ValueError("a TFP path needs an economy with scale_by_tfp=False: with the "
                             "reference country scaling the asset grid moves with A, and a "
                             "distribution cannot be carried across grids")
    return new


@renamed_keywords(T="horizon")
def shock_path(economy: Economy, change: Change | None = None, horizon: int = DEFAULT_HORIZON, *,
               announce: int = 0, rho: float | None = None, d=None, A=None,
               fields: dict | None = None) -> ShockPath:
    """The :class:`ShockPath` from ``economy`` to ``economy`` changed by ``change`` (a
    :class:`~hat_jax.Change`: new trade costs, TFP, tariffs or any economy field), over
    dates 0..T-1 plus the terminal row T (T = ``horizon``). None: no shock (the stationary
    path).

    announce: the date s at which the new values take effect (0 <= s < T); rho: None for a
    permanent change, else the AR(1) decay of a temporary change (0 <= rho < 1; the new
    value is the impact at date s, and the terminal economy is the initial one).
    Changes in logs (costs and TFP are positive; fields that may be zero, such as
    tariffs, linearly in levels). Deprecated: ``shock_path(economy, T, d=..., A=...,
    fields=...)`` (an integer second argument is the horizon T; d, A and fields are
    converted to a Change).
    """
    T = horizon
    if isinstance(change, (int, np.integer)) and not isinstance(change, bool):
        change, T = None, change  # the older shock_path(economy, T, ...)
    T = check_horizon(T)
    if isinstance(announce, bool) or not isinstance(announce, (int, np.integer)) \
            or not 0 <= announce < T:
        raise ValueError(f"announce (date s of the change) must be an integer with "
                         f"0 <= s < T={T}, got announce={announce!r}")
    if rho is not None:
        rho_f = float(rho)
        if not (np.isfinite(rho_f) and 0.0 <= rho_f < 1.0):
            raise ValueError(f"rho (persistence of a temporary change) must lie in [0, 1), "
                             f"got rho={rho!r}")
    new = _check_values(economy, _change(economy, change, d, A, fields))
    w = _weights(T, announce, rho)
    out = {}
    for name, x_new in new.items():
        x_old = np.asarray(getattr(economy, name) if name != "tariffs"
                           else economy.tariff_matrix, np.float64)
        if np.all(x_old > 0) and np.all(x_new > 0):
            logs = np.log(x_old) + w.reshape((-1,) + (1,) * x_old.ndim) * np.log(x_new / x_old)
            out[name] = jnp.asarray(np.exp(logs))
        else:  # fields that may be zero (tariffs): linear in levels
            out[name] = jnp.asarray(x_old + w.reshape((-1,) + (1,) * x_old.ndim)
                                    * (x_new - x_old))
    return ShockPath(out)
