"""Outputs of ``hat tariff`` (model.md s.14): the --json object, the readable summary,
the files in --out (tariff.json, ev.csv, welfare_by_tariff.csv; with --plots
welfare_by_tariff.png and ev_by_assets.png)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hat_jax import welfare as wf

from ._figures import figure_bytes, pyplot
from ._files import CSV_FLOAT, json_num, json_nums, json_text, json_timings, write_files
from .welfare import ev_frame, ev_measure_summary, plot_ev_by_assets

__all__ = ["tariff_summary", "format_tariff", "write_tariff_outputs", "plot_welfare_by_tariff",
           "tariff_standard_errors", "format_tariff_se"]


def _pct(new, old):
    return 100.0 * (float(new) - float(old)) / abs(float(old))


def tariff_summary(preset: str, opt, cf, res, ra_tariff: float, grid=None, nash=None,
                   stats: dict | None = None, comparison=None) -> dict:
    """The ``hat tariff --json`` object (keys in the README). ``opt``: the
    :class:`~hat_jax.policy.OptimalTariff`; ``cf``: the counterfactual at the optimum
    (baseline = free trade); ``res``: its welfare analysis for the country; ra_tariff:
    the representative-agent optimal tariff; grid: (rates, welfare) of uniform tariffs;
    nash: a :class:`~hat_jax.policy.NashTariffs` or None; comparison: a
    :class:`~hat_jax.policy.TariffComparison` or None. The EV-measure keys (ev_measure,
    ev_transfer, ev_ill_posed, ev_ok, ...): :func:`hat_jax.report.welfare.ev_measure_summary`."""
    base, new = cf.baseline, cf.new
    econ = base.economy
    i = opt.country
    s = res.summary
    prob = wf.country_problem(base, i)
    out = {
        "preset": preset,
        "country": econ.countries[i],
        "countries": list(econ.countries),
        "mode": opt.mode,
        "objective": getattr(opt, "objective", "utilitarian"),
        "objective_value": json_num(opt.welfare),
        "objective_free": json_num(opt.welfare0),
        "tariffs": json_nums(opt.tariffs),
        "rates": json_nums(opt.rates),
        "welfare": json_num(s.welfare_new),
        "welfare_free": json_num(s.welfare_old),
        "welfare_gain_pct": json_num(_pct(s.welfare_new, s.welfare_old)),
        "mean_gain_pct": json_num(100 * s.mean_gain),
        "quintile_gains_pct": json_nums(100 * np.asarray(s.quintile_gains)),
        "share_gain": json_num(s.share_gain),
        "foc_residual": json_num(opt.foc_residual),
        "gradient": json_nums(opt.gradient),
        "steps": int(opt.steps),
        "coarse": int(getattr(opt, "coarse", 0)),
        "converged": bool(opt.converged) and bool(new.converged) and bool(
            np.all(np.asarray(res.ev.converged))),
        "wages": json_nums(new.W),
        "wages_free": json_nums(base.W),
        "R": json_num(np.ravel(new.R)[0] if np.ndim(new.R) == 0 else np.asarray(new.R)[i]),
        "R_free": json_num(np.ravel(base.R)[0] if np.ndim(base.R) == 0
                           else np.asarray(base.R)[i]),
        "transfers": json_nums(new.T),
        "home_share": json_num(res.home_share),
        "home_share_new": json_num(res.home_share_new),
        "theta_model": json_num(res.theta_model),
        "ra_optimal_tariff": json_num(ra_tariff),
        "ev": json_nums(res.ev.factor),
        "assets": json_nums(np.asarray(prob.a_min + prob.da * np.arange(econ.Na))),
        "z": json_nums(econ.z),
        "distribution": json_nums(base.world.distribution.lam[i]),
        **ev_measure_summary(res.ev, s, base),
    }
    if comparison is not None:
        out["comparison"] = {k: json_num(v) for k, v in comparison._asdict().items()}
    if grid is not None:
        out["grid"] = {"rates": json_nums(grid[0]), "welfare": json_nums(grid[1])}
    if nash is not None:
        out["nash"] = {
            "mode": nash.mode, "tariffs": json_nums(nash.tariffs),
            "welfare": json_nums(nash.welfare), "welfare_free": json_nums(nash.welfare_free),
            "welfare_gain_pct": [_pct(a, b) for a, b in zip(nash.welfare, nash.welfare_free)],
            "foc_residual": json_num(nash.foc_residual), "rounds": int(nash.rounds),
            "converged": bool(nash.converged)}
    out["timings"] = json_timings(stats)
    return out


def format_tariff(r: dict) -> str:
    """The readable summary printed by ``hat tariff`` without --json."""
    c = r["country"]
    q = r["quintile_gains_pct"]
    others = [k for k in r["countries"] if k != c]
    rates = [r["rates"][r["countries"].index(k)] for k in others]
    obj = {"mean_ev": "mean EV"}.get(r["objective"], "utilitarian welfare")
    lines = [f"HAT optimal tariff: {r['preset']}, {c}, {r['mode']} ({obj})",
             f"converged: {'yes' if r['converged'] else 'NO'}; FOC residual "
             f"{r['foc_residual']:.2e} after {r['steps']} BFGS steps"]
    if r["mode"] == "uniform":
        lines.append(f"optimal tariff {100 * rates[0]:.3f}% on every partner "
                     f"(representative agent, theta {r['theta_model']:.3f}: "
                     f"{100 * r['ra_optimal_tariff']:.3f}%)")
    else:
        lines.append("optimal tariffs: " + ", ".join(
            f"{k} {100 * t:.2f}%" for k, t in zip(others, rates)))
        lines.append(f"representative agent (uniform, theta {r['theta_model']:.3f}): "
                     f"{100 * r['ra_optimal_tariff']:.3f}%")
    lines += [f"utilitarian welfare {r['welfare_free']:.8f} -> {r['welfare']:.8f} "
              f"({r['welfare_gain_pct']:+.4f}%)",
              f"EV: mean {r['mean_gain_pct']:+.4f}%, share who gain "
              f"{100 * r['share_gain']:.1f}%, by expenditure quintile "
              + ", ".join(f"{x:+.3f}%" for x in q)]
    if "comparison" in r:
        k = r["comparison"]
        lines += [f"planner (efficient allocation, no tariffs): welfare {k['planner_welfare']:.8f} "
                  f"({k['planner_gain_pct']:+.4f}% vs free trade); the tariff's gain is "
                  f"{k['tariff_share_of_planner_pct']:.2f}% of it",
                  f"representative-agent tariff {100 * k['ra_optimal_tariff']:.3f}%: HAT welfare "
                  f"gain {k['ra_welfare_gain_pct']:+.4f}%; optimum minus RA "
                  f"{k['tariff_minus_ra_pp']:+.3f} pp; EV poorest minus richest quintile "
                  f"{k['quintile_spread_pp']:+.3f} pp"]
    if "nash" in r:
        n = r["nash"]
        lines.append(f"Nash ({n['mode']}, {n['rounds']} rounds, FOC residual "
                     f"{n['foc_residual']:.2e}, converged {'yes' if n['converged'] else 'NO'}):")
        for k, name in enumerate(r["countries"]):
            row = [t for j, t in enumerate(n["tariffs"][k]) if j != k]
            lines.append(f"  {name}: tariffs {100 * np.mean(row):.3f}% (mean), welfare "
                         f"vs free trade {n['welfare_gain_pct'][k]:+.4f}%")
    return "\n".join(lines)


def _row(values, N: int, i: int, fill=0.0):
    """Country i's row [N] from the values of its partners (one value: uniform)."""
    v = np.asarray(values)
    row = np.full(N, fill, dtype=v.dtype)
    row[np.arange(N) != i] = np.broadcast_to(v, (N - 1,))
    return row


def tariff_standard_errors(outputs, jacobian, V_params, cov: str, source: str, N: int,
                           i: int, stats: dict | None = None) -> dict:
    """The ``"standard_errors"`` object of ``hat tariff --se`` (delta method, model.md
    s.16): ``outputs``, ``jacobian``: :func:`hat_jax.policy.optimal_tariff_jacobian`;
    V_params: the parameters' covariance (``hat calibrate --se``'s inference.json, named
    by ``source``). Keys as those of the point estimates: rates (country i's row [N], 0
    at i), welfare, welfare_free, welfare_gain (welfare - welfare_free, utility units),
    welfare_gain_pct; ci95 (rates, welfare_gain, welfare_gain_pct: estimate -+ 1.96
    s.e.); the implicit-function diagnostics foc and hessian (in i's rates), at_bound
    (row [N]: rates on the bound t = 0, s.e. 0) and maximum (the Hessian is negative
    definite: else the rates' s.e. are null), converged (both equilibria of the
    derivative's program); cov, source, timings."""
    from hat_jax.calibration import delta_method_se

    def se(name, scale=1.0):
        return scale * delta_method_se(np.asarray(getattr(jacobian, name)), V_params)

    z = 1.959963984540054
    rates = _row(outputs.rates, N, i)
    se_rates = _row(se("rates"), N, i)
    gain, se_gain = float(outputs.gain), float(se("gain"))
    pct, se_pct = float(outputs.gain_pct), float(se("gain_pct"))
    return {
        "cov": cov, "source": str(source), "method": "delta",
        "rates": json_nums(se_rates), "welfare": json_num(float(se("welfare"))),
        "welfare_free": json_num(float(se("welfare_free"))),
        "welfare_gain": json_num(se_gain), "welfare_gain_pct": json_num(se_pct),
        "estimates": {"rates": json_nums(rates), "welfare_gain": json_num(gain),
                      "welfare_gain_pct": json_num(pct)},
        "ci95": {"rates": [json_nums([r - z * e, r + z * e]) for r, e in zip(rates, se_rates)],
                 "welfare_gain": json_nums([gain - z * se_gain, gain + z * se_gain]),
                 "welfare_gain_pct": json_nums([pct - z * se_pct, pct + z * se_pct])},
        "foc": json_nums(outputs.foc), "hessian": json_nums(outputs.hessian),
        "at_bound": [bool(b) for b in _row(outputs.at_bound, N, i, fill=False)],
        "maximum": bool(outputs.maximum), "converged": bool(outputs.converged),
        "timings": json_timings(stats or {}),
    }


def format_tariff_se(se: dict | None, r: dict) -> str:
    """The standard-error lines of ``hat tariff`` ('' without --se)."""
    if se is None:
        return ""
    f = lambda x: "nan" if x is None else f"{x:.4f}"  # noqa: E731
    c, est = r["country"], se["estimates"]
    others = [k for k in r["countries"] if k != c]
    idx = [r["countries"].index(k) for k in others]
    pct = lambda x: None if x is None else 100 * x  # noqa: E731
    if r["mode"] == "uniform":
        k = idx[0]
        lo, hi = se["ci95"]["rates"][k]
        rates = (f"optimal tariff {f(pct(est['rates'][k]))}% (s.e. {f(pct(se['rates'][k]))}; "
                 f"95% [{f(pct(lo))}, {f(pct(hi))}])")
    else:
        rates = "optimal tariffs (s.e.): " + ", ".join(
            f"{n} {f(pct(est['rates'][k]))}% ({f(pct(se['rates'][k]))})"
            for n, k in zip(others, idx))
    lo, hi = se["ci95"]["welfare_gain_pct"]
    note = "" if se["maximum"] else (" (the Hessian is not negative definite: not a strict "
                                      "maximum, no s.e. of the rates)")
    if not se.get("converged", True):
        note += " (NOT converged: an equilibrium of the derivative did not converge)"
    return (f"\nStandard errors ({se['cov']}, delta method; implicit function theorem on the "
            f"first-order condition{note}):\n  {rates}\n  welfare gain "
            f"{f(est['welfare_gain_pct'])}% (s.e. {f(se['welfare_gain_pct'])}; 95% "
            f"[{f(lo)}, {f(hi)}])")


def plot_welfare_by_tariff(r: dict):
    """Utilitarian welfare of the country against its uniform tariff (the grid), the
    optimum marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    g = r["grid"]
    ax.plot(100 * np.asarray(g["rates"]), g["welfare"], "o-", ms=3)
    if r["mode"] == "uniform":
        t = [x for k, x in enumerate(r["rates"]) if r["countries"][k] != r["country"]][0]
        ax.axvline(100 * t, color="tab:red", ls=":", label=f"optimum {100 * t:.2f}%")
        ax.legend()
    ax.set(xlabel="uniform tariff (%)", ylabel="utilitarian welfare",
           title=f"{r['country']}: welfare against its uniform tariff")
    return ax


def write_tariff_outputs(out_dir, result: dict, plots: bool = False) -> list[Path]:
    """Write tariff.json, ev.csv (and welfare_by_tariff.csv with a grid); with ``plots``
    welfare_by_tariff.png and ev_by_assets.png."""
    files = {"tariff.json": json_text(result) + "\n",
             "ev.csv": ev_frame(result).to_csv(index=False, float_format=CSV_FLOAT)}
    if "grid" in result:
        files["welfare_by_tariff.csv"] = pd.DataFrame(result["grid"]).to_csv(
            index=False, float_format=CSV_FLOAT)
    if plots:
        figs = [("ev_by_assets.png", plot_ev_by_assets)]
        if "grid" in result:
            figs.append(("welfare_by_tariff.png", plot_welfare_by_tariff))
        for name, plot in figs:
            ax = plot(result)
            ax.figure.tight_layout()
            files[name] = figure_bytes(ax.figure)
    return write_files(out_dir, files)
