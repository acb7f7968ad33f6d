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

``jacobian="exact"`` keeps the method before issue 29: an exact Jacobian at the
scenario's first point.
"""

from __future__ import annotations

import numpy as np

from ._results import check_choice

__all__ = ["JACOBIAN_STARTS", "check_jacobian_start", "unknowns_count", "scenario_start",
           "exact_jacobians"]

#: Where a scenario's Newton starts: "baseline" (the baseline's Jacobian, Broyden-updated,
#: the default) or "exact" (an exact Jacobian at the first point).
JACOBIAN_STARTS = ("baseline", "exact")


def check_jacobian_start(jacobian: str) -> str:
    """``jacobian`` if it is one of :data:`JACOBIAN_STARTS`, else ValueError naming it."""
    check_choice("jacobian", jacobian, JACOBIAN_STARTS)
    return jacobian


def unknowns_count(N: int, regime: str, has_tariffs: bool) -> int:
    """Number of fixed-beta unknowns: N - 1 wages, one R (N under financial autarky) and,
    with tariffs, N rebates."""
    return N - 1 + (N if regime == "autarky" else 1) + (N if has_tariffs else 0)


def scenario_start(baseline, has_tariffs: bool, jacobian: str = "baseline"):
    """The :class:`~hat_jax.Start` of a scenario of ``baseline`` (a
    :class:`~hat_jax.Baseline`): its prices, rebates and household state and, with
    ``jacobian="baseline"``, its Jacobian where that fits the scenario's unknowns
    (``has_tariffs``: whether the scenario's economy has tariffs); None otherwise."""
    check_jacobian_start(jacobian)
    start = baseline.start
    J = start.J
    n = unknowns_count(baseline.N, baseline.regime, has_tariffs)
    if jacobian == "exact" or J is None or np.shape(J) != (n, n) \
            or not np.all(np.isfinite(np.asarray(J))):
        return start._replace(J=None)
    return start


def exact_jacobians(history) -> int:
    """The exact Jacobians a Newton path computed (column ``jacobian`` of its history;
    rows of NaN, after the last iteration, count none)."""
    h = np.asarray(history, np.float64).reshape(-1, 4)
    return int(np.nansum(h[:, 3]))
