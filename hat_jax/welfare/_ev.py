"""Equivalent variation by household state (model.md s.10).

For each state (a, z) of country i the EV factor l(a, z) solves

    V_old(a, z; l) = V_new(a, z),

where V_old(.; l) is the ex-ante value (logit option value included) at the OLD prices
under the measure of :class:`EVOptions` (:mod:`hat_jax.welfare._measure`; same grid and
borrowing limit):

- ``"transfer"`` (default; the paper's appendix eq. 167): a permanent lump-sum transfer
  tau = (l - 1) ybar_i paid every period, T -> T + tau, with ybar_i = W_i E[z] the mean
  labour income per household (W_i, as E[z] = 1). V_old is strictly increasing in tau,
  so the root exists and is unique for every state. l - 1 = tau / ybar_i is the gain
  in percent of mean labour income; ``tau`` the transfer in the numeraire.
- ``"proportional"`` (the paper's tables): income R a + W_i z + T multiplied by l =
  lambda_tau every period (R -> lambda R, W_i -> lambda W_i, T -> lambda T, model.md
  s.14). lambda_tau - 1 is the gain in percent of income; ill posed where net income
  R a + W_i z + T <= 0 (``ill_posed``; failures there are flagged with the reason).

The roots are solved by :func:`hat_jax.welfare.ev_roots` (see
:mod:`hat_jax.welfare._roots`).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._deprecation import warn_renamed
from .._backend import resolve_strategy
from .._compiled import timed_run
from .._baseline import Baseline, as_baseline
from .._equilibrium import Equilibrium
from .._household import household_fixed_point, policies
from .._params import Economy, household_options
from .._results import ConvergenceError
from ._costs import country_index
from ._counterfactual import Counterfactual, country_problem, country_state
from ._measure import ev_problem, ill_posed_states, net_income, transfer_unit
from ._options import EVOptions, ev_options
from ._roots import solve_ev_roots, value_slope

__all__ = ["EquivalentVariation", "equivalent_variation", "equivalent_variations",
           "ev_at", "scaled_values", "check_ev", "ev_slope", "EVIllPosedWarning"]


class EVIllPosedWarning(UserWarning):
    """Proportional EV roots that failed where net income R a + W z + T <= 0 (ill posed
    there: flagged in ``EquivalentVariation.ill_posed``, not an error)."""


class EquivalentVariation(NamedTuple):
    """The EV factor l(a, z) of one country and diagnostics (all [Na, Nz]).

    factor: the EV factor l (``lam``, its name before 0.2, is deprecated: ``lam`` is the
    stationary distribution everywhere else): under
    ``measure="transfer"`` l = 1 + tau / ybar_i (``tau``: the transfer in the numeraire,
    ``unit`` = ybar_i = W_i E[z], mean labour income), under ``"proportional"`` the
    income factor lambda_tau; ``gain`` = l - 1; converged: per state; residual:
    |V_old(factor) - V_new| / slope (the distance to the root in units of the factor);
    iterations: household solves per state; slope: dV_old/dl at l = 1 (under the
    measure); country: the index; tol: the tolerance;
    value_residual: the Bellman residual of the values behind each root (sup-norm change
    of v in one reference sweep at that state's factor; <= hh_tol where converged under
    the default stop rule, not checked under hh_stop_rule="policy"); stats: compile_s
    and run_s of the program that computed it; measure: "transfer"
    or "proportional"; unit: ybar_i = W_i E[z] at the old prices (a scalar, [K] in a
    batch); ill_posed: the states where the measure is ill posed (net income R a + W z +
    T <= 0 under "proportional"; all False under "transfer"), the ``ev_ill_posed`` mask
    of the reports.
    """

    factor: jax.Array
    converged: jax.Array
    residual: jax.Array
    iterations: jax.Array
    slope: jax.Array
    country: int
    tol: float = EVOptions().tol
    value_residual: jax.Array | None = None
    stats: dict | None = None
    measure: str = "transfer"
    unit: Any = None
    ill_posed: jax.Array | None = None

    @property
    def lam(self):
        """Deprecated name of :attr:`factor` (``lam`` is the stationary distribution)."""
        warn_renamed("EquivalentVariation.lam",
                     "EquivalentVariation.factor (lam is the stationary distribution)")
        return self.factor

    @property
    def gain(self):
        """l - 1: the gain in percent of mean labour income (transfer) or of income
        (proportional), as a fraction."""
        return jnp.asarray(self.factor) - 1.0

    @property
    def tau(self):
        """The transfer tau = (l - 1) W_i E[z] in the numeraire ("transfer"; None under
        "proportional")."""
        if self.measure != "transfer" or self.unit is None:
            return None
        unit = jnp.asarray(self.unit)
        return self.gain * unit.reshape(unit.shape + (1,) * (jnp.ndim(self.factor)
                                                              - unit.ndim))


@jax.jit
def _ev_program(problem, y_base, V_base, V_target, hopts, opts):
    # starting information (no derivative needed: lambda_tau depends on problem, V_target)
    y_base, V_base = lax.stop_gradient((y_base, V_base))
    _, slope, x_dot = value_slope(lax.stop_gradient(problem), y_base, hopts, opts.measure)
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


def _measure_fields(problem, Na: int, opts: EVOptions) -> dict:
    """The measure, its unit W_i E[z] and the ill-posed mask of one country's EV."""
    return dict(measure=opts.measure, unit=jnp.asarray(transfer_unit(problem)),
                ill_posed=jnp.asarray(ill_posed_states(problem, Na, opts.measure)))


def equivalent_variation(baseline: Baseline | Equilibrium, new, country,
                         opts: EVOptions | None = None, *, throw: bool = True,
                         **fields) -> EquivalentVariation:
    """The EV factor l(a, z) for every state of ``country`` (model.md s.10; the module
    doc: V_old(a, z; l) = V_new(a, z) under ``opts.measure``, "transfer" by default,
    tau = (l - 1) W_i E[z]).

    baseline: the old equilibrium, a :class:`~hat_jax.Baseline` (an Equilibrium is
    converted once; its prices define V_old(.; l)); new: the
    counterfactual :class:`Equilibrium` (or a :class:`Counterfactual`, or V_new as an
    [Na, Nz] array on the same grid). opts: :class:`EVOptions` (tol 1e-10 per state in
    units of lambda, max_iter 40 household solves per state, batch_size 25, nodes 40,
    hh_tol 1e-10, method "continuation": states share household solves, the rest by the
    safeguarded per-state solver; hh_stop_rule "policy": the original code's rule with
    a fixed number of sweeps, :mod:`hat_jax.welfare._policy_rule`; measure "transfer"
    or "proportional"); ``fields`` (tol=..., max_iter=..., measure=...) replace single
    fields of it. throw: raise ConvergenceError listing failed states (asset index, z
    index, residual, iterations; under "proportional", failures at ill-posed states
    only warn, :class:`EVIllPosedWarning`); with throw=False inspect ``converged`` and
    ``ill_posed`` (failed states keep their best finite iterate, never NaN). The
    result's ``stats``: compile_s and run_s.

    Which root (measure "proportional"): V_old(a, z; lambda) increases with lambda in
    almost every state, but where income R a + W z + T is negative (at the borrowing
    limit with low productivity; flagged in ``ill_posed``) scaling it up first lowers
    V: V_old dips before it rises. The EV is the first root
    in the direction of the welfare change (lambda > 1 if V_new > V_old, < 1 if V_new <
    V_old), so that lambda_tau - 1 always has the sign of the gain and varies smoothly
    across neighbouring states (the other root, on the dip, can be several percent on
    the wrong side of 1). In those states lambda_tau does not tend to 1 as the change
    vanishes, and a proportional income gift is recovered only where V_old increases
    in lambda (:func:`ev_slope` > 0); :func:`hat_jax.welfare.ev_derivative` is NaN there.
    Under "transfer" V_old increases strictly in l everywhere: one root per state.
    """
    opts = ev_options(opts, **fields)
    b = as_baseline(baseline)
    baseline = b.equilibrium
    i = country_index(baseline.economy, country)
    V_target = _target_values(baseline, new, i)
    problem = country_problem(b, i)
    args = (problem, country_state(b, i),
            baseline.world.households.V[i], V_target,
            household_options(baseline.economy, tol=opts.hh_tol,
                              stop_rule=opts.hh_stop_rule), opts)
    out, stats = timed_run(_ev_program, args)
    ev = EquivalentVariation(*out[:5], i, opts.tol, out[5], stats,
                             **_measure_fields(problem, baseline.economy.Na, opts))
    if throw:
        check_ev(ev, baseline.economy.countries[i], baseline=baseline)
    return ev


def _ev_batch(problem, y_base, V_base, V_targets, hopts, opts, strategy):
    # the slope at lambda = 1 and its state derivative depend on the baseline only:
    # computed once for every scenario
    y_base, V_base = lax.stop_gradient((y_base, V_base))
    _, slope, x_dot = value_slope(lax.stop_gradient(problem), y_base, hopts, opts.measure)
    one = lambda V_t: solve_ev_roots(problem, y_base, V_base, V_t, slope, x_dot, hopts, opts)
    r = lax.map(one, V_targets) if strategy == "map" else jax.vmap(one)(V_targets)
    return r.factor, r.converged, r.residual, r.iterations, slope, r.value_residual


_EV_BATCH = {s: jax.jit(lambda *a, s=s: _ev_batch(*a, s)) for s in ("map", "vmap")}


def equivalent_variations(baseline: Baseline | Equilibrium, V_new, country,
                          opts: EVOptions | None = None, *, strategy: str = "auto",
                          **fields) -> EquivalentVariation:
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
    problem = country_problem(b, i)
    args = (problem, country_state(b, i),
            baseline.world.households.V[i], V_new,
            household_options(baseline.economy, tol=opts.hh_tol,
                              stop_rule=opts.hh_stop_rule), opts)
    (f, conv, res, its, slope, vres), stats = timed_run(_EV_BATCH[strategy], args)
    slope = jnp.broadcast_to(slope, f.shape)
    m = _measure_fields(problem, baseline.economy.Na, opts)
    m.update(unit=jnp.broadcast_to(m["unit"], f.shape[:1]),
             ill_posed=jnp.broadcast_to(m["ill_posed"], f.shape))
    return EquivalentVariation(f, conv, res, its, slope, i, opts.tol, vres, stats, **m)


def ev_at(evs: EquivalentVariation, k: int) -> EquivalentVariation:
    """Scenario k of a batch from :func:`equivalent_variations`."""
    at = lambda x: None if x is None else x[k]
    return evs._replace(factor=evs.factor[k], converged=evs.converged[k],
                        residual=evs.residual[k], iterations=evs.iterations[k],
                        slope=evs.slope[k], value_residual=at(evs.value_residual),
                        unit=at(evs.unit), ill_posed=at(evs.ill_posed))


@functools.partial(jax.jit, static_argnames="measure")
def _scaled_values_program(problem, y, factor, hopts, measure):
    prob = ev_problem(problem, factor, measure)
    yy, res, _ = household_fixed_point(y, prob, hopts)
    return policies(yy, prob, hopts)[4], res


def scaled_values(eq: Baseline | Equilibrium, country, factor, hh_tol: float = 1e-10,
                  measure: str = "proportional"):
    """V_old(a, z; factor): country i's ex-ante values at the prices of ``eq`` (a
    :class:`~hat_jax.Baseline`; an Equilibrium is converted) at EV factor ``factor``
    (the map whose root in the factor is the EV): by default ("proportional") income
    R a + W_i z + T scaled by ``factor`` in every period; measure="transfer": a transfer
    (factor - 1) W_i E[z] added to T in every period. Raises ConvergenceError if the
    household problem does not converge."""
    eq = as_baseline(eq)
    i = country_index(eq.economy, country)
    V, res = _scaled_values_program(country_problem(eq, i), country_state(eq, i),
                                    jnp.asarray(factor, jnp.float64),
                                    household_options(eq.economy, tol=hh_tol), measure)
    if not float(res) <= hh_tol:
        raise ConvergenceError(f"household problem at income factor {float(factor)!r} did "
                               f"not converge: residual {float(res):.3e}")
    return V


_value_slope_program = jax.jit(value_slope, static_argnames="measure")


def ev_slope(eq: Baseline | Equilibrium, country, hh_tol: float = 1e-10,
              measure: str = "transfer"):
    """dV_old(a,z; l)/dl at l = 1 for every state of ``country`` under ``measure``
    (transfer: dV_old/dtau times W_i E[z], the marginal value of a transfer in units of
    mean labour income; proportional: of the income scaling lambda)."""
    eq = as_baseline(eq)
    i = country_index(eq.economy, country)
    return _value_slope_program(country_problem(eq, i), country_state(eq, i),
                                household_options(eq.economy, tol=hh_tol),
                                measure=measure)[1]


def _failure_text(ev: EquivalentVariation, states, net) -> str:
    res, its = np.asarray(ev.residual), np.asarray(ev.iterations)
    parts = []
    for a, z in states[:8]:
        why = "" if net is None else (f" (net income R a + W z + T = {net[a, z]:.4g} <= 0: "
                                      "lambda -> V_old is not monotone there)")
        parts.append(f"(a={a}, z={z}): residual {res[a, z]:.3e} after {int(its[a, z])} "
                     f"household solves{why}")
    return "; ".join(parts) + (f" (and {len(states) - 8} more)" if len(states) > 8 else "")


def check_ev(ev: EquivalentVariation, label: str = "", tol: float | None = None,
             baseline: Equilibrium | None = None) -> None:
    """Raise ConvergenceError naming the states whose EV root did not converge (``tol``:
    the tolerance named in the message, default ``ev.tol``). States flagged ill posed
    (``ev.ill_posed``: net income R a + W z + T <= 0 under measure "proportional") do not
    raise: an :class:`EVIllPosedWarning` names them and why (their net income when
    ``baseline``, the old equilibrium, is given)."""
    conv = np.asarray(ev.converged)
    if conv.all():
        return
    tol = ev.tol if tol is None else tol
    name = label or "country " + str(ev.country)
    flag = np.zeros_like(conv) if ev.ill_posed is None else np.asarray(ev.ill_posed)
    net = None
    if baseline is not None:
        net = np.asarray(net_income(country_problem(baseline, ev.country), conv.shape[0]))
    flagged = np.argwhere(~conv & flag)
    if len(flagged):
        warnings.warn(EVIllPosedWarning(
            f"proportional equivalent variation of {name}: {len(flagged)} states where net "
            f"income R a + W z + T <= 0 have no well-defined root (flagged in ill_posed; "
            f"use measure='transfer', well posed everywhere): "
            + _failure_text(ev, flagged, net)), stacklevel=2)
    bad = np.argwhere(~conv & ~flag)
    if len(bad):
        raise ConvergenceError(
            f"equivalent variation of {name}: {len(bad)} of {conv.size} states did not "
            f"converge to tolerance {float(tol):g}: " + _failure_text(ev, bad, None))
