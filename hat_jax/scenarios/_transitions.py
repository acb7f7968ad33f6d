"""Many transitions as scenarios (``hat sweep --transition``, issue 30 item 4).

:func:`solve_transition_scenarios` solves the perfect-foresight transitions of a
:class:`Scenarios` block (its :class:`~hat_jax.Change` objects) with
:func:`hat_jax.transition.solve_transitions`: one shared sequence-space Jacobian (from
``cache``, e.g. the previous block's, else computed once), all paths iterated together;
:func:`transition_frame` is the tidy table, one row per scenario and country, with the
same convergence columns as :func:`scenario_frame` (converged, iterations, residual,
failure) and the path at a few horizons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import transition as tn
from ._spec import Scenarios

__all__ = ["TRANSITION_HORIZONS", "TRANSITION_COLUMNS", "solve_transition_scenarios",
           "transition_frame"]

#: Dates h of the path shown as columns ``W_h{h}``, ``home_share_h{h}``, ``nfa_gdp_h{h}``.
TRANSITION_HORIZONS = (0, 1, 5, 10, 20)
#: The leading columns of :func:`transition_frame`.
TRANSITION_COLUMNS = ("scenario", "country", "converged", "iterations", "residual",
                      "terminal_gap", "stop", "failure", "W", "R", "home_share",
                      "home_share_baseline", "R_impact")

_FAILURES = {"converged": "", "max_iter": "max_iter quasi-Newton iterations reached",
             "max_refresh": "a step failed to halve the residual with the exact-Jacobian "
                            "refreshes spent",
             "not finite": "the path residual is not finite"}


def solve_transition_scenarios(baseline, scenarios: Scenarios,
                               horizon: int = tn.DEFAULT_HORIZON, *, announce: int = 0,
                               rho: float | None = None, opts=None, eq_opts=None,
                               cache=None) -> tn.Transitions:
    """The transitions after each scenario of ``scenarios`` (built from Changes of one
    shape: the same fields moved) from ``baseline``, batched with one shared Jacobian
    (:func:`hat_jax.transition.solve_transitions`, ``throw=False``: every scenario
    reports its own convergence). cache: a :class:`~hat_jax.transition.TransitionCache`
    (e.g. the previous block's ``result.cache``) whose Jacobian is reused."""
    if not scenarios.changes:
        raise ValueError("transition scenarios need the Change of each scenario (cost or "
                         "country-field scenarios); these scenarios were given as economies")
    return tn.solve_transitions(baseline, scenarios.changes, horizon, announce=announce,
                                rho=rho, opts=opts, eq_opts=eq_opts, cache=cache,
                                throw=False)


def transition_frame(res: tn.Transitions, names, opts=None) -> pd.DataFrame:
    """The tidy table of ``res`` (scenario labels ``names``): one row per scenario and
    country, columns :data:`TRANSITION_COLUMNS` (W, R, home_share: the terminal
    stationary equilibrium; R_impact: R_1, the return on bonds bought at t = 0; failure:
    why a scenario did not converge, or why its T is too short), then ``W_h{h}``,
    ``home_share_h{h}``, ``nfa_gdp_h{h}`` for h in :data:`TRANSITION_HORIZONS` below T."""
    opts = tn.TransitionOptions() if opts is None else opts
    K, N = len(res), res.economy.N
    p = res.path
    col = lambda x: np.repeat(np.asarray(x), N)
    term_W = np.stack([np.asarray(t.W) for t in res.terminals])
    term_R = np.array([float(t.R) for t in res.terminals])
    term_home = np.stack([np.diag(np.asarray(t.world.aggregates.trade_shares))
                          for t in res.terminals])
    home0 = np.diag(np.asarray(res.initial.world.aggregates.trade_shares))
    gap_ok = res.terminal_gap <= float(opts.terminal_tol)
    failure = [_FAILURES.get(s, s) if not c else
               ("" if g else f"T too short: terminal gap {tg:.3e} > terminal_tol "
                             f"{float(opts.terminal_tol):g}")
               for s, c, g, tg in zip(res.stop, res.converged, gap_ok, res.terminal_gap)]
    data = {
        "scenario": col([str(n) for n in names]), "country": np.tile(res.economy.countries, K),
        "converged": col(res.converged & gap_ok), "iterations": col(res.iterations),
        "residual": col(res.residual), "terminal_gap": col(res.terminal_gap),
        "stop": col(res.stop), "failure": col(failure), "W": term_W.reshape(-1),
        "R": col(term_R), "home_share": term_home.reshape(-1),
        "home_share_baseline": np.tile(home0, K),
        "R_impact": col(np.asarray(p.R_next)[:, 0]),
    }
    nfa = np.asarray(p.bond_demand) / np.asarray(p.Y)
    for h in TRANSITION_HORIZONS:
        if h < res.shocks[0].horizon:
            data[f"W_h{h}"] = np.asarray(p.W)[:, h].reshape(-1)
            data[f"home_share_h{h}"] = np.asarray(p.home_share)[:, h].reshape(-1)
            data[f"nfa_gdp_h{h}"] = nfa[:, h].reshape(-1)
    return pd.DataFrame(data)
