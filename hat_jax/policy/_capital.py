"""Optimal capital controls (model.md s.15): country i's capital-account wedge omega_i
(households of i save and borrow at R_i = R + omega_i, the revenue rebated lump sum)
that maximizes its utilitarian welfare W_i = sum lambda_i V_i, the other countries'
wedges fixed, by exact derivatives through the equilibrium.

The first-order condition g(omega_i) = dW_i/domega_i = 0 is solved by the secant method
on the exact derivative (one forward-mode pass through the equilibrium per evaluation,
:func:`hat_jax.scenarios.wedge_welfare`), each step capped at ``max_step``, from the
baseline's wedge; each equilibrium is warm-started from the previous one. The result
reports the first-order residual g at the optimum and, with ``ev=True``, the EV of
every state of country i against the baseline (:func:`hat_jax.welfare.welfare_analysis`).
"""

from __future__ import annotations

from typing import NamedTuple

import sys

import jax
import jax.numpy as jnp
import numpy as np

from .._baseline import Baseline, as_baseline
from .._change import Change
from .._equilibrium import Equilibrium, EquilibriumOptions, Start
from .._results import ConvergenceError
from .. import scenarios as sc
from .. import welfare as wf

__all__ = ["OptimalWedge", "wedge_value_and_slope", "optimal_wedge"]


class OptimalWedge(NamedTuple):
    """Country i's optimal wedge.

    country: its label; wedge: omega_i at the optimum; wedges: the whole vector;
    welfare, welfare_base: W_i at the optimum and at the baseline's wedges;
    foc_residual: dW_i/domega_i at the optimum; iterations: derivative evaluations;
    converged: |step| <= xtol or |FOC| <= gtol; path: (omega_i, W_i, dW_i/domega_i) per
    evaluation; equilibrium: the equilibrium at the optimum; welfare_result: the
    :class:`~hat_jax.welfare.WelfareResult` (EV by state and aggregates) against the
    baseline, or None (``ev=False``); seconds: wall time; counterfactual: the
    :class:`~hat_jax.welfare.Counterfactual` from the baseline to the optimum (None
    with ``ev=False``).
    """

    country: str
    wedge: float
    wedges: np.ndarray
    welfare: float
    welfare_base: float
    foc_residual: float
    iterations: int
    converged: bool
    path: list
    equilibrium: Equilibrium
    welfare_result: object = None
    seconds: float = float("nan")
    counterfactual: object = None


def _value_and_slope(args, omega, direction, opts):
    W, dW, e = jax.jvp(lambda om: sc.wedge_welfare(args, om, opts), (omega,), (direction,),
                       has_aux=True)
    return W, dW, e


_value_and_slope_jit = jax.jit(_value_and_slope)


def wedge_value_and_slope(args: sc.WedgeArgs, omega, country: int,
                          opts: EquilibriumOptions):
    """(W [N], dW/domega_country [N], equilibrium) at the wedges ``omega``: every
    country's utilitarian welfare and its derivative with respect to one country's
    wedge, by one forward-mode pass (jitted; the implicit function theorem)."""
    omega = jnp.asarray(omega, jnp.float64)
    direction = jnp.zeros_like(omega).at[country].set(1.0)
    return _value_and_slope_jit(args, omega, direction, opts)


def optimal_wedge(baseline: Baseline | Equilibrium, country,
                  opts: EquilibriumOptions | None = None, *, max_iter: int = 25,
                  xtol: float = 1e-10, gtol: float = 1e-9, first_step: float = 1e-3,
                  max_step: float = 5e-3, ev: bool = True, throw: bool = True,
                  verbose: bool = False) -> OptimalWedge:
    """Country ``country``'s wedge maximizing its utilitarian welfare (the others' fixed
    at the baseline's; see the module docstring). ``opts``: the equilibrium options
    (default: the baseline's); throw: raise ConvergenceError (the last step and FOC
    residual) if the search or an equilibrium did not converge."""
    import time

    t0 = time.perf_counter()
    b = as_baseline(baseline, opts)
    opts = b.options(opts).replace(verbose=False)
    i = wf.country_index(b.economy, country)
    args = sc.wedge_args(b)
    omega = np.asarray(args.economy.wedges, np.float64).copy()
    path, W0, ok = [], None, False
    prev = None
    eq = None
    for it in range(max_iter):
        W, dW, eq = wedge_value_and_slope(args, omega, i, opts)
        if not bool(eq.converged):
            break
        w_i, f, g = float(omega[i]), float(W[i]), float(dW[i])
        W0 = f if W0 is None else W0
        path.append((w_i, f, g))
        if verbose:
            print(f"  omega_{b.economy.countries[i]} = {w_i:+.8f}  W = {f:.10f}  "
                  f"dW/domega = {g:+.3e}", file=sys.stderr, flush=True)
        if abs(g) <= gtol:
            ok = True
            break
        if prev is None or g == prev[1]:
            step = np.sign(g) * first_step
        else:
            step = -g * (w_i - prev[0]) / (g - prev[1])
            if step * g < 0:  # the secant points downhill (convex stretch): go uphill
                step = np.sign(g) * first_step
        step = float(np.clip(step, -max_step, max_step))
        prev = (w_i, g)
        args = args._replace(start=Start.from_equilibrium(eq, jacobian=False))
        if abs(step) <= xtol:
            ok = True
            break
        omega[i] = w_i + step
    if not ok and throw:
        last = path[-1] if path else (float("nan"),) * 3
        why = "an equilibrium did not converge" if eq is not None and \
            not bool(eq.converged) else f"{max_iter} evaluations"
        raise ConvergenceError(f"optimal wedge of {b.economy.countries[i]}: not converged "
                               f"({why}); last omega {last[0]!r}, dW/domega {last[2]!r}")
    result = cf = None
    best = path[-1] if path else (float("nan"),) * 3
    omega[i] = best[0]
    if ev and path:
        change = Change.wedges(b.economy, omega, label=f"wedge_{b.economy.countries[i]}")
        cf = wf.counterfactual(b, change, opts, throw=throw)
        result = wf.welfare_analysis(cf, i, throw=False)
    return OptimalWedge(b.economy.countries[i], best[0], omega.copy(), best[1],
                        float("nan") if W0 is None else W0, best[2], len(path), ok, path,
                        eq, result, time.perf_counter() - t0, cf)
