"""The perfect-foresight path after a trade shock under financial autarky (model.md s.12
and s.15): N bond markets per date.

Under autarky every country's households trade bonds among themselves at their own
return R_{i,t}; this is the wedge economy of :mod:`~hat_jax.transition._regime` whose
wedges omega_{i,t} = R_{i,t} - R_{1,t} make every country's net foreign assets zero at
every date, so that the wedge rebates (R_t - R_{i,t}) A_{i,t} are zero. Unknowns, one row
per date t = 0..T-1,

    U_t = (x_W,t [N-1], R_{1,t+1}, ..., R_{N,t+1})       [T, 2N-1]

(wages W_t = N softmax([x_W,t, 0]) as in :mod:`~hat_jax.transition._path`; R_{i,t+1}
the return on bonds bought in i at t, i.e. R_{t+1} = R_{1,t+1} and omega_{i,t+1} =
R_{i,t+1} - R_{1,t+1} of the wedge formulation). R_{i,0} is predetermined (the initial
autarky equilibrium's), R_{i,T} the last unknown (the terminal's at the end of a path).
Residuals of date t, relative to world GDP_t: the goods markets j = 1..N-1
(Y_j,t - sum_i M_ij,t), the world bond market sum_i A'_{i,t} and the bond markets
A'_{i,t} of countries i = 2..N: together A'_{i,t} = 0 for every i (bonds bought at t),
so A_{i,t} = 0 for t >= 1 and every trade balance X_{i,t} - M_{i,t} = A'_{i,t} -
R_{i,t} A_{i,t} is zero.

The solve is :func:`~hat_jax.transition.solve_transition` of an autarky baseline
(:func:`~hat_jax.transition._driver.solve_autarky_transition`). Sequence-space Jacobian
at the terminal stationary path (:func:`stationary_autarky_jacobian`): the fake-news
algorithm of :mod:`~hat_jax.transition._fakenews` with the household block's date inputs
(x_W, R_1..R_N) (:func:`autarky_fake_news_jacobian`); the exact Jacobian at a path
(checks, refreshes, ``jacobian_method="jvp"``) one jvp per column
(:func:`autarky_jacobian`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._baseline import Baseline
from .._equilibrium import EquilibriumOptions, Start, solve_equilibrium, wages_from_x, \
    x_from_wages
from .._params import household_problems
from ._fakenews import block_jacobian
from ._path import Endpoint, PathOutcomes, ShockPath, forward_path, market_report
from ._reuse import check_endpoint, same_economy
from ._shocks import shock_path
from ._solve import TransitionOptions, jvp_columns

__all__ = ["autarky_prices", "autarky_unknowns", "steady_autarky_unknowns",
           "autarky_outcomes", "autarky_jacobian", "autarky_fake_news_jacobian",
           "stationary_autarky_jacobian", "check_autarky_inputs", "autarky_endpoints"]


def autarky_prices(U):
    """U [T, 2N-1] -> (W [T, N] with mean one per date, R_next [T, N]: R_{i,t+1})."""
    N = (U.shape[1] + 1) // 2
    return jax.vmap(wages_from_x)(U[:, : N - 1]), U[:, N - 1:]


def autarky_unknowns(W, R_next):
    """Inverse of :func:`autarky_prices`: U_t = (x_W(W_t), R_{.,t+1})."""
    return jnp.concatenate([jax.vmap(x_from_wages)(W), jnp.asarray(R_next)], axis=1)


def steady_autarky_unknowns(end: Endpoint, horizon: int):
    """The constant path at an autarky stationary equilibrium's prices (W*, R_i*)."""
    N = end.W.shape[0]
    return autarky_unknowns(jnp.broadcast_to(end.W, (horizon, N)),
                            jnp.broadcast_to(end.R, (horizon, N)))


def _date_problems(U, economy, shock: ShockPath, initial: Endpoint, terminal: Endpoint):
    """Household problems of dates 0..T [T+1, N]: budget p_ij,t c + a' = R_{i,t} a +
    W_{i,t} z with R_{i,0} the initial returns and W_T the terminal wages."""
    W, R_next = autarky_prices(U)
    W_all = jnp.concatenate([W, terminal.W[None]], axis=0)
    R_all = jnp.concatenate([jnp.asarray(initial.R)[None], R_next], axis=0)

    def one(fields, w, r):
        return household_problems(economy.replace(**fields), w, r, economy.beta)

    return jax.vmap(one)(shock.fields, W_all, R_all)


def autarky_outcomes(U, economy, shock: ShockPath, initial: Endpoint, terminal: Endpoint,
                     hopts) -> PathOutcomes:
    """Backward pass, forward pass and aggregates along the autarky path at U [T, 2N-1]:
    a :class:`PathOutcomes` whose R [T, N] / R_next [T, N] are R_{i,t} / R_{i,t+1} and
    whose residuals [T, 2N-1] are (Y_j,t - sum_i M_ij,t)_{j=1..N-1}, sum_i A'_{i,t} and
    (A'_{i,t})_{i=2..N}, all over world GDP_t."""
    problems = _date_problems(U, economy, shock, initial, terminal)

    def report(lam, hh, prob):
        return market_report(lam, hh, prob, economy,
                             lambda agg, gdp: agg.bond_demand[1:] / gdp)

    lam_T, outs, V0 = forward_path(problems, initial, terminal, hopts, report)
    W, R_next = autarky_prices(U)
    R = jnp.concatenate([jnp.asarray(initial.R)[None], R_next[:-1]], axis=0)
    return PathOutcomes(W, R, R_next, *outs, lam_T, V0)


def autarky_jacobian(U, economy, shock, initial, terminal, hopts, batch: int = 64):
    """The exact Jacobian dH/dU of the autarky path's residuals at U [n, n] (n = U.size,
    rows and columns date-major), one forward-mode jvp per column."""
    def f(u):
        return autarky_outcomes(u.reshape(U.shape), economy, shock, initial, terminal,
                                hopts).residuals.reshape(-1)

    return jvp_columns(f, U, batch)


def _autarky_residual_map(o, N):
    """phi(o) for o = (Y, S, B) [3N]: ((Y - S)_{1..N-1}, sum_i B_i, B_{2..N}) / sum Y."""
    Y, S, B = o[:N], o[N:2 * N], o[2 * N:]
    return jnp.concatenate([(Y - S)[1:], jnp.sum(B)[None], B[1:]]) / jnp.sum(Y)


def _autarky_outputs(M, B, Y):
    """o = (Y, S, B): output, sales S_j = sum_i M_ij and every country's bond demand."""
    return jnp.concatenate([Y, jnp.sum(M, axis=0), B])


def autarky_fake_news_jacobian(economy, end: Endpoint, horizon: int, hopts,
                               batch: int = 20):
    """dH/dU [(2N-1) T, (2N-1) T] at the autarky stationary path of ``end`` (R [N]) by
    the fake-news algorithm (:func:`~hat_jax.transition._fakenews.block_jacobian`) with
    date inputs x = (x_W, R_1..R_N) and outputs (Y, S, B_1..B_N); the R_i columns of
    the unknowns of date s are the input columns of date s + 1 (U_s holds R_{i,s+1})."""
    T, N = horizon, economy.N
    x_ss = jnp.concatenate([x_from_wages(end.W), jnp.asarray(end.R)])

    def prob_of(x):
        return household_problems(economy, wages_from_x(x[: N - 1]), x[N - 1:],
                                  economy.beta)

    rows_of = lambda o: jax.jacfwd(_autarky_residual_map)(o, N)    # noqa: E731
    Jx = block_jacobian(economy, end, T, hopts, prob_of, _autarky_outputs, x_ss, rows_of,
                        batch)                                      # [t, s = 0..T, r, k]
    J = jnp.concatenate([Jx[:, :T, :, : N - 1], Jx[:, 1:, :, N - 1:]], axis=3)
    n = 2 * N - 1
    return J.transpose(0, 2, 1, 3).reshape(n * T, n * T)


autarky_outcomes_jit = jax.jit(autarky_outcomes)
autarky_jacobian_jit = jax.jit(autarky_jacobian, static_argnames=("batch",))
autarky_fake_news_jit = jax.jit(autarky_fake_news_jacobian, static_argnums=(2, 4))


def stationary_autarky_jacobian(economy, end: Endpoint, horizon: int, hopts,
                                opts: TransitionOptions):
    """dH/dU [(2N-1) T, (2N-1) T] at the autarky stationary path of ``end`` (``economy``
    constant over T dates, initial = terminal = ``end``): by fake news
    (``opts.jacobian_method == "fake_news"``, default) or one jvp per column ("jvp")."""
    if opts.jacobian_method == "fake_news":
        return autarky_fake_news_jit(economy, end, horizon, hopts,
                                     max(1, opts.jacobian_batch // 4))
    return autarky_jacobian_jit(steady_autarky_unknowns(end, horizon), economy,
                                shock_path(economy, None, horizon), end, end, hopts,
                                batch=opts.jacobian_batch)


def check_autarky_inputs(b: Baseline, shock: ShockPath, *, cache=None, paths=None,
                         jacobian=None) -> None:
    """ValueError naming what does not apply to a transition under financial autarky:
    wedges (baseline or shock), tariffs (their rebates are not solved along this path),
    ``cache`` and ``paths`` (global-regime only), a ``jacobian`` of the wrong shape."""
    N, T = b.economy.N, shock.horizon
    if b.economy.wedges is not None or "wedges" in shock.fields:
        raise ValueError("wedges: a financial-autarky baseline carries no capital-account "
                         "wedges (Economy.wedges) and its shock no 'wedges' field (autarky "
                         "is the wedge path that keeps every A_i = 0)")
    if b.economy.tariffs is not None or "tariffs" in shock.fields:
        raise ValueError("tariffs: transitions under financial autarky with tariffs are not "
                         "supported (the tariff rebate is not solved along the path)")
    if cache is not None:
        raise ValueError("cache: transitions under financial autarky neither take nor "
                         "return a TransitionCache (pass initial=, terminal=, jacobian=)")
    if paths:
        raise ValueError("paths: distribution paths are not available under financial "
                         "autarky (global regime only)")
    n = (2 * N - 1) * T
    if jacobian is not None and np.shape(jacobian) != (n, n):
        raise ValueError(f"jacobian must be {n} x {n} ((2N-1) T under financial autarky), "
                         f"got {np.shape(jacobian)}")


def autarky_endpoints(b: Baseline, shock: ShockPath, opts: TransitionOptions,
                      eq_opts: EquilibriumOptions | None, initial=None, terminal=None):
    """(economy, initial, terminal): the baseline's fixed-beta economy, its autarky
    stationary equilibrium re-solved at the transition's household tolerance, and the
    autarky stationary equilibrium of the shock's terminal economy (beta fixed; from the
    initial's prices and household state). Given ones are checked and taken as they are."""
    base = EquilibriumOptions() if eq_opts is None else eq_opts
    eo = base.replace(hh_tol=min(base.hh_tol, opts.hh_tol), hh_max_iter=opts.hh_max_iter,
                      verbose=False).fixed_beta("autarky")
    econ = b.economy
    if initial is not None:
        initial = check_endpoint(initial, econ, "initial", regime="autarky")
    else:
        initial = solve_equilibrium(econ, eo, Start.from_baseline(b, jacobian=True))
    term_econ = shock.terminal(econ)
    if terminal is not None:
        return econ, initial, check_endpoint(terminal, term_econ, "terminal",
                                             regime="autarky")
    if same_economy(term_econ, econ):
        return econ, initial, initial
    start = Start.from_equilibrium(initial, jacobian=False)
    return econ, initial, solve_equilibrium(term_econ, eo, start)
