"""The lambda-weighted mean EV as a differentiable function of the tariff matrix
(model.md s.10 and s.14; the ``mean-ev`` objective of optimal tariffs).

    E_i(t) = sum_{a,z} lambda_i^ref(a,z) (lambda_tau(a,z; t) - 1),

lambda_tau(a,z; t) solving V_ref(a,z; lambda) = V_i(a,z; t) (:func:`hat_jax.welfare.ev_roots`:
the household's value at the reference prices with all income R a + W z + T scaled by
lambda equals its value in the equilibrium with tariffs t). The reference (``ref``) is an
equilibrium held fixed: by default the free-trade baseline. Exact gradient: the
equilibrium by the implicit function theorem (:func:`hat_jax.solve_equilibrium_jit`) and
each root by the implicit function theorem on its scalar equation (the custom jvp of
``ev_roots``),

    dE_i/dt = sum lambda^ref (dV_i(a,z)/dt) / (dV_ref(a,z; lambda)/dlambda at lambda_tau),

one reverse pass through both. Each evaluation solves the EV roots of every state of
country i (the default EV options: continuation, 1e-10 per state) and one household
factorisation per state for the derivative: affordable on small grids.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._compiled import compile_and_run
from .._baseline import Baseline, as_baseline
from .._equilibrium import Equilibrium
from .._params import household_options
from ..welfare import EVOptions, country_problem, ev_roots, value_slope
from ._gradient import _solve, warm_start

__all__ = ["EVReference", "ev_reference", "mean_ev_value_and_gradient"]


class EVReference(NamedTuple):
    """What the EV of country ``i`` is measured against (all of country i): problem (the
    household problem at the reference prices), y (its solved state), V [a, z], slope
    and x_dot (dV/dlambda and dy/dlambda at lambda = 1), lam (the reference
    distribution, the weights of the mean), hopts, opts (:class:`~hat_jax.welfare.EVOptions`)
    and i (the country's index, traced)."""

    problem: object
    y: object
    V: jax.Array
    slope: jax.Array
    x_dot: jax.Array
    lam: jax.Array
    hopts: object
    opts: object
    i: jax.Array


_slope_program = jax.jit(value_slope, static_argnames="measure")


def ev_reference(ref: Baseline | Equilibrium, i: int, opts: EVOptions | None = None
                 ) -> EVReference:
    """The :class:`EVReference` of country i at the baseline ``ref`` (an Equilibrium is
    converted once)."""
    opts = EVOptions() if opts is None else opts
    b = as_baseline(ref)
    problem, y = country_problem(b, i), b.country_state(i)
    ref = b.equilibrium
    # GMRES for the per-state implicit derivatives of the roots: one dense LU per state
    # costs about 10x more on the two-country Na = 40 grid, for the same digits
    hopts = household_options(ref.economy, tol=opts.hh_tol, stop_rule=opts.hh_stop_rule,
                              tangent_solver="gmres")
    _, slope, x_dot = _slope_program(problem, y, hopts, measure=opts.measure)
    return EVReference(problem, y, jnp.asarray(ref.world.households.V[i]), slope, x_dot,
                       jnp.asarray(ref.world.distribution.lam[i]), hopts, opts,
                       jnp.asarray(i))


@jax.jit
def _mean_ev_program(args, t, ref: EVReference, opts):
    """(E_i(t), (converged, iterations, residual, warm start at t, EV converged)), dE_i/dt."""

    def objective(tt):
        _, e = _solve(args, tt, opts)
        V_new = e.world.households.V[ref.i]
        factor, ok, _, _ = ev_roots(lax.stop_gradient(ref.problem), ref.y, ref.V, V_new,
                                    ref.slope, ref.x_dot, ref.hopts, ref.opts)
        return jnp.sum(ref.lam * (factor - 1.0)), (e.converged, e.iterations, e.residual,
                                                   warm_start(args, e), jnp.all(ok))

    return jax.value_and_grad(objective, has_aux=True)(t)


def mean_ev_value_and_gradient(args, t, ref: EVReference, opts):
    """(E_i(t), dE_i/dt [N, N], converged (the equilibrium and every EV root), warm
    start at t): one equilibrium solve from ``args`` (:func:`~hat_jax.policy.tariff_args`),
    the EV roots of country ``ref.i`` and one reverse pass (compiled once per shape)."""
    (val, (ok, _, _, warm, ev_ok)), g = compile_and_run(
        _mean_ev_program, (args, jnp.asarray(t, jnp.float64), ref, opts))
    return float(val), np.asarray(g), bool(ok) and bool(ev_ok), warm
