"""What one transition solve hands to the next (issue 30, item 1): the two stationary
endpoints and the sequence-space Jacobian, held in an explicit :class:`TransitionCache`
(returned as ``Transition.cache``, passed back as ``solve_transition(..., cache=)``;
nothing is kept behind the user's back).

A second shock of the same shape then costs only what changed:

- the initial equilibrium (beta fixed, the transition's household tolerance) is the
  cache's when the baseline economy is the cache's (else ValueError: a cache of another
  economy);
- the terminal equilibrium is the cache's when the shock's terminal economy equals the
  cache's terminal economy (e.g. announced or temporary variants of one change, or the
  same change again), the initial one when the shock leaves no trace at T, and otherwise
  solved warm-started from the cache's terminal (a nearby shock) with its Newton
  Jacobian of the excess demands (``Start.J``), so the stationary Newton usually needs
  no new Jacobian, else from the initial's prices and household state;
- the sequence-space Jacobian is the cache's when the horizon is the same. Computed at
  another terminal it is a quasi-Newton Jacobian (``jacobian_exact=False``): if a step
  then fails to halve the residual, the stationary Jacobian at the new terminal is
  computed first (fake news, cheap) before any exact Jacobian at the current path.
"""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np

from .._equilibrium import Equilibrium
from .._params import Economy
from .._start import Start

__all__ = ["TransitionCache", "same_economy", "check_endpoint"]


class TransitionCache(eqx.Module):
    """The reusable state of a transition solve (``Transition.cache``).

    economy: the baseline's fixed-beta economy; initial: its stationary equilibrium
    solved at the transition's household tolerance; terminal: the terminal stationary
    equilibrium of the last shock; jacobian: the sequence-space Jacobian dH/dU
    [N T, N T] used by that solve (None: not computed yet), lu: its LU factors;
    jacobian_exact: True when ``jacobian`` is the stationary Jacobian at ``terminal``
    (False: taken over from another terminal, a quasi-Newton Jacobian)."""

    economy: Economy
    initial: Equilibrium
    terminal: Equilibrium
    jacobian: jax.Array | None = None
    lu: tuple | None = None
    jacobian_exact: bool = eqx.field(static=True, default=True)

    @property
    def horizon(self) -> int | None:
        """T of the cached Jacobian (None without one)."""
        if self.jacobian is None:
            return None
        return self.jacobian.shape[0] // self.economy.N

    def warm_start(self) -> Start:
        """The start of a new terminal solve: the cached terminal's prices, household
        state and Newton Jacobian."""
        return Start.from_equilibrium(self.terminal, jacobian=True)


def same_economy(a: Economy, b: Economy) -> bool:
    """Whether two economies are equal in every field (arrays compared exactly)."""
    return bool(eqx.tree_equal(a, b))


def check_endpoint(eq, economy: Economy, name: str, regime: str = "global") -> Equilibrium:
    """``eq`` as the solved stationary equilibrium of ``economy`` (ValueError naming
    ``name`` otherwise: another economy, another beta, not converged, or not of the
    ``regime``: one world bond market, one R, or financial autarky, R_i per country)."""
    if not isinstance(eq, Equilibrium):
        raise ValueError(f"{name} must be a solved hat_jax.Equilibrium, got {type(eq).__name__}")
    if regime == "global" and np.ndim(eq.R) != 0:
        raise ValueError(f"{name} must have one world bond market (one R), got R={eq.R}")
    if regime == "autarky" and np.shape(eq.R) != (economy.N,):
        raise ValueError(f"{name} must be a financial-autarky equilibrium (one R_i per "
                         f"country, shape ({economy.N},)), got R={eq.R}")
    if not bool(np.all(np.asarray(eq.converged))):
        raise ValueError(f"{name} is not a converged equilibrium (residual "
                         f"{float(np.max(np.asarray(eq.residual))):.3e})")
    if not same_economy(eq.economy.replace(beta=economy.beta), economy) or not np.isclose(
            float(eq.beta), float(economy.beta), rtol=0, atol=1e-14):
        raise ValueError(f"{name} is the equilibrium of another economy than the "
                         f"transition's (beta {float(eq.beta)!r} vs {float(economy.beta)!r}, "
                         f"or other fields: trade costs, TFP...)")
    return eq
