"""Reports of welfare analyses (model.md sections 10 and 11): the ``hat counterfactual``
and ``hat planner`` summary objects, their frames, readable summaries, figures and
``--out`` files.

Counterfactual: :func:`counterfactual_summary`, :func:`ev_frame` (one row per household
state), :func:`counterfactual_countries_frame`, :func:`plot_ev_by_assets`,
:func:`plot_quintile_gains`, :func:`format_counterfactual`,
:func:`write_counterfactual_outputs`. Planner: :func:`planner_summary`,
:func:`planner_pairs_frame`, :func:`plot_efficient_trade`, :func:`format_planner`,
:func:`write_planner_outputs`. The figures take the summary objects, so a notebook can
draw them from a saved JSON file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hat_jax import welfare as wf
from hat_jax._change import note_of

from ._figures import figure_bytes, pyplot
from ._files import CSV_FLOAT, json_num, json_nums, json_text, json_timings, write_files

__all__ = ["counterfactual_standard_errors", 
    "ev_measure_summary", "counterfactual_summary", "ev_frame", "counterfactual_countries_frame",
    "plot_ev_by_assets", "plot_quintile_gains", "format_counterfactual",
    "write_counterfactual_outputs", "planner_summary", "planner_pairs_frame",
    "plot_efficient_trade", "format_planner", "write_planner_outputs",
]


# ------------------------------------------------------------------------ counterfactual
def _at(x, i) -> float:
    """R of country i: the scalar world rate, or R_i under autarky."""
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else float(x[i])


def _ev_diagnostics(ev) -> dict:
    conv = np.asarray(ev.converged)
    bad = np.argwhere(~conv)
    flag = (np.zeros_like(conv) if getattr(ev, "ill_posed", None) is None
            else np.asarray(ev.ill_posed, bool))
    return {
        "ev_converged": bool(conv.all()),
        "ev_failures": [{"a": int(a), "z": int(z), "residual": json_num(ev.residual[a, z]),
                         "iterations": int(ev.iterations[a, z]),
                         "ill_posed": bool(flag[a, z])} for a, z in bad[:50]],
        "ev_max_residual": json_num(np.max(np.asarray(ev.residual))),
        "ev_solves_max": int(np.max(np.asarray(ev.iterations))),
    }


def _equilibria(base, new) -> dict:
    one = lambda eq: {"converged": bool(eq.converged), "residual": json_num(eq.residual),  # noqa: E731
                      "iterations": int(eq.iterations)}
    return {"baseline": one(base), "counterfactual": one(new)}


def ev_measure_summary(ev, summary, baseline) -> dict:
    """The EV-measure keys of the welfare reports (``hat counterfactual``, ``hat tariff``,
    ``hat transition``; model.md s.10), added next to the existing keys, whose meaning
    under ``ev_measure="proportional"`` is unchanged (under "transfer", ``ev`` is
    l = 1 + tau / (W_i E[z]) and the ``*_gain_pct`` keys are tau in percent of mean
    labour income):

    ev_measure: "transfer" or "proportional"; mean_labour_income: W_i E[z] at the old
    prices (the transfer's unit); ev_transfer [Na][Nz]: tau(a, z) in the numeraire;
    ev_transfer_pct_expenditure [Na][Nz]: 100 tau / e(a, z), e the state's expenditure;
    mean_transfer: sum lambda tau; mean_gain_pct_expenditure,
    quintile_gains_pct_expenditure: the mean and expenditure-quintile means of 100 tau /
    e (these five null under "proportional"); ev_ill_posed [Na][Nz]: states where the
    measure is ill posed (net income R a + W z + T <= 0 under "proportional", none under
    "transfer"); ev_ill_posed_count, ev_ill_posed_mass: their number and baseline mass;
    ev_ok: every state converged but the flagged ill-posed ones (the exit code reads it).
    ``summary``: the :class:`hat_jax.welfare.WelfareSummary` of ``ev`` (None: the mass
    and expenditure keys are null); ``baseline``: the old equilibrium.
    """
    conv = np.asarray(ev.converged)
    flag = np.zeros_like(conv) if ev.ill_posed is None else np.asarray(ev.ill_posed, bool)
    tau = ev.tau
    out = {"ev_measure": ev.measure, "mean_labour_income": json_num(ev.unit),
           "ev_transfer": None if tau is None else json_nums(tau),
           "ev_transfer_pct_expenditure": None, "mean_transfer": None,
           "mean_gain_pct_expenditure": None, "quintile_gains_pct_expenditure": None,
           "ev_ill_posed": flag.tolist(), "ev_ill_posed_count": int(flag.sum()),
           "ev_ill_posed_mass": None if summary is None else json_num(summary.ill_posed_mass),
           "ev_ok": bool(np.all(conv | flag))}
    if tau is not None and summary is not None:
        spend = np.asarray(wf.expenditure(baseline, ev.country))
        out.update(ev_transfer_pct_expenditure=json_nums(100 * np.asarray(tau) / spend),
                   mean_transfer=json_num(summary.mean_transfer),
                   mean_gain_pct_expenditure=json_num(100 * summary.mean_gain_expenditure),
                   quintile_gains_pct_expenditure=json_nums(
                       100 * np.asarray(summary.quintile_gains_expenditure)))
    return out


def counterfactual_summary(preset: str, cf, res, experiment: dict, stats: dict) -> dict:
    """The ``hat counterfactual --json`` object (keys in docs/reference/outputs.md): ``cf`` the
    counterfactual (baseline and new equilibria, new costs), ``res`` the welfare analysis
    of one country (EV lambda_tau(a, z), its aggregates, ACR numbers). The EV-measure
    keys (ev_measure, ev_transfer, ev_ill_posed, ev_ok, ...): :func:`ev_measure_summary`;
    ``ev_failures`` entries carry ``ill_posed``; ``stats`` the command's seconds per step
    (its timings)."""
    base, new = cf.baseline, cf.new
    econ = base.economy
    i = res.country
    s = res.summary
    W_base, W_new = np.asarray(base.W), np.asarray(new.W)
    R_base, R_new = _at(base.R, i), _at(new.R, i)
    prob = wf.country_problem(base, i)
    assets = np.asarray(prob.a_min + prob.da * np.arange(econ.Na))
    diag = _ev_diagnostics(res.ev)
    return {
        "preset": preset,
        "experiment": {**experiment,
                       "clamped": [list(p) for p in experiment.get("clamped", [])],
                       **({"below_one": [list(p) for p in experiment["below_one"]]}
                          if "below_one" in experiment else {})},
        "country": econ.countries[i],
        "countries": list(econ.countries),
        "R": json_num(R_base),
        "R_new": json_num(R_new),
        "beta": json_num(base.beta),
        "wages": json_nums(W_base),
        "wages_new": json_nums(W_new),
        "R_over_W": json_num(R_base / W_base[i]),
        "R_over_W_new": json_num(R_new / W_new[i]),
        "home_share": json_num(res.home_share),
        "home_share_new": json_num(res.home_share_new),
        "ev": json_nums(res.ev.factor),
        "mean_gain_pct": json_num(100 * s.mean_gain),
        "quintile_gains_pct": json_nums(100 * np.asarray(s.quintile_gains)),
        "share_gain": json_num(s.share_gain),
        "welfare_old": json_num(s.welfare_old),
        "welfare_new": json_num(s.welfare_new),
        "welfare_change": json_num(s.welfare_change),
        "acr_pct": json_num(100 * res.acr_model),
        "theta_model": json_num(res.theta_model),
        "acr_theta_pct": json_num(100 * res.acr_user),
        "theta": json_num(res.theta_user),
        "assets": json_nums(assets),
        "z": json_nums(econ.z),
        "distribution": json_nums(base.world.distribution.lam[i]),
        **diag,
        **ev_measure_summary(res.ev, s, base),
        "converged": bool(base.converged) and bool(new.converged) and diag["ev_converged"],
        "equilibrium": _equilibria(base, new),
        "d_new": json_nums(cf.d),
        "tariffs_new": json_nums(new.economy.tariff_matrix),
        "transfers_new": json_nums(np.zeros(econ.N) if new.T is None else new.T),
        "timings": json_timings(stats),
    }


def ev_frame(result: dict) -> pd.DataFrame:
    """One row per household state of a counterfactual summary: ``a_index, z_index,
    assets, z, ev, gain_pct`` (100 (l - 1): lambda_tau - 1 under the proportional
    measure, tau / (W E[z]) under the transfer measure) ``, mass`` (baseline
    distribution); with the summary's EV-measure keys also ``transfer`` (tau in the
    numeraire, transfer measure), ``transfer_pct_expenditure`` and ``ill_posed``; with
    ``standard_errors`` (``hat counterfactual --se``) also ``ev_se`` and ``gain_pct_se``
    (100 ev_se), the delta method's standard error of every state's EV."""
    ev = np.asarray(result["ev"], np.float64)
    lam = np.asarray(result["distribution"], np.float64)
    Na, Nz = ev.shape
    a_idx, z_idx = np.meshgrid(np.arange(Na), np.arange(Nz), indexing="ij")
    frame = pd.DataFrame({
        "a_index": a_idx.ravel(), "z_index": z_idx.ravel(),
        "assets": np.repeat(result["assets"], Nz), "z": np.tile(result["z"], Na),
        "ev": ev.ravel(), "gain_pct": 100 * (ev.ravel() - 1.0), "mass": lam.ravel(),
    })
    for col, key in (("transfer", "ev_transfer"),
                     ("transfer_pct_expenditure", "ev_transfer_pct_expenditure")):
        if result.get(key) is not None:
            frame[col] = np.asarray(result[key], np.float64).ravel()
    if result.get("ev_ill_posed") is not None:
        frame["ill_posed"] = np.asarray(result["ev_ill_posed"], bool).ravel()
    se = _ev_se(result)
    if se is not None:
        frame["ev_se"] = se.ravel()
        frame["gain_pct_se"] = 100 * se.ravel()
    return frame


def _ev_se(result: dict):
    """The standard errors of every state's EV factor [Na, Nz] of ``hat counterfactual
    --se`` (None without them)."""
    se = (result.get("standard_errors") or {}).get("ev")
    return None if se is None else np.asarray(se, np.float64)


def counterfactual_countries_frame(cf) -> pd.DataFrame:
    """One row per country: ``country, W, W_new, home_share, home_share_new, welfare,
    welfare_new`` (utilitarian welfare before and after)."""
    b, n = cf.baseline, cf.new
    return pd.DataFrame({
        "country": list(b.economy.countries),
        "W": np.asarray(b.W), "W_new": np.asarray(n.W),
        "home_share": np.diag(np.asarray(b.world.aggregates.trade_shares)),
        "home_share_new": np.diag(np.asarray(n.world.aggregates.trade_shares)),
        "welfare": np.asarray(wf.utilitarian_welfare(b)),
        "welfare_new": np.asarray(wf.utilitarian_welfare(n)),
    })


#: The normal 97.5% quantile (95% intervals of the delta method).
_Z95 = 1.959963984540054


def plot_ev_by_assets(result: dict, ax=None):
    """Welfare gain 100 (lambda_tau - 1) against assets, one line per productivity state
    (from a counterfactual summary; with its ``standard_errors`` a 95% band, estimate -+
    1.96 s.e., around each line). Returns the Axes."""
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2))
    ev = np.asarray(result["ev"], np.float64)
    a = np.asarray(result["assets"])
    z = np.asarray(result["z"])
    cmap = plt.get_cmap("viridis")
    se = _ev_se(result)
    for k in range(ev.shape[1]):
        color = cmap(k / max(1, ev.shape[1] - 1))
        ax.plot(a, 100 * (ev[:, k] - 1.0), color=color, lw=1.2, label=f"z = {z[k]:.2f}")
        if se is not None:  # the delta method's 95% band of every state
            half = 100 * _Z95 * se[:, k]
            ax.fill_between(a, 100 * (ev[:, k] - 1.0) - half, 100 * (ev[:, k] - 1.0) + half,
                            color=color, alpha=0.15, lw=0)
    ax.axhline(0.0, color="k", lw=0.6)
    transfer = result.get("ev_measure", "proportional") == "transfer"
    ax.set(xlabel="assets a", ylabel=(r"EV transfer $\tau$ (% of mean labour income)"
                                      if transfer else r"EV gain $\lambda_\tau - 1$ (%)"),
           title=f"{result['country']}: welfare gain by state")
    ax.legend(fontsize=7, ncol=2)
    return ax


def plot_quintile_gains(result: dict, ax=None):
    """Mean gain by quintile of household expenditure, with the mean and the ACR number
    (from a counterfactual summary; with its ``standard_errors`` 95% error bars). Returns
    the Axes."""
    if ax is None:
        _, ax = pyplot().subplots(figsize=(5.5, 4.0))
    q = result["quintile_gains_pct"]
    se = (result.get("standard_errors") or {}).get("quintile_gains_pct")
    ax.bar(np.arange(1, 6), q, color="tab:blue", label="HAT (EV)",
           yerr=None if se is None else _Z95 * np.asarray(se, np.float64), capsize=3)
    ax.axhline(result["mean_gain_pct"], color="tab:blue", ls="--", lw=1,
               label=f"mean {result['mean_gain_pct']:.2f}%")
    ax.axhline(result["acr_pct"], color="tab:red", ls=":", lw=1.5,
               label=f"ACR (model theta {result['theta_model']:.2f}) {result['acr_pct']:.2f}%")
    ax.set(xlabel="expenditure quintile (1 = poorest)", ylabel="mean gain (%)",
           title=f"{result['country']}: gains by expenditure quintile")
    ax.legend(fontsize=8)
    return ax


def write_counterfactual_outputs(out_dir, cf, result: dict, plots: bool = False) -> list[Path]:
    """Write counterfactual.json (``result``), ev.csv (:func:`ev_frame`) and countries.csv
    (:func:`counterfactual_countries_frame`); with ``plots`` also ev_by_assets.png and
    quintile_gains.png."""
    files = {
        "counterfactual.json": json_text(result) + "\n",
        "ev.csv": ev_frame(result).to_csv(index=False, float_format=CSV_FLOAT),
        "countries.csv": counterfactual_countries_frame(cf).to_csv(index=False,
                                                                   float_format=CSV_FLOAT),
    }
    if plots:
        for name, plot in (("ev_by_assets.png", plot_ev_by_assets),
                           ("quintile_gains.png", plot_quintile_gains)):
            ax = plot(result)
            ax.figure.tight_layout()
            files[name] = figure_bytes(ax.figure)
    return write_files(out_dir, files)


def _ev_heading(result: dict, c: str) -> list[str]:
    """The EV block's title: what the numbers are under the result's measure."""
    if result.get("ev_measure", "proportional") == "proportional":
        return [f"Equivalent variation of {c}'s households (lambda_tau - 1, percent of "
                "income; proportional measure)"]
    return [f"Equivalent variation of {c}'s households: a permanent transfer tau at the "
            "old prices,", f"  in percent of mean labour income W E[z] = "
            f"{result['mean_labour_income']:.6g} (transfer measure)"]


def _ev_extra(result: dict) -> list[str]:
    """The measure-specific lines of the EV block (expenditure shares, ill-posed states)."""
    if result.get("ev_measure", "proportional") == "transfer":
        q = result.get("quintile_gains_pct_expenditure")
        if q is None:
            return []
        return [f"  mean transfer (numeraire)        {result['mean_transfer']:.6g}",
                f"  in % of own expenditure: mean    {result['mean_gain_pct_expenditure']:.4f}%",
                "  by expenditure quintile          " + "  ".join(f"{x:.4f}%" for x in q)]
    n = result.get("ev_ill_posed_count", 0)
    if not n:
        return []
    mass = result.get("ev_ill_posed_mass")
    return [f"  ill posed (net income <= 0)      {n} states, mass "
            + ("?" if mass is None else f"{mass:.4f}")
            + " (--ev-measure transfer is well posed)"]


def format_counterfactual(result: dict, note: str | None = None) -> str:
    """The readable summary printed by ``hat counterfactual`` without --json; ``note``:
    the experiment's sentence (the :class:`~hat_jax.Change`'s note; default: the note of
    the result's ``"experiment"`` object, :func:`hat_jax._change.note_of`)."""
    e = result["experiment"]
    c = result["country"]
    k = result["countries"].index(c)
    q = result["quintile_gains_pct"]
    eqs = result.get("equilibrium", {}).values()
    flagged_only = (not result["converged"] and result.get("ev_ok", False)
                    and all(q["converged"] for q in eqs))
    lines = [f"HAT counterfactual: {result['preset']}, "
             f"{note_of(e) if note is None else note}",
             "converged: " + ("yes" if result["converged"] else "yes, but the proportional "
                              "EV has no root at the flagged ill-posed states"
                              if flagged_only else "NO")]
    if e["clamped"]:
        lines.append(f"{len(e['clamped'])} costs floored at d = 1: "
                     + ", ".join(f"{a}<-{b}" for a, b in e["clamped"][:8])
                     + (" ..." if len(e["clamped"]) > 8 else ""))
    if e.get("below_one"):
        lines.append(f"{len(e['below_one'])} costs below 1 (the paper's convention, no "
                     "floor): " + ", ".join(f"{a}<-{b}" for a, b in e["below_one"][:8])
                     + (" ..." if len(e["below_one"]) > 8 else ""))
    n_bad = sum(not f.get("ill_posed", False) for f in result["ev_failures"])
    n_flag = len(result["ev_failures"]) - n_bad
    ev_status = ("all states converged" if result["ev_converged"]
                 else (f"{n_bad} states FAILED" if n_bad else "")
                 + (", " if n_bad and n_flag else "")
                 + (f"{n_flag} ill-posed states without a root (flagged)" if n_flag else ""))
    lines += [
        f"R {result['R']:.6f} -> {result['R_new']:.6f}; {c}: W {result['wages'][k]:.6f} -> "
        f"{result['wages_new'][k]:.6f}, R/W {result['R_over_W']:.6f} -> "
        f"{result['R_over_W_new']:.6f}",
        f"{c} home share {result['home_share']:.6f} -> {result['home_share_new']:.6f}",
        "",
        *_ev_heading(result, c),
        f"  mean (stationary distribution)   {result['mean_gain_pct']:.4f}%",
        "  by expenditure quintile          " + "  ".join(f"{x:.4f}%" for x in q),
        f"  share who gain                   {result['share_gain']:.4f}",
        f"  range over states                {100 * (np.min(result['ev']) - 1):.4f}% to "
        f"{100 * (np.max(result['ev']) - 1):.4f}%",
        *_ev_extra(result),
        f"  utilitarian welfare change       {result['welfare_change']:.6g}",
        f"ACR: {result['acr_pct']:.4f}% with the model's elasticity theta = "
        f"{result['theta_model']:.4f}; {result['acr_theta_pct']:.4f}% with theta = "
        f"{result['theta']:g}",
        f"EV: {ev_status} (max residual {result['ev_max_residual']:.2e}, at most "
        f"{result['ev_solves_max']} household solves per state)",
    ]
    t = result["timings"]
    lines.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in t.items() if v is not None))
    return "\n".join(lines)


# ------------------------------------------------------------------------------ planner
def planner_summary(preset: str, eq, sol, checks: dict, country: int, stats: dict) -> dict:
    """The ``hat planner --json`` object (keys in the README): ``eq`` the decentralized
    equilibrium, ``sol`` the planner's solution, ``checks`` its accuracy checks, ``stats``
    the command's seconds per step (its timings)."""
    econ = eq.economy
    dec = np.asarray(eq.world.aggregates.trade_shares)
    eff = np.asarray(sol.trade_shares)
    return {
        "preset": preset,
        "countries": list(econ.countries),
        "country": econ.countries[country],
        "beta": json_num(sol.beta),
        "weights": json_nums(sol.weights),
        "trade_shares_efficient": json_nums(eff),
        "trade_shares_decentralized": json_nums(dec),
        "home_share_efficient": json_nums(np.diag(eff)),
        "home_share_decentralized": json_nums(np.diag(dec)),
        "consumption": json_nums(sol.c),
        "choice_probabilities": json_nums(sol.pi),
        "multipliers": json_nums(sol.chi),
        "elasticity_efficient": json_nums(sol.elasticity),
        "elasticity_efficient_values": json_nums(sol.elasticity_values),
        "welfare_gain": json_nums(sol.welfare_gain),
        "welfare": json_num(sol.welfare),
        "resource_residuals": json_nums(sol.resource_residuals),
        "checks": {k: json_num(v) for k, v in checks.items()},
        "converged": bool(sol.converged) and bool(eq.converged),
        "iterations": int(sol.iterations),
        "timings": json_timings(stats),
    }


def planner_pairs_frame(result: dict) -> pd.DataFrame:
    """Every ordered pair of a planner summary: ``importer, exporter,
    share_decentralized, share_efficient, elasticity_efficient, welfare_gain``."""
    c = result["countries"]
    rows = [(c[i], c[j], result["trade_shares_decentralized"][i][j],
             result["trade_shares_efficient"][i][j], result["elasticity_efficient"][i][j],
             result["welfare_gain"][i][j]) for i in range(len(c)) for j in range(len(c))]
    return pd.DataFrame(rows, columns=["importer", "exporter", "share_decentralized",
                                       "share_efficient", "elasticity_efficient",
                                       "welfare_gain"])


def plot_efficient_trade(result: dict, ax=None):
    """Decentralized against efficient trade shares pi_ij / pi_ii (i != j), log-log; the
    chosen country's imports highlighted (from a planner summary). Returns the Axes."""
    if ax is None:
        _, ax = pyplot().subplots(figsize=(5.5, 5.5))
    dec = np.asarray(result["trade_shares_decentralized"])
    eff = np.asarray(result["trade_shares_efficient"])
    N = dec.shape[0]
    off = ~np.eye(N, dtype=bool)
    x = (dec / np.diag(dec)[:, None])[off]
    y = (eff / np.diag(eff)[:, None])[off]
    ax.scatter(x, y, s=10, alpha=0.5, label="all pairs")
    mask = np.zeros((N, N), bool)
    mask[result["countries"].index(result["country"])] = True
    sel = (mask & off)[off]
    ax.scatter(x[sel], y[sel], s=22, color="tab:red", label=f"{result['country']} imports")
    lo = min(x.min(), y.min()) / 1.5
    hi = max(x.max(), y.max()) * 1.5
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi),
           xlabel=r"decentralized $\pi_{ij}/\pi_{ii}$", ylabel=r"efficient $\pi_{ij}/\pi_{ii}$",
           title="Decentralized vs efficient trade")
    ax.legend(fontsize=8)
    return ax


def write_planner_outputs(out_dir, result: dict, plots: bool = False) -> list[Path]:
    """Write planner.json (``result``) and planner_pairs.csv; with ``plots`` also
    efficient_trade.png."""
    files = {
        "planner.json": json_text(result) + "\n",
        "planner_pairs.csv": planner_pairs_frame(result).to_csv(index=False,
                                                                float_format=CSV_FLOAT),
    }
    if plots:
        ax = plot_efficient_trade(result)
        ax.figure.tight_layout()
        files["efficient_trade.png"] = figure_bytes(ax.figure)
    return write_files(out_dir, files)


def format_planner(result: dict) -> str:
    """The readable summary printed by ``hat planner`` without --json."""
    c = result["countries"]
    df = pd.DataFrame({
        "weight": result["weights"],
        "home share (decentralized)": result["home_share_decentralized"],
        "home share (efficient)": result["home_share_efficient"],
    }, index=c)
    k = c.index(result["country"])
    imp = pd.DataFrame({
        "share decentralized": result["trade_shares_decentralized"][k],
        "share efficient": result["trade_shares_efficient"][k],
        "theta efficient": result["elasticity_efficient"][k],
        "gain of a cut": result["welfare_gain"][k],
    }, index=c)
    ch = result["checks"]
    lines = [
        f"HAT efficient allocation: {result['preset']} (N={len(c)}, beta={result['beta']:.6f})",
        f"converged: {'yes' if result['converged'] else 'NO'} ({result['iterations']} Newton "
        f"iterations, max |resource residual| {ch['resource']:.2e})",
        "",
    ]
    with pd.option_context("display.width", 120, "display.float_format", "{:.6g}".format):
        lines += [df.to_string(), "", f"{result['country']}'s imports (efficient elasticity "
                  "-u'(c)c/sigma; gain of a cost cut psi u'(c) c pi L / (1 - beta))",
                  imp.to_string()]
    lines += ["", "checks: " + ", ".join(f"{k} {v:.2e}" for k, v in ch.items())]
    return "\n".join(lines)


def counterfactual_standard_errors(outputs, jacobian, V_params, cov: str, source: str,
                                   stats: dict | None = None) -> dict:
    """The ``"standard_errors"`` object of ``hat counterfactual --se`` (delta method,
    model.md s.16): ``outputs``, ``jacobian``: :func:`hat_jax.welfare.counterfactual_jacobian`;
    V_params: the parameters' covariance (``hat calibrate --se``'s inference.json, named
    by ``source``). Keys as those of the point estimates: wages_new, R_new,
    mean_gain_pct, acr_theta_pct, home_share_new, ev (every state, as ``"ev"``),
    quintile_gains_pct, share_gain (of the share smoothed at ``share_gain_bandwidth``, see
    :class:`~hat_jax.welfare.CounterfactualOutputs`), and ci95 (mean_gain_pct,
    acr_theta_pct, quintile_gains_pct, share_gain: estimate -+ 1.96 s.e.), cov, source,
    timings."""
    from hat_jax.calibration import delta_method_se

    def se(name, scale=1.0):
        return scale * delta_method_se(np.asarray(getattr(jacobian, name)), V_params)

    mean, acr = 100 * float(outputs.mean_ev), 100 * float(outputs.acr)
    se_mean, se_acr = float(se("mean_ev", 100)), float(se("acr", 100))
    z = _Z95
    quint = 100 * np.asarray(outputs.quintile_ev, np.float64)
    se_quint = se("quintile_ev", 100)
    share, se_share = float(outputs.share_gain), float(se("share_gain_smooth"))
    return {
        "cov": cov, "source": str(source), "method": "delta",
        "wages_new": json_nums(se("W")), "R_new": json_nums(se("R")),
        "mean_gain_pct": json_num(se_mean), "acr_theta_pct": json_num(se_acr),
        "home_share_new": json_num(float(se("home_share_new"))),
        "ev": json_nums(se("ev")),
        "quintile_gains_pct": json_nums(se_quint), "share_gain": json_num(se_share),
        "share_gain_bandwidth": json_num(float(outputs.share_bandwidth)),
        "ci95": {"mean_gain_pct": json_nums([mean - z * se_mean, mean + z * se_mean]),
                 "acr_theta_pct": json_nums([acr - z * se_acr, acr + z * se_acr]),
                 "quintile_gains_pct": [json_nums([q - z * e, q + z * e])
                                        for q, e in zip(quint, se_quint)],
                 "share_gain": json_nums([share - z * se_share, share + z * se_share])},
        "timings": json_timings(stats or {}),
    }
