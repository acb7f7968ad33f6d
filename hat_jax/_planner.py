"""The efficient (planner) allocation (model.md section 11).

A utilitarian planner with Pareto weights psi_i (default proportional to TFP A_i) chooses,
every period, consumption c_ij of each variety by each household of country i and the
choice probabilities pi_ij(z), to maximise

    W = 1/(1 - beta) sum_i psi_i L_i E_z[ sum_j pi_ij(z) (u(c_ij) + q_ij(z))
                                          - sigma_i sum_j pi_ij(z) log pi_ij(z) ]

subject to one resource constraint per variety j (E_z under the stationary distribution
of the income chain, E[z] = 1 by normalisation):

    A_j L_j E[z] = sum_i L_i d_ij c_ij pi_ij,       pi_ij = E_z pi_ij(z).

Labour income is pooled, so consumption does not depend on z. First-order conditions
with multipliers chi_j:

    psi_i u'(c_ij) = chi_j d_ij,
    pi_ij(z) proportional to exp((u(c_ij) - u'(c_ij) c_ij + q_ij(z)) / sigma_i).

q_ij(z) is the economy's quality / home-bias shifter (psi_slope A_i^(1-gamma) y_P(z) on
j = i; zero when psi_slope = 0, then pi_ij does not depend on z, as in model.md); sigma_i
is the country-scaled logit scale of the households' problem. Unknowns: c_jj (chi_j =
psi_j u'(c_jj)), N equations (the resource constraints as log(demand / supply)), solved
by Newton's method (optimistix) in log c_jj and differentiated by the implicit function
theorem (optimistix's implicit adjoint).

Reported: trade values M_ij = chi_j d_ij c_ij pi_ij L_i and shares M_ij / sum_j M_ij; the
efficient elasticity theta_ij = -u'(c_ij) c_ij / sigma_i (of pi_ij / pi_ii with respect to
d_ij, at fixed multipliers, without the shifter; the elasticity of the trade values
M_ij / M_ii adds the intensive margin 1 - 1/gamma); and the welfare gain of a cost cut
(Proposition 2, the envelope theorem)

    -dW / d log d_ij = psi_i u'(c_ij) c_ij pi_ij L_i / (1 - beta),

which :func:`planner_checks` verifies against the derivative of W through the solve.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from ._compiled import timed_run
from ._household import marginal_utility, utility
from ._params import Economy, household_problems
from ._results import ConvergenceError, as_float, as_int, check_option_values

__all__ = ["PlannerOptions", "PlannerSolution", "solve_planner", "planner_allocation",
           "planner_welfare", "planner_checks", "pareto_weights", "welfare_of_costs",
           "stationary_income_distribution"]


class PlannerSolution(NamedTuple):
    """The efficient allocation (arrays [importer i, exporter j] unless noted).

    c: consumption c_ij; pi: choice probabilities E_z pi_ij(z); pi_z[i, z, j];
    chi[j]: multipliers of the resource constraints; weights[i]: Pareto weights psi_i;
    M: trade values chi_j d_ij c_ij pi_ij L_i; trade_shares: M_ij / sum_j M_ij;
    elasticity: -u'(c_ij) c_ij / sigma_i; elasticity_values: (1 - 1/gamma) + elasticity
    (of M_ij / M_ii); welfare_gain: psi_i u'(c_ij) c_ij pi_ij L_i / (1 - beta) (= -dW/d log
    d_ij); welfare: W; resource_residuals[j]: (sum_i L_i d_ij c_ij pi_ij - A_j L_j E z) /
    (A_j L_j E z); converged, iterations, residual (max |resource residual|); beta;
    stats: iterations, compile_s, run_s of :func:`solve_planner` (None inside a trace).
    """

    c: jax.Array
    pi: jax.Array
    pi_z: jax.Array
    chi: jax.Array
    weights: jax.Array
    M: jax.Array
    trade_shares: jax.Array
    elasticity: jax.Array
    elasticity_values: jax.Array
    welfare_gain: jax.Array
    welfare: jax.Array
    resource_residuals: jax.Array
    converged: jax.Array
    iterations: jax.Array
    residual: jax.Array
    beta: jax.Array
    stats: dict | None = None


def stationary_income_distribution(P):
    """mu with mu P = mu, sum mu = 1 (a dense solve of the Nz x Nz system)."""
    Nz = P.shape[0]
    A = (jnp.eye(Nz) - P).T
    A = A.at[-1].set(1.0)
    b = jnp.zeros(Nz).at[-1].set(1.0)
    return jnp.linalg.solve(A, b)


def pareto_weights(economy: Economy, weights=None):
    """psi_i: proportional to A_i (default, normalised to mean one), or user weights
    (positive, one per country; normalised to mean one)."""
    if weights is None:
        w = jnp.asarray(economy.A, jnp.float64)
    else:
        w = np.asarray(weights, np.float64)
        if w.shape != (economy.N,):
            raise ValueError(f"weights must have one entry per country ({economy.N}), got "
                             f"shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ValueError(f"Pareto weights must be positive and finite, got {w.tolist()}")
        w = jnp.asarray(w)
    return w / jnp.mean(w)


def _inputs(economy: Economy, beta):
    """(sigma_i, q[i, z, j], mu[z], E z) from the households' problem of the economy."""
    probs = household_problems(economy, jnp.ones(economy.N), 1.0, beta)
    mu = stationary_income_distribution(economy.P)
    return probs.sigma, probs.psi, mu, jnp.dot(mu, economy.z)


def planner_allocation(log_c_home, economy: Economy, weights, beta):
    """The allocation implied by the home consumptions c_jj (see the module docstring).
    Returns (c, pi, pi_z, chi, resource residuals)."""
    gamma = economy.gamma
    sigma, q, mu, Ez = _inputs(economy, beta)
    c_home = jnp.exp(log_c_home)
    chi = weights * marginal_utility(c_home, gamma)
    # psi_i u'(c_ij) = chi_j d_ij  =>  c_ij = (chi_j d_ij / psi_i)^(-1/gamma)
    c = (chi[None, :] * economy.d / weights[:, None]) ** (-1.0 / gamma)
    g = utility(c, gamma) - marginal_utility(c, gamma) * c  # [i, j]
    logits = (g[:, None, :] + q) / sigma[:, None, None]  # [i, z, j]
    pi_z = jax.nn.softmax(logits, axis=-1)
    pi = jnp.einsum("z,izj->ij", mu, pi_z)
    supply = economy.A * economy.L * Ez
    demand = jnp.einsum("i,ij->j", economy.L, economy.d * c * pi)
    return c, pi, pi_z, chi, (demand - supply) / supply


def planner_welfare(c, pi_z, economy: Economy, weights, beta):
    """W = 1/(1-beta) sum_i psi_i L_i E_z[sum_j pi (u + q) - sigma sum_j pi log pi]."""
    sigma, q, mu, _ = _inputs(economy, beta)
    u = utility(c, economy.gamma)[:, None, :] + q
    ent = -jnp.sum(jnp.where(pi_z > 0, pi_z * jnp.log(pi_z), 0.0), axis=-1)  # [i, z]
    per = jnp.einsum("z,iz->i", mu, jnp.sum(pi_z * u, axis=-1) + sigma[:, None] * ent)
    return jnp.sum(weights * economy.L * per) / (1.0 - beta)


class PlannerOptions(eqx.Module):
    """Settings of :func:`solve_planner`.

    Traced (changing them never recompiles): tol, the largest |resource residual|
    (relative to A_j L_j E z) accepted as converged (1e-10); rtol, atol: optimistix's
    Newton step tolerances on log c_jj (1e-13 each). Structural (static): max_steps,
    the cap on Newton iterations (100).
    """

    tol: float = eqx.field(default=1e-10, converter=as_float)
    rtol: float = eqx.field(default=1e-13, converter=as_float)
    atol: float = eqx.field(default=1e-13, converter=as_float)
    max_steps: int = eqx.field(static=True, default=100, converter=as_int)

    def __check_init__(self):
        check_option_values(self, positive=("tol", "rtol", "atol"), at_least_one=("max_steps",))


@jax.jit
def _solve(economy: Economy, weights, beta, opts: PlannerOptions):
    def fn(x, args):  # log(demand / supply): close to linear in log c_jj
        return jnp.log1p(planner_allocation(x, economy, weights, beta)[-1])

    _, _, mu, Ez = _inputs(economy, beta)
    x0 = jnp.log(economy.A * Ez)  # autarky-like start: c_jj = A_j E z
    sol = optx.root_find(fn, optx.Newton(rtol=opts.rtol, atol=opts.atol), x0,
                         max_steps=opts.max_steps, throw=False)
    x = sol.value
    c, pi, pi_z, chi, res = planner_allocation(x, economy, weights, beta)
    gamma = economy.gamma
    sigma = _inputs(economy, beta)[0]
    M = chi[None, :] * economy.d * c * pi * economy.L[:, None]
    mu_c = marginal_utility(c, gamma) * c
    el = -mu_c / sigma[:, None]
    gain = weights[:, None] * mu_c * pi * economy.L[:, None] / (1.0 - beta)
    W = planner_welfare(c, pi_z, economy, weights, beta)
    resid = jnp.max(jnp.abs(res))
    return PlannerSolution(
        c, pi, pi_z, chi, weights, M, M / jnp.sum(M, axis=1, keepdims=True), el,
        el + (1.0 - 1.0 / gamma), gain, W, res, jnp.isfinite(resid) & (resid <= opts.tol),
        sol.stats["num_steps"], resid, jnp.asarray(beta))


def solve_planner(economy: Economy, weights=None, beta=None, opts: PlannerOptions | None = None,
                  *, throw: bool = True, tol: float | None = None) -> PlannerSolution:
    """The efficient allocation of ``economy`` (model.md section 11).

    weights: Pareto weights (default proportional to A_i; see :func:`pareto_weights`).
    beta: discount factor (default economy.beta; pass an equilibrium's solved beta).
    opts: :class:`PlannerOptions`; ``tol`` replaces its tol (the largest max |resource
    residual|, relative to each country's output A_j L_j E z, 1e-10).
    throw: raise ConvergenceError if not converged; with throw=False check
    ``converged``. The result's ``stats``: iterations, compile_s, run_s.
    """
    opts = PlannerOptions() if opts is None else opts
    if tol is not None:
        opts = dataclasses.replace(opts, tol=tol)
    w = pareto_weights(economy, weights)
    beta = jnp.asarray(economy.beta if beta is None else beta, jnp.float64)
    sol, stats = timed_run(_solve, (economy, w, beta, opts))
    sol = sol._replace(stats=dict(stats, iterations=int(sol.iterations)))
    if throw and not bool(sol.converged):
        k = int(np.nanargmax(np.abs(np.asarray(sol.resource_residuals))))
        raise ConvergenceError(
            f"planner allocation did not converge to tolerance {opts.tol:g} after "
            f"{int(sol.iterations)} Newton iterations: max |resource residual| = "
            f"{float(sol.residual):.3e} ({economy.countries[k]})")
    return sol


def welfare_of_costs(log_d, economy: Economy, weights, beta,
                     opts: PlannerOptions | None = None):
    """W of the planner's solution at trade costs exp(log_d) (differentiable through the
    solve by optimistix's implicit adjoint; weights: :func:`pareto_weights`)."""
    e = economy.replace(d=jnp.exp(log_d))
    s = _solve(e, weights, beta, PlannerOptions() if opts is None else opts)
    return s.welfare


def _ratio_of_costs(log_d, chi, economy, weights, beta):
    """log(pi_ij / pi_ii) at fixed multipliers chi (for the efficient elasticity)."""
    e = economy.replace(d=jnp.exp(log_d))
    gamma = economy.gamma
    sigma, q, mu, _ = _inputs(e, beta)
    c = (chi[None, :] * e.d / weights[:, None]) ** (-1.0 / gamma)
    g = utility(c, gamma) - marginal_utility(c, gamma) * c
    pi = jnp.einsum("z,izj->ij", mu, jax.nn.softmax((g[:, None, :] + q) / sigma[:, None, None],
                                                     axis=-1))
    return jnp.log(pi) - jnp.log(jnp.diag(pi))[:, None]


# one jitted function each for every call of planner_checks: a jax.jit made per call
# traced, lowered and compiled its program again (the cost check inside
# economy.replace is a host callback, so the persistent cache does not keep it)
_welfare_gradient = jax.jit(jax.grad(welfare_of_costs))
_ratio_jacobian = jax.jit(jax.jacfwd(_ratio_of_costs))


def planner_checks(economy: Economy, sol: PlannerSolution) -> dict:
    """Numerical checks of the efficient allocation (Proposition 2 and section 11).

    resource: max |resource residual|; foc: max relative gap of psi_i u'(c_ij) = chi_j
    d_ij; welfare_gain: max |(-dW/d log d) by AD through the planner solve - formula| /
    max |formula| (off-diagonal pairs); elasticity: max |d log(pi_ij/pi_ii)/d log d_ij
    at fixed chi by AD - (-u'(c_ij) c_ij / sigma_i)| over pairs i != j (exact without
    the quality shifter).
    """
    w, beta = sol.weights, sol.beta
    log_d = jnp.log(economy.d)
    N = economy.N
    off = ~np.eye(N, dtype=bool)
    foc = w[:, None] * marginal_utility(sol.c, economy.gamma) / (sol.chi[None, :] * economy.d)
    grad = _welfare_gradient(log_d, economy, w, beta)
    gain = np.asarray(sol.welfare_gain)
    err_gain = np.max(np.abs(-np.asarray(grad)[off] - gain[off])) / np.max(np.abs(gain[off]))
    J = _ratio_jacobian(log_d, sol.chi, economy, w, beta)  # [i,j,k,l]
    Jn = np.asarray(J)
    ii, jj = np.nonzero(off)
    own = Jn[ii, jj, ii, jj]
    err_el = np.max(np.abs(own - np.asarray(sol.elasticity)[ii, jj]))
    return {
        "resource": float(sol.residual),
        "foc": float(np.max(np.abs(np.asarray(foc) - 1.0))),
        "welfare_gain": float(err_gain),
        "elasticity": float(err_el),
    }
