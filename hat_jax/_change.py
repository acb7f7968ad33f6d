"""One type for every experiment: a :class:`Change` is a labelled mapping from
:class:`~hat_jax._params.Economy` fields to new values (model.md s.10, s.12, s.14).

A counterfactual, a scenario row, a shock path and a command-line flag are all a
Change: trade costs d (importer rows, exporter columns), tariffs t, TFP A, population
L, or any array field an economy has. ``change.apply(economy)`` is the changed economy,

    economy' = economy with field_k = value_k for every (field_k, value_k) in the change,

checked (an unknown or static field, a wrong shape or a bad value raises ValueError
naming the field and the value); the values are the leaves of the pytree, so ``apply``
works traced under ``jax.jit`` / ``jax.vmap`` and is differentiable in them.

Builders (each needs the economy the values are computed from; new levels, never
factors): :meth:`Change.costs`, :meth:`Change.scale_costs` (d'_ij = f_ij d_ij),
:meth:`Change.global_cut`, :meth:`Change.unilateral_cut`, :meth:`Change.bilateral_cut`,
:meth:`Change.tariffs`, :meth:`Change.uniform_tariff`, :meth:`Change.tariff_war`,
:meth:`Change.wedges`, :meth:`Change.wedge` (capital-account wedges, model.md s.15),
:meth:`Change.country` (one country's entry of a per-country field) and
:meth:`Change.population`. Each records what it did in ``info`` (the ``"experiment"``
object of ``hat counterfactual --json``: ``kind`` and its parameters) and says it in
``note`` (:data:`NOTES`, one sentence per kind).

Scaled costs that fall below 1 (d'_ij = 0.9 d_ij with d_ij < 1.11): ``floor=1.0`` (the
default) sets them to 1 and lists the pairs in ``info["clamped"]``; ``floor=None`` keeps
them (the paper's convention) with a :class:`CostsBelowOneWarning` and needs an economy
with ``cost_floor=False``.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._params import Economy, validate_trade_costs
from ._tariffs import tariff_war, uniform_tariffs, validate_tariffs
from ._wedges import validate_wedges

__all__ = ["Change", "NOTES", "note_of", "changes_of", "country_index", "STATIC_FIELDS",
           "CostsBelowOneWarning", "costs_below_one", "check_costs", "scale_costs"]

#: Economy fields a Change cannot set: static settings (another program, not a value)
#: and the country scaling (it moves the asset grids, which a counterfactual keeps).
STATIC_FIELDS = ("Na", "countries", "scale_by_tfp", "cost_floor")


def _pct(x) -> str:
    return f"{100 * x:g}%"


#: The sentence a report prints for each kind of change, from its ``info``.
NOTES: dict[str, Callable[[dict], str]] = {
    "global": lambda e: f"global cut of {_pct(e['cut'])} in all international costs",
    "unilateral": lambda e: f"{e['country']} cuts its import costs by {_pct(e['cut'])}",
    "bilateral": lambda e: (f"cut of {_pct(e['cut'])} in d[{e['importer']}, {e['exporter']}]"
                            + (" and the reverse" if e["symmetric"] else "")),
    "costs": lambda e: f"trade costs from {e['file']}",
    "scale": lambda e: "trade costs scaled by a matrix of factors",
    "tariffs": lambda e: f"tariffs from {e['file']}",
    "uniform_tariff": lambda e: (f"{e['country']} levies a tariff of {_pct(e['tariff'])} "
                                 "on every partner"),
    "tariff_war": lambda e: f"tariff war: every country levies {_pct(e['tariff'])} on "
                            "every partner",
    "wedges": lambda e: f"capital-account wedges from {e['file']}",
    "wedge": lambda e: (f"{e['country']}'s capital-account wedge set to "
                        f"{e['wedge']:g} (R_i = R + omega_i)"),
    "country": lambda e: f"{e['field']} of {e['country']} set to {e['value']:g}",
    "population": lambda e: f"population L of {e['country']} scaled by {e['factor']:g}",
    "tfp": lambda e: f"TFP A of {e['country']} scaled by {e['factor']:g}",
}


def note_of(experiment: dict) -> str:
    """The note of a change from its ``info`` (e.g. the ``"experiment"`` object of a saved
    ``hat counterfactual --json`` result); a kind without a sentence: "change <kind>"."""
    kind = experiment.get("kind", "")
    return NOTES[kind](experiment) if kind in NOTES else f"change {kind}".strip()


def country_index(countries, country, what: str = "country") -> int:
    """Index of ``country`` (a label, matched case-insensitively, or an int index) in
    ``countries`` (labels, or an Economy); ValueError naming ``what`` and listing the
    labels otherwise."""
    labels = list(countries.countries if isinstance(countries, Economy) else countries)
    if isinstance(country, (int, np.integer)) and not isinstance(country, bool):
        if not 0 <= int(country) < len(labels):
            raise ValueError(f"{what} index {int(country)} out of range: {len(labels)} "
                             f"countries ({', '.join(labels)})")
        return int(country)
    if isinstance(country, str):
        if country in labels:
            return labels.index(country)
        folded = [c.casefold() for c in labels]
        if country.casefold() in folded:
            return folded.index(country.casefold())
    raise ValueError(f"unknown {what} {country!r}: countries are {', '.join(labels)}")


class CostsBelowOneWarning(UserWarning):
    """A trade-cost matrix has off-diagonal entries below 1 (the paper's convention for
    proportional cuts; the message lists the (importer, exporter) pairs)."""


def costs_below_one(economy: Economy, d) -> list:
    """(importer, exporter) labels of the off-diagonal entries of ``d`` below 1."""
    d = np.asarray(d, np.float64)
    off = ~np.eye(economy.N, dtype=bool)
    return [(economy.countries[i], economy.countries[j])
            for i, j in np.argwhere(off & (d < 1.0))]


def check_costs(economy: Economy, d_new, floor: bool | None = None) -> np.ndarray:
    """Validate a new trade-cost matrix of ``economy`` (:func:`hat_jax._params.validate_trade_costs`
    with its country labels): N x N (importer rows), finite, d_ii = 1, and d >= 1 when
    ``floor`` (default: the economy's ``cost_floor``), else d > 0 with a
    :class:`CostsBelowOneWarning` listing the pairs below 1."""
    floor = bool(economy.cost_floor) if floor is None else bool(floor)
    d = validate_trade_costs(d_new, economy.countries, "the new trade-cost matrix", floor=floor)
    low = [] if floor else costs_below_one(economy, d)
    if low:
        pairs = ", ".join(f"{a}<-{b}" for a, b in low[:20]) + (" ..." if len(low) > 20 else "")
        warnings.warn(f"{len(low)} trade cost(s) below 1 (importer<-exporter; the paper's "
                      f"convention, no floor): {pairs}", CostsBelowOneWarning, stacklevel=3)
    return d


def _check_cut(cut) -> float:
    cut = float(cut)
    if not (np.isfinite(cut) and 0.0 < cut < 1.0):
        raise ValueError(f"cut must lie in (0, 1) (a proportional reduction of trade costs, "
                         f"0.10 = 10%), got cut={cut!r}")
    return cut


def _check_rate(rate, what: str) -> float:
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: the tariff must be a number >= 0, got {rate!r}") from None
    if not (np.isfinite(rate) and rate >= 0):
        raise ValueError(f"{what}: the tariff must be >= 0, got {rate!r}")
    return rate


def scale_costs(economy: Economy, factor, floor: float | None = 1.0):
    """d'_ij = max(floor, factor_ij d_ij) for i != j, d'_ii = 1.

    Returns (d', clamped) with ``clamped`` the list of (importer, exporter) labels whose
    scaled cost fell below ``floor`` and was set to it (model.md s.1 requires d >= 1, the
    trade-cost function clamps at 1 the same way). ``floor=None``: no clamp, the paper's
    convention (costs below 1 are kept, with a :class:`CostsBelowOneWarning` listing
    them; solve them with ``counterfactual(..., cost_floor=False)``).
    """
    d = np.asarray(economy.d, np.float64)
    f = np.broadcast_to(np.asarray(factor, np.float64), d.shape)
    off = ~np.eye(economy.N, dtype=bool)
    new = np.where(off, f * d, 1.0)
    clamped = []
    if floor is not None:
        low = off & (new < floor)
        clamped = [(economy.countries[i], economy.countries[j]) for i, j in np.argwhere(low)]
        new = np.where(low, floor, new)
    return check_costs(economy, new, floor=floor is not None and floor >= 1.0), clamped


def _f64(x):
    return x if isinstance(x, jax.core.Tracer) else jnp.asarray(x, dtype=jnp.float64)


def _values(values) -> dict:
    """Field converter of :attr:`Change.values`: a dict of str -> float64 arrays."""
    if not isinstance(values, dict):
        raise ValueError(f"a Change maps economy field names to new values (a dict), got "
                         f"values={values!r}")
    for k in values:
        if not isinstance(k, str):
            raise ValueError(f"a Change's field names must be strings, got {k!r}")
    return {k: _f64(v) for k, v in values.items()}


def _frozen(x):
    """A hashable copy of an ``info`` value (lists and tuples -> tuples)."""
    if isinstance(x, (list, tuple)):
        return tuple(_frozen(v) for v in x)
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    return x


def _thawed(x):
    return [_thawed(v) for v in x] if isinstance(x, tuple) else x


class Change(eqx.Module):
    """A labelled mapping from economy fields to new values (see the module docstring).

    values: {field: new value} (float64 arrays, each the shape of the economy's field;
    ``tariffs`` N x N), the pytree leaves; label: a short name (a scenario name);
    note: one sentence saying what changes; info: ordered (key, value) pairs recording
    how it was built (``kind`` and its parameters, ``clamped`` pairs), static.
    """

    values: dict = eqx.field(converter=_values)
    label: str = eqx.field(static=True, default="change")
    note: str = eqx.field(static=True, default="")
    info: tuple = eqx.field(static=True, default=(), converter=lambda i: tuple(
        (str(k), _frozen(v)) for k, v in (i.items() if isinstance(i, dict) else i)))

    @property
    def fields(self) -> tuple:
        """The names of the economy fields this change sets."""
        return tuple(self.values)

    @property
    def experiment(self) -> dict:
        """``info`` as a dict (tuples as lists), in the order it was recorded."""
        return {k: _thawed(v) for k, v in self.info}

    @property
    def kind(self) -> str:
        return dict(self.info).get("kind", "change")

    @property
    def clamped(self) -> list:
        """(importer, exporter) pairs whose scaled cost was floored at 1."""
        return [tuple(p) for p in dict(self.info).get("clamped", ())]

    def named(self, label: str) -> "Change":
        """The same change under another label."""
        return Change(dict(self.values), str(label), self.note, self.info)

    def check(self, economy: Economy) -> None:
        """Raise ValueError unless every field is an array field of ``economy`` and every
        value has its shape (static shapes: also under jit / vmap)."""
        known = [f for f in economy.__dataclass_fields__ if f not in STATIC_FIELDS]
        for name, v in self.values.items():
            if name in STATIC_FIELDS or name not in known:
                what = "a static setting" if name in STATIC_FIELDS else "not a field"
                raise ValueError(f"Change {self.label!r}: {name!r} is {what} of the Economy "
                                 f"(a Change sets one of: {', '.join(known)})")
            want = (economy.N, economy.N) if name == "tariffs" else (economy.N,) \
                if name == "wedges" else np.shape(getattr(economy, name))
            if np.shape(v) != want:
                raise ValueError(f"Change {self.label!r}: {name} must have shape {want}, "
                                 f"got shape {np.shape(v)}")

    def apply(self, economy: Economy, where: str | None = None) -> Economy:
        """``economy`` with this change's values (validated like any economy when the
        values are concrete: a bad value raises ValueError naming the field and value,
        after ``where``, default ``Change '<label>'``)."""
        self.check(economy)
        try:
            return economy.replace(**self.values)
        except ValueError as exc:
            where = f"Change {self.label!r}" if where is None else where
            raise ValueError(f"{where}: {exc}") from None

    # ------------------------------------------------------------------ trade costs
    @classmethod
    def costs(cls, economy: Economy, d, floor: bool | None = None, source=None,
              label: str = "costs") -> "Change":
        """New trade costs d' (N x N, importer rows; checked by :func:`check_costs`, d >= 1
        unless ``floor`` is False). source: where they came from (a file name)."""
        d = check_costs(economy, d, floor=floor)
        return cls({"d": d}, label, NOTES["costs"]({"file": source or "a matrix"}),
                   {"kind": "costs", "file": str(source), "clamped": []})

    @classmethod
    def scale_costs(cls, economy: Economy, factor, floor: float | None = 1.0,
                    label: str = "scale") -> "Change":
        """d'_ij = max(floor, factor_ij d_ij), i != j (:func:`scale_costs`)."""
        d, cl = scale_costs(economy, factor, floor)
        info = {"kind": "scale", "clamped": cl}
        return cls({"d": d}, label, NOTES["scale"](info), info)

    @classmethod
    def global_cut(cls, economy: Economy, cut: float, floor: float | None = 1.0) -> "Change":
        """All international costs fall: d'_ij = (1 - cut) d_ij, i != j (floored at 1 unless
        ``floor=None``); label ``global_<cut>``."""
        cut = _check_cut(cut)
        d, cl = scale_costs(economy, np.full((economy.N, economy.N), 1.0 - cut), floor)
        info = {"kind": "global", "cut": cut, "clamped": cl}
        return cls({"d": d}, f"global_{cut:.6g}", NOTES["global"](info), info)

    @classmethod
    def unilateral_cut(cls, economy: Economy, country, cut: float,
                       floor: float | None = 1.0) -> "Change":
        """``country`` cuts its import costs: d'_ij = (1 - cut) d_ij for i = country, all
        j != i (floored at 1 unless ``floor=None``); label: the country."""
        i = country_index(economy, country)
        cut = _check_cut(cut)
        f = np.ones((economy.N, economy.N))
        f[i, :] = 1.0 - cut
        d, cl = scale_costs(economy, f, floor)
        info = {"kind": "unilateral", "country": economy.countries[i], "cut": cut,
                "clamped": cl}
        return cls({"d": d}, economy.countries[i], NOTES["unilateral"](info), info)

    @classmethod
    def bilateral_cut(cls, economy: Economy, importer, exporter, cut: float,
                      symmetric: bool = False, floor: float | None = 1.0) -> "Change":
        """d'[importer, exporter] = (1 - cut) d[importer, exporter] (and the reverse pair
        when ``symmetric``), floored at 1 unless ``floor=None``."""
        i, j = country_index(economy, importer), country_index(economy, exporter)
        if i == j:
            raise ValueError(f"bilateral cut needs two different countries, got {importer!r} "
                             "twice")
        cut = _check_cut(cut)
        f = np.ones((economy.N, economy.N))
        f[i, j] = 1.0 - cut
        if symmetric:
            f[j, i] = 1.0 - cut
        d, cl = scale_costs(economy, f, floor)
        a, b = economy.countries[i], economy.countries[j]
        info = {"kind": "bilateral", "importer": a, "exporter": b, "cut": cut,
                "symmetric": bool(symmetric), "clamped": cl}
        return cls({"d": d}, f"{a}_{b}", NOTES["bilateral"](info), info)

    # ---------------------------------------------------------------------- tariffs
    @classmethod
    def tariffs(cls, economy: Economy, t, source=None, what: str = "tariffs",
                label: str = "tariffs") -> "Change":
        """A new tariff matrix t (N x N, importer rows, t_ij >= 0, t_ii = 0; model.md
        s.14), revenue rebated lump sum. source: where it came from (a file name)."""
        t = validate_tariffs(t, economy.N, economy.countries, what)
        return cls({"tariffs": t}, label, NOTES["tariffs"]({"file": source or "a matrix"}),
                   {"kind": "tariffs", "file": str(source)})

    @classmethod
    def uniform_tariff(cls, economy: Economy, country, rate: float, base=None,
                       what: str = "uniform tariff") -> "Change":
        """Importer ``country`` levies ``rate`` on every partner (``base``: the other
        rows, default free trade; :func:`hat_jax._tariffs.uniform_tariffs`)."""
        rate = _check_rate(rate, what)
        i = country_index(economy, country)
        info = {"kind": "uniform_tariff", "country": economy.countries[i], "tariff": rate}
        return cls({"tariffs": uniform_tariffs(economy.N, i, rate, base)},
                   f"tariff_{economy.countries[i]}", NOTES["uniform_tariff"](info), info)

    @classmethod
    def tariff_war(cls, economy: Economy, rate: float, what: str = "tariff war") -> "Change":
        """Every country levies ``rate`` on every partner: t = rate (1 - I)."""
        rate = _check_rate(rate, what)
        info = {"kind": "tariff_war", "tariff": rate}
        return cls({"tariffs": tariff_war(economy.N, rate)}, f"tariff_war_{rate:.6g}",
                   NOTES["tariff_war"](info), info)

    # --------------------------------------------------------- capital-account wedges
    @classmethod
    def wedges(cls, economy: Economy, omega, source=None, label: str = "wedges") -> "Change":
        """Capital-account wedges omega (one per country, model.md s.15): households of i
        save and borrow at R_i = R + omega_i, the revenue (R - R_i) A_i rebated lump
        sum; omega = 0 is financial globalization. The values are pytree leaves (traced
        and differentiable under jit / grad). source: where they came from (a file)."""
        omega = validate_wedges(omega, economy.N, economy.countries)
        return cls({"wedges": omega}, label,
                   NOTES["wedges"]({"file": source or "a vector"}),
                   {"kind": "wedges", "file": str(source)})

    @classmethod
    def wedge(cls, economy: Economy, country, omega: float, base=None) -> "Change":
        """Country ``country``'s wedge set to ``omega`` (the others ``base``, default
        the economy's wedges or zeros)."""
        k = country_index(economy, country)
        w = np.zeros(economy.N) if base is None and economy.wedges is None else \
            np.array(economy.wedges if base is None else base, np.float64)
        w[k] = float(omega)
        w = validate_wedges(w, economy.N, economy.countries)
        info = {"kind": "wedge", "country": economy.countries[k], "wedge": float(omega)}
        return cls({"wedges": w}, f"wedge_{economy.countries[k]}", NOTES["wedge"](info),
                   info)

    # ------------------------------------------------------------- country fields
    @classmethod
    def country(cls, economy: Economy, field: str, country, value) -> "Change":
        """Country ``country``'s entry of the per-country field ``field`` (``"A"``,
        ``"L"``, ...) set to ``value``; the other countries keep theirs."""
        if field in STATIC_FIELDS or field not in economy.__dataclass_fields__ \
                or np.shape(getattr(economy, field)) != (economy.N,):
            raise ValueError(f"{field!r} is not a country-level field of the Economy (one "
                             "entry per country)")
        k = country_index(economy, country)
        x = np.asarray(getattr(economy, field), np.float64).copy()
        x[k] = float(value)
        info = {"kind": "country", "field": field, "country": economy.countries[k],
                "value": float(value)}
        return cls({field: x}, f"{field}_{economy.countries[k]}", NOTES["country"](info),
                   info)

    @classmethod
    def population(cls, economy: Economy, country, factor: float) -> "Change":
        """L'_k = factor L_k for country k (factor > 0)."""
        factor = _positive(factor, "population factor")
        k = country_index(economy, country)
        L = np.asarray(economy.L, np.float64).copy()
        L[k] *= factor
        info = {"kind": "population", "country": economy.countries[k], "factor": factor}
        return cls({"L": L}, f"L_{economy.countries[k]}", NOTES["population"](info), info)

    @classmethod
    def tfp(cls, economy: Economy, country, factor: float) -> "Change":
        """A'_k = factor A_k for country k (factor > 0); with the reference country
        scaling (``scale_by_tfp``) k's asset grid and income scale with A_k."""
        factor = _positive(factor, "TFP factor")
        k = country_index(economy, country)
        A = np.asarray(economy.A, np.float64).copy()
        A[k] *= factor
        info = {"kind": "tfp", "country": economy.countries[k], "factor": factor}
        return cls({"A": A}, f"A_{economy.countries[k]}", NOTES["tfp"](info), info)


def _positive(x, what: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        v = float("nan")
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{what} must be a finite number > 0, got {x!r}")
    return v


def changes_of(economy: Economy, fields: dict, names: Sequence[str] | None = None,
               kind: str = "fields") -> list:
    """K changes from ``fields``: {field: new values with a leading scenario axis K}
    (e.g. ``{"d": [K, N, N]}``, ``{"A": [K, N], "L": [K, N]}``); labels ``names``
    (default s0, s1, ...)."""
    arrays = {f: np.asarray(v, np.float64) for f, v in fields.items()}
    Ks = {a.shape[0] if a.ndim else None for a in arrays.values()}
    if len(Ks) != 1 or None in Ks:
        raise ValueError(f"every field needs the same number of scenarios (a leading axis), "
                         f"got {sorted(map(str, Ks))}")
    K = Ks.pop()
    names = [f"s{k}" for k in range(K)] if names is None else list(names)
    return [Change({f: a[k] for f, a in arrays.items()}, names[k], f"{names[k]}: new "
                   f"{', '.join(arrays)}", {"kind": kind}) for k in range(K)]

