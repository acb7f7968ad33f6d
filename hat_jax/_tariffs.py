"""Ad-valorem tariffs (model.md sections 1 and 14): checks, builders and revenue.

t[i, j] >= 0 is the tariff importer i levies on j's variety (t[i, i] = 0). Consumers
pay p_ij = (1 + t_ij) d_ij W_j / A_j; the producer receives d_ij W_j / A_j per unit
consumed, so i's spending M_ij (at consumer prices) is worth M_ij / (1 + t_ij) to the
seller, and importer i collects

    Rev_i = sum_j t_ij / (1 + t_ij) M_ij,

rebated lump sum: every household of i receives T_i = Rev_i / L_i.

An economy without a tariff matrix (``Economy.tariffs is None``, the default) is free
trade and solves exactly the program it solved before tariffs existed; an economy with
a tariff matrix (zeros included) also solves the N transfers T_i with wages and R.
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
import numpy as np

__all__ = ["validate_tariffs", "uniform_tariffs", "tariff_war", "tariff_revenue",
           "producer_values", "free_trade"]


def validate_tariffs(t, N: int | None = None, countries: Sequence[str] | None = None,
                     what: str = "tariffs") -> np.ndarray:
    """Check a tariff matrix: N x N (importer rows, exporter columns), finite, t_ij >= 0,
    t_ii = 0. Returns it as float64; raises ValueError naming the entry (i, j) (with
    country labels when given) and its value."""
    t = np.asarray(t, dtype=np.float64)
    if N is None:
        N = len(countries) if countries is not None else (t.shape[0] if t.ndim else 0)
    labels = list(countries) if countries is not None else list(range(N))
    if t.shape != (N, N):
        raise ValueError(f"{what} must be {N} x {N} (importer rows, exporter columns: "
                         f"t[i, j] is i's tariff on j's variety), got shape {t.shape}")

    def name(i, j):
        tag = f" ({labels[i]} on {labels[j]})" if countries is not None else ""
        return f"{what}[{i}, {j}]{tag}"

    if not np.all(np.isfinite(t)):
        i, j = np.argwhere(~np.isfinite(t))[0]
        raise ValueError(f"{name(i, j)}={float(t[i, j])!r} is not finite: tariffs must be "
                         "finite numbers >= 0")
    if np.any(t < 0):
        i, j = np.unravel_index(int(np.argmin(t)), t.shape)
        raise ValueError(f"{name(i, j)}={float(t[i, j])!r} < 0: tariffs must be >= 0 "
                         "(import subsidies are not supported)")
    diag = np.diag(t)
    if np.any(diag != 0):
        k = int(np.argmax(np.abs(diag)))
        raise ValueError(f"{name(k, k)}={float(diag[k])!r}: a country levies no tariff "
                         "on its own (home) good, t[i, i] must be 0")
    return t


def free_trade(N: int) -> np.ndarray:
    """The N x N zero tariff matrix."""
    return np.zeros((N, N))


def uniform_tariffs(N: int, country: int, rate: float, base=None) -> np.ndarray:
    """``base`` (default zeros) with importer ``country``'s tariffs on every partner set
    to ``rate`` (the home entry stays 0)."""
    t = free_trade(N) if base is None else np.array(base, dtype=np.float64)
    t[country, :] = rate
    t[country, country] = 0.0
    return validate_tariffs(t, N)


def tariff_war(N: int, rate: float) -> np.ndarray:
    """Every country levies ``rate`` on every partner: rate (1 - I)."""
    return validate_tariffs(rate * (1.0 - np.eye(N)), N)


def producer_values(M, t):
    """M_ij / (1 + t_ij): i's spending on j's variety at the producer's price."""
    return M / (1.0 + t)


def tariff_revenue(M, t):
    """Rev_i = sum_j t_ij / (1 + t_ij) M_ij (M at consumer prices)."""
    return jnp.sum(M * (t / (1.0 + t)), axis=1)
