"""Where an equilibrium solve starts (model.md section 6): one :class:`Start`.

A Start holds the starting prices W (mean one), R (scalar, or [N] under financial
autarky; the target R in the "beta" mode), beta, the tariff rebates T, the household
state (a warm start of the household fixed points) and J, a Jacobian of the excess
demands to start Newton from. A field left None takes the default guess: W = 1, R = 1
(1.01 in the "beta" mode), beta = economy.beta (lowered to 0.95/R in the "beta" mode if
needed), T = 0, the cold household state, and a Jacobian computed by Newton.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

__all__ = ["Start", "default_guess"]


class Start(NamedTuple):
    """The starting values of an equilibrium solve (None: the default guess).

    W [N]: wages (normalised to mean one); R: the gross interest rate (scalar, [N] under
    financial autarky; in the "beta" mode the fixed target R, and derivatives with
    respect to it are exact); beta: the discount factor (a starting value in the "beta"
    mode, otherwise the economy's is used); T [N]: lump-sum rebates (used only
    when the economy has tariffs or capital-account wedges); state: household fixed-point variables [N, ...];
    J: the Newton Jacobian of a nearby solve of an economy of the same shape
    (``Equilibrium.jacobian``; kept while its steps cut the excess demands as it
    predicts, recomputed otherwise); inverses: the
    :class:`~hat_jax.model.WarmInverses` of a nearby solved world of the same shape
    (``Baseline.with_warm_inverses()``), chord steps for the household and distribution
    solves (same solution, fewer sweeps). Starting values carry no derivative.
    """

    W: object = None
    R: object = None
    beta: object = None
    T: object = None
    state: object = None
    J: object = None
    inverses: object = None

    @classmethod
    def from_equilibrium(cls, eq, jacobian: bool = True) -> "Start":
        """The solved prices, rebates, household state (and Jacobian) of ``eq``."""
        return cls(eq.W, eq.R, eq.beta, eq.T, eq.world.households.state,
                   eq.jacobian if jacobian else None)

    @classmethod
    def from_baseline(cls, baseline, jacobian: bool = True) -> "Start":
        """The start held by a :class:`~hat_jax.Baseline` (its prices, rebates, household
        state and, with ``jacobian``, its Newton Jacobian)."""
        s = baseline.start
        return s if jacobian else s._replace(J=None)

    def filled(self, economy, opts) -> "Start":
        """This start with the default guess in its empty price fields, validated on the
        host (ValueError naming the field and value); concrete numpy values."""
        W, R, beta = default_guess(economy, opts, self.W, self.R, self.beta)
        T = None if self.T is None or not economy.has_rebates else np.asarray(self.T, np.float64)
        return self._replace(W=W, R=R, beta=beta, T=T)

    def traced(self, economy, opts) -> "Start":
        """This start with the default guess in its empty price fields, as float64 jax
        arrays (traceable: no validation of values)."""
        R = self.R
        if R is None:
            R = 1.0 if opts.unknown == "R" else 1.01
        R = jnp.asarray(R, jnp.float64)
        if opts.regime == "autarky":
            R = jnp.broadcast_to(R, (economy.N,))
        beta = self.beta
        if beta is None:
            beta = jnp.asarray(economy.beta, jnp.float64)
            if opts.unknown == "beta":
                beta = jnp.minimum(beta, 0.95 / jnp.max(R))
        W = jnp.ones(economy.N) if self.W is None else jnp.asarray(self.W, jnp.float64)
        T = None if self.T is None or not economy.has_rebates else jnp.asarray(self.T,
                                                                               jnp.float64)
        return self._replace(W=W, R=R, beta=jnp.asarray(beta, jnp.float64),
                             T=T)


def default_guess(economy, opts, W=None, R=None, beta=None):
    """Starting prices (W, R, beta): W = 1, R = 1 (1.01 in the "beta" mode), beta =
    economy.beta (in the "beta" mode lowered to 0.95/R if needed); given values are
    validated (ValueError naming ``Start.W``, ``Start.R`` or ``Start.beta``)."""
    W = np.ones(economy.N) if W is None else np.asarray(W, np.float64)
    if W.shape != (economy.N,):
        raise ValueError(f"Start.W must have one wage per country, shape ({economy.N},), "
                         f"got shape {W.shape}")
    if not np.all(np.isfinite(W)) or np.any(W <= 0):
        k = int(np.argmin(np.where(np.isfinite(W), W, -np.inf)))
        raise ValueError(f"starting wages must be positive and finite, got "
                         f"Start.W[{k}]={float(W[k])!r}")
    W = W / W.mean()
    if R is None:
        R = 1.0 if opts.unknown == "R" else 1.01
    if not np.all(np.isfinite(np.asarray(R, np.float64))):
        raise ValueError(f"Start.R must be finite, got Start.R={_show(R)}")
    if beta is None:
        beta = float(economy.beta)
        if opts.unknown == "beta":  # beta is solved: start where beta R < 1 holds
            beta = min(beta, 0.95 / float(np.max(R)))
    beta = float(beta)
    if not np.isfinite(beta):
        raise ValueError(f"Start.beta must be finite, got Start.beta={beta!r}")
    if opts.regime == "autarky":
        R = np.broadcast_to(np.asarray(R, np.float64), (economy.N,)).copy()
    return W, R, beta


def _show(x):
    a = np.asarray(x, np.float64)
    return repr(float(a)) if a.ndim == 0 else np.array2string(a)

