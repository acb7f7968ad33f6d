"""Paths of the distribution and of the policies along a transition (issue 30, item 5).

Opt-in (``solve_transition(..., paths=("distribution", "policies"))`` or
:func:`distribution_paths` of a solved :class:`~hat_jax.transition.Transition`): the
backward and forward passes of :mod:`~hat_jax.transition._path` at the solved unknowns,
keeping every date instead of the aggregates only:

    lambda_{t+1}(a', z') = sum_{a,z} lambda_t(a, z) G_t[a, z, a'] P[z, z'],  t = 0..T-1,

lambda_0 the initial stationary distribution (dates 0..T, beginning of period), and the
date-t policies c_{ij,t}(a, z), pi_{ij,t}(a, z), a'_{i,t}(a, z), household expenditure
e_{i,t} = sum_j p_{ij,t} c_{ij,t} pi_{ij,t} and the import share
1 - p_{ii,t} c_{ii,t} pi_{ii,t} / e_{i,t}.

Statistics: weighted percentiles along the path (:func:`path_percentiles`: the smallest
x with sum_{x' <= x} lambda_t >= q, the inverted CDF) of expenditure, beginning-of-period
assets and the import share; means by wealth decile (:func:`wealth_decile_means`), the
mass of a grid point split exactly between the deciles its CDF interval crosses.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._params import household_options
from ._path import date_problems, endpoint, forward_path
from ._solve import TransitionOptions

__all__ = ["DistributionPaths", "distribution_paths", "path_percentiles",
           "wealth_decile_means", "PATHS", "PERCENTILES"]

#: What ``paths=`` may ask for.
PATHS = ("distribution", "policies")
#: Percentiles reported along the path by default.
PERCENTILES = (10, 25, 50, 75, 90)


class DistributionPaths(NamedTuple):
    """The distribution and policies by date (None where not asked for).

    lam [T+1, N, Na, Nz] (beginning-of-period distribution, dates 0..T); assets [N, Na]
    (the grids); c, pi [T, N, Na, Nz, N] (consumption of variety j if chosen, choice
    probabilities); a_next, expenditure, import_share [T, N, Na, Nz]."""

    lam: jax.Array | None
    assets: jax.Array
    c: jax.Array | None = None
    pi: jax.Array | None = None
    a_next: jax.Array | None = None
    expenditure: jax.Array | None = None
    import_share: jax.Array | None = None

    @property
    def mass(self):
        """sum_{a,z} lambda_t [T+1, N] (one at every date: Young's lottery keeps mass)."""
        return jnp.sum(self.lam, axis=(2, 3))


def check_paths(paths) -> tuple:
    """``paths`` as a tuple of names from :data:`PATHS` (None or () -> ())."""
    if paths is None:
        return ()
    if isinstance(paths, str):
        paths = (paths,)
    bad = [p for p in paths if p not in PATHS]
    if bad:
        raise ValueError(f"paths must name some of {PATHS}, got paths={tuple(paths)!r}")
    return tuple(dict.fromkeys(paths))


def _passes(U, economy, shock, initial, terminal, hopts):
    """(lam [T+1], c, pi, a_next, expenditure, import_share) along the path at U."""
    idx = jnp.arange(economy.N)

    def report(lam, hh, prob):
        spend = hh.c * hh.pi * prob.p[:, None, None, :]
        e = jnp.sum(spend, axis=-1)
        return lam, hh.c, hh.pi, hh.a_next, e, 1.0 - spend[idx, :, :, idx] / e

    problems = date_problems(U, economy, shock, initial, terminal)
    lam_T, (lam, *rest), _ = forward_path(problems, initial, terminal, hopts, report)
    return (jnp.concatenate([lam, lam_T[None]]), *rest)


_passes_jit = jax.jit(_passes)


def distribution_paths(tr, paths=PATHS, opts: TransitionOptions | None = None):
    """The :class:`DistributionPaths` of the solved transition ``tr`` (a
    :class:`~hat_jax.transition.Transition`) at its unknowns: ``paths`` names what to
    keep ("distribution": lambda_t; "policies": c, pi, a', expenditure, import share).
    opts: the transition's options (household tolerance)."""
    paths = check_paths(paths)
    opts = TransitionOptions() if opts is None else opts
    econ = tr.economy
    hopts = household_options(econ, tol=opts.hh_tol)
    lam, c, pi, a_next, e, imp = _passes_jit(tr.U, econ, tr.shock, endpoint(tr.initial),
                                             endpoint(tr.terminal), hopts)
    prob = tr.initial.world.problems
    grid = prob.a_min[:, None] + prob.da[:, None] * jnp.arange(econ.Na)
    keep = "policies" in paths
    return DistributionPaths(lam if "distribution" in paths else None, grid,
                             *((c, pi, a_next, e, imp) if keep else (None,) * 5))


def _percentiles(x, w, q):
    """Inverted-CDF percentiles q (in [0, 1]) of the values x under the weights w (flat)."""
    order = jnp.argsort(x)
    cw = jnp.cumsum(w[order])
    k = jnp.searchsorted(cw, q * cw[-1], side="left")
    return x[order][jnp.clip(k, 0, x.size - 1)]


@jax.jit
def _percentile_paths(values, lam, q):
    """values, lam [T, N, Na, Nz] -> [T, N, Q]."""
    T, N = values.shape[:2]
    flat = lambda a: a.reshape(T * N, -1)
    out = jax.vmap(_percentiles, in_axes=(0, 0, None))(flat(values), flat(lam), q)
    return out.reshape(T, N, -1)


def path_percentiles(dp: DistributionPaths, q=PERCENTILES) -> dict:
    """Percentiles ``q`` (in percent) of expenditure ("consumption"), beginning-of-period
    assets ("assets") and the import share ("import_share") under lambda_t at every date
    t = 0..T-1, each [T, N, len(q)]. Needs both paths ("distribution", "policies")."""
    if dp.lam is None or dp.expenditure is None:
        raise ValueError("path_percentiles needs paths=('distribution', 'policies')")
    qs = np.asarray(q, np.float64)
    if qs.ndim != 1 or qs.size == 0 or np.any(~np.isfinite(qs)) or np.any(qs < 0) \
            or np.any(qs > 100):
        raise ValueError(f"q (percentiles) must be numbers in [0, 100], got q={q!r}")
    lam = dp.lam[:-1]
    a = jnp.broadcast_to(dp.assets[None, :, :, None], lam.shape)
    qj = jnp.asarray(qs / 100.0)
    return {"consumption": _percentile_paths(dp.expenditure, lam, qj),
            "assets": _percentile_paths(a, lam, qj),
            "import_share": _percentile_paths(dp.import_share, lam, qj)}


def wealth_decile_means(lam, values, deciles: int = 10) -> np.ndarray:
    """Mean of ``values`` [Na, Nz] within each wealth decile of the distribution ``lam``
    [Na, Nz] of one country (assets on the grid's first axis): grid point a's mass is
    split between the deciles that its CDF interval [F(a-), F(a)] crosses, in
    proportion to the overlap; returns [deciles]."""
    lam, values = np.asarray(lam, np.float64), np.asarray(values, np.float64)
    m = lam.sum(axis=1)
    F = np.cumsum(m) / m.sum()
    lo, hi = np.concatenate([[0.0], F[:-1]]), F
    edges = np.linspace(0.0, 1.0, deciles + 1)
    overlap = np.clip(np.minimum(hi[None], edges[1:, None])
                      - np.maximum(lo[None], edges[:-1, None]), 0.0, None)   # [K, Na]
    share = np.divide(overlap, hi - lo, out=np.zeros_like(overlap), where=hi > lo)
    mean_by_a = np.divide((lam * values).sum(axis=1), m, out=np.zeros_like(m), where=m > 0)
    weight = share * m[None] / m.sum()
    return (weight * mean_by_a[None]).sum(axis=1) / weight.sum(axis=1)
