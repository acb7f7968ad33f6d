"""Trade costs and the Eaton-Kortum gravity regression (model.md sections 7 and 8).

Conventions: ``X[i, j]`` is importer (buyer) ``i``, exporter (seller) ``j``. Everything
here is plain ``jax.numpy`` in float64 and differentiable; shapes are static, so the
functions can be ``jax.jit``-ed with the geography closed over or passed as an argument.

Parameter / moment layout (length ``K = 2(N-1) + 10``, 46 for N = 19, 0-based):

======================  ===============================  ===============================
positions               parameters Theta                  gravity moments
======================  ===============================  ===============================
``0 .. N-2``            log A_1..A_{N-1} (A_N = 1)        S_1..S_{N-1} (S_N = -sum)
``N-1 .. 2N-3``         mu_1..mu_{N-1} (mu_N = -sum)      m_1..m_{N-1} (m_N = -sum)
``2N-2 .. 2N+3``        dist_1..dist_6                    dist_1..dist_6
``2N+4 .. 2N+7``        border, language, EC, EFTA        border, language, EC, EFTA
======================  ===============================  ===============================
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

#: Number of distance bins: [0,375), [375,750), [750,1500), [1500,3000), [3000,6000), [6000,max].
N_DIST_BINS = 6
#: Number of non-fixed-effect entries in a parameter / moment vector (6 bins + 4 dummies).
N_COMMON = N_DIST_BINS + 4

__all__ = [
    "N_DIST_BINS",
    "N_COMMON",
    "Geography",
    "geography_from_arrays",
    "TradeCostParams",
    "n_countries_from_length",
    "unpack_params",
    "pack_params",
    "log_trade_costs_unclamped",
    "trade_costs",
    "tfp",
    "GravityMoments",
    "moment_vector",
    "log_share_ratios",
    "offdiag_indices",
    "gravity_design",
    "make_gravity_regression",
    "gravity_regression",
]


# --------------------------------------------------------------------------- geography


class Geography(NamedTuple):
    """Pair characteristics, importer rows / exporter columns, zero on the diagonal.

    ``dist_bin_onehot[i, j, k] = 1`` iff pair (i, j) is in distance bin k (all-zero rows
    on the diagonal); ``border, language, ec, efta`` are 0/1 floats ``[N, N]``.
    """

    dist_bin_onehot: jax.Array  # [N, N, 6]
    border: jax.Array  # [N, N]
    language: jax.Array  # [N, N]
    ec: jax.Array  # [N, N]
    efta: jax.Array  # [N, N]

    @property
    def n(self) -> int:
        return self.border.shape[0]


def geography_from_arrays(dist_bin, border, language, ec, efta) -> Geography:
    """Build a :class:`Geography` from a 0-based bin index matrix (``-1`` on the diagonal).

    ``onehot[i, j, k] = 1{dist_bin[i, j] == k}``; every array is forced to zero on the
    diagonal (home purchases carry no trade cost).
    """
    dist_bin = jnp.asarray(dist_bin)
    n = dist_bin.shape[0]
    off = 1.0 - jnp.eye(n, dtype=jnp.float64)
    onehot = (dist_bin[..., None] == jnp.arange(N_DIST_BINS)).astype(jnp.float64)
    onehot = onehot * off[..., None]

    def f(x):
        return jnp.asarray(x, dtype=jnp.float64) * off

    return Geography(onehot, f(border), f(language), f(ec), f(efta))


# ---------------------------------------------------------------- parameters and costs


class TradeCostParams(NamedTuple):
    """Structural parameters Theta in named form.

    ``log_A`` [N] with ``log_A[-1] = 0`` (USA numeraire technology), ``mu`` [N] importer
    cost effects summing to zero, ``dist`` [6] bin coefficients and the scalar dummy
    coefficients ``border, language, ec, efta`` (all on the gravity-regression scale,
    i.e. minus theta_d times the log-cost effect).
    """

    log_A: jax.Array
    mu: jax.Array
    dist: jax.Array
    border: jax.Array
    language: jax.Array
    ec: jax.Array
    efta: jax.Array


def n_countries_from_length(k: int) -> int:
    """N from a parameter/moment vector length ``k = 2(N-1) + 10``."""
    if k < N_COMMON + 2 or (k - N_COMMON) % 2:
        raise ValueError(f"vector length {k} is not of the form 2(N-1)+10 with N >= 2")
    return (k - N_COMMON) // 2 + 1


def unpack_params(theta) -> TradeCostParams:
    """Theta (length 2(N-1)+10) -> named parameters, with log A_N = 0, mu_N = -sum mu_1..N-1."""
    theta = jnp.asarray(theta, dtype=jnp.float64)
    if theta.ndim != 1:
        raise ValueError(f"theta must be 1-D, got shape {theta.shape}")
    n = n_countries_from_length(theta.shape[0])
    m = n - 1
    log_a = jnp.concatenate([theta[:m], jnp.zeros(1, theta.dtype)])
    mu_free = theta[m : 2 * m]
    mu = jnp.concatenate([mu_free, -jnp.sum(mu_free, keepdims=True)])
    c = 2 * m
    dist = theta[c : c + N_DIST_BINS]
    b, l, e, f = (theta[c + N_DIST_BINS + k] for k in range(4))
    return TradeCostParams(log_a, mu, dist, b, l, e, f)


def pack_params(p: TradeCostParams) -> jax.Array:
    """Inverse of :func:`unpack_params`: drops log A_N and mu_N (assumed 0 and -sum)."""
    tail = jnp.stack([jnp.asarray(x, jnp.float64) for x in (p.border, p.language, p.ec, p.efta)])
    return jnp.concatenate(
        [jnp.asarray(p.log_A, jnp.float64)[:-1], jnp.asarray(p.mu, jnp.float64)[:-1],
         jnp.asarray(p.dist, jnp.float64), tail]
    )


def log_trade_costs_unclamped(p: TradeCostParams, geo: Geography, theta_d=4.0) -> jax.Array:
    """x_ij = -(1/theta_d) [dist_k(ij) + b border_ij + l lang_ij + e EC_ij + f EFTA_ij + mu_i]
    for i != j, and x_ii = 0 (log of the trade cost before the clamp at 1)."""
    n = geo.border.shape[0]
    idx = (
        geo.dist_bin_onehot @ p.dist
        + p.border * geo.border
        + p.language * geo.language
        + p.ec * geo.ec
        + p.efta * geo.efta
        + p.mu[:, None]
    )
    off = 1.0 - jnp.eye(n, dtype=jnp.float64)
    return -(idx / theta_d) * off


def trade_costs(p: TradeCostParams, geo: Geography, theta_d=4.0) -> jax.Array:
    """Iceberg costs d_ij = max(1, exp(x_ij)) with x from :func:`log_trade_costs_unclamped`.

    d_ii = 1. Implemented as ``d = exp(where(x > 0, x, 0))``. Derivative convention:
    where x_ij > 0 the derivative is the usual d_ij * dx_ij; where the clamp binds
    (x_ij < 0) **and at an exact tie x_ij == 0** the derivative with respect to every
    parameter is exactly zero (a one-sided / subgradient choice; ``jnp.maximum`` would
    instead split the gradient 0.5/0.5 at a tie). The diagonal has zero derivative.
    """
    x = log_trade_costs_unclamped(p, geo, theta_d)
    return jnp.exp(jnp.where(x > 0, x, 0.0))


def tfp(p: TradeCostParams) -> jax.Array:
    """A_i = exp(log A_i) (A_N = 1)."""
    return jnp.exp(p.log_A)


# ------------------------------------------------------------------ gravity regression


class GravityMoments(NamedTuple):
    """Gravity-regression moments in Eaton-Kortum form.

    ``S`` [N] exporter effects S_j = ex_j, ``m`` [N] destination effects m_i = im_i + ex_i
    (both sum to zero), ``dist`` [6] bin coefficients, and the scalars ``border,
    language, EC, EFTA``.
    """

    S: jax.Array
    m: jax.Array
    dist: jax.Array
    border: jax.Array
    language: jax.Array
    EC: jax.Array
    EFTA: jax.Array

    def moment_vector(self) -> jax.Array:
        """See :func:`moment_vector`."""
        return moment_vector(self)

    def as_dict(self) -> dict:
        """Plain Python floats/lists: keys S, m, dist, border, language, EC, EFTA."""
        out = {}
        for k, v in self._asdict().items():
            a = np.asarray(v, dtype=np.float64)
            out[k] = a.tolist() if a.ndim else float(a)
        return out


def moment_vector(gm: GravityMoments) -> jax.Array:
    """[S_1..S_{N-1}, m_1..m_{N-1}, dist_1..6, border, language, EC, EFTA] (length 2(N-1)+10)."""
    tail = jnp.stack([jnp.asarray(x, jnp.float64) for x in (gm.border, gm.language, gm.EC, gm.EFTA)])
    return jnp.concatenate([gm.S[:-1], gm.m[:-1], gm.dist, tail])


def log_share_ratios(shares) -> jax.Array:
    """y_ij = log(shares_ij / shares_ii) (importer rows; zero on the diagonal)."""
    ls = jnp.log(jnp.asarray(shares, jnp.float64))
    return ls - jnp.diagonal(ls)[:, None]


def offdiag_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(importer, exporter) indices of the n(n-1) ordered pairs i != j, importer-major."""
    rows, cols = np.nonzero(~np.eye(n, dtype=bool))
    return rows, cols


def _contrast(n: int) -> np.ndarray:
    """Sum-to-zero contrast C [n, n-1]: effects = C @ free, i.e. e_k = a_k (k < n), e_n = -sum a."""
    return np.vstack([np.eye(n - 1), -np.ones((1, n - 1))])


def gravity_design(geo: Geography) -> jax.Array:
    """Design matrix X [N(N-1), 2(N-1)+10] over off-diagonal pairs (importer-major).

    Columns: importer effects (sum-to-zero contrast, N-1), exporter effects (same, N-1),
    the six distance-bin dummies (no intercept), border, language, EC, EFTA.
    """
    n = geo.border.shape[0]
    rows, cols = offdiag_indices(n)
    c = jnp.asarray(_contrast(n))
    return jnp.concatenate(
        [
            c[rows],
            c[cols],
            geo.dist_bin_onehot[rows, cols],
            jnp.stack([a[rows, cols] for a in (geo.border, geo.language, geo.ec, geo.efta)], axis=1),
        ],
        axis=1,
    )


def make_gravity_regression(geo: Geography) -> Callable[[jax.Array], GravityMoments]:
    """Build the OLS operator once; return ``y [N, N] -> GravityMoments``.

    With X = QR (``jnp.linalg.qr``), the coefficients are b = R^{-1} Q' y_off, a fixed
    linear map P = R^{-1} Q' precomputed here, so the returned function is linear in y,
    jit-able and exactly differentiable. Then im = C b_im, ex = C b_ex, S = ex, m = im + ex.
    """
    n = geo.border.shape[0]
    x = gravity_design(geo)
    q, r = jnp.linalg.qr(x, mode="reduced")
    proj = solve_triangular(r, q.T, lower=False)  # [K, N(N-1)]
    rows, cols = offdiag_indices(n)
    c = jnp.asarray(_contrast(n))
    m = n - 1

    def regress(y) -> GravityMoments:
        b = proj @ jnp.asarray(y, jnp.float64)[rows, cols]
        im = c @ b[:m]
        ex = c @ b[m : 2 * m]
        t = b[2 * m :]
        return GravityMoments(
            S=ex,
            m=im + ex,
            dist=t[:N_DIST_BINS],
            border=t[N_DIST_BINS],
            language=t[N_DIST_BINS + 1],
            EC=t[N_DIST_BINS + 2],
            EFTA=t[N_DIST_BINS + 3],
        )

    return regress


def gravity_regression(y, geo: Geography) -> GravityMoments:
    """OLS over the N(N-1) pairs i != j of

        y_ij = im_i + ex_j + sum_k dist_k bin_k(ij) + b border + l lang + e EC + f EFTA,

    sum(im) = sum(ex) = 0, no intercept; returns S_j = ex_j, m_i = im_i + ex_i, the
    coefficients. For repeated calls on one geography use :func:`make_gravity_regression`.
    """
    return make_gravity_regression(geo)(y)
