"""Welfare derivatives with respect to log trade costs, by automatic differentiation
(model.md s.10).

General equilibrium: W and R re-solved with beta fixed, through
:func:`hat_jax.solve_equilibrium_jit` by the implicit function theorem; partial
equilibrium: at the fixed W and R of the baseline. :func:`welfare_gradient` (d welfare_i
/ d log d_kl for all pairs, reverse mode), :func:`welfare_jvp` (household values,
distribution, prices along one direction of log d), :func:`ev_derivative` (the local EV
derivative d lambda_tau(a,z) / d log d = (dV_i(a,z)/d log d) / (dV_old(a,z; lambda)/d
lambda at 1)) and :func:`welfare_decomposition` (Proposition 4). Since V = v_ii +
psi_ii - sigma log pi_ii exactly, the envelope theorem gives, state by state,

    dV = (I - beta Q_ii)^{-1} [ -sigma_i d log pi_ii                      (substitution)
                                + u'(c_ii)/p_ii a dR                      (asset trade)
                                + u'(c_ii)/p_ii (z dW_i - c_ii dp_ii) ]   (wage / home price)

with Q_ii the transition when the home variety is chosen (lottery of a'_ii, then P), and
d welfare_i = sum lambda dV + sum dlambda V (the last term: reallocation of the
distribution lambda). The discretised model obeys the envelope theorem only up to
interpolation error; the decomposition reports the remainder. Log utility: pi_ii(a,z)
does not depend on the state and d welfare_i/d log d_ij = -(1/(theta (1 - beta))) d log
pi_ii / d log d_ij with theta = 1/sigma_i at fixed W and R (and for every household).
"""

from __future__ import annotations

import dataclasses
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._compiled import compiled, timed_run
from .._distribution import stationary_distribution, transition_matrix
from .._baseline import Baseline, as_baseline
from .._equilibrium import Equilibrium, EquilibriumOptions, Start, solve_equilibrium_jit
from .._household import marginal_utility, solve_household
from .._params import household_options, household_problems
from .._results import ConvergenceError
from ._costs import country_index
from ._counterfactual import country_problem
from ._ev import ev_slope
from ._summary import utilitarian_welfare

__all__ = ["WelfareGradient", "welfare_gradient", "WelfareTangent",
           "welfare_jvp", "ev_derivative", "WelfareDecomposition", "welfare_decomposition"]


def _direction(N: int, direction):
    D = jnp.asarray(direction, jnp.float64)
    if D.shape != (N, N):
        raise ValueError(f"direction must be an {N} x {N} matrix of d log d_ij, got shape "
                         f"{D.shape}")
    return D * (1.0 - jnp.eye(N))


class _Outputs(NamedTuple):
    V: jax.Array            # [a, z] of country i
    lam: jax.Array          # [a, z] stationary distribution
    log_pi_home: jax.Array  # [a, z]
    W: jax.Array            # [N] wages
    R: jax.Array
    welfare: jax.Array      # utilitarian sum lam V
    converged: jax.Array
    iterations: jax.Array
    residual: jax.Array


def _ge_outputs(econ, start, log_d, i, opts):
    """Country i's outputs at the equilibrium with costs exp(log_d) (beta fixed, W and R
    solved from the baseline's :class:`~hat_jax.Start`, differentiable by the implicit
    function theorem)."""
    e = solve_equilibrium_jit(econ.replace(d=jnp.exp(log_d)), opts, start, throw=False)
    hh, dist = e.world.households, e.world.distribution
    V, lam = hh.V[i], dist.lam[i]
    pi_home = jnp.sum(hh.pi[i] * (jnp.arange(econ.N) == i), axis=-1)
    return _Outputs(V, lam, jnp.log(pi_home), e.W, jnp.asarray(e.R), jnp.sum(lam * V),
                    e.converged, e.iterations, e.residual)


def _pe_outputs(econ, W, R, beta, T, y_i, log_d, i, opts):
    """Country i's households and distribution at fixed prices and fixed tariff rebates
    T (model.md s.14: part of every household's income) with costs exp(log_d)."""
    e = econ.replace(d=jnp.exp(log_d))
    prob = jax.tree_util.tree_map(lambda x: x[i], household_problems(e, W, R, beta, T))
    opts = opts.resolved(econ)
    hopts = opts.household_options(econ)
    sol = solve_household(prob, hopts, state0=y_i, throw=False)
    dist = stationary_distribution(sol.pi, sol.lottery_lo, sol.lottery_w, prob.P,
                                   method="iterate", tol=opts.dist_tol, throw=False,
                                   tangent_solver=opts.tangent_solver)
    pi_home = jnp.sum(sol.pi * (jnp.arange(econ.N) == i), axis=-1)
    return _Outputs(sol.V, dist.lam, jnp.log(pi_home), jnp.asarray(W), jnp.asarray(R),
                    jnp.sum(dist.lam * sol.V), sol.converged & dist.converged,
                    sol.iterations, sol.residual)


@jax.jit
def _ge_jvp_program(args, log_d, D, i, opts):
    return jax.jvp(lambda x: _ge_outputs(*args, x, i, opts), (log_d,), (D,))


@jax.jit
def _pe_jvp_program(args, log_d, D, i, opts):
    return jax.jvp(lambda x: _pe_outputs(*args, x, i, opts), (log_d,), (D,))


@jax.jit
def _ge_grad_program(args, log_d, w, opts):
    def objective(x):
        e = solve_equilibrium_jit(args[0].replace(d=jnp.exp(x)), opts, args[1], throw=False)
        return jnp.dot(w, utilitarian_welfare(e)), (e.converged, e.iterations, e.residual)

    return jax.value_and_grad(objective, has_aux=True)(log_d)


@jax.jit
def _pe_grad_program(args, log_d, i, opts):
    def objective(x):
        o = _pe_outputs(*args, x, i, opts)
        return o.welfare, (o.converged, o.iterations, o.residual)

    return jax.value_and_grad(objective, has_aux=True)(log_d)


def _arguments(b: Baseline, general_equilibrium: bool, i: int):
    """The program arguments of the baseline ``b``: (fixed-beta economy, start) in general
    equilibrium; at fixed prices (economy, W, R, beta, T, country i's household state),
    the tariff rebates T held at the baseline's (zero under free trade)."""
    if general_equilibrium:
        return (b.economy, Start.from_baseline(b, jacobian=False))
    return (b.economy, b.W, b.R, b.beta, b.T, b.country_state(i))


def _log_d(b: Baseline):
    return jnp.log(jnp.asarray(b.economy.d, jnp.float64))


@dataclasses.dataclass(frozen=True)
class WelfareGradient:
    """d welfare / d log d_kl (:func:`welfare_gradient`): value (the objective), grad
    [N, N] (zero diagonal), and converged, iterations, residual of the solve at the
    baseline costs (the equilibrium's; at fixed prices the household's); stats:
    iterations, compile_s, run_s, total_s. Unpacks as ``value, grad =
    welfare_gradient(...)``."""

    value: float
    grad: np.ndarray
    converged: bool
    iterations: int
    residual: float
    stats: dict | None = dataclasses.field(default=None, compare=False)

    def __iter__(self):
        return iter((self.value, self.grad))


def _check(what: str, converged, iterations, residual, throw: bool) -> None:
    if throw and not bool(converged):
        raise ConvergenceError(
            f"{what}: the equilibrium (or an inner solve) at the baseline costs did not "
            f"converge: residual {float(residual):.3e} after {int(iterations)} iterations")


def _objective_weights(economy, country, weights, general_equilibrium: bool):
    N = economy.N
    if (country is None) == (weights is None):
        raise ValueError("give exactly one of country and weights")
    if country is not None:
        i = country_index(economy, country)
        return i, jnp.zeros(N).at[i].set(1.0)
    w = jnp.asarray(weights, jnp.float64)
    if w.shape != (N,):
        raise ValueError(f"weights must have shape ({N},), got {w.shape}")
    if not general_equilibrium:
        raise ValueError("weights need general_equilibrium=True")
    return 0, w


def welfare_gradient(eq: Baseline | Equilibrium, country=None, weights=None, *,
                     opts: EquilibriumOptions | None = None, general_equilibrium: bool = True,
                     throw: bool = True) -> WelfareGradient:
    """Gradient of utilitarian welfare with respect to every log d_kl (reverse mode).

    Objective: welfare_i = sum_{a,z} lambda_i V_i of ``country``, or sum_i weights_i
    welfare_i. general_equilibrium: W and R re-solved with beta fixed (implicit function
    theorem through :func:`hat_jax.solve_equilibrium_jit`, one reverse pass); False: at
    the fixed prices of ``eq`` (then only ``country``'s own households matter). opts:
    the :class:`EquilibriumOptions` of the solves (default: the baseline's; beta fixed,
    :meth:`EquilibriumOptions.fixed_beta`; at fixed prices its hh_tol, hh_max_iter,
    dist_tol, tangent_solver). ``eq``: a :class:`~hat_jax.Baseline` (an Equilibrium is
    converted once). Returns a
    :class:`WelfareGradient` (unpacks as ``value, grad``; grad [N, N] with a zero
    diagonal). throw: raise ConvergenceError if the solve at the baseline costs failed.
    The result's ``stats``: iterations, compile_s, run_s and total_s.
    """
    b = as_baseline(eq)
    N = b.N
    i, w = _objective_weights(b.economy, country, weights, general_equilibrium)
    t0 = time.perf_counter()
    d_opts = b.options(opts)
    if general_equilibrium:
        prog, args = _ge_grad_program, (_arguments(b, True, i), _log_d(b), w, d_opts)
    else:
        prog, args = _pe_grad_program, (_arguments(b, False, i), _log_d(b),
                                        jnp.asarray(i), d_opts)
    ((val, (ok, it, res)), g), stats = timed_run(prog, args)
    stats = dict(stats, iterations=int(it), total_s=time.perf_counter() - t0)
    _check("welfare gradient", ok, it, res, throw)
    return WelfareGradient(float(val), np.asarray(g) * (1.0 - np.eye(N)), bool(ok), int(it),
                           float(res), stats)


class WelfareTangent(NamedTuple):
    """Values of country i and their derivatives along one direction of log d.

    V, dV [a, z]: household values; lam, dlam [a, z]: stationary distribution;
    log_pi_home, dlog_pi_home [a, z]: log of the home-variety choice probability;
    W, dW [N]: wages; R, dR; welfare, dwelfare: utilitarian sum lam V; converged,
    iterations, residual: of the solve at the baseline costs.
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
    converged: jax.Array = True
    iterations: jax.Array = 0
    residual: jax.Array = 0.0


def welfare_jvp(eq: Baseline | Equilibrium, direction, country, *,
                opts: EquilibriumOptions | None = None, general_equilibrium: bool = True,
                throw: bool = True) -> WelfareTangent:
    """Derivatives of country i's values, distribution, home choice probability, wages,
    R and utilitarian welfare along ``direction`` (an N x N matrix of d log d_kl; the
    diagonal is ignored), in general equilibrium (W, R re-solved, beta fixed) or at the
    fixed prices of ``eq``. One forward-mode pass (implicit function theorem). opts: as
    in :func:`welfare_gradient`; throw: raise ConvergenceError if the solve failed."""
    b = as_baseline(eq)
    i = country_index(b.economy, country)
    D = _direction(b.N, direction)
    prog = _ge_jvp_program if general_equilibrium else _pe_jvp_program
    args = (_arguments(b, general_equilibrium, i), _log_d(b), D, jnp.asarray(i),
            b.options(opts))
    o, t = jax.block_until_ready(compiled(prog, args)(*args))
    _check("welfare_jvp", o.converged, o.iterations, o.residual, throw)
    return WelfareTangent(o.V, t.V, o.lam, t.lam, o.log_pi_home, t.log_pi_home, o.W, t.W,
                          o.R, t.R, o.welfare, t.welfare, o.converged, o.iterations,
                          o.residual)


def ev_derivative(eq: Baseline | Equilibrium, direction, country, *,
                  opts: EquilibriumOptions | None = None, general_equilibrium: bool = True,
                  tangent: WelfareTangent | None = None, slope=None,
                  measure: str = "transfer"):
    """Local EV derivative d l(a,z) / d log d along ``direction``:
    (dV_i(a,z)/d log d) / (dV_old(a,z; l)/d l at l = 1) (exact: at a zero change l = 1
    for every state, so one slope serves all states). measure "transfer" (default): l =
    1 + tau / (W_i E[z]), so d tau / d log d = (dV_new/d log d) / (dV_old/d tau), the
    small-shock limit of the transfer EV, finite everywhere (dV_old/d tau > 0);
    "proportional": NaN where the slope is not positive: there V_old dips in lambda and
    lambda_tau jumps away from 1 at any change (see
    :func:`hat_jax.welfare.equivalent_variation`). ``tangent``: a :func:`welfare_jvp`
    result to reuse; ``slope``: :func:`hat_jax.welfare.ev_slope` of the same measure (or
    EquivalentVariation.slope) to reuse."""
    eq = as_baseline(eq)
    if tangent is None:
        tangent = welfare_jvp(eq, direction, country, opts=opts,
                              general_equilibrium=general_equilibrium)
    if slope is None:
        slope = ev_slope(as_baseline(eq).equilibrium, country, measure=measure)
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


def _envelope_parts(eq: Equilibrium, i: int, t: WelfareTangent):
    """The Proposition-4 parts of dV of country i [a, z, 3] (substitution, asset trade,
    wage): the envelope-theorem sources discounted by (I - beta Q_ii)^{-1}."""
    econ, hh = eq.economy, eq.world.households
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
    return np.asarray(jnp.linalg.solve(A_, rhs)).reshape(Na, Nz, 3)


def welfare_decomposition(eq: Baseline | Equilibrium, direction, country, *,
                          opts: EquilibriumOptions | None = None,
                          general_equilibrium: bool = True,
                          tangent: WelfareTangent | None = None) -> WelfareDecomposition:
    """Proposition 4: split the derivative of V_i(a,z) and of utilitarian welfare along
    ``direction`` into substitution, asset-trade, wage and reallocation terms (see the
    module doc)."""
    b = as_baseline(eq)
    i = country_index(b.economy, country)
    if tangent is None:
        tangent = welfare_jvp(b, direction, country, opts=opts,
                              general_equilibrium=general_equilibrium)
    t = tangent
    x = _envelope_parts(b.equilibrium, i, t)
    sub, asset, wage = x[..., 0], x[..., 1], x[..., 2]
    dV = np.asarray(t.dV)
    rem = dV - sub - asset - wage
    lam = np.asarray(t.lam)
    agg = {
        "substitution": float(np.sum(lam * sub)),
        "asset_trade": float(np.sum(lam * asset)),
        "wage": float(np.sum(lam * wage)),
        "remainder": float(np.sum(lam * rem)),
        "reallocation": float(np.sum(np.asarray(t.dlam) * np.asarray(t.V))),
        "dwelfare": float(t.dwelfare),
    }
    return WelfareDecomposition(dV, sub, asset, wage, rem, agg, t)
