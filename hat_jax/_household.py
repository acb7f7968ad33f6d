"""Household block: logit variety choice and the endogenous grid method (model.md s.3).

Public arrays for one country are ``[a, z, j]`` (assets, productivity, variety); inside
the sweep they are kept as ``[z, j, a]`` so that the asset axis is contiguous. Every
function here works on one country; :func:`solve_households` vmaps over countries (the
fixed point itself takes the country axis, :func:`household_fixed_points`).

The reference scheme iterates on ``(c, v)``. Cutting one sweep ``(c, v) -> (c', v')`` at
the intermediate

    y = (log Emu[z, k], EPhi[z, k]),
    Emu[z, k]  = beta R sum_z' P[z,z'] sum_j pi_j(k,z') u'(c_j(k,z')) / p_j,
    EPhi[z, k] = sum_z' P[z,z'] sigma log sum_j exp((v_j(k,z') + psi_j(z')) / sigma),

gives the same sequence of policies with a state of ``2 Nz Na`` numbers instead of
``2 Na Nz J``. The fixed point ``y = F(y)`` is found with Anderson acceleration
(stopping when the sup-norm change of ``(c, v)`` in one reference sweep from ``y`` is
below ``tol``) and differentiated by the implicit function theorem,
``(I - dF/dy) dy = dF/dtheta dtheta``, by a dense LU of ``I - dF/dy`` per country
(default) or GMRES; the iterations are never differentiated.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._anderson import anderson_iterate, chord_step
from ._backend import country_map
from ._results import (as_float, as_int, check_choice, check_converged, check_option_values,
                      krylov_solve)

__all__ = [
    "HouseholdProblem", "HouseholdOptions", "HouseholdSolution", "check_grid_size", "utility",
    "marginal_utility", "choice_probabilities", "expected_value", "asset_grid",
    "cash_on_hand", "invert_egm_knots", "household_operator", "initial_state",
    "flatten_state", "unflatten_state", "STOP_RULES", "sweep_changes", "reference_residual",
    "iteration_settings", "stop_scale",
    "operator_jacobian", "household_fixed_points", "household_fixed_point", "policies",
    "solve_household", "solve_households",
]


class HouseholdProblem(NamedTuple):
    """Inputs of one country's household problem (a leading axis for many countries).

    Asset grid ``a_min + da * arange(Na)`` (uniform; a_min = -phi is the borrowing limit).
    ``p[j]``: delivered price of variety j; ``W``: wage per efficiency unit; ``R``: gross
    interest rate; ``T``: lump-sum transfer; ``sigma``: logit scale; ``psi[z, j]``:
    quality / home-bias shifter; ``z[z]``, ``P[z, z']``: productivity chain; ``beta``.
    """

    a_min: jax.Array
    da: jax.Array
    p: jax.Array
    W: jax.Array
    R: jax.Array
    T: jax.Array
    sigma: jax.Array
    psi: jax.Array
    z: jax.Array
    P: jax.Array
    beta: jax.Array


STOP_RULES = ("both", "policy")


class HouseholdOptions(eqx.Module):
    """Settings of the household solve.

    Static (changing them recompiles): Na, the number of asset grid points; anderson_memory, the
    Anderson history length (0 = the plain reference iteration); gmres_restart, the
    Krylov basis size; tangent_solver, how the implicit-function linear systems of
    derivatives are solved: "lu" (dense LU of I - dF/dy per country, shared by all
    directions; memory (2 Nz Na)^2 doubles per country) or "gmres" (matrix-free).

    stop_rule, what must stop changing: "both" (default; model.md s.3), consumption c and
    the choice-specific values v; "policy", the original code's rule and iteration:
    plain reference sweeps (no Anderson acceleration) until c alone stops changing
    (with log utility c converges long before v, so values, and welfare measured with
    them, are then off their fixed point; offered to emulate the original, not for
    results).

    Traced (changing them never recompiles): gamma, the CRRA coefficient (1 = log
    utility, the same program); tol, the sup-norm change of consumption c and of the
    choice-specific values v (of c alone with stop_rule="policy") in one reference
    sweep from the returned fixed point (reference: 1e-10); max_iter, the cap on
    accelerated sweeps; gmres_rtol /
    gmres_atol, the GMRES tolerances.

    Build it with :func:`hat_jax.model.household_options` (gamma and Na from the economy).
    """

    gamma: float = eqx.field(converter=as_float)
    Na: int = eqx.field(static=True)
    tol: float = eqx.field(default=1e-10, converter=as_float)
    max_iter: int = eqx.field(default=2000, converter=as_int)
    anderson_memory: int = eqx.field(static=True, default=5)
    gmres_rtol: float = eqx.field(default=1e-12, converter=as_float)
    gmres_atol: float = eqx.field(default=1e-13, converter=as_float)
    gmres_restart: int = eqx.field(static=True, default=40, converter=as_int)
    tangent_solver: str = eqx.field(static=True, default="lu")
    stop_rule: str = eqx.field(static=True, default="both")

    def __check_init__(self):
        check_choice("stop_rule", self.stop_rule, STOP_RULES)
        check_choice("tangent_solver", self.tangent_solver, ("lu", "gmres"))
        check_option_values(self, positive=("gamma", "tol", "gmres_rtol", "gmres_atol"),
                            at_least_one=("max_iter", "gmres_restart"))
        check_grid_size(self.Na)
        if not isinstance(self.anderson_memory, (int, np.integer)) or self.anderson_memory < 0:
            raise ValueError("anderson_memory must be an integer >= 0, got "
                             f"anderson_memory={self.anderson_memory!r}")


class HouseholdSolution(NamedTuple):
    """Policies and values (arrays ``[a, z, j]``; leading country axis when batched).

    c: consumption of variety j; a_next: savings a'; v: choice-specific value; pi: choice
    probabilities; V[a, z]: ex-ante value sigma log sum_j exp((v + psi)/sigma);
    lottery_lo, lottery_w: bracket of a' on the grid (lower index, weight on it), the
    Young lottery of the distribution; state: the fixed-point variable y (warm starts);
    converged, iterations, residual: diagnostics (residual = sup-norm change of (c, v)
    in one reference sweep from the solution).
    """

    c: jax.Array
    a_next: jax.Array
    v: jax.Array
    pi: jax.Array
    V: jax.Array
    lottery_lo: jax.Array
    lottery_w: jax.Array
    state: tuple
    converged: jax.Array
    iterations: jax.Array
    residual: jax.Array


def check_grid_size(Na) -> int:
    """Na (asset grid points) as an int: an integer >= 3 (20.0 -> 20; 20.9 is refused,
    not truncated). Raises ValueError naming Na and the value."""
    n = as_int(Na)
    if not isinstance(n, int) or isinstance(n, bool) or n < 3:
        raise ValueError(f"Na (asset grid points) must be an integer >= 3, got Na={Na!r}")
    return n


# ----------------------------------------------------------------------------- utility
def _crra(c, gamma):
    """(u(c), u'(c)) with gamma traced: u = c^(1-gamma)/(1-gamma), or log c when
    gamma == 1 (selected by ``jnp.where``, so log utility is the same program; the
    branch not taken is kept finite so that derivatives stay finite)."""
    log_c = jnp.log(c)
    mu = jnp.exp(-gamma * log_c)  # c^-gamma (1/c at gamma = 1); cheaper than ** on CPU
    is_log = gamma == 1.0
    safe = jnp.where(is_log, 2.0, gamma)
    return jnp.where(is_log, log_c, c * mu / (1.0 - safe)), mu


def utility(c, gamma):
    """u(c) = c^(1-gamma)/(1-gamma), or log c when gamma == 1 (gamma may be traced)."""
    return _crra(c, gamma)[0]


def marginal_utility(c, gamma):
    """u'(c) = c^(-gamma)."""
    return jnp.exp(-gamma * jnp.log(c))


def choice_probabilities(v, psi, sigma, axis: int = -1):
    """pi_j = exp((v_j + psi_j)/sigma) / sum_j' exp((v_j' + psi_j')/sigma)."""
    return jax.nn.softmax((v + psi) / sigma, axis=axis)


def expected_value(v, psi, sigma, axis: int = -1):
    """Phi = sigma log sum_j exp((v_j + psi_j)/sigma): the value before the logit draws."""
    return sigma * jax.nn.logsumexp((v + psi) / sigma, axis=axis)


def asset_grid(problem: HouseholdProblem, Na: int):
    """Uniform asset grid a_k = a_min + k da, k = 0..Na-1."""
    return problem.a_min + problem.da * jnp.arange(Na, dtype=jnp.result_type(problem.da))


def cash_on_hand(problem: HouseholdProblem, Na: int):
    """R a + W z + T on the [z, a] grid."""
    a = asset_grid(problem, Na)
    return problem.R * a[None, :] + problem.W * problem.z[:, None] + problem.T


# ---------------------------------------------------------------- interpolation helpers
def invert_egm_knots(knots, a_min, da, Na: int):
    """Invert the EGM map on the uniform grid.

    ``knots[..., k]`` (increasing in k) are the assets today from which the household
    saves a'_k = a_k. For every grid point a_i, returns the bracket ``lo`` (a' lies in
    [a_lo, a_lo+1]) and ``frac`` (a' = a_lo + frac da) of the linear interpolation of
    knots -> a', flat outside the knots (a' = a_0 below the first knot, the borrowing
    limit; a' = a_{Na-1} above the last).

    The bracket of a_i is the number of knots <= a_i; knot k is <= a_i iff
    ceil((x_k - a_min)/da) <= i, so one histogram (a sorted scatter-add) and a cumulative
    sum give all brackets at once. Hand-written: jnp.interp / searchsorted cost several
    times more here, and knots and queries are both sorted.
    """
    batch = knots.shape[:-1]
    B = math.prod(batch)
    s = jnp.clip(jnp.ceil((knots - a_min) / da), 0, Na).astype(jnp.int32)
    idx = (s.reshape(B, Na) + (Na + 1) * jnp.arange(B, dtype=jnp.int32)[:, None]).reshape(-1)
    hist = jnp.zeros(B * (Na + 1), jnp.int32).at[idx].add(1, indices_are_sorted=True)
    count = jnp.cumsum(hist.reshape(batch + (Na + 1,)), axis=-1)[..., :Na]
    lo = jnp.clip(count - 1, 0, Na - 2)
    x_lo = jnp.take_along_axis(knots, lo, axis=-1)
    x_hi = jnp.take_along_axis(knots, lo + 1, axis=-1)
    grid = a_min + da * jnp.arange(Na, dtype=knots.dtype)
    frac = jnp.clip((grid - x_lo) / (x_hi - x_lo), 0.0, 1.0)
    frac = jnp.where(count == 0, 0.0, jnp.where(count == Na, 1.0, frac))
    return lo, frac


# ------------------------------------------------------------------------- the sweep
class _Sweep(NamedTuple):
    c: jax.Array  # [z, j, a]
    mu: jax.Array  # u'(c)
    v: jax.Array
    lo: jax.Array
    frac: jax.Array


def _egm(y, problem: HouseholdProblem, opts: HouseholdOptions) -> _Sweep:
    """Steps 3-5 of the reference sweep, from y = (log Emu, EPhi) to (c, a', v) on [z, j, a].

    c~_j = (p_j Emu)^(-1/gamma); knots a~_j[z,k] = (p_j c~_j + a_k - W z - T)/R;
    a'_j(a,z) by linear interpolation of a~ -> a_k; c_j = (R a + W z + T - a'_j)/p_j;
    v_j = u(c_j) + beta EPhi(a'_j, z) (EPhi linear in a', same bracket as a').
    """
    log_emu, ephi = y
    Na, gamma = opts.Na, opts.gamma
    a = asset_grid(problem, Na)
    # p_j c~_j = p_j^(1-1/gamma) Emu^(-1/gamma)
    spend = jnp.exp(-log_emu / gamma)[:, None, :] * (problem.p ** (1.0 - 1.0 / gamma))[None, :, None]
    knots = (spend + a[None, None, :] - problem.W * problem.z[:, None, None] - problem.T) / problem.R
    lo, frac = invert_egm_knots(knots, problem.a_min, problem.da, Na)
    a_next = problem.a_min + problem.da * (lo + frac)
    coh = cash_on_hand(problem, Na)
    c = (coh[:, None, :] - a_next) / problem.p[None, :, None]
    u, mu = _crra(c, gamma)
    zi = jnp.arange(problem.z.shape[0])[:, None, None]
    ev = (1.0 - frac) * ephi[zi, lo] + frac * ephi[zi, lo + 1]
    v = u + problem.beta * ev
    return _Sweep(c, mu, v, lo, frac)


def _choice_aggregates(c, mu, v, problem: HouseholdProblem):
    """Steps 1-2, state by state: from (c, u'(c), v) on [z, j, a] to (m, Phi) on [z, a].

    pi = softmax_j((v + psi)/sigma); Phi = sigma logsumexp_j((v + psi)/sigma) (one exp per
    cell); m = sum_j pi_j u'(c_j)/p_j.
    """
    logits = (v + problem.psi[:, :, None]) / problem.sigma
    # the shift is constant to AD (the exact derivative does not depend on it): JAX
    # differentiates max through the mask logits == max, which a fused XLA program can
    # evaluate with the logits rounded differently from the max (no element equal), 0/0
    mx = lax.stop_gradient(jnp.max(logits, axis=1, keepdims=True))
    e = jnp.exp(logits - mx)
    s = jnp.sum(e, axis=1, keepdims=True)
    phi = problem.sigma * (mx + jnp.log(s))[:, 0, :]
    m = jnp.sum((e / s) * mu / problem.p[None, :, None], axis=1)
    return m, phi


def _mix(m, phi, problem: HouseholdProblem):
    """The expectation over z' of step 5: y = (log(beta R P m), P Phi)."""
    return jnp.log(problem.beta * problem.R) + jnp.log(problem.P @ m), problem.P @ phi


def _expectations(c, mu, v, problem: HouseholdProblem):
    """Steps 1-2 and the expectation of step 5: from (c, u'(c), v) on [z, j, a] to y.

    Emu = beta R P (sum_j pi_j u'(c_j)/p_j); EPhi = P Phi (see _choice_aggregates).
    """
    return _mix(*_choice_aggregates(c, mu, v, problem), problem)


def household_operator(y, problem: HouseholdProblem, opts: HouseholdOptions):
    """One reference sweep in the reduced variable: y -> (c, v) -> y'."""
    sw = _egm(y, problem, opts)
    return _expectations(sw.c, sw.mu, sw.v, problem)


def initial_state(problem: HouseholdProblem, opts: HouseholdOptions):
    """Reference start: c = consumption when saving at the borrowing limit, v = -1/(1-beta)."""
    coh = cash_on_hand(problem, opts.Na)
    c = jnp.maximum(coh - problem.a_min, 1e-12)[:, None, :] / problem.p[None, :, None]
    v = jnp.full_like(c, -1.0 / (1.0 - problem.beta))
    return _expectations(c, marginal_utility(c, opts.gamma), v, problem)


# ----------------------------------------------------------------------- fixed point
def flatten_state(y):
    """The household fixed-point variable y = (log Emu, EPhi) as one flat vector."""
    return jnp.concatenate([y[0].reshape(-1), y[1].reshape(-1)])


def unflatten_state(x, like):
    """Inverse of :func:`flatten_state` (shapes taken from ``like``)."""
    n0 = like[0].size
    return x[:n0].reshape(like[0].shape), x[n0:].reshape(like[1].shape)


def sweep_changes(y, problem, opts):
    """(sup-norm change of c, sup-norm change of v) in one reference sweep from y; the
    change of v is the Bellman residual of the values behind y."""
    s0 = _egm(y, problem, opts)
    s1 = _egm(_expectations(s0.c, s0.mu, s0.v, problem), problem, opts)
    return jnp.max(jnp.abs(s1.c - s0.c)), jnp.max(jnp.abs(s1.v - s0.v))


def reference_residual(y, problem, opts):
    """The stop rule's residual in one reference sweep from y: the sup-norm change of
    (c, v) (``opts.stop_rule == "both"``), or of c alone ("policy")."""
    dc, dv = sweep_changes(y, problem, opts)
    return dc if opts.stop_rule == "policy" else jnp.maximum(dc, dv)


def iteration_settings(y, opts):
    """(Anderson memory, entries checked) of :func:`anderson_iterate` for the stop rule:
    (opts.anderson_memory, all = None) under "both"; under "policy" the original code's
    iteration, plain sweeps (memory 0) stopping when the log Emu block of y (the one
    that sets c) stops changing. Accelerated sweeps would converge v along with c and
    hide the original rule's error."""
    if opts.stop_rule == "policy":
        return 0, y[0].size
    return opts.anderson_memory, None


def stop_scale(opts) -> float:
    """Factor on the tolerance of the reduced-variable stop: under "policy" the log Emu
    block stops a decade tighter, so that the change of c itself (up to c times that
    of log Emu) meets ``tol``."""
    return 0.1 if opts.stop_rule == "policy" else 1.0


#: Cap on the chord sweeps from a nearby inverse before the plain accelerated iteration
#: takes over (hat_jax._warm).
WARM_MAX_ITER = 30


def _solve_primal(y0, problem, opts, inverse=None):
    """Anderson iteration from y0; with ``inverse`` ((I - dF/dy)^{-1} at a nearby fixed
    point, :mod:`hat_jax._warm`) first up to WARM_MAX_ITER accelerated chord steps
    y + (I - dF/dy)^{-1} (F(y) - y), the plain iteration finishing what they left."""
    if opts.stop_rule == "policy":  # the original starts every solve from its guess
        y0 = initial_state(problem, opts)
    fn = lambda x: flatten_state(household_operator(unflatten_state(x, y0), problem, opts))
    # Stop on the reduced variable a decade below tol; the reference residual (change
    # of c and v in one sweep) is then measured exactly and decides `converged`.
    tol = 0.1 * stop_scale(opts) * opts.tol
    memory, check = iteration_settings(y0, opts)
    x, err, it = flatten_state(y0), None, jnp.asarray(0, jnp.int32)
    if inverse is not None and opts.stop_rule != "policy":
        x1, err1, it = anderson_iterate(fn, x, tol, WARM_MAX_ITER, memory, check,
                                        chord_step(inverse))
        ok = jnp.all(jnp.isfinite(x1)) & jnp.isfinite(err1)
        x = jnp.where(ok, x1, x)  # a failed chord phase leaves the start as it was
        err = jnp.where(ok, err1, jnp.finfo(x.dtype).max)
    x, _, it2 = anderson_iterate(fn, x, tol, opts.max_iter - it, memory, check, err0=err)
    y = unflatten_state(x, y0)
    return y, reference_residual(y, problem, opts), it + it2


def operator_jacobian(y, problem: HouseholdProblem, opts: HouseholdOptions):
    """Dense dF/dy of the reduced sweep y -> F(y) at y (one country), [2 Nz Na, 2 Nz Na].

    F = mix o g with g(y) = (m, Phi) state by state: the sweep at productivity z reads
    only y[:, z, :] (EGM and the choice step do not mix z), and mix applies P. So
    dF/dy = [diag(1/(P m)) (P (x) I) dm/dy ; (P (x) I) dPhi/dy] with dm/dy, dPhi/dy block
    diagonal in z, and one jvp of g along "asset k of component c, at every z at once"
    gives column (c, k) of all Nz blocks: 2 Na jvps instead of 2 Nz Na. Rows and columns
    follow the flattening of y (component, z, asset).
    """
    Nz, Na = y[0].shape

    def g(yy):
        sw = _egm(yy, problem, opts)
        return _choice_aggregates(sw.c, sw.mu, sw.v, problem)

    m, _ = g(y)
    basis = jnp.eye(2 * Na, dtype=y[0].dtype).reshape(2 * Na, 2, 1, Na)
    basis = jnp.broadcast_to(basis, (2 * Na, 2, Nz, Na))
    _, (dm, dphi) = jax.vmap(lambda t: jax.jvp(g, (y,), ((t[0], t[1]),)))(basis)
    # dm[(c, k), w, i] = d m[w, i] / d y_c[w, k]
    dm = dm.reshape(2, Na, Nz, Na)
    dphi = dphi.reshape(2, Na, Nz, Na)
    P = problem.P
    k_emu = jnp.einsum("zw,ckwi->zicwk", P, dm) / (P @ m)[:, :, None, None, None]
    k_phi = jnp.einsum("zw,ckwi->zicwk", P, dphi)
    n = Nz * Na
    return jnp.concatenate([k_emu.reshape(n, 2 * n), k_phi.reshape(n, 2 * n)], axis=0)


def _lu_tangent(y, problem, rhs, opts):
    """Solve (I - dF/dy) t = rhs for one country by a dense LU (rhs may carry extra
    leading batch axes under vmap; the factorisation does not depend on them)."""
    K = operator_jacobian(y, problem, opts)
    lu = jax.scipy.linalg.lu_factor(jnp.eye(K.shape[0], dtype=K.dtype) - K)
    return unflatten_state(jax.scipy.linalg.lu_solve(lu, flatten_state(rhs)), y)


def _solve_primal_batched(y0, problems, opts, inverse=None):
    if inverse is not None:  # one country after another on the CPU: its inverse stays in
        # cache through its chord steps (N = 19, Na = 100: 0.24 of a cold solve against 0.27)
        return country_map(lambda a: _solve_primal(a[0], a[1], opts, a[2]),
                           (y0, problems, inverse))
    return jax.vmap(_solve_primal, in_axes=(0, 0, None, 0))(y0, problems, opts, inverse)


@jax.custom_jvp
def household_fixed_points(y0, problems: HouseholdProblem, opts: HouseholdOptions,
                           inverse=None):
    """y*_i = F(y*_i; problem_i) for every country i (leading axis), with implicit-function
    derivatives.

    Tangents: (I - dF/dy) dy* = (dF/dproblem) dproblem + (dF/dgamma) dgamma at y*,
    country by country (the options are a differentiable argument: F depends on the
    traced CRRA coefficient ``opts.gamma``; tolerances and caps do not enter F). With
    ``opts.tangent_solver == "lu"`` (default) dF/dy is built densely
    (:func:`operator_jacobian`) and LU-factorised once per country; the factorisation
    is shared by every tangent direction (jacfwd / vmap over directions batches only the
    triangular solves). On the CPU the countries are processed one after another
    (lax.map), so no batched LAPACK kernel runs (see hat_jax._distribution on why that
    matters on small CPUs); on an accelerator as one batch (hat_jax._backend). With ``"gmres"`` the systems are solved matrix-free (lineax GMRES; see
    results.krylov_solve), which needs less memory for very large grids. Reverse mode
    transposes either solve. The iterations are never differentiated and y0 carries no
    derivative. ``inverse``: (I - dF/dy)^{-1} at a nearby fixed point per country
    (:func:`hat_jax._warm.household_inverses`), for chord steps from a warm start; it
    changes the path to y*, not y*, and carries no derivative. Returns (y*, residual,
    iterations), each with the country axis.
    """
    return _solve_primal_batched(lax.stop_gradient(y0), problems, opts,
                                 lax.stop_gradient(inverse))


@household_fixed_points.defjvp
def _household_fixed_points_jvp(primals, tangents):
    y0, problems, opts, inverse = primals
    _, t_problems, t_opts, _ = tangents
    y, res, it = household_fixed_points(y0, problems, opts, inverse)
    op = jax.vmap(household_operator, in_axes=(0, 0, None))
    _, rhs = jax.jvp(lambda p, o: op(y, p, o), (problems, opts), (t_problems, t_opts))
    if opts.tangent_solver == "lu":
        t_y = country_map(lambda args: _lu_tangent(*args, opts), (y, problems, rhs))
    else:
        def one(yi, pi, bi):
            def matvec(t):
                _, Jt = jax.jvp(lambda yy: household_operator(yy, pi, opts), (yi,), (t,))
                return (t[0] - Jt[0], t[1] - Jt[1])

            return krylov_solve(matvec, bi, opts.gmres_rtol, opts.gmres_atol,
                                restart=opts.gmres_restart)

        t_y = jax.vmap(one)(y, problems, rhs)
    t_it = np.zeros(np.shape(it), dtype=jax.dtypes.float0)
    return (y, res, it), (t_y, jnp.zeros_like(res), t_it)


def household_fixed_point(y0, problem: HouseholdProblem, opts: HouseholdOptions):
    """One country's y* = F(y*; problem) (see :func:`household_fixed_points`)."""
    add = lambda x: jnp.asarray(x)[None]
    y, res, it = household_fixed_points(jax.tree_util.tree_map(add, y0),
                                        jax.tree_util.tree_map(add, problem), opts)
    return jax.tree_util.tree_map(lambda x: x[0], y), res[0], it[0]


def policies(y, problem: HouseholdProblem, opts: HouseholdOptions):
    """Policies from the fixed-point variable, in the public [a, z, j] layout.

    Returns (c, a_next, v, pi, V, lottery_lo, lottery_w)."""
    sw = _egm(y, problem, opts)
    a_next = problem.a_min + problem.da * (sw.lo + sw.frac)
    pi = choice_probabilities(sw.v, problem.psi[:, :, None], problem.sigma, axis=1)
    V = expected_value(sw.v, problem.psi[:, :, None], problem.sigma, axis=1)
    t = lambda x: jnp.transpose(x, (2, 0, 1))
    return (t(sw.c), t(a_next), t(sw.v), t(pi), V.T, t(sw.lo), t(1.0 - sw.frac))


def _solution(y, res, it, problem, opts) -> HouseholdSolution:
    c, a_next, v, pi, V, lo, w = policies(y, problem, opts)
    converged = (res <= opts.tol) & jnp.isfinite(res) & jnp.all(c > 0)
    return HouseholdSolution(c, a_next, v, pi, V, lo, w, y, converged, it, res)


def solve_household(problem: HouseholdProblem, opts: HouseholdOptions, state0=None,
                    throw: bool = True) -> HouseholdSolution:
    """Solve one country's household problem at fixed prices (model.md section 3).

    The returned policies are one extra operator application at the fixed point, with pi
    recomputed from the final v, as in the reference. ``state0``: warm start (a previous
    solution's ``state``); default: the reference initial guess.
    """
    if state0 is None:
        state0 = initial_state(problem, opts)
    y, res, it = household_fixed_point(state0, problem, opts)
    sol = _solution(y, res, it, problem, opts)
    if throw:
        sol = sol._replace(residual=check_converged("household problem (EGM)", sol.converged, it,
                                                    res, opts.tol))
    return sol


def solve_households(problems: HouseholdProblem, opts: HouseholdOptions, state0=None,
                     throw: bool = True, labels=None, inverse=None) -> HouseholdSolution:
    """Solve every country's household problem (leading axis = country), vmapped.
    ``inverse``: a nearby solve's (I - dF/dy)^{-1} (:func:`hat_jax._warm.household_inverses`)."""
    if state0 is None:
        state0 = jax.vmap(initial_state, in_axes=(0, None))(problems, opts)
    y, res, it = household_fixed_points(state0, problems, opts, inverse)
    sol = jax.vmap(_solution, in_axes=(0, 0, 0, 0, None))(y, res, it, problems, opts)
    if throw:
        sol = sol._replace(residual=check_converged(
            "household problem (EGM)", sol.converged, sol.iterations, sol.residual, opts.tol,
            unit="country", labels=labels))
    return sol
