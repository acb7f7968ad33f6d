"""Calibration by gravity as a guide: indirect inference on the gravity regression
(model.md sections 7, 8 and 13).

Theta (K = 2(N-1) + 10 parameters, the layout of :mod:`hat_jax.gravity`) -> (A, d) ->
world equilibrium at the target R with beta unknown -> model trade shares pi_ij ->
gravity regression of log(pi_ij / pi_ii) -> K model moments. The gaps

    g(Theta) = moments_model(Theta) - moments_data

are exactly identified (K equations, K unknowns) and solved by Newton's method with the
exact Jacobian and a backtracking line search.

**Derivatives.** At the equilibrium root x* (18 relative wages and beta) of the excess
demands f(x, Theta) = 0 the moments are m(x*(Theta), Theta), so by the implicit function
theorem

    dg/dTheta = m_Theta - m_x f_x^{-1} f_Theta.

All four blocks come from one forward-mode pass through the world at (x*, Theta)
(households, distributions and aggregates are themselves differentiated by the implicit
function theorem, never through their iterations): N + K directions in one ``vmap``, so
the per-country factorisations of the household and distribution systems are computed
once and shared by all directions. No iteration is differentiated and no finite
difference is taken. :func:`make_moments` wraps this as a ``jax.custom_jvp`` so that
``jax.jacfwd`` / ``jax.jacrev`` of ``moments(theta)`` are exact. Where the clamp
d_ij = max(1, .) binds (Belgian imports at the baseline) the derivative of d_ij is zero
(:func:`hat_jax.gravity.trade_costs`), so those pairs' cost parameters act only through
the pairs where it does not bind.

**Solver.** Outer Newton loop in Python around one jitted evaluation (an equilibrium
solve, warm-started from the last accepted prices and household states, plus the
Jacobian when the trial point is accepted). It is written in Python rather than as an
optimistix root find because every iteration is a whole equilibrium solve (seconds to
a minute) and must be checkpointed to disk, reported and resumable; the per-iteration
overhead of Python is nil at that scale. Step: d = -G^{-1} g (a Levenberg-Marquardt
step if G is singular), capped at ``max_step`` in the sup norm; backtracking halves it
until ||g(Theta + t d)||_2 <= (1 - 1e-4 t) ||g(Theta)||_2. Stops when max |g| <= tol.

**Checkpoints.** After every iteration the whole state (Theta, gaps, Jacobian, prices,
beta, household states, history, fingerprint of the problem and settings) is written
atomically (temporary file, fsync, rename) to a ``.npz`` with a SHA-256 checksum; a
resumed run continues exactly where the checkpoint left off (bit for bit: the same
compiled program on the same inputs). A corrupt checkpoint, or one written for another
preset, data set or settings, raises :class:`CheckpointError` naming what differs.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import sys
import time
import zipfile
from dataclasses import dataclass, field, asdict
from pathlib import Path
from typing import Any, Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .ek import THETA_D, EKWorld, economy_from_params
from .equilibrium import (
    EquilibriumOptions,
    decode,
    market_residuals,
    solve_equilibrium_jit,
    solve_world,
)
from .fileio import atomic_write_bytes
from .gravity import (
    N_DIST_BINS,
    Geography,
    TradeCostParams,
    geography_from_arrays,
    log_share_ratios,
    make_gravity_regression,
    n_countries_from_length,
    pack_params,
    trade_costs,
    unpack_params,
)
from .household import HouseholdOptions, initial_state
from .params import Economy, household_problems
from .results import ConvergenceError, check_converged

__all__ = [
    "CHECKPOINT_NAME",
    "CheckpointError",
    "CalibrationProblem",
    "CalibrationOptions",
    "CalibrationResult",
    "Start",
    "problem_from_world",
    "make_moments",
    "moments_and_jacobian",
    "moment_gaps",
    "static_ek_start",
    "starting_point",
    "read_start_file",
    "calibrate",
    "load_checkpoint",
    "trade_cost_levels",
    "parameter_names",
    "moment_names",
    "calibration_table",
    "write_outputs",
    "fit_figure",
    "synthetic_geography",
    "synthetic_theta",
    "synthetic_problem",
    "summary",
    "OUTPUT_FILES",
    "Evaluation",
    "problem_fingerprint",
]

#: File name of the checkpoint inside an output folder.
CHECKPOINT_NAME = "checkpoint.npz"
_FORMAT = "hat_jax.calibration.checkpoint/1"
_COMMON_NAMES = tuple(f"dist_{k + 1}" for k in range(N_DIST_BINS)) + (
    "border", "language", "EC", "EFTA")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt or was written for another calibration."""


# ----------------------------------------------------------------------- the problem
class CalibrationProblem(eqx.Module):
    """What a calibration fits (a pytree; pass it to jitted functions as an argument).

    economy: the base economy (its A and d are replaced by those of Theta; its beta is
      not used, beta is solved); geography: pair characteristics; target: the K data
      moments (S_1..S_{N-1}, m_1..m_{N-1}, dist_1..6, border, language, EC, EFTA);
      data_trade: the data's log(X_ij / X_ii) [N, N] (for the fit figure only);
      R: the target gross interest rate; theta_d: trade-cost curvature (static).
    """

    economy: Economy
    geography: Geography
    target: jax.Array
    data_trade: jax.Array
    R: jax.Array
    theta_d: float = eqx.field(static=True, default=THETA_D)

    @property
    def N(self) -> int:
        return self.economy.N

    @property
    def K(self) -> int:
        return 2 * (self.economy.N - 1) + N_DIST_BINS + 4

    @property
    def countries(self) -> tuple:
        return self.economy.countries


def problem_from_world(world: EKWorld) -> CalibrationProblem:
    """The calibration problem of an Eaton-Kortum preset world: its economy, geography,
    the gravity moments of the data and the preset's target R."""
    return CalibrationProblem(
        economy=world.economy, geography=world.geography,
        target=jnp.asarray(np.asarray(world.data_moments().moment_vector()), jnp.float64),
        data_trade=jnp.asarray(np.asarray(world.data.trade), jnp.float64),
        R=jnp.asarray(float(world.R), jnp.float64), theta_d=float(world.theta_d))


@dataclass(frozen=True)
class CalibrationOptions:
    """Settings of :func:`calibrate`.

    tol: stop when max |moment gap| <= tol (1e-8). max_iter: Newton iterations (not part
    of the checkpoint fingerprint: a run stopped by it can be resumed with a larger one).
    max_step: cap on the sup norm of a Newton step in Theta (1.0). max_halvings: line
    search halvings before giving up (20). eq_tol: equilibrium tolerance, max |excess
    demand| / world GDP (5e-13). hh_tol: household fixed point, sup-norm change of c and
    v (3e-12). dist_tol: distribution, sup-norm change (1e-13). eq_max_iter: equilibrium
    Newton iterations per evaluation (40). verbose: one line per iteration on stderr.

    Why the equilibrium and household tolerances are tighter than the library defaults
    (1e-10, 1e-11): the excess demands are relative to world GDP, and the smallest
    economies of the Eaton-Kortum world have GDP shares of order 1e-3, so a residual r
    leaves their wages, and through them the gravity moments, uncertain by up to ~4000 r
    (measured: the same Theta solved from two starting points gave moments 3.8e-8 apart
    at eq_tol 1e-11, 2e-10 apart at 5e-13). The moments must be reproducible well below
    tol = 1e-8 for Newton to converge reliably. Household solves at 3e-12 put the floor of
    the excess demands near 2e-13 at Na = 100 (an equilibrium tolerance of 2e-13 was
    sometimes out of reach; household tolerances of 1e-12 stall at the rounding floor).
    """

    tol: float = 1e-8
    max_iter: int = 50
    max_step: float = 1.0
    max_halvings: int = 20
    eq_tol: float = 5e-13
    hh_tol: float = 3e-12
    dist_tol: float = 1e-13
    eq_max_iter: int = 40
    verbose: bool = True

    def __post_init__(self):
        for name in ("tol", "max_step", "eq_tol", "hh_tol", "dist_tol"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {name}={v!r}")
        for name in ("max_iter", "max_halvings", "eq_max_iter"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < (0 if name == "max_iter" else 1):
                raise ValueError(f"{name} must be a non-negative integer, got {name}={v!r}")

    def equilibrium_options(self) -> EquilibriumOptions:
        """The equilibrium settings used for every moment evaluation (beta solved at R)."""
        return EquilibriumOptions(unknown="beta", tol=self.eq_tol, hh_tol=self.hh_tol,
                                  dist_tol=self.dist_tol, max_iter=self.eq_max_iter)

    def fingerprint(self) -> dict:
        """The settings that determine the path of the iterations (not max_iter/verbose)."""
        d = asdict(self)
        d.pop("max_iter")
        d.pop("verbose")
        return d


class Start(NamedTuple):
    """A starting point: Theta [K], wages W [N] (mean one) and beta, with a label
    ("published", "cold" or "file:PATH")."""

    theta: np.ndarray
    W: np.ndarray
    beta: float
    label: str


# ------------------------------------------------------------------ moments of Theta
def _world_outputs(x, theta, problem: CalibrationProblem, state, opts: EquilibriumOptions):
    """(excess demands f(x, Theta), model moments m(x, Theta)) with households warm-started
    from ``state``; x: unconstrained prices (wages, beta) of the "beta" mode."""
    econ = economy_from_params(theta, problem.economy, problem.geography, problem.theta_d)
    W, R, beta = decode(x, econ, opts, problem.R)
    world = solve_world(econ, W, R, beta, state, hh_tol=opts.hh_tol,
                        hh_max_iter=opts.hh_max_iter, distribution=opts.distribution,
                        dist_tol=opts.dist_tol, tangent_solver=opts.tangent_solver)
    goods, bonds, _ = market_residuals(world.aggregates, opts)
    regress = make_gravity_regression(problem.geography)
    m = regress(log_share_ratios(world.aggregates.trade_shares)).moment_vector()
    return jnp.concatenate([goods, bonds]), m


def _jacobian_at_solution(theta, x, state, problem, opts):
    """dg/dTheta = m_Theta - m_x f_x^{-1} f_Theta at the equilibrium x* of Theta.

    One forward-mode pass with N + K tangent directions (x and Theta stacked).
    """
    n, k = x.shape[0], theta.shape[0]
    theta = lax.stop_gradient(theta)
    x = lax.stop_gradient(x)
    state = lax.stop_gradient(state)

    def push(t):
        return jax.jvp(lambda xx, th: _world_outputs(xx, th, problem, state, opts),
                       (x, theta), (t[:n], t[n:]))[1]

    df, dm = jax.vmap(push, out_axes=-1)(jnp.eye(n + k, dtype=theta.dtype))
    fx, ft = df[:, :n], df[:, n:]
    mx, mt = dm[:, :n], dm[:, n:]
    return mt - mx @ jnp.linalg.solve(fx, ft)


def _solve(theta, problem: CalibrationProblem, W0, beta0, s0, opts: EquilibriumOptions):
    """Equilibrium at Theta (no convergence check) and the moment gaps."""
    theta = lax.stop_gradient(theta)
    econ = economy_from_params(theta, problem.economy, problem.geography, problem.theta_d)
    eq = solve_equilibrium_jit(econ, W0, problem.R, beta0, opts, s0, throw=False)
    regress = make_gravity_regression(problem.geography)
    model = regress(log_share_ratios(eq.world.aggregates.trade_shares)).moment_vector()
    return model - problem.target, model, eq


def _initial_state(problem: CalibrationProblem, theta, W0, beta0):
    """The reference initial household guess at the starting prices."""
    econ = economy_from_params(theta, problem.economy, problem.geography, problem.theta_d)
    probs = household_problems(econ, W0, problem.R, beta0)
    hopts = HouseholdOptions(gamma=econ.gamma, Na=econ.Na)
    return jax.vmap(initial_state, in_axes=(0, None))(probs, hopts)


def make_moments(problem: CalibrationProblem, W0=None, beta0=None, hh_state0=None,
                 options: CalibrationOptions | None = None, throw: bool = True):
    """``moments(theta) -> g`` (K gaps, model minus data) as one differentiable function.

    Theta -> (A, d) -> equilibrium at R = problem.R with beta unknown (started from W0,
    beta0, hh_state0; default W = 1, beta = 0.95/R) -> trade shares -> gravity moments -
    data moments. ``jax.jacfwd`` / ``jax.jacrev`` / ``jax.jvp`` of it are exact (a
    ``custom_jvp``: the tangent is G dTheta with G = m_Theta - m_x f_x^{-1} f_Theta computed
    once at the solution; derivatives flow through theta only, the problem and the
    starting values are constants). ``throw``: a runtime error if the equilibrium did not
    converge. Works under ``jax.jit``.
    """
    options = CalibrationOptions() if options is None else options
    opts = options.equilibrium_options()
    N = problem.N
    W0 = jnp.ones(N) if W0 is None else jnp.asarray(W0, jnp.float64)
    beta0 = jnp.asarray(0.95 / float(problem.R) if beta0 is None else beta0, jnp.float64)

    def primal(theta):
        s0 = hh_state0 if hh_state0 is not None else _initial_state(problem, theta, W0, beta0)
        gaps, _, eq = _solve(theta, problem, W0, beta0, s0, opts)
        if throw:
            gaps = check_converged("equilibrium of the calibration moments", eq.converged,
                                   eq.iterations, gaps, opts.tol)
        return gaps, eq

    @jax.custom_jvp
    def moments(theta):
        return primal(jnp.asarray(theta, jnp.float64))[0]

    @moments.defjvp
    def _moments_jvp(primals, tangents):
        (theta,), (t_theta,) = primals, tangents
        theta = jnp.asarray(theta, jnp.float64)
        gaps, eq = primal(theta)
        G = _jacobian_at_solution(theta, eq.x, eq.world.households.state, problem, opts)
        return gaps, G @ t_theta

    return moments


def _evaluate_once(theta, problem, W0, beta0, hh_state0, options, jacobian: bool):
    options = CalibrationOptions() if options is None else options
    N = problem.N
    theta = np.asarray(theta, np.float64)
    W0 = np.ones(N) if W0 is None else np.asarray(W0, np.float64)
    beta0 = np.asarray(0.95 / float(problem.R) if beta0 is None else beta0, np.float64)
    if hh_state0 is None:
        hh_state0 = _initial_state_jit(problem, theta, W0, beta0)
    args = (theta, problem, W0, beta0, hh_state0,
            np.asarray(np.inf if jacobian else -np.inf), np.asarray(0.0))
    return jax.block_until_ready(
        _compiled_evaluator(args, options.equilibrium_options())(*args))


def moments_and_jacobian(theta, problem: CalibrationProblem, W0=None, beta0=None,
                         hh_state0=None, options: CalibrationOptions | None = None):
    """(gaps g [K], Jacobian dg/dTheta [K, K], :class:`Evaluation`) at Theta, by the
    compiled evaluator a calibration uses. Starting prices W0, beta0 (default W = 1,
    beta = 0.95/R) and household states hh_state0 (default: the reference guess). No
    throw: check ``evaluation.converged``."""
    ev = _evaluate_once(theta, problem, W0, beta0, hh_state0, options, True)
    return np.asarray(ev.gaps), np.asarray(ev.G), ev


def moment_gaps(theta, problem: CalibrationProblem, W0=None, beta0=None, hh_state0=None,
                options: CalibrationOptions | None = None):
    """(gaps g [K], :class:`Evaluation`) at Theta without the Jacobian (same compiled
    evaluator as :func:`moments_and_jacobian`)."""
    ev = _evaluate_once(theta, problem, W0, beta0, hh_state0, options, False)
    return np.asarray(ev.gaps), ev


class Evaluation(NamedTuple):
    """One evaluation of the moments at Theta (what the jitted evaluator returns)."""

    gaps: jax.Array
    model: jax.Array
    G: jax.Array
    has_G: jax.Array
    accept: jax.Array
    W: jax.Array
    beta: jax.Array
    x: jax.Array
    state: Any
    converged: jax.Array
    residual: jax.Array
    iterations: jax.Array
    trade_shares: jax.Array


def _evaluate(theta, problem, W0, beta0, s0, accept_below, gap_tol, opts):
    """Equilibrium and gaps at Theta. ``accept``: the equilibrium converged, the gaps are
    finite and ||g||_2 <= accept_below (the line-search test). The Jacobian G is computed
    only for an accepted point that is not yet the solution (max |g| > gap_tol);
    otherwise G = 0 and has_G = False."""
    gaps, model, eq = _solve(theta, problem, W0, beta0, s0, opts)
    state = eq.world.households.state
    norm = jnp.sqrt(jnp.sum(gaps ** 2))
    accept = eq.converged & jnp.all(jnp.isfinite(gaps)) & (norm <= accept_below)
    want = accept & (jnp.max(jnp.abs(gaps)) > gap_tol)
    K = theta.shape[0]
    G = lax.cond(want, lambda: _jacobian_at_solution(theta, eq.x, state, problem, opts),
                 lambda: jnp.zeros((K, K), theta.dtype))
    return Evaluation(gaps, model, G, want & jnp.all(jnp.isfinite(G)), accept, eq.W,
                      eq.beta, eq.x, state, eq.converged, eq.residual, eq.iterations,
                      eq.world.aggregates.trade_shares)


_evaluate_jit = jax.jit(_evaluate, static_argnames=("opts",))
_initial_state_jit = jax.jit(_initial_state)


# ------------------------------------------------------------------- starting points
def static_ek_start(target, L, geography: Geography, theta_d: float = THETA_D):
    """Cold start from the data alone: invert the static Eaton-Kortum model.

    With trade elasticity theta_d, log(X_ij/X_ii) = S_j - S_i - theta_d log d_ij, so the
    cost parameters are the data moments themselves: mu_i = m_i, and the distance,
    border, language, EC and EFTA coefficients (log d_ij = -(...)/theta_d). Exporter
    effects give relative prices p_j = exp(-S_j/theta_d); static trade shares pi_ij =
    (d_ij p_j)^-theta_d / sum_k (d_ik p_k)^-theta_d; balanced trade Y_j = sum_i pi_ij Y_i
    gives incomes, wages W_j = Y_j / L_j (E[z] = 1) and TFP A_j = W_j / p_j, normalised
    to A_N = 1 (and W to mean one). Returns (Theta [K], W [N]).
    """
    target = np.asarray(target, np.float64)
    n = n_countries_from_length(target.size)
    m = n - 1
    ex = np.append(target[:m], -target[:m].sum())
    mu = np.append(target[m:2 * m], -target[m:2 * m].sum())
    tail = target[2 * m:]
    p = TradeCostParams(jnp.zeros(n), jnp.asarray(mu), jnp.asarray(tail[:N_DIST_BINS]),
                        *(jnp.asarray(tail[N_DIST_BINS + k]) for k in range(4)))
    d = np.asarray(trade_costs(p, geography, theta_d))
    price = np.exp(-ex / theta_d)
    x = (d * price[None, :]) ** (-theta_d)
    pi = x / x.sum(axis=1, keepdims=True)
    M = pi.T - np.eye(n)
    M[-1] = 1.0
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    Y = np.linalg.solve(M, rhs)
    W = Y / np.asarray(L, np.float64)
    A = W / price
    A = A / A[-1]
    theta = np.asarray(pack_params(p._replace(log_A=jnp.asarray(np.log(A)))))
    return theta, W / W.mean()


def read_start_file(path) -> tuple[np.ndarray, np.ndarray | None, float | None]:
    """Theta from a params file (column ``guess``, K rows: the published layout, e.g.
    ``hat-baseline/baseline-params.csv`` or a calibration's ``params.csv``), and the
    prices from its sibling (``X-params.csv`` -> ``X-prices.csv``, ``params.csv`` ->
    ``prices.csv``) when that exists: (theta, W or None, beta or None)."""
    import pandas as pd

    path = Path(path).expanduser()

    def column(f: Path, what: str) -> np.ndarray:
        if not f.is_file():
            raise ValueError(f"{what} file {f} does not exist")
        try:
            df = pd.read_csv(f)
        except Exception as exc:
            raise ValueError(f"{what} file {f} cannot be parsed as CSV ({exc})") from exc
        if "guess" not in df.columns:
            raise ValueError(f"{what} file {f} has no column 'guess' (found {list(df.columns)})")
        try:
            v = pd.to_numeric(df["guess"]).to_numpy(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{what} file {f}: non-numeric values in column 'guess'") from exc
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{what} file {f}: non-finite values in column 'guess'")
        return v

    theta = column(path, "start (params)")
    n_countries_from_length(theta.size)  # validates the length
    name = path.name
    sib = None
    if name.endswith("params.csv"):
        sib = path.with_name(name[: -len("params.csv")] + "prices.csv")
    if sib is None or not sib.is_file():
        return theta, None, None
    prices = column(sib, "start (prices)")
    n = n_countries_from_length(theta.size)
    if prices.size != n:
        raise ValueError(f"start (prices) file {sib}: expected {n} rows (W_1..W_{n - 1}, "
                         f"beta), found {prices.size}")
    W = np.append(prices[: n - 1], n - prices[: n - 1].sum())
    if np.any(W <= 0):
        raise ValueError(f"start (prices) file {sib}: wages must be positive "
                         f"(W_{n} = {n} - sum = {W[-1]:.6g})")
    return theta, W, float(prices[n - 1])


def starting_point(source, start: str = "published") -> Start:
    """Starting Theta, wages and beta for a preset world (:class:`~hat_jax.ek.EKWorld`) or
    a :class:`CalibrationProblem`.

    ``"published"``: the published vectors (ValueError for presets without them, and
    for a bare problem); ``"cold"``: :func:`static_ek_start` from the data moments and
    labour forces, beta = 0.95/R; a path: a params file (see :func:`read_start_file`;
    without a sibling prices file the wages and beta are the cold ones).
    """
    if isinstance(source, EKWorld):
        what, published = f"preset {source.name!r}", source.published
        problem = problem_from_world(source)
    else:
        what, published, problem = "a bare calibration problem", None, source
    R = float(problem.R)
    if start == "published":
        if published is None:
            raise ValueError(f"{what} has no published vectors; use start 'cold' (or a "
                             "params file)")
        return Start(np.asarray(published.params, np.float64),
                     np.asarray(published.wages, np.float64), float(published.beta),
                     "published")
    theta_c, W_c = static_ek_start(np.asarray(problem.target), np.asarray(problem.economy.L),
                                   problem.geography, problem.theta_d)
    if start == "cold":
        return Start(theta_c, W_c, 0.95 / R, "cold")
    theta, W, beta = read_start_file(start)
    if theta.size != theta_c.size:
        raise ValueError(f"start file {start}: expected {theta_c.size} parameters "
                         f"(published layout), found {theta.size}")
    if W is not None and W.size != problem.N:
        raise ValueError(f"start file {start}: the prices file has {W.size} wages, "
                         f"expected {problem.N}")
    if beta is not None and not (0.0 < beta * R < 1.0):
        raise ValueError(f"start file {start}: beta = {beta!r} violates 0 < beta R < 1 "
                         f"at R = {R}")
    return Start(theta, W_c if W is None else W, 0.95 / R if beta is None else beta,
                 f"file:{Path(start).expanduser().resolve()}")


# ---------------------------------------------------------------------- checkpoints
def _hash_arrays(h, named) -> None:
    for name, a in named:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())


def problem_fingerprint(problem: CalibrationProblem) -> dict:
    """A readable description of the problem plus a hash of all its data (L, income
    process, geography, data moments). A, d and beta of the base economy are not
    part of it (they come from Theta and the equilibrium)."""
    e = problem.economy
    h = hashlib.sha256()
    _hash_arrays(h, [("L", e.L), ("z", e.z), ("P", e.P), ("y_P", e.y_P),
                     *((f"geo{k}", a) for k, a in enumerate(problem.geography)),
                     ("target", problem.target), ("data_trade", problem.data_trade)])
    return {
        "N": int(e.N), "Na": int(e.Na), "Nz": int(e.Nz), "gamma": float(e.gamma),
        "sigma": float(e.sigma), "psi_slope": float(e.psi_slope), "phi": float(e.phi),
        "amax": float(e.amax), "scale_by_tfp": bool(e.scale_by_tfp),
        "R": float(problem.R), "theta_d": float(problem.theta_d),
        "countries": list(e.countries), "data_sha256": h.hexdigest(),
    }


def start_fingerprint(start: Start) -> dict:
    h = hashlib.sha256()
    _hash_arrays(h, [("theta", np.asarray(start.theta, np.float64)),
                     ("W", np.asarray(start.W, np.float64)),
                     ("beta", np.asarray(start.beta, np.float64))])
    return {"label": start.label, "sha256": h.hexdigest()}


def _describe_differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _describe_differences(a, b, f"{prefix}{k}.")
        elif a != b:
            if k == "countries":
                a, b = f"{len(a)} countries", f"{len(b)} countries"
            elif k.endswith("sha256"):
                a, b = str(a)[:12] + "...", str(b)[:12] + "..."
            out.append(f"{prefix}{k}: checkpoint {a!r}, now {b!r}")
    return out


@dataclass
class _State:
    """Everything the Newton loop carries from one iteration to the next."""

    iteration: int
    theta: np.ndarray
    gaps: np.ndarray
    model: np.ndarray
    G: np.ndarray
    has_G: bool
    W: np.ndarray
    beta: float
    x: np.ndarray
    state: list  # household state leaves
    eq_residual: float
    eq_iterations: int
    trade_shares: np.ndarray
    history: list = field(default_factory=list)
    elapsed: float = 0.0
    status: str = "running"


def _checksum(meta: str, arrays: dict) -> str:
    h = hashlib.sha256(meta.encode())
    _hash_arrays(h, sorted(arrays.items()))
    return h.hexdigest()


def _save_checkpoint(path: Path, st: _State, fingerprint: dict) -> None:
    meta = json.dumps({
        "format": _FORMAT, "fingerprint": fingerprint, "iteration": st.iteration,
        "beta": st.beta, "has_G": st.has_G, "eq_residual": st.eq_residual,
        "eq_iterations": st.eq_iterations, "history": st.history, "elapsed": st.elapsed,
        "status": st.status, "n_state": len(st.state),
    }, sort_keys=True)
    arrays = {"theta": st.theta, "gaps": st.gaps, "model": st.model, "G": st.G, "W": st.W,
              "x": st.x, "trade_shares": st.trade_shares,
              **{f"state_{k}": a for k, a in enumerate(st.state)}}
    arrays = {k: np.ascontiguousarray(np.asarray(v)) for k, v in arrays.items()}
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(meta), checksum=np.array(_checksum(meta, arrays)), **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path, fingerprint: dict | None = None) -> _State:
    """Read and verify a checkpoint (format, SHA-256 checksum, and, when given, that its
    fingerprint equals ``fingerprint``). Raises :class:`CheckpointError` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path} to resume from")
    corrupt = f"checkpoint {path} is corrupt"
    try:
        with np.load(path, allow_pickle=False) as z:
            files = dict((k, z[k]) for k in z.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise CheckpointError(f"{corrupt} (cannot be read: {exc}); remove it or start "
                              "afresh") from exc
    try:
        meta_s = str(files.pop("meta"))
        checksum = str(files.pop("checksum"))
    except KeyError as exc:
        raise CheckpointError(f"{corrupt} (missing entry {exc})") from exc
    if _checksum(meta_s, files) != checksum:
        raise CheckpointError(f"{corrupt} (checksum mismatch); remove it or start afresh")
    meta = json.loads(meta_s)
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"checkpoint {path} has format {found!r}, expected "
                              f"{_FORMAT!r}")
    if fingerprint is not None and meta.get("fingerprint") != fingerprint:
        diff = _describe_differences(meta.get("fingerprint") or {}, fingerprint)
        raise CheckpointError(
            f"checkpoint {path} was written for a different calibration ("
            + "; ".join(diff) + "); it is not used: rerun with the same preset, data and "
            "settings, or start afresh")
    try:
        n_state = int(meta["n_state"])
        return _State(
            iteration=int(meta["iteration"]), theta=files["theta"], gaps=files["gaps"],
            model=files["model"], G=files["G"], has_G=bool(meta["has_G"]), W=files["W"],
            beta=float(meta["beta"]), x=files["x"],
            state=[files[f"state_{k}"] for k in range(n_state)],
            eq_residual=float(meta["eq_residual"]),
            eq_iterations=int(meta["eq_iterations"]), trade_shares=files["trade_shares"],
            history=list(meta["history"]), elapsed=float(meta["elapsed"]),
            status=str(meta["status"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{corrupt} (missing or malformed entry {exc})") from exc


def checkpoint_fingerprint(path) -> dict:
    """The fingerprint stored in a (verified) checkpoint."""
    path = Path(path)
    load_checkpoint(path)  # verifies
    with np.load(path, allow_pickle=False) as z:
        return json.loads(str(z["meta"]))["fingerprint"]


# --------------------------------------------------------------------------- solver
@dataclass
class CalibrationResult:
    """The outcome of :func:`calibrate`.

    theta: calibrated parameters [K]; gaps, model, target: moments (model minus data,
    model, data); W, beta, R: equilibrium prices at theta; trade_shares: the model's
    [importer, exporter]; converged (max |gap| <= tol), iterations, max_gap; seconds:
    wall time of the iterations (all runs of a resumed calibration), compile_s: this
    run's compile time; history: one record per iteration (iteration, max_gap,
    norm_gap, step, t, eq_residual, eq_iterations, seconds); jacobian: dg/dTheta at theta
    (None at a converged point, where it is not computed); start: the start's label;
    resumed: whether this run continued a checkpoint; message: why it stopped.
    """

    problem: CalibrationProblem
    theta: np.ndarray
    gaps: np.ndarray
    model: np.ndarray
    target: np.ndarray
    W: np.ndarray
    beta: float
    R: float
    trade_shares: np.ndarray
    eq_residual: float
    converged: bool
    iterations: int
    max_gap: float
    seconds: float
    compile_s: float
    history: list
    jacobian: np.ndarray | None
    start: str
    resumed: bool
    message: str
    tol: float
    fingerprint: dict

    def params(self) -> TradeCostParams:
        return unpack_params(self.theta)


_COMPILED: dict = {}


def _compiled_evaluator(args, opts: EquilibriumOptions):
    """AOT-compiled evaluator for these shapes and settings (cached in the process)."""
    leaves, treedef = jax.tree_util.tree_flatten(args)
    key = (opts, treedef, tuple((np.shape(x), np.asarray(x).dtype) for x in leaves))
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _evaluate_jit.lower(*args, opts=opts).compile()
        if len(_COMPILED) >= 16:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = compiled
    return compiled


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _step(G: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, str]:
    """Newton step -G^{-1} g; a Levenberg-Marquardt step if G is (nearly) singular."""
    if np.all(np.isfinite(G)) and np.linalg.cond(G) < 1e12:
        d = -np.linalg.solve(G, g)
        if np.all(np.isfinite(d)):
            return d, "newton"
    GtG = G.T @ G
    lam = 1e-6 * max(float(np.max(np.diag(GtG))), 1e-300)
    d = -np.linalg.solve(GtG + lam * np.diag(np.maximum(np.diag(GtG), 1e-12)), G.T @ g)
    return d, "lm"


def calibrate(problem: CalibrationProblem, start: Start | None = None, *,
              options: CalibrationOptions | None = None, checkpoint=None,
              resume: bool = False, overwrite: bool = False, meta: dict | None = None,
              callback: Callable[[dict], None] | None = None) -> CalibrationResult:
    """Solve g(Theta) = 0 (moments of the model = moments of the data) by Newton's method
    with the exact Jacobian (see the module docstring).

    problem: :class:`CalibrationProblem`; start: :class:`Start` (Theta, W, beta, label);
    may be None when resuming (the checkpoint's start is used). options:
    :class:`CalibrationOptions`. checkpoint: path of the checkpoint file, written
    atomically after every iteration (None: no checkpoint). resume: continue from the
    checkpoint (:class:`CheckpointError` if it is missing, corrupt or does not match this
    problem, start and settings). overwrite: allow a fresh run to replace an existing
    checkpoint (otherwise refused). meta: extra fields of the fingerprint (e.g. the
    preset name). callback(record): called after each iteration (and its checkpoint).

    Returns a :class:`CalibrationResult`; ``converged`` says whether max |gap| <= tol.
    """
    options = CalibrationOptions() if options is None else options
    opts = options.equilibrium_options()
    say = _log if options.verbose else (lambda msg: None)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    base_fp = {"problem": problem_fingerprint(problem), "options": options.fingerprint(),
               "meta": dict(meta or {})}

    st: _State | None = None
    fingerprint: dict
    if resume:
        if ckpt is None:
            raise ValueError("resume=True needs a checkpoint path")
        if not ckpt.is_file():
            raise CheckpointError(f"no checkpoint at {ckpt} to resume from (run without "
                                  "resume to start a calibration)")
        if start is None:
            stored = checkpoint_fingerprint(ckpt)
            fingerprint = {**base_fp, "start": stored.get("start")}
        else:
            fingerprint = {**base_fp, "start": start_fingerprint(start)}
        st = load_checkpoint(ckpt, fingerprint)
        say(f"calibration: resuming {ckpt} at iteration {st.iteration} "
            f"(max |gap| {np.max(np.abs(st.gaps)):.3e})")
    else:
        if start is None:
            raise ValueError("a start (Theta, W, beta) is needed unless resuming")
        if ckpt is not None and ckpt.exists() and not overwrite:
            raise CheckpointError(f"a checkpoint already exists at {ckpt}: resume it, or "
                                  "allow overwriting it to start afresh")
        fingerprint = {**base_fp, "start": start_fingerprint(start)}

    K, N = problem.K, problem.N
    if start is not None:
        theta0 = np.asarray(start.theta, np.float64)
        if theta0.shape != (K,):
            raise ValueError(f"start theta must have {K} entries, got shape {theta0.shape}")
        if not np.all(np.isfinite(theta0)):
            raise ValueError("start theta has non-finite entries at positions "
                             f"{np.flatnonzero(~np.isfinite(theta0)).tolist()}")
        W0 = np.asarray(start.W, np.float64)
        if W0.shape != (N,) or np.any(~np.isfinite(W0)) or np.any(W0 <= 0):
            raise ValueError(f"start wages must be {N} positive numbers, got {W0}")
        W0 = W0 / W0.mean()
        beta0 = float(start.beta)
        if not 0.0 < beta0 * float(problem.R) < 1.0:
            raise ValueError(f"start beta = {beta0!r} violates 0 < beta R < 1 at "
                             f"R = {float(problem.R)!r}")

    # ---- compile (once per shapes and settings in this process)
    if st is None:
        s_init = _initial_state_jit(problem, theta0, W0, np.asarray(beta0))
    else:
        like = jax.eval_shape(_initial_state, problem, np.asarray(st.theta),
                              np.asarray(st.W), np.asarray(st.beta))
        shapes = [(l.shape, l.dtype) for l in jax.tree_util.tree_leaves(like)]
        if [(a.shape, a.dtype) for a in st.state] != shapes:
            raise CheckpointError(f"checkpoint {ckpt}: household states have shapes "
                                  f"{[a.shape for a in st.state]}, expected "
                                  f"{[s_[0] for s_ in shapes]}")
        s_init = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like),
                                              [jnp.asarray(a) for a in st.state])
    treedef = jax.tree_util.tree_structure(s_init)
    args_like = (np.zeros(K), problem, np.ones(N), np.asarray(0.9), s_init,
                 np.asarray(np.inf), np.asarray(0.0))
    compiled = {"fn": None, "seconds": 0.0}

    def evaluator():
        """The compiled evaluator, compiled on first use (a finished checkpoint needs
        none)."""
        if compiled["fn"] is None:
            t0 = time.perf_counter()
            if not any(k[0] == opts for k in _COMPILED):
                say("calibration: compiling the moments and their Jacobian (once per grid "
                    "size and settings; minutes for 19 countries)...")
            compiled["fn"] = _compiled_evaluator(args_like, opts)
            compiled["seconds"] = time.perf_counter() - t0
            if compiled["seconds"] > 1.0:
                say(f"calibration: compiled in {compiled['seconds']:.1f} s")
        return compiled["fn"]

    def evaluate(theta, W, beta, leaves, accept_below, gap_tol):
        fn = evaluator()
        s = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(a) for a in leaves])
        ev = fn(np.asarray(theta, np.float64), problem, np.asarray(W, np.float64),
                np.asarray(beta, np.float64), s, np.asarray(accept_below, np.float64),
                np.asarray(gap_tol, np.float64))
        ev = jax.block_until_ready(ev)
        return ev

    def save(st_):
        if ckpt is not None:
            _save_checkpoint(ckpt, st_, fingerprint)

    def record_line(r):
        say(f"calibration {r['iteration']:3d}  max|gap| {r['max_gap']:.3e}  "
            f"step {r['step']:.3e}  t {r['t']:.3g}  eq residual {r['eq_residual']:.1e} "
            f"({r['eq_iterations']} newton)  {r['seconds']:.1f} s"
            + (f"  [{r['kind']}]" if r.get("kind") not in (None, "newton") else ""))

    message = ""
    if st is None:
        evaluator()  # compile first: the iteration times exclude compilation
        t_it = time.perf_counter()
        leaves0 = [np.asarray(a) for a in jax.tree_util.tree_leaves(s_init)]
        ev = evaluate(theta0, W0, beta0, leaves0, np.inf, options.tol)
        if not bool(ev.converged):
            raise ConvergenceError(
                f"the equilibrium at the starting parameters did not converge (max |excess "
                f"demand|/GDP = {float(ev.residual):.3e} after {int(ev.iterations)} Newton "
                "iterations); try another start")
        st = _state_from_eval(0, theta0, ev)
        st.elapsed = time.perf_counter() - t_it
        r = {"iteration": 0, "max_gap": float(np.max(np.abs(st.gaps))),
             "norm_gap": float(np.linalg.norm(st.gaps)), "step": 0.0, "t": 0.0,
             "eq_residual": st.eq_residual, "eq_iterations": st.eq_iterations,
             "seconds": st.elapsed, "kind": "start"}
        st.history.append(r)
        save(st)  # checkpoint first: a reported iteration is never lost
        record_line(r)
        if callback is not None:
            callback(r)

    while True:
        max_gap = float(np.max(np.abs(st.gaps)))
        if max_gap <= options.tol:
            st.status = "converged"
            message = (f"converged: max |gap| {max_gap:.3e} <= {options.tol:g} after "
                       f"{st.iteration} iterations")
            break
        if st.status == "failed":
            message = st.history[-1].get("message", "line search failed")
            break
        if st.iteration >= options.max_iter:
            message = (f"not converged: max |gap| {max_gap:.3e} > {options.tol:g} after "
                       f"{st.iteration} iterations (max_iter {options.max_iter})")
            break
        evaluator()  # compile first: the iteration times exclude compilation
        t_it = time.perf_counter()
        if not st.has_G:  # e.g. a point accepted exactly at the tolerance
            ev = evaluate(st.theta, st.W, st.beta, st.state, np.inf, 0.0)
            st.G, st.has_G = np.asarray(ev.G), bool(ev.has_G)
            if not st.has_G:
                raise ConvergenceError("the Jacobian of the moments could not be computed "
                                       "at the current parameters")
        d, kind = _step(st.G, st.gaps)
        scale = min(1.0, options.max_step / max(float(np.max(np.abs(d))), 1e-300))
        d = d * scale
        norm0 = float(np.linalg.norm(st.gaps))
        t = 1.0
        accepted = None
        for _ in range(options.max_halvings + 1):
            threshold = (1.0 - 1e-4 * t) * norm0
            trial = st.theta + t * d
            ev = evaluate(trial, st.W, st.beta, st.state, threshold, options.tol)
            if bool(ev.accept):
                accepted = (trial, ev)
                break
            t *= 0.5
        seconds = time.perf_counter() - t_it
        if accepted is None:
            st.status = "failed"
            msg = (f"not converged: the line search found no decrease of |gap| from "
                   f"iteration {st.iteration} (max |gap| {max_gap:.3e}) after "
                   f"{options.max_halvings} halvings")
            st.elapsed += seconds
            st.history.append({"iteration": st.iteration, "message": msg,
                               "seconds": seconds, "max_gap": max_gap})
            save(st)
            message = msg
            break
        trial, ev = accepted
        prev_history, prev_elapsed = st.history, st.elapsed
        st = _state_from_eval(st.iteration + 1, trial, ev)
        st.history = prev_history
        st.elapsed = prev_elapsed + seconds
        r = {"iteration": st.iteration, "max_gap": float(np.max(np.abs(st.gaps))),
             "norm_gap": float(np.linalg.norm(st.gaps)),
             "step": float(np.max(np.abs(t * d))), "t": t,
             "eq_residual": st.eq_residual, "eq_iterations": st.eq_iterations,
             "seconds": seconds, "kind": kind}
        st.history.append(r)
        save(st)  # checkpoint first: a reported iteration is never lost
        record_line(r)
        if callback is not None:
            callback(r)

    if st.status in ("converged", "failed") and ckpt is not None:
        save(st)
    say(f"calibration: {message} ({st.elapsed:.1f} s)")
    return CalibrationResult(
        problem=problem, theta=np.asarray(st.theta), gaps=np.asarray(st.gaps),
        model=np.asarray(st.model), target=np.asarray(problem.target), W=np.asarray(st.W),
        beta=float(st.beta), R=float(problem.R), trade_shares=np.asarray(st.trade_shares),
        eq_residual=st.eq_residual, converged=st.status == "converged",
        iterations=st.iteration, max_gap=float(np.max(np.abs(st.gaps))),
        seconds=st.elapsed, compile_s=compiled["seconds"], history=list(st.history),
        jacobian=np.asarray(st.G) if st.has_G else None,
        start=str(fingerprint["start"]["label"]) if fingerprint.get("start") else "",
        resumed=resume, message=message, tol=options.tol, fingerprint=fingerprint)


def _state_from_eval(iteration: int, theta, ev: Evaluation) -> _State:
    return _State(
        iteration=iteration, theta=np.asarray(theta, np.float64), gaps=np.asarray(ev.gaps),
        model=np.asarray(ev.model), G=np.asarray(ev.G), has_G=bool(ev.has_G),
        W=np.asarray(ev.W), beta=float(ev.beta), x=np.asarray(ev.x),
        state=[np.asarray(a) for a in jax.tree_util.tree_leaves(ev.state)],
        eq_residual=float(ev.residual), eq_iterations=int(ev.iterations),
        trade_shares=np.asarray(ev.trade_shares))


# -------------------------------------------------------------------------- outputs
def parameter_names(countries) -> list[str]:
    """Names of the K parameters: logA_ISO, mu_ISO (countries 1..N-1), dist_1..6,
    border, language, EC, EFTA."""
    c = list(countries)[:-1]
    return [f"logA_{x}" for x in c] + [f"mu_{x}" for x in c] + list(_COMMON_NAMES)


def moment_names(countries) -> list[str]:
    """Names of the K moments: S_ISO, m_ISO (countries 1..N-1), dist_1..6, border,
    language, EC, EFTA."""
    c = list(countries)[:-1]
    return [f"S_{x}" for x in c] + [f"m_{x}" for x in c] + list(_COMMON_NAMES)


def trade_cost_levels(theta, theta_d: float = THETA_D) -> dict:
    """exp(-x/theta_d) for the distance bins and the border, language, EC, EFTA
    coefficients x of Theta (the trade-cost factor each implies; < 1 lowers costs)."""
    theta = np.asarray(theta, np.float64)
    tail = theta[-(N_DIST_BINS + 4):]
    return {name: float(np.exp(-v / theta_d)) for name, v in zip(_COMMON_NAMES, tail)}


def calibration_table(result: CalibrationResult):
    """Table-1 style: one row per moment (published layout): moment, data, model, gap
    (model - data), parameter (its name), value, and trade_cost_level = exp(-value /
    theta_d) for the importer effects mu and the common coefficients (NaN for log A)."""
    import pandas as pd

    countries = result.problem.countries
    K = result.theta.size
    m = (K - N_DIST_BINS - 4) // 2
    level = np.exp(-result.theta / result.problem.theta_d)
    level[:m] = np.nan
    return pd.DataFrame({
        "moment": moment_names(countries), "data": result.target, "model": result.model,
        "gap": result.gaps, "parameter": parameter_names(countries), "value": result.theta,
        "trade_cost_level": level})


def _params_csv(theta) -> str:
    return "guess\n" + "".join(f"{float(v)!r}\n" for v in theta)


def _prices_csv(W, beta) -> str:
    W = np.asarray(W, np.float64)
    W = W * (W.size / W.sum())  # mean one, so that W_N = N - sum(W_1..N-1)
    return "guess\n" + "".join(f"{float(v)!r}\n" for v in W[:-1]) + f"{float(beta)!r}\n"


def summary(result: CalibrationResult, preset: str | None = None) -> dict:
    """The summary.json object of a calibration."""
    def num(x):
        x = float(x)
        return x if math.isfinite(x) else None

    hist = [{k: (num(v) if isinstance(v, float) else v) for k, v in r.items()}
            for r in result.history]
    fp = result.fingerprint
    return {
        "preset": preset, "countries": list(result.problem.countries),
        "converged": bool(result.converged), "iterations": int(result.iterations),
        "max_gap": num(result.max_gap), "tol": result.tol, "seconds": num(result.seconds),
        "compile_s": num(result.compile_s), "start": result.start,
        "resumed": bool(result.resumed), "message": result.message,
        "theta": [num(v) for v in result.theta],
        "parameters": dict(zip(parameter_names(result.problem.countries),
                               (num(v) for v in result.theta))),
        "trade_cost_levels": trade_cost_levels(result.theta, result.problem.theta_d),
        "wages": [num(v) for v in result.W], "beta": num(result.beta), "R": num(result.R),
        "eq_residual": num(result.eq_residual),
        "gaps": dict(zip(moment_names(result.problem.countries),
                         (num(v) for v in result.gaps))),
        "history": hist,
        "settings": {**fp["problem"], **fp["options"]},
    }


def fit_figure(result: CalibrationResult, path=None):
    """The fit: (left) each pair i != j, the model's log(pi_ij / pi_ii) against the
    data's log(X_ij / X_ii); (right) the K gravity moments, model against data.
    Saved as PNG to ``path`` if given; returns the matplotlib Figure (Agg canvas, no
    pyplot, so it works without a display; matplotlib is imported here, lazily)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.8))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    shares = np.asarray(result.trade_shares)
    off = ~np.eye(shares.shape[0], dtype=bool)
    model = np.asarray(log_share_ratios(shares))[off]
    data = np.asarray(result.problem.data_trade)[off]

    def diagonal(ax, x, y):
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        pad = 0.05 * (hi - lo + 1e-12)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1, label="45-degree line")

    ax1.scatter(data, model, s=9, alpha=0.6)
    diagonal(ax1, data, model)
    ax1.set(xlabel=r"data $\log(X_{ij}/X_{ii})$", ylabel=r"model $\log(\pi_{ij}/\pi_{ii})$",
            title=f"Trade, {int(off.sum())} pairs $i \\neq j$")
    ax1.legend(loc="upper left")
    ax2.scatter(result.target, result.model, s=12)
    diagonal(ax2, np.asarray(result.target), np.asarray(result.model))
    ax2.set(xlabel="data moment", ylabel="model moment",
            title=f"Gravity moments (max |gap| {result.max_gap:.1e})")
    fig.tight_layout()
    if path is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120)
        atomic_write_bytes(Path(path), buf.getvalue())
    return fig


OUTPUT_FILES = ("params.csv", "prices.csv", "summary.json", "moments.csv", "fit.png")


def write_outputs(out_dir, result: CalibrationResult, preset: str | None = None,
                  figure: bool = True) -> list[Path]:
    """Write the calibration to ``out_dir`` (created), each file atomically:

    params.csv (column ``guess``, K rows: the published layout), prices.csv (``guess``:
    W_1..W_{N-1} then beta, wages normalised to mean one: the published layout),
    summary.json (:func:`summary`), moments.csv (:func:`calibration_table`) and, with
    ``figure``, fit.png (:func:`fit_figure`). Returns the paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    texts = {
        "params.csv": _params_csv(result.theta),
        "prices.csv": _prices_csv(result.W, result.beta),
        "summary.json": json.dumps(summary(result, preset), indent=2, allow_nan=False) + "\n",
        "moments.csv": calibration_table(result).to_csv(index=False, float_format="%.17g"),
    }
    paths = []
    for name, text in texts.items():
        atomic_write_bytes(out / name, text.encode())
        paths.append(out / name)
    if figure:
        fit_figure(result, out / "fit.png")
        paths.append(out / "fit.png")
    return paths


# ---------------------------------------------------------------- synthetic worlds
def synthetic_geography(N: int, seed: int = 0) -> Geography:
    """A random symmetric geography for N >= 5 countries (the gravity regression has
    2(N-1) + 10 coefficients and N(N-1) pairs): distance bins and the four dummies drawn
    per unordered pair, redrawn until the gravity design has full column rank and every
    bin and dummy occurs."""
    from .gravity import gravity_design

    if N < 5:
        raise ValueError(f"a synthetic world needs N >= 5 countries for the gravity "
                         f"regression to be identified, got N={N}")
    rng = np.random.default_rng(seed)
    K = 2 * (N - 1) + N_DIST_BINS + 4
    iu = np.triu_indices(N, 1)
    for _ in range(1000):
        def sym(v, dtype=float):
            a = np.zeros((N, N), dtype)
            a[iu] = v
            return a + a.T
        npairs = iu[0].size
        bins = rng.permutation(np.resize(np.arange(N_DIST_BINS), npairs))
        dist_bin = sym(bins, int)
        np.fill_diagonal(dist_bin, -1)
        dummies = [sym(rng.random(npairs) < q) for q in (0.3, 0.35, 0.3, 0.3)]
        geo = geography_from_arrays(dist_bin, *dummies)
        X = np.asarray(gravity_design(geo))
        if all(np.any(d) for d in dummies) and np.linalg.matrix_rank(X) == K:
            return geo
    raise RuntimeError(f"could not draw an identified geography for N={N}")  # pragma: no cover


def synthetic_theta(N: int, seed: int = 0) -> np.ndarray:
    """Known parameters for a synthetic world: log A in [-0.4, 0.4] (log A_N = 0), mu in
    [-0.3, 0.3] (summing to zero), Eaton-Kortum-like distance bins (-3.1 .. -6.6) and
    border 0.3, language 0.5, EC 0.05, EFTA 0.5."""
    rng = np.random.default_rng(seed + 1)
    logA = rng.uniform(-0.4, 0.4, N - 1)
    mu = rng.uniform(-0.3, 0.3, N)
    mu = mu - mu.mean()
    common = np.array([-3.1, -3.7, -4.0, -4.2, -6.1, -6.6, 0.3, 0.5, 0.05, 0.5])
    return np.concatenate([logA, mu[:-1], common])


def synthetic_problem(N: int = 6, Na: int = 20, seed: int = 0, *, theta=None,
                      gamma: float = 1.5, sigma: float = 0.25, psi_slope: float = 0.0,
                      R: float = 1.01, options: CalibrationOptions | None = None):
    """A small world whose "data" are produced by the model at known parameters.

    Geography from :func:`synthetic_geography`, L uniform in [0.5, 2], parameters
    ``theta`` (default :func:`synthetic_theta`); the target moments and the data trade
    are those of the model's equilibrium at theta (solved with ``options``' settings,
    by the same compiled evaluator a calibration uses). Returns (problem, theta, W, beta)
    with the equilibrium wages and beta at theta.
    """
    from .params import make_economy

    options = CalibrationOptions() if options is None else options
    geo = synthetic_geography(N, seed)
    theta = synthetic_theta(N, seed) if theta is None else np.asarray(theta, np.float64)
    L = np.random.default_rng(seed + 2).uniform(0.5, 2.0, N)
    econ = make_economy(np.ones((N, N)), np.ones(N), L, gamma=gamma, sigma=sigma,
                        beta=0.9, psi_slope=psi_slope, Na=Na,
                        countries=tuple(f"C{i + 1}" for i in range(N)))
    K = 2 * (N - 1) + N_DIST_BINS + 4
    blank = CalibrationProblem(econ, geo, jnp.zeros(K), jnp.zeros((N, N)),
                               jnp.asarray(R, jnp.float64))
    W0, beta0 = np.ones(N), np.asarray(0.95 / R)
    s0 = _initial_state_jit(blank, theta, W0, beta0)
    opts = options.equilibrium_options()
    args = (theta, blank, W0, beta0, s0, np.asarray(-1.0), np.asarray(0.0))
    ev = jax.block_until_ready(_compiled_evaluator(args, opts)(*args))
    if not bool(ev.converged):
        raise ConvergenceError("the synthetic world's equilibrium did not converge "
                               f"(residual {float(ev.residual):.3e})")
    problem = CalibrationProblem(econ, geo, jnp.asarray(np.asarray(ev.model)),
                                 log_share_ratios(ev.trade_shares),
                                 jnp.asarray(R, jnp.float64))
    return problem, theta, np.asarray(ev.W), float(ev.beta)
