"""What a calibration fits (:class:`CalibrationProblem`) and the names of its K
parameters and K moments (the layout of :mod:`hat_jax._gravity`)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._deprecation import renamed_keywords
from .._ek import THETA_D, EKWorld
from .._gravity import COMMON_NAMES, ESTIMATORS, Geography, n_params
from .._params import Economy
from .._results import check_choice

__all__ = ["CalibrationProblem", "COMMON_NAMES", "problem_from_world", "parameter_names",
           "moment_names", "trade_cost_levels"]



class CalibrationProblem(eqx.Module):
    """What a calibration fits (a pytree; pass it to jitted functions as an argument).

    economy: the base economy (its A and d are replaced by those of Theta; its beta is
      not used, beta is solved); geography: pair characteristics; target: the K data
      moments (S_1..S_{N-1}, m_1..m_{N-1}, dist_1..6, border, language, EC, EFTA);
      data_trade: the data's log(X_ij / X_ii) [N, N] (for the fit figure only);
      R: the target gross interest rate; theta_d: trade-cost curvature (static);
      estimator: ``"ols"`` or ``"ppml"``, the gravity estimator of the model moments
      (static; the target must come from the same estimator).
      K = 2(N - 1) + C parameters and moments, C the geography's covariates (EK: 10).
    """

    economy: Economy
    geography: Geography
    target: jax.Array
    data_trade: jax.Array
    R: jax.Array
    theta_d: float = eqx.field(static=True, default=THETA_D)
    estimator: str = eqx.field(static=True, default="ols")

    def __check_init__(self):
        check_choice("estimator", self.estimator, ESTIMATORS)

    @property
    def N(self) -> int:
        return self.economy.N

    @property
    def K(self) -> int:
        return n_params(self.economy.N, self.geography.n_coef)

    @property
    def coef_names(self) -> tuple:
        """Names of the C covariate coefficients (the last C of Theta and the moments)."""
        return self.geography.names

    @property
    def countries(self) -> tuple:
        return self.economy.countries


def problem_from_world(world: EKWorld) -> CalibrationProblem:
    """The calibration problem of an Eaton-Kortum preset world: its economy, geography,
    the gravity moments of the data and the preset's target R."""
    return CalibrationProblem(
        economy=world.economy, geography=world.geography,
        target=jnp.asarray(np.asarray(world.data_moments().moment_vector()), jnp.float64),
        data_trade=jnp.asarray(np.asarray(world.data.trade), jnp.float64),
        R=jnp.asarray(float(world.R), jnp.float64), theta_d=float(world.theta_d),
        estimator=world.estimator)


def parameter_names(countries, coef_names=COMMON_NAMES) -> list[str]:
    """Names of the K parameters: logA_ISO, mu_ISO (countries 1..N-1), then the
    coefficient names (EK: dist_1..6, border, language, EC, EFTA)."""
    c = list(countries)[:-1]
    return [f"logA_{x}" for x in c] + [f"mu_{x}" for x in c] + list(coef_names)


def moment_names(countries, coef_names=COMMON_NAMES) -> list[str]:
    """Names of the K moments: S_ISO, m_ISO (countries 1..N-1), then the coefficient
    names (EK: dist_1..6, border, language, EC, EFTA)."""
    c = list(countries)[:-1]
    return [f"S_{x}" for x in c] + [f"m_{x}" for x in c] + list(coef_names)


@renamed_keywords(theta="params")
def trade_cost_levels(params, theta_d: float = THETA_D, coef_names=COMMON_NAMES) -> dict:
    """exp(-x/theta_d) for the covariate coefficients x of Theta (the last C; EK: the
    distance bins, border, language, EC, EFTA): the trade-cost factor each implies
    (< 1 lowers costs)."""
    params = np.asarray(params, np.float64)
    tail = params[-len(coef_names):]
    return {name: float(np.exp(-v / theta_d)) for name, v in zip(coef_names, tail)}
