"""Reports of a solved equilibrium (the ``hat solve`` outputs): the summary object
(``--json`` / summary.json), the trade-share, country and gravity frames, the readable
summary, and the files of ``--out``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from hat_jax._equilibrium import Equilibrium, EquilibriumOptions, newton_path

from ._files import CSV_FLOAT, json_num, json_nums, json_text, json_timings, write_files

__all__ = ["summary", "gravity_summary", "trade_shares_frame", "countries_frame",
           "gravity_frame", "label_gravity", "format_summary", "write_outputs"]


def gravity_summary(eq: Equilibrium, world) -> dict:
    """{"model": moments of the model's trade shares, "data": moments of the data}
    (``world``: the :class:`hat_jax._ek.EKWorld` the economy was built from)."""
    names = world.coef_names
    return {"model": world.model_moments(eq.world.aggregates.trade_shares).as_dict(names),
            "data": world.data_moments().as_dict(names)}


def _settings(eq: Equilibrium, opts: EquilibriumOptions) -> dict:
    e = eq.economy
    return {
        "gamma": float(e.gamma), "sigma": json_num(e.sigma), "beta": json_num(e.beta),
        "Na": int(e.Na), "phi": json_num(e.phi), "amax": json_num(e.amax),
        "psi_slope": json_num(e.psi_slope), "regime": opts.regime, "unknown": opts.unknown,
        "tol": float(opts.tol), "hh_tol": float(opts.hh_tol), "max_iter": int(opts.max_iter),
        "jacobian_reuse": float(opts.jacobian_reuse), "distribution": opts.distribution,
        "tangent_solver": opts.tangent_solver, "d": json_nums(e.d),
    }


def summary(eq: Equilibrium, preset: str, opts: EquilibriumOptions,
            world=None, start: str = "default") -> dict:
    """The JSON summary of a solved equilibrium (the ``--json`` / summary.json object).

    Keys: preset, countries, R, beta, wages, trade_shares (importer rows),
    home_choice_mean, share_borrowing_limit, bond_demand, home_share, import_share,
    nfa_gdp, A, L, residuals {goods, bonds, walras, max}, iterations {newton,
    household_max, jacobians}, path (one record per Newton iteration: iteration,
    max_residual, step, accepted, jacobian), converged, timings {compile_s, run_s} (from
    ``eq.stats``),
    start, settings {...}; with an EK ``world`` also gravity {model, data} with S, m,
    dist (lists), border, language, EC, EFTA.
    """
    economy, agg = eq.economy, eq.world.aggregates
    R = np.asarray(eq.R)
    table = countries_frame(eq)
    path = [{k: (json_num(v) if isinstance(v, float) else v) for k, v in row.items()}
            for row in newton_path(eq)]
    out = {
        "preset": preset,
        "countries": list(economy.countries),
        "R": json_nums(R) if opts.regime == "autarky" else json_num(R.reshape(-1)[0]),
        "beta": json_num(eq.beta),
        "wages": json_nums(eq.W),
        "trade_shares": json_nums(agg.trade_shares),
        "home_choice_mean": json_nums(agg.home_choice_mean),
        "share_borrowing_limit": json_nums(agg.share_constrained),
        "bond_demand": json_nums(agg.bond_demand),
        "home_share": json_nums(table["home_share"]),
        "import_share": json_nums(table["import_share"]),
        "nfa_gdp": json_nums(table["nfa_gdp"]),
        "A": json_nums(economy.A),
        "L": json_nums(economy.L),
        "residuals": {
            "goods": json_nums(eq.goods_residuals),
            "bonds": json_nums(eq.bond_residuals),
            "walras": json_num(eq.walras_residual),
            "max": json_num(eq.residual),
        },
        "iterations": {
            "newton": int(eq.iterations),
            "household_max": int(np.max(np.asarray(eq.world.households.iterations))),
            "jacobians": sum(row["jacobian"] for row in path),
        },
        "path": path,
        "converged": bool(eq.converged),
        "timings": json_timings(eq.stats, ("compile_s", "run_s")),
        "start": start,
        "settings": _settings(eq, opts),
    }
    if world is not None:
        out["gravity"] = gravity_summary(eq, world)
    return out


def trade_shares_frame(eq: Equilibrium) -> pd.DataFrame:
    """Trade shares pi_ij = M_ij / PC_i: importer rows, exporter columns, labelled."""
    labels = list(eq.economy.countries)
    df = pd.DataFrame(np.asarray(eq.world.aggregates.trade_shares), index=labels,
                      columns=labels)
    df.index.name = "importer"
    df.columns.name = "exporter"
    return df


def countries_frame(eq: Equilibrium) -> pd.DataFrame:
    """One row per country (the countries.csv table); nfa_gdp = bond demand / Y."""
    e, agg = eq.economy, eq.world.aggregates
    shares = np.asarray(agg.trade_shares)
    home = np.diag(shares)
    Y = np.asarray(agg.Y)
    bonds = np.asarray(agg.bond_demand)
    return pd.DataFrame({
        "country": list(e.countries),
        "W": np.asarray(eq.W),
        "A": np.asarray(e.A),
        "L": np.asarray(e.L),
        "home_share": home,
        "import_share": shares.sum(axis=1) - home,
        "home_choice_mean": np.asarray(agg.home_choice_mean),
        "share_borrowing_limit": np.asarray(agg.share_constrained),
        "bond_demand": bonds,
        "nfa_gdp": bonds / Y,
        "Y": Y,
    })


def gravity_frame(gravity: dict) -> pd.DataFrame:
    """Moments side by side: one row per moment (S_1..S_N, m_1..m_N, dist_1..dist_6,
    border, language, EC, EFTA, or a world's own coefficient names; see
    :func:`label_gravity` for country labels), columns data, model, model_minus_data."""
    rows = []
    for key in gravity["data"]:
        d, m = gravity["data"][key], gravity["model"][key]
        if isinstance(d, list):
            rows.extend((f"{key}_{k + 1}", a, b) for k, (a, b) in enumerate(zip(d, m)))
        else:
            rows.append((key, d, m))
    df = pd.DataFrame(rows, columns=["moment", "data", "model"])
    df["model_minus_data"] = df["model"] - df["data"]
    return df


def label_gravity(df: pd.DataFrame, labels) -> pd.DataFrame:
    """:func:`gravity_frame` with S_k / m_k renamed S_<label> / m_<label>."""
    names = {f"{k}_{i + 1}": f"{k}_{c}" for k in ("S", "m") for i, c in enumerate(labels)}
    return df.assign(moment=df["moment"].map(lambda x: names.get(x, x)))


def write_outputs(out_dir: str | os.PathLike, eq: Equilibrium, result: dict) -> list[Path]:
    """Write summary.json (``result``), trade_shares.csv and countries.csv to ``out_dir``
    (created, each file atomically); with gravity moments in ``result`` also gravity.csv
    (moment, data, model, model_minus_data; S and m labelled by country, dist_1..dist_6
    by bin)."""
    files = {
        "summary.json": json_text(result) + "\n",
        "trade_shares.csv": trade_shares_frame(eq).to_csv(float_format=CSV_FLOAT),
        "countries.csv": countries_frame(eq).to_csv(index=False, float_format=CSV_FLOAT),
    }
    if "gravity" in result:
        g = label_gravity(gravity_frame(result["gravity"]), result["countries"])
        files["gravity.csv"] = g.to_csv(index=False, float_format=CSV_FLOAT)
    return write_files(out_dir, files)


def _fmt(x) -> str:
    return "nan" if x is None else f"{x:.3e}"


def _country_table(result: dict, eq: Equilibrium) -> pd.DataFrame:
    table = countries_frame(eq).set_index("country")
    table.index.name = None
    cols = {"W": "wage W", "A": "TFP A", "L": "L", "home_share": "home share",
            "import_share": "import share", "nfa_gdp": "NFA / GDP",
            "share_borrowing_limit": "at borrowing limit"}
    table = table[list(cols)].rename(columns=cols)
    if isinstance(result["R"], list):
        table.insert(0, "R_i", result["R"])
    return table


def _tables(result: dict, eq: Equilibrium) -> list[str]:
    """The country table, the trade shares (up to 6 countries) and the gravity moments."""
    labels = result["countries"]
    lines = ["", "Countries", _country_table(result, eq).to_string()]
    if len(labels) <= 6:
        ts = trade_shares_frame(eq)
        ts.index.name, ts.columns.name = "importer \\ exporter", None
        lines += ["", "Trade shares (importer rows, exporter columns; rows sum to 1)",
                  ts.to_string(float_format="{:.6f}".format)]
    else:
        lines += ["", f"Trade shares: {len(labels)} x {len(labels)} matrix in --json / "
                  "--out (trade_shares.csv)"]
    if "gravity" in result:
        g = gravity_frame(result["gravity"])
        g = g[~g["moment"].str.match(r"^[Sm]_")]
        lines += ["", "Gravity regression on log(pi_ij/pi_ii): data vs model "
                  "(S and m by country in --json / gravity.csv)",
                  g.to_string(index=False, float_format="{:.6f}".format)]
    return lines


def format_summary(result: dict, eq: Equilibrium) -> str:
    """The readable summary printed by ``hat solve`` (without --json)."""
    s = result["settings"]
    labels = result["countries"]
    regime = "financial autarky" if s["regime"] == "autarky" else "global bond market"
    solved = "R" if s["unknown"] == "R" else "beta"
    lines = [
        f"HAT equilibrium: {result['preset']} (N={len(labels)}, Na={s['Na']}, "
        f"gamma={s['gamma']:g}, sigma={s['sigma']:g}, {regime}, {solved} solved)",
        f"converged: {'yes' if result['converged'] else 'NO'}",
    ]
    if isinstance(result["R"], list):
        lines.append(f"beta = {result['beta']:.10g}  (R_i by country below)")
    else:
        lines.append(f"R = {result['R']:.10g}   beta = {result['beta']:.10g}")
    with pd.option_context("display.width", 120, "display.max_columns", 50,
                           "display.float_format", "{:.6g}".format):
        lines += _tables(result, eq)
    r = result["residuals"]
    lines += [
        "",
        "Residuals (excess demand / world GDP)",
        "  goods (j = 2..N): " + ", ".join(_fmt(x) for x in r["goods"]),
        "  bonds:            " + ", ".join(_fmt(x) for x in r["bonds"]),
        f"  Walras (j = 1):   {_fmt(r['walras'])}",
        f"  max:              {_fmt(r['max'])}  (tolerance {s['tol']:g})",
        "",
        f"Newton iterations: {result['iterations']['newton']}   household iterations "
        f"(max, final solve): {result['iterations']['household_max']}",
    ]
    t = result["timings"]
    if t["compile_s"] is not None:
        lines.append(f"compile {t['compile_s']:.2f} s, run {t['run_s']:.3f} s")
    return "\n".join(lines)
