"""Stationary world equilibrium (model.md section 6).

Goods market for each seller j: Y_j = sum_i M_ij; bond market: sum_i A'_i = 0 under
financial globalization (one R), or A'_i = 0 for every i under financial autarky (R_i per
country). Walras' law makes one goods-market condition redundant: the first (j = 0) is
dropped, as in the reference; the numeraire is mean(W) = 1.

Unknowns are mapped to an unconstrained vector x so that Newton steps cannot leave the
admissible set: wages W = N softmax(x_W, 0) (positive, mean one); R = (1 - e^{x_R})/beta
(so beta R < 1 always), or in the "beta" mode (R given) beta = (1 - e^{x_beta})/R.
Residuals are excess demands divided by world GDP.

The root is found by damped Newton with the exact Jacobian (forward-mode AD through the
household and distribution fixed points, which are themselves differentiated by the
implicit function theorem), warm-starting the household problems between iterations.
The solution is differentiated by the implicit function theorem at the root
(optimistix ImplicitAdjoint): ``jax.jvp`` / ``jax.grad`` / ``jax.jacfwd`` of any output of
:func:`solve_equilibrium_jit` with respect to the economy's parameters are exact.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jax import lax

from .aggregates import Aggregates, aggregate
from .distribution import DistributionSolution, stationary_distributions
from .household import HouseholdOptions, HouseholdSolution, initial_state, solve_households
from .params import Economy, check_prices, household_problems
from .results import ConvergenceError, check_converged, linear_solve


class EquilibriumOptions(eqx.Module):
    """Settings of the equilibrium solve (static).

    regime: "global" (one world bond market, default) or "autarky" (A'_i = 0, R_i each).
    unknown: "R" (solve R at the economy's beta) or "beta" (solve beta at a given R;
      global regime only). tol: max |excess demand| / world GDP at the root (1e-10).
    max_iter: Newton iterations. jacobian_reuse: keep the Jacobian for the next step
      when the last step cut max |excess demand| by at least this factor (0 = plain
      Newton, a fresh Jacobian every iteration). max_step: cap on the sup-norm of a Newton step in the
      unconstrained coordinates. hh_tol: household tolerance (sup-norm change of c and v).
    distribution: "iterate" (default; forward iteration to dist_tol, implicit derivative
      by GMRES) or "direct" (dense LU per country; see the caveat in
      hat_jax.distribution). dist_tol: sup-norm change of lambda at which the
      iteration stops (1e-12, tighter than the reference 1e-10 so that market residuals
      of 1e-10 are not limited by it). tangent_solver: "lu" (default: dense LU per
      country of the household and distribution implicit-function systems, factorised
      once per Jacobian and shared by all directions) or "gmres" (matrix-free; for grids
      too large for (2 Nz Na)^2 doubles per country). verbose: print each
      Newton iteration (iteration, max residual, step) to stderr.
    """

    regime: str = eqx.field(static=True, default="global")
    unknown: str = eqx.field(static=True, default="R")
    tol: float = eqx.field(static=True, default=1e-10)
    max_iter: int = eqx.field(static=True, default=40)
    jacobian_reuse: float = eqx.field(static=True, default=0.3)
    max_step: float = eqx.field(static=True, default=1.0)
    hh_tol: float = eqx.field(static=True, default=1e-10)
    hh_max_iter: int = eqx.field(static=True, default=2000)
    distribution: str = eqx.field(static=True, default="iterate")
    dist_tol: float = eqx.field(static=True, default=1e-12)
    tangent_solver: str = eqx.field(static=True, default="lu")
    verbose: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if self.regime not in ("global", "autarky"):
            raise ValueError(f"regime must be 'global' or 'autarky', got regime={self.regime!r}")
        if self.unknown not in ("R", "beta"):
            raise ValueError(f"unknown must be 'R' or 'beta', got unknown={self.unknown!r}")
        if self.regime == "autarky" and self.unknown == "beta":
            raise ValueError("unknown='beta' needs one world bond market (regime='global'); "
                             "under financial autarky solve R_i at a given beta")
        if self.tangent_solver not in ("lu", "gmres"):
            raise ValueError("tangent_solver must be 'lu' or 'gmres', got "
                             f"tangent_solver={self.tangent_solver!r}")
        if self.distribution not in ("direct", "iterate"):
            raise ValueError(f"distribution must be 'direct' or 'iterate', got {self.distribution!r}")
        if not 0.0 <= self.jacobian_reuse < 1.0:
            raise ValueError("jacobian_reuse must be in [0, 1), got "
                             f"jacobian_reuse={self.jacobian_reuse!r}")
        if not self.tol > 0:
            raise ValueError(f"tol must be > 0, got tol={self.tol!r}")


class World(NamedTuple):
    """Everything solved at given prices: household problems, policies, distributions,
    aggregates."""

    problems: object
    households: HouseholdSolution
    distribution: DistributionSolution
    aggregates: Aggregates


class Equilibrium(NamedTuple):
    """A solved stationary equilibrium.

    W[i]: wages per efficiency unit (mean one); R: scalar (global) or [N] (autarky);
    beta; world: policies, distributions and aggregates at these prices;
    goods_residuals[j] (j = 1..N-1, relative to world GDP), bond_residuals ([1] or [N]);
    walras_residual: the dropped goods-market condition j = 0; x: unconstrained
    unknowns; converged, iterations, residual (max |excess demand|), plus whether every
    household and distribution solve inside converged; history[max_iter, 4]: the Newton
    path, one row per iteration (columns HISTORY_COLUMNS: max |excess demand| at the
    trial point, sup-norm of the step taken from there, accepted 0/1, Jacobian computed
    0/1), NaN after the last iteration (see :func:`newton_path`).
    """

    economy: Economy
    W: jax.Array
    R: jax.Array
    beta: jax.Array
    world: World
    goods_residuals: jax.Array
    bond_residuals: jax.Array
    walras_residual: jax.Array
    x: jax.Array
    converged: jax.Array
    iterations: jax.Array
    residual: jax.Array
    history: jax.Array


# ----------------------------------------------------------------- unknowns <-> prices
def wages_from_x(xw):
    """W = N softmax([x_W, 0]): positive, mean one."""
    full = jnp.concatenate([xw, jnp.zeros((1,), xw.dtype)])
    return full.shape[0] * jax.nn.softmax(full)


def x_from_wages(W):
    W = jnp.asarray(W, jnp.float64)
    return jnp.log(W[:-1] / W[-1])


def decode(x, economy: Economy, opts: EquilibriumOptions, R_fixed):
    """Unconstrained x -> (W, R, beta)."""
    N = economy.N
    W = wages_from_x(x[: N - 1])
    if opts.regime == "autarky":
        beta = economy.beta
        R = (1.0 - jnp.exp(x[N - 1:])) / beta
    elif opts.unknown == "R":
        beta = economy.beta
        R = (1.0 - jnp.exp(x[N - 1])) / beta
    else:
        R = R_fixed
        beta = (1.0 - jnp.exp(x[N - 1])) / R
    return W, R, beta


def encode(W, R, beta, economy: Economy, opts: EquilibriumOptions):
    """(W, R, beta) -> unconstrained x (inverse of :func:`decode`)."""
    xw = x_from_wages(W)
    if opts.regime == "autarky":
        xr = jnp.log(1.0 - economy.beta * jnp.broadcast_to(jnp.asarray(R, jnp.float64),
                                                           (economy.N,)))
    elif opts.unknown == "R":
        xr = jnp.log(1.0 - economy.beta * jnp.asarray(R, jnp.float64))[None]
    else:
        xr = jnp.log(1.0 - jnp.asarray(beta, jnp.float64) * jnp.asarray(R, jnp.float64))[None]
    return jnp.concatenate([xw, xr])


# ------------------------------------------------------------------- world at prices
def solve_world(economy: Economy, W, R, beta, hh_state0=None, *, hh_tol=1e-10,
                hh_max_iter=2000, distribution="iterate", dist_tol=1e-12,
                tangent_solver="lu") -> World:
    """Households, stationary distributions and aggregates of every country at (W, R, beta).

    No convergence check here (inner solves report converged flags); see
    :func:`check_world` or :func:`solve_equilibrium`.
    """
    problems = household_problems(economy, W, R, beta)
    hopts = HouseholdOptions(gamma=economy.gamma, Na=economy.Na, tol=hh_tol,
                             max_iter=hh_max_iter, tangent_solver=tangent_solver)
    hh = solve_households(problems, hopts, state0=hh_state0, throw=False)
    dist = stationary_distributions(hh.pi, hh.lottery_lo, hh.lottery_w, problems.P,
                                    method=distribution, tol=dist_tol, throw=False,
                                    tangent_solver=tangent_solver)
    agg = aggregate(hh, dist.lam, problems, economy.L, economy.Na)
    return World(problems, hh, dist, agg)


def market_residuals(agg: Aggregates, opts: EquilibriumOptions):
    """(goods residuals j=1..N-1, bond residual(s), dropped goods residual j=0), each
    relative to world GDP."""
    gdp = jnp.sum(agg.Y)
    goods = (agg.Y - jnp.sum(agg.M, axis=0)) / gdp
    if opts.regime == "global":
        bonds = jnp.sum(agg.bond_demand)[None] / gdp
    else:
        bonds = agg.bond_demand / gdp
    return goods[1:], bonds, goods[0]


def _residual_fn(x, economy, opts, R_fixed, hh_state):
    W, R, beta = decode(x, economy, opts, R_fixed)
    world = solve_world(economy, W, R, beta, hh_state, hh_tol=opts.hh_tol,
                        hh_max_iter=opts.hh_max_iter, distribution=opts.distribution,
                        dist_tol=opts.dist_tol, tangent_solver=opts.tangent_solver)
    goods, bonds, _ = market_residuals(world.aggregates, opts)
    ok = jnp.all(world.households.converged) & jnp.all(world.distribution.converged)
    return jnp.concatenate([goods, bonds]), (world.households.state, ok)


def _value_and_jacobian(f, x):
    """(f(x), df/dx, aux) by forward mode, one primal evaluation."""
    n = x.shape[0]
    pushfwd = lambda t: jax.jvp(f, (x,), (t,), has_aux=True)
    y, J, aux = jax.vmap(pushfwd, out_axes=(None, -1, None))(jnp.eye(n, dtype=x.dtype))
    return y, J, aux


HISTORY_COLUMNS = ("max_residual", "step", "accepted", "jacobian")


def _progress(it, res, step, accepted, jac):
    print(f"  newton {int(it):3d}  max|excess demand| {float(res):.3e}  step {float(step):.3e}"
          + ("  jacobian" if bool(jac) else "")
          + ("" if bool(accepted) else "  (backtrack)"), file=sys.stderr, flush=True)


def _newton(x0, economy, hh_state0, R_fixed, opts):
    """Damped Newton (with Jacobian reuse) on the excess demands, warm-starting the
    household problems.

    Each iteration evaluates the residual r(x) at the trial point. An accepted point
    (sufficient decrease of max|r|, or the first) becomes the base; the step is
    -J^{-1} r (capped at ``max_step``), with J the exact Jacobian (forward mode through
    the implicit derivatives). J is kept, with a secant (good Broyden) update along the
    step, while steps deliver what its linear model promised: a step of a fraction f of
    the Newton step must cut max|r| to at most 1 - f (1 - ``jacobian_reuse``) of its
    value, i.e. by the factor ``jacobian_reuse`` for a full step; otherwise J is
    recomputed at the new point. A kept J costs one residual evaluation per iteration
    instead of a Jacobian. A rejected trial halves the step if J is exact at the base,
    otherwise J is recomputed there first. The root is reached when max|r| <= tol with every inner
    solve converged, and no Jacobian is computed at that last point.

    Returns (x, household states, iterations, history[max_iter, 4]) with history rows
    (max|r|, sup-norm of the step taken from there, accepted, Jacobian computed), NaN
    after the last iteration.
    """
    f = lambda x, s: _residual_fn(x, economy, opts, R_fixed, s)
    n = x0.shape[0]
    dtype = x0.dtype
    big = jnp.asarray(jnp.inf, dtype)

    def jacobian(x, s):
        return _value_and_jacobian(lambda y: f(y, s), x)[1]

    def cond(c):
        return (~c["done"]) & (c["it"] < opts.max_iter)

    def body(c):
        it, x, s = c["it"], c["x"], c["s"]
        r, (s_new, ok) = f(x, s)
        rn = jnp.max(jnp.abs(r))
        finite = jnp.isfinite(rn)
        r_acc = c["r_acc"]
        accept = finite & ((it == 0) | (rn < (1.0 - 1e-4 * c["t"]) * r_acc)
                           | (rn <= opts.tol))
        done = accept & (rn <= opts.tol) & ok
        s = jax.tree_util.tree_map(lambda a, b: jnp.where(accept, a, b), s_new, s)
        # base point: the trial if accepted, else the last accepted point
        xb = jnp.where(accept, x, c["x_acc"])
        rb = jnp.where(accept, r, c["rvec_acc"])
        # keep J if the step delivered at least (1 - jacobian_reuse) of the decrease its
        # linear model promised for the fraction f of the Newton step that was taken
        promised = 1.0 - c["frac"] * (1.0 - opts.jacobian_reuse)
        stale = ~c["J_valid"] | (accept & (rn > promised * r_acc))
        need_J = ~done & ((accept & stale) | (~accept & ~c["J_fresh"]))
        # a kept J gets the secant (good Broyden) update along the accepted step
        ddx = x - c["x_acc"]
        dr = r - c["rvec_acc"]
        nrm = jnp.dot(ddx, ddx)
        upd = jnp.outer(dr - c["J"] @ ddx, ddx) / jnp.where(nrm > 0, nrm, 1.0)
        broyden = accept & c["J_valid"] & (nrm > 0) & jnp.all(jnp.isfinite(upd))
        J_kept = jnp.where(broyden, c["J"] + upd, c["J"])
        J = lax.cond(need_J, jacobian, lambda x_, s_: J_kept, xb, s)
        J_ok = jnp.all(jnp.isfinite(J))
        dx = -jnp.linalg.solve(J, rb)
        scale = jnp.minimum(1.0, opts.max_step / jnp.max(jnp.abs(dx)))
        dx = jnp.where(jnp.all(jnp.isfinite(dx)), dx * scale, jnp.zeros_like(dx))
        new_step = accept | need_J
        t = jnp.where(new_step, 1.0, 0.5 * c["t"])
        frac = jnp.where(new_step, scale, c["frac"] * 0.5)
        dx_acc = jnp.where(new_step, dx, c["dx_acc"])
        x_next = jnp.where(done, x, xb + t * dx_acc)
        step = jnp.where(done, 0.0, jnp.max(jnp.abs(t * dx_acc)))
        if opts.verbose:
            jax.debug.callback(_progress, it, rn, step, accept, need_J, ordered=True)
        row = jnp.stack([rn, step, accept.astype(dtype), need_J.astype(dtype)])
        return dict(
            it=it + 1, x=x_next, s=s, x_acc=xb, rvec_acc=rb,
            r_acc=jnp.where(accept, rn, r_acc), dx_acc=dx_acc, t=t, frac=frac, J=J,
            J_valid=(c["J_valid"] | need_J) & J_ok,
            J_fresh=jnp.where(need_J, True, jnp.where(accept, False, c["J_fresh"])),
            done=done, history=c["history"].at[it].set(row))

    init = dict(
        it=jnp.asarray(0, jnp.int32), x=x0, s=hh_state0, x_acc=x0,
        rvec_acc=jnp.zeros(n, dtype), r_acc=big, dx_acc=jnp.zeros(n, dtype),
        t=jnp.asarray(1.0, dtype), frac=jnp.asarray(1.0, dtype), J=jnp.eye(n, dtype=dtype),
        J_valid=jnp.asarray(False),
        J_fresh=jnp.asarray(False), done=jnp.asarray(False),
        history=jnp.full((opts.max_iter, len(HISTORY_COLUMNS)), jnp.nan, dtype))
    c = lax.while_loop(cond, body, init)
    x = jnp.where(c["done"], c["x"], c["x_acc"])
    return x, c["s"], c["it"], c["history"]


@partial(jax.custom_jvp, nondiff_argnums=(4,))
def equilibrium_root(x0, economy, hh_state0, R_fixed, opts):
    """The root x* of the excess demands, differentiated by the implicit function theorem:
    dx* = -(df/dx)^{-1} (df/d(economy, R_fixed)) d(economy, R_fixed), with df/dx the exact
    N x N Jacobian (forward mode) and a dense LU solve (lineax). x0 and hh_state0 are
    starting values and carry no derivative. Returns (x*, household states, iterations,
    history) (see :func:`_newton`).
    """
    return _newton(lax.stop_gradient(x0), economy, lax.stop_gradient(hh_state0), R_fixed,
                   opts)


@equilibrium_root.defjvp
def _equilibrium_root_jvp(opts, primals, tangents):
    x0, economy, hh_state0, R_fixed = primals
    _, t_economy, _, t_R = tangents
    x, s, it, hist = equilibrium_root(x0, economy, hh_state0, R_fixed, opts)
    f = lambda xx, e, r: _residual_fn(xx, e, opts, r, s)[0]
    J = jax.jacfwd(f)(x, economy, R_fixed)
    _, rhs = jax.jvp(lambda e, r: f(x, e, r), (economy, R_fixed), (t_economy, t_R))
    t_x = -linear_solve(lx.MatrixLinearOperator(J), rhs, lx.LU())
    t_s = jax.tree_util.tree_map(jnp.zeros_like, s)
    return (x, s, it, hist), (t_x, t_s, np.zeros(np.shape(it), jax.dtypes.float0),
                              jnp.zeros_like(hist))


def solve_equilibrium_jit(economy: Economy, W0, R0, beta0, opts: EquilibriumOptions,
                          hh_state0=None, throw: bool = True) -> Equilibrium:
    """The jit-able, differentiable core of :func:`solve_equilibrium`.

    W0, R0, beta0: starting prices (in the "beta" mode R0 is the fixed target R, and
    derivatives with respect to it are exact too). throw: attach a runtime error
    (equinox.error_if) that fires if the equilibrium or an inner solve did not converge;
    with throw=False inspect ``converged`` / ``residual`` yourself.
    """
    R_fixed = jnp.asarray(R0 if opts.unknown == "beta" else 1.0, jnp.float64)
    x0 = lax.stop_gradient(encode(W0, R0, beta0, economy, opts))
    if hh_state0 is None:
        W, R, beta = decode(x0, economy, opts, R_fixed)
        probs = household_problems(economy, W, R, beta)
        hopts = HouseholdOptions(gamma=economy.gamma, Na=economy.Na)
        hh_state0 = jax.vmap(initial_state, in_axes=(0, None))(probs, hopts)
    hh_state0 = lax.stop_gradient(hh_state0)
    x, s, it, history = equilibrium_root(x0, economy, hh_state0, R_fixed, opts)
    W, R, beta = decode(x, economy, opts, R_fixed)
    world = solve_world(economy, W, R, beta, s, hh_tol=opts.hh_tol,
                        hh_max_iter=opts.hh_max_iter, distribution=opts.distribution,
                        dist_tol=opts.dist_tol, tangent_solver=opts.tangent_solver)
    goods, bonds, walras = market_residuals(world.aggregates, opts)
    res = jnp.maximum(jnp.max(jnp.abs(goods)), jnp.max(jnp.abs(bonds)))
    ok = (res <= opts.tol) & jnp.all(world.households.converged) \
        & jnp.all(world.distribution.converged)
    if throw:
        res = check_converged("world equilibrium (or an inner household/distribution solve)",
                              ok, it, res, opts.tol)
    return Equilibrium(economy, W, R, beta, world, goods, bonds, walras, x, ok, it, res,
                       history)


_solve_jit = jax.jit(solve_equilibrium_jit, static_argnames=("opts", "throw"))


def default_guess(economy: Economy, opts: EquilibriumOptions, W0=None, R0=None, beta0=None):
    """Starting prices: W = 1, R = 1 (or R0), beta = economy.beta (or beta0); in the
    "beta" mode the default starting beta is lowered to 0.95/R0 if needed."""
    W0 = np.ones(economy.N) if W0 is None else np.asarray(W0, np.float64)
    W0 = W0 / W0.mean()
    if R0 is None:
        R0 = 1.0 if opts.unknown == "R" else 1.01
    if beta0 is None:
        beta0 = float(economy.beta)
        if opts.unknown == "beta":  # beta is solved: start where beta R < 1 holds
            beta0 = min(beta0, 0.95 / float(np.max(R0)))
    beta0 = float(beta0)
    if opts.regime == "autarky":
        R0 = np.broadcast_to(np.asarray(R0, np.float64), (economy.N,)).copy()
    return W0, R0, beta0


_COMPILED: dict = {}


def _compiled_solver(args, opts: EquilibriumOptions, hh_state0):
    """The AOT-compiled solver for these argument shapes and static settings (cached, so
    that repeated solves of one kind of economy compile once per process)."""
    leaves, treedef = jax.tree_util.tree_flatten((args, hh_state0))
    key = (opts, treedef, tuple((np.shape(x), np.asarray(x).dtype) for x in leaves))
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _solve_jit.lower(*args, opts=opts, hh_state0=hh_state0, throw=False).compile()
        if len(_COMPILED) >= 32:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = compiled
    return compiled


def solve_equilibrium(economy: Economy, opts: EquilibriumOptions | None = None, *, W0=None,
                      R0=None, beta0=None, hh_state0=None, throw: bool = True,
                      timings: dict | None = None) -> Equilibrium:
    """Solve the stationary world equilibrium (model.md section 6).

    opts: :class:`EquilibriumOptions` (regime, unknown R or beta, tolerances).
    W0, R0, beta0: starting prices; in the "beta" mode R0 is the target R (default 1.01).
    throw: raise ConvergenceError with residuals and iterations if not converged.
    timings: if a dict is given, 'compile_s' and 'run_s' are written into it (compile_s
      is ~0 when a solver for the same shapes and options was compiled before in this
      process).

    For derivatives, call :func:`solve_equilibrium_jit` under jax.jvp / grad / jacfwd.
    """
    opts = EquilibriumOptions() if opts is None else opts
    W0, R0, beta0 = default_guess(economy, opts, W0, R0, beta0)
    check_prices(economy, W0, R0, beta0 if opts.unknown == "beta" else None)
    args = (economy, jnp.asarray(W0), jnp.asarray(R0, jnp.float64),
            jnp.asarray(beta0, jnp.float64))
    t0 = time.perf_counter()
    compiled = _compiled_solver(args, opts, hh_state0)
    t1 = time.perf_counter()
    eq = compiled(*args, hh_state0=hh_state0)
    eq = jax.block_until_ready(eq)
    t2 = time.perf_counter()
    if timings is not None:
        timings["compile_s"] = t1 - t0
        timings["run_s"] = t2 - t1
    if throw:
        check_equilibrium(eq, opts)
    return eq


def newton_path(eq: Equilibrium):
    """The Newton path of a solved equilibrium as a list of dicts, one per iteration:
    iteration, max_residual, step, accepted, jacobian."""
    h = np.asarray(eq.history)
    rows = []
    for k in range(int(eq.iterations)):
        r = h[k]
        rows.append({"iteration": k, "max_residual": float(r[0]), "step": float(r[1]),
                     "accepted": bool(r[2]), "jacobian": bool(r[3])})
    return rows


def check_equilibrium(eq: Equilibrium, opts: EquilibriumOptions) -> None:
    """Raise ConvergenceError naming what failed (market, country, residual, iterations)."""
    if bool(eq.converged):
        return
    labels = eq.economy.countries
    hh, dist = eq.world.households, eq.world.distribution
    check_converged("household problem (EGM) at the final prices", hh.converged,
                    hh.iterations, hh.residual, opts.hh_tol, labels=labels)
    check_converged("stationary distribution at the final prices", dist.converged,
                    dist.iterations, dist.residual, opts.dist_tol, labels=labels)
    goods = np.asarray(eq.goods_residuals)
    bonds = np.asarray(eq.bond_residuals)
    worst_goods = int(np.argmax(np.abs(goods))) + 1
    msg = (f"world equilibrium did not converge to tolerance {opts.tol:g} after "
           f"{int(eq.iterations)} Newton iterations: max |excess demand|/GDP = "
           f"{float(eq.residual):.3e}; largest goods-market gap {goods[worst_goods - 1]:.3e} "
           f"({labels[worst_goods]}), bond market {np.max(np.abs(bonds)):.3e}")
    if not np.isfinite(float(eq.residual)):
        msg += " (non-finite residual: check parameters and starting prices)"
    raise ConvergenceError(msg)
