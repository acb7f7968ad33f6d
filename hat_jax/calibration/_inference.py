"""Statistical inference for the calibrated parameters (model.md section 16).

The gravity regression of the data (section 7) has a coefficient covariance; in the
moment layout (S_1..S_{N-1}, m_1..m_{N-1}, coefficients) it is V_m. The calibration is
exactly identified, m_model(params) = m_data, so by the implicit function theorem
d params / d m_data = G^{-1} (G = dg/dparams, the calibration's exact Jacobian) and by the
delta method

    V_params = G^{-1} V_m G^{-T}.

Covariance types of V_m (``cov``), for both estimators of :mod:`hat_jax._gravity`:

* ``"classical"``: OLS s^2 (X'X)^{-1}, s^2 = e'e / (P - K); PPML the Poisson
  information H^{-1}, H = X' diag(mu) X (scale one);
* ``"hc1"``: heteroskedasticity-robust sandwich B^{-1} X' diag(e^2) X B^{-1}; for OLS
  B = X'X, e the residuals, times P / (P - K) (HC1); for PPML the PPML sandwich, B = H,
  e = v - mu, no small-sample factor (statsmodels' GLM gives HC0 and HC1 alike);
* ``"cluster"``: clustered by country pair {i, j} (both directions of a pair in one
  cluster), B^{-1} (sum_g s_g s_g') B^{-1} times g/(g - 1) (P - 1)/(P - K), s_g the
  cluster's score X_g' e_g.

P = N(N - 1) pairs, K = 2(N - 1) + C coefficients. These are the formulas (and the
small-sample factors) of statsmodels' ``OLS`` and ``GLM(Poisson)`` with ``cov_type``
``"nonrobust"``, ``"HC1"`` and ``"cluster"`` (tests/test_inference.py checks them to
1e-8). The covariances are plain numpy: one small regression, not a hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._gravity import ESTIMATORS, Geography, gravity_design, offdiag_indices
from .._ppml import ppml_fit
from .._results import check_choice
from ._problem import CalibrationProblem, moment_names, parameter_names

__all__ = ["COVARIANCE_TYPES", "moment_covariance", "coefficient_covariance",
           "params_covariance", "delta_method_se", "ParamsInference", "params_inference",
           "calibration_inference", "params_draws", "bootstrap_summary"]

#: Covariance types of the gravity moments: classical, heteroskedasticity-robust (HC1),
#: clustered by country pair.
COVARIANCE_TYPES = ("classical", "hc1", "cluster")


def _pair_clusters(n: int) -> np.ndarray:
    """Cluster id of each off-diagonal pair (importer-major): the unordered pair {i, j}."""
    rows, cols = offdiag_indices(n)
    lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
    _, ids = np.unique(lo * n + hi, return_inverse=True)
    return ids


def _check_trade(trade, n: int, estimator: str) -> np.ndarray:
    y = np.asarray(trade, np.float64)
    if y.shape != (n, n):
        raise ValueError(f"trade must be the {n} x {n} matrix log(X_ij / X_ii) of the "
                         f"geography's countries, got shape {y.shape}")
    rows, cols = offdiag_indices(n)
    y = y[rows, cols]
    bad = np.isnan(y) | (y == np.inf) | ((y == -np.inf) & (estimator == "ols"))
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"trade: log(X_ij / X_ii) = {y[k]} for pair ({rows[k]}, {cols[k]})"
                         + (" (a zero flow: use estimator='ppml')" if estimator == "ols"
                            else ""))
    return y


def coefficient_covariance(trade, geography: Geography, estimator: str = "ols",
                           cov: str = "hc1") -> tuple[np.ndarray, np.ndarray]:
    """(b, V_b): the gravity regression's coefficients b (importer effects, exporter
    effects as sum-to-zero contrasts of countries 1..N-1, then the C covariates; the
    columns of :func:`hat_jax._gravity.gravity_design`) and their covariance of type
    ``cov`` (:data:`COVARIANCE_TYPES`). ``trade``: log(X_ij / X_ii) [N, N] (-inf, a zero
    flow, only with ``"ppml"``)."""
    check_choice("estimator", estimator, ESTIMATORS)
    check_choice("cov", cov, COVARIANCE_TYPES)
    n = geography.n
    y = _check_trade(trade, n, estimator)
    X = np.asarray(gravity_design(geography), np.float64)
    P, K = X.shape
    if estimator == "ols":
        bread = X.T @ X
        b = np.linalg.solve(bread, X.T @ y)
        e = y - X @ b
    else:
        b, ok, it = ppml_fit(X, np.exp(y))
        b = np.asarray(b, np.float64)
        if not ok:
            raise ValueError(f"the PPML gravity regression did not converge ({it} Newton "
                             "iterations): check that every country has positive flows")
        mu = np.exp(X @ b)
        bread = X.T @ (mu[:, None] * X)
        e = np.exp(y) - mu
    inv = np.linalg.inv(bread)
    if cov == "classical":
        s2 = float(e @ e) / (P - K) if estimator == "ols" else 1.0
        V = s2 * inv
    elif cov == "hc1":
        factor = P / (P - K) if estimator == "ols" else 1.0
        V = factor * inv @ (X.T @ ((e ** 2)[:, None] * X)) @ inv
    else:
        ids = _pair_clusters(n)
        g = int(ids.max()) + 1
        scores = np.zeros((g, K))
        np.add.at(scores, ids, X * e[:, None])
        factor = g / (g - 1) * (P - 1) / (P - K)
        V = factor * inv @ (scores.T @ scores) @ inv
    return b, 0.5 * (V + V.T)


def _moment_map(n: int, C: int) -> np.ndarray:
    """T with moments = T b: S_k = ex_k, m_k = im_k + ex_k (k < N), coefficients."""
    m = n - 1
    T = np.zeros((2 * m + C, 2 * m + C))
    T[:m, m:2 * m] = np.eye(m)
    T[m:2 * m, :m] = np.eye(m)
    T[m:2 * m, m:2 * m] = np.eye(m)
    T[2 * m:, 2 * m:] = np.eye(C)
    return T


def moment_covariance(trade, geography: Geography, estimator: str = "ols",
                      cov: str = "hc1") -> np.ndarray:
    """V_m [K, K]: the covariance of the gravity moments (S_1..S_{N-1}, m_1..m_{N-1},
    the C coefficients; the layout of :func:`hat_jax.calibration.moment_names`) of the
    regression of ``trade`` = log(X_ij / X_ii) on ``geography`` by ``estimator``
    (``"ols"`` or ``"ppml"``), of type ``cov``: ``"classical"``, ``"hc1"`` or
    ``"cluster"`` (by country pair). See the module docstring for the formulas."""
    _, V = coefficient_covariance(trade, geography, estimator, cov)
    T = _moment_map(geography.n, geography.n_coef)
    return T @ V @ T.T


def params_covariance(G, V_m) -> np.ndarray:
    """V_params = G^{-1} V_m G^{-T} (G = dg/dparams, the calibration's Jacobian)."""
    G = np.asarray(G, np.float64)
    V_m = np.asarray(V_m, np.float64)
    if G.ndim != 2 or G.shape[0] != G.shape[1] or V_m.shape != G.shape:
        raise ValueError(f"G and V_m must be K x K of one size, got {G.shape} and {V_m.shape}")
    Gi_V = np.linalg.solve(G, V_m)
    V = np.linalg.solve(G, Gi_V.T)
    return 0.5 * (V + V.T)


def delta_method_se(jacobian, V_params) -> np.ndarray:
    """Standard errors sqrt(diag(J V_params J')) of outputs with Jacobian ``J``
    [..., K] = d output / d params (any leading shape)."""
    J = np.asarray(jacobian, np.float64)
    V = np.asarray(V_params, np.float64)
    var = np.einsum("...k,kl,...l->...", J, V, J)
    return np.sqrt(np.maximum(var, 0.0))


@dataclass
class ParamsInference:
    """Standard errors of a calibration (model.md section 16).

    params [K]: the calibrated parameters; se [K]: their standard errors; V_params,
    V_m, G [K, K]: the parameter covariance, the moment covariance and the Jacobian
    dg/dparams at params; moments_se [K]: standard errors of the data moments; cov:
    the covariance type; estimator: the gravity estimator; parameter_names,
    moment_names: the K names; stats: seconds (``jacobian_s``: 0 when G was at hand,
    ``covariance_s``).
    """

    params: np.ndarray
    se: np.ndarray
    V_params: np.ndarray
    V_m: np.ndarray
    G: np.ndarray
    moments_se: np.ndarray
    cov: str
    estimator: str
    parameter_names: list
    moment_names: list
    stats: dict

    def dparams_dmoments(self) -> np.ndarray:
        """d params / d m_data = G^{-1} [K, K] (the calibration map's derivative)."""
        return np.linalg.inv(self.G)


def params_inference(problem: CalibrationProblem, params, G, cov: str = "hc1",
                     jacobian_s: float = 0.0) -> ParamsInference:
    """:class:`ParamsInference` at calibrated ``params`` with Jacobian ``G`` (from the
    calibration; :func:`hat_jax.calibration.moments_and_jacobian` computes it where it
    is not at hand): V_m of the problem's data trade (``problem.data_trade``, by
    ``problem.estimator``) of type ``cov``, V_params = G^{-1} V_m G^{-T}."""
    import time

    t0 = time.perf_counter()
    params = np.asarray(params, np.float64)
    G = np.asarray(G, np.float64)
    if params.shape != (problem.K,) or G.shape != (problem.K, problem.K):
        raise ValueError(f"params must have K = {problem.K} entries and G be K x K, got "
                         f"{params.shape} and {G.shape}")
    if not np.all(np.isfinite(G)):
        raise ValueError("G, the Jacobian of the moments, has non-finite entries")
    V_m = moment_covariance(problem.data_trade, problem.geography, problem.estimator, cov)
    V = params_covariance(G, V_m)
    names = problem.coef_names
    return ParamsInference(
        params=params, se=np.sqrt(np.maximum(np.diag(V), 0.0)), V_params=V, V_m=V_m, G=G,
        moments_se=np.sqrt(np.maximum(np.diag(V_m), 0.0)), cov=cov,
        estimator=problem.estimator,
        parameter_names=parameter_names(problem.countries, names),
        moment_names=moment_names(problem.countries, names),
        stats={"jacobian_s": float(jacobian_s), "covariance_s": time.perf_counter() - t0})


def calibration_inference(result, cov: str = "hc1", options=None,
                          checkpoint=None) -> ParamsInference:
    """:class:`ParamsInference` of a :class:`~hat_jax.calibration.CalibrationResult`:
    its Jacobian G when at hand (``result.jacobian``), else G computed once at the
    calibrated parameters (warm-started from the result's prices; ``options``:
    :class:`~hat_jax.calibration.CalibrationOptions`, default the defaults), then
    :func:`params_inference`. ``stats["jacobian_s"]``: the seconds spent on G (0 when
    it was at hand). ``checkpoint``: the calibration's checkpoint file; a G computed
    here is saved into it (when it holds these parameters), so a resumed calibration
    has G at hand (``hat calibrate --resume --se TYPE`` pays only the covariance)."""
    import time

    from ._moments import moments_and_jacobian

    check_choice("cov", cov, COVARIANCE_TYPES)
    G, seconds = result.jacobian, 0.0
    if G is None:
        t0 = time.perf_counter()
        _, G, ev = moments_and_jacobian(result.params, result.problem, W0=result.W,
                                        beta0=result.beta, options=options)
        seconds = time.perf_counter() - t0
        if not bool(ev.converged) or not bool(ev.has_G):
            raise ValueError("the Jacobian of the moments could not be computed at the "
                             "calibrated parameters (the equilibrium there did not converge)")
        if checkpoint is not None:
            _keep_jacobian(checkpoint, result, np.asarray(G))
    return params_inference(result.problem, result.params, G, cov, jacobian_s=seconds)


def _keep_jacobian(checkpoint, result, G) -> None:
    """Save G into ``checkpoint`` when its state is at ``result.params``."""
    from pathlib import Path

    from ._checkpoint import load_checkpoint, save_checkpoint

    if not Path(checkpoint).is_file():
        return
    st = load_checkpoint(checkpoint)
    if np.array_equal(np.asarray(st.params), np.asarray(result.params)):
        st.G, st.has_G = G, True
        save_checkpoint(checkpoint, st, result.fingerprint)


def params_draws(params, V_params, draws: int, seed: int = 0) -> np.ndarray:
    """[draws, K] parameter vectors from N(params, V_params) (the parametric bootstrap of
    model.md s.16; numpy's default_rng(seed), so a seed gives the same draws everywhere).
    V_params may be singular (a symmetric square root by eigendecomposition)."""
    params = np.asarray(params, np.float64)
    V = np.asarray(V_params, np.float64)
    if not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws must be a positive integer, got draws={draws!r}")
    if V.shape != (params.size, params.size):
        raise ValueError(f"V_params must be {params.size} x {params.size}, got {V.shape}")
    w, U = np.linalg.eigh(0.5 * (V + V.T))
    if np.min(w) < -1e-10 * max(np.max(np.abs(w)), 1e-300):
        raise ValueError(f"V_params is not positive semi-definite (eigenvalue {np.min(w):.3g})")
    root = U * np.sqrt(np.maximum(w, 0.0))
    z = np.random.default_rng(seed).standard_normal((int(draws), params.size))
    return params + z @ root.T


def bootstrap_summary(samples, level: float = 0.95) -> dict:
    """Bootstrap standard errors and percentile intervals of ``samples`` [draws, ...]
    (non-finite draws, failed solves, left out and counted): {"mean", "se" (standard
    deviation, ddof 1), "low", "high" (the (1 -+ level)/2 percentiles), "draws" (finite
    draws per output)}."""
    x = np.asarray(samples, np.float64)
    if x.ndim < 1 or x.shape[0] < 2:
        raise ValueError(f"samples must hold at least two draws, got shape {x.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got level={level!r}")
    q = 50 * (1 - level)
    return {"mean": np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0),
            "se": np.nanstd(np.where(np.isfinite(x), x, np.nan), axis=0, ddof=1),
            "low": np.nanpercentile(np.where(np.isfinite(x), x, np.nan), q, axis=0),
            "high": np.nanpercentile(np.where(np.isfinite(x), x, np.nan), 100 - q, axis=0),
            "draws": np.sum(np.isfinite(x), axis=0)}
