"""The one registry of named presets (model.md section 13): what each name is built from.

Every other table is a view of :data:`REGISTRY`: ``hat_jax.PRESETS`` (name -> factory) and
:func:`hat_jax._presets.solve_defaults` in :mod:`hat_jax._presets`, ``EK_PRESETS`` and
``EK_UNPUBLISHED_PRESETS`` in :mod:`hat_jax._ek`. This module imports nothing of the
library, so that both :mod:`hat_jax._ek` (which builds the data presets) and
:mod:`hat_jax._presets` (which holds the factories) can read it.

**Start** has one meaning everywhere: the *kind* of point the iterations begin from.

* ``"published"``: the published equilibrium of the preset (wages W and beta; for a
  calibration also the published Theta). Only for presets with published vectors.
* ``"cold"``: from the data alone: W = 1, beta = 0.95 / R (for a calibration Theta is the
  static Eaton-Kortum inversion, :func:`hat_jax._ek.static_ek_start`).

:attr:`Preset.start` is a preset's default kind (None for the presets without data, which
start from the solver's default guess). ``EKWorld.start(kind)`` gives the prices of a kind,
``hat_jax.calibration.starting_point(world, kind)`` the calibration start of the same kind
(which also accepts a params file), ``hat_jax._presets.preset_start(name, kind)`` the prices
by preset name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

__all__ = ["ECONOMY_SETTINGS", "Preset", "REGISTRY", "START_KINDS", "preset_record", "names"]

#: The kinds of starting point (see the module docstring).
START_KINDS = ("published", "cold")
#: The Economy settings every preset factory takes as keyword overrides (the keywords of
#: :func:`hat_jax._params.make_economy` after its arrays).
ECONOMY_SETTINGS = frozenset({"gamma", "sigma", "beta", "psi_slope", "phi", "amax", "Na",
                              "income", "countries", "scale_by_tfp", "cost_floor",
                              "tariffs", "wedges"})


@dataclass(frozen=True)
class Preset:
    """One named preset.

    name: the preset's name. settings: its Economy settings (gamma, sigma, psi_slope, and
    for the presets without data beta, d). from_data: built from the Eaton-Kortum data
    (an :class:`hat_jax._ek.EKWorld`; A and d from Theta, L from the data). published: the
    name of its published vectors under ``hat-baseline/`` (None: none; Theta then
    defaults to the cold start). unknown: the equilibrium unknown solved by default ("R"
    at the economy's beta, or "beta" at the target ``R``). R: the target gross interest
    rate of the "beta" mode (None when R is solved). start: the default start kind.
    """

    name: str
    settings: Mapping = field(default_factory=dict)
    from_data: bool = False
    published: str | None = None
    unknown: str = "R"
    R: float | None = None
    start: str | None = None

    @property
    def accepts(self) -> frozenset:
        """The keywords the preset's factory takes: every :data:`ECONOMY_SETTINGS`, plus
        ``d`` (a preset without data: its trade costs are a setting) or ``data_dir`` (a
        preset built from the Eaton-Kortum data: its d comes from Theta)."""
        return ECONOMY_SETTINGS | {"data_dir" if self.from_data else "d"}

    @property
    def has_published(self) -> bool:
        """Whether published vectors (Theta, wages, beta) exist for this preset."""
        return self.published is not None


def _ek(name, gamma, sigma, psi_slope, published, R) -> Preset:
    return Preset(name, MappingProxyType(dict(gamma=gamma, sigma=sigma, psi_slope=psi_slope)),
                  from_data=True, published=published, unknown="beta", R=R,
                  start="cold" if published is None else "published")


#: Every preset, by name (insertion order: the order of the documentation).
REGISTRY: Mapping[str, Preset] = MappingProxyType({p.name: p for p in (
    Preset("two_country", MappingProxyType(dict(gamma=1.5, sigma=0.25, beta=0.92, d=1.745))),
    Preset("two_country_log", MappingProxyType(dict(gamma=1.0, sigma=0.25, beta=0.92, d=2.05))),
    _ek("ek_baseline", 1.45, 0.33, 0.725, "baseline", 1.01),
    _ek("ek_no_quality", 1.45, 0.33, 0.0, "no-quality", 1.01),
    _ek("ek_log", 1.0, 0.2369, 0.0, "log", 1.01),
    _ek("ek_paper_2023", 1.5, 0.25, 0.0, None, 1.015),
)})


def preset_record(name: str) -> Preset:
    """The registry's record of ``name`` (ValueError listing the presets otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; available: "
                         f"{', '.join(sorted(REGISTRY))}") from None


def names(*, from_data: bool | None = None, published: bool | None = None) -> tuple[str, ...]:
    """Preset names, optionally only those built (not) from data / with (without)
    published vectors."""
    return tuple(p.name for p in REGISTRY.values()
                 if (from_data is None or p.from_data == from_data)
                 and (published is None or p.has_published == published))
