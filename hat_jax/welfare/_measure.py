"""The two measures of the equivalent variation (model.md s.10): how the income factor l
of the EV root enters the household problem at the OLD prices.

- ``"transfer"`` (default; the paper's appendix definition, "Computing Welfare",
  eq. 167): a permanent lump-sum transfer tau paid every period at the old prices,

      V_old(a, z; tau) = V_new(a, z),   budget  p_ij c + a' = R a + W_i z + T + tau,

  measured in units of country i's mean labour income per household, ybar_i = W_i E[z]
  (E[z] under the stationary law of the productivity chain; the model normalises E[z]
  = 1, so ybar_i = W_i): l = 1 + tau / ybar_i, i.e. T -> T + (l - 1) ybar_i. A transfer
  widens every budget, so V_old is strictly increasing in tau and the root exists and is
  unique for every state.
- ``"proportional"`` (the original code's ``eq_variation_porportional``, the paper's
  tables): income scaled by l = lambda, R -> l R, W -> l W, T -> l T. Where net income
  R a + W_i z + T <= 0 (at the borrowing limit with low productivity) a larger lambda
  makes the household poorer, V_old(.; lambda) is not monotone and the root is
  meaningless or missing: those states are flagged (:func:`ill_posed_states`).
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["EV_MEASURES", "check_measure", "mean_efficiency", "transfer_unit", "ev_problem",
           "net_income", "ill_posed_states"]

EV_MEASURES = ("transfer", "proportional")


def check_measure(measure: str) -> str:
    """``measure`` if it is one of :data:`EV_MEASURES`, else ValueError naming it."""
    if measure not in EV_MEASURES:
        raise ValueError(f"measure must be one of {EV_MEASURES}, got measure={measure!r}")
    return measure


def mean_efficiency(problem):
    """E[z] = sum_z mu(z) z under the stationary law mu of the chain P (mu P = mu,
    sum mu = 1; one linear solve, traceable)."""
    P = problem.P
    n = P.shape[-1]
    A = (jnp.swapaxes(P, -1, -2) - jnp.eye(n, dtype=P.dtype)).at[..., -1, :].set(1.0)
    b = jnp.zeros(P.shape[:-1], P.dtype).at[..., -1].set(1.0)
    mu = jnp.linalg.solve(A, b[..., None])[..., 0]
    return jnp.sum(mu * problem.z, axis=-1)


def transfer_unit(problem):
    """ybar_i = W_i E[z]: the mean labour income per household at the problem's prices,
    the unit of the transfer measure (tau = (l - 1) ybar_i)."""
    return problem.W * mean_efficiency(problem)


def ev_problem(problem, factor, measure: str = "transfer"):
    """The household problem at income factor ``factor`` under ``measure`` (module doc):
    transfer: T -> T + (factor - 1) W E[z]; proportional: R, W, T -> factor (R, W, T)
    (grid and borrowing limit unchanged in both)."""
    if check_measure(measure) == "proportional":
        return problem._replace(R=factor * problem.R, W=factor * problem.W,
                                T=factor * problem.T)
    return problem._replace(T=problem.T + (factor - 1.0) * transfer_unit(problem))


def net_income(problem, Na: int):
    """Net income R a + W z + T on the [a, z] grid (a = a_min + da k, k < Na)."""
    a = problem.a_min + problem.da * jnp.arange(Na)
    return problem.R * a[:, None] + problem.W * problem.z[None, :] + problem.T


def ill_posed_states(problem, Na: int, measure: str):
    """[Na, Nz] mask of the states where the EV under ``measure`` is ill posed: net
    income R a + W z + T <= 0 at the old prices under the proportional measure (there
    lambda -> V_old(lambda) is not monotone); none under the transfer measure."""
    bad = net_income(problem, Na) <= 0.0
    return bad & (check_measure(measure) == "proportional")
