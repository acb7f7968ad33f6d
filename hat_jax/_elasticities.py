"""Trade elasticities by automatic differentiation (model.md section 9).

Definition (partial equilibrium): a permanent change in the trade cost d_ij with wages W,
the interest rate R and the distribution lambda held fixed, households re-optimizing
(their whole dynamic problem re-solved):

    theta_ij = d log(M_ij / M_ii) / d log d_ij,    M_ij = L_i sum_{a,z} lambda p_ij c_ij pi_ij,

with theta_ii = 1 by convention. Only importer i's household problem depends on d_ij
(through p_ij = d_ij W_j / A_j, so d log p_ij = d log d_ij). Micro elasticities by state:

    theta^I_ij(a,z)   = d log c_ij / d log d_ij  = -(d a'_ij / d log d_ij) / (p_ij c_ij) - 1
    theta^E_ij(a,z)   = d log pi_ij / d log d_ij = (dv_ij - sum_k pi_ik dv_ik) / sigma_i
    theta^I_ii,j, theta^E_ii,j: the home variety's responses to the same change,
    theta_ij(a,z)     = 1 + (theta^E_ij - theta^E_ii,j) + (theta^I_ij - theta^I_ii,j),
    omega_ij(a,z)     = L_i lambda p_ij c_ij pi_ij / M_ij        (expenditure weights),

and Proposition 3 rebuilds the aggregate:

    theta_ij = 1 + sum omega_ij (theta^I_ij + theta^E_ij) - sum omega_ii (theta^I_ii,j + theta^E_ii,j).

Everything comes from one forward-mode pass (``jax.jvp`` under ``jax.vmap`` over the N
directions "log d_ij for every importer i at once", exporter j) through the household
fixed point, which is differentiated by the implicit function theorem
(:func:`hat_jax._household.household_fixed_points`): one factorisation of I - dF/dy per
importer, shared by its N partners. No finite differences. The intensive margin is taken
from the tangent of a' (so a household at the borrowing limit has theta^I = -1 exactly)
and the extensive margin from the tangent of v (exact even where pi underflows).

Trade-weighted mean per importer: theta_bar_i = sum_{j != i} theta_ij pi_ij / sum_{j != i} pi_ij.
Frames and figures of these results are in :mod:`hat_jax.report.elasticities`.
"""

from __future__ import annotations

from typing import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._compiled import compiled
from ._aggregates import trade_flows
from ._change import country_index
from ._equilibrium import EquilibriumOptions
from ._household import HouseholdOptions, HouseholdProblem, asset_grid, solve_households
from ._params import Economy, household_problems
from ._results import check_converged

__all__ = [
    "BilateralElasticities", "TradeElasticities", "StateElasticities", "bilateral_elasticities",
    "trade_elasticities", "state_elasticities", "proposition3", "country_index",
    "mean_elasticity", "pair_margins",
]


# ------------------------------------------------------------------------ numerical core
class BilateralElasticities(eqx.Module):
    """Arrays of :func:`bilateral_elasticities` for K importers (row k = importer home[k]).

    theta[k, j]: d log(M_kj / M_kk) / d log d_kj by AD of the flows (diagonal 1);
    theta_I, theta_E, theta_I_home, theta_E_home, theta_state, omega[k, j, a, z] (see
    the module docstring; on the diagonal j = home[k] the margins are 0 and theta_state
    1, matching theta_kk = 1); omega[k, j] is the expenditure weight of variety j, so
    omega[k, home[k]] is omega_ii. M[k, j]: flows at the re-solved policies (lambda
    fixed); expenditure_shares[k, a, z, j] = p c pi / sum_j p c pi by state;
    at_limit[k, a, z, j]: a'_kj at the borrowing limit; converged, residual, iterations:
    the re-solved household problems.
    """

    theta: jax.Array
    theta_I: jax.Array
    theta_E: jax.Array
    theta_I_home: jax.Array
    theta_E_home: jax.Array
    theta_state: jax.Array
    omega: jax.Array
    M: jax.Array
    expenditure_shares: jax.Array
    at_limit: jax.Array
    converged: jax.Array
    residual: jax.Array
    iterations: jax.Array


def bilateral_elasticities(problems: HouseholdProblem, home, lam, L, opts: HouseholdOptions,
                           state0) -> BilateralElasticities:
    """Elasticities of K importers with respect to each of their N partners' trade costs.

    problems: the K importers' household problems (leading axis K; p[k, j] delivered
    prices); home[k]: importer k's own variety; lam[k, a, z]: the distribution, held
    fixed; L[k]; state0: warm start (the equilibrium's household ``state`` rows). Pure
    and jit-able (``opts`` an ordinary argument: its numeric fields may be traced). Direction j perturbs log p_kj for every k at once
    (the K problems are independent), so one jvp per exporter gives every importer's
    response, and the implicit-function LU of each importer is shared by all N
    directions.
    """
    K, N = problems.p.shape
    dtype = problems.p.dtype
    rows = jnp.arange(K)

    def solve(s):
        prob = problems._replace(p=problems.p * jnp.exp(s))
        hh = solve_households(prob, opts, state0, throw=False)
        # lambda is fixed along s (it carries no tangent in this jvp), and keeps its own
        # derivative for an outer jvp (hat_jax.calibration.elasticities_jacobian)
        M = trade_flows(lam, hh.c, hh.pi, prob.p, L)
        return (hh.a_next, hh.v, jnp.log(M)), (hh, M)

    s0 = jnp.zeros((K, N), dtype)

    def direction(j):
        t = jnp.broadcast_to(jax.nn.one_hot(j, N, dtype=dtype), (K, N))
        _, (da, dv, dlogM), (hh, M) = jax.jvp(solve, (s0,), (t,), has_aux=True)
        spend = hh.c * problems.p[:, None, None, :]  # p_kl c_kl(a, z)
        sigma = problems.sigma[:, None, None, None]
        dlogpi = (dv - jnp.sum(hh.pi * dv, axis=-1, keepdims=True)) / sigma
        own = lambda x: x[..., j]
        hom = lambda x: x[rows, :, :, home]
        is_home = (home == j).astype(dtype)[:, None, None]
        th_I = -own(da) / own(spend) - 1.0
        th_I_home = -hom(da) / hom(spend) - is_home
        th_E, th_E_home = own(dlogpi), hom(dlogpi)
        theta = dlogM[:, j] - dlogM[rows, home]
        return (theta, th_I, th_E, th_I_home, th_E_home), (hh, M)

    per_dir, (hh, M) = jax.vmap(direction, out_axes=(0, None))(jnp.arange(N))
    # [direction j, k, ...] -> [k, j, ...]
    theta, th_I, th_E, th_I_home, th_E_home = (jnp.swapaxes(x, 0, 1) for x in per_dir)
    diag = jnp.arange(N)[None, :] == home[:, None]  # [k, j]
    dg = diag[:, :, None, None]
    theta = jnp.where(diag, 1.0, theta)
    th_I, th_E, th_I_home, th_E_home = (jnp.where(dg, 0.0, x)
                                        for x in (th_I, th_E, th_I_home, th_E_home))
    theta_state = 1.0 + (th_E - th_E_home) + (th_I - th_I_home)

    flow = hh.c * hh.pi * problems.p[:, None, None, :]  # p c pi by state, [k, a, z, j]
    omega = L[:, None, None, None] * lam[..., None] * flow / M[:, None, None, :]
    omega = jnp.moveaxis(omega, -1, 1)  # [k, j, a, z]
    shares = flow / jnp.sum(flow, axis=-1, keepdims=True)
    at_limit = hh.a_next <= problems.a_min[:, None, None, None]
    return BilateralElasticities(theta, th_I, th_E, th_I_home, th_E_home, theta_state, omega,
                                 M, shares, at_limit, hh.converged, hh.residual,
                                 hh.iterations)


_bilateral_jit = jax.jit(bilateral_elasticities)


def mean_elasticity(theta, M, home):
    """Trade-weighted mean per importer k (row), over partners j != home[k]:
    theta_bar_k = sum_{j != i} theta_kj M_kj / sum_{j != i} M_kj (= weights pi_kj)."""
    off = ~(jnp.arange(theta.shape[1])[None, :] == jnp.asarray(home)[:, None])
    return (jnp.sum(jnp.where(off, theta * M, 0.0), axis=1)
            / jnp.sum(jnp.where(off, M, 0.0), axis=1))


def pair_margins(omega, theta_I, theta_E, theta_I_home, theta_E_home, home) -> dict:
    """The aggregate margins of Proposition 3 for every pair (k, j), arrays [K, N]:
    intensive = sum omega_ij theta^I_ij, extensive = sum omega_ij theta^E_ij,
    intensive_home = sum omega_ii theta^I_ii,j, extensive_home = sum omega_ii
    theta^E_ii,j (sums over states (a, z); omega [K, N, a, z], omega_ii = omega[k,
    home[k]]), so theta_ij = 1 + intensive + extensive - intensive_home -
    extensive_home; 0 on the diagonal j = home[k]."""
    w_home = omega[jnp.arange(omega.shape[0]), jnp.asarray(home)][:, None]  # [K, 1, a, z]
    agg = lambda w, x: jnp.sum(w * x, axis=(-2, -1))  # noqa: E731
    return {"intensive": agg(omega, theta_I), "extensive": agg(omega, theta_E),
            "intensive_home": agg(w_home, theta_I_home),
            "extensive_home": agg(w_home, theta_E_home)}


# --------------------------------------------------------------------------- public API
class TradeElasticities(eqx.Module):
    """Trade elasticities at an equilibrium, for the importers ``importers`` (indices into
    ``countries``; all N by default). Rows k follow ``importers``; columns j, all N.

    theta[k, j]: theta_ij (importer rows, diagonal 1); theta_mean[k]: trade-weighted
    mean over partners j != i; price[k, j]: delivered price p_ij; share[k, j]: trade
    share pi_ij = M_ij / sum_j M_ij; M[k, j]: flows (lambda fixed, policies re-solved).
    Micro arrays [k, j, a, z]: theta_I, theta_E (partner variety j), theta_I_home,
    theta_E_home (home variety i, same change of d_ij), theta_state (state total),
    omega (expenditure weight of variety j: omega_ij; at j = i, omega_ii).
    expenditure_shares[k, a, z, j], at_limit[k, a, z, j] (a'_ij at the borrowing limit);
    lam[k, a, z]; assets[k, a] (asset grid of importer k); z[z] (productivity levels).
    Use :meth:`states` for one pair's state-level arrays and
    :mod:`hat_jax.report.elasticities` for pandas tables and figures.
    """

    theta: jax.Array
    theta_mean: jax.Array
    price: jax.Array
    share: jax.Array
    M: jax.Array
    theta_I: jax.Array
    theta_E: jax.Array
    theta_I_home: jax.Array
    theta_E_home: jax.Array
    theta_state: jax.Array
    omega: jax.Array
    expenditure_shares: jax.Array
    at_limit: jax.Array
    lam: jax.Array
    assets: jax.Array
    z: jax.Array
    converged: jax.Array
    residual: jax.Array
    countries: tuple = eqx.field(static=True)
    importers: tuple = eqx.field(static=True)

    def row(self, importer) -> int:
        """Row k of an importer given by label or country index (ValueError if absent)."""
        i = country_index(self.countries, importer, "importer")
        if i not in self.importers:
            have = ", ".join(self.countries[k] for k in self.importers)
            raise ValueError(f"importer {self.countries[i]!r} was not computed (this result "
                             f"has importers: {have}); call trade_elasticities(eq, "
                             f"importer={self.countries[i]!r}) or with importer=None")
        return self.importers.index(i)

    def margins(self) -> dict:
        """{intensive, extensive, intensive_home, extensive_home}: the Proposition-3
        margins of every pair, arrays [k, j] (:func:`pair_margins`; theta = 1 +
        intensive + extensive - intensive_home - extensive_home)."""
        return pair_margins(self.omega, self.theta_I, self.theta_E, self.theta_I_home,
                            self.theta_E_home, self.importers)

    def states(self, importer, partner) -> "StateElasticities":
        """State-level elasticities of ``importer`` with respect to d_{importer, partner}."""
        return state_elasticities(self, importer, partner)


class StateElasticities(eqx.Module):
    """Micro elasticities of importer i with respect to d_ij, arrays [a, z].

    theta_aggregate: theta_ij (AD of the flows); theta: state total theta_ij(a,z);
    theta_I, theta_E: intensive / extensive margins of variety j; theta_I_home,
    theta_E_home: of the home variety (theta^I_ii,j, theta^E_ii,j); omega_ij, omega_ii:
    expenditure weights (each sums to one over states); lam: distribution; assets[a];
    z[z]; partner_share: state expenditure share on variety j; foreign_share: on all
    foreign varieties (1 - home share); constrained: a'_ij at the borrowing limit.
    """

    theta_aggregate: jax.Array
    theta: jax.Array
    theta_I: jax.Array
    theta_E: jax.Array
    theta_I_home: jax.Array
    theta_E_home: jax.Array
    omega_ij: jax.Array
    omega_ii: jax.Array
    lam: jax.Array
    assets: jax.Array
    z: jax.Array
    partner_share: jax.Array
    foreign_share: jax.Array
    constrained: jax.Array
    importer: str = eqx.field(static=True)
    partner: str = eqx.field(static=True)


def trade_elasticities(equilibrium, importer=None, opts: EquilibriumOptions | None = None, *,
                       throw: bool = True, **overrides) -> TradeElasticities:
    """theta_ij = d log(M_ij/M_ii) / d log d_ij at a solved equilibrium (model.md s.9).

    W, R and lambda fixed at ``equilibrium``; each importer's household problem is
    re-solved (warm-started from the equilibrium's) and differentiated by forward-mode AD
    through its fixed point. opts: :class:`EquilibriumOptions`, whose household settings
    (``hh_tol``, 1e-10 on the sup-norm change of c and v; ``hh_max_iter``;
    ``hh_stop_rule``; ``tangent_solver``) the re-solve uses, as :func:`solve_world` does;
    keyword ``overrides`` replace its fields (``hh_tol=1e-13``).
    importer: None (all N importers: the N x N matrix) or one country (label or index:
    one row, one factorisation). throw: raise ConvergenceError if a re-solved household
    problem did not converge (else check ``converged``). Compiled once per grid size and
    number of importers (:mod:`hat_jax._compiled`; the persistent cache across processes).
    """
    economy: Economy = equilibrium.economy
    N = economy.N
    idx = tuple(range(N)) if importer is None else (country_index(economy.countries, importer,
                                                                  "importer"),)
    opts = EquilibriumOptions() if opts is None else opts
    if overrides:
        opts = opts.replace(**overrides)
    rows = np.asarray(idx)
    take = lambda x: jnp.asarray(x)[rows]
    problems = jax.tree_util.tree_map(take, household_problems(economy, equilibrium.W,
                                                               equilibrium.R, equilibrium.beta,
                                                               equilibrium.T))
    state0 = jax.tree_util.tree_map(take, equilibrium.world.households.state)
    lam = take(equilibrium.world.distribution.lam)
    opts = opts.household_options(economy)
    args = (problems, jnp.asarray(rows), lam, take(economy.L), opts, state0)
    out = compiled(_bilateral_jit, args)(*args)
    if throw:
        check_converged("household problem (EGM) re-solved for the trade elasticities",
                        out.converged, out.iterations, out.residual, opts.tol,
                        labels=[economy.countries[i] for i in idx])
    share = out.M / jnp.sum(out.M, axis=1, keepdims=True)
    theta_mean = mean_elasticity(out.theta, out.M, rows)
    assets = jax.vmap(asset_grid, in_axes=(0, None))(problems, economy.Na)
    return TradeElasticities(
        theta=out.theta, theta_mean=theta_mean, price=problems.p, share=share, M=out.M,
        theta_I=out.theta_I, theta_E=out.theta_E, theta_I_home=out.theta_I_home,
        theta_E_home=out.theta_E_home, theta_state=out.theta_state, omega=out.omega,
        expenditure_shares=out.expenditure_shares, at_limit=out.at_limit, lam=lam,
        assets=assets, z=jnp.asarray(economy.z), converged=out.converged,
        residual=out.residual, countries=tuple(economy.countries), importers=idx)


def state_elasticities(result, importer, partner, **kw) -> StateElasticities:
    """State-level elasticities of ``importer`` w.r.t. d_{importer, partner}, arrays [a, z].

    ``result``: a :class:`TradeElasticities` (no new computation) or an Equilibrium
    (computes that importer's row first; ``kw`` go to :func:`trade_elasticities`).
    """
    if not isinstance(result, TradeElasticities):
        result = trade_elasticities(result, importer, **kw)
    k = result.row(importer)
    i = result.importers[k]
    j = country_index(result.countries, partner, "partner")
    if j == i:
        raise ValueError(f"partner must differ from the importer ({result.countries[i]!r}): "
                         "theta_ii = 1 by convention, there is no micro elasticity")
    shares = result.expenditure_shares[k]
    return StateElasticities(
        theta_aggregate=result.theta[k, j], theta=result.theta_state[k, j],
        theta_I=result.theta_I[k, j], theta_E=result.theta_E[k, j],
        theta_I_home=result.theta_I_home[k, j], theta_E_home=result.theta_E_home[k, j],
        omega_ij=result.omega[k, j], omega_ii=result.omega[k, i], lam=result.lam[k],
        assets=result.assets[k], z=result.z, partner_share=shares[..., j],
        foreign_share=1.0 - shares[..., i], constrained=result.at_limit[k, :, :, j],
        importer=result.countries[i], partner=result.countries[j])


def proposition3(states: StateElasticities):
    """theta_ij rebuilt from the micro elasticities (Proposition 3):
    1 + sum omega_ij (theta^I_ij + theta^E_ij) - sum omega_ii (theta^I_ii,j + theta^E_ii,j)."""
    return (1.0 + jnp.sum(states.omega_ij * (states.theta_I + states.theta_E))
            - jnp.sum(states.omega_ii * (states.theta_I_home + states.theta_E_home)))
