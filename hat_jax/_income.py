"""Income processes: Rouwenhorst discretisation and the persistent x transitory mixture.

Reference convention (model.md section 2): z = exp(y_P + x_T), y_P a 5-state
Rouwenhorst AR(1) (rho = 0.9, innovation variance 0.039), x_T a 2-state iid Rouwenhorst
component (variance 0.0522); states ordered persistent-outer, transitory-inner
(index = iP * 2 + iT); P = kron(P_P, P_T); z rescaled so that E[z] = 1 under the
stationary distribution of P.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "IncomeProcess", "rouwenhorst", "stationary_of_chain", "validate_transition",
    "income_process", "custom_income_process",
]


class IncomeProcess(NamedTuple):
    """A finite Markov chain for labour productivity.

    z: productivity levels [Nz] (mean one under ``stationary``); P: transition [Nz, Nz]
    (rows sum to one); stationary: its invariant distribution [Nz]; y_P: the persistent
    component's log grid point of each state, before the mean normalisation (used by
    the quality shifter psi).
    """

    z: np.ndarray
    P: np.ndarray
    stationary: np.ndarray
    y_P: np.ndarray


def rouwenhorst(n: int, rho: float, sigma_eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Rouwenhorst (1995) discretisation of y' = rho y + eps, eps ~ N(0, sigma_eps^2).

    Grid: n equally spaced points on [-psi, psi], psi = sqrt(n - 1) sigma_eps / sqrt(1 - rho^2);
    transition built recursively with p = q = (1 + rho) / 2. Returns (grid [n], P [n, n]).
    """
    if n < 2:
        raise ValueError(f"rouwenhorst: n must be >= 2, got n={n}")
    if not -1.0 < rho < 1.0:
        raise ValueError(f"rouwenhorst: rho must lie in (-1, 1), got rho={rho}")
    if sigma_eps < 0:
        raise ValueError(f"rouwenhorst: sigma_eps must be >= 0, got sigma_eps={sigma_eps}")
    p = (1.0 + rho) / 2.0
    P = np.array([[p, 1.0 - p], [1.0 - p, p]])
    for m in range(3, n + 1):
        Q = np.zeros((m, m))
        Q[:-1, :-1] += p * P
        Q[:-1, 1:] += (1.0 - p) * P
        Q[1:, :-1] += (1.0 - p) * P
        Q[1:, 1:] += p * P
        Q[1:-1, :] /= 2.0
        P = Q
    psi = np.sqrt(n - 1) * sigma_eps / np.sqrt(1.0 - rho**2)
    return np.linspace(-psi, psi, n), P


def stationary_of_chain(P: np.ndarray) -> np.ndarray:
    """Invariant distribution pi = pi P of a stochastic matrix (eigenvector for eigenvalue 1)."""
    n = P.shape[0]
    A = np.vstack([P.T - np.eye(n), np.ones((1, n))])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    pi, *_ = np.linalg.lstsq(A, b, rcond=None)
    return pi


def validate_transition(P, name: str = "P") -> np.ndarray:
    """Check that P is a square stochastic matrix (non-negative, rows summing to one)."""
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError(f"{name} contains non-finite entries")
    if np.any(P < -1e-14):
        raise ValueError(f"{name} is not a stochastic matrix: min entry {float(P.min()):.3g} < 0")
    rows = P.sum(axis=1)
    if np.max(np.abs(rows - 1.0)) > 1e-10:
        bad = int(np.argmax(np.abs(rows - 1.0)))
        raise ValueError(
            f"{name} is not a stochastic matrix: row {bad} sums to {float(rows[bad])!r}, not 1"
        )
    return P


def income_process(
    n_persistent: int = 5,
    rho: float = 0.9,
    var_persistent: float = 0.039,
    n_transitory: int = 2,
    var_transitory: float = 0.0522,
) -> IncomeProcess:
    """The reference persistent x transitory income process (model.md section 2).

    z = exp(y_P + x_T) / E[exp(y_P + x_T)], P = kron(P_P, P_T), state index
    iP * n_transitory + iT.
    """
    if var_persistent < 0 or var_transitory < 0:
        raise ValueError(
            f"income variances must be >= 0, got var_persistent={var_persistent}, "
            f"var_transitory={var_transitory}"
        )
    yP, PP = rouwenhorst(n_persistent, rho, np.sqrt(var_persistent))
    if n_transitory == 1:
        xT, PT = np.zeros(1), np.ones((1, 1))
    else:
        # iid component: rho = 0, so the innovation variance is the component's variance.
        xT, PT = rouwenhorst(n_transitory, 0.0, np.sqrt(var_transitory))
    P = np.kron(PP, PT)
    logz = (yP[:, None] + xT[None, :]).reshape(-1)
    stat = stationary_of_chain(P)
    z = np.exp(logz)
    z = z / (stat @ z)
    y_P = np.repeat(yP, n_transitory)
    return IncomeProcess(z=z, P=P, stationary=stat, y_P=y_P)


def custom_income_process(z, P, y_P=None) -> IncomeProcess:
    """A user-given chain (validated); z is rescaled to mean one under its stationary law."""
    P = validate_transition(P, "P (income transition matrix)")
    z = np.asarray(z, dtype=np.float64)
    if z.shape != (P.shape[0],):
        raise ValueError(f"z must have shape ({P.shape[0]},) to match P, got {z.shape}")
    if np.any(z <= 0) or not np.all(np.isfinite(z)):
        raise ValueError(f"productivity levels z must be positive and finite, got {z}")
    stat = stationary_of_chain(P)
    z = z / (stat @ z)
    y_P = np.zeros_like(z) if y_P is None else np.asarray(y_P, dtype=np.float64)
    return IncomeProcess(z=z, P=P, stationary=stat, y_P=y_P)
