"""The settings of a calibration (:class:`CalibrationOptions`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .._equilibrium import EquilibriumOptions
from .._results import check_choice, check_option_values

__all__ = ["CALIBRATION_EQUILIBRIUM", "CalibrationOptions"]

#: The equilibrium settings of every moment evaluation (beta solved at R): tolerance
#: 5e-13 of world GDP, households 3e-12, distribution 1e-13, 40 Newton iterations (see
#: :class:`CalibrationOptions` for why they are tighter than the library defaults).
CALIBRATION_EQUILIBRIUM = EquilibriumOptions(unknown="beta", tol=5e-13, hh_tol=3e-12,
                                             dist_tol=1e-13, max_iter=40)


@dataclass(frozen=True)
class CalibrationOptions:
    """Settings of :func:`hat_jax.calibration.calibrate` (the one options object).

    tol: stop when max |moment gap| <= tol (1e-8). max_iter: Newton iterations (50; not
    part of the checkpoint fingerprint: a run stopped by it can be resumed with a larger
    one). max_step: cap on the sup norm of a Newton step in Theta (1.0). max_halvings:
    line search halvings before giving up (20). equilibrium: the
    :class:`~hat_jax.EquilibriumOptions` of every moment evaluation (unknown "beta";
    default :data:`CALIBRATION_EQUILIBRIUM`: tol, max |excess demand| / world GDP,
    5e-13; hh_tol, household fixed point, sup-norm change of c and v, 3e-12; dist_tol,
    distribution, sup-norm change, 1e-13; max_iter, Newton iterations per evaluation,
    40). verbose: one line per iteration on stderr (not part of the fingerprint).

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
    equilibrium: EquilibriumOptions = CALIBRATION_EQUILIBRIUM
    verbose: bool = True

    def __post_init__(self):
        check_option_values(self, positive=("tol", "max_step"))
        for name in ("max_iter", "max_halvings"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) \
                    or v < (0 if name == "max_iter" else 1):
                raise ValueError(f"{name} must be a non-negative integer, got {name}={v!r}")
        if not isinstance(self.equilibrium, EquilibriumOptions):
            raise ValueError("equilibrium must be an EquilibriumOptions, got "
                             f"equilibrium={self.equilibrium!r}")
        check_choice("equilibrium.unknown", self.equilibrium.unknown, ("beta",))
        check_choice("verbose", self.verbose, (True, False))

    def replace(self, **changes) -> "CalibrationOptions":
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def fingerprint(self) -> dict:
        """The settings that determine the path of the iterations (not max_iter/verbose),
        under the names the checkpoint files have always used (eq_tol, hh_tol, dist_tol,
        eq_max_iter for the equilibrium's)."""
        e = self.equilibrium
        return {"tol": self.tol, "max_step": self.max_step, "max_halvings": self.max_halvings,
                "eq_tol": e.tol, "hh_tol": e.hh_tol, "dist_tol": e.dist_tol,
                "eq_max_iter": e.max_iter}
