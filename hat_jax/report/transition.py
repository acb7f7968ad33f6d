"""Tables, figures and files of a transition (``hat transition``, issue 14).

:func:`transition_summary` (the ``--json`` object), :func:`path_frame` (one row per
date and country), :func:`format_transition` (the readable summary),
:func:`plot_price_paths`, :func:`plot_trade_paths`, :func:`plot_elasticity_by_horizon`,
:func:`plot_transition_gains`, :func:`plot_percentile_paths` (figures drawn from the summary dict, so a notebook can
draw them from a saved JSON file), :func:`write_transition_outputs` (``--out DIR``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hat_jax import transition as tn
from hat_jax._change import note_of

from ._figures import figure_bytes, pyplot
from ._files import CSV_FLOAT, json_num, json_nums, json_text, json_timings, write_files
from .welfare import ev_measure_summary

__all__ = ["transition_summary", "path_frame", "format_transition", "plot_price_paths",
           "plot_trade_paths", "plot_elasticity_by_horizon", "plot_transition_gains",
           "plot_percentile_paths", "percentile_frame", "write_transition_outputs", "HORIZONS", "shown_countries",
           "transition_standard_errors", "elasticity_frame"]

#: Horizons of the elasticity table.
HORIZONS = (0, 1, 2, 5, 10, 20)


def transition_summary(preset: str, tr, experiment: dict, he=None, tw=None,
                       stats: dict | None = None) -> dict:
    """The ``--json`` object of ``hat transition`` (keys in docs/reference/outputs.md;
    ``distribution_paths`` when ``tr.paths`` holds the distribution and policy paths;
    with ``tw`` also the EV-measure keys ev_measure, mean_labour_income, ev_transfer
    (date-0 tau, null under "proportional"), steady_state_ev_transfer, ev_ill_posed,
    ev_ill_posed_count and ev_ok, as :func:`hat_jax.report.welfare.ev_measure_summary`);
    its timings are those of ``stats`` (default: the transition's own, ``tr.stats``)."""
    p = tr.path
    econ = tr.economy
    out = {
        "preset": preset, "countries": list(econ.countries), "experiment": experiment,
        "T": int(tr.horizon), "t": list(range(int(tr.horizon))),
        "R": json_nums(p.R), "R_next": json_nums(p.R_next),
        "wages": json_nums(p.W), "home_share": json_nums(p.home_share),
        "trade_shares": json_nums(p.trade_shares),
        "nfa_gdp": json_nums(np.asarray(p.bond_demand) / np.asarray(p.Y)),
        "share_borrowing_limit": json_nums(p.share_constrained),
        "consumption_inequality": json_nums(p.dispersion),
        "initial": {"W": json_nums(tr.initial.W), "R": json_num(p.R[0]),  # world R_0
                    "home_share": json_nums(np.diag(np.asarray(
                        tr.initial.world.aggregates.trade_shares)))},
        "terminal": {"W": json_nums(tr.terminal.W), "R": json_num(tr.terminal.R),
                     "home_share": json_nums(np.diag(np.asarray(
                         tr.terminal.world.aggregates.trade_shares)))},
        "beta": json_num(tr.initial.beta),
        "converged": bool(tr.converged), "residual": json_num(tr.residual),
        "terminal_gap": json_num(tr.terminal_gap),
        "iterations": {"newton": int(tr.iterations), "jacobians": int(tr.jacobians),
                       "stop": tr.stop},
        "timings": json_timings(stats or tr.stats),
    }
    if he is not None:
        k = lambda name: json_nums(he.mean(name))
        out["elasticity_by_horizon"] = {
            "importer": econ.countries[he.importer],
            "partners": [econ.countries[j] for j in he.partners],
            "h": [int(h) for h in he.h], "fixed_prices": k("fixed_prices"),
            "general_equilibrium": k("general_equilibrium"),
            "limit_fixed_prices": k("limit_fixed_prices"), "long_run": k("long_run"),
            "time_series": k("time_series"),
            "time_series_population": k("time_series_population"), "rho": he.rho,
        }
    if tw is not None:
        lam = np.asarray(tr.initial.world.distribution.lam[tw.country])
        prob = tr.initial.world.problems
        i = tw.country
        out.update({
            "country": econ.countries[i], "ev": json_nums(tw.ev.factor),
            "steady_state_ev": json_nums(tw.steady_state.factor),
            "assets": json_nums(prob.a_min[i] + prob.da[i] * np.arange(econ.Na)),
            "z": json_nums(econ.z), "distribution": json_nums(lam),
            "mean_gain_pct": json_num(tw.mean_gain_pct),
            "steady_state_mean_gain_pct": json_num(tw.steady_state_mean_gain_pct),
            "ev_converged": bool(np.all(np.asarray(tw.ev.converged))
                                 and np.all(np.asarray(tw.steady_state.converged))),
        })
        m, ss = ev_measure_summary(tw.ev, None, tr.initial), tw.steady_state
        ss_ok = ev_measure_summary(ss, None, tr.initial)["ev_ok"]
        out.update({k: m[k] for k in ("ev_measure", "mean_labour_income", "ev_transfer",
                                      "ev_ill_posed", "ev_ill_posed_count")})
        out.update(steady_state_ev_transfer=None if ss.tau is None else json_nums(ss.tau),
                   ev_ok=bool(m["ev_ok"] and ss_ok))
        gain = lambda e: json_nums(100.0 * (tn.wealth_decile_means(lam, e.factor) - 1.0))
        out.update(ev_by_wealth_decile_pct=gain(tw.ev),
                   steady_state_ev_by_wealth_decile_pct=gain(tw.steady_state))
    if getattr(tr, "paths", None) is not None:
        out["distribution_paths"] = _percentile_summary(tr.paths)
    return out


def _percentile_summary(dp) -> dict:
    """The ``distribution_paths`` object: percentiles along the path and the mass."""
    pc = tn.path_percentiles(dp, tn.PERCENTILES)
    return {"percentiles": list(tn.PERCENTILES),
            **{k: json_nums(v) for k, v in pc.items()},
            "mass": json_nums(dp.mass[:-1])}


def percentile_frame(result: dict) -> pd.DataFrame:
    """One row per date, country and variable (consumption, assets, import_share) of
    ``result["distribution_paths"]``: t, country, variable, p10, p25, ... (one column
    per percentile)."""
    dp = result["distribution_paths"]
    rows = []
    for name in ("consumption", "assets", "import_share"):
        x = np.asarray(dp[name], np.float64)
        for t in result["t"]:
            for k, c in enumerate(result["countries"]):
                rows.append({"t": t, "country": c, "variable": name,
                             **{f"p{q:g}": x[t, k, n] for n, q in enumerate(dp["percentiles"])}})
    return pd.DataFrame(rows)


def elasticity_frame(result: dict) -> pd.DataFrame:
    """One row per horizon h: fixed_prices, general_equilibrium (trade-weighted) and,
    with ``"standard_errors"`` (``--se``), their s.e. and 95% bounds (``*_se``,
    ``*_low``, ``*_high``)."""
    eh, se = result["elasticity_by_horizon"], result.get("standard_errors")
    names = ("fixed_prices", "general_equilibrium")
    frame = pd.DataFrame({"h": eh["h"], **{k: eh[k] for k in names}})
    for k in names if se is not None else ():
        ci = np.asarray(se["ci95"][k], np.float64)
        frame[f"{k}_se"], frame[f"{k}_low"], frame[f"{k}_high"] = se[k], ci[:, 0], ci[:, 1]
    return frame


def path_frame(result: dict) -> pd.DataFrame:
    """One row per date and country: t, country, W, R (paid at t), R_next, home_share,
    nfa_gdp, share_borrowing_limit, consumption_inequality."""
    rows = []
    for t in result["t"]:
        for k, c in enumerate(result["countries"]):
            rows.append({"t": t, "country": c, "W": result["wages"][t][k], "R": result["R"][t],
                         "R_next": result["R_next"][t], "home_share": result["home_share"][t][k],
                         "nfa_gdp": result["nfa_gdp"][t][k],
                         "share_borrowing_limit": result["share_borrowing_limit"][t][k],
                         "consumption_inequality": result["consumption_inequality"][t][k]})
    return pd.DataFrame(rows)


def transition_standard_errors(outputs, jacobian, V_params, cov: str, source: str,
                               stats: dict | None = None) -> dict:
    """The ``"standard_errors"`` object of ``hat transition --se`` (delta method,
    model.md s.16): ``outputs``, ``jacobian``:
    :func:`hat_jax.transition.horizon_elasticities_jacobian`; V_params: the parameters'
    covariance (``hat calibrate --se``'s inference.json, named by ``source``). Keys as
    those of ``elasticity_by_horizon``: fixed_prices, general_equilibrium (T, by
    horizon), limit_fixed_prices, long_run, time_series, time_series_population; ci95
    (each: estimate -+ 1.96 s.e., [low, high], by horizon T x [low, high]); estimates
    (the elasticities at the file's parameters, trade-weighted, as differentiated);
    cov, source, timings (the command adds converged: the re-solved baseline's)."""
    from hat_jax.calibration import delta_method_se

    z = 1.959963984540054
    names = ("fixed_prices", "general_equilibrium", "limit_fixed_prices", "long_run",
             "time_series", "time_series_population")
    out = {"cov": cov, "source": str(source), "method": "delta"}
    ci, est = {}, {}
    for name in names:
        x = np.asarray(getattr(outputs, name), np.float64)
        e = delta_method_se(np.asarray(getattr(jacobian, name)), V_params)
        out[name], est[name] = json_nums(e), json_nums(x)
        ci[name] = json_nums(np.stack([x - z * e, x + z * e], axis=-1))
    out.update(ci95=ci, estimates=est, timings=json_timings(stats or {}))
    return out


def _elasticity_lines(eh: dict, T: int, se: dict | None) -> list[str]:
    """The elasticity-by-horizon table, with standard errors in parentheses under --se."""
    e = (lambda k, h=None: "") if se is None else (  # noqa: E731
        lambda k, h=None: f" ({(se[k] if h is None else se[k][h]):.4f})")
    lines = ["", f"trade elasticity of {eh['importer']} by horizon (trade-weighted"
             + ("" if se is None else f"; s.e. in parentheses, {se['cov']}, delta method")
             + "):", "      h   fixed prices   general eq."]
    for h in HORIZONS:
        if h < T:
            lines.append(f"  {h:5d}   {eh['fixed_prices'][h]:12.4f}{e('fixed_prices', h)}  "
                         f"{eh['general_equilibrium'][h]:12.4f}{e('general_equilibrium', h)}")
    lines.append(f"  long run {eh['limit_fixed_prices']:10.4f}{e('limit_fixed_prices')}  "
                 f"{eh['long_run']:12.4f}{e('long_run')}")
    lines.append(f"  time-series estimate (AR(1) costs, rho = {eh['rho']}): "
                 f"{eh['time_series']:.4f}{e('time_series')}")
    return lines


def format_transition(result: dict, note: str | None = None) -> str:
    """The readable summary of a transition; ``note``: the shock's sentence (the
    :class:`~hat_jax.Change`'s note; default: :func:`hat_jax._change.note_of` of the
    result's ``"experiment"`` object)."""
    c = result["countries"]
    T = result["T"]
    note = note_of(result["experiment"]) if note is None else note
    lines = [f"transition: {result['preset']}, {note}, T = {T}", f"converged: {result['converged']} (max residual / GDP "
             f"{result['residual']:.2e}, {result['iterations']['newton']} quasi-Newton "
             f"iterations, {result['iterations']['jacobians']} Jacobians), terminal gap "
             f"{result['terminal_gap']:.2e}"]
    show = [t for t in (0, 1, 2, 5, 10, 20, 50, T - 1) if t < T]
    cols, note = shown_countries(result)
    lines.append("")
    if note:
        lines.append(note)
    lines.append("   t        R  " + "  ".join(f"{'W_' + c[k]:>9s} {'home_' + c[k]:>10s}"
                                               for k in cols))
    for t in sorted(set(show)):
        row = "  ".join(f"{result['wages'][t][k]:9.5f} {result['home_share'][t][k]:10.5f}"
                        for k in cols)
        lines.append(f"{t:4d} {result['R'][t]:8.5f}  {row}")
    lines.append(f"   terminal R {result['terminal']['R']:.6f}")
    eh = result.get("elasticity_by_horizon")
    if eh is not None:
        lines += _elasticity_lines(eh, T, result.get("standard_errors"))
    if "mean_gain_pct" in result:
        lines.append("")
        lines.append(f"welfare of {result['country']}: mean EV gain {result['mean_gain_pct']:.4f}% "
                     f"with the transition, {result['steady_state_mean_gain_pct']:.4f}% "
                     "across steady states")
    return "\n".join(lines)


def shown_countries(result: dict, n: int = 6) -> tuple[list[int], str]:
    """(indices of the countries in the readable table, a line saying which they are):
    all of them when there are at most ``n``; else the shocked countries (``experiment``
    ``"shocked"``), the welfare country, then the largest movers (largest change of the
    wage or the home share over the path, relative to t = 0), ``n`` in all."""
    c = result["countries"]
    if len(c) <= n:
        return list(range(len(c))), ""
    index = {x: k for k, x in enumerate(c)}
    first = [index[x] for x in result.get("experiment", {}).get("shocked", []) if x in index]
    if result.get("country") in index:
        first.append(index[result["country"]])
    W, home = np.asarray(result["wages"]), np.asarray(result["home_share"])
    move = np.max(np.abs(W / W[:1] - 1.0) + np.abs(home - home[:1]), axis=0)
    cols = list(dict.fromkeys(first))[:n]
    movers = [int(k) for k in np.argsort(-move, kind="stable") if k not in cols][:n - len(cols)]
    shocked = [c[k] for k in cols]
    note = (f"countries shown: {', '.join(shocked) or 'none shocked'} (shocked or the "
            f"welfare country), then the largest movers {', '.join(c[k] for k in movers)} "
            f"({len(c) - n} others in path.csv / --json)")
    return cols + movers, note


def _ax(ax, size=(6.5, 4.2)):
    if ax is None:
        _, ax = pyplot().subplots(figsize=size)
    return ax


def plot_price_paths(result: dict, ax=None):
    """Wages by country and R over the transition (R on a twin axis). Returns the Axes."""
    ax = _ax(ax)
    W = np.asarray(result["wages"], np.float64)
    for k, c in enumerate(result["countries"]):
        ax.plot(result["t"], W[:, k], lw=1, label=c if len(result["countries"]) <= 6 else None)
    ax.set_xlabel("t (years)")
    ax.set_ylabel("wage W_i,t (mean one)")
    ax2 = ax.twinx()
    ax2.plot(result["t"], result["R"], color="k", ls="--", label="R_t")
    ax2.set_ylabel("R_t (dashed)")
    if len(result["countries"]) <= 6:
        ax.legend(loc="best", fontsize=8)
    return ax


def plot_trade_paths(result: dict, ax=None):
    """Import share 1 - pi_ii,t by country, with the terminal value dotted."""
    ax = _ax(ax)
    H = 1.0 - np.asarray(result["home_share"], np.float64)
    term = 1.0 - np.asarray(result["terminal"]["home_share"], np.float64)
    for k, c in enumerate(result["countries"]):
        line, = ax.plot(result["t"], H[:, k], lw=1,
                        label=c if len(result["countries"]) <= 6 else None)
        ax.axhline(term[k], color=line.get_color(), ls=":", lw=0.8)
    ax.set_xlabel("t (years)")
    ax.set_ylabel("import share 1 - pi_ii,t")
    if len(result["countries"]) <= 6:
        ax.legend(loc="best", fontsize=8)
    return ax


def plot_elasticity_by_horizon(result: dict, ax=None, h_max: int = 40):
    """theta(h) at fixed prices and in general equilibrium (with their 95% bands when
    the result has ``"standard_errors"``), long-run values dotted and the time-series
    estimate marked."""
    ax = _ax(ax)
    eh = result["elasticity_by_horizon"]
    h = np.asarray(eh["h"])[: h_max + 1]
    se = result.get("standard_errors")
    for k, (name, label) in enumerate((("fixed_prices", "fixed prices"),
                                       ("general_equilibrium", "general equilibrium"))):
        ax.plot(h, np.asarray(eh[name])[: h_max + 1], label=label)
        if se is not None:  # the 95% band of the delta method
            lo, hi = np.asarray(se["ci95"][name], np.float64)[: h_max + 1].T
            ax.fill_between(h, lo, hi, color=f"C{k}", alpha=0.2, lw=0,
                            label="95% band" if k == 0 else None)
    ax.axhline(eh["limit_fixed_prices"], color="C0", ls=":", lw=0.8)
    ax.axhline(eh["long_run"], color="C1", ls=":", lw=0.8, label="long run (GE)")
    ax.axhline(eh["time_series"], color="C3", ls="--", lw=1,
               label=f"time-series estimate (rho = {eh['rho']})")
    ax.set_xlabel("horizon h (years)")
    ax.set_ylabel(f"trade elasticity of {eh['importer']}")
    ax.legend(loc="best", fontsize=8)
    return ax


def plot_transition_gains(result: dict, ax=None):
    """Mean gain 100 (lambda_tau - 1) by assets (over productivity, weighted by the
    initial distribution), with and without the transition."""
    ax = _ax(ax)
    a = np.asarray(result["assets"])
    lam = np.asarray(result["distribution"], np.float64)
    w = lam / np.maximum(lam.sum(axis=1, keepdims=True), 1e-300)
    for key, label in (("ev", "with the transition"), ("steady_state_ev", "steady states")):
        g = 100.0 * (np.asarray(result[key], np.float64) - 1.0)
        ax.plot(a, np.where(lam.sum(axis=1) > 0, (w * g).sum(axis=1), g.mean(axis=1)),
                label=label)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("assets a")
    ax.set_ylabel(f"welfare gain of {result['country']} (% of income)")
    ax.legend(loc="best", fontsize=8)
    return ax


def plot_percentile_paths(result: dict, country=None, axes=None):
    """Percentiles of household expenditure, assets and the import share of ``country``
    (default: the EV country, else the first) along the path, one panel each, the median
    solid. Returns the Axes."""
    dp = result["distribution_paths"]
    c = country or result.get("country") or result["countries"][0]
    k = result["countries"].index(c)
    if axes is None:
        _, axes = pyplot().subplots(1, 3, figsize=(12, 3.8))
    qs = dp["percentiles"]
    for ax, (name, label) in zip(axes, (("consumption", "expenditure"), ("assets", "assets a"),
                                        ("import_share", "import share"))):
        x = np.asarray(dp[name], np.float64)[:, k]
        for n, q in enumerate(qs):
            ax.plot(result["t"], x[:, n], color="C0", lw=1.6 if q == 50 else 0.8,
                    ls="-" if q == 50 else "--", label=f"p{q:g}" if n in (0, len(qs) - 1)
                    or q == 50 else None)
        ax.set_xlabel("t (years)")
        ax.set_ylabel(f"{label} of {c}")
    axes[0].legend(loc="best", fontsize=8)
    axes[0].figure.tight_layout()
    return axes


def write_transition_outputs(out_dir, result: dict, plots: bool = False):
    """summary.json, path.csv, elasticity_by_horizon.csv (with the elasticity; s.e.
    columns under --se), ev.csv with a country, figures with ``plots``."""
    files: dict = {"summary.json": json_text(result),
                   "path.csv": path_frame(result).to_csv(index=False, float_format=CSV_FLOAT)}
    if "elasticity_by_horizon" in result:
        files["elasticity_by_horizon.csv"] = elasticity_frame(result).to_csv(
            index=False, float_format=CSV_FLOAT)
    if "ev" in result:
        ev = np.asarray(result["ev"], np.float64)
        ss = np.asarray(result["steady_state_ev"], np.float64)
        rows = [{"asset": result["assets"][a], "z_index": k, "z": result["z"][k],
                 "ev": ev[a, k], "steady_state_ev": ss[a, k],
                 "lam": result["distribution"][a][k]}
                for a in range(ev.shape[0]) for k in range(ev.shape[1])]
        files["ev.csv"] = pd.DataFrame(rows).to_csv(index=False, float_format=CSV_FLOAT)
    if "distribution_paths" in result:
        files["percentiles.csv"] = percentile_frame(result).to_csv(index=False,
                                                                  float_format=CSV_FLOAT)
    if plots:
        files["price_paths.png"] = figure_bytes(plot_price_paths(result))
        files["trade_paths.png"] = figure_bytes(plot_trade_paths(result))
        if "elasticity_by_horizon" in result:
            files["elasticity_by_horizon.png"] = figure_bytes(plot_elasticity_by_horizon(result))
        if "ev" in result:
            files["transition_gains.png"] = figure_bytes(plot_transition_gains(result))
        if "distribution_paths" in result:
            files["percentile_paths.png"] = figure_bytes(plot_percentile_paths(result)[0])
    return write_files(out_dir, files)
