"""Standard errors of the optimal tariff and its welfare gain (model.md s.14 and s.16).

Country i's rates x (one uniform rate, or one per partner) maximise its utilitarian
welfare W(x, Theta) = sum lambda_i V_i at the equilibrium with tariffs t(x) (beta fixed
at the baseline's, which is solved at the target R, so it moves with the calibrated
parameters Theta). At an interior optimum the first-order condition
g(x*, Theta) = dW/dx = 0 holds, so by the implicit function theorem

    dx*/dTheta = -H^{-1} g_Theta,   H = d2W/dx2,   g_Theta = d2W/dx dTheta   (at x*),

and the welfare gain G(Theta) = W(x*, Theta) - W(0, Theta) (W(0): the baseline's own
welfare, its tariffs as given) has, by the envelope theorem,

    dG/dTheta = dW/dTheta (x*, Theta) - dW(0, Theta)/dTheta   (+ g' dx*/dTheta = 0),

both terms partial derivatives at fixed tariffs (the g term is kept: zero at an exact
optimum, it makes the derivative that of the optimum actually found). H and g_Theta are
exact: forward mode over forward mode through both equilibria (each differentiated by
the implicit function theorem, never unrolled), the n + K directions of (x, Theta)
batched by vmap over one jvp of the exact gradient dW/dx (or, to bound the memory, in
chunks of ``directions``: ``lax.map`` with a batch size, the primal solved again per
chunk). A rate at the bound x = 0 (a
corner: the derivative there is negative and the bound binds) stays at 0 when Theta
moves a little: its derivative is zero, and H, g_Theta are restricted to the free rates.
"""

from __future__ import annotations

import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._baseline import Baseline
from .._ek import economy_from_params
from .._equilibrium import EquilibriumOptions, Start, solve_equilibrium_jit
from .._newton import map_basis_in_equal_blocks
from ..welfare import utilitarian_welfare

__all__ = ["TariffInference", "optimal_tariff_jacobian"]

#: a rate at or below this is on the bound t >= 0 (a corner; see the module docstring)
BOUND = 1e-6


class TariffInference(NamedTuple):
    """The optimal tariff's outputs at parameters Theta, or (in a Jacobian) their
    derivatives d/dTheta [..., K]: rates [n] (country i's optimal rates x*: one uniform
    rate, or one per partner in the countries' order without i), welfare (W_i at x*),
    welfare_free (W_i at the baseline's tariffs), gain (welfare - welfare_free),
    gain_pct (100 gain / |welfare_free|, the report's ``welfare_gain_pct``). Diagnostics
    (None in a Jacobian): foc [n] (dW/dx at x*), hessian [n, n] (d2W/dx2), at_bound [n]
    (rates on the bound x = 0: derivative zero), maximum (H is negative definite on the
    free rates: a strict local maximum, where the implicit function theorem applies),
    converged (both equilibria)."""

    rates: np.ndarray
    welfare: np.ndarray
    welfare_free: np.ndarray
    gain: np.ndarray
    gain_pct: np.ndarray
    foc: np.ndarray | None = None
    hessian: np.ndarray | None = None
    at_bound: np.ndarray | None = None
    maximum: bool | None = None
    converged: bool | None = None


def _welfare_parts(x, params, problem, tariffs, i, partners, start, opts, t_start=None):
    """(W_i(x), W_i at the baseline, g = dW_i/dx, converged) at parameters ``params``:
    the baseline (beta solved at the target R), the tariff equilibrium at t(x) (beta
    fixed, started from ``t_start``, the optimum's own, or else from the baseline), g by
    forward mode in the n rates."""
    econ = economy_from_params(params, problem.economy, problem.geography, problem.theta_d)
    eq = solve_equilibrium_jit(econ, opts, start, throw=False)
    base = Baseline.from_equilibrium(eq, opts)
    warm = lax.stop_gradient((base.start if t_start is None else t_start)._replace(J=None))

    def welfare_at(xx):
        t = tariffs.at[i, partners].set(jnp.broadcast_to(xx, partners.shape))
        new = solve_equilibrium_jit(base.economy.replace(tariffs=t), base.opts, warm,
                                    throw=False)
        W = utilitarian_welfare(new)[i]
        return W, (W, lax.stop_gradient(new.converged))

    g, (W, ok) = jax.jacfwd(welfare_at, has_aux=True)(x)
    return W, utilitarian_welfare(eq)[i], g, lax.stop_gradient(eq.converged) & ok


@partial(jax.jit, static_argnames=("chunk",))
def _second_order_program(x, params, problem, tariffs, i, partners, start, opts,
                          chunk=None, t_start=None):
    """(W(x), W(0), g, converged) and the derivatives of (W(x), W(0), g) along the n + K
    basis directions of (x, Theta) (vmap of one jvp; with ``chunk``, lax.map over the
    fewest equal batches of at most ``chunk`` directions): columns [..., n + K]."""
    n, K = x.size, params.size

    def one(dz):
        f = lambda xx, pp: _welfare_parts(xx, pp, problem, tariffs, i, partners, start,
                                          opts, t_start)
        primal, tangent = jax.jvp(f, (x, params), (dz[:n], dz[n:]))
        return primal, tangent[:3]  # no tangent of the convergence flag

    if chunk is None or chunk >= n + K:
        basis = jnp.eye(n + K, dtype=params.dtype)
        primal, tangent = jax.vmap(one, out_axes=(0, -1))(basis)
    else:
        primal, tangent = map_basis_in_equal_blocks(one, n + K, chunk, params.dtype)
        tangent = jax.tree_util.tree_map(lambda v: jnp.moveaxis(v, 0, -1), tangent)
    return jax.tree_util.tree_map(lambda v: v[0], primal), tangent


def _rates(optimum):
    """(x*, partners) of an :class:`~hat_jax.policy.OptimalTariff`."""
    i = int(optimum.country)
    N = np.shape(optimum.tariffs)[0]
    partners = np.asarray([j for j in range(N) if j != i])
    rates = np.asarray(optimum.tariffs, np.float64)[i, partners]
    return (rates[:1] if optimum.mode == "uniform" else rates), partners


def _split(dW, dW0, dg, n):
    """(H [n, n] (symmetrised), g_Theta [n, K], dW/dTheta, dW(0)/dTheta, dW/dx) from the
    second-order program's columns (the n rates first, then the K parameters)."""
    dW, dW0, dg = (np.asarray(a, np.float64) for a in (dW, dW0, dg))
    H = 0.5 * (dg[:, :n] + dg[:, :n].T)
    return H, dg[:, n:], dW[n:], dW0[n:], dW[:n]


def optimal_tariff_jacobian(params, problem, optimum, *, start: Start | None = None,
                            opts: EquilibriumOptions | None = None,
                            directions: int | None = 8):
    """(outputs, jacobian, stats) of the optimal tariff ``optimum`` (an
    :class:`~hat_jax.policy.OptimalTariff` of the utilitarian objective, found on the
    baseline of ``params``) as functions of the calibrated parameters ``params`` [K] of
    the calibration problem ``problem`` (:class:`~hat_jax.calibration.CalibrationProblem`:
    its economy, geography, theta_d, target R): :class:`TariffInference` of the values
    at ``params`` and of their exact derivatives [..., K] (the module docstring:
    dx*/dTheta = -H^{-1} g_Theta, dG/dTheta by the envelope theorem; rates on the bound
    have derivative zero). The baseline is solved with beta at ``problem.R`` (``opts``,
    default ``EquilibriumOptions(unknown="beta")``; ``start``: its prices and household
    state), the tariff equilibrium at beta fixed from the optimum's own equilibrium
    (``optimum.start``; from the baseline when it has none). stats: {"seconds"}
    (compile included). With ``outputs.maximum`` False (H not negative definite on the
    free rates) the derivative of the rates is NaN: not a strict maximum. directions:
    the most of the n + K directions one batch takes (default 8; the fewest equal
    batches of at most that many, :func:`hat_jax._memory.equal_blocks`; None: all at
    once). The memory grows with the batch (all 47 at once peaked at 20 GB at
    ek_baseline, Na = 10); each batch solves the equilibria again."""
    if getattr(optimum, "objective", "utilitarian") != "utilitarian":
        raise ValueError("optimal_tariff_jacobian: the optimum must be of the utilitarian "
                         f"objective, got objective={optimum.objective!r}")
    t0 = time.perf_counter()
    params = jnp.asarray(np.asarray(params, np.float64))
    if params.shape != np.shape(problem.target):
        raise ValueError(f"params must have the {np.size(problem.target)} entries of the "
                         f"problem's parameters, got shape {params.shape}")
    if directions is not None and (not isinstance(directions, (int, np.integer))
                                   or directions < 1):
        raise ValueError(f"directions must be an integer >= 1 or None, got "
                         f"directions={directions!r}")
    opts = EquilibriumOptions(unknown="beta") if opts is None else opts
    start = Start(R=problem.R) if start is None else start._replace(R=problem.R, J=None)
    x, partners = _rates(optimum)
    i = int(optimum.country)
    (W, W0, g, ok), (dW, dW0, dg) = jax.block_until_ready(_second_order_program(
        jnp.asarray(x), params, problem, jnp.asarray(optimum.tariffs, jnp.float64),
        jnp.asarray(i), jnp.asarray(partners), start, opts,
        chunk=None if directions is None else int(directions),
        # the optimum's own equilibrium (no Jacobian): an optimum far from free trade (a
        # near-prohibitive rate) is out of Newton's reach from the baseline
        t_start=None if optimum.start is None else optimum.start._replace(J=None)))
    W, W0, g = float(W), float(W0), np.asarray(g, np.float64)
    n = x.size
    H, g_p, W_p, W0_p, W_x = _split(dW, dW0, dg, n)
    free = x > BOUND
    dx = np.zeros((n, params.size))
    Hf = H[np.ix_(free, free)]
    maximum = bool(np.all(np.linalg.eigvalsh(Hf) < 0)) if free.any() else True
    dx[free] = -np.linalg.solve(Hf, g_p[free]) if maximum else np.nan
    dW_total = W_p + W_x @ dx
    gain, d_gain = W - W0, dW_total - W0_p
    gain_pct = 100 * gain / abs(W0)
    d_gain_pct = 100 * (d_gain - gain * np.sign(W0) * W0_p / abs(W0)) / abs(W0)
    out = TariffInference(x, np.asarray(W), np.asarray(W0), np.asarray(gain),
                          np.asarray(gain_pct), g, H, ~free, maximum, bool(ok))
    jac = TariffInference(dx, dW_total, W0_p, d_gain, d_gain_pct)
    return out, jac, {"seconds": time.perf_counter() - t0}
