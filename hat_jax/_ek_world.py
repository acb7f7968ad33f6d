"""The ``ek_*`` presets as tables worlds: the packaged Eaton-Kortum (2002) data in the
tidy layout of :mod:`hat_jax.tables`, read by :func:`~hat_jax.tables.read_tables` and
built by the one world builder :func:`~hat_jax.tables.build_world` with the preset's
settings and published vectors (model.md sections 7 and 13).

The tables are those of :func:`ek_tables` (the worked example of your own data): flows
X_ij = exp(log(X_ij / X_ii)) with X_ii = 1, and as covariates the six distance-bin
dummies ``dist_1..dist_6``, border, language, EC and EFTA (not ``distance="bins"``: the
supplied AUS-GBR distance, 769 miles, disagrees with its bin 6).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ._deprecation import renamed_keywords
from ._ek import EKWorld, _ek_spec
from ._gravity import COMMON_NAMES
from ._params import Economy
from ._preset_registry import REGISTRY, names
from ._tables import MODEL_DEFAULTS, GravitySpec, build_world, read_tables, write_tables
from .data import load_ek2002, load_published

__all__ = ["ek_frames", "ek_tables", "ek_world", "ek_baseline", "ek_no_quality", "ek_log",
           "ek_paper_2023"]

_COMMON = dict(phi=0.5, amax=8.0, Na=100)


def ek_frames(data_dir=None, estimator: str = "ols", distance: bool = False
              ) -> tuple[dict[str, pd.DataFrame], GravitySpec]:
    """The Eaton-Kortum data as the three tidy frames (``countries``, ``flows``,
    ``gravity``) and their :class:`GravitySpec`; ``distance``: add the supplied
    distances as a column (not a regressor)."""
    ek = load_ek2002(data_dir)
    n = ek.n
    I, J = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    I, J = I.ravel(), J.ravel()
    iso = np.asarray(ek.iso3)
    countries = pd.DataFrame({"iso3": iso, "name": ek.names, "L": ek.L})
    flows = pd.DataFrame({"importer": iso[I], "exporter": iso[J],
                          "value": np.exp(np.asarray(ek.trade)).ravel()})
    off = I != J
    geo = np.asarray(ek.geography().covariates)
    gravity = pd.DataFrame({"importer": iso[I][off], "exporter": iso[J][off]})
    if distance:
        gravity["distance"] = np.asarray(ek.distance).ravel()[off]
    for k, name in enumerate(COMMON_NAMES):
        gravity[name] = geo[..., k].ravel()[off].astype(np.int64)
    spec = GravitySpec(distance=None, covariates=COMMON_NAMES, estimator=estimator)
    return {"countries": countries, "flows": flows, "gravity": gravity}, spec


def ek_tables(folder, data_dir=None, preset: str = "ek_baseline",
              estimator: str = "ols") -> os.PathLike:
    """The Eaton-Kortum (2002) data written in the tidy layout (the worked example):
    the frames of :func:`ek_frames` with ``distance`` as supplied; spec.json with the
    preset's model settings."""
    frames, spec = ek_frames(data_dir, estimator, distance=True)
    p = REGISTRY[preset]
    model = dict(p.settings, R=p.R)
    return write_tables(folder, **frames, spec=spec,
                        model={k: v for k, v in model.items() if k in MODEL_DEFAULTS})


@renamed_keywords(theta="params")
def ek_world(name: str = "ek_baseline", data_dir: str | os.PathLike | None = None, *,
             params=None, R: float | None = None, **overrides) -> EKWorld:
    """Build an ``ek_*`` preset world (a tables world of the packaged data, with the
    preset's published vectors).

    data_dir: the data folder (default ``$HAT_DATA_DIR``, then the copy shipped in the
    package). params: 46 structural parameters (default: the preset's published vector,
    else the cold start :func:`~hat_jax.calibration.static_ek_start`). R: the target
    interest rate (default: the preset's, 1.01 or 1.015). overrides: Economy settings
    (gamma, sigma, psi_slope, beta, phi, amax, Na, income, scale_by_tfp).
    """
    if name not in REGISTRY or not REGISTRY[name].from_data:
        raise ValueError(f"unknown EK preset {name!r}; available: "
                         f"{', '.join(names(from_data=True))}")
    spec = _ek_spec(name)
    if "d" in overrides or "A" in overrides or "L" in overrides:
        bad = [k for k in ("d", "A", "L") if k in overrides]
        raise ValueError(f"preset {name!r} takes A and d from params and L from the data; "
                         f"cannot override {bad}")
    frames, gspec = ek_frames(data_dir)
    data = read_tables(frames, gspec)
    pub_name = spec.pop("published")
    published = None if pub_name is None else load_published(pub_name, data_dir)
    R_target = spec.pop("R") if R is None else R
    if params is None and published is not None:
        params = published.params
    settings = dict(_COMMON, gamma=spec["gamma"], sigma=spec["sigma"],
                    psi_slope=spec["psi_slope"])
    if published is not None:
        settings["beta"] = published.beta
    settings.update(overrides)
    return build_world(data, name=name, settings=settings, R=R_target, params=params,
                       published=published)


def ek_baseline(data_dir=None, **overrides) -> Economy:
    """``ek_baseline``: gamma 1.45, sigma 0.33, psi_slope 0.725, published baseline vectors."""
    return ek_world("ek_baseline", data_dir, **overrides).economy


def ek_no_quality(data_dir=None, **overrides) -> Economy:
    """``ek_no_quality``: gamma 1.45, sigma 0.33, no quality shifter."""
    return ek_world("ek_no_quality", data_dir, **overrides).economy


def ek_log(data_dir=None, **overrides) -> Economy:
    """``ek_log``: log utility, sigma 0.2369, no quality shifter."""
    return ek_world("ek_log", data_dir, **overrides).economy


def ek_paper_2023(data_dir=None, **overrides) -> Economy:
    """``ek_paper_2023``: gamma 1.5, sigma 0.25, no quality shifter, target R 1.015; no
    published vectors (Theta: the cold start from the data; calibrate it)."""
    return ek_world("ek_paper_2023", data_dir, **overrides).economy
