"""Synthetic worlds: small economies whose "data" are the model's own moments at known
parameters (the self-check ``hat calibrate synthetic`` and the tests)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._deprecation import renamed_keywords
from .._gravity import (N_DIST_BINS, Geography, geography_from_arrays, gravity_design,
                       log_share_ratios, n_params)
from .._params import make_economy
from .._results import ConvergenceError
from ._moments import compiled_evaluator, initial_household_state
from ._options import CalibrationOptions
from ._problem import CalibrationProblem

__all__ = ["synthetic_geography", "synthetic_params", "synthetic_problem", "synthetic_tables"]


def synthetic_geography(N: int, seed: int = 0) -> Geography:
    """A random symmetric geography for N >= 5 countries (the gravity regression has
    2(N-1) + 10 coefficients and N(N-1) pairs): distance bins and the four dummies drawn
    per unordered pair, redrawn until the gravity design has full column rank and every
    bin and dummy occurs."""
    if N < 5:
        raise ValueError(f"a synthetic world needs N >= 5 countries for the gravity "
                         f"regression to be identified, got N={N}")
    rng = np.random.default_rng(seed)
    K = n_params(N, N_DIST_BINS + 4)
    iu = np.triu_indices(N, 1)

    def sym(v, dtype=float):
        a = np.zeros((N, N), dtype)
        a[iu] = v
        return a + a.T

    for _ in range(1000):
        npairs = iu[0].size
        bins = rng.permutation(np.resize(np.arange(N_DIST_BINS), npairs))
        dist_bin = sym(bins, int)
        np.fill_diagonal(dist_bin, -1)
        dummies = [sym(rng.random(npairs) < q) for q in (0.3, 0.35, 0.3, 0.3)]
        geo = geography_from_arrays(dist_bin, *dummies)
        X = np.asarray(gravity_design(geo))
        if all(np.any(d) for d in dummies) and np.linalg.matrix_rank(X) == K:
            return geo
    raise RuntimeError(f"could not draw an identified geography for N={N}")  # pragma: no cover


def synthetic_params(N: int, seed: int = 0) -> np.ndarray:
    """Known parameters for a synthetic world: log A in [-0.4, 0.4] (log A_N = 0), mu in
    [-0.3, 0.3] (summing to zero), Eaton-Kortum-like distance bins (-3.1 .. -6.6) and
    border 0.3, language 0.5, EC 0.05, EFTA 0.5."""
    rng = np.random.default_rng(seed + 1)
    logA = rng.uniform(-0.4, 0.4, N - 1)
    mu = rng.uniform(-0.3, 0.3, N)
    mu = mu - mu.mean()
    common = np.array([-3.1, -3.7, -4.0, -4.2, -6.1, -6.6, 0.3, 0.5, 0.05, 0.5])
    return np.concatenate([logA, mu[:-1], common])


@renamed_keywords(theta="params")
def synthetic_problem(N: int = 6, Na: int = 20, seed: int = 0, *, params=None,
                      gamma: float = 1.5, sigma: float = 0.25, psi_slope: float = 0.0,
                      R: float = 1.01, options: CalibrationOptions | None = None):
    """A small world whose "data" are produced by the model at known parameters.

    Geography from :func:`synthetic_geography`, L uniform in [0.5, 2], parameters
    ``params`` (default :func:`synthetic_params`); the target moments and the data trade
    are those of the model's equilibrium at params (solved with ``options``' settings,
    by the same compiled evaluator a calibration uses). Returns (problem, params, W, beta)
    with the equilibrium wages and beta at params (ConvergenceError if that equilibrium
    does not converge).
    """
    options = CalibrationOptions() if options is None else options
    geo = synthetic_geography(N, seed)
    params = synthetic_params(N, seed) if params is None else np.asarray(params, np.float64)
    L = np.random.default_rng(seed + 2).uniform(0.5, 2.0, N)
    econ = make_economy(np.ones((N, N)), np.ones(N), L, gamma=gamma, sigma=sigma,
                        beta=0.9, psi_slope=psi_slope, Na=Na,
                        countries=tuple(f"C{i + 1}" for i in range(N)))
    K = n_params(N, geo.n_coef)
    blank = CalibrationProblem(econ, geo, jnp.zeros(K), jnp.zeros((N, N)),
                               jnp.asarray(R, jnp.float64))
    W0, beta0 = np.ones(N), np.asarray(0.95 / R)
    s0 = initial_household_state(blank, params, W0, beta0)
    args = (params, blank, W0, beta0, s0, np.asarray(-1.0), np.asarray(0.0))
    ev = jax.block_until_ready(compiled_evaluator(args, options.equilibrium)(*args))
    if not bool(ev.converged):
        raise ConvergenceError("the synthetic world's equilibrium did not converge "
                               f"(residual {float(ev.residual):.3e})")
    problem = CalibrationProblem(econ, geo, jnp.asarray(np.asarray(ev.model)),
                                 log_share_ratios(ev.trade_shares),
                                 jnp.asarray(R, jnp.float64))
    return problem, params, np.asarray(ev.W), float(ev.beta)


@renamed_keywords(theta="params")
def synthetic_tables(folder, N: int = 8, seed: int = 0, *, Na: int = 20,
                     estimator: str = "ols", params=None, **settings):
    """Tidy tables (:mod:`hat_jax.tables`) of an N-country world whose flows are the
    model's own at known parameters: countries ``C1..CN`` with L uniform in [0.5, 2],
    random positions in a 3000 x 3000 square (distance = Euclidean + 100), a symmetric
    ``border`` dummy, gravity specification log distance + border (``const``,
    ``log_distance``, ``border``) with ``estimator``; Theta (default: log A in [-0.3, 0.3],
    mu in [-0.2, 0.2], coefficients 2.0, -1.2, 0.5) -> equilibrium at beta unknown, R of
    the settings (default 1.01) -> flows = trade shares. ``settings``: model settings
    written to spec.json (Na included). Returns (folder, params); ConvergenceError if the
    equilibrium does not converge."""
    import pandas as pd

    from .._equilibrium import EquilibriumOptions, Start, solve_equilibrium
    from ..tables import GravitySpec, world_from_tables, write_tables

    rng = np.random.default_rng(seed)
    iso = [f"C{k + 1}" for k in range(N)]
    countries = pd.DataFrame({"iso3": iso, "name": iso, "L": rng.uniform(0.5, 2.0, N)})
    I, J = (a.ravel() for a in np.meshgrid(range(N), range(N), indexing="ij"))
    off = I != J
    xy = rng.uniform(0, 3000, (N, 2))
    near = np.linalg.norm(xy[:, None] - xy[None], axis=-1) < 1200
    gravity = pd.DataFrame({"importer": np.take(iso, I[off]), "exporter": np.take(iso, J[off]),
                            "distance": np.linalg.norm(xy[I[off]] - xy[J[off]], axis=1) + 100,
                            "border": near[I[off], J[off]].astype(float)})
    flows = pd.DataFrame({"importer": np.take(iso, I), "exporter": np.take(iso, J),
                          "value": 1.0})
    if params is None:
        params = np.concatenate([rng.uniform(-0.3, 0.3, N - 1), rng.uniform(-0.2, 0.2, N - 1),
                                [2.0, -1.2, 0.5]])
    spec = GravitySpec(distance="log", covariates=("border",), estimator=estimator)
    model = dict(settings, Na=Na)
    world = world_from_tables(countries=countries, flows=flows, gravity=gravity, spec=spec,
                              params=params, **model)
    eq = solve_equilibrium(world.economy, EquilibriumOptions(unknown="beta"),
                           Start(W=np.ones(N), R=world.R, beta=0.95 / world.R))
    flows["value"] = np.asarray(eq.world.aggregates.trade_shares).ravel()
    write_tables(folder, countries=countries, flows=flows, gravity=gravity, spec=spec,
                 model=model)
    return folder, np.asarray(params, np.float64)
