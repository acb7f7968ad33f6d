"""The financial-integration experiments of ``hat counterfactual`` (model.md s.15):

    --regime-change SRC:DST   from the stationary equilibrium under regime SRC to the one
                              under DST ("autarky:global" opens the capital account,
                              "global:autarky" closes it), both at the baseline's beta;
    --wedges FILE             capital-account wedges omega_i (CSV: ISO,omega; countries
                              not listed keep 0): R_i = R + omega_i, revenue rebated;
    --ev-all-countries        the EV aggregates of every country (``ev_by_country``).

The ``"finance"`` object of the --json output (:func:`finance_record`): regimes, R_i,
net foreign assets, trade balances, wedges and wedge rebates before and after.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from hat_jax import scenarios as sc
from hat_jax._change import Change
from hat_jax.report._files import json_num, json_nums

__all__ = ["add_finance_experiments", "finance_change", "regime_pair", "read_wedges",
           "finance_record", "ev_by_country_record"]


def add_finance_experiments(g, w) -> None:
    """Add --regime-change and --wedges to the experiment group ``g`` (exactly one) and
    --ev-all-countries to the welfare group ``w``."""
    g.add_argument("--regime-change", dest="regime_change", metavar="SRC:DST",
                   help="financial regime change, autarky:global (open the capital "
                   "account) or global:autarky, both at the baseline's beta")
    g.add_argument("--wedges", metavar="FILE",
                   help="capital-account wedges omega_i (CSV with columns ISO,omega; "
                   "countries not listed keep 0): households save at R_i = R + omega_i, "
                   "the revenue (R - R_i) A_i is rebated lump sum")
    w.add_argument("--ev-all-countries", dest="ev_all", action="store_true",
                   help="EV aggregates (mean, quintiles, share who gain) of every "
                   "country: the --json key \"ev_by_country\"")


def regime_pair(args) -> tuple[str, str] | None:
    """(source, target) of ``--regime-change SRC:DST`` (None without it)."""
    text = getattr(args, "regime_change", None)
    if text is None:
        return None
    parts = str(text).split(":")
    if len(parts) != 2 or any(p not in sc.REGIMES for p in parts) or parts[0] == parts[1]:
        raise ValueError(f"--regime-change must be autarky:global or global:autarky, got "
                         f"{text!r}")
    return parts[0], parts[1]


def read_wedges(path, countries) -> np.ndarray:
    """The wedge vector of a CSV file ``ISO,omega`` (a header row optional; countries
    not listed keep 0); ValueError naming the file and the bad row."""
    try:
        frame = pd.read_csv(path, header=None, comment="#", skipinitialspace=True)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"--wedges {path}: cannot read a CSV file ISO,omega ({exc})") from None
    if frame.shape[1] != 2:
        raise ValueError(f"--wedges {path}: need two columns ISO,omega, got {frame.shape[1]}")
    omega = np.zeros(len(countries))
    seen = set()
    folded = [c.casefold() for c in countries]
    for k, (iso, value) in enumerate(frame.itertuples(index=False)):
        iso = str(iso).strip()
        try:
            v = float(value)
        except ValueError:
            if k == 0:  # a header row
                continue
            raise ValueError(f"--wedges {path}: row {k + 1}: omega must be a number, got "
                             f"{value!r}") from None
        if iso.casefold() not in folded:
            raise ValueError(f"--wedges {path}: row {k + 1}: unknown country {iso!r}: "
                             f"countries are {', '.join(countries)}")
        i = folded.index(iso.casefold())
        if i in seen:
            raise ValueError(f"--wedges {path}: {countries[i]} is listed twice")
        seen.add(i)
        omega[i] = v
    return sc.validate_wedges(omega, len(countries), countries, f"--wedges {path}")


def finance_change(args, economy) -> Change | None:
    """The :class:`~hat_jax.Change` of --wedges or --regime-change (no economy field
    changes: the regime is the solve's), None without either."""
    if getattr(args, "wedges", None) is not None:
        return Change.wedges(economy, read_wedges(args.wedges, economy.countries),
                             source=args.wedges)
    pair = regime_pair(args)
    if pair is None:
        return None
    info = {"kind": "regime_change", "source": pair[0], "target": pair[1]}
    return Change({}, f"{pair[0]}_to_{pair[1]}", _regime_note(info), info)


def _regime_note(info: dict) -> str:
    what = ("opening of the capital account" if info["target"] == "global"
            else "closing of the capital account")
    return f"{what}: financial {info['source']} -> {info['target']}"


def _accounts(eq, regime: str) -> dict:
    fa = sc.financial_accounts(eq)
    return {"regime": regime, "R": json_nums(fa.R),
            "world_R": json_num(eq.R) if np.ndim(eq.R) == 0 else None,
            "nfa": json_nums(fa.nfa), "nfa_gdp": json_nums(fa.nfa_gdp),
            "trade_balance": json_nums(fa.trade_balance),
            "trade_balance_gdp": json_nums(fa.trade_balance_gdp),
            "wedges": json_nums(fa.wedges), "rebates": json_nums(fa.rebates)}


def finance_record(cf) -> dict:
    """The ``"finance"`` object of ``hat counterfactual --json``: ``before`` and
    ``after``, each {regime, R (R_i per country), world_R (null under autarky), nfa,
    nfa_gdp, trade_balance, trade_balance_gdp, wedges, rebates}."""
    reg = lambda eq: "autarky" if np.ndim(eq.R) == 1 else "global"  # noqa: E731
    return {"before": _accounts(cf.baseline, reg(cf.baseline)),
            "after": _accounts(cf.new, reg(cf.new))}


def ev_by_country_record(cf, args) -> list:
    """The ``"ev_by_country"`` list of ``--ev-all-countries``: one object per country
    {country, mean_gain_pct, quintile_gains_pct, share_gain, welfare_change}."""
    out = []
    for c, s in sc.ev_by_country(cf, tol=args.ev_tol, measure=args.ev_measure).items():
        out.append({"country": c, "mean_gain_pct": json_num(100 * s.mean_gain),
                    "quintile_gains_pct": json_nums(100 * np.asarray(s.quintile_gains)),
                    "share_gain": json_num(s.share_gain),
                    "welfare_change": json_num(s.welfare_change)})
    return out


def format_ev_by_country(rows: list) -> str:
    """The text lines of ``--ev-all-countries``."""
    lines = ["EV by country (mean gain %, share who gain):"]
    lines += [f"  {r['country']:>6}  {r['mean_gain_pct']:9.4f}  {r['share_gain']:.3f}"
              for r in rows]
    return "\n".join(lines)


def format_finance(rec: dict, countries) -> str:
    """The text lines of the ``finance`` object: R_i, NFA/GDP and TB/GDP before/after."""
    b, a = rec["before"], rec["after"]
    lines = [f"financial regime {b['regime']} -> {a['regime']}",
             f"  {'':>6}  {'R_i':>9} {'R_i new':>9}  {'NFA/Y':>8} {'NFA/Y new':>9}  "
             f"{'TB/Y':>8} {'TB/Y new':>9}"]
    for k, c in enumerate(countries):
        lines.append(f"  {c:>6}  {b['R'][k]:9.6f} {a['R'][k]:9.6f}  {b['nfa_gdp'][k]:8.4f} "
                     f"{a['nfa_gdp'][k]:9.4f}  {b['trade_balance_gdp'][k]:8.4f} "
                     f"{a['trade_balance_gdp'][k]:9.4f}")
    return "\n".join(lines)


def check_args(args: argparse.Namespace) -> None:
    """Finance flags that need the preset's regime: --wedges needs global."""
    if getattr(args, "wedges", None) is not None and args.regime != "global":
        raise ValueError("--wedges needs one world bond market (--regime global)")
