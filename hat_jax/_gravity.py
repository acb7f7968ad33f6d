"""Trade costs and the Eaton-Kortum gravity regression (model.md sections 7 and 8).

Conventions: ``X[i, j]`` is importer (buyer) ``i``, exporter (seller) ``j``. Everything
here is plain ``jax.numpy`` in float64 and differentiable; shapes are static, so the
functions can be ``jax.jit``-ed with the geography closed over or passed as an argument.

A :class:`Geography` holds C pair covariates z_ij (zero on the diagonal) with names; the
Eaton-Kortum world's are the six distance-bin dummies, border, language, EC and EFTA
(C = 10, :data:`COMMON_NAMES`), a world from your own tables has its own
(:mod:`hat_jax.tables`). Parameter / moment layout (length ``K = 2(N-1) + C``; 46 for
the Eaton-Kortum N = 19, C = 10; 0-based):

======================  ===============================  ===============================
positions               parameters Theta                  gravity moments
======================  ===============================  ===============================
``0 .. N-2``            log A_1..A_{N-1} (A_N = 1)        S_1..S_{N-1} (S_N = -sum)
``N-1 .. 2N-3``         mu_1..mu_{N-1} (mu_N = -sum)      m_1..m_{N-1} (m_N = -sum)
``2N-2 .. 2N-3+C``      coefficients of z (EK: dist_1..6, border, language, EC, EFTA)
======================  ===============================  ===============================

Two estimators give the moments from the same design (importer and exporter effects,
each summing to zero, and the covariates; no intercept): ``"ols"`` on
y_ij = log(X_ij / X_ii) (Eaton and Kortum) and ``"ppml"``, Poisson pseudo-maximum
likelihood on X_ij / X_ii (Santos Silva and Tenreyro; zeros allowed), in
:mod:`hat_jax._ppml`.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from ._deprecation import renamed_keywords
from ._ppml import make_ppml

#: Number of distance bins: [0,375), [375,750), [750,1500), [1500,3000), [3000,6000), [6000,max].
N_DIST_BINS = 6
#: Number of non-fixed-effect entries in an Eaton-Kortum parameter / moment vector (6 bins + 4 dummies).
N_COMMON = N_DIST_BINS + 4
#: Names of the Eaton-Kortum covariates (and of their coefficients).
COMMON_NAMES = tuple(f"dist_{k + 1}" for k in range(N_DIST_BINS)) + (
    "border", "language", "EC", "EFTA")
#: Gravity estimators: OLS on log share ratios, PPML on share ratios.
ESTIMATORS = ("ols", "ppml")

__all__ = [
    "N_DIST_BINS",
    "N_COMMON",
    "n_params",
    "COMMON_NAMES",
    "ESTIMATORS",
    "Geography",
    "geography_from_arrays",
    "geography_from_covariates",
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


class Geography(eqx.Module):
    """Pair covariates, importer rows / exporter columns, zero on the diagonal.

    ``covariates[i, j, c]`` is covariate c of pair (i, j) (``[N, N, C]``), ``names`` its
    C names (static). The Eaton-Kortum layout (:data:`COMMON_NAMES`) has the accessors
    ``dist_bin_onehot`` ``[N, N, 6]`` and ``border, language, ec, efta`` ``[N, N]``.
    """

    covariates: jax.Array  # [N, N, C]
    names: tuple = eqx.field(static=True, default=COMMON_NAMES)

    @property
    def n(self) -> int:
        return self.covariates.shape[0]

    @property
    def n_coef(self) -> int:
        return self.covariates.shape[2]

    def covariate(self, name: str) -> jax.Array:
        """The ``[N, N]`` covariate called ``name`` (KeyError listing the names)."""
        if name not in self.names:
            raise KeyError(f"no covariate {name!r}; this geography has {list(self.names)}")
        return self.covariates[..., self.names.index(name)]

    @property
    def dist_bin_onehot(self) -> jax.Array:
        return self.covariates[..., :N_DIST_BINS]

    @property
    def border(self) -> jax.Array:
        return self.covariate("border")

    @property
    def language(self) -> jax.Array:
        return self.covariate("language")

    @property
    def ec(self) -> jax.Array:
        return self.covariate("EC")

    @property
    def efta(self) -> jax.Array:
        return self.covariate("EFTA")


def geography_from_covariates(covariates, names) -> Geography:
    """A :class:`Geography` from ``[N, N, C]`` covariates (forced to zero on the diagonal:
    home purchases carry no trade cost) and their C names."""
    z = jnp.asarray(covariates, dtype=jnp.float64)
    names = tuple(str(x) for x in names)
    if z.ndim != 3 or z.shape[0] != z.shape[1] or z.shape[2] != len(names):
        raise ValueError(f"covariates must be [N, N, C] with C = {len(names)} names, "
                         f"got shape {z.shape}")
    off = 1.0 - jnp.eye(z.shape[0], dtype=jnp.float64)
    return Geography(z * off[..., None], names)


def geography_from_arrays(dist_bin, border, language, ec, efta) -> Geography:
    """The Eaton-Kortum :class:`Geography` from a 0-based bin index matrix (``-1`` on the
    diagonal) and the four dummies: covariates ``onehot[i, j, k] = 1{dist_bin[i, j] == k}``,
    border, language, EC, EFTA (names :data:`COMMON_NAMES`), zero on the diagonal.
    """
    dist_bin = jnp.asarray(dist_bin)
    onehot = (dist_bin[..., None] == jnp.arange(N_DIST_BINS)).astype(jnp.float64)
    rest = jnp.stack([jnp.asarray(x, jnp.float64) for x in (border, language, ec, efta)], -1)
    return geography_from_covariates(jnp.concatenate([onehot, rest], -1), COMMON_NAMES)


# ---------------------------------------------------------------- parameters and costs


class TradeCostParams(NamedTuple):
    """Structural parameters Theta in named form.

    ``log_A`` [N] with ``log_A[-1] = 0`` (numeraire technology), ``mu`` [N] importer
    cost effects summing to zero, ``coef`` [C] covariate coefficients (on the
    gravity-regression scale, i.e. minus theta_d times the log-cost effect). The
    Eaton-Kortum layout has the accessors ``dist`` [6], ``border, language, ec, efta``.
    """

    log_A: jax.Array
    mu: jax.Array
    coef: jax.Array

    @property
    def dist(self):
        return self.coef[:N_DIST_BINS]

    @property
    def border(self):
        return self.coef[N_DIST_BINS]

    @property
    def language(self):
        return self.coef[N_DIST_BINS + 1]

    @property
    def ec(self):
        return self.coef[N_DIST_BINS + 2]

    @property
    def efta(self):
        return self.coef[N_DIST_BINS + 3]


def n_params(N: int, C: int = N_COMMON) -> int:
    """K = 2(N-1) + C: the length of a parameter / moment vector of N countries and C
    coefficients (importer and exporter effects of countries 1..N-1, then the
    coefficients; the layout above). Its inverse in N is :func:`n_countries_from_length`."""
    return 2 * (int(N) - 1) + int(C)


def n_countries_from_length(k: int, n_coef: int = N_COMMON) -> int:
    """N from a parameter/moment vector length ``k = 2(N-1) + n_coef``."""
    if k < n_coef + 2 or (k - n_coef) % 2:
        raise ValueError(f"vector length {k} is not of the form 2(N-1)+{n_coef} with N >= 2")
    return (k - n_coef) // 2 + 1


@renamed_keywords(theta="params")
def unpack_params(params, n_coef: int = N_COMMON) -> TradeCostParams:
    """Theta (length 2(N-1)+C) -> named parameters, with log A_N = 0, mu_N = -sum mu_1..N-1."""
    params = jnp.asarray(params, dtype=jnp.float64)
    if params.ndim != 1:
        raise ValueError(f"params must be 1-D, got shape {params.shape}")
    n = n_countries_from_length(params.shape[0], n_coef)
    m = n - 1
    log_a = jnp.concatenate([params[:m], jnp.zeros(1, params.dtype)])
    mu_free = params[m : 2 * m]
    mu = jnp.concatenate([mu_free, -jnp.sum(mu_free, keepdims=True)])
    return TradeCostParams(log_a, mu, params[2 * m :])


def pack_params(p: TradeCostParams) -> jax.Array:
    """Inverse of :func:`unpack_params`: drops log A_N and mu_N (assumed 0 and -sum)."""
    return jnp.concatenate(
        [jnp.asarray(p.log_A, jnp.float64)[:-1], jnp.asarray(p.mu, jnp.float64)[:-1],
         jnp.asarray(p.coef, jnp.float64)]
    )


def log_trade_costs_unclamped(p: TradeCostParams, geo: Geography, theta_d=4.0) -> jax.Array:
    """x_ij = -(1/theta_d) [sum_c coef_c z_ij,c + mu_i] for i != j, and x_ii = 0 (log of
    the trade cost before the clamp at 1; EK: dist_k(ij) + b border + l lang + e EC + f EFTA)."""
    n = geo.n
    idx = geo.covariates @ p.coef + p.mu[:, None]
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
    (both sum to zero), ``coef`` [C] covariate coefficients (Eaton-Kortum accessors
    ``dist`` [6], ``border, language, EC, EFTA``).
    """

    S: jax.Array
    m: jax.Array
    coef: jax.Array

    @property
    def dist(self):
        return self.coef[:N_DIST_BINS]

    @property
    def border(self):
        return self.coef[N_DIST_BINS]

    @property
    def language(self):
        return self.coef[N_DIST_BINS + 1]

    @property
    def EC(self):
        return self.coef[N_DIST_BINS + 2]

    @property
    def EFTA(self):
        return self.coef[N_DIST_BINS + 3]

    def moment_vector(self) -> jax.Array:
        """See :func:`moment_vector`."""
        return moment_vector(self)

    def as_dict(self, names=COMMON_NAMES) -> dict:
        """Plain Python floats/lists: keys S, m and, for the Eaton-Kortum names, dist (6),
        border, language, EC, EFTA; otherwise one key per coefficient name."""
        out = {k: np.asarray(v, np.float64).tolist() for k, v in (("S", self.S), ("m", self.m))}
        coef = np.asarray(self.coef, np.float64)
        names = tuple(names)
        if names == COMMON_NAMES:
            out["dist"] = coef[:N_DIST_BINS].tolist()
            names, coef = names[N_DIST_BINS:], coef[N_DIST_BINS:]
        out.update({k: float(v) for k, v in zip(names, coef)})
        return out


def moment_vector(gm: GravityMoments) -> jax.Array:
    """[S_1..S_{N-1}, m_1..m_{N-1}, coef_1..C] (length 2(N-1)+C)."""
    return jnp.concatenate([gm.S[:-1], gm.m[:-1], jnp.asarray(gm.coef, jnp.float64)])


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
    """Design matrix X [N(N-1), 2(N-1)+C] over off-diagonal pairs (importer-major).

    Columns: importer effects (sum-to-zero contrast, N-1), exporter effects (same, N-1),
    the C covariates (EK: the six distance-bin dummies, no intercept, border, language,
    EC, EFTA).
    """
    n = geo.n
    rows, cols = offdiag_indices(n)
    c = jnp.asarray(_contrast(n))
    return jnp.concatenate([c[rows], c[cols], geo.covariates[rows, cols]], axis=1)


def make_gravity_regression(geo: Geography, estimator: str = "ols"
                            ) -> Callable[[jax.Array], GravityMoments]:
    """Build the estimator once; return ``y [N, N] -> GravityMoments`` (y = log(X_ij/X_ii)).

    ``"ols"``: with X = QR (``jnp.linalg.qr``), the coefficients are b = R^{-1} Q' y_off,
    a fixed linear map P = R^{-1} Q' precomputed here, so the returned function is linear
    in y, jit-able and exactly differentiable. ``"ppml"``: Poisson PML of exp(y_off) on X
    (:func:`hat_jax._ppml.make_ppml`: Newton / IRLS, differentiated implicitly; -inf in y,
    a zero flow, is allowed). Then im = C b_im, ex = C b_ex, S = ex, m = im + ex.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {list(ESTIMATORS)}, got {estimator!r}")
    n = geo.n
    x = gravity_design(geo)
    rows, cols = offdiag_indices(n)
    if estimator == "ols":
        q, r = jnp.linalg.qr(x, mode="reduced")
        proj = solve_triangular(r, q.T, lower=False)  # [K, N(N-1)]

        def fit(y_off):
            return proj @ y_off
    else:
        ppml = make_ppml(x)

        def fit(y_off):
            return ppml(jnp.exp(y_off))
    c = jnp.asarray(_contrast(n))
    m = n - 1

    def regress(y) -> GravityMoments:
        b = fit(jnp.asarray(y, jnp.float64)[rows, cols])
        ex = c @ b[m : 2 * m]
        return GravityMoments(S=ex, m=c @ b[:m] + ex, coef=b[2 * m :])

    return regress


@partial(jax.jit, static_argnames=("estimator",))  # one program per shapes and estimator
def gravity_regression(y, geo: Geography, estimator: str = "ols") -> GravityMoments:
    """The gravity regression over the N(N-1) pairs i != j of

        y_ij = im_i + ex_j + sum_c coef_c z_ij,c      (EK: dist_k + b border + l lang + ...),

    sum(im) = sum(ex) = 0, no intercept, by OLS on y = log(X_ij / X_ii) or PPML on
    exp(y); returns S_j = ex_j, m_i = im_i + ex_i, the coefficients. For repeated calls
    on one geography use :func:`make_gravity_regression`.
    """
    return make_gravity_regression(geo, estimator)(y)
