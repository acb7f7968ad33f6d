"""Sets of scenarios: K changed economies with a leading scenario axis.

A scenario is a :class:`~hat_jax.Change`. A :class:`Scenarios` holds names, the stacked
economies (:func:`hat_jax._batched.stack_economies`, every leaf of the Economy pytree
batched), per scenario the trade costs that were floored at 1, and the Changes.
Builders: :func:`scenarios_of` (any list of Changes), :func:`cost_scenarios` (factors or levels of d),
:func:`unilateral_scenarios` (every country cuts its import costs),
:func:`global_cut_scenarios` (a grid of global cuts), :func:`country_scenarios` (levels
of country arrays such as A and L), :func:`parameter_scenarios` / :func:`parameter_draws`
(parameter vectors of the Eaton-Kortum calibration, Theta -> A, d), and
:func:`scenarios_from_table` (the tidy scenario file of ``hat sweep``).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._batched import batch_size_of, stack_economies
from .._ek import EKWorld, economy_from_params
from .._params import Economy
from .._change import Change, changes_of

__all__ = ["Scenarios", "scenarios_of", "cost_scenarios", "unilateral_scenarios", "global_cut_scenarios",
           "country_scenarios", "parameter_scenarios", "parameter_draws", "fingerprint",
           "select_scenarios", "concat_scenarios"]


class Scenarios(NamedTuple):
    """K scenarios: ``names`` (K unique labels), ``economies`` (a stacked
    :class:`~hat_jax._params.Economy`, leading axis K), ``floored`` (per scenario, the
    (importer, exporter) pairs whose cost fell below 1 and was set to 1) and ``changes``
    (the K :class:`~hat_jax.Change` they were built from; empty for scenarios given as
    economies)."""

    names: tuple
    economies: Economy
    floored: tuple
    changes: tuple = ()

    @property
    def K(self) -> int:
        return len(self.names)


def _make(names, economies: list[Economy], floored=None, changes=()) -> Scenarios:
    names = tuple(str(n) for n in names)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"scenario names must be unique, got duplicates: {dup}")
    if len(names) != len(economies):
        raise ValueError(f"{len(names)} scenario names for {len(economies)} scenarios")
    floored = tuple(tuple(f) for f in (floored or [()] * len(names)))
    return Scenarios(names, stack_economies(economies), floored, tuple(changes))


def scenarios_of(economy: Economy, changes) -> Scenarios:
    """The :class:`Scenarios` of K :class:`~hat_jax.Change` applied to ``economy``: names
    their labels (unique), floored their clamped cost pairs."""
    changes = tuple(changes)
    for c in changes:
        if not isinstance(c, Change):
            raise ValueError(f"scenarios_of takes hat_jax.Change objects, got {c!r}")
    econs = [c.apply(economy, where=f"scenario {c.label!r}") for c in changes]
    return _make([c.label for c in changes], econs, [c.clamped for c in changes], changes)


def _factors(x, K, N, what):
    a = np.asarray(x, np.float64)
    if a.ndim == 2:
        a = np.broadcast_to(a, (K or 1, N, N))
    if a.ndim != 3 or a.shape[1:] != (N, N):
        raise ValueError(f"{what} must have shape (K, {N}, {N}) (scenario, importer, "
                         f"exporter), got shape {a.shape}")
    return a


def cost_scenarios(economy: Economy, factors=None, levels=None, names=None,
                   floor: float | None = 1.0) -> Scenarios:
    """Scenarios of new trade costs: ``factors`` [K, N, N] (d'_ij = factor_ij d_ij off the
    diagonal) or ``levels`` [K, N, N] (d' itself). Costs below ``floor`` are set to it and
    listed in ``floored`` (``floor=None``: kept, the paper's convention; the economy
    must then have ``cost_floor=False``). names: K labels (default ``s0``, ``s1``, ...)."""
    if (factors is None) == (levels is None):
        raise ValueError("give exactly one of factors= or levels= (shape (K, N, N))")
    N = economy.N
    if factors is not None:
        f = _factors(factors, None, N, "factors")
    else:
        lv = _factors(levels, None, N, "levels")
        d = np.asarray(economy.d, np.float64)
        f = lv / np.where(d > 0, d, 1.0)
    names = [f"s{k}" for k in range(f.shape[0])] if names is None else list(names)
    changes = []
    for k, fk in enumerate(f):
        if not np.all(np.isfinite(fk)) or np.any(fk <= 0):
            raise ValueError(f"scenario {names[k]!r}: cost factors must be positive and "
                             f"finite, got {fk[~(np.isfinite(fk) & (fk > 0))][0]!r}")
        try:
            changes.append(Change.scale_costs(economy, fk, floor, label=names[k]))
        except ValueError as exc:
            raise ValueError(f"scenario {names[k]!r}: {exc}") from None
    return scenarios_of(economy, changes)


def unilateral_scenarios(economy: Economy, cut: float, floor: float | None = 1.0) -> Scenarios:
    """Every country in turn cuts its import costs by ``cut`` (d'_ij = (1 - cut) d_ij for
    that importer i; :func:`hat_jax.welfare.unilateral_cut`); names are the country labels."""
    return scenarios_of(economy, [Change.unilateral_cut(economy, c, cut, floor)
                                  for c in economy.countries])


def global_cut_scenarios(economy: Economy, start: float, stop: float, K: int,
                         floor: float | None = 1.0) -> Scenarios:
    """K global cuts evenly spaced from ``start`` to ``stop`` (each in (0, 1);
    :func:`hat_jax.welfare.global_cut`); names ``global_<cut>``."""
    if int(K) != K or K < 1:
        raise ValueError(f"the number of global cuts must be a positive integer, got K={K!r}")
    cuts = np.linspace(float(start), float(stop), int(K))
    return scenarios_of(economy, [Change.global_cut(economy, float(c), floor) for c in cuts])


def country_scenarios(economy: Economy, changes: dict, names=None) -> Scenarios:
    """Scenarios of country-level arrays: ``changes`` maps an Economy field with one
    entry per country (``"A"``, ``"L"``, ...) to its new levels [K, N]."""
    if not changes:
        raise ValueError("country_scenarios needs at least one field, e.g. {'A': [[...]]}")
    N, K = economy.N, None
    arrays = {}
    for field, v in changes.items():
        if field not in economy.__dataclass_fields__ or np.shape(getattr(economy, field)) != (N,):
            raise ValueError(f"{field!r} is not a country-level field of the Economy "
                             f"(one entry per country)")
        a = np.atleast_2d(np.asarray(v, np.float64))
        if a.shape[1] != N or (K is not None and a.shape[0] != K):
            raise ValueError(f"{field} must have shape (K, {N}), got {a.shape}")
        K = a.shape[0]
        arrays[field] = a
    return scenarios_of(economy, changes_of(economy, arrays, names, kind="country"))


def parameter_scenarios(world: EKWorld, params, names=None, economy: Economy | None = None
                        ) -> Scenarios:
    """Scenarios of the Eaton-Kortum parameter vector Theta: each row of ``params`` [K, P]
    gives A and d (:func:`hat_jax._ek.economy_from_params`) of ``economy`` (default: the
    world's)."""
    base = world.economy if economy is None else economy
    rows = np.atleast_2d(np.asarray(params, np.float64))
    P = np.size(world.params)
    if rows.shape[1] != P:
        raise ValueError(f"params must have shape (K, {P}), got {rows.shape}")
    # the default scenario names ("theta_k") are those of earlier sweep folders
    names = [f"theta_{k}" for k in range(len(rows))] if names is None else list(names)
    for k, t in enumerate(rows):
        if not np.all(np.isfinite(t)):
            raise ValueError(f"scenario {names[k]!r}: Theta has a non-finite entry")
    econs = jax.vmap(lambda t: economy_from_params(t, base, world.geography,
                                                   world.theta_d))(jnp.asarray(rows))
    return scenarios_of(base, changes_of(base, {"A": econs.A, "d": econs.d}, names,
                                            kind="theta"))


def parameter_draws(world: EKWorld, K: int, seed: int, scale: float = 0.02, cov=None,
                    economy: Economy | None = None) -> Scenarios:
    """K draws of Theta ~ Normal(world.params, cov) (default: independent, standard
    deviation ``scale`` in every parameter), reproducible from ``seed``."""
    if int(K) != K or K < 1:
        raise ValueError(f"the number of draws must be a positive integer, got K={K!r}")
    params = np.asarray(world.params, np.float64)
    rng = np.random.default_rng(int(seed))
    cov = np.eye(params.size) * float(scale) ** 2 if cov is None else np.asarray(cov)
    draws = rng.multivariate_normal(params, cov, size=int(K))
    return parameter_scenarios(world, draws, [f"draw_{k}" for k in range(int(K))], economy)


def concat_scenarios(*sets: Scenarios) -> Scenarios:
    """One scenario set of several (names must stay unique)."""
    names = sum((x.names for x in sets), ())
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names must be unique across the sets, got {names}")
    econ = jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs), *(x.economies for x in sets))
    changes = sum((x.changes for x in sets), ()) if all(x.changes for x in sets) else ()
    return Scenarios(names, econ, sum((x.floored for x in sets), ()), changes)


def select_scenarios(s: Scenarios, index) -> Scenarios:
    """The scenarios at positions ``index`` (a slice or integer array)."""
    idx = np.arange(s.K)[index]
    return Scenarios(tuple(s.names[k] for k in idx),
                     jax.tree_util.tree_map(lambda x: x[jnp.asarray(idx)], s.economies),
                     tuple(s.floored[k] for k in idx),
                     tuple(s.changes[k] for k in idx) if s.changes else ())


def fingerprint(s: Scenarios) -> str:
    """SHA-256 of the scenario names and of every leaf of the stacked economies (the
    exact float64 bytes): two scenario sets with the same fingerprint are the same."""
    h = hashlib.sha256()
    h.update("\0".join(s.names).encode())
    leaves, tree = jax.tree_util.tree_flatten(s.economies)
    h.update(str(tree).encode())
    for x in leaves:
        a = np.ascontiguousarray(np.asarray(x))
        h.update(str(a.shape).encode() + str(a.dtype).encode())
        h.update(a.tobytes())
    assert batch_size_of(s.economies) == s.K
    return h.hexdigest()
