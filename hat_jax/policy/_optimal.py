"""Optimal tariffs of one country, others' tariffs fixed (model.md s.14).

Country i chooses either one uniform rate t_i. = t on every partner or one rate per
partner to maximise its utilitarian welfare W_i(t) = sum lambda_i V_i (beta fixed; W, R
and the rebates T re-solved). Bounds t >= 0 by reparametrisation: t = softplus(s).
BFGS on s with exact gradients through the equilibrium (implicit function
theorem, one reverse pass per evaluation); the first-order-condition residual reported
is |sum_j dW_i/dt_ij| (uniform) or max_j |dW_i/dt_ij| (by partner) at the optimum
(interior: zero; a rate at the bound t = 0 would show a negative derivative, which
softplus reaches only asymptotically). Each evaluation warm-starts the equilibrium
from the previous one.
"""

from __future__ import annotations

import sys
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._baseline import Baseline, as_baseline
from .._equilibrium import Equilibrium, EquilibriumOptions, Start, solve_equilibrium
from .._results import ConvergenceError
from .._tariffs import validate_tariffs
from ..welfare import country_index, utilitarian_welfare
from ._gradient import policy_options, tariff_args, value_and_gradient
from ._mean_ev import ev_reference, mean_ev_value_and_gradient
from ._options import COARSE_NA, MODES, OBJECTIVES, TariffOptions, tariff_options

__all__ = ["COARSE_NA", "MODES", "OBJECTIVES", "OptimalTariff", "TariffOptions", "TariffStage",
           "coarse_equilibrium", "optimal_tariff", "solve_stage", "stage_plan", "tariff_row",
           "softplus_inverse"]



def softplus_inverse(t):
    """s with softplus(s) = t (t > 0)."""
    t = np.asarray(t, np.float64)
    return t + np.log(-np.expm1(-t))


def tariff_row(s, base, i: int, partners):
    """``base`` with importer i's tariffs on ``partners`` set to softplus(s) (s: one
    number for a uniform rate, or one per partner)."""
    rates = jnp.broadcast_to(jax.nn.softplus(s), (len(partners),))
    return base.at[i, jnp.asarray(partners)].set(rates)


class OptimalTariff(NamedTuple):
    """Country i's optimal tariffs: country (index), mode, tariffs (the N x N matrix at
    the optimum, others' rows as given), rates (i's row), welfare (W_i at the optimum) and
    welfare0 (at the starting matrix; both the objective: W_i, or the mean EV as a
    fraction with ``objective="mean_ev"``), foc_residual (max_j |dW_i/dt_ij|), gradient (i's
    row of dW_i/dt), converged (the equilibrium at the optimum and foc_residual <= gtol),
    steps (BFGS or Newton steps; with a coarse stage, those on the given grid), seconds
    (all stages), coarse (the coarse grid's Na, 0 without that stage), hessian (the
    quasi-Newton d2W_i/dt_ij dt_ik in i's rates at the optimum, 1 x 1 along the uniform
    rate: Newton's finite-difference start plus BFGS updates, or BFGS's secant estimate
    mapped from s to t), start (the equilibrium at the optimum as a
    :class:`~hat_jax.Start`: prices, rebates, household state and Newton Jacobian; pass
    it to :func:`~hat_jax.welfare.counterfactual` as ``start=`` to re-solve the optimum
    from there rather than from the baseline, which may be far away)."""

    country: int
    mode: str
    tariffs: np.ndarray
    rates: np.ndarray
    welfare: float
    welfare0: float
    foc_residual: float
    gradient: np.ndarray
    converged: bool
    steps: int
    seconds: float
    objective: str = "utilitarian"
    coarse: int = 0
    hessian: np.ndarray | None = None
    start: Start | None = None


def _bfgs(fg, s0, gtol: float, max_steps: int, H0=None):
    """Minimise f by BFGS with Armijo backtracking from s0; ``fg(s) -> (f, df/ds, stop)``
    (stop: the first-order condition holds to tolerance); H0: the initial inverse Hessian
    (default: a scaled identity, rescaled after the first step). Returns (s, f, g, steps,
    the last inverse Hessian).

    Hand-written rather than optimistix / jax.scipy: each evaluation is one equilibrium
    solve, and warm-starting it from the previous evaluation's prices and household
    state (carried on the host) cuts its Newton iterations from about six to one or
    two; optimistix's minimise cannot carry such state between evaluations (and its
    closure conversion leaks the equilibrium's traced options through custom_jvp)."""
    s = np.asarray(s0, np.float64)
    f, g, stop = fg(s)
    H = np.eye(s.size) * (0.5 / max(float(np.max(np.abs(g))), 1e-12)) if H0 is None else H0
    steps = 0
    while not stop and steps < max_steps:
        step = -H @ g
        if g @ step >= 0:  # not a descent direction: restart from a scaled gradient step
            H = np.eye(s.size) * (0.5 / max(float(np.max(np.abs(g))), 1e-12))
            step = -H @ g
        step *= min(1.0, 2.0 / max(float(np.max(np.abs(step))), 1e-300))  # cap: 2 in s
        a = 1.0
        for _ in range(30):
            f1, g1, stop1 = fg(s + a * step)
            if np.isfinite(f1) and (f1 <= f + 1e-4 * a * (g @ step) or _flat_progress(
                    f, f1, np.max(np.abs(g)), np.max(np.abs(g1)))):
                break
            a *= 0.5
        else:
            break  # no decrease along the step: the FOC residual says how close we are
        ds, dg = a * step, g1 - g
        if steps == 0 and dg @ ds > 0 and H0 is None:
            H = np.eye(s.size) * (dg @ ds) / (dg @ dg)
        if dg @ ds > 1e-16 * np.linalg.norm(dg) * np.linalg.norm(ds):
            rho = 1.0 / (dg @ ds)
            V = np.eye(s.size) - rho * np.outer(ds, dg)
            H = V @ H @ V.T + rho * np.outer(ds, ds)
        s, f, g, stop = s + ds, f1, g1, stop1
        steps += 1
    return s, f, g, steps, H


#: relative size of the objective's rounding noise (the equilibrium is solved to 1e-10;
#: welfare then moves in about its 11th digit from one warm start to the next)
F_NOISE = 1e-10


def _flat_progress(f, f1, foc, foc1) -> bool:
    """Accept a trial point (minimising f) that does not raise f beyond its noise level and
    at least halves the first-order residual: near the optimum the Armijo test compares
    increases below the objective's rounding noise (about F_NOISE |f|) and would reject
    the very steps that converge."""
    return bool(f1 <= f + F_NOISE * max(1.0, abs(f)) and foc1 <= 0.5 * foc)


def _kkt(x, g):
    """First-order residual of max f s.t. x >= 0 (projected gradient): |g_j| where
    x_j > 0, max(g_j, 0) at the bound x_j = 0."""
    return float(np.max(np.where(x > 0, np.abs(g), np.maximum(g, 0.0))))


def _newton(fg, x0, gtol: float, max_steps: int, h: float = 1e-5, progress=None,
            H0=None):
    """Maximise f over x >= 0 by projected Newton steps from x0; ``fg(x) -> (f, df/dx,
    ok)`` (exact gradient; every call warm-starts the next equilibrium). The Hessian:
    H0 if given, else forward differences of the exact gradient once at x0 (n gradient
    evaluations), then BFGS updates of it; negative definiteness enforced on its
    eigenvalues; steps capped at 0.2 in x, Armijo backtracking, rates at the bound with
    a negative derivative held there. Returns (x, f, g, steps, gradient evaluations for
    the Hessian, the last Hessian or None).

    Hand-written for the reason given in :func:`_bfgs` (the warm start lives on the
    host); with n ~ 18 unknowns of very different curvature (a small partner's tariff
    moves welfare far less than a large one's) BFGS from a scaled identity needs many
    steps, which the finite-difference Hessian at the start removes."""
    x = np.maximum(np.asarray(x0, np.float64), 0.0)
    f, g, ok = fg(x)
    n = x.size
    H, evals = (None if H0 is None else np.array(H0, np.float64)), 0
    steps = 0
    while _kkt(x, g) > gtol / 10 and steps < max_steps:
        if H is None:  # only when a step is needed (a best response may start at it)
            H = np.empty((n, n))
            for k in range(n):
                e = np.zeros(n)
                e[k] = h
                H[:, k] = (fg(x + e)[1] - g) / h
            H = 0.5 * (H + H.T)  # (the last column's equilibrium warm-starts the step)
            evals = n
        free = (x > 0) | (g > 0)
        lam, U = np.linalg.eigh(H[np.ix_(free, free)])
        lam = np.minimum(lam, -1e-8 * max(float(np.max(np.abs(lam))), 1e-300))
        dx = np.zeros(n)
        dx[free] = -U @ ((U.T @ g[free]) / lam)
        dx *= min(1.0, 0.2 / max(float(np.max(np.abs(dx))), 1e-300))
        a = 1.0
        for _ in range(20):
            x1 = np.maximum(x + a * dx, 0.0)
            f1, g1, ok1 = fg(x1)
            if ok1 and np.isfinite(f1) and (f1 >= f + 1e-4 * (g @ (x1 - x)) or _flat_progress(
                    -f, -f1, _kkt(x, g), _kkt(x1, g1))):
                break
            a *= 0.5
        else:
            break  # no increase along the step: the FOC residual says how close we are
        s_, y_ = x1 - x, g1 - g
        if -(y_ @ s_) > 1e-16 * np.linalg.norm(y_) * np.linalg.norm(s_):
            # BFGS update of B = -H (positive definite) with (s, -y)
            Bs = -H @ s_
            H = H + np.outer(Bs, Bs) / (s_ @ Bs) + np.outer(y_, y_) / (y_ @ s_)
        x, f, g = x1, f1, g1
        steps += 1
        if progress is not None:
            progress(steps, _kkt(x, g))
    return x, f, g, steps, evals, H


class TariffStage(NamedTuple):
    """One stage of an optimal-tariff solve (:func:`stage_plan`): its equilibrium (the
    fine grid's, or a coarse grid's), the reference of a mean-EV objective (None: the
    stage's ``eq``), mode, optimizer ("bfgs" / "newton"), gtol, and how it starts:
    ``start`` (the first rates; None: from the previous stage's optimum, ``start_from``
    "mean" (one rate: the mean partner rate) or "rates" (each partner's), floored at
    1e-3), ``hessian``: whether the previous stage's Hessian starts the optimizer."""

    name: str
    eq: Baseline | Equilibrium
    reference: Baseline | Equilibrium | None
    mode: str
    method: str
    gtol: float
    start: np.ndarray | None = None
    start_from: str = "mean"
    hessian: bool = False


def optimal_tariff(eq: Baseline | Equilibrium, country,
                   options: TariffOptions | None = None, *, tariffs=None,
                   start: float | np.ndarray | None = None,
                   reference: Baseline | Equilibrium | None = None,
                   **fields) -> OptimalTariff:
    """The tariffs of ``country`` (``mode`` "uniform", or "by_partner") maximising its
    ``objective`` ("utilitarian": W_i = sum lambda V_i; "mean_ev": the lambda-weighted
    mean EV against ``reference``, default ``eq``, see :mod:`hat_jax.policy._mean_ev`),
    the other rows of ``tariffs`` (default: the baseline's own) fixed, t >= 0.

    ``eq``: a :class:`~hat_jax.Baseline` (an Equilibrium is converted once). options:
    :class:`TariffOptions`; ``fields`` (mode=..., gtol=..., coarse=...) replace
    single fields of it. Its ``method``: "bfgs" (the default for uniform: BFGS on t =
    softplus(s)) or "newton" (the default by partner: projected Newton in t with a
    finite-difference Hessian of the exact gradient at the start, then BFGS updates; see
    :func:`_newton`). start: the first rate (> 0; a number or one per partner); default
    0.1 for uniform, and by partner the uniform optimum (solved first, its time
    included). coarse: without a ``start``, first solve the same problem on a coarse
    asset grid of ``coarse`` points (``eq``'s economy and beta, prices re-solved; FOC
    to 100 gtol) and start from its optimum and its Hessian: the fine grid then needs a
    few evaluations (by partner, instead of the uniform stage and n for a
    finite-difference Hessian); the result is the fine grid's own optimum, its FOC
    checked there (default: COARSE_NA = 20 when the grid has at least 3 COARSE_NA
    points; 0: no coarse stage). The stages are :func:`stage_plan`'s, each solved by
    :func:`solve_stage`. Stops when the FOC residual (uniform: |sum_j dW_i/dt_ij|; by
    partner: max_j |dW_i/dt_ij|, at a rate on the bound t = 0 only a positive
    derivative counts) is below gtol / 10, or after ``max_steps`` steps; ``converged``:
    the equilibrium (and, for mean_ev, every EV root) at the optimum converged and the
    FOC residual <= ``gtol``. progress: lines on stderr. The first equilibrium starts
    from ``eq`` (which may carry tariffs: pass the equilibrium at the current tariffs
    as a warm start), each later one from the previous evaluation."""
    options = tariff_options(options, **fields)
    i = country_index(eq.economy, country)
    t0 = time.perf_counter()
    plan = stage_plan(eq, i, options, start, reference)
    result = None
    for stage in plan:
        if options.progress and stage.name.startswith("coarse") and stage is plan[0]:
            print(f"  {eq.economy.countries[i]}: coarse stage on a {stage.eq.economy.Na}-"
                  "point asset grid", file=sys.stderr, flush=True)
        result = solve_stage(stage, i, tariffs, options, result)
    coarse = plan[0].eq.economy.Na if plan[0].name.startswith("coarse") else 0
    return result._replace(seconds=time.perf_counter() - t0, coarse=coarse)


def stage_plan(eq: Equilibrium, i: int, options: TariffOptions, start=None,
               reference: Equilibrium | None = None) -> tuple[TariffStage, ...]:
    """The stages of :func:`optimal_tariff` as data: with a coarse grid, the coarse
    problem (by partner: its uniform optimum first), then the fine grid from the coarse
    optimum and Hessian; without one, by partner and no ``start``, the uniform optimum,
    then by partner from it; else one stage from ``start`` (default 0.1)."""
    mode, method, gtol = options.mode, options.optimizer, options.gtol
    Na_c = _coarse_na(eq.economy, options.coarse, start)
    if start is not None:
        start = np.asarray(start, np.float64)
        if np.any(~np.isfinite(start)) or np.any(start <= 0):
            raise ValueError(f"start must be a positive tariff rate, got start={start!r}")
    default = np.asarray(0.1)
    if Na_c:
        eq_opts = options.equilibrium
        ref_c = None if reference is None else coarse_equilibrium(reference, Na_c, eq_opts)
        eq_c = coarse_equilibrium(eq, Na_c, eq_opts)
        coarse = (TariffStage("coarse", eq_c, ref_c, mode, method, 100 * gtol, default),)
        if mode == "by_partner":
            coarse = (TariffStage("coarse uniform", eq_c, ref_c, "uniform", "bfgs",
                                  100 * gtol, default),
                      TariffStage("coarse", eq_c, ref_c, mode, method, 100 * gtol))
        last = TariffStage("fine", eq, reference, mode, method, gtol,
                           start_from="mean" if mode == "uniform" else "rates", hessian=True)
        return coarse + (last,)
    if start is None and mode == "by_partner":
        return (TariffStage("uniform", eq, reference, "uniform", "bfgs", gtol, default),
                TariffStage("fine", eq, reference, mode, method, gtol))
    return (TariffStage("fine", eq, reference, mode, method, gtol,
                        default if start is None else start),)


def _stage_start(stage: TariffStage, i: int, previous: OptimalTariff | None):
    """(first rates, starting Hessian) of a stage."""
    if stage.start is not None or previous is None:
        return np.asarray(0.1 if stage.start is None else stage.start, np.float64), None
    rates = np.delete(previous.rates, i)
    start = (np.maximum(rates, 1e-3) if stage.start_from == "rates"
             else np.asarray(max(float(np.mean(rates)), 1e-3)))
    return start, (previous.hessian if stage.hessian else None)


def solve_stage(stage: TariffStage, i: int, tariffs, options: TariffOptions,
                previous: OptimalTariff | None = None) -> OptimalTariff:
    """One stage of :func:`optimal_tariff`: country i's optimum on ``stage.eq`` from the
    stage's start (or the ``previous`` stage's optimum and Hessian)."""
    eq, mode, objective, gtol = stage.eq, stage.mode, options.objective, stage.gtol
    start, H0 = _stage_start(stage, i, previous)
    econ = eq.economy
    N = econ.N
    base = econ.tariff_matrix if tariffs is None else validate_tariffs(tariffs, N,
                                                                       econ.countries)
    base = jnp.asarray(base, jnp.float64)
    partners = tuple(j for j in range(N) if j != i)
    t0 = time.perf_counter()
    p_opts = policy_options(eq, options.equilibrium)
    evaluate = _evaluator(eq, i, objective, stage.reference, options.ev, p_opts)
    w0 = _start_value(eq, i, tariffs, objective, stage.reference, evaluate, base)
    seen: dict = {}
    at = _recorder(evaluate, i, mode, partners, seen, options.progress, econ.countries[i],
                   objective)

    def fg_s(s):  # BFGS on s, t = softplus(s): minimise -f
        t = np.asarray(tariff_row(jnp.asarray(s), base, i, partners))
        val, g_t, ok, foc = at(t)
        if not ok:
            return np.inf, np.full(s.shape, np.nan), False
        return -val, -g_t * np.asarray(jax.nn.sigmoid(jnp.asarray(s))), foc <= gtol / 10

    def fg_x(x):  # Newton on the rates x >= 0: maximise f
        rates = np.broadcast_to(x, (N - 1,))
        t = np.asarray(base.at[i, jnp.asarray(partners)].set(jnp.asarray(rates)))
        val, g_t, ok, _ = at(t)
        return (val, g_t, ok) if ok else (-np.inf, np.full(x.shape, np.nan), False)

    x0 = np.broadcast_to(start, (1,) if mode == "uniform" else (N - 1,)).copy()
    if stage.method == "bfgs":
        s0 = softplus_inverse(x0)
        s, _, _, steps, Hinv = _bfgs(fg_s, s0, gtol, options.max_steps,
                                     _inverse_hessian_s(H0, s0))
        H = _hessian_t(Hinv, s)
        t_last = np.asarray(tariff_row(jnp.asarray(s), base, i, partners))
    else:
        report = None if not options.progress else lambda k, r: print(
            f"  Newton step {k}: FOC residual {r:.3e}", file=sys.stderr, flush=True)
        x, _, _, steps, _, H = _newton(fg_x, x0, gtol, options.max_steps, progress=report,
                                       H0=H0)
        t_last = np.asarray(base.at[i, jnp.asarray(partners)].set(
            jnp.broadcast_to(jnp.asarray(x), (N - 1,))))
    last = _last_accepted(seen, t_last, x0, econ.countries[i], stage.name)
    t_opt = last["t"]
    return OptimalTariff(i, mode, t_opt, t_opt[i].copy(), last["val"], w0, last["foc"],
                         last["grad"].copy(), bool(last["ok"] and last["foc"] <= gtol),
                         int(steps), time.perf_counter() - t0, objective, 0, H,
                         last["start"])


def _last_accepted(seen: dict, t_last, x0, name: str, stage: str) -> dict:
    """The record of the optimizer's last accepted point; ConvergenceError when no point
    was evaluated (the tariff equilibrium at the first rates x0 did not converge)."""
    if t_last.tobytes() in seen:
        return seen[t_last.tobytes()]
    rates = ", ".join(f"{100 * r:.4g}%" for r in np.atleast_1d(x0))
    raise ConvergenceError(
        f"optimal tariff of {name} ({stage} stage): the tariff equilibrium at the starting "
        f"rates ({rates}) did not converge, so no point was evaluated; a rate far from "
        "the baseline's is out of Newton's reach from it: start nearer the baseline "
        "(start=None starts at 10%) or from a coarse stage (coarse=NA)")


def _evaluator(eq, i, objective, reference, ev_opts, p_opts):
    """t -> (value, gradient [N, N], converged, warm start): the stage's objective, each
    call warm-started from the last successful one."""
    warm = [tariff_args(eq)]
    if objective == "mean_ev":
        ref = ev_reference(eq if reference is None else reference, i, ev_opts)
        fn = lambda t: mean_ev_value_and_gradient(warm[0], t, ref, p_opts)
    else:
        w = np.zeros(eq.economy.N)
        w[i] = 1.0
        fn = lambda t: value_and_gradient(warm[0], t, w, p_opts)

    def evaluate(t, keep: bool = False):
        out = fn(t)
        if keep and out[2]:
            warm[0] = out[3]
        return out

    return evaluate


def _start_value(eq, i, tariffs, objective, reference, evaluate, base) -> float:
    """The objective at the starting matrix (welfare0)."""
    if tariffs is None and objective == "utilitarian":  # the baseline's welfare, no solve
        return float(utilitarian_welfare(as_baseline(eq).equilibrium)[i])
    if tariffs is None and reference is None:  # EV of the baseline against itself
        return 0.0
    return evaluate(base)[0]


def _recorder(evaluate, i, mode, partners, seen, progress, name, objective):
    """t -> (value, gradient in i's rates, ok, foc) at the matrix t, recorded in
    ``seen`` (and printed with ``progress``)."""
    idx = list(partners)

    def at(t):
        val, grad, ok, warm = evaluate(t, keep=True)
        if not ok:
            return np.inf, None, False, np.inf
        g_t = grad[i, idx] if mode == "by_partner" else np.atleast_1d(grad[i, idx].sum())
        x = t[i, idx] if mode == "by_partner" else t[i, idx[:1]]
        foc = _kkt(np.asarray(x), g_t)
        seen[np.asarray(t).tobytes()] = dict(t=t, val=val, grad=grad[i], ok=ok, foc=foc,
                                             start=_start_of(warm))
        if progress:
            print(f"  {name}: {objective} {val:.10f}, FOC residual {foc:.3e}",
                  file=sys.stderr, flush=True)
        return val, g_t, ok, foc

    return at


def _start_of(warm):
    """The :class:`~hat_jax.Start` of an evaluation's warm start (a
    :class:`~hat_jax.policy.TariffArgs`), its Jacobian dropped where it is the NaN
    placeholder of an evaluation that computed none."""
    start = warm.start
    J = start.J
    if J is not None and not np.all(np.isfinite(np.asarray(J))):
        start = start._replace(J=None)
    return start


def _inverse_hessian_s(H_t, s):
    """BFGS's start (the inverse Hessian of -W in s, t = softplus(s)) from a Hessian of W
    in t: -(D H_t D)^{-1}, D = diag(sigmoid(s)) (the term in dW/dt vanishes near the
    optimum); None unless H_t is negative definite."""
    if H_t is None or np.shape(H_t) != (s.size, s.size):
        return None
    D = np.diag(np.asarray(jax.nn.sigmoid(jnp.asarray(s))))
    B = -D @ H_t @ D
    return np.linalg.inv(B) if np.all(np.linalg.eigvalsh(0.5 * (B + B.T)) > 0) else None


def _hessian_t(Hinv, s):
    """The Hessian of W in t from BFGS's inverse Hessian of -W in s (inverse of
    :func:`_inverse_hessian_s`)."""
    D_inv = np.diag(1.0 / np.asarray(jax.nn.sigmoid(jnp.asarray(s))))
    return -D_inv @ np.linalg.inv(Hinv) @ D_inv


def _coarse_na(econ, coarse, start) -> int:
    """The coarse stage's grid (0: none); see :func:`optimal_tariff` (the type of
    ``coarse`` is checked by :class:`TariffOptions`)."""
    if coarse is None:
        return COARSE_NA if start is None and econ.Na >= 3 * COARSE_NA else 0
    if coarse >= econ.Na:
        raise ValueError(f"coarse must be 0 (no coarse stage) or a number of asset grid points "
                         f"from 3 to Na - 1 = {econ.Na - 1}, got coarse={coarse!r}")
    if coarse and start is not None:
        raise ValueError("coarse: a coarse stage chooses the start; pass start or coarse, "
                         f"not both (got start={start!r}, coarse={coarse!r})")
    return int(coarse)


def coarse_equilibrium(eq: Baseline | Equilibrium, Na: int,
                       opts: EquilibriumOptions | None = None) -> Equilibrium:
    """The baseline's economy (its tariffs included) on an ``Na``-point asset grid at its
    beta, with wages, R and rebates re-solved from its: the start of a coarse stage."""
    b = as_baseline(eq)
    return solve_equilibrium(b.economy.replace(Na=Na), policy_options(b, opts),
                             Start(W=b.W, R=b.R, T=b.T))
