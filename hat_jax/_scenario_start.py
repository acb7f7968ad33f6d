"""Where a scenario's Newton starts (issue 29): from the baseline's Jacobian.

Every experiment (a counterfactual, a scenario of a sweep) solves the fixed-beta
equilibrium of a changed economy starting at the baseline's prices, rebates and household
state, next to the baseline's root. Its excess-demand Jacobian there differs from the
baseline's by the change only, so Newton need not build a new one: it starts from the
baseline's (``Equilibrium.jacobian``, the baseline Newton's last, kept by
:class:`~hat_jax.Baseline` as ``J``), updates it along every accepted step by the good
Broyden rank-one update

    J+ = J + (dr - J dx) dx^T / (dx^T dx),

and computes an exact Jacobian (forward mode through the implicit derivatives) only where
the steps stop delivering what the kept one promised (the safeguard of
:mod:`hat_jax._newton`: a full step must cut max |excess demand| to at most
``jacobian_reuse`` of its value, a rejected trial is never retried with a kept Jacobian).
The root is the same root (max |excess demand| <= tol); the derivatives at it are the
implicit-function derivatives with the exact Jacobian at the root, as before.

The baseline's Jacobian fits the scenario when it has the shape of the scenario's
unknowns (wages, R or the R_i, and with tariffs the rebates T): a scenario that adds
tariffs to a free-trade baseline has N more unknowns and starts as before, with an exact
Jacobian. A baseline solved for beta at a given R (``unknown="beta"``) holds the
Jacobian in (x_W, x_beta); its wage columns are those of the fixed-beta unknowns
(x_W, x_R) at the same prices, and its last column is corrected by the Broyden updates
(and the safeguard) like any other error of the start.

:func:`exact_baseline_jacobian` (``Baseline.with_exact_jacobian()``, what ``hat sweep``
uses) replaces the kept Jacobian by the exact one of the fixed-beta unknowns at the
baseline, one forward-mode Jacobian: worth it for many scenarios (19 unilateral cuts of
ek_baseline at Na = 20: 2 exact Jacobians in all instead of 8, 91 iterations instead of
113), not for one.

``jacobian="exact"`` keeps the method before issue 29: an exact Jacobian at the
scenario's first point.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._equilibrium import _newton_system
from ._newton import value_and_jacobian
from ._results import check_choice
from ._unknowns import encode

__all__ = ["JACOBIAN_STARTS", "check_jacobian_start", "unknowns_count", "scenario_start",
           "exact_jacobians", "exact_baseline_jacobian"]

#: Where a scenario's Newton starts: "baseline" (the baseline's Jacobian, Broyden-updated,
#: the default) or "exact" (an exact Jacobian at the first point).
JACOBIAN_STARTS = ("baseline", "exact")


def check_jacobian_start(jacobian: str) -> str:
    """``jacobian`` if it is one of :data:`JACOBIAN_STARTS`, else ValueError naming it."""
    check_choice("jacobian", jacobian, JACOBIAN_STARTS)
    return jacobian


def unknowns_count(N: int, regime: str, has_rebates: bool) -> int:
    """Number of fixed-beta unknowns: N - 1 wages, one R (N under financial autarky) and,
    with rebates (tariffs or capital-account wedges), N rebates."""
    return N - 1 + (N if regime == "autarky" else 1) + (N if has_rebates else 0)


def scenario_start(baseline, has_rebates: bool, jacobian: str = "baseline", start=None,
                   regime: str | None = None):
    """The :class:`~hat_jax.Start` of a scenario of ``baseline`` (a
    :class:`~hat_jax.Baseline`): its prices, rebates and household state (or those of
    ``start``, a Start near the scenario's solution) and, with ``jacobian="baseline"``,
    its Jacobian where that fits the scenario's unknowns (``has_rebates``: whether the
    scenario's economy has rebate unknowns, from tariffs or wedges; ``regime``: the
    scenario's financial regime, default the baseline's); None otherwise."""
    check_jacobian_start(jacobian)
    start = baseline.start if start is None else start
    J = start.J
    n = unknowns_count(baseline.N, baseline.regime if regime is None else regime,
                       has_rebates)
    if jacobian == "exact" or J is None or np.shape(J) != (n, n) \
            or not np.all(np.isfinite(np.asarray(J))):
        return start._replace(J=None)
    return start


def exact_jacobians(history) -> int:
    """The exact Jacobians a Newton path computed (column ``jacobian`` of its history;
    rows of NaN, after the last iteration, count none)."""
    h = np.asarray(history, np.float64).reshape(-1, 4)
    return int(np.nansum(h[:, 3]))


@jax.jit
def _jacobian_at(economy, opts, x, state):
    f = lambda y: _newton_system(y, economy, opts, jnp.asarray(1.0, jnp.float64), state)
    return value_and_jacobian(f, x, opts.block)[1]


def exact_baseline_jacobian(baseline):
    """The exact Jacobian of the fixed-beta excess demands (goods j = 1..N-1, bonds, with
    tariffs the revenue conditions) in the unknowns x at the ``baseline``'s prices,
    rebates and household state (forward mode through the implicit derivatives)."""
    b = baseline
    opts = b.opts.resolved(b.economy).replace(verbose=False)
    x = encode(b.W, b.R, b.beta, b.economy, opts, b.T)
    return _jacobian_at(b.economy, opts, x, b.state)
