"""Batched counterfactuals: :func:`solve_scenarios` solves K scenarios against one
baseline as one jitted program per block of scenarios (vmapped Newton, sharded over
local devices; :mod:`hat_jax._batched`), with beta fixed at the baseline's and wages and
R solved, warm-started from the baseline, exactly as :func:`hat_jax.welfare.counterfactual`
does one at a time.

Per scenario and country (:class:`ScenarioResults`, :func:`scenario_frame`): W, R,
trade shares, home share pi_ii, utilitarian welfare sum lambda V and its change from the
baseline, the ACR gain (1/theta_i) log(pi_ii / pi'_ii); optionally the EV summaries of
chosen countries (mean gain, quintiles of expenditure, share who gain). A scenario that
does not converge has ``converged = False``, its residual and iteration count, and NaN
in every other number (never a silent number); the other scenarios are not affected.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .. import _elasticities as elasticities
from .._batched import batch_size_of, solve_equilibria
from .._baseline import Baseline, as_baseline
from .._equilibrium import Equilibrium, EquilibriumOptions
from .._params import Economy
from .._scenario_start import check_jacobian_start, exact_jacobians, scenario_start
from .._batched import resolve_strategy
from ..welfare import (country_index, equivalent_variations, ev_at, utilitarian_welfare,
                       welfare_summary)
from .._change import Change, changes_of
from ._spec import Scenarios, _make, scenarios_of, select_scenarios

__all__ = ["ScenarioResults", "failure_reasons", "solve_scenarios", "as_scenarios", "model_theta",
           "scenario_frame", "FRAME_COLUMNS"]

#: Columns of :func:`scenario_frame` (then ``ev_mean_gain``, ``ev_q1``..``ev_q5``,
#: ``ev_share_gain`` for the countries with an EV, and ``share_<exporter>`` per partner).
FRAME_COLUMNS = ("scenario", "country", "converged", "iterations", "residual",
                 "trade_residual", "W", "R", "home_share", "home_share_baseline",
                 "welfare", "welfare_change", "acr_gain", "theta", "failure")


class ScenarioResults(NamedTuple):
    """Results of K scenarios (numpy arrays, scenario axis first; NaN where a scenario
    did not converge). names, countries: labels; converged, iterations, residual (max
    |excess demand| / world GDP), trade_residual [K]; W [K, N]; R [K] (or [K, N] under
    financial autarky); trade_shares [K, N, N]; home_share [K, N] and
    home_share_baseline [N]; welfare [K, N] (sum lambda V) and welfare_change [K, N]
    (minus the baseline's); theta [N] (the trade elasticities of the ACR gain);
    acr_gain [K, N]; floored: per scenario the cost pairs floored at 1; ev: {country:
    {"mean_gain" [K], "quintile_gains" [K, 5], "share_gain" [K], "converged" [K]}};
    stats: solve_s, ev_s, jacobians (exact Jacobians computed); failure [K]: why a
    scenario did not converge ("" where it did; :func:`failure_reasons`)."""

    names: tuple
    countries: tuple
    converged: np.ndarray
    iterations: np.ndarray
    residual: np.ndarray
    trade_residual: np.ndarray
    W: np.ndarray
    R: np.ndarray
    trade_shares: np.ndarray
    home_share: np.ndarray
    home_share_baseline: np.ndarray
    welfare: np.ndarray
    welfare_change: np.ndarray
    theta: np.ndarray
    acr_gain: np.ndarray
    floored: tuple
    ev: dict
    stats: dict
    failure: np.ndarray | None = None

    @property
    def K(self) -> int:
        return len(self.names)


def as_scenarios(baseline: Equilibrium, changes) -> Scenarios:
    """A :class:`Scenarios` from what :func:`solve_scenarios` accepts: a list of
    :class:`~hat_jax.Change` (applied to the baseline economy; names their labels); a
    Scenarios; or, older spellings, a stacked Economy, a list of Economies, or a dict of
    Economy fields -> new levels with a leading scenario axis (``{"d": [K, N, N]}``,
    ``{"A": [K, N], "L": [K, N]}``; converted to Changes named s0, s1, ...)."""
    if isinstance(changes, Scenarios):
        return changes
    base = baseline.economy
    if isinstance(changes, Change):
        changes = [changes]
    if isinstance(changes, Economy):
        K = batch_size_of(changes)
        return Scenarios(tuple(f"s{k}" for k in range(K)), changes, ((),) * K)
    if isinstance(changes, dict):
        for f, v in changes.items():
            if f not in base.__dataclass_fields__:
                raise ValueError(f"{f!r} is not a field of the Economy")
            if np.shape(v)[1:] != np.shape(getattr(base, f)):
                raise ValueError(f"{f} must have shape (K,) + {np.shape(getattr(base, f))}, "
                                 f"got {np.shape(v)}")
        return scenarios_of(base, changes_of(base, changes))
    changes = list(changes)
    if changes and all(isinstance(c, Change) for c in changes):
        return scenarios_of(base, changes)
    return _make([f"s{k}" for k in range(len(changes))], changes)


def model_theta(baseline: Equilibrium) -> np.ndarray:
    """The model's trade-weighted trade elasticity of every importer at the baseline
    (positive numbers; :func:`hat_jax.trade_elasticities`), used by the ACR gain."""
    te = elasticities.trade_elasticities(baseline)
    return -np.asarray(te.theta_mean, np.float64)


def failure_reasons(eq_b, opts: EquilibriumOptions) -> np.ndarray:
    """Why each scenario of a batched solve did not converge ("" where it did): the
    residual above ``tol`` (with the iterations), the goods markets not clearing
    relative to their own trade volume (``trade_residual`` above ``trade_tol``, or not
    finite: trade has nearly vanished and relative wages are not determined), or an
    inner household or distribution solve that did not converge."""
    K = np.shape(eq_b.converged)[0]
    res, trade = np.asarray(eq_b.residual), np.asarray(eq_b.trade_residual)
    its = np.asarray(eq_b.iterations)
    hh = np.asarray(eq_b.world.households.converged).reshape(K, -1).all(axis=1)
    dist = np.asarray(eq_b.world.distribution.converged).reshape(K, -1).all(axis=1)
    out = []
    for k in range(K):
        why = []
        if not res[k] <= float(opts.tol):
            why.append(f"max |excess demand| {res[k]:.3e} of world GDP > tol "
                       f"{float(opts.tol):.1e} after {int(its[k])} iterations")
        if not np.isfinite(trade[k]):
            why.append("the goods markets cannot be measured against trade (trade volume "
                       "about 0): trade has vanished, relative wages are not determined")
        elif not trade[k] <= float(opts.trade_tol):
            why.append(f"goods markets miss by {trade[k]:.3e} of their own trade volume "
                       f"(> trade_tol {float(opts.trade_tol):.1e}): trade has nearly "
                       "vanished, relative wages are not determined")
        if not hh[k]:
            why.append("a household solve did not converge")
        if not dist[k]:
            why.append("a stationary-distribution solve did not converge")
        out.append("; ".join(why) if not bool(np.asarray(eq_b.converged)[k]) else "")
    return np.asarray(out, dtype=object)


def _summaries(eq_b, baseline: Equilibrium, theta, opts: EquilibriumOptions):
    """Per-scenario numbers of a batched counterfactual (numpy; NaN where not converged)."""
    ok = np.asarray(eq_b.converged, bool)
    nan = lambda x: np.where(ok.reshape((-1,) + (1,) * (np.ndim(x) - 1)), x, np.nan)
    shares = np.asarray(eq_b.world.aggregates.trade_shares)
    home = np.diagonal(shares, axis1=1, axis2=2)
    h0 = np.diag(np.asarray(baseline.world.aggregates.trade_shares))
    welfare = np.asarray(jax.vmap(utilitarian_welfare)(eq_b))
    w0 = np.asarray(utilitarian_welfare(baseline))
    with np.errstate(invalid="ignore", divide="ignore"):
        acr = np.log(h0[None, :] / home) / theta[None, :]
    return dict(converged=ok, iterations=np.asarray(eq_b.iterations),
                residual=np.asarray(eq_b.residual),
                trade_residual=np.asarray(eq_b.trade_residual),
                W=nan(np.asarray(eq_b.W)), R=nan(np.asarray(eq_b.R)), trade_shares=nan(shares),
                home_share=nan(home), welfare=nan(welfare), welfare_change=nan(welfare - w0),
                acr_gain=nan(acr), failure=failure_reasons(eq_b, opts))


def _ev_block(eq_b, baseline, countries, ok, strategy, ev_opts=None):
    """EV summaries of ``countries`` in every converged scenario of a block: the roots of
    all those scenarios by one batched program per country
    (:func:`hat_jax.welfare.equivalent_variations`, options ``ev_opts``), then the
    summaries. A scenario's EV counts as converged when every state converged but those
    flagged ill posed (net income <= 0 under the proportional measure)."""
    K = len(ok)
    ks = np.flatnonzero(ok)
    out = {}
    for i in countries:
        r = dict(mean_gain=np.full(K, np.nan), quintile_gains=np.full((K, 5), np.nan),
                 share_gain=np.full(K, np.nan), converged=np.zeros(K, bool))
        if ks.size:
            V_new = eq_b.world.households.V[jnp.asarray(ks), i]
            evs = equivalent_variations(baseline, V_new, i, ev_opts, strategy=strategy)
            for n, k in enumerate(ks):
                ev = ev_at(evs, n)
                good = bool(np.all(np.asarray(ev.converged) | np.asarray(ev.ill_posed)))
                r["converged"][k] = good
                if good:
                    new = jax.tree_util.tree_map(lambda x: x[k], eq_b)
                    s = welfare_summary(baseline, new, ev)
                    r["mean_gain"][k], r["share_gain"][k] = s.mean_gain, s.share_gain
                    r["quintile_gains"][k] = s.quintile_gains
        out[baseline.economy.countries[i]] = r
    return out


def solve_scenarios(baseline: Baseline | Equilibrium, changes,
                    opts: EquilibriumOptions | None = None, *, batch: int | None = None,
                    devices: int | None = 1, ev=(), theta=None, on_block=None,
                    strategy: str = "auto", ev_opts=None,
                    jacobian: str = "baseline") -> ScenarioResults:
    """Solve K counterfactual scenarios against ``baseline`` (model.md s.10).

    changes: a list of :class:`~hat_jax.Change` (one scenario each, named by its label),
      or a :class:`Scenarios` (see :mod:`hat_jax.scenarios._spec` for builders); older
      spellings: a stacked Economy, a list of Economies, or a dict of Economy fields ->
      levels with a leading scenario axis (:func:`as_scenarios`). Beta is fixed at the baseline's; W and R are solved
      (R_i per country if the baseline is under financial autarky), every scenario
      warm-started from the baseline's prices and household state.
    opts: tolerances and the like (``unknown`` / ``regime`` are overridden, as in
      :func:`hat_jax.welfare.counterfactual`).
    batch: scenarios per compiled block (default: all K); blocks are padded to this size
      so every block reuses one program. devices: local devices to shard each block over
      (None: all). ev: country labels whose EV summaries are computed (per country,
      the scenarios of a block by one batched program). theta: trade elasticity of the ACR gain (scalar or one per
      country; default: the model's, :func:`model_theta`). on_block(start, results):
      called after each block with the position of its first scenario.
    strategy: how a block is iterated: ``"vmap"`` (lock step, for accelerators),
      ``"map"`` (one scenario after another in the same program, for the CPU) or
      ``"auto"`` (by backend; :mod:`hat_jax._batched`).
    ev_opts: the EV's :class:`hat_jax.welfare.EVOptions` (its ``measure``: "transfer",
      the default, or "proportional").
    jacobian: where every scenario's Newton starts, as in
      :func:`hat_jax.welfare.counterfactual`: ``"baseline"`` (default; the baseline's
      Jacobian, Broyden-updated, an exact one only where the steps stop delivering) or
      ``"exact"`` (an exact Jacobian at each scenario's start). ``stats["jacobians"]``:
      the exact Jacobians computed, all scenarios together.
    """
    check_jacobian_start(jacobian)
    strategy = resolve_strategy(strategy)
    b = as_baseline(baseline)
    baseline = b.equilibrium  # the outcomes are compared with the solved baseline's
    s = as_scenarios(baseline, changes)
    base_e = baseline.economy
    if s.economies.countries != base_e.countries:
        raise ValueError("the scenarios' countries differ from the baseline's: "
                         f"{s.economies.countries} vs {base_e.countries}")
    K = s.K
    B = K if batch is None else int(batch)
    if B < 1:
        raise ValueError(f"batch must be >= 1, got batch={batch!r}")
    ev_idx = [country_index(base_e, c) for c in ev]
    theta = model_theta(baseline) if theta is None else np.broadcast_to(
        np.asarray(theta, np.float64), (base_e.N,))
    if not np.all(np.isfinite(theta) & (theta > 0)):
        raise ValueError(f"theta (trade elasticities of the ACR gain) must be > 0, got {theta}")
    cf_opts = b.options(opts)
    beta = jnp.asarray(b.beta, jnp.float64)
    parts, evs, t_solve, t_ev, n_jac = [], [], 0.0, 0.0, 0
    for start in range(0, K, B):
        block = select_scenarios(s, slice(start, start + B))
        econs = eqx.tree_at(lambda e: e.beta, block.economies,
                            jnp.broadcast_to(beta, (block.K,)))
        t0 = time.perf_counter()
        start_b = scenario_start(b, econs.tariffs is not None, jacobian)
        eq_b = solve_equilibria(econs, cf_opts, start_b, devices=devices, pad_to=B,
                                strategy=strategy)
        eq_b = jax.block_until_ready(eq_b)
        t1 = time.perf_counter()
        n_jac += exact_jacobians(np.asarray(eq_b.history)[:block.K])
        part = _summaries(eq_b, baseline, theta, cf_opts)
        part_ev = (_ev_block(eq_b, baseline, ev_idx, part["converged"], strategy, ev_opts)
                   if ev_idx else {})
        t_solve, t_ev = t_solve + t1 - t0, t_ev + time.perf_counter() - t1
        parts.append(part)
        evs.append(part_ev)
        if on_block is not None:
            on_block(start, _results(block, base_e, baseline, theta, [part], [part_ev], {}))
    return _results(s, base_e, baseline, theta, parts, evs,
                    {"solve_s": t_solve, "ev_s": t_ev, "jacobians": n_jac})


def _results(s: Scenarios, base_e, baseline, theta, parts, evs, stats) -> ScenarioResults:
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ev = {}
    for c in (evs[0] if evs else {}):
        ev[c] = {k: np.concatenate([e[c][k] for e in evs]) for k in evs[0][c]}
    h0 = np.diag(np.asarray(baseline.world.aggregates.trade_shares))
    return ScenarioResults(
        s.names, tuple(base_e.countries), cat["converged"], cat["iterations"],
        cat["residual"], cat["trade_residual"], cat["W"], cat["R"], cat["trade_shares"],
        cat["home_share"], h0, cat["welfare"], cat["welfare_change"], np.asarray(theta),
        cat["acr_gain"], tuple(s.floored), ev, dict(stats), cat["failure"])


def scenario_frame(res: ScenarioResults) -> pd.DataFrame:
    """The tidy table: one row per scenario and country, columns :data:`FRAME_COLUMNS`,
    ``share_<exporter>`` (the country's trade share on each exporter) and, for the
    countries with an EV, ``ev_mean_gain``, ``ev_q1``..``ev_q5``, ``ev_share_gain``."""
    K, N = res.K, len(res.countries)
    R = res.R if res.R.ndim == 2 else np.repeat(res.R[:, None], N, axis=1)
    col = lambda x: np.repeat(np.asarray(x), N)
    data = {
        "scenario": col(res.names), "country": np.tile(res.countries, K),
        "converged": col(res.converged), "iterations": col(res.iterations),
        "residual": col(res.residual), "trade_residual": col(res.trade_residual),
        "W": res.W.reshape(-1), "R": R.reshape(-1), "home_share": res.home_share.reshape(-1),
        "home_share_baseline": np.tile(res.home_share_baseline, K),
        "welfare": res.welfare.reshape(-1), "welfare_change": res.welfare_change.reshape(-1),
        "acr_gain": res.acr_gain.reshape(-1), "theta": np.tile(res.theta, K),
        "failure": col(res.failure if res.failure is not None else [""] * K),
    }
    for j, c in enumerate(res.countries):
        data[f"share_{c}"] = res.trade_shares[:, :, j].reshape(-1)
    frame = pd.DataFrame(data)
    if res.ev:
        for name in ("ev_mean_gain", *(f"ev_q{q + 1}" for q in range(5)), "ev_share_gain"):
            frame[name] = np.nan
        for c, r in res.ev.items():
            rows = np.flatnonzero(frame["country"].to_numpy() == c)
            frame.loc[rows, "ev_mean_gain"] = r["mean_gain"]
            frame.loc[rows, "ev_share_gain"] = r["share_gain"]
            for q in range(5):
                frame.loc[rows, f"ev_q{q + 1}"] = r["quintile_gains"][:, q]
    return frame
