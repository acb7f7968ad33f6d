"""Warm solves that pay (issue 29): a solved world's inverses as chord steps.

Every equilibrium iteration, scenario, EV root and policy evaluation re-solves the
households and their distributions next to a solved world. From a good start the plain
accelerated iteration still needs nearly as many sweeps as from the reference guess
(N = 19, Na = 100, a 1% wage move: 60 sweeps against 66): its rate, not its start, sets
the cost. A Newton step would converge in a few sweeps, but the exact Jacobian of the
household sweep costs about 400 sweeps per country. So the inverses are built once, at a
solved world, and reused by every nearby solve as chord steps:

* households: with K0 = dF/dy at the world's fixed points (the matrix of
  :func:`hat_jax._household.operator_jacobian`), y <- y + (I - K0)^{-1} (F(y) - y),
  Anderson-accelerated. It converges at the rate |(I - K0)^{-1} (K - K0)|, small when
  prices are near (a 1% move: about 10 sweeps to 1e-10 instead of 60);
* distributions: with A0 the world's mass system (I - Q' with its first row the mass),
  lam <- lam + A0^{-1} (e_0 - A lam) from the world's own distribution A0^{-1} e_0.

Neither changes the fixed point: the stop rules are those of the plain solves, which
take over where the chord steps do not converge within their cap (a far move, a kink),
so inverses from a far world cost time, never accuracy. Derivatives are the implicit
ones, as without inverses.

The inverses are explicit and single precision, hand-built rather than LU factors
(lineax, jax.scipy): on the CPU, XLA's triangular solve of one right-hand side took 18 ms
for a 2,000 x 2,000 factor against 0.7 ms for the float32 matrix-vector product, and a
preconditioner needs no more than float32's 1e-7. Memory: 4 (2 Nz Na)^2 + 4 (Nz Na)^2
bytes per country (ek_baseline, Na = 100: 380 MB for 19 countries), kept beside a
:class:`~hat_jax.Baseline` (``Baseline.with_warm_inverses()``, ``Start.inverses``) and
never copied per scenario.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._backend import country_map
from ._distribution import _mass_system, asset_transition
from ._household import operator_jacobian

__all__ = ["WarmInverses", "household_inverses", "distribution_inverses", "warm_inverses",
           "warm_inverse_bytes", "check_inverses"]


class WarmInverses(NamedTuple):
    """Approximate inverses (float32, leading country axis) at a solved world:
    ``household`` (I - dF/dy)^{-1} at the household fixed points, [N, 2 Nz Na, 2 Nz Na];
    ``distribution`` the inverse of the mass system, [N, Nz Na, Nz Na]."""

    household: jax.Array
    distribution: jax.Array


def _inverse32(A):
    return jnp.linalg.inv(A.astype(jnp.float32))


def household_inverses(states, problems, opts):
    """(I - dF/dy)^{-1} at each country's fixed point y (``states``, leading country
    axis), one country after another on the CPU (no batched LAPACK kernel)."""
    def one(args):
        K = operator_jacobian(*args, opts)
        return _inverse32(jnp.eye(K.shape[0], dtype=K.dtype) - K)

    return country_map(one, (states, problems))


def distribution_inverses(pi, lottery_lo, lottery_w, P):
    """The inverse of each country's mass system A = I - Q' with its first row the mass."""
    G = jax.vmap(asset_transition)(pi, lottery_lo, lottery_w)
    return country_map(lambda gp: _inverse32(_mass_system(*gp)), (G, P))


@jax.jit
def warm_inverses(world, household_opts) -> WarmInverses:
    """The :class:`WarmInverses` of a solved :class:`~hat_jax.World` (its household
    problems, solutions and distributions), for the household options it was solved with."""
    hh = world.households
    return WarmInverses(household_inverses(hh.state, world.problems, household_opts),
                        distribution_inverses(hh.pi, hh.lottery_lo, hh.lottery_w,
                                              world.problems.P))


def warm_inverse_bytes(N: int, Nz: int, Na: int) -> int:
    """Bytes the :class:`WarmInverses` of N countries take (float32)."""
    return 4 * N * ((2 * Nz * Na) ** 2 + (Nz * Na) ** 2)


def check_inverses(inverses, economy):
    """``inverses`` (None, or :class:`WarmInverses` of the economy's shape), else
    ValueError naming ``Start.inverses`` and the shapes: inverses of another grid or
    country count cannot serve."""
    if inverses is None:
        return None
    N, n = economy.N, economy.Nz * economy.Na
    want = ((N, 2 * n, 2 * n), (N, n, n))
    got = tuple(tuple(getattr(inverses, f).shape) for f in ("household", "distribution"))
    if got != want:
        raise ValueError(f"Start.inverses must be the WarmInverses of an economy with N={N}, "
                         f"Nz={economy.Nz}, Na={economy.Na} (shapes {want}), got shapes {got}")
    return inverses
