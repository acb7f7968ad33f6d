"""Transitions across financial regimes (model.md s.12 and s.15): wedge paths and the
opening of the capital account.

- :func:`wedge_shock`: the wedges omega_t by date, from the initial ones to new ones at
  date ``announce`` (a :class:`ShockPath` field ``wedges``, with any other shock);
- :func:`solve_regime_transition`: the perfect-foresight path of an economy with
  capital-account wedges after a wedge path (the path of
  :mod:`~hat_jax.transition._regime`; its rebates solved at every date where a wedge is
  non-zero), from a stationary equilibrium under either regime;
- :func:`open_capital_account`: from the financial-autarky stationary equilibrium
  (represented exactly by the wedges omega_i = R_i^aut - R_k^aut) the wedges go to zero
  at date ``announce`` (news at t = 0); R_{i,0} is the autarky one. The result's
  transition is a :class:`Transition` (EV with :func:`transition_welfare`).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._baseline import Baseline, as_baseline
from .._equilibrium import Equilibrium, EquilibriumOptions, Start, solve_equilibrium
from .._params import household_options
from .._wedges import autarky_wedges, validate_wedges, wedge_rebates
from ._driver import Transition, _Jac, _jacobian_for, _log, _lu_jit, path_transition
from ._path import ShockPath, endpoint, steady_unknowns
from ._regime import (RegimeOrigin, path_rebates, path_returns, regime_fake_news_jacobian,
                      regime_jacobian, regime_outcomes)
from ._shocks import DEFAULT_HORIZON, check_horizon
from ._solve import TransitionOptions

__all__ = ["RegimeTransition", "wedge_shock", "solve_regime_transition",
           "open_capital_account"]


class RegimeTransition(NamedTuple):
    """A transition across financial regimes, arrays by date t = 0..T-1 and country.

    transition: the :class:`Transition` (path, endpoints, convergence; its ``path.R`` is
    the world return R_t, R_0 the initial one); returns: R_{i,t} = R_t + omega_{i,t},
    the return paid at t (row 0 predetermined); wedges: omega_{i,t}; rebates: F_{i,t},
    the wedge rebate per household; nfa: net foreign assets A'_{i,t} (bonds bought at t);
    nfa_gdp: A'_{i,t} / Y_{i,t}; trade_balance: exports - imports X_{i,t} - M_{i,t};
    trade_balance_gdp: over Y_{i,t}; wages: W_{i,t}; announce: the date the wedges
    change (None for a general wedge path)."""

    transition: Transition
    returns: np.ndarray
    wedges: np.ndarray
    rebates: np.ndarray
    nfa: np.ndarray
    nfa_gdp: np.ndarray
    trade_balance: np.ndarray
    trade_balance_gdp: np.ndarray
    wages: np.ndarray
    announce: int | None = None

    @property
    def horizon(self) -> int:
        """T, the number of transition dates."""
        return self.transition.horizon

    @property
    def converged(self) -> bool:
        """Whether the path converged."""
        return self.transition.converged


def wedge_shock(economy, old, new, horizon: int = DEFAULT_HORIZON, *, announce: int = 0,
                shock: ShockPath | None = None) -> ShockPath:
    """The :class:`ShockPath` of capital-account wedges: omega_t = ``old`` for t <
    ``announce``, ``new`` from then on (rows 0..T, row T terminal), added to ``shock``'s
    fields (another shock of the same horizon, e.g. a trade-cost path) when given."""
    T = check_horizon(horizon)
    if isinstance(announce, bool) or not isinstance(announce, (int, np.integer)) \
            or not 0 <= announce < T:
        raise ValueError(f"announce (date s of the wedge change) must be an integer with "
                         f"0 <= s < T={T}, got announce={announce!r}")
    old = validate_wedges(old, economy.N, economy.countries, "old wedges")
    new = validate_wedges(new, economy.N, economy.countries, "new wedges")
    t = np.arange(T + 1)[:, None]
    fields = {"wedges": jnp.asarray(np.where(t < announce, old, new))}
    if shock is not None:
        if shock.horizon != T:
            raise ValueError(f"shock has horizon {shock.horizon}, the wedges T={T}")
        fields = {**shock.fields, **fields}
    return ShockPath(fields)


def _endpoints(b: Baseline, shock: ShockPath, opts, eq_opts, initial, terminal):
    """(fixed-beta economy without wedges, initial, terminal, origin): the initial
    equilibrium re-solved at the transition's household tolerance under its own regime,
    the terminal one under financial globalization with the shock's last wedges."""
    base = EquilibriumOptions() if eq_opts is None else eq_opts
    eo = base.replace(hh_tol=min(base.hh_tol, opts.hh_tol), hh_max_iter=opts.hh_max_iter,
                      verbose=False)
    econ = b.economy
    if initial is None:
        initial = solve_equilibrium(econ, eo.fixed_beta(b.regime),
                                    Start.from_baseline(b, jacobian=True))
    omega_T = np.asarray(shock.fields["wedges"][-1])
    term_econ = econ.replace(wedges=None if np.all(omega_T == 0) else omega_T)
    term_econ = term_econ.replace(**{k: v[-1] for k, v in shock.fields.items()
                                     if k != "wedges"})
    if terminal is None:
        R0 = np.asarray(initial.R)
        start = Start(W=initial.W, R=float(R0 if R0.ndim == 0 else R0[0]))
        terminal = solve_equilibrium(term_econ, eo.fixed_beta("global"), start)
    if b.regime == "autarky":
        R_i = jnp.asarray(initial.R)
        origin = RegimeOrigin(R_i[0], R_i, jnp.zeros(econ.N), None)
    else:
        origin = RegimeOrigin(jnp.asarray(initial.R), jnp.asarray(
            initial.R + (0.0 if econ.wedges is None else econ.wedges)),
            jnp.asarray(wedge_rebates(initial)), None)
    F_T = jnp.asarray(wedge_rebates(terminal))
    return econ.replace(wedges=None), initial, terminal, origin._replace(F_terminal=F_T)


def _check_inputs(b: Baseline, shock: ShockPath):
    if not isinstance(shock, ShockPath) or "wedges" not in shock.fields:
        raise ValueError("shock must be a ShockPath with a 'wedges' field (omega_t by date; "
                         "see wedge_shock)")
    if b.economy.tariffs is not None or "tariffs" in shock.fields:
        raise ValueError("transitions across financial regimes with tariffs are not "
                         "supported: the tariff rebate is not solved along the path")
    w = np.asarray(shock.fields["wedges"])
    if w.shape != (shock.horizon + 1, b.economy.N) or not np.all(np.isfinite(w)):
        raise ValueError(f"shock.fields['wedges'] must be finite, shape (T+1, N) = "
                         f"({shock.horizon + 1}, {b.economy.N}), got shape {w.shape}")
    if b.regime == "autarky" and b.economy.wedges is not None:
        raise ValueError("a financial-autarky baseline carries no wedges")


def _regime_jacobian(jacobian, terminal, econ, args, U0, rebates, opts, verbose):
    n = U0.size
    if jacobian is not None:
        J = jnp.asarray(jacobian)
        if J.shape != (n, n):
            raise ValueError(f"jacobian must be {n} x {n}, got {J.shape}")
        return _Jac(J, _lu_jit(J), True, 0)
    T, N = U0.shape[0], econ.N
    if not rebates:
        return _jacobian_for(None, None, terminal, N, T, opts, verbose)
    _log(verbose, f"sequence-space Jacobian with rebates ({n} columns)...")
    if terminal.economy.wedges is None and opts.jacobian_method == "fake_news":
        end = endpoint(terminal)
        J = _fake_news_jit(terminal.economy, end, T, args[-1], max(1, opts.jacobian_batch // 4))
    else:
        J = _exact_jit(U0, *args, batch=opts.jacobian_batch)
    return _Jac(J, _lu_jit(J), True, 1)


_outcomes_jit = jax.jit(regime_outcomes)
_exact_jit = jax.jit(regime_jacobian, static_argnames=("batch",))
_fake_news_jit = jax.jit(regime_fake_news_jacobian, static_argnums=(2, 4))


def solve_regime_transition(eq: Baseline | Equilibrium, shock: ShockPath, *,
                            opts: TransitionOptions | None = None,
                            eq_opts: EquilibriumOptions | None = None, jacobian=None,
                            initial: Equilibrium | None = None,
                            terminal: Equilibrium | None = None, announce: int | None = None,
                            verbose: bool = False, throw: bool = True) -> RegimeTransition:
    """The perfect-foresight transition from the stationary equilibrium ``eq`` (either
    financial regime; with or without wedges) along the wedge path ``shock`` (a
    :class:`ShockPath` with a ``wedges`` field, :func:`wedge_shock`; other fields move
    as in :func:`solve_transition`). The return paid at date 0 is the initial one; the
    wedge rebates are unknowns at every date when a wedge of a date t >= 1 is non-zero
    (module :mod:`~hat_jax.transition._regime`). ``initial`` / ``terminal``: solved
    stationary equilibria to take as they are (the terminal under financial
    globalization with the shock's last wedges); jacobian: the path's Jacobian. throw:
    raise ConvergenceError if the path does not converge and ValueError if T is too
    short for the terminal gap (see :func:`check_transition`)."""
    opts = TransitionOptions() if opts is None else opts
    b = as_baseline(eq)
    _check_inputs(b, shock)
    T, stats, t0 = shock.horizon, {}, time.perf_counter()
    _log(verbose, "the initial and terminal stationary equilibria...")
    econ, initial, terminal, origin = _endpoints(b, shock, opts, eq_opts, initial, terminal)
    start, end = endpoint(initial), endpoint(terminal)
    hopts = household_options(econ, tol=opts.hh_tol)
    rebates = bool(np.any(np.asarray(shock.fields["wedges"])[1:] != 0))
    U0 = steady_unknowns(end, T)
    if rebates:
        U0 = jnp.concatenate([U0, jnp.broadcast_to(origin.F_terminal, (T, econ.N))], axis=1)
    args = (econ, shock, origin, start, end, hopts)
    t1 = time.perf_counter()
    stats["endpoints_s"] = t1 - t0
    jac = _regime_jacobian(jacobian, terminal, econ, args, U0, rebates, opts, verbose)
    stats["jacobian_s"] = time.perf_counter() - t1
    tr = path_transition(U0, jac, args, (initial, terminal, end), opts, stats, throw,
                         verbose, _outcomes_jit,
                         lambda U: _exact_jit(U, *args, batch=opts.jacobian_batch))
    return _regime_result(tr, tr.U, origin, announce)


def _regime_result(tr: Transition, U, origin: RegimeOrigin, announce) -> RegimeTransition:
    """The :class:`RegimeTransition` of a solved path: returns, rebates, NFA and trade
    balances by date."""
    p, T = tr.path, tr.horizon
    _, R_i = path_returns(U, tr.shock, origin)
    F = path_rebates(U, origin)
    tb, nfa, Y = tr.trade_balance, tr.nfa, np.asarray(p.Y)
    return RegimeTransition(tr, np.asarray(R_i[:T]), np.asarray(tr.shock.fields["wedges"][:T]),
                            np.asarray(F[:T]), nfa, nfa / Y, tb, tb / Y, np.asarray(p.W),
                            announce)


def open_capital_account(eq: Baseline | Equilibrium, announce: int = 0,
                         horizon: int = DEFAULT_HORIZON, *,
                         opts: TransitionOptions | None = None,
                         eq_opts: EquilibriumOptions | None = None, jacobian=None,
                         initial: Equilibrium | None = None,
                         terminal: Equilibrium | None = None, verbose: bool = False,
                         throw: bool = True) -> RegimeTransition:
    """The opening of the capital account (model.md s.15): from the financial-autarky
    stationary equilibrium of ``eq``'s economy (``eq`` itself when it is under autarky;
    else solved from it at its beta; a baseline with wedges starts from them instead),
    the wedges omega_i = R_i^aut - R_1^aut that represent autarky go to zero at date
    ``announce`` (news at t = 0; 0: at once) over ``horizon`` dates T; R_{i,0} = R_i^aut
    is predetermined. The terminal is the globalization stationary equilibrium at the
    same beta. Other arguments as :func:`solve_regime_transition`; the date-0 EV with
    the transition: ``transition_welfare(result.transition, country)``."""
    b = as_baseline(eq)
    if b.regime == "global" and b.economy.wedges is None:
        from ..welfare import counterfactual
        b = Baseline.from_equilibrium(counterfactual(b, None, regime="autarky").new,
                                      b.opts)
    omega = autarky_wedges(b.equilibrium) if b.regime == "autarky" else b.economy.wedges
    shock = wedge_shock(b.economy, omega, np.zeros(b.economy.N), horizon, announce=announce)
    return solve_regime_transition(b, shock, opts=opts, eq_opts=eq_opts, jacobian=jacobian,
                                   initial=initial, terminal=terminal, announce=announce,
                                   verbose=verbose, throw=throw)
