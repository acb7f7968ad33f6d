"""The 19-country Eaton-Kortum world (model.md sections 7, 8 and 13).

An :class:`EKWorld` bundles what the ``ek_*`` presets are made of: the data
(:class:`~hat_jax.data.EKData`, ISO3 labels in ``countries.csv`` order), the structural
parameters Theta (46, layout of :mod:`hat_jax._gravity`), the :class:`~hat_jax._params.Economy`
they imply, the target R of the bond market (beta is the unknown) and the published
equilibrium prices as a starting point.

Preset settings (model.md section 13; all phi = 0.5, amax = 8, Na = 100, R = 1.01
except ``ek_paper_2023``):

=================  =====  ======  =========  =====  =========================
preset             gamma  sigma   psi_slope  R      published vectors
=================  =====  ======  =========  =====  =========================
``ek_baseline``    1.45   0.33    0.725      1.01   ``hat-baseline/baseline-*``
``ek_no_quality``  1.45   0.33    0          1.01   ``hat-baseline/no-quality-*``
``ek_log``         1.0    0.2369  0          1.01   ``hat-baseline/log-*``
``ek_paper_2023``  1.5    0.25    0          1.015  none (to be calibrated)
=================  =====  ======  =========  =====  =========================

The settings come from the one preset registry (:mod:`hat_jax._preset_registry`);
:data:`EK_PRESETS` (presets with published vectors) and :data:`EK_UNPUBLISHED_PRESETS`
are views of it. ``ek_paper_2023`` has no published vectors: its default Theta is the
cold start from the data (:func:`static_ek_start`: the static Eaton-Kortum model
inverted with trade elasticity theta_d), its starting beta (the economy's beta) 0.95/R,
``start("cold")`` works as for the other presets and ``start("published")`` raises
ValueError. Calibrate it with ``hat calibrate ek_paper_2023 --start cold``
(:mod:`hat_jax.calibration`). "Start" means the kind of starting point, as defined in
:mod:`hat_jax._preset_registry`.

Theta -> economy: A_i = exp(log A_i) (A_USA = 1), d_ij = max(1, exp(-(dist_k + b border +
l lang + e EC + f EFTA + mu_i)/theta_d)) with theta_d = 4 (:func:`hat_jax._gravity.trade_costs`;
where the clamp binds the derivative of d_ij is zero). L_i from ``ek2002/ek-labor.csv``.
The country scaling of sigma, psi and the asset grid is the Economy's (``scale_by_tfp``).
:func:`economy_from_params` is a pure JAX function of Theta (jit-able, differentiable).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np

from ._deprecation import renamed_keywords, warn_renamed
from .data import EKData, PublishedVectors
from ._gravity import (
    Geography,
    GravityMoments,
    TradeCostParams,
    gravity_regression,
    pack_params,
    tfp,
    trade_costs,
    unpack_params,
)
from ._params import Economy
from ._preset_registry import REGISTRY, START_KINDS, names
from ._results import check_choice

__all__ = [
    "EK_PRESETS",
    "EK_UNPUBLISHED_PRESETS",
    "THETA_D",
    "EKWorld",
    "economy_from_params",
    "static_ek_start",
    "data_moments",
    "model_moments",
]

#: Curvature of the trade-cost function (gravity coefficients are -theta_d log d).
THETA_D = 4.0

def _ek_spec(name: str) -> dict:
    p = REGISTRY[name]
    return dict(p.settings, published=p.published, R=p.R)


#: Settings of the ek_* presets with published vectors: utility, the published vectors'
#: name and the bond-market target R (a view of :data:`hat_jax._preset_registry.REGISTRY`).
EK_PRESETS = {name: _ek_spec(name) for name in names(from_data=True, published=True)}

#: The ek_* presets without published vectors (to be calibrated, see hat_jax.calibration):
#: built by :func:`ek_world` like those of EK_PRESETS; Theta defaults to the cold start.
EK_UNPUBLISHED_PRESETS = {name: _ek_spec(name)
                          for name in names(from_data=True, published=False)}



@renamed_keywords(theta="params")
def economy_from_params(params, base: Economy, geography: Geography,
                        theta_d: float = THETA_D) -> Economy:
    """The economy ``base`` with A and d from Theta (pure JAX; differentiable in Theta).

    A = exp(log A) with A_N = 1; d from :func:`hat_jax._gravity.trade_costs` (Theta has
    2(N-1) + C entries, C the geography's covariates).
    """
    p = unpack_params(params, geography.n_coef)
    return base.replace(A=tfp(p), d=trade_costs(p, geography, theta_d))


@dataclass(frozen=True, eq=False)
class EKWorld:
    """An economy built from trade data: the 19-country Eaton-Kortum presets, or a world
    from your own tables (:func:`hat_jax.tables.world_from_tables`).

    name: the preset (or ``tables:DIR``); economy: the :class:`Economy` (ISO3
    ``countries``; its ``beta`` is the published beta, the starting guess when beta is
    solved); data: the loaded data (:class:`~hat_jax.data.EKData` or
    :class:`~hat_jax.tables.TradeTables`: ``iso3``, ``trade`` = log(X_ij/X_ii), ``L``,
    ``geography()``); params: the K = 2(N-1) + C structural parameters; published: the
    published vectors (or None); R: the target gross interest rate (beta is the
    equilibrium unknown); estimator: ``"ols"`` or ``"ppml"`` (gravity moments of data
    and model).
    """

    name: str
    economy: Economy
    data: EKData
    params: np.ndarray
    published: PublishedVectors | None
    R: float = 1.01
    theta_d: float = THETA_D
    estimator: str = "ols"
    geography: Geography = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "geography", self.data.geography())

    @property
    def countries(self) -> tuple[str, ...]:
        return self.data.iso3

    @property
    def theta(self) -> np.ndarray:
        """Deprecated name of :attr:`params` (``theta`` is the trade elasticity)."""
        warn_renamed("EKWorld.theta", "EKWorld.params (theta is the trade elasticity)")
        return self.params

    @property
    def cost_params(self) -> TradeCostParams:
        """The parameters as :class:`~hat_jax.calibration.TradeCostParams` (A, mu, z coefficients)."""
        return unpack_params(self.params, self.geography.n_coef)

    @property
    def coef_names(self) -> tuple[str, ...]:
        """Names of the C covariate coefficients (EK: dist_1..6, border, language, EC, EFTA)."""
        return self.geography.names

    def start(self, kind: str = "published"):
        """Starting prices (W0, R0, beta0) of a start kind, for the "beta" mode at the
        target R (R0 = R).

        ``"published"``: the published wages and beta; ``"cold"``: W = 1 and beta = 0.95/R
        (the kinds of :data:`hat_jax._preset_registry.START_KINDS`).
        """
        check_choice("start", kind, START_KINDS)
        if kind == "published":
            if self.published is None:
                raise ValueError(f"{self.name}: no published prices to start from (preset "
                                 f"{self.name!r} has no published vectors; use start 'cold')")
            return np.asarray(self.published.wages), self.R, float(self.published.beta)
        return np.ones(self.economy.N), self.R, 0.95 / self.R  # "cold"

    def data_moments(self) -> GravityMoments:
        """Gravity moments of the trade data."""
        return data_moments(self.data, self.estimator)

    def model_moments(self, trade_shares) -> GravityMoments:
        """Gravity moments of model trade shares pi_ij (importer rows)."""
        return model_moments(trade_shares, self.geography, self.estimator)


def data_moments(data: EKData, estimator: str = "ols") -> GravityMoments:
    """The gravity regression of model.md section 7 on log(X_ij / X_ii) of the data
    (``"ols"``), or PPML on X_ij / X_ii (``"ppml"``). ValueError if PPML does not converge,
    or for N = 2 (the two pairs do not identify the effects)."""
    if data.n < 3:
        raise ValueError(f"gravity moments need N >= 3 countries, got N = {data.n}: with two "
                         "countries the importer and exporter effects are not separately "
                         "identified (give params to build and solve the world)")
    gm = gravity_regression(jnp.asarray(data.trade), data.geography(), estimator)
    if not np.all(np.isfinite(np.asarray(gm.coef))):
        raise ValueError(f"the {estimator.upper()} gravity regression of the data did not "
                         "converge (for PPML: check that every country has positive "
                         "flows with several partners)")
    return gm


def model_moments(trade_shares, geography: Geography, estimator: str = "ols") -> GravityMoments:
    """The same regression on log(pi_ij / pi_ii) of model trade shares."""
    pi = jnp.asarray(trade_shares)
    y = jnp.log(pi) - jnp.log(jnp.diagonal(pi))[:, None]
    return gravity_regression(y, geography, estimator)


def static_ek_start(target, L, geography: Geography, theta_d: float = THETA_D):
    """Cold start from the data alone: invert the static Eaton-Kortum model.

    With trade elasticity theta_d, log(X_ij/X_ii) = S_j - S_i - theta_d log d_ij, so the
    cost parameters are the data moments themselves: mu_i = m_i, and the distance,
    border, language, EC and EFTA coefficients (log d_ij = -(...)/theta_d). Exporter
    effects give relative prices p_j = exp(-S_j/theta_d); static trade shares pi_ij =
    (d_ij p_j)^-theta_d / sum_k (d_ik p_k)^-theta_d; balanced trade Y_j = sum_i pi_ij Y_i
    gives incomes, wages W_j = Y_j / L_j (E[z] = 1) and TFP A_j = W_j / p_j, normalised
    to A_N = 1 (and W to mean one). Returns (Theta [K], W [N]).
    """
    target = np.asarray(target, np.float64)
    n = int(np.asarray(L).shape[0])
    m = n - 1
    if target.size != 2 * m + geography.n_coef:
        raise ValueError(f"target has {target.size} moments, expected 2(N-1) + C = "
                         f"{2 * m + geography.n_coef}")
    ex = np.append(target[:m], -target[:m].sum())
    mu = np.append(target[m:2 * m], -target[m:2 * m].sum())
    p = TradeCostParams(jnp.zeros(n), jnp.asarray(mu), jnp.asarray(target[2 * m:]))
    d = np.asarray(trade_costs(p, geography, theta_d))
    price = np.exp(-ex / theta_d)
    x = (d * price[None, :]) ** (-theta_d)
    pi = x / x.sum(axis=1, keepdims=True)
    M = pi.T - np.eye(n)
    M[-1] = 1.0
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    Y = np.linalg.solve(M, rhs)
    W = Y / np.asarray(L, np.float64)
    A = W / price
    A = A / A[-1]
    params = np.asarray(pack_params(p._replace(log_A=jnp.asarray(np.log(A)))))
    return params, W / W.mean()
