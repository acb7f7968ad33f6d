"""Shock paths of a transition (model.md s.12): permanent, announced, temporary (AR(1)).

A shock moves economy fields (trade costs d, TFP A, or any array field of the
:class:`~hat_jax.Economy` pytree) from their initial to new values:

    permanent:   x_t = x_new for t >= 0;
    announced:   x_t = x_old for t < s, x_new from s on (news at t = 0);
    temporary:   log x_t = log x_old + rho^t (log x_new - log x_old)   (0 <= rho < 1;
                 the terminal economy is the initial one).

Every bad input raises ValueError naming the parameter and the value.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..params import Economy, validate_trade_costs
from .path import ShockPath

__all__ = ["shock_path", "check_horizon", "DEFAULT_T"]

DEFAULT_T = 150


def check_horizon(T) -> int:
    """T (number of transition dates) as an int >= 2."""
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 2:
        raise ValueError(f"T (transition dates) must be an integer >= 2, got T={T!r}")
    return int(T)


def _weights(T: int, announce: int, rho):
    """Weight w_t on log x_new - log x_old for t = 0..T (row T: terminal)."""
    t = np.arange(T + 1)
    if rho is None:
        return (t >= announce).astype(np.float64)
    return np.where(t >= announce, float(rho) ** np.maximum(t - announce, 0), 0.0) \
        * (t < T)


def shock_path(economy: Economy, T: int = DEFAULT_T, *, d=None, A=None, announce: int = 0,
               rho: float | None = None, fields: dict | None = None) -> ShockPath:
    """The :class:`ShockPath` from ``economy`` to new trade costs ``d`` and/or TFP ``A``
    (and any further economy fields in ``fields``, e.g. a tariff matrix), over dates
    0..T-1 plus the terminal row T.

    announce: the date s at which the new values take effect (0 <= s < T); rho: None for a
    permanent change, else the AR(1) decay of a temporary change (0 <= rho < 1; the new
    value is the impact at date s, and the terminal economy is the initial one).
    Changes in logs (costs and TFP are positive).
    """
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
    new = dict(fields or {})
    if d is not None:
        d = np.asarray(d, np.float64)
        d = validate_trade_costs(d, economy.countries, "d (new trade costs)",
                                 floor=economy.cost_floor)
        new["d"] = d
    if A is not None:
        A = np.asarray(A, np.float64)
        if A.shape != (economy.N,) or np.any(~np.isfinite(A)) or np.any(A <= 0):
            raise ValueError(f"A (TFP) must have {economy.N} positive entries, got {A}")
        if economy.scale_by_tfp and not np.allclose(A, np.asarray(economy.A)):
            raise ValueError("a TFP path needs an economy with scale_by_tfp=False: with the "
                             "reference country scaling the asset grid moves with A, and a "
                             "distribution cannot be carried across grids")
        new["A"] = A
    if not new:
        new["d"] = np.asarray(economy.d)
    w = _weights(T, announce, rho)
    out = {}
    for name, x_new in new.items():
        x_old = np.asarray(getattr(economy, name), np.float64)
        x_new = np.asarray(x_new, np.float64)
        if x_new.shape != x_old.shape:
            raise ValueError(f"{name} must have shape {x_old.shape}, got {x_new.shape}")
        if np.all(x_old > 0) and np.all(x_new > 0):
            logs = np.log(x_old) + w.reshape((-1,) + (1,) * x_old.ndim) * np.log(x_new / x_old)
            out[name] = jnp.asarray(np.exp(logs))
        else:  # fields that may be zero (tariffs): linear in levels
            out[name] = jnp.asarray(x_old + w.reshape((-1,) + (1,) * x_old.ndim)
                                    * (x_new - x_old))
    return ShockPath(out)

