"""Equivalent variation by household state (model.md s.10).

For each state (a, z) of country i the income factor lambda_tau(a, z) solves

    V_old(a, z; lambda) = V_new(a, z),

where V_old(.; lambda) is the ex-ante value (logit option value included) at the OLD
prices when income R a + W_i z is multiplied by lambda in every period (R -> lambda R,
W_i -> lambda W_i, and the tariff rebate T -> lambda T, model.md s.14; same grid and
borrowing limit). lambda_tau - 1 > 0 is a gain, in percent of income. The roots are
solved by :func:`hat_jax.welfare.ev_roots` (see :mod:`hat_jax.welfare.roots`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._backend import resolve_strategy
from .._compiled import compile_and_run
from ..baseline import Baseline, as_baseline
from ..equilibrium import Equilibrium
from ..household import household_fixed_point, policies
from ..params import Economy, household_options
from ..results import ConvergenceError
from .costs import country_index
from .counterfactual import Counterfactual, country_problem, country_state
from .options import EVOptions, ev_options
from .roots import scaled_problem, solve_ev_roots, value_slope

__all__ = ["EquivalentVariation", "equivalent_variation", "equivalent_variations",
           "ev_at", "scaled_values", "check_ev", "ev_slope"]


class EquivalentVariation(NamedTuple):
    """lambda_tau(a, z) of one country and diagnostics (all [Na, Nz]).

    factor: the EV income factor lambda_tau (``lam`` is the same array, the documented
    name); converged: per state; residual: |V_old(factor) - V_new| / slope (the
    distance to the root in units of the factor); iterations: household solves per
    state; slope: dV_old/dlambda at lambda = 1; country: the index; tol: the tolerance;
    value_residual: the Bellman residual of the values behind each root (sup-norm change
    of v in one reference sweep at that state's factor; <= hh_tol where converged under
    the default stop rule, not checked under hh_stop_rule="policy").
    """

    factor: jax.Array
    converged: jax.Array
    residual: jax.Array
    iterations: jax.Array
    slope: jax.Array
    country: int
    tol: float = EVOptions().tol
    value_residual: jax.Array | None = None

    @property
    def lam(self):
        """The EV factor lambda_tau (alias of ``factor``, as documented in the README)."""
        return self.factor


@jax.jit
def _ev_program(problem, y_base, V_base, V_target, hopts, opts):
    # starting information (no derivative needed: lambda_tau depends on problem, V_target)
    y_base, V_base = lax.stop_gradient((y_base, V_base))
    _, slope, x_dot = value_slope(lax.stop_gradient(problem), y_base, hopts)
    r = solve_ev_roots(problem, y_base, V_base, V_target, slope, x_dot, hopts, opts)
    return r.factor, r.converged, r.residual, r.iterations, slope, r.value_residual


def _same_grid(e0: Economy, e1: Economy) -> bool:
    return (e0.Na == e1.Na and e0.Nz == e1.Nz and e0.gamma == e1.gamma
            and np.array_equal(np.asarray(e0.A), np.asarray(e1.A))
            and float(e0.phi) == float(e1.phi) and float(e0.amax) == float(e1.amax))


def _target_values(baseline: Equilibrium, new, i: int):
    """V_new[a, z] of country i from an Equilibrium, a Counterfactual or an array."""
    if isinstance(new, Counterfactual):
        new = new.new
    like = baseline.world.households.V[i]
    if isinstance(new, Equilibrium):
        if not _same_grid(baseline.economy, new.economy):
            raise ValueError("the counterfactual economy has a different asset grid or "
                             "income process than the baseline; EV needs the same grid")
        return new.world.households.V[i]
    V_target = jnp.asarray(new, jnp.float64)
    if V_target.shape != like.shape:
        raise ValueError(f"V_new must have shape {like.shape} (Na, Nz), got {V_target.shape}")
    return V_target


def equivalent_variation(baseline: Baseline | Equilibrium, new, country, opts: EVOptions | None = None,
                         *, throw: bool = True, timings: dict | None = None,
                         **fields) -> EquivalentVariation:
    """lambda_tau(a, z) for every state of ``country`` (model.md s.10).

    baseline: the old equilibrium (its prices define V_old(.; lambda)); new: the
    counterfactual :class:`Equilibrium` (or a :class:`Counterfactual`, or V_new as an
    [Na, Nz] array on the same grid). opts: :class:`EVOptions` (tol 1e-10 per state in
    units of lambda, max_iter 40 household solves per state, batch_size 25, nodes 40,
    hh_tol 1e-10, method "continuation": states share household solves, the rest by the
    safeguarded per-state solver; hh_stop_rule "policy": the original code's rule with
    a fixed number of sweeps, :mod:`hat_jax.welfare.policy_rule`); ``fields``
    (tol=..., max_iter=..., method=...) replace single fields of it.
    throw: raise ConvergenceError listing failed states (asset index, z index, residual,
    iterations); with throw=False inspect ``converged`` (failed states keep their best
    finite iterate, never NaN). timings: receives compile_s and run_s.

    Which root: V_old(a, z; lambda) increases with lambda in almost every state, but
    where income R a + W z is negative (at the borrowing limit with low productivity)
    scaling it up first lowers V: V_old dips before it rises. The EV is the first root
    in the direction of the welfare change (lambda > 1 if V_new > V_old, < 1 if V_new <
    V_old), so that lambda_tau - 1 always has the sign of the gain and varies smoothly
    across neighbouring states (the other root, on the dip, can be several percent on
    the wrong side of 1). In those states lambda_tau does not tend to 1 as the change
    vanishes, and a proportional income gift is recovered only where V_old increases
    in lambda (:func:`ev_slope` > 0); :func:`hat_jax.welfare.ev_derivative` is NaN there.
    """
    opts = ev_options(opts, **fields)
    b = as_baseline(baseline)
    baseline = b.equilibrium
    i = country_index(baseline.economy, country)
    V_target = _target_values(baseline, new, i)
    args = (country_problem(b, i), country_state(b, i),
            baseline.world.households.V[i], V_target,
            household_options(baseline.economy, tol=opts.hh_tol,
                              stop_rule=opts.hh_stop_rule), opts)
    out = compile_and_run(_ev_program, args, timings)
    ev = EquivalentVariation(*out[:5], i, opts.tol, out[5])
    if throw:
        check_ev(ev, baseline.economy.countries[i])
    return ev


def _ev_batch(problem, y_base, V_base, V_targets, hopts, opts, strategy):
    # the slope at lambda = 1 and its state derivative depend on the baseline only:
    # computed once for every scenario
    y_base, V_base = lax.stop_gradient((y_base, V_base))
    _, slope, x_dot = value_slope(lax.stop_gradient(problem), y_base, hopts)
    one = lambda V_t: solve_ev_roots(problem, y_base, V_base, V_t, slope, x_dot, hopts, opts)
    r = lax.map(one, V_targets) if strategy == "map" else jax.vmap(one)(V_targets)
    return r.factor, r.converged, r.residual, r.iterations, slope, r.value_residual


_EV_BATCH = {s: jax.jit(lambda *a, s=s: _ev_batch(*a, s)) for s in ("map", "vmap")}


def equivalent_variations(baseline: Baseline | Equilibrium, V_new, country,
                          opts: EVOptions | None = None, *, strategy: str = "auto",
                          timings: dict | None = None, **fields) -> EquivalentVariation:
    """The EV of ``country`` in K counterfactuals at once, against one baseline: V_new
    [K, Na, Nz] (the new values of each scenario, e.g. ``eq_b.world.households.V[:, i]``
    of a batch of equilibria). One compiled program: the baseline's slope is computed
    once, then each scenario's roots as :func:`equivalent_variation` finds them.
    strategy: ``"map"`` (one scenario after another: the CPU), ``"vmap"`` (lock step: an
    accelerator) or ``"auto"`` (by backend). Returns an :class:`EquivalentVariation`
    whose arrays have the leading axis K (``slope`` too); never raises on a state that
    fails (see ``converged``; :func:`ev_at` and :func:`check_ev` for one scenario)."""
    opts = ev_options(opts, **fields)
    b = as_baseline(baseline)
    baseline = b.equilibrium
    i = country_index(baseline.economy, country)
    like = baseline.world.households.V[i]
    V_new = jnp.asarray(V_new, jnp.float64)
    if V_new.ndim != 3 or V_new.shape[1:] != like.shape:
        raise ValueError(f"V_new must have shape (K,) + {like.shape} (K scenarios of Na x "
                         f"Nz values), got {V_new.shape}")
    strategy = resolve_strategy(strategy)
    args = (country_problem(b, i), country_state(b, i),
            baseline.world.households.V[i], V_new,
            household_options(baseline.economy, tol=opts.hh_tol,
                              stop_rule=opts.hh_stop_rule), opts)
    f, conv, res, its, slope, vres = compile_and_run(_EV_BATCH[strategy], args, timings)
    slope = jnp.broadcast_to(slope, f.shape)
    return EquivalentVariation(f, conv, res, its, slope, i, opts.tol, vres)


def ev_at(evs: EquivalentVariation, k: int) -> EquivalentVariation:
    """Scenario k of a batch from :func:`equivalent_variations`."""
    at = lambda x: None if x is None else x[k]
    return evs._replace(factor=evs.factor[k], converged=evs.converged[k],
                        residual=evs.residual[k], iterations=evs.iterations[k],
                        slope=evs.slope[k], value_residual=at(evs.value_residual))


@jax.jit
def _scaled_values_program(problem, y, factor, hopts):
    prob = scaled_problem(problem, factor)
    yy, res, _ = household_fixed_point(y, prob, hopts)
    return policies(yy, prob, hopts)[4], res


def scaled_values(eq: Baseline | Equilibrium, country, factor, hh_tol: float = 1e-10):
    """V_old(a, z; factor): country i's ex-ante values at the prices of ``eq`` when
    income R a + W_i z is scaled by ``factor`` in every period (the map whose root in
    the factor is the EV). Raises ConvergenceError if the household problem does not
    converge."""
    eq = as_baseline(eq)
    i = country_index(eq.economy, country)
    V, res = _scaled_values_program(country_problem(eq, i), country_state(eq, i),
                                    jnp.asarray(factor, jnp.float64),
                                    household_options(eq.economy, tol=hh_tol))
    if not float(res) <= hh_tol:
        raise ConvergenceError(f"household problem at income factor {float(factor)!r} did "
                               f"not converge: residual {float(res):.3e}")
    return V


_value_slope_program = jax.jit(value_slope)


def ev_slope(eq: Baseline | Equilibrium, country, hh_tol: float = 1e-10):
    """dV_old(a,z; lambda)/dlambda at lambda = 1 for every state of ``country``."""
    eq = as_baseline(eq)
    i = country_index(eq.economy, country)
    return _value_slope_program(country_problem(eq, i), country_state(eq, i),
                                household_options(eq.economy, tol=hh_tol))[1]


def check_ev(ev: EquivalentVariation, label: str = "", tol: float | None = None) -> None:
    """Raise ConvergenceError naming the states whose EV root did not converge (``tol``:
    the tolerance named in the message, default ``ev.tol``)."""
    conv = np.asarray(ev.converged)
    if conv.all():
        return
    tol = ev.tol if tol is None else tol
    bad = np.argwhere(~conv)
    res, its = np.asarray(ev.residual), np.asarray(ev.iterations)
    parts = [f"(a={a}, z={z}): residual {res[a, z]:.3e} after {int(its[a, z])} household "
             "solves" for a, z in bad[:8]]
    more = f" (and {len(bad) - 8} more)" if len(bad) > 8 else ""
    raise ConvergenceError(
        f"equivalent variation of {label or 'country ' + str(ev.country)}: {len(bad)} of "
        f"{conv.size} states did not converge to tolerance {float(tol):g}: "
        + "; ".join(parts) + more)
