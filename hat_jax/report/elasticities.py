"""Reports of trade elasticities (model.md section 9): tidy pandas frames, figures, the
``hat elasticities`` summary object, its readable report and its ``--out`` files.

Frames: :func:`theta_matrix` (importer rows, exporter columns), :func:`theta_mean_frame`,
:func:`elasticity_frame` (pairs i != j), :func:`partners_frame` (one importer),
:func:`states_frame` (one pair, by household state). Figures (matplotlib, imported only
when called): :func:`plot_state_heatmaps` (the paper's Figures 1a/1b) and
:func:`plot_elasticity_vs_price` (Figure 3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hat_jax._elasticities import StateElasticities, TradeElasticities, proposition3

from ._figures import figure_bytes, pyplot
from ._files import (CSV_FLOAT, json_num, json_nums, json_text, json_timings, records,
                    write_files)

__all__ = [
    "theta_matrix", "theta_mean_frame", "elasticity_frame", "partners_frame", "states_frame",
    "plot_state_heatmaps", "plot_elasticity_vs_price", "STATE_KEYS", "elasticities_summary",
    "write_elasticity_outputs", "format_elasticities", "MARGINS",
    "elasticities_standard_errors", "format_standard_errors",
]


# --------------------------------------------------------------------------- pandas frames
def theta_matrix(te: TradeElasticities) -> pd.DataFrame:
    """theta_ij as a DataFrame: importer rows (computed importers), exporter columns."""
    df = pd.DataFrame(np.asarray(te.theta), index=[te.countries[i] for i in te.importers],
                      columns=list(te.countries))
    df.index.name, df.columns.name = "importer", "exporter"
    return df


def theta_mean_frame(te: TradeElasticities) -> pd.DataFrame:
    """One row per importer: ``importer, theta_mean`` (trade-weighted over partners,
    sum_{j!=i} theta_ij pi_ij / sum_{j!=i} pi_ij), plus ``import_share`` (1 - pi_ii)."""
    share = np.asarray(te.share)
    home = share[np.arange(len(te.importers)), list(te.importers)]
    return pd.DataFrame({"importer": [te.countries[i] for i in te.importers],
                         "theta_mean": np.asarray(te.theta_mean),
                         "import_share": 1.0 - home})


def elasticity_frame(te: TradeElasticities) -> pd.DataFrame:
    """Tidy pairs i != j: ``importer, exporter, theta, price, share, M`` (price = delivered
    price p_ij, share = trade share pi_ij), in importer-major order."""
    rows = []
    theta, price, share, M = (np.asarray(x) for x in (te.theta, te.price, te.share, te.M))
    for k, i in enumerate(te.importers):
        for j, cj in enumerate(te.countries):
            if j != i:
                rows.append((te.countries[i], cj, theta[k, j], price[k, j], share[k, j],
                             M[k, j]))
    return pd.DataFrame(rows, columns=["importer", "exporter", "theta", "price", "share", "M"])


def partners_frame(te: TradeElasticities, importer) -> pd.DataFrame:
    """One importer's partners j != i: ``country, theta, price, share`` (the "elasticity
    vs price" exhibit; price = p_ij, share = pi_ij)."""
    k = te.row(importer)
    i = te.importers[k]
    off = [j for j in range(len(te.countries)) if j != i]
    return pd.DataFrame({
        "country": [te.countries[j] for j in off],
        "theta": np.asarray(te.theta[k])[off],
        "price": np.asarray(te.price[k])[off],
        "share": np.asarray(te.share[k])[off],
    })


def states_frame(states: StateElasticities) -> pd.DataFrame:
    """Tidy state table, one row per (asset, productivity) state: ``asset, z_index, z,
    theta, theta_E, theta_I, theta_E_home, theta_I_home, omega_ij, omega_ii, lam,
    partner_share, foreign_share, constrained`` (asset-major order)."""
    Na, Nz = np.shape(states.theta)
    a = np.repeat(np.asarray(states.assets), Nz)
    zi = np.tile(np.arange(Nz), Na)
    flat = lambda x: np.asarray(x).reshape(-1)  # noqa: E731
    return pd.DataFrame({
        "asset": a, "z_index": zi, "z": np.asarray(states.z)[zi],
        "theta": flat(states.theta), "theta_E": flat(states.theta_E),
        "theta_I": flat(states.theta_I), "theta_E_home": flat(states.theta_E_home),
        "theta_I_home": flat(states.theta_I_home), "omega_ij": flat(states.omega_ij),
        "omega_ii": flat(states.omega_ii), "lam": flat(states.lam),
        "partner_share": flat(states.partner_share),
        "foreign_share": flat(states.foreign_share),
        "constrained": flat(states.constrained).astype(bool),
    })


# ------------------------------------------------------------------------------- figures
def plot_state_heatmaps(states: StateElasticities, fig=None):
    """Heatmaps over (assets, productivity state) of -theta_ij(a,z) and of the foreign
    expenditure share (the paper's Figures 1a/1b). Returns the matplotlib figure."""
    if fig is None:
        fig = pyplot().figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2)
    a = np.asarray(states.assets)
    Nz = np.shape(states.theta)[1]
    panels = ((-np.asarray(states.theta), "viridis",
               rf"$-\theta_{{ij}}(a,z)$: {states.importer} importing from {states.partner}"),
              (np.asarray(states.foreign_share), "magma",
               f"foreign expenditure share, {states.importer}"))
    for ax, (val, cmap, title) in zip(axes, panels):
        mesh = ax.pcolormesh(np.arange(Nz), a, val, cmap=cmap, shading="nearest")
        fig.colorbar(mesh, ax=ax)
        ax.set(xlabel="productivity state z (low to high)", ylabel="assets a", title=title)
        ax.set_xticks(np.arange(Nz))
    fig.tight_layout()
    return fig


def plot_elasticity_vs_price(te: TradeElasticities, importer, ax=None):
    """Importer i's bilateral elasticities -theta_ij against the delivered prices p_ij,
    markers sized by trade share (the paper's Figure 3). Returns the figure."""
    df = partners_frame(te, importer)
    if ax is None:
        _, ax = pyplot().subplots(figsize=(6.5, 4.8))
    share = df["share"].to_numpy()
    size = 20.0 + 1500.0 * share / max(share.max(), 1e-300)
    ax.scatter(df["price"], -df["theta"], s=size, alpha=0.6, edgecolor="k", linewidth=0.5)
    for _, r in df.iterrows():
        ax.annotate(r["country"], (r["price"], -r["theta"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    k = te.row(importer)
    name = te.countries[te.importers[k]]
    mean = float(te.theta_mean[k])
    ax.axhline(-mean, color="gray", ls="--", lw=1, label=rf"trade-weighted mean {-mean:.3f}")
    ax.set(xlabel=rf"delivered price $p_{{ij}}$ in {name}", ylabel=r"$-\theta_{ij}$",
           title=f"{name}: bilateral trade elasticities (markers sized by trade)")
    ax.margins(0.08)
    ax.legend(loc="best", fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


# ------------------------------------------------------------------- hat elasticities
#: The Proposition-3 margins of every pair: theta = 1 + intensive + extensive -
#: intensive_home - extensive_home (:meth:`hat_jax.TradeElasticities.margins`).
MARGINS = ("intensive", "extensive", "intensive_home", "extensive_home")


def _margins_record(te: TradeElasticities) -> dict:
    m = te.margins()
    return {k: json_nums(m[k]) for k in MARGINS}  # importer rows, as "theta"


def _full_rows(x, importers, N):
    """[K, ...] rows of the importers ``importers`` placed in an [N, ...] array (NaN in
    the rows not computed)."""
    x = np.asarray(x, np.float64)
    full = np.full((N,) + x.shape[1:], np.nan)
    full[list(importers)] = x
    return full


def elasticities_standard_errors(outputs, jacobian, V_params, cov: str, source: str,
                                 countries, importers, stats: dict | None = None) -> dict:
    """The ``"standard_errors"`` object of ``hat elasticities --se`` (delta method,
    model.md s.16): ``outputs``, ``jacobian``: :func:`hat_jax.calibration.
    elasticities_jacobian` for the importers ``importers`` (country indices); V_params:
    the parameters' covariance (``hat calibrate --se``'s inference.json, named by
    ``source``). Keys: cov, source, method "delta", importers (labels of the rows
    computed), theta (N x N, null in rows not computed, 0 on the diagonal: theta_ii = 1
    by convention), theta_mean [N], margins {intensive, extensive, intensive_home,
    extensive_home} (N x N), ci95 {theta_mean: [lo, hi] per importer, estimate -+ 1.96
    s.e.}, timings."""
    from hat_jax.calibration import delta_method_se

    N = len(countries)

    def se(name):
        return _full_rows(delta_method_se(np.asarray(getattr(jacobian, name)), V_params),
                          importers, N)

    z = 1.959963984540054
    mean, se_mean = _full_rows(outputs.theta_mean, importers, N), se("theta_mean")
    return {
        "cov": cov, "source": str(source), "method": "delta",
        "importers": [countries[i] for i in importers],
        "theta": json_nums(se("theta")), "theta_mean": json_nums(se_mean),
        "margins": {k: json_nums(se(k)) for k in MARGINS},
        "ci95": {"theta_mean": [json_nums([m - z * e, m + z * e])
                                for m, e in zip(mean, se_mean)]},
        "timings": json_timings(stats or {}),
    }


def _with_se(x, e) -> str:
    return f"{x:.4f}" if e is None else f"{x:.4f} ({e:.4f})"


def format_standard_errors(result: dict) -> str:
    """The text lines of ``hat elasticities --se``: theta_ij with its s.e. in parentheses
    (all pairs for N <= 6, else the computed importers' partners up to 30), the
    trade-weighted means and the Proposition-3 margins of those pairs."""
    se = result["standard_errors"]
    c = result["countries"]
    rows = [c.index(x) for x in se["importers"]]
    pairs = [(i, j) for i in rows for j in range(len(c)) if j != i]
    shown = pairs[:30]
    lines = ["", f"Standard errors ({se['cov']}, delta method; in parentheses), "
             f"importers {', '.join(se['importers'])}",
             "  trade-weighted mean: " + ", ".join(
                 f"{c[i]} {_with_se(result['theta_mean'][i], se['theta_mean'][i])}"
                 for i in rows),
             f"  {'pair':<16}{'theta_ij':>22}" + "".join(f"{k:>22}" for k in MARGINS)]
    m, sm = result["margins"], se["margins"]
    for i, j in shown:
        cells = [_with_se(result["theta"][i][j], se["theta"][i][j])]
        cells += [_with_se(m[k][i][j], sm[k][i][j]) for k in MARGINS]
        lines.append(f"  {c[i] + ' <- ' + c[j]:<16}" + "".join(f"{x:>22}" for x in cells))
    if len(pairs) > len(shown):
        lines.append(f"  ... {len(pairs) - len(shown)} more pairs in --json / --out "
                     "(theta_se.csv, pairs.csv)")
    return "\n".join(lines)


STATE_KEYS = ("asset", "z_index", "theta", "theta_E", "theta_I", "omega_ij", "omega_ii",
              "theta_E_home", "theta_I_home", "lam", "foreign_share", "constrained")


def elasticities_summary(te: TradeElasticities, preset: str, eq, opts, hh_tol: float,
                         importer: int | None = None, states: StateElasticities | None = None,
                         stats: dict | None = None) -> dict:
    """The ``hat elasticities --json`` / summary.json object.

    Keys: preset, countries, theta (N x N, importer rows, diagonal 1.0), theta_mean (per
    importer, trade-weighted over partners), import_share (1 - pi_ii), margins
    {intensive, extensive, intensive_home, extensive_home} (N x N each, the Proposition-3
    margins of :meth:`~hat_jax.TradeElasticities.margins`), converged
    (equilibrium and re-solved households), timings {equilibrium_compile_s,
    equilibrium_run_s (from ``eq.stats``), elasticities_s (from ``stats``)}, settings
    {...}; with an importer: importer and
    partners [{country, theta, price, share}]; with a state pair: states_pair {importer,
    partner, theta, theta_proposition3, share_constrained} and states [STATE_KEYS].
    """
    e = eq.economy
    eq_stats = eq.stats or {}
    timings = {"equilibrium_compile_s": eq_stats.get("compile_s"),
               "equilibrium_run_s": eq_stats.get("run_s"), **(stats or {})}
    out = {
        "preset": preset,
        "countries": list(te.countries),
        "theta": json_nums(te.theta),
        "theta_mean": json_nums(te.theta_mean),
        "import_share": json_nums(theta_mean_frame(te)["import_share"]),
        "margins": _margins_record(te),
        "converged": bool(eq.converged) and bool(np.all(np.asarray(te.converged))),
        "timings": json_timings(timings, ("equilibrium_compile_s", "equilibrium_run_s",
                                          "elasticities_s")),
        "settings": {
            "gamma": float(e.gamma), "sigma": json_num(e.sigma),
            "psi_slope": json_num(e.psi_slope), "beta": json_num(eq.beta),
            "R": json_nums(eq.R), "Na": int(e.Na), "Nz": int(e.Nz), "phi": json_num(e.phi),
            "amax": json_num(e.amax), "regime": opts.regime, "unknown": opts.unknown,
            "tol": float(opts.tol), "hh_tol": float(hh_tol),
            "tangent_solver": opts.tangent_solver,
        },
    }
    if importer is not None:
        out["importer"] = te.countries[importer]
        out["partners"] = records(partners_frame(te, importer),
                                  ("country", "theta", "price", "share"))
    if states is not None:
        out["states_pair"] = {
            "importer": states.importer, "partner": states.partner,
            "theta": json_num(states.theta_aggregate),
            "theta_proposition3": json_num(proposition3(states)),
            "share_constrained": json_num(np.sum(np.asarray(states.lam)
                                                 * np.asarray(states.constrained))),
        }
        out["states"] = records(states_frame(states), STATE_KEYS)
    return out


def write_elasticity_outputs(out_dir, te: TradeElasticities, result: dict, states=None,
                             importer=None, plot_states=None,
                             plots: bool = False) -> list[Path]:
    """Write summary.json, theta.csv (importer rows, exporter columns), theta_mean.csv,
    pairs.csv (importer, exporter, theta, price, share, M); partners_<ISO>.csv and
    states_<I>_<J>.csv when given; with ``result["standard_errors"]`` (``--se``) also
    theta_se.csv (the layout of theta.csv, empty in rows not computed), a theta_mean_se
    column in theta_mean.csv, theta_se, the four margins and their ``_se`` in pairs.csv,
    theta_se in partners_<ISO>.csv; with ``plots`` the PNG figures
    state_heatmaps_<I>_<J>.png (of ``plot_states``) and elasticity_vs_price_<ISO>.png."""
    fmt = CSV_FLOAT
    files = {
        "summary.json": json_text(result) + "\n",
        "theta.csv": theta_matrix(te).to_csv(float_format=fmt),
        "theta_mean.csv": theta_mean_frame(te).to_csv(index=False, float_format=fmt),
        "pairs.csv": elasticity_frame(te).to_csv(index=False, float_format=fmt),
    }
    se = result.get("standard_errors")
    if se is not None:
        _add_se_files(files, te, result, se)
    if importer is not None:
        partners = partners_frame(te, importer)
        if se is not None:
            i = te.importers[te.row(importer)]
            partners["theta_se"] = [se["theta"][i][te.countries.index(c)]
                                    for c in partners["country"]]
        files[f"partners_{te.countries[importer]}.csv"] = partners.to_csv(
            index=False, float_format=fmt)
    if states is not None:
        files[f"states_{states.importer}_{states.partner}.csv"] = states_frame(
            states).to_csv(index=False, float_format=fmt)
    if plots:
        if plot_states is not None:
            name = f"state_heatmaps_{plot_states.importer}_{plot_states.partner}.png"
            files[name] = figure_bytes(plot_state_heatmaps(plot_states))
        if importer is not None:
            name = f"elasticity_vs_price_{te.countries[importer]}.png"
            files[name] = figure_bytes(plot_elasticity_vs_price(te, importer))
    return write_files(out_dir, files)


def _add_se_files(files: dict, te: TradeElasticities, result: dict, se: dict) -> None:
    """theta_se.csv and the s.e. columns of theta_mean.csv and pairs.csv (``--se``)."""
    fmt = CSV_FLOAT
    c = list(te.countries)
    nan = lambda x: np.asarray(x, dtype=float)  # noqa: E731  (None -> nan)
    rows = [c[i] for i in te.importers]
    ix = list(te.importers)
    theta_se = pd.DataFrame(nan(se["theta"])[ix], index=rows, columns=c)
    theta_se.index.name, theta_se.columns.name = "importer", "exporter"
    files["theta_se.csv"] = theta_se.to_csv(float_format=fmt)
    means = theta_mean_frame(te)
    means["theta_mean_se"] = nan(se["theta_mean"])[ix]
    files["theta_mean.csv"] = means.to_csv(index=False, float_format=fmt)
    pairs = elasticity_frame(te)
    i = pairs["importer"].map(c.index).to_numpy()
    j = pairs["exporter"].map(c.index).to_numpy()
    pairs["theta_se"] = nan(se["theta"])[i, j]
    for k in MARGINS:
        pairs[k] = nan(result["margins"][k])[i, j]
        pairs[k + "_se"] = nan(se["margins"][k])[i, j]
    files["pairs.csv"] = pairs.to_csv(index=False, float_format=fmt)


def _states_lines(result: dict) -> list[str]:
    sp = result["states_pair"]
    th = np.array([r["theta"] for r in result["states"]], dtype=float)
    return ["", f"States: {sp['importer']} importing from {sp['partner']} "
            f"({len(th)} states (asset, productivity); all in --json / --out)",
            f"  theta_ij = {sp['theta']:.10f} (AD of the flows), Proposition 3 "
            f"rebuild {sp['theta_proposition3']:.10f}",
            f"  theta_ij(a,z) from {th.min():.4f} to {th.max():.4f}; share of "
            f"households at the borrowing limit {sp['share_constrained']:.4f}"]


def format_elasticities(result: dict, te: TradeElasticities) -> str:
    """The readable report printed by ``hat elasticities`` without --json."""
    s = result["settings"]
    N = len(result["countries"])
    lines = [
        f"Trade elasticities: {result['preset']} (N={N}, Na={s['Na']}, gamma={s['gamma']:g}, "
        f"sigma={s['sigma']:g}); theta_ij = d log(M_ij/M_ii) / d log d_ij with W, R and the "
        "distribution fixed",
        f"converged: {'yes' if result['converged'] else 'NO'}",
    ]
    with pd.option_context("display.width", 120, "display.max_columns", 50):
        if N <= 6:
            m = theta_matrix(te)
            m.index.name, m.columns.name = "importer \\ exporter", None
            lines += ["", "theta_ij (importer rows, exporter columns; diagonal 1 by convention)",
                      m.to_string(float_format="{:.6f}".format)]
        else:
            lines += ["", f"theta_ij: {N} x {N} matrix in --json / --out (theta.csv, pairs.csv)"]
        means = theta_mean_frame(te).set_index("importer")
        means.index.name = None
        lines += ["", "Trade-weighted mean elasticity by importer (over partners j != i)",
                  means.to_string(float_format="{:.6f}".format)]
        if "partners" in result:
            df = partners_frame(te, result["importer"]).set_index("country")
            df.index.name = None
            lines += ["", f"{result['importer']}: partners' elasticities, delivered prices "
                      "p_ij and trade shares", df.to_string(float_format="{:.6f}".format)]
        if "states_pair" in result:
            lines += _states_lines(result)
    t = result["timings"]
    if t["elasticities_s"] is not None:
        lines += ["", f"elasticities: {t['elasticities_s']:.2f} s (first call includes "
                  "compilation)"]
    return "\n".join(lines)
