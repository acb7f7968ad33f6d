"""Standard errors of a counterfactual by the delta method (model.md section 16).

A counterfactual's outputs as one differentiable function of the calibrated parameters,

    params -> (A, d) -> baseline equilibrium (beta solved at the target R)
           -> the change applied -> counterfactual equilibrium (beta fixed, W and R solved)
           -> the EV of every state of country i, its lambda-weighted mean, ACR,

every fixed point differentiated by the implicit function theorem (the equilibria by
:func:`hat_jax.solve_equilibrium_jit`, the EV roots by the custom jvp of
:func:`~hat_jax.welfare.ev_roots`), so ``jax.jacfwd`` gives d outputs / d params exactly
(K forward directions: the outputs are many, the parameters 46). With V_params from the
calibration (:func:`hat_jax.calibration.params_inference`) the delta method gives
V_f = J V_params J'; through the calibration map, d outputs / d m_data = J G^{-1}.

How a change moves with the parameters: a proportional change of trade costs or TFP
(``Change.global_cut``, ``unilateral_cut``, ``bilateral_cut``, ``scale_costs``,
``tfp``) keeps its proportion, new = (new / old at the estimate) x old(params), and a
cost floored at 1 stays at 1 (locally constant); new levels given outright (a cost file,
tariffs, population) do not depend on the parameters; under the cost floor a cost the
change leaves above 1 at the estimate but below 1 at other parameters is floored,
new d = max(1, scale d(params)) (locally constant where it binds).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._baseline import Baseline
from .._change import Change
from .._ek import economy_from_params
from .._equilibrium import EquilibriumOptions, Start, solve_equilibrium_jit
from .._params import household_options
from .._scenario_start import unknowns_count
from ._counterfactual import country_problem
from ._options import EVOptions
from ._roots import ev_roots, value_slope
from ._summary import expenditure

__all__ = ["CounterfactualOutputs", "counterfactual_outputs", "counterfactual_jacobian",
           "change_rule", "apply_change_rule", "quintile_means", "smoothed_share"]

#: Fields whose change is proportional (kept as a ratio when the parameters move).
_PROPORTIONAL = ("d", "A")


class CounterfactualOutputs(NamedTuple):
    """The differentiable outputs of a counterfactual for country i: W, R (new wages and
    interest rate), mean_ev (sum lambda_old (l - 1)), ev [Na, Nz] (the EV factor l of
    every state), acr (log(pi_ii / pi'_ii) / theta_user), home_share, home_share_new,
    beta (of the baseline), converged (the two equilibria and every EV root; carries no
    derivative); quintile_ev [5]: the means of l - 1 by quintile of household expenditure
    (as :func:`~hat_jax.welfare.weighted_quantile_means`: the order of the states is
    locally constant, the group masses move with lambda_old, so the derivative is exact
    where no two states swap places); share_gain: sum lambda_old 1{l > 1} (a step
    function of the parameters: no derivative); share_gain_smooth: sum lambda_old
    Phi((l - 1) / h), the share with the indicator smoothed by the normal cdf at the
    bandwidth h = share_bandwidth (Silverman's rule 1.06 s n^{-1/5} on the
    lambda-weighted gains, n = 1 / sum lambda^2), whose derivative carries the mass that
    crosses zero (the delta method's share; the bootstrap is the check).
    Diagnostics (no derivative; None in a Jacobian): equilibria_converged (both
    equilibria), ev_failed (the number of states whose EV root did not converge) and
    ev_residual (the largest root residual |V_old(l) - V_new| / slope, in units of l),
    which say which part of ``converged`` failed."""

    W: jax.Array
    R: jax.Array
    mean_ev: jax.Array
    ev: jax.Array
    acr: jax.Array
    home_share: jax.Array
    home_share_new: jax.Array
    beta: jax.Array
    converged: jax.Array
    quintile_ev: jax.Array
    share_gain: jax.Array
    share_gain_smooth: jax.Array
    share_bandwidth: jax.Array
    equilibria_converged: jax.Array | None = None
    ev_failed: jax.Array | None = None
    ev_residual: jax.Array | None = None


#: The diagnostic fields of :class:`CounterfactualOutputs` (no derivative).
_DIAGNOSTICS = ("converged", "equilibria_converged", "ev_failed", "ev_residual")


def change_rule(change: Change, economy) -> dict:
    """{field: (level, scale, fixed)} of ``change`` against the baseline ``economy`` at
    the estimate: the new value is ``where(fixed, level, scale * old(params))``."""
    kind = change.experiment.get("kind", "")
    rule = {}
    for name, new in change.values.items():
        new = np.asarray(new, np.float64)
        old = np.asarray(getattr(economy, name), np.float64)
        if name in _PROPORTIONAL and kind != "costs" and new.shape == old.shape:
            fixed = (old == 0) | ((name == "d") & (new == 1.0))
            scale = np.where(fixed, 1.0, new / np.where(old == 0, 1.0, old))
        else:
            fixed, scale = np.ones(new.shape, bool), np.ones(new.shape)
        rule[name] = (jnp.asarray(new), jnp.asarray(scale), jnp.asarray(fixed))
    return rule


def apply_change_rule(rule, economy):
    """The changed economy of :func:`change_rule`'s ``rule`` at the baseline ``economy``
    (at any parameters; jit-able): new = where(fixed, level, scale * old); under the cost
    floor (``economy.cost_floor``) a proportional cost stays at least 1, new d =
    max(1, scale d(params)), as the change was built."""
    values = {name: jnp.where(fixed, level, scale * getattr(economy, name))
              for name, (level, scale, fixed) in rule.items()}
    if "d" in values and economy.cost_floor:
        values["d"] = jnp.maximum(values["d"], 1.0)
    return economy.replace(**values)


def quintile_means(x, key, w, n: int = 5):
    """Differentiable means of x within the n quantile groups of ``key`` under weights w:
    group q holds the mass of the states (ordered by ``key``, the order held fixed) in
    [q/n, (q+1)/n) of the cumulative weight, a state straddling a boundary in proportion
    (jnp twin of :func:`~hat_jax.welfare.weighted_quantile_means`)."""
    order = jnp.argsort(lax.stop_gradient(key).reshape(-1), stable=True)
    x, w = x.reshape(-1)[order], w.reshape(-1)[order]
    w = w / jnp.sum(w)
    hi = jnp.cumsum(w)
    lo = hi - w
    a = jnp.arange(n) / n
    m = jnp.clip(jnp.minimum(hi[None], a[:, None] + 1.0 / n) - jnp.maximum(lo[None], a[:, None]),
                 0.0, None)
    return (m @ x) / jnp.sum(m, axis=1)


def smoothed_share(gain, w):
    """(sum w 1{gain > 0}, sum w Phi(gain / h), h) with weights w summing to one and
    h = 1.06 s n^{-1/5} (s the w-weighted standard deviation of gain, n = 1 / sum w^2;
    the bandwidth carries no derivative)."""
    gain, w = gain.reshape(-1), w.reshape(-1)
    w = w / jnp.sum(w)
    mean = jnp.sum(w * gain)
    sd = jnp.sqrt(jnp.sum(w * (gain - mean) ** 2))
    h = lax.stop_gradient(jnp.maximum(1.06 * sd * (1.0 / jnp.sum(w ** 2)) ** -0.2, 1e-12))
    exact = jnp.sum(lax.stop_gradient(w) * (lax.stop_gradient(gain) > 0))
    return exact, jnp.sum(w * jax.scipy.stats.norm.cdf(gain / h)), h


def _outputs(params, problem, rule, i, theta_user, start: Start, opts: EquilibriumOptions,
             ev_opts: EVOptions, hopts, cf_start: Start | None = None
             ) -> CounterfactualOutputs:
    econ = economy_from_params(params, problem.economy, problem.geography, problem.theta_d)
    eq = solve_equilibrium_jit(econ, opts, start, throw=False)
    base = Baseline.from_equilibrium(eq, opts)
    cf_econ = apply_change_rule(rule, base.economy)
    warm = jax.tree_util.tree_map(lax.stop_gradient, _cf_start(base, cf_econ, cf_start))
    new = solve_equilibrium_jit(cf_econ, base.opts, warm, throw=False)
    prob = country_problem(base, i)
    y = lax.stop_gradient(base.country_state(i))
    _, slope, x_dot = lax.stop_gradient(value_slope(prob, y, hopts, ev_opts.measure))
    V_old, V_new = eq.world.households.V[i], new.world.households.V[i]
    factor, ok, res, _ = ev_roots(prob, y, V_old, V_new, slope, x_dot, hopts, ev_opts)
    lam = eq.world.distribution.lam[i]
    h0 = eq.world.aggregates.trade_shares[i, i]
    h1 = new.world.aggregates.trade_shares[i, i]
    quint = quintile_means(factor - 1.0, expenditure(eq, i), lam)
    share, smooth, h = smoothed_share(factor - 1.0, lam)
    eqs_ok = lax.stop_gradient(eq.converged & new.converged)
    return CounterfactualOutputs(
        new.W, jnp.asarray(new.R), jnp.sum(lam * (factor - 1.0)), factor,
        jnp.log(h0 / h1) / theta_user, h0, h1, jnp.asarray(eq.beta),
        eqs_ok & jnp.all(ok), quint, share, smooth, h, eqs_ok,
        jnp.sum(~ok), lax.stop_gradient(jnp.max(res)))


def _cf_start(base: Baseline, cf_econ, given: Start | None = None) -> Start:
    """The counterfactual's start: ``given`` (a solved counterfactual's prices, household
    state and Jacobian: :func:`counterfactual_jacobian`'s ``cf_start``) or the baseline's,
    its Newton Jacobian kept where its shape fits the fixed-beta unknowns (N - 1 wages and
    R, plus N rebates under tariffs or wedges; :mod:`hat_jax._scenario_start`)."""
    start = base.start if given is None else given._replace(beta=base.start.beta)
    n = unknowns_count(base.economy.N, base.regime, cf_econ.has_rebates)
    if start.J is None or np.shape(start.J) != (n, n):
        return start._replace(J=None)
    return start


@jax.jit
def _outputs_program(params, problem, rule, i, theta_user, start, opts, ev_opts, hopts,
                     cf_start=None):
    return _outputs(params, problem, rule, i, theta_user, start, opts, ev_opts, hopts,
                    cf_start)


@jax.jit
def _jacobian_program(params, problem, rule, i, theta_user, start, opts, ev_opts, hopts,
                      cf_start=None):
    """The outputs and their Jacobian in one program: the K forward directions batched
    (vmap of one jvp), so the primal solves (both equilibria, every EV root) run once and
    each implicit derivative's factorisation is shared by the K directions."""
    def f(p):
        out = _outputs(p, problem, rule, i, theta_user, start, opts, ev_opts, hopts,
                       cf_start)
        diag = {k: getattr(out, k) for k in _DIAGNOSTICS}
        return out._replace(**{k: None for k in _DIAGNOSTICS}), diag

    def one(t):
        return jax.jvp(f, (params,), (t,), has_aux=True)

    basis = jnp.eye(params.size, dtype=params.dtype)
    out, jac, diag = jax.vmap(one, out_axes=(0, -1, 0))(basis)
    out, diag = jax.tree_util.tree_map(lambda x: x[0], (out, diag))
    return out._replace(**diag), jac._replace(converged=jnp.zeros(params.shape))


def _start_jacobian(J, N: int):
    """A given ``Start.J`` where it fits the baseline's unknowns (N - 1 wages and beta)
    and is finite (the calibration's or a nearby baseline's Newton Jacobian: the draws of
    a bootstrap start from it), else None (an exact Jacobian at the start)."""
    if J is None or np.shape(J) != (N, N) or not np.all(np.isfinite(np.asarray(J))):
        return None
    return jnp.asarray(np.asarray(J, np.float64))


def _args(params, problem, change, i, theta_user, start, opts, ev_opts, estimate,
          tangent_solver, cf_start=None):
    params = jnp.asarray(np.asarray(params, np.float64))
    opts = EquilibriumOptions(unknown="beta") if opts is None else opts
    ev_opts = EVOptions() if ev_opts is None else ev_opts
    at = params if estimate is None else jnp.asarray(np.asarray(estimate, np.float64))
    if at.shape != params.shape:
        raise ValueError(f"estimate must have the {params.shape[0]} entries of params, got "
                         f"shape {at.shape}")
    econ = economy_from_params(at, problem.economy, problem.geography, problem.theta_d)
    rule = change_rule(change, econ)
    N = problem.economy.N
    start = Start(R=problem.R) if start is None else start._replace(
        R=problem.R, J=_start_jacobian(start.J, N))
    hopts = household_options(problem.economy, tol=ev_opts.hh_tol,
                              stop_rule=ev_opts.hh_stop_rule, tangent_solver=tangent_solver)
    if cf_start is not None:  # prices, rebates, household state; a Jacobian only if finite
        J = cf_start.J
        ok = J is not None and np.all(np.isfinite(np.asarray(J)))
        cf_start = cf_start._replace(J=jnp.asarray(J) if ok else None)
    return (params, problem, rule, jnp.asarray(i), jnp.asarray(float(theta_user)), start,
            opts, ev_opts, hopts, cf_start)


def counterfactual_outputs(params, problem, change: Change, i: int, *,
                           theta_user: float = 4.0, start: Start | None = None,
                           opts: EquilibriumOptions | None = None,
                           ev_opts: EVOptions | None = None, estimate=None,
                           tangent_solver: str = "lu",
                           cf_start: Start | None = None) -> CounterfactualOutputs:
    """The :class:`CounterfactualOutputs` of ``change`` for country ``i`` at parameters
    ``params`` (K) of the calibration problem ``problem`` (its economy, geography,
    theta_d and target R): the baseline equilibrium with beta solved at ``problem.R``
    (``opts``, default ``EquilibriumOptions(unknown="beta")``; ``start``: where it
    starts), the counterfactual (beta fixed) and the EV (``ev_opts``). The change is
    given at ``estimate`` (default: ``params``), the parameters of the economy it was
    built from, and moves with the parameters as the module docstring says.
    tangent_solver: how each EV root's household derivative is solved ("lu": one dense
    factorisation per state shared by all K directions; "gmres": one Krylov solve per
    direction, less memory). cf_start: where the counterfactual equilibrium starts
    (default: the baseline's solution; ``Start.from_equilibrium(cf.new)`` of a solved
    counterfactual at these parameters saves its Newton iterations)."""
    args = _args(params, problem, change, i, theta_user, start, opts, ev_opts, estimate,
                 tangent_solver, cf_start)
    return jax.block_until_ready(_outputs_program(*args))


def counterfactual_jacobian(params, problem, change: Change, i: int, *,
                            theta_user: float = 4.0, start: Start | None = None,
                            opts: EquilibriumOptions | None = None,
                            ev_opts: EVOptions | None = None, estimate=None,
                            tangent_solver: str = "lu", cf_start: Start | None = None):
    """(outputs, jacobian, stats): :func:`counterfactual_outputs` and its exact Jacobian
    d outputs / d params (a :class:`CounterfactualOutputs` of arrays [..., K]; forward
    mode, K directions through both equilibria and the EV roots), stats {"seconds"}
    (compile included); ``start`` and ``cf_start`` as there."""
    t0 = time.perf_counter()
    args = _args(params, problem, change, i, theta_user, start, opts, ev_opts, estimate,
                 tangent_solver, cf_start)
    out, jac = jax.block_until_ready(_jacobian_program(*args))
    return out, jac, {"seconds": time.perf_counter() - t0}
