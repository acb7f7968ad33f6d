"""The settings of a calibration (:class:`CalibrationOptions`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..equilibrium import EquilibriumOptions

__all__ = ["CalibrationOptions"]


@dataclass(frozen=True)
class CalibrationOptions:
    """Settings of :func:`hat_jax.calibration.calibrate` (the one options object).

    tol: stop when max |moment gap| <= tol (1e-8). max_iter: Newton iterations (50; not
    part of the checkpoint fingerprint: a run stopped by it can be resumed with a larger
    one). max_step: cap on the sup norm of a Newton step in Theta (1.0). max_halvings:
    line search halvings before giving up (20). eq_tol: equilibrium tolerance, max
    |excess demand| / world GDP (5e-13). hh_tol: household fixed point, sup-norm change
    of c and v (3e-12). dist_tol: distribution, sup-norm change (1e-13). eq_max_iter:
    equilibrium Newton iterations per evaluation (40). verbose: one line per iteration
    on stderr (not part of the fingerprint).

    Why the equilibrium and household tolerances are tighter than the library defaults
    (1e-10, 1e-11): the excess demands are relative to world GDP, and the smallest
    economies of the Eaton-Kortum world have GDP shares of order 1e-3, so a residual r
    leaves their wages, and through them the gravity moments, uncertain by up to ~4000 r
    (measured: the same Theta solved from two starting points gave moments 3.8e-8 apart
    at eq_tol 1e-11, 2e-10 apart at 5e-13). The moments must be reproducible well below
    tol = 1e-8 for Newton to converge reliably. Household solves at 3e-12 put the floor of
    the excess demands near 2e-13 at Na = 100 (an equilibrium tolerance of 2e-13 was
    sometimes out of reach; household tolerances of 1e-12 stall at the rounding floor).
    """

    tol: float = 1e-8
    max_iter: int = 50
    max_step: float = 1.0
    max_halvings: int = 20
    eq_tol: float = 5e-13
    hh_tol: float = 3e-12
    dist_tol: float = 1e-13
    eq_max_iter: int = 40
    verbose: bool = True

    def __post_init__(self):
        for name in ("tol", "max_step", "eq_tol", "hh_tol", "dist_tol"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {name}={v!r}")
        for name in ("max_iter", "max_halvings", "eq_max_iter"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < (0 if name == "max_iter" else 1):
                raise ValueError(f"{name} must be a non-negative integer, got {name}={v!r}")

    def equilibrium_options(self) -> EquilibriumOptions:
        """The equilibrium settings used for every moment evaluation (beta solved at R)."""
        return EquilibriumOptions(unknown="beta", tol=self.eq_tol, hh_tol=self.hh_tol,
                                  dist_tol=self.dist_tol, max_iter=self.eq_max_iter)

    def fingerprint(self) -> dict:
        """The settings that determine the path of the iterations (not max_iter/verbose)."""
        d = asdict(self)
        d.pop("max_iter")
        d.pop("verbose")
        return d
