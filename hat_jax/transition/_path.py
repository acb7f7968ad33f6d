"""The perfect-foresight path at given prices (model.md s.12): backward and forward passes.

Dates t = 0..T-1; date T is the terminal stationary equilibrium. Unknowns, one row per
date, ``U[t] = (x_W, R_{t+1})`` with wages W_t = N softmax([x_W, 0]) (mean one) and the
gross return R_{t+1} on bonds bought at t (R_0 = R_old is predetermined, R_T is the
last unknown).

Backward pass. The household block's reduced fixed-point variable
y = (log Emu, EPhi) with Emu(a', z) = beta R' E_{z'|z} sum_j pi_j u'(c_j)/p_j is
exactly one EGM step per date when the date-(t+1) problem is used:

    y_t = F(y_{t+1}; problem_{t+1}),      y_T = y*_new (terminal stationary state),

where F = :func:`hat_jax._household.household_operator` (its mix uses beta R_{t+1} and
the date-(t+1) prices and logit choice) and problem_t holds (W_t, R_t, p_t, d_t).
Date-t policies are :func:`hat_jax._household.policies` (y_t, problem_t): the budget
p_ij,t c + a' = R_t a + W_{i,t} z. No fixed point per date.

Forward pass. lambda_0 is the initial stationary distribution; lambda_{t+1} =
Q_t' lambda_t with the date-t policies (Young's lottery, hat_jax._distribution).

Residuals at every date (relative to world GDP_t): goods markets j = 1..N-1
(Y_j,t - sum_i M_ij,t; j = 0 dropped, Walras) and the bond market sum_i A'_i,t.
Everything is a pure function of pytrees: jit-able, vmap-able, differentiable.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from .._deprecation import renamed_keywords, warn_renamed
from .._aggregates import aggregate
from .._distribution import asset_transition, distribution_step
from .._baseline import Baseline
from .._equilibrium import wages_from_x, x_from_wages
from .._household import HouseholdSolution, household_operator, policies
from .._params import Economy, household_problems

__all__ = ["ShockPath", "Endpoint", "PathOutcomes", "endpoint", "prices_from_unknowns",
           "unknowns_from_prices", "steady_unknowns", "date_problems", "backward_pass",
           "path_outcomes", "path_residuals", "expenditure_dispersion"]


class ShockPath(eqx.Module):
    """Economy fields by date: ``fields[name][t]`` replaces ``economy.<name>`` at date t
    for t = 0..T (row T: the terminal economy). Generic over the Economy pytree (``d``,
    ``A``, or any array field such as a tariff matrix)."""

    fields: dict

    @property
    def horizon(self) -> int:
        """T, the number of transition dates (rows 0..T-1, plus the terminal row T)."""
        return next(iter(self.fields.values())).shape[0] - 1

    @property
    def T(self) -> int:
        """Deprecated name of :attr:`horizon` (``T`` is the rebates)."""
        warn_renamed("ShockPath.T", "ShockPath.horizon (T is the rebates)")
        return self.horizon

    def at(self, economy: Economy, t):
        """The economy at date t."""
        return economy.replace(**{k: v[t] for k, v in self.fields.items()})

    def terminal(self, economy: Economy) -> Economy:
        return self.at(economy, -1)


class Endpoint(NamedTuple):
    """A stationary equilibrium seen by the path: wages W, return R, household fixed-point
    variable y (country axis first) and the distribution lam [N, Na, Nz]."""

    W: jax.Array
    R: jax.Array
    y: tuple
    lam: jax.Array


def endpoint(eq) -> Endpoint:
    """The :class:`Endpoint` of a solved equilibrium or a :class:`~hat_jax.Baseline`
    (financial globalization; inside a trace, an Equilibrium)."""
    if isinstance(eq, Baseline):
        return Endpoint(eq.W, jnp.asarray(eq.R), eq.state,
                        eq.equilibrium.world.distribution.lam)
    return Endpoint(eq.W, jnp.asarray(eq.R), eq.world.households.state,
                    eq.world.distribution.lam)


class PathOutcomes(NamedTuple):
    """Everything along the path, one row per date t = 0..T-1.

    W [T, N], R [T] (R_t, paid at t), R_next [T] (R_{t+1}), M, trade_shares [T, N, N],
    Y, PC, bond_demand, assets, home_share (pi_ii,t), share_constrained,
    dispersion (std of log household expenditure) [T, N], residuals [T, N] (goods
    j = 1..N-1 then bonds, relative to world GDP), walras [T] (the dropped market),
    lam_T (the distribution after the last date), V0 [N, Na, Nz] (date-0 ex-ante values).
    """

    W: jax.Array
    R: jax.Array
    R_next: jax.Array
    M: jax.Array
    trade_shares: jax.Array
    Y: jax.Array
    PC: jax.Array
    bond_demand: jax.Array
    assets: jax.Array
    home_share: jax.Array
    share_constrained: jax.Array
    dispersion: jax.Array
    residuals: jax.Array
    walras: jax.Array
    lam_T: jax.Array
    V0: jax.Array


def prices_from_unknowns(U):
    """U [T, N] -> (W [T, N] with mean one per date, R_next [T])."""
    N = U.shape[1]
    return jax.vmap(wages_from_x)(U[:, : N - 1]), U[:, N - 1]


def unknowns_from_prices(W, R_next):
    """Inverse of :func:`prices_from_unknowns`."""
    return jnp.concatenate([jax.vmap(x_from_wages)(W), jnp.asarray(R_next)[:, None]], axis=1)


@renamed_keywords(T="horizon")
def steady_unknowns(end: Endpoint, horizon: int):
    """The constant path at a stationary equilibrium's prices."""
    T = horizon
    W = jnp.broadcast_to(end.W, (T, end.W.shape[0]))
    return unknowns_from_prices(W, jnp.full((T,), end.R))


def date_problems(U, economy: Economy, shock: ShockPath, initial: Endpoint,
                  terminal: Endpoint):
    """Household problems of dates 0..T (leading axes [T+1, N]): W_T, the terminal wages;
    R_0, the initial R."""
    W, R_next = prices_from_unknowns(U)
    W_all = jnp.concatenate([W, terminal.W[None]], axis=0)
    R_all = jnp.concatenate([jnp.reshape(initial.R, (1,)), R_next])

    def one(fields, w, r):
        return household_problems(economy.replace(**fields), w, r, economy.beta)

    return jax.vmap(one)(shock.fields, W_all, R_all)


def backward_pass(problems, y_terminal, hopts):
    """y_t = F(y_{t+1}; problem_{t+1}) from y_T = y_terminal: [T, N, ...] for t = 0..T-1."""
    op = jax.vmap(household_operator, in_axes=(0, 0, None))

    def back(y_next, prob_next):
        y = op(y_next, prob_next, hopts)
        return y, y

    tail = jax.tree_util.tree_map(lambda x: x[1:], problems)
    _, ys = lax.scan(back, y_terminal, tail, reverse=True)
    return ys


def expenditure_dispersion(lam, c, pi, p):
    """Standard deviation of log household expenditure e(a,z) = sum_j p_j c_j pi_j under
    lam, per country (consumption inequality)."""
    e = jnp.log(jnp.einsum("iazj,ij->iaz", c * pi, p))
    mean = jnp.einsum("iaz,iaz->i", lam, e)
    var = jnp.einsum("iaz,iaz->i", lam, (e - mean[:, None, None]) ** 2)
    return jnp.sqrt(jnp.maximum(var, 0.0))


def forward_path(problems, initial: Endpoint, terminal: Endpoint, hopts, report,
                 extras=()):
    """The backward pass from the terminal values, then the distribution forward from
    ``initial.lam``: at each date t < T the households' policies at that date's prices
    (a :class:`HouseholdSolution`), what the date reports, ``report(lam_t, hh_t, prob_t,
    *extras_t)``, and lam_{t+1} = Lambda_t' lam_t. ``extras``: arrays with a leading date
    axis of T passed to ``report``. Returns (lam_T, the reports stacked by date, V_0: the
    date-0 value function)."""
    ys = backward_pass(problems, terminal.y, hopts)
    pol = jax.vmap(policies, in_axes=(0, 0, None))
    head = jax.tree_util.tree_map(lambda x: x[:-1], problems)

    def forward(lam, xs):
        y, prob, *ex = xs
        hh = HouseholdSolution(*pol(y, prob, hopts), None, None, None, None)
        G = jax.vmap(asset_transition)(hh.pi, hh.lottery_lo, hh.lottery_w)
        return jax.vmap(distribution_step)(lam, G, prob.P), report(lam, hh, prob, *ex)

    lam_T, outs = lax.scan(forward, initial.lam, (ys, head, *extras))
    y0 = jax.tree_util.tree_map(lambda x: x[0], ys)
    prob0 = jax.tree_util.tree_map(lambda x: x[0], problems)
    return lam_T, outs, pol(y0, prob0, hopts)[4]


def market_report(lam, hh, prob, economy: Economy, extra_residuals=None):
    """One date's outcomes in :class:`PathOutcomes` order (M, trade shares, Y, PC, bond
    demand, assets, home shares, share constrained, expenditure dispersion, residuals,
    Walras goods residual): residuals are the goods markets j = 1..N-1 and the world bond
    market relative to world GDP, then ``extra_residuals(agg, gdp)`` if given."""
    agg = aggregate(hh, lam, prob, economy.L, economy.Na)
    gdp = jnp.sum(agg.Y)
    goods = (agg.Y - jnp.sum(agg.M, axis=0)) / gdp
    res = [goods[1:], (jnp.sum(agg.bond_demand) / gdp)[None]]
    if extra_residuals is not None:
        res.append(extra_residuals(agg, gdp))
    idx = jnp.arange(economy.N)
    return (agg.M, agg.trade_shares, agg.Y, agg.PC, agg.bond_demand, agg.assets,
            agg.trade_shares[idx, idx], agg.share_constrained,
            expenditure_dispersion(lam, hh.c, hh.pi, prob.p), jnp.concatenate(res), goods[0])


def path_outcomes(U, economy: Economy, shock: ShockPath, initial: Endpoint,
                  terminal: Endpoint, hopts) -> PathOutcomes:
    """Backward pass, forward pass and aggregates along the path at unknowns U [T, N]."""
    problems = date_problems(U, economy, shock, initial, terminal)
    lam_T, outs, V0 = forward_path(problems, initial, terminal, hopts,
                                   lambda lam, hh, prob: market_report(lam, hh, prob, economy))
    W, R_next = prices_from_unknowns(U)
    R = jnp.concatenate([jnp.reshape(initial.R, (1,)), R_next[:-1]])
    return PathOutcomes(W, R, R_next, *outs, lam_T, V0)


def path_residuals(U, economy, shock, initial, terminal, hopts):
    """The stacked market residuals H(U) [T, N] (see :func:`path_outcomes`)."""
    return path_outcomes(U, economy, shock, initial, terminal, hopts).residuals
