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

Nash wedges (:func:`nash_wedges`): every country's wedge a best response to the others',
the stacked first-order conditions G_i(omega) = dW_i/domega_i = 0 solved by Broyden's
method (:func:`hat_jax.policy.nash_tariffs`' solver), each G the diagonal of the exact
Jacobian dW/domega (:func:`wedge_welfare_jacobian`, forward mode through one
equilibrium). :func:`compare_wedge_tariff` sets country i's optimal wedge beside its
optimal uniform tariff: its welfare gain, its mean EV and its partners'.
"""

from __future__ import annotations

from typing import NamedTuple

import sys
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

from .._baseline import Baseline, as_baseline
from .._change import Change
from .._equilibrium import Equilibrium, EquilibriumOptions, Start
from .._results import ConvergenceError
from .. import scenarios as sc
from ..welfare import utilitarian_welfare
from .. import welfare as wf
from ._nash import broyden_focs

__all__ = ["OptimalWedge", "wedge_value_and_slope", "optimal_wedge", "wedge_welfare_jacobian",
           "NashWedges", "nash_wedges", "WedgeTariffComparison", "compare_wedge_tariff"]


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


def _welfare_jacobian(args, omega, opts):
    return jax.jacfwd(lambda om: sc.wedge_welfare(args, om, opts), has_aux=True)(omega)


_welfare_jacobian_jit = jax.jit(_welfare_jacobian)


def wedge_welfare_jacobian(args: sc.WedgeArgs, omega, opts: EquilibriumOptions):
    """(W [N], J [N x N], equilibrium) at the wedges ``omega``: every country's
    utilitarian welfare W_i = sum lambda_i V_i and J_ik = dW_i/domega_k, exact (forward
    mode through the equilibrium, the implicit function theorem; jitted). The first-order
    conditions of Nash wedges are its diagonal, dW_i/domega_i = 0."""
    omega = jnp.asarray(omega, jnp.float64)
    J, e = _welfare_jacobian_jit(args, omega, opts)
    return utilitarian_welfare(e), J, e


class NashWedges(NamedTuple):
    """Nash wedges: countries; wedges (omega_i, N); foc (dW_i/domega_i at them, N);
    foc_residual (max |foc|); welfare, welfare_base (W_i at Nash and at the baseline,
    financial globalization); converged (max |foc| <= gtol); iterations (Broyden steps);
    step (the last step's largest component); equilibrium (at Nash); counterfactual
    (baseline -> Nash, None with ``ev=False``); ev ({country:
    :class:`~hat_jax.welfare.WelfareSummary`}, the EV of every country at Nash against
    the baseline, or None); seconds."""

    countries: tuple
    wedges: np.ndarray
    foc: np.ndarray
    foc_residual: float
    welfare: np.ndarray
    welfare_base: np.ndarray
    converged: bool
    iterations: int
    step: float
    equilibrium: Equilibrium
    counterfactual: object = None
    ev: dict | None = None
    seconds: float = float("nan")


class _EquilibriumFailed(Exception):
    pass


def _wedge_focs(args, opts):
    """G(omega) = diag dW/domega for :func:`broyden_focs`, warm-started from the last
    evaluation; ``last`` keeps the last converged point (omega, W, G, equilibrium)."""
    last = SimpleNamespace(args=args, omega=None, W=None, g=None, eq=None)

    def G(omega):
        W, J, e = wedge_welfare_jacobian(last.args, omega, opts)
        if not bool(e.converged):
            raise _EquilibriumFailed(f"the equilibrium at wedges {omega!r} did not converge")
        g = np.diag(np.asarray(J)).copy()
        last.omega, last.W, last.g, last.eq = np.array(omega, np.float64), np.asarray(W), g, e
        last.args = args._replace(start=Start.from_equilibrium(e, jacobian=False))
        return g

    return G, last


def nash_wedges(baseline: Baseline | Equilibrium, opts: EquilibriumOptions | None = None,
                *, start=None, gtol: float = 1e-9, max_iter: int = 30, h: float = 1e-5,
                max_step: float = 5e-3, ev: bool = True, throw: bool = True,
                progress: bool = False) -> NashWedges:
    """Every country's capital-account wedge a best response to the others' (model.md
    s.15): G_i(omega) = dW_i/domega_i = 0 for all i at once, W_i = sum lambda_i V_i,
    by Broyden's method on the exact G (:func:`wedge_welfare_jacobian`; Jacobian of G
    by forward differences of step ``h``, steps capped at ``max_step``) from ``start``
    (default: the baseline's wedges, zeros under financial globalization). ev: the EV of
    every country at Nash against the baseline. throw: raise ConvergenceError (the FOC
    residual, the iterations, the wedges) if max |G| > gtol after ``max_iter`` steps or
    an equilibrium did not converge; throw=False returns the last converged point with
    converged False."""
    import time

    t0 = time.perf_counter()
    b = as_baseline(baseline, opts)
    opts = b.options(opts).replace(verbose=False)
    args = sc.wedge_args(b)
    N, names = b.N, tuple(b.economy.countries)
    x0 = np.asarray(args.economy.wedges if start is None else
                    sc.validate_wedges(start, N, names), np.float64)
    G, last = _wedge_focs(args, opts)
    why, it, step = None, 0, float("nan")
    try:
        _, it, step, _ = broyden_focs(G, x0, gtol, max_iter, h=h, max_step=max_step,
                                      lower=None, progress=progress, what="Nash wedges")
    except _EquilibriumFailed as exc:
        why = str(exc)
    if last.omega is None:
        raise ConvergenceError(f"Nash wedges: {why}")
    omega, g = last.omega, last.g
    res = float(np.max(np.abs(g)))
    ok = why is None and res <= gtol
    if not ok and throw:
        raise ConvergenceError(
            f"Nash wedges: not converged ({why or f'{max_iter} iterations'}); max "
            f"|dW_i/domega_i| {res:.3e} > gtol {gtol:g} after {it} iterations at wedges "
            f"{dict(zip(names, omega.round(8).tolist()))}")
    cf = evs = None
    if ev:
        cf = wf.counterfactual(b, Change.wedges(b.economy, omega, label="nash_wedges"),
                               opts, throw=throw)
        evs = sc.ev_by_country(cf)
    W_base = np.asarray(utilitarian_welfare(b.equilibrium))
    return NashWedges(names, omega, g, res, last.W, W_base, ok, it, step, last.eq,
                      cf, evs, time.perf_counter() - t0)


class WedgeTariffComparison(NamedTuple):
    """Country i's optimal wedge beside its optimal uniform tariff (the other countries'
    instruments 0). country; wedge (:class:`OptimalWedge`); tariff
    (:class:`~hat_jax.policy.OptimalTariff`); rows: {"wedge", "tariff"} each {"policy"
    (omega_i, or i's uniform rate), "welfare_gain" (W_i at the optimum minus at the
    baseline), "ev" ({country: :class:`~hat_jax.welfare.WelfareSummary`}: the EV of i and
    of each partner against the baseline; a partner's loss is its negative mean_gain)};
    counterfactuals: {"wedge", "tariff"}: baseline -> optimum."""

    country: str
    wedge: OptimalWedge
    tariff: object
    rows: dict
    counterfactuals: dict


def compare_wedge_tariff(baseline: Baseline | Equilibrium, country,
                         opts: EquilibriumOptions | None = None, *, partners=None,
                         wedge: OptimalWedge | None = None, tariff=None,
                         tariff_options=None) -> WedgeTariffComparison:
    """Country ``country``'s two unilateral instruments against the baseline: its optimal
    capital-account wedge (:func:`optimal_wedge`) and its optimal uniform tariff
    (:func:`~hat_jax.policy.optimal_tariff`, ``tariff_options``), each with its
    utilitarian welfare gain and the EV of ``country`` and of ``partners`` (default every
    other country; labels or indices). ``wedge``/``tariff``: optima already solved (not
    re-solved)."""
    from ._optimal import optimal_tariff
    from ._options import tariff_options as make_options

    b = as_baseline(baseline, opts)
    opts = b.options(opts)
    i = wf.country_index(b.economy, country)
    others = [j for j in range(b.N) if j != i] if partners is None else \
        [wf.country_index(b.economy, c) for c in partners]
    if wedge is None:
        wedge = optimal_wedge(b, i, opts, ev=False)
    if tariff is None:
        tariff = optimal_tariff(b, i, make_options(tariff_options, equilibrium=opts))
    econ = b.economy
    changes = {"wedge": Change.wedges(econ, wedge.wedges, label=f"optimal_wedge_{econ.countries[i]}"),
               "tariff": Change.tariffs(econ, tariff.tariffs,
                                        label=f"optimal_tariff_{econ.countries[i]}")}
    cfs = {k: wf.counterfactual(b, ch, opts, start=tariff.start if k == "tariff" else None)
           if k == "tariff" or wedge.counterfactual is None else wedge.counterfactual
           for k, ch in changes.items()}
    W0 = float(np.asarray(utilitarian_welfare(b.equilibrium))[i])
    rows = {}
    for k, cf in cfs.items():
        rate = wedge.wedge if k == "wedge" else float(np.mean(np.delete(tariff.rates, i)))
        W = float(np.asarray(utilitarian_welfare(cf.new))[i])
        rows[k] = {"policy": rate, "welfare_gain": W - W0,
                   "ev": sc.ev_by_country(cf, [i, *others])}
    return WedgeTariffComparison(econ.countries[i], wedge, tariff, rows, cfs)
