"""Welfare (model.md section 10): counterfactuals, equivalent variation by household,
aggregates, the ACR benchmark, and welfare derivatives by automatic differentiation.

Counterfactuals. A new trade-cost matrix d' (helpers: :func:`unilateral_cut`,
:func:`global_cut`, :func:`bilateral_cut`, or any user matrix checked by
:func:`check_costs`) is solved as a new stationary equilibrium under financial
globalization with beta fixed at the baseline's value and wages and R solved
(:func:`counterfactual`), warm-started from the baseline prices and household state.

Equivalent variation. For each state (a, z) of country i, lambda_tau(a, z) solves

    V_old(a, z; lambda) = V_new(a, z),

where V_old(.; lambda) is the ex-ante value (logit option value included) at the OLD
prices when income R a + W_i z is multiplied by lambda in every period, i.e. the
household problem with R -> lambda R and W_i -> lambda W_i (the Euler equation then
uses lambda R; same asset grid and borrowing limit; the transfer T, zero in every
preset, is not scaled). lambda_tau - 1 > 0 is a gain, in percent of income (in the
few states with negative income R a + W z, V_old first falls with lambda: the root in
the direction of the welfare change is taken, see :func:`equivalent_variation`).
:func:`equivalent_variation` solves all Na x Nz scalar equations at once: one
safeguarded Newton-secant iteration per state, vmapped over states (``lax.map`` over
chunks of ``batch_size`` states), each evaluation an inexact, warm-started household
solve whose tolerance tightens as the root is approached (the last one at the full
household tolerance). First guesses: household solutions at ``nodes`` values of lambda
(shared by all states) interpolated by cubics, with the exact slope dV_old/dlambda at
lambda = 1 (one implicit-function jvp) to place the nodes. Derivatives of lambda_tau
with respect to V_new and to the old prices are exact (implicit function theorem on
the scalar root, :func:`ev_roots`).

Aggregates (:func:`welfare_summary`): the lambda-weighted mean gain
sum lambda(a,z) (lambda_tau(a,z) - 1) under the baseline stationary distribution, means
by quintile of household expenditure e(a,z) = sum_j p_ij c_ij pi_ij (mass at quintile
boundaries split exactly), the share of households that gain, and the change of
utilitarian welfare W_i = sum_{a,z} lambda_i(a,z) V_i(a,z).

ACR benchmark (:func:`acr_gain`): (1/theta) log(pi_ii / pi'_ii) with theta > 0 the
model's own trade-weighted elasticity (:func:`model_trade_elasticity`: theta_ij =
-d log(M_ij/M_ii)/d log d_ij at fixed W, R and distribution, households re-solved, from
:mod:`hat_jax.elasticities`; theta_bar_i = sum_{j != i} theta_ij pi_ij / sum_{j != i}
pi_ij) or a user theta.

Welfare derivatives (general equilibrium: W, R re-solved with beta fixed, through
:func:`hat_jax.solve_equilibrium_jit` by the implicit function theorem; or partial
equilibrium at fixed W, R): :func:`welfare_gradient` (dW_i / d log d_kl for all pairs,
reverse mode), :func:`welfare_jvp` (household values, distribution, prices along one
direction of log d), :func:`ev_derivative` (the local EV derivative
d lambda_tau(a,z) / d log d = (dV_i(a,z)/d log d) / (dV_old(a,z; lambda)/d lambda at 1)),
and :func:`welfare_decomposition` (Proposition 4). Since V = v_ii + psi_ii - sigma log
pi_ii exactly, the envelope theorem gives, state by state,

    dV = (I - beta Q_ii)^{-1} [ -sigma_i d log pi_ii                      (substitution)
                                + u'(c_ii)/p_ii a dR                      (asset trade)
                                + u'(c_ii)/p_ii (z dW_i - c_ii dp_ii) ]   (wage / home price)

with Q_ii the transition when the home variety is chosen (lottery of a'_ii, then P), and
dW_i = sum lambda dV + sum dlambda V (the last term: reallocation of lambda). The
discretised model obeys the envelope theorem only up to interpolation error; the
decomposition reports the remainder. Log utility: pi_ii(a,z) does not depend on the state
and dW_i/d log d_ij = -(1/(theta (1 - beta))) d log pi_ii / d log d_ij with theta = 1/sigma_i
at fixed W and R (and for every household).
"""

from __future__ import annotations

import dataclasses
import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import elasticities as _elasticities
from .distribution import stationary_distribution, transition_matrix
from .equilibrium import (
    Equilibrium,
    EquilibriumOptions,
    solve_equilibrium,
    solve_equilibrium_jit,
)
from .household import (
    HouseholdOptions,
    HouseholdProblem,
    anderson_iterate,
    household_fixed_point,
    household_operator,
    marginal_utility,
    policies,
    reference_residual,
    solve_household,
)
from .params import Economy, household_problems
from .results import ConvergenceError

__all__ = [
    "Counterfactual", "EquivalentVariation", "WelfareSummary", "WelfareResult",
    "WelfareTangent", "WelfareDecomposition",
    "country_index", "check_costs", "scale_costs", "unilateral_cut", "global_cut",
    "bilateral_cut", "counterfactual", "counterfactual_options", "equivalent_variation",
    "ev_roots", "value_slope", "scaled_values", "check_ev", "welfare_summary",
    "utilitarian_welfare", "expenditure", "weighted_quantile_means",
    "model_trade_elasticity", "acr_gain", "welfare_analysis", "welfare_gradient",
    "welfare_jvp", "ev_derivative", "ev_slope", "welfare_decomposition", "pair_direction",
    "derivative_options",
]

EV_TOL = 1e-10


# ----------------------------------------------------------------------------- costs
def country_index(economy: Economy, country) -> int:
    """Index of ``country`` (a label such as an ISO3 code, case-insensitive, or an int) in
    ``economy.countries`` (:func:`hat_jax.elasticities.country_index`)."""
    return _elasticities.country_index(economy.countries, country)


def _check_cut(cut) -> float:
    cut = float(cut)
    if not (np.isfinite(cut) and 0.0 < cut < 1.0):
        raise ValueError(f"cut must lie in (0, 1) (a proportional reduction of trade costs, "
                         f"0.10 = 10%), got cut={cut!r}")
    return cut


def check_costs(economy: Economy, d_new) -> np.ndarray:
    """Validate a new trade-cost matrix: N x N (importer rows), finite, d >= 1, d_ii = 1."""
    d = np.asarray(d_new, dtype=np.float64)
    N = economy.N
    if d.shape != (N, N):
        raise ValueError(f"the new trade-cost matrix must be {N} x {N} (importer rows, exporter "
                         f"columns, countries {', '.join(economy.countries)}), got shape {d.shape}")
    if not np.all(np.isfinite(d)):
        i, j = np.argwhere(~np.isfinite(d))[0]
        raise ValueError(f"the new trade-cost matrix has a non-finite entry d[{i}, {j}]")
    labels = economy.countries
    if np.any(d < 1.0):
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        raise ValueError(f"trade costs must satisfy d >= 1: d[{labels[i]}, {labels[j]}] = "
                         f"{d[i, j]!r} < 1")
    diag = np.diag(d)
    if np.any(diag != 1.0):
        k = int(np.argmax(np.abs(diag - 1.0)))
        raise ValueError(f"domestic trade costs must be 1, got d[{labels[k]}, {labels[k]}] = "
                         f"{diag[k]!r}")
    return d


def scale_costs(economy: Economy, factor, floor: float | None = 1.0):
    """d'_ij = max(floor, factor_ij d_ij) for i != j, d'_ii = 1.

    Returns (d', clamped) with ``clamped`` the list of (importer, exporter) labels whose
    scaled cost fell below ``floor`` and was set to it (model.md s.1 requires d >= 1, the
    trade-cost function clamps at 1 the same way). ``floor=None``: no clamp (then a
    result below 1 is refused by :func:`check_costs`).
    """
    d = np.asarray(economy.d, np.float64)
    f = np.broadcast_to(np.asarray(factor, np.float64), d.shape)
    off = ~np.eye(economy.N, dtype=bool)
    new = np.where(off, f * d, 1.0)
    clamped = []
    if floor is not None:
        low = off & (new < floor)
        clamped = [(economy.countries[i], economy.countries[j]) for i, j in np.argwhere(low)]
        new = np.where(low, floor, new)
    return check_costs(economy, new), clamped


def unilateral_cut(economy: Economy, country, cut: float, floor: float | None = 1.0):
    """``country`` cuts its import costs: d'_ij = (1 - cut) d_ij for i = country, all j != i
    (floored at 1; see :func:`scale_costs`). Returns (d', clamped pairs)."""
    i = country_index(economy, country)
    cut = _check_cut(cut)
    f = np.ones((economy.N, economy.N))
    f[i, :] = 1.0 - cut
    return scale_costs(economy, f, floor)


def global_cut(economy: Economy, cut: float, floor: float | None = 1.0):
    """All international costs fall: d'_ij = (1 - cut) d_ij, i != j (floored at 1)."""
    cut = _check_cut(cut)
    return scale_costs(economy, np.full((economy.N, economy.N), 1.0 - cut), floor)


def bilateral_cut(economy: Economy, importer, exporter, cut: float, symmetric: bool = False,
                  floor: float | None = 1.0):
    """d'[importer, exporter] = (1 - cut) d[importer, exporter] (and the reverse pair when
    ``symmetric``), floored at 1."""
    i, j = country_index(economy, importer), country_index(economy, exporter)
    if i == j:
        raise ValueError(f"bilateral cut needs two different countries, got {importer!r} twice")
    cut = _check_cut(cut)
    f = np.ones((economy.N, economy.N))
    f[i, j] = 1.0 - cut
    if symmetric:
        f[j, i] = 1.0 - cut
    return scale_costs(economy, f, floor)


# --------------------------------------------------------------------- counterfactual
class Counterfactual(NamedTuple):
    """A baseline and a counterfactual stationary equilibrium (beta fixed, W and R solved).

    baseline, new: :class:`~hat_jax.Equilibrium`; d: the new cost matrix; opts: the
    options of the counterfactual solve; timings: compile_s / run_s of that solve.
    """

    baseline: Equilibrium
    new: Equilibrium
    d: np.ndarray
    opts: EquilibriumOptions
    timings: dict


def _regime(eq: Equilibrium) -> str:
    return "autarky" if np.ndim(eq.R) == 1 else "global"


def counterfactual_options(opts: EquilibriumOptions | None = None, regime: str = "global"
                           ) -> EquilibriumOptions:
    """``opts`` (default: EquilibriumOptions()) with unknown = "R" and the given regime."""
    base = EquilibriumOptions() if opts is None else opts
    kw = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    kw.update(unknown="R", regime=regime)
    return EquilibriumOptions(**kw)


def fixed_beta_economy(eq: Equilibrium) -> Economy:
    """The baseline economy with beta set to the baseline's equilibrium beta."""
    return eq.economy.replace(beta=jnp.asarray(eq.beta, jnp.float64))


def counterfactual(eq: Equilibrium, d_new, opts: EquilibriumOptions | None = None, *,
                   throw: bool = True, timings: dict | None = None) -> Counterfactual:
    """Solve the stationary equilibrium with trade costs ``d_new`` (model.md s.10).

    Beta is fixed at the baseline's (``eq.beta``, solved or given); wages (mean one) and
    R are solved (one world bond market, or R_i per country if the baseline is under
    financial autarky), starting from the baseline prices and household state. ``opts``
    supplies tolerances and the like; its ``unknown`` / ``regime`` are overridden.
    throw: raise ConvergenceError (residual, iterations) if the solve fails.
    """
    d_new = check_costs(eq.economy, d_new)
    cf_opts = counterfactual_options(opts, _regime(eq))
    econ = fixed_beta_economy(eq).replace(d=jnp.asarray(d_new))
    t: dict = {}
    new = solve_equilibrium(econ, cf_opts, W0=np.asarray(eq.W), R0=np.asarray(eq.R),
                            beta0=float(eq.beta), hh_state0=eq.world.households.state,
                            throw=throw, timings=t)
    if timings is not None:
        timings.update(t)
    return Counterfactual(eq, new, d_new, cf_opts, t)


# ----------------------------------------------------------------- equivalent variation
class EquivalentVariation(NamedTuple):
    """lambda_tau(a, z) of one country and diagnostics (all [Na, Nz]).

    lam: the EV; converged: per state; residual: |V_old(lam) - V_new| / slope (the
    distance to the root in units of lambda); iterations: household solves per state;
    slope: dV_old/dlambda at lambda = 1; country: the index.
    """

    lam: jax.Array
    converged: jax.Array
    residual: jax.Array
    iterations: jax.Array
    slope: jax.Array
    country: int


def _scaled(problem: HouseholdProblem, lam) -> HouseholdProblem:
    """Income R a + W z scaled by lam: R -> lam R, W -> lam W (grid, limit, T unchanged)."""
    return problem._replace(R=lam * problem.R, W=lam * problem.W)


def _values(y, problem, hopts):
    return policies(y, problem, hopts)[4]


def value_slope(problem: HouseholdProblem, y, hopts: HouseholdOptions):
    """(V[a,z], dV/dlambda[a,z], dy/dlambda flattened) at lambda = 1: the value, its exact
    derivative with respect to the income scaling and that of the household state (one
    implicit-function jvp of the household fixed point from the solved state ``y``)."""

    def f(lam):
        prob = _scaled(problem, lam)
        yy, _, _ = household_fixed_point(y, prob, hopts)
        return _values(yy, prob, hopts), _flat(yy)

    one = jnp.asarray(1.0, jnp.float64)
    (V, _), (dV, dx) = jax.jvp(f, (one,), (jnp.ones_like(one),))
    return V, dV, dx


class _Roots(NamedTuple):
    lam: jax.Array
    converged: jax.Array
    residual: jax.Array
    iterations: jax.Array
    y: tuple


def _flat(y):
    return jnp.concatenate([y[0].reshape(-1), y[1].reshape(-1)])


def _unflat(x, like):
    n = like[0].size
    return x[:n].reshape(like[0].shape), x[n:].reshape(like[1].shape)


def _inner_solve(x0, problem, lam, tol_y, like, hopts, max_iter: int):
    """Household fixed point at income scaling lam from the flat warm start x0, to the
    sup-norm step |F(y) - y| <= tol_y (Anderson, as in hat_jax.household). Returns
    (x, |F(y) - y|, V[a, z], iterations)."""
    prob = _scaled(problem, lam)
    fn = lambda x: _flat(household_operator(_unflat(x, like), prob, hopts))
    x, err, it = anderson_iterate(fn, x0, tol_y, max_iter, hopts.anderson_memory)
    return x, err, _values(_unflat(x, like), prob, hopts), it


class _Start(NamedTuple):
    """First guess of one state: lam0, slope s0 of f there, expected |f(lam0)| (sets the
    first inner tolerance), household state x0 and its slope dx/dlam."""

    lam0: jax.Array
    s0: jax.Array
    f_exp: jax.Array
    x0: jax.Array
    x_slope: jax.Array


def _root_state(problem, hopts, tol, max_iter, inner_max_iter, like, x_base, a_i, z_i, v_t,
                f0, s_eff, start: _Start):
    """Solve f(lam) = V_old(a_i, z_i; lam) - v_t = 0 for one state.

    Safeguarded Newton-secant with bracketing, each evaluation an inexact household
    solve. V_old is not monotone in lam for every state (at the borrowing limit with
    low productivity, income R a + W z is negative and scaling it up first lowers V),
    so the root sought is the first sign change of f in the direction of the welfare
    change (lam > 1 for a gain, lam < 1 for a loss). ``s_eff``: the exact slope at 1,
    floored at a quarter of the country's median (step sizes). f(1) = f0 is known
    without a solve.
    The first evaluation is at ``start.lam0`` with slope ``start.s0``; the slope is
    then updated by the secant of the last two evaluations when their difference is
    well above the evaluation noise. Before a sign change the search extrapolates
    (Newton step in the search direction, at most 4 times the last step, else doubling
    it); once the root is bracketed (by values whose sign is certain given the noise),
    a step outside the bracket is replaced by bisection.

    Inexact evaluations: the household fixed point is solved to |F(y) - y| <= tol_y
    with tol_y = 1e-3 (1 - beta) x (the expected |f| at the new point: |f| of the last
    evaluation, or start.f_exp for the first), between 0.1 hh_tol and 1e-5, so that the
    value error, at most about 2 tol_y / (1 - beta), stays near 0.1% of the distance to
    the root; each warm start is the last state extrapolated along the secant of the
    household states in lam. Converged when an evaluation at the full tolerance
    0.1 hh_tol has |f| / |slope| <= tol (the distance to the root in lam), or |f| below
    the value error that tolerance allows, 2 (0.1 hh_tol) / (1 - beta) (states whose
    slope is too small for tol in lam). Returns (lam, residual |f|/|slope|, converged,
    evaluations, state); the baseline state ``x_base`` when lam = 1 already solves it.
    """
    dtype = start.x0.dtype
    one = jnp.asarray(1.0, dtype)
    floor = 0.1 * hopts.tol
    beta = problem.beta
    direction = jnp.where(f0 > 0, -1.0, 1.0)
    err0 = jnp.abs(f0) / s_eff
    tol_of = lambda f: jnp.clip(1e-3 * (1.0 - beta) * jnp.abs(f), floor, 1e-5)
    noise_of = lambda t: 2.0 * t / (1.0 - beta)

    def cond(c):
        return (~c["done"]) & (c["it"] < max_iter)

    def body(c):
        lam, tol_y = c["lam"], c["tol_y"]
        x, err_y, V, _ = _inner_solve(c["x_start"], problem, lam, tol_y, like, hopts,
                                      inner_max_iter)
        f = V[a_i, z_i] - v_t
        ok = (err_y <= tol_y) & jnp.isfinite(f) & (lam > 0) & jnp.all(jnp.isfinite(x))
        precise = tol_y <= floor
        eps = noise_of(tol_y)
        x_prev, f_prev = c["x_prev"], c["f_prev"]
        first = c["it"] == 0
        # slope: the secant of the last two evaluations where it is well resolved
        dlam = lam - x_prev
        sec = (f - f_prev) / dlam
        resolved = ok & ~first & jnp.isfinite(sec) & (dlam != 0) \
            & ((eps + c["eps_prev"]) < 0.05 * jnp.abs(f - f_prev))
        s_est = jnp.where(resolved, sec, c["s_est"])
        err = jnp.where(ok & precise, jnp.abs(f) / jnp.abs(s_est), jnp.inf)
        better = err < c["best_err"]
        # done: within tol of the root, or |f| below what the household tolerance can
        # resolve (states with a small slope dV/dlambda)
        done = (err <= tol) | (ok & precise & (jnp.abs(f) <= eps))
        # bracket [xa, xb]: f(xa) certainly of the sign of f0, f(xb) certainly of the other
        certain = ok & (jnp.abs(f) > eps)
        was = c["bracketed"]
        crossed = certain & ~was & (f * f0 < 0)
        same = f * f0 > 0
        xa = jnp.where(crossed, c["xa"], jnp.where(certain & same, lam, c["xa"]))
        xb = jnp.where(crossed | (certain & was & ~same), lam, c["xb"])
        bracketed = was | crossed
        newton = lam - f / s_est
        lo, hi = jnp.minimum(xa, xb), jnp.maximum(xa, xb)
        inside = jnp.isfinite(newton) & (newton > lo) & (newton < hi)
        in_bracket = jnp.where(inside, newton, 0.5 * (xa + xb))
        step = jnp.where(first, lam - 1.0, dlam)
        good = jnp.isfinite(newton) & ((newton - lam) * direction > 0) \
            & (jnp.abs(newton - lam) <= 4.0 * jnp.abs(step))
        good = good | (jnp.abs(newton - lam) <= eps / jnp.abs(s_est))  # at the root
        ext = jnp.where(good, newton, lam + 2.0 * step)
        nxt = jnp.where(bracketed, in_bracket, ext)
        nxt = jnp.where(ok, nxt, 0.5 * (lam + x_prev))  # failed solve: retreat halfway
        nxt = jnp.where(done, lam, nxt)
        # warm start of the next evaluation: extrapolate the state along its secant in
        # lam (the start's slope after the first evaluation)
        y_slope = jnp.where(first, start.x_slope, (x - c["y_last"]) / (lam - c["lam_last"]))
        dl = nxt - lam
        use = ok & jnp.all(jnp.isfinite(y_slope)) \
            & (first | (jnp.abs(dl) <= 2.0 * jnp.abs(lam - c["lam_last"])))
        x_ok = jnp.where(ok, x, c["x_start"])
        return dict(
            lam=nxt, x_prev=jnp.where(ok, lam, x_prev), f_prev=jnp.where(ok, f, f_prev),
            eps_prev=jnp.where(ok, eps, c["eps_prev"]), s_est=s_est,
            y_last=jnp.where(ok, x, c["y_last"]), lam_last=jnp.where(ok, lam, c["lam_last"]),
            x_start=jnp.where(use, x_ok + dl * y_slope, x_ok),
            tol_y=jnp.where(ok, tol_of(f), tol_y),
            xa=xa, xb=xb, bracketed=bracketed, it=c["it"] + 1, done=done,
            best_lam=jnp.where(better, lam, c["best_lam"]),
            best_err=jnp.where(better, err, c["best_err"]),
            best_x=jnp.where(better, x, c["best_x"]))

    init = dict(lam=start.lam0, x_prev=one, f_prev=f0, eps_prev=noise_of(floor),
                s_est=start.s0, y_last=start.x0, lam_last=start.lam0, x_start=start.x0,
                tol_y=tol_of(start.f_exp), xa=one, xb=one, bracketed=jnp.asarray(False),
                it=jnp.asarray(0, jnp.int32), done=err0 <= tol, best_lam=one,
                best_err=err0, best_x=x_base)
    c = lax.while_loop(cond, body, init)
    return c["best_lam"], c["best_err"], c["done"], c["it"], c["best_x"]


def _node_solutions(problem, x_base, x_dot, lam1, like, hopts, K: int):
    """Household solutions at K equally spaced lam covering 1 and the first-order
    guesses ``lam1`` (25% margin), one of them exactly 1; solved one after another, each
    warm-started from the previous one extrapolated along their secant. Returns
    (nodes[K], V[K, a, z], x[K, n])."""
    lo = jnp.minimum(1.0, jnp.min(lam1))
    hi = jnp.maximum(1.0, jnp.max(lam1))
    pad = 0.25 * (hi - lo) + 1e-4
    lo, hi = jnp.maximum(lo - pad, 0.05), hi + pad
    h = (hi - lo) / (K - 2)
    nodes = 1.0 + h * (jnp.floor((lo - 1.0) / h) + jnp.arange(K))
    floor = 0.1 * hopts.tol

    def step(carry, lam):
        x_prev, lam_prev, slope = carry
        x0 = x_prev + (lam - lam_prev) * slope
        x, _, V, _ = _inner_solve(x0, problem, lam, floor, like, hopts, hopts.max_iter)
        return (x, lam, (x - x_prev) / (lam - lam_prev)), (V, x)

    _, (V, X) = lax.scan(step, (x_base - h * x_dot, 1.0 - h, x_dot), nodes)
    return nodes, V, X


def _node_start(nodes, V_nodes, X_nodes, x_base, x_dot, f0, v_t, s_eff):
    """First guess of one state from the node solutions: the root of the cubic through the
    four nodes around the first sign change of V(lam) - v_t in the search direction
    (that of the welfare change; Newton on the cubic inside that interval); the state interpolated by the same cubic.
    Falls back to the Newton step from 1 when no sign change lies among the nodes."""
    K = nodes.shape[0]
    g = V_nodes - v_t  # [K]
    direction = jnp.where(f0 > 0, -1.0, 1.0)
    k = jnp.arange(K - 1)
    change = g[:-1] * g[1:] <= 0
    side = jnp.where(direction > 0, nodes[1:] > 1.0 + 1e-14, nodes[:-1] < 1.0 - 1e-14)
    valid = change & side
    kstar = jnp.argmin(jnp.where(valid, direction * k, K * 2))
    found = jnp.any(valid)
    j0 = jnp.clip(kstar - 1, 0, K - 4)
    idx = j0 + jnp.arange(4)
    xs, gs = nodes[idx], g[idx]
    a, b = nodes[kstar], nodes[kstar + 1]

    def lagrange(l):
        d = l - xs
        w = jnp.stack([jnp.prod(jnp.where(jnp.arange(4) == m, 1.0, d / (xs[m] - xs)))
                       for m in range(4)])
        return w

    def cubic(l):
        return jnp.dot(lagrange(l), gs)

    ga, gb = g[kstar], g[kstar + 1]
    lin = a - ga * (b - a) / (gb - ga)
    lin = jnp.where(jnp.isfinite(lin), lin, 0.5 * (a + b))

    def newton(l, _):
        val, der = jax.jvp(cubic, (l,), (jnp.ones_like(l),))
        l_new = l - val / der
        return jnp.clip(jnp.where(jnp.isfinite(l_new), l_new, l), jnp.minimum(a, b),
                        jnp.maximum(a, b)), None

    lam_c, _ = lax.scan(newton, lin, None, length=8)
    _, s_c = jax.jvp(cubic, (lam_c,), (jnp.ones_like(lam_c),))
    w, dw = jax.jvp(lagrange, (lam_c,), (jnp.ones_like(lam_c),))
    x_c = w @ X_nodes[idx]
    xs_c = dw @ X_nodes[idx]
    # expected |f| at the guess: the gap between the cubic and the linear interpolant
    lin_at = ga + (gb - ga) * (lam_c - a) / (b - a)
    f_exp_c = jnp.maximum(jnp.abs(cubic(lam_c) - lin_at), 1e-12)
    good = found & jnp.isfinite(lam_c) & (s_c * jnp.sign(gb - ga) >= 0) \
        & jnp.all(jnp.isfinite(x_c))
    # no sign change among the nodes: extrapolate by the secant of the two outermost
    # nodes in the search direction if it points the right way, else the Newton step at 1
    e1 = jnp.where(direction > 0, K - 1, 0)
    e0 = jnp.where(direction > 0, K - 2, 1)
    s_end = (g[e1] - g[e0]) / (nodes[e1] - nodes[e0])
    lam_e = nodes[e1] - g[e1] / s_end
    x_sl = (X_nodes[e1] - X_nodes[e0]) / (nodes[e1] - nodes[e0])
    ext_ok = ~found & jnp.isfinite(lam_e) & ((lam_e - nodes[e1]) * direction > 0) \
        & (lam_e > 0)
    lam1 = 1.0 - f0 / s_eff
    pick = lambda a_, b_, c_: jnp.where(good, a_, jnp.where(ext_ok, b_, c_))
    return _Start(
        lam0=pick(lam_c, lam_e, lam1),
        s0=pick(jnp.where(s_c != 0, s_c, s_eff), s_end, s_eff),
        f_exp=pick(f_exp_c, 0.1 * jnp.abs(g[e1]), 0.1 * jnp.abs(f0)),
        x0=pick(x_c, X_nodes[e1] + (lam_e - nodes[e1]) * x_sl, x_base + (lam1 - 1.0) * x_dot),
        x_slope=pick(xs_c, x_sl, x_dot))


def _solve_roots(problem, y_base, V_base, V_target, slope, x_dot, tol, hopts, max_iter,
                 batch_size, nodes):
    """All states of one country: lax.map over chunks of ``batch_size`` states, vmapped
    inside a chunk. Returns _Roots with the household state of each state's root."""
    Na, Nz = V_base.shape
    S = Na * Nz
    a_idx, z_idx = jnp.divmod(jnp.arange(S), Nz)
    f0 = (V_base - V_target).reshape(-1)
    v_t = V_target.reshape(-1)
    slope = slope.reshape(-1)
    slope_typ = jnp.nanmedian(jnp.abs(slope))
    s_eff = jnp.maximum(slope, 0.25 * slope_typ)
    x_base = _flat(y_base)
    like = y_base
    inner = min(hopts.max_iter, 500)
    lam1 = 1.0 - f0 / s_eff
    if nodes >= 4:
        lk, Vk, Xk = _node_solutions(problem, x_base, x_dot, lam1, like, hopts, nodes)
        Vk = Vk.reshape(nodes, S)
    else:
        lk = Vk = Xk = None

    def one(x):
        a_i, z_i, vt, f, se, s_ = x
        if nodes >= 4:
            st = _node_start(lk, Vk[:, s_], Xk, x_base, x_dot, f, vt, se)
        else:
            l1 = 1.0 - f / se
            st = _Start(l1, se, 0.1 * jnp.abs(f), x_base + (l1 - 1.0) * x_dot, x_dot)
        lam, err, done, it, xs = _root_state(problem, hopts, tol, max_iter, inner, like,
                                             x_base, a_i, z_i, vt, f, se, st)
        y = _unflat(xs, like)
        hh_res = reference_residual(y, _scaled(problem, lam), hopts)
        ok = done & (hh_res <= hopts.tol)
        return lam, ok, err, it, y

    # states in order of their slope at 1, so that the few slow ones (small or negative
    # slope, near the borrowing limit) share chunks: a vmapped loop runs as long as its
    # slowest member
    order = jnp.argsort(slope / slope_typ)
    inv = jnp.argsort(order)
    xs = (a_idx, z_idx, v_t, f0, s_eff, jnp.arange(S))
    xs = jax.tree_util.tree_map(lambda x: x[order], xs)
    out = lax.map(one, xs, batch_size=min(batch_size, S))
    lam, ok, err, it, y = jax.tree_util.tree_map(lambda x: x[inv], out)
    shape = lambda x: x.reshape(Na, Nz)
    return _Roots(shape(lam), shape(ok), shape(err), shape(it), y)


@partial(jax.custom_jvp, nondiff_argnums=(6, 7, 8))
def ev_roots(problem, y_base, V_base, V_target, slope, x_dot, hopts, batch_size=25, nodes=40,
             tol=EV_TOL, max_iter=40):
    """lambda_tau[a, z] solving V_old(a, z; lambda) = V_target[a, z] for one country.

    problem: the country's HouseholdProblem at the OLD prices; y_base, V_base: its solved
    household state and value (lambda = 1); slope, x_dot: dV/dlambda and the flattened
    dy/dlambda at 1 (:func:`value_slope`). max_iter: household solves per state (traced:
    changing it does not recompile); batch_size: states solved together (vmap); nodes: household solutions on a grid of
    lambda that give every state its first guess (cubic interpolation; < 4: start from
    the Newton step at 1). Returns (lam, converged, residual, iterations).
    Derivatives (implicit function theorem, state by state): dlam = (dV_target -
    dV_old/dproblem . dproblem) / (dV_old/dlambda at lam), with the household
    derivatives at each state's own lambda (``hopts.tangent_solver``; states one after
    another, one factorisation each: costly on large grids; see :func:`ev_derivative`
    for the local derivative at a zero change).
    """
    r = _solve_roots(problem, y_base, V_base, V_target, slope, x_dot, tol, hopts, max_iter,
                     batch_size, nodes)
    return r.lam, r.converged, r.residual, r.iterations


@ev_roots.defjvp
def _ev_roots_jvp(hopts, batch_size, nodes, primals, tangents):
    problem, y_base, V_base, V_target, slope, x_dot, tol, max_iter = primals
    t_problem, _, _, t_target, _, _, _, _ = tangents
    r = _solve_roots(problem, y_base, V_base, V_target, slope, x_dot, tol, hopts, max_iter,
                     batch_size, nodes)
    Na, Nz = V_base.shape
    a_idx, z_idx = jnp.divmod(jnp.arange(Na * Nz), Nz)

    def one(args):
        lam, y, a_i, z_i = args

        def V_at(l, prob):
            pr = _scaled(prob, l)
            yy, _, _ = household_fixed_point(y, pr, hopts)
            return _values(yy, pr, hopts)[a_i, z_i]

        # both directions share one factorisation of the household's implicit system
        t_l = jnp.array([1.0, 0.0], lam.dtype)
        t_p = jax.tree_util.tree_map(lambda t: jnp.stack([jnp.zeros_like(t), t]), t_problem)
        d = jax.vmap(lambda a, b: jax.jvp(V_at, (lam, problem), (a, b))[1])(t_l, t_p)
        return d[0], d[1]

    dlam, dp = lax.map(one, (r.lam.reshape(-1), r.y, a_idx, z_idx))
    t_lam = (t_target.reshape(-1) - dp) / dlam
    f0 = lambda x: np.zeros(np.shape(x), jax.dtypes.float0)
    return ((r.lam, r.converged, r.residual, r.iterations),
            (t_lam.reshape(Na, Nz), f0(r.converged), jnp.zeros_like(r.residual),
             f0(r.iterations)))


def _household_options(economy: Economy, hh_tol: float, tangent_solver: str = "lu"):
    return HouseholdOptions(gamma=economy.gamma, Na=economy.Na, tol=hh_tol,
                            tangent_solver=tangent_solver)


def country_problem(eq: Equilibrium, i: int) -> HouseholdProblem:
    """Country i's household problem at the equilibrium prices (W, R, beta) of ``eq``."""
    probs = household_problems(eq.economy, eq.W, eq.R, eq.beta)
    return jax.tree_util.tree_map(lambda x: x[i], probs)


@partial(jax.jit, static_argnames=("hopts", "batch_size", "nodes"))
def _ev_jit(problem, y_base, V_base, V_target, tol, max_iter, hopts, batch_size, nodes):
    # starting information (no derivative needed: lambda_tau depends on problem, V_target)
    y_base, V_base = lax.stop_gradient((y_base, V_base))
    _, slope, x_dot = value_slope(lax.stop_gradient(problem), y_base, hopts)
    lam, conv, res, it = ev_roots(problem, y_base, V_base, V_target, slope, x_dot, hopts,
                                  batch_size, nodes, tol, max_iter)
    return lam, conv, res, it, slope


def _same_grid(e0: Economy, e1: Economy) -> bool:
    return (e0.Na == e1.Na and e0.Nz == e1.Nz and e0.gamma == e1.gamma
            and np.allclose(np.asarray(e0.A), np.asarray(e1.A), rtol=0, atol=0)
            and float(e0.phi) == float(e1.phi) and float(e0.amax) == float(e1.amax))


def equivalent_variation(baseline: Equilibrium, new, country, *, tol: float = EV_TOL,
                         max_iter: int = 40, batch_size: int = 25, nodes: int = 40,
                         hh_tol: float = 1e-10, throw: bool = True) -> EquivalentVariation:
    """lambda_tau(a, z) for every state of ``country`` (model.md s.10).

    baseline: the old equilibrium (its prices define V_old(.; lambda)); new: the
    counterfactual :class:`Equilibrium` (or a :class:`Counterfactual`, or V_new as an
    [Na, Nz] array on the same grid). tol: |V_old(lambda) - V_new| / (dV/dlambda) per
    state (1e-10). max_iter: household solves per state. batch_size: states solved
    together (vmapped; memory grows with it). nodes: household solutions on a grid of
    lambda that give every state its first guess (< 4: Newton step from 1). hh_tol:
    household tolerance. throw: raise ConvergenceError listing failed states (asset
    index, z index, residual, iterations); with throw=False inspect ``converged``
    (failed states keep their best finite iterate, never NaN).

    Which root: V_old(a, z; lambda) increases with lambda in almost every state, but
    where income R a + W z is negative (at the borrowing limit with low productivity)
    scaling it up first lowers V: V_old dips before it rises. The EV is the first root
    in the direction of the welfare change (lambda > 1 if V_new > V_old, < 1 if V_new <
    V_old), so that lambda_tau - 1 always has the sign of the gain and varies smoothly
    across neighbouring states (the other root, on the dip, can be several percent on
    the wrong side of 1). In those states lambda_tau does not tend to 1 as the change
    vanishes, and a proportional income gift is recovered only where V_old increases
    in lambda (:func:`ev_slope` > 0); :func:`ev_derivative` is NaN there.
    """
    if isinstance(new, Counterfactual):
        new = new.new
    i = country_index(baseline.economy, country)
    hh = baseline.world.households
    if isinstance(new, Equilibrium):
        if not _same_grid(baseline.economy, new.economy):
            raise ValueError("the counterfactual economy has a different asset grid or "
                             "income process than the baseline; EV needs the same grid")
        V_target = new.world.households.V[i]
    else:
        V_target = jnp.asarray(new, jnp.float64)
        if V_target.shape != hh.V[i].shape:
            raise ValueError(f"V_new must have shape {hh.V[i].shape} (Na, Nz), got "
                             f"{V_target.shape}")
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be positive, got tol={tol!r}")
    if int(max_iter) < 1 or int(batch_size) < 1:
        raise ValueError(f"max_iter and batch_size must be >= 1, got max_iter={max_iter!r}, "
                         f"batch_size={batch_size!r}")
    problem = country_problem(baseline, i)
    y_base = jax.tree_util.tree_map(lambda x: x[i], hh.state)
    hopts = _household_options(baseline.economy, hh_tol)
    lam, conv, res, it, slope = _ev_jit(problem, y_base, hh.V[i], V_target,
                                        jnp.asarray(tol, jnp.float64),
                                        jnp.asarray(max_iter, jnp.int32), hopts,
                                        int(batch_size), int(nodes))
    ev = EquivalentVariation(lam, conv, res, it, slope, i)
    if throw:
        check_ev(ev, baseline.economy.countries[i], tol)
    return ev


@partial(jax.jit, static_argnames=("hopts",))
def _scaled_values_jit(problem, y, lam, hopts):
    prob = _scaled(problem, lam)
    yy, res, _ = household_fixed_point(y, prob, hopts)
    return _values(yy, prob, hopts), res


def scaled_values(eq: Equilibrium, country, lam, hh_tol: float = 1e-10):
    """V_old(a, z; lam): country i's ex-ante values at the prices of ``eq`` when income
    R a + W_i z is scaled by ``lam`` in every period (the map whose root in lam is the EV).
    Raises ConvergenceError if the household problem does not converge."""
    i = country_index(eq.economy, country)
    problem = country_problem(eq, i)
    y = jax.tree_util.tree_map(lambda x: x[i], eq.world.households.state)
    V, res = _scaled_values_jit(problem, y, jnp.asarray(lam, jnp.float64),
                                _household_options(eq.economy, hh_tol))
    if not float(res) <= hh_tol:
        raise ConvergenceError(f"household problem at income scaling {float(lam)!r} did not "
                               f"converge: residual {float(res):.3e}")
    return V


def check_ev(ev: EquivalentVariation, label: str = "", tol: float = EV_TOL) -> None:
    """Raise ConvergenceError naming the states whose EV root did not converge."""
    conv = np.asarray(ev.converged)
    if conv.all():
        return
    bad = np.argwhere(~conv)
    res, its = np.asarray(ev.residual), np.asarray(ev.iterations)
    parts = [f"(a={a}, z={z}): residual {res[a, z]:.3e} after {int(its[a, z])} household "
             "solves" for a, z in bad[:8]]
    more = f" (and {len(bad) - 8} more)" if len(bad) > 8 else ""
    raise ConvergenceError(
        f"equivalent variation of {label or 'country ' + str(ev.country)}: {len(bad)} of "
        f"{conv.size} states did not converge to tolerance {tol:g}: " + "; ".join(parts)
        + more)


# -------------------------------------------------------------------------- aggregates
def utilitarian_welfare(eq: Equilibrium):
    """W_i = sum_{a,z} lambda_i(a,z) V_i(a,z) for every country (per household)."""
    return jnp.einsum("iaz,iaz->i", eq.world.distribution.lam, eq.world.households.V)


def expenditure(eq: Equilibrium, i: int):
    """Household expenditure e(a,z) = sum_j p_ij c_ij(a,z) pi_ij(a,z) of country i."""
    hh = eq.world.households
    p = eq.world.problems.p[i]
    return jnp.einsum("azj,azj,j->az", hh.c[i], hh.pi[i], p)


def weighted_quantile_means(x, key, w, n: int = 5):
    """Means of x within the n quantile groups of ``key`` under weights w (summing to one).
    A state straddling a boundary contributes its mass to both groups in proportion."""
    x, key, w = (np.asarray(v, np.float64).reshape(-1) for v in (x, key, w))
    order = np.argsort(key, kind="stable")
    x, w = x[order], w[order]
    w = w / w.sum()
    hi = np.cumsum(w)
    lo = hi - w
    out = np.empty(n)
    for q in range(n):
        a, b = q / n, (q + 1) / n
        m = np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0.0, None)
        out[q] = np.sum(m * x) / np.sum(m)
    return out


class WelfareSummary(NamedTuple):
    """Aggregates of the EV of one country (fractions, not percent).

    mean_gain: sum lambda (lambda_tau - 1) (baseline distribution); quintile_gains[5]:
    means by quintile of household expenditure (poorest first); share_gain: mass with
    V_new > V_old (the same as lambda_tau > 1); welfare_old / welfare_new: utilitarian W_i = sum lambda V (each at its
    own stationary distribution); welfare_change: their difference; welfare_change_fixed
    _dist: sum lambda_old (V_new - V_old).
    """

    mean_gain: float
    quintile_gains: np.ndarray
    share_gain: float
    welfare_old: float
    welfare_new: float
    welfare_change: float
    welfare_change_fixed_dist: float


def welfare_summary(baseline: Equilibrium, new: Equilibrium, ev: EquivalentVariation
                    ) -> WelfareSummary:
    """Aggregate the EV of country ``ev.country`` (see :class:`WelfareSummary`)."""
    i = ev.country
    lam_old = np.asarray(baseline.world.distribution.lam[i])
    gain = np.asarray(ev.lam) - 1.0
    mean = float(np.sum(lam_old * gain))
    quint = weighted_quantile_means(gain, np.asarray(expenditure(baseline, i)), lam_old)
    dV = np.asarray(new.world.households.V[i]) - np.asarray(baseline.world.households.V[i])
    share = float(np.sum(lam_old * (dV > 0)) / np.sum(lam_old))  # in [0, 1] exactly
    W0 = float(utilitarian_welfare(baseline)[i])
    W1 = float(utilitarian_welfare(new)[i])
    fixed = float(np.sum(lam_old * (np.asarray(new.world.households.V[i])
                                    - np.asarray(baseline.world.households.V[i]))))
    return WelfareSummary(mean, quint, share, W0, W1, W1 - W0, fixed)


# -------------------------------------------------------------------- ACR benchmark
def model_trade_elasticity(eq: Equilibrium, country, hh_tol: float = 1e-10):
    """(theta_ij for all j, theta_bar_i) of importer ``country`` as positive numbers:
    theta_ij = -d log(M_ij/M_ii)/d log d_ij at fixed W, R and distribution, households
    re-solved (model.md s.9; :func:`hat_jax.elasticities.trade_elasticities`, by AD);
    theta_ii = nan; theta_bar_i = sum_{j != i} theta_ij pi_ij / sum_{j != i} pi_ij."""
    i = country_index(eq.economy, country)
    te = _elasticities.trade_elasticities(eq, i, hh_tol=hh_tol)
    theta = -np.asarray(te.theta[0], np.float64)
    theta[i] = np.nan
    return theta, float(-te.theta_mean[0])


def acr_gain(home_share_old, home_share_new, theta):
    """ACR representative-agent gain (1/theta) log(pi_ii / pi'_ii) (log points; theta > 0)."""
    return float(np.log(float(home_share_old) / float(home_share_new)) / float(theta))


# -------------------------------------------------------------------- full analysis
class WelfareResult(NamedTuple):
    """Everything :func:`welfare_analysis` reports for one country (fractions; see
    :func:`welfare_result_json` for the percent JSON)."""

    country: int
    ev: EquivalentVariation
    summary: WelfareSummary
    theta_model: float
    theta_ij: np.ndarray
    acr_model: float
    acr_user: float
    theta_user: float
    home_share: float
    home_share_new: float
    timings: dict


def welfare_analysis(cf: Counterfactual, country, *, theta: float = 4.0, tol: float = EV_TOL,
                     batch_size: int = 25, throw: bool = True) -> WelfareResult:
    """EV by state, its aggregates and the ACR benchmarks for ``country`` in ``cf``."""
    if not (np.isfinite(theta) and theta > 0):
        raise ValueError(f"theta (user trade elasticity for ACR) must be > 0, got {theta!r}")
    i = country_index(cf.baseline.economy, country)
    t0 = time.perf_counter()
    ev = equivalent_variation(cf.baseline, cf.new, i, tol=tol, batch_size=batch_size,
                              throw=throw)
    jax.block_until_ready(ev.lam)
    t1 = time.perf_counter()
    summ = welfare_summary(cf.baseline, cf.new, ev)
    theta_ij, bar = model_trade_elasticity(cf.baseline, i)
    t2 = time.perf_counter()
    h0 = float(cf.baseline.world.aggregates.trade_shares[i, i])
    h1 = float(cf.new.world.aggregates.trade_shares[i, i])
    return WelfareResult(i, ev, summ, bar, theta_ij, acr_gain(h0, h1, bar),
                         acr_gain(h0, h1, theta), float(theta), h0, h1,
                         {"ev_s": t1 - t0, "elasticity_s": t2 - t1})


# -------------------------------------------------------------------- derivatives
def _direction(N: int, direction):
    D = jnp.asarray(direction, jnp.float64)
    if D.shape != (N, N):
        raise ValueError(f"direction must be an {N} x {N} matrix of d log d_ij, got shape "
                         f"{D.shape}")
    return D * (1.0 - jnp.eye(N))


def pair_direction(economy: Economy, importer, exporter) -> np.ndarray:
    """The N x N direction that raises log d[importer, exporter] alone."""
    D = np.zeros((economy.N, economy.N))
    D[country_index(economy, importer), country_index(economy, exporter)] = 1.0
    return D


class _Outputs(NamedTuple):
    V: jax.Array            # [a, z] of country i
    lam: jax.Array          # [a, z]
    log_pi_home: jax.Array  # [a, z]
    W: jax.Array            # [N]
    R: jax.Array
    welfare: jax.Array      # utilitarian W_i
    converged: jax.Array


def _ge_outputs(econ, W0, R0, b0, state, log_d, i, opts):
    """Country i's outputs at the equilibrium with costs exp(log_d) (beta fixed, W and R
    solved from (W0, R0), differentiable by the implicit function theorem)."""
    e = solve_equilibrium_jit(econ.replace(d=jnp.exp(log_d)), W0, R0, b0, opts,
                              hh_state0=state, throw=False)
    hh, dist = e.world.households, e.world.distribution
    V, lam = hh.V[i], dist.lam[i]
    N = econ.N
    pi_home = jnp.sum(hh.pi[i] * (jnp.arange(N) == i), axis=-1)
    return _Outputs(V, lam, jnp.log(pi_home), e.W, jnp.asarray(e.R), jnp.sum(lam * V),
                    e.converged)


def _pe_outputs(econ, W, R, beta, y_i, log_d, i, hopts, dist_tol):
    """Country i's households and distribution at fixed prices with costs exp(log_d)."""
    e = econ.replace(d=jnp.exp(log_d))
    prob = jax.tree_util.tree_map(lambda x: x[i], household_problems(e, W, R, beta))
    sol = solve_household(prob, hopts, state0=y_i, throw=False)
    dist = stationary_distribution(sol.pi, sol.lottery_lo, sol.lottery_w, prob.P,
                                   method="iterate", tol=dist_tol, throw=False)
    pi_home = jnp.sum(sol.pi * (jnp.arange(econ.N) == i), axis=-1)
    return _Outputs(sol.V, dist.lam, jnp.log(pi_home), jnp.asarray(W), jnp.asarray(R),
                    jnp.sum(dist.lam * sol.V), sol.converged & dist.converged)


@partial(jax.jit, static_argnames=("opts",))
def _ge_jvp(econ, W0, R0, b0, state, log_d, D, i, opts):
    f = lambda x: _ge_outputs(econ, W0, R0, b0, state, x, i, opts)
    return jax.jvp(f, (log_d,), (D,))


@partial(jax.jit, static_argnames=("hopts", "dist_tol"))
def _pe_jvp(econ, W, R, beta, y_i, log_d, D, i, hopts, dist_tol):
    f = lambda x: _pe_outputs(econ, W, R, beta, y_i, x, i, hopts, dist_tol)
    return jax.jvp(f, (log_d,), (D,))


@partial(jax.jit, static_argnames=("opts",))
def _ge_grad(econ, W0, R0, b0, state, log_d, w, opts):
    def objective(x):
        e = solve_equilibrium_jit(econ.replace(d=jnp.exp(x)), W0, R0, b0, opts,
                                  hh_state0=state, throw=False)
        welfare = jnp.einsum("iaz,iaz->i", e.world.distribution.lam, e.world.households.V)
        return jnp.dot(w, welfare), e.converged

    return jax.value_and_grad(objective, has_aux=True)(log_d)


@partial(jax.jit, static_argnames=("hopts", "dist_tol"))
def _pe_grad(econ, W, R, beta, y_i, log_d, i, hopts, dist_tol):
    def objective(x):
        o = _pe_outputs(econ, W, R, beta, y_i, x, i, hopts, dist_tol)
        return o.welfare, o.converged

    return jax.value_and_grad(objective, has_aux=True)(log_d)


def _ge_args(eq: Equilibrium):
    return (fixed_beta_economy(eq), jnp.asarray(eq.W), jnp.asarray(eq.R),
            jnp.asarray(eq.beta), eq.world.households.state)


def _pe_args(eq: Equilibrium, i: int):
    y_i = jax.tree_util.tree_map(lambda x: x[i], eq.world.households.state)
    return (eq.economy, jnp.asarray(eq.W), jnp.asarray(eq.R), jnp.asarray(eq.beta), y_i)


def _log_d(eq):
    return jnp.log(jnp.asarray(eq.economy.d, jnp.float64))


def derivative_options(opts: EquilibriumOptions | None = None, regime: str = "global"):
    """Options of the equilibrium inside the welfare derivatives: ``opts`` with unknown R
    (beta fixed) and the given regime (default: EquilibriumOptions())."""
    return counterfactual_options(opts, regime)


def welfare_gradient(eq: Equilibrium, country=None, weights=None, *,
                     opts: EquilibriumOptions | None = None,
                     general_equilibrium: bool = True, hh_tol: float = 1e-10,
                     dist_tol: float = 1e-12, timings: dict | None = None):
    """Gradient of utilitarian welfare with respect to every log d_kl (reverse mode).

    Objective: W_i = sum_{a,z} lambda_i V_i of ``country``, or sum_i weights_i W_i.
    general_equilibrium: W and R re-solved with beta fixed (implicit function theorem
    through :func:`hat_jax.solve_equilibrium_jit`, one reverse pass); False: at the fixed
    prices of ``eq`` (then only ``country``'s own households matter). Returns
    (value, grad[N, N]) with a zero diagonal; raises ConvergenceError if a solve failed.
    timings: receives ``total_s`` (compile included on the first call).
    """
    N = eq.economy.N
    if (country is None) == (weights is None):
        raise ValueError("give exactly one of country and weights")
    if country is not None:
        i = country_index(eq.economy, country)
        w = jnp.zeros(N).at[i].set(1.0)
    else:
        w = jnp.asarray(weights, jnp.float64)
        if w.shape != (N,):
            raise ValueError(f"weights must have shape ({N},), got {w.shape}")
        if not general_equilibrium:
            raise ValueError("weights need general_equilibrium=True")
    t0 = time.perf_counter()
    if general_equilibrium:
        (val, ok), g = _ge_grad(*_ge_args(eq), _log_d(eq), w,
                                derivative_options(opts, _regime(eq)))
    else:
        hopts = _household_options(eq.economy, hh_tol)
        (val, ok), g = _pe_grad(*_pe_args(eq, i), _log_d(eq), jnp.asarray(i), hopts,
                                float(dist_tol))
    g = jax.block_until_ready(g)
    if timings is not None:
        timings["total_s"] = time.perf_counter() - t0
    if not bool(ok):
        raise ConvergenceError("welfare gradient: the equilibrium (or an inner solve) at the "
                               "baseline costs did not converge")
    return float(val), np.asarray(g) * (1.0 - np.eye(N))


class WelfareTangent(NamedTuple):
    """Values of country i and their derivatives along one direction of log d.

    V, dV [a, z]: household values; lam, dlam [a, z]: stationary distribution;
    log_pi_home, dlog_pi_home [a, z]: log of the home-variety choice probability;
    W, dW [N]: wages; R, dR; welfare, dwelfare: utilitarian W_i = sum lam V.
    """

    V: jax.Array
    dV: jax.Array
    lam: jax.Array
    dlam: jax.Array
    log_pi_home: jax.Array
    dlog_pi_home: jax.Array
    W: jax.Array
    dW: jax.Array
    R: jax.Array
    dR: jax.Array
    welfare: jax.Array
    dwelfare: jax.Array


def welfare_jvp(eq: Equilibrium, direction, country, *,
                opts: EquilibriumOptions | None = None, general_equilibrium: bool = True,
                hh_tol: float = 1e-10, dist_tol: float = 1e-12) -> WelfareTangent:
    """Derivatives of country i's values, distribution, home choice probability, wages,
    R and utilitarian welfare along ``direction`` (an N x N matrix of d log d_kl; the
    diagonal is ignored), in general equilibrium (W, R re-solved, beta fixed) or at the
    fixed prices of ``eq``. One forward-mode pass (implicit function theorem)."""
    i = country_index(eq.economy, country)
    D = _direction(eq.economy.N, direction)
    if general_equilibrium:
        o, t = _ge_jvp(*_ge_args(eq), _log_d(eq), D, jnp.asarray(i),
                       derivative_options(opts, _regime(eq)))
    else:
        hopts = _household_options(eq.economy, hh_tol)
        o, t = _pe_jvp(*_pe_args(eq, i), _log_d(eq), D, jnp.asarray(i), hopts, float(dist_tol))
    o, t = jax.block_until_ready((o, t))
    if not bool(o.converged):
        raise ConvergenceError("welfare_jvp: the equilibrium (or an inner solve) at the "
                               "baseline costs did not converge")
    return WelfareTangent(o.V, t.V, o.lam, t.lam, o.log_pi_home, t.log_pi_home, o.W, t.W,
                          o.R, t.R, o.welfare, t.welfare)


_value_slope_jit = jax.jit(value_slope, static_argnames=("hopts",))


def ev_slope(eq: Equilibrium, country, hh_tol: float = 1e-10):
    """dV_old(a,z; lambda)/dlambda at lambda = 1 for every state of ``country``."""
    i = country_index(eq.economy, country)
    problem = country_problem(eq, i)
    y = jax.tree_util.tree_map(lambda x: x[i], eq.world.households.state)
    return _value_slope_jit(problem, y, _household_options(eq.economy, hh_tol))[1]


def ev_derivative(eq: Equilibrium, direction, country, *,
                  opts: EquilibriumOptions | None = None, general_equilibrium: bool = True,
                  tangent: WelfareTangent | None = None, slope=None):
    """Local EV derivative d lambda_tau(a,z) / d log d along ``direction``:
    (dV_i(a,z)/d log d) / (dV_old(a,z; lambda)/d lambda at lambda = 1) (exact: at a zero
    change lambda_tau = 1 for every state, so one slope serves all states). NaN where
    that slope is not positive: there V_old dips in lambda and lambda_tau jumps away
    from 1 at any change (see :func:`equivalent_variation`). ``tangent``: a
    :func:`welfare_jvp` result to reuse; ``slope``: :func:`ev_slope` (or
    EquivalentVariation.slope) to reuse."""
    if tangent is None:
        tangent = welfare_jvp(eq, direction, country, opts=opts,
                              general_equilibrium=general_equilibrium)
    if slope is None:
        slope = ev_slope(eq, country)
    slope = np.asarray(slope)
    return np.where(slope > 0, np.asarray(tangent.dV) / np.where(slope > 0, slope, 1.0),
                    np.nan)


class WelfareDecomposition(NamedTuple):
    """Proposition 4 decomposition of welfare changes along one direction of log d.

    State by state [a, z]: total dV and its parts substitution (-sigma d log pi_ii),
    asset_trade (u'(c_ii)/p_ii a dR), wage (u'(c_ii)/p_ii (z dW_i - c_ii dp_ii)), each
    discounted along the home-variety path, (I - beta Q_ii)^{-1}; remainder = dV - parts
    (interpolation error of the envelope theorem). Aggregates (utilitarian, sum lambda):
    the same parts weighted by the baseline distribution, plus reallocation =
    sum dlambda V; dwelfare = sum lambda dV + reallocation.
    """

    dV: np.ndarray
    substitution: np.ndarray
    asset_trade: np.ndarray
    wage: np.ndarray
    remainder: np.ndarray
    aggregate: dict
    tangent: WelfareTangent


def welfare_decomposition(eq: Equilibrium, direction, country, *,
                          opts: EquilibriumOptions | None = None,
                          general_equilibrium: bool = True,
                          tangent: WelfareTangent | None = None) -> WelfareDecomposition:
    """Proposition 4: split the derivative of V_i(a,z) and of W_i along ``direction``
    into substitution, asset-trade, wage and reallocation terms (see the module doc)."""
    i = country_index(eq.economy, country)
    if tangent is None:
        tangent = welfare_jvp(eq, direction, country, opts=opts,
                              general_equilibrium=general_equilibrium)
    t = tangent
    econ = eq.economy
    hh = eq.world.households
    prob = country_problem(eq, i)
    Na, Nz = econ.Na, econ.Nz
    c_ii = hh.c[i, :, :, i]
    p_ii = prob.p[i]
    mu = marginal_utility(c_ii, econ.gamma)
    a = prob.a_min + prob.da * jnp.arange(Na)
    dW_i = t.dW[i]
    dp_ii = dW_i / econ.A[i]  # p_ii = W_i / A_i (d_ii = 1)
    s_sub = -prob.sigma * t.dlog_pi_home
    dR = t.dR if jnp.ndim(t.dR) == 0 else t.dR[i]
    s_asset = mu / p_ii * a[:, None] * dR
    s_wage = mu / p_ii * (prob.z[None, :] * dW_i - c_ii * dp_ii)
    onehot = jnp.zeros_like(hh.pi[i]).at[:, :, i].set(1.0)
    Q = transition_matrix(onehot, hh.lottery_lo[i], hh.lottery_w[i], prob.P)
    A_ = jnp.eye(Na * Nz) - prob.beta * Q
    rhs = jnp.stack([s_sub.reshape(-1), s_asset.reshape(-1), s_wage.reshape(-1)], axis=1)
    x = np.asarray(jnp.linalg.solve(A_, rhs)).reshape(Na, Nz, 3)
    sub, asset, wage = x[..., 0], x[..., 1], x[..., 2]
    dV = np.asarray(t.dV)
    rem = dV - sub - asset - wage
    lam = np.asarray(t.lam)
    V = np.asarray(t.V)
    agg = {
        "substitution": float(np.sum(lam * sub)),
        "asset_trade": float(np.sum(lam * asset)),
        "wage": float(np.sum(lam * wage)),
        "remainder": float(np.sum(lam * rem)),
        "reallocation": float(np.sum(np.asarray(t.dlam) * V)),
        "dwelfare": float(t.dwelfare),
    }
    return WelfareDecomposition(dV, sub, asset, wage, rem, agg, t)
