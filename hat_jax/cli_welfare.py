"""``hat counterfactual`` and ``hat planner``: welfare analysis of a preset economy
(model.md sections 10 and 11).

    hat counterfactual PRESET (--global-cut C | --unilateral ISO C | --bilateral ISO ISO C
                               | --costs FILE) [--symmetric] [--country ISO] [--theta T]
                      [economy / equilibrium options of ``hat solve``]
                      [--out DIR] [--json] [--plots] [--quiet]
    hat planner PRESET [--weights FILE] [--country ISO] [economy / equilibrium options]
                [--out DIR] [--json] [--plots] [--quiet]

``counterfactual`` solves the preset's baseline equilibrium (as ``hat solve``), the
equilibrium with the new trade costs (beta fixed at the baseline's, wages and R solved,
warm-started), the equivalent variation lambda_tau(a, z) of every state of ``--country``
and its aggregates, and the ACR benchmark. Cuts are proportional reductions of d_ij,
i != j, floored at 1: ``--global-cut C`` (all pairs), ``--unilateral ISO C`` (ISO's
imports, row ISO), ``--bilateral I J C`` (d[I, J], I importing from J; ``--symmetric``
also d[J, I]); ``--costs FILE``: a new N x N cost matrix (CSV, importer rows; with a
header row and index column of country labels, reordered to the economy's countries; or
plain numbers; or .npy). ``--country`` defaults to the cutting country (the importer of
a bilateral cut), else USA if present, else the first country.

``planner`` solves the baseline equilibrium (for beta and the decentralized trade
shares) and the efficient allocation with Pareto weights proportional to TFP (or
``--weights FILE``: one number per country, CSV with a country column and a weight
column, or plain numbers).

Exit codes as ``hat solve``: 0 done; 1 bad input; 2 an equilibrium, the EV of some state
or the planner did not converge (diagnostics on stderr; outputs still printed and
written, with ``"converged": false``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hat_jax import planner as pl
from hat_jax import welfare as wf
from hat_jax.cli import (
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    _atomic_write,
    _err,
    _num,
    _nums,
    add_economy_arguments,
    print_text,
    report_not_converged,
    solve_baseline,
)
from hat_jax.results import ConvergenceError

__all__ = ["add_parser", "run", "counterfactual_summary", "planner_summary",
           "read_cost_matrix", "plot_ev_by_assets", "plot_quintile_gains",
           "plot_efficient_trade"]

COMMANDS = ("counterfactual", "planner")


# ------------------------------------------------------------------------------ parser
def add_parser(sub) -> None:
    """Add the ``counterfactual`` and ``planner`` commands (once, however often called)."""
    if "counterfactual" in sub.choices:
        return
    c = sub.add_parser(
        "counterfactual",
        help="welfare effects of a change in trade costs (EV by household state)",
        description="Solve a preset's equilibrium and the equilibrium with new trade costs "
        "(beta fixed, wages and R solved), the equivalent variation lambda_tau(a, z) of "
        "every household state of one country, its aggregates (mean, quintiles of "
        "expenditure, share who gain) and the ACR benchmark. Exit codes: 0 done, 1 bad "
        "input, 2 not converged.",
    )
    add_economy_arguments(c)
    x = c.add_argument_group("experiment (exactly one)")
    g = x.add_mutually_exclusive_group(required=True)
    g.add_argument("--global-cut", dest="global_cut", type=float, metavar="C",
                   help="scale every international cost d_ij (i != j) by 1 - C (0 < C < 1)")
    g.add_argument("--unilateral", nargs=2, metavar=("ISO", "C"),
                   help="country ISO scales its import costs d_ISO,j by 1 - C")
    g.add_argument("--bilateral", nargs=3, metavar=("I", "J", "C"),
                   help="scale d[I, J] (I importing from J) by 1 - C")
    g.add_argument("--costs", metavar="FILE",
                   help="new N x N trade-cost matrix (CSV or .npy, importer rows)")
    x.add_argument("--symmetric", action="store_true",
                   help="with --bilateral: cut d[J, I] as well")
    w = c.add_argument_group("welfare and output")
    w.add_argument("--country", metavar="ISO",
                   help="country whose households' EV is computed (default: the cutting "
                   "country, else USA if present, else the first)")
    w.add_argument("--theta", type=float, default=4.0,
                   help="user trade elasticity of the second ACR number (default 4)")
    w.add_argument("--ev-tol", dest="ev_tol", type=float, default=wf.EV_TOL,
                   help="EV tolerance: |V_old(lambda) - V_new| / slope per state (1e-10)")
    _output_arguments(c, "counterfactual.json, ev.csv, countries.csv (and ev_by_assets.png, "
                      "quintile_gains.png with --plots)")

    p = sub.add_parser(
        "planner",
        help="the efficient (planner) allocation and its trade pattern",
        description="Solve a preset's equilibrium (for beta and the decentralized trade "
        "shares), then the utilitarian planner's efficient allocation with Pareto weights "
        "proportional to TFP: efficient trade shares next to the decentralized ones, "
        "efficient elasticities and the welfare gain of cost cuts. Exit codes: 0 done, "
        "1 bad input, 2 not converged.",
    )
    add_economy_arguments(p)
    q = p.add_argument_group("planner and output")
    q.add_argument("--weights", metavar="FILE",
                   help="Pareto weights, one per country (CSV: country,weight; or plain "
                   "numbers); default proportional to TFP A_i")
    q.add_argument("--country", metavar="ISO",
                   help="report this country's import pattern (default USA if present, "
                   "else the first)")
    _output_arguments(p, "planner.json, planner_pairs.csv (and efficient_trade.png with "
                      "--plots)")


def _output_arguments(p, files: str) -> None:
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help=f"write {files} to DIR")
    o.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout instead of the summary")
    o.add_argument("--plots", action="store_true",
                   help="save figures to --out DIR (needs matplotlib)")
    o.add_argument("--quiet", action="store_true", help="no progress output on stderr")


# ------------------------------------------------------------------------------ inputs
def read_cost_matrix(path, countries) -> np.ndarray:
    """An N x N cost matrix from ``path``: .npy, or CSV with labels (header row and index
    column naming the countries, reordered to ``countries``) or plain numbers."""
    path = Path(path)
    N = len(countries)
    if not path.is_file():
        raise ValueError(f"--costs: no such file {str(path)!r}")
    if path.suffix == ".npy":
        d = np.load(path)
    else:
        df = pd.read_csv(path, header=None)
        first = df.iloc[0, 1:].astype(str).str.strip().tolist()
        labels = [str(c) for c in countries]
        if set(first) == set(labels) or set(x.upper() for x in first) == set(
                x.upper() for x in labels):
            df = pd.read_csv(path, index_col=0)
            df.index = df.index.astype(str).str.strip().str.upper()
            df.columns = df.columns.astype(str).str.strip().str.upper()
            up = [x.upper() for x in labels]
            missing = sorted(set(up) - set(df.index)) + sorted(set(up) - set(df.columns))
            if missing:
                raise ValueError(f"--costs: {path} lacks countries {sorted(set(missing))}")
            df = df.loc[up, up]
        try:
            d = df.to_numpy(dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"--costs: {path} has non-numeric entries ({exc})") from None
    d = np.asarray(d, np.float64)
    if d.shape != (N, N):
        raise ValueError(f"--costs: the matrix in {path} must be {N} x {N} (countries "
                         f"{', '.join(countries)}), got shape {d.shape}")
    return d


def _cut(text: str, flag: str) -> float:
    try:
        c = float(text)
    except ValueError:
        raise ValueError(f"{flag}: the cut must be a number in (0, 1), got {text!r}") from None
    return c


def experiment_costs(args, economy):
    """(new cost matrix, description dict, default country index) of the experiment."""
    if args.symmetric and args.bilateral is None:
        raise ValueError("--symmetric goes with --bilateral")
    if args.global_cut is not None:
        d, cl = wf.global_cut(economy, args.global_cut)
        return d, {"kind": "global", "cut": args.global_cut, "clamped": cl}, None
    if args.unilateral is not None:
        iso, c = args.unilateral
        cut = _cut(c, "--unilateral")
        d, cl = wf.unilateral_cut(economy, iso, cut)
        i = wf.country_index(economy, iso)
        return d, {"kind": "unilateral", "country": economy.countries[i], "cut": cut,
                   "clamped": cl}, i
    if args.bilateral is not None:
        a, b, c = args.bilateral
        cut = _cut(c, "--bilateral")
        d, cl = wf.bilateral_cut(economy, a, b, cut, symmetric=args.symmetric)
        i, j = wf.country_index(economy, a), wf.country_index(economy, b)
        return d, {"kind": "bilateral", "importer": economy.countries[i],
                   "exporter": economy.countries[j], "cut": cut,
                   "symmetric": bool(args.symmetric), "clamped": cl}, i
    d = read_cost_matrix(args.costs, economy.countries)
    d = wf.check_costs(economy, d)
    return d, {"kind": "costs", "file": str(args.costs), "clamped": []}, None


def _default_country(economy, given, fallback):
    if given is not None:
        return wf.country_index(economy, given)
    if fallback is not None:
        return fallback
    labels = [c.upper() for c in economy.countries]
    return labels.index("USA") if "USA" in labels else 0


# ----------------------------------------------------------------------------- results
def counterfactual_summary(preset: str, cf, res, experiment: dict, timings: dict) -> dict:
    """The JSON object of ``hat counterfactual`` (see the README for the keys)."""
    base, new = cf.baseline, cf.new
    econ = base.economy
    i = res.country
    s = res.summary
    ev = res.ev
    W0, W1 = np.asarray(base.W), np.asarray(new.W)
    R0 = np.asarray(base.R)
    R1 = np.asarray(new.R)
    Ri0 = float(R0) if R0.ndim == 0 else float(R0[i])
    Ri1 = float(R1) if R1.ndim == 0 else float(R1[i])
    prob = wf.country_problem(base, i)
    assets = np.asarray(prob.a_min + prob.da * np.arange(econ.Na))
    conv = np.asarray(ev.converged)
    bad = np.argwhere(~conv)
    return {
        "preset": preset,
        "experiment": {**experiment, "clamped": [list(p) for p in experiment["clamped"]]},
        "country": econ.countries[i],
        "countries": list(econ.countries),
        "R": _num(Ri0),
        "R_new": _num(Ri1),
        "beta": _num(base.beta),
        "wages": _nums(W0),
        "wages_new": _nums(W1),
        "R_over_W": _num(Ri0 / W0[i]),
        "R_over_W_new": _num(Ri1 / W1[i]),
        "home_share": _num(res.home_share),
        "home_share_new": _num(res.home_share_new),
        "ev": _nums(ev.lam),
        "mean_gain_pct": _num(100 * s.mean_gain),
        "quintile_gains_pct": _nums(100 * np.asarray(s.quintile_gains)),
        "share_gain": _num(s.share_gain),
        "welfare_old": _num(s.welfare_old),
        "welfare_new": _num(s.welfare_new),
        "welfare_change": _num(s.welfare_change),
        "acr_pct": _num(100 * res.acr_model),
        "theta_model": _num(res.theta_model),
        "acr_theta_pct": _num(100 * res.acr_user),
        "theta": _num(res.theta_user),
        "assets": _nums(assets),
        "z": _nums(econ.z),
        "distribution": _nums(base.world.distribution.lam[i]),
        "ev_converged": bool(conv.all()),
        "ev_failures": [{"a": int(a), "z": int(z), "residual": _num(ev.residual[a, z]),
                         "iterations": int(ev.iterations[a, z])} for a, z in bad[:50]],
        "ev_max_residual": _num(np.max(np.asarray(ev.residual))),
        "ev_solves_max": int(np.max(np.asarray(ev.iterations))),
        "converged": bool(base.converged) and bool(new.converged) and bool(conv.all()),
        "equilibrium": {
            "baseline": {"converged": bool(base.converged), "residual": _num(base.residual),
                         "iterations": int(base.iterations)},
            "counterfactual": {"converged": bool(new.converged),
                               "residual": _num(new.residual),
                               "iterations": int(new.iterations)},
        },
        "d_new": _nums(cf.d),
        "timings": {k: _num(v) for k, v in timings.items()},
    }


def _ev_frame(result: dict) -> pd.DataFrame:
    ev = np.asarray(result["ev"], np.float64)
    lam = np.asarray(result["distribution"], np.float64)
    Na, Nz = ev.shape
    a_idx, z_idx = np.meshgrid(np.arange(Na), np.arange(Nz), indexing="ij")
    return pd.DataFrame({
        "a_index": a_idx.ravel(), "z_index": z_idx.ravel(),
        "assets": np.repeat(result["assets"], Nz), "z": np.tile(result["z"], Na),
        "ev": ev.ravel(), "gain_pct": 100 * (ev.ravel() - 1.0), "mass": lam.ravel(),
    })


def _countries_frame(cf) -> pd.DataFrame:
    b, n = cf.baseline, cf.new
    return pd.DataFrame({
        "country": list(b.economy.countries),
        "W": np.asarray(b.W), "W_new": np.asarray(n.W),
        "home_share": np.diag(np.asarray(b.world.aggregates.trade_shares)),
        "home_share_new": np.diag(np.asarray(n.world.aggregates.trade_shares)),
        "welfare": np.asarray(wf.utilitarian_welfare(b)),
        "welfare_new": np.asarray(wf.utilitarian_welfare(n)),
    })


def plot_ev_by_assets(result: dict, ax=None):
    """Welfare gain (percent) against assets, one line per productivity state."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2))
    ev = np.asarray(result["ev"], np.float64)
    a = np.asarray(result["assets"])
    z = np.asarray(result["z"])
    cmap = plt.get_cmap("viridis")
    for k in range(ev.shape[1]):
        ax.plot(a, 100 * (ev[:, k] - 1.0), color=cmap(k / max(1, ev.shape[1] - 1)),
                lw=1.2, label=f"z = {z[k]:.2f}")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set(xlabel="assets a", ylabel=r"EV gain $\lambda_\tau - 1$ (%)",
           title=f"{result['country']}: welfare gain by state")
    ax.legend(fontsize=7, ncol=2)
    return ax


def plot_quintile_gains(result: dict, ax=None):
    """Mean gain by quintile of household expenditure, with the ACR numbers."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.0))
    q = result["quintile_gains_pct"]
    ax.bar(np.arange(1, 6), q, color="tab:blue", label="HAT (EV)")
    ax.axhline(result["mean_gain_pct"], color="tab:blue", ls="--", lw=1,
               label=f"mean {result['mean_gain_pct']:.2f}%")
    ax.axhline(result["acr_pct"], color="tab:red", ls=":", lw=1.5,
               label=f"ACR (model theta {result['theta_model']:.2f}) {result['acr_pct']:.2f}%")
    ax.set(xlabel="expenditure quintile (1 = poorest)", ylabel="mean gain (%)",
           title=f"{result['country']}: gains by expenditure quintile")
    ax.legend(fontsize=8)
    return ax


def write_counterfactual_outputs(out_dir, cf, result: dict, plots: bool = False) -> list:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "counterfactual.json": json.dumps(result, indent=2, allow_nan=False) + "\n",
        "ev.csv": _ev_frame(result).to_csv(index=False, float_format="%.17g"),
        "countries.csv": _countries_frame(cf).to_csv(index=False, float_format="%.17g"),
    }
    paths = []
    for name, text in files.items():
        _atomic_write(out / name, text)
        paths.append(out / name)
    if plots:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        for name, fn in (("ev_by_assets.png", plot_ev_by_assets),
                         ("quintile_gains.png", plot_quintile_gains)):
            ax = fn(result)
            ax.figure.tight_layout()
            ax.figure.savefig(out / name, dpi=120)
            plt.close(ax.figure)
            paths.append(out / name)
    return paths


def format_counterfactual(result: dict) -> str:
    e = result["experiment"]
    desc = {"global": lambda: f"global cut of {100 * e['cut']:g}% in all international costs",
            "unilateral": lambda: f"{e['country']} cuts its import costs by {100 * e['cut']:g}%",
            "bilateral": lambda: (f"cut of {100 * e['cut']:g}% in d[{e['importer']}, "
                                  f"{e['exporter']}]" + (" and the reverse" if e["symmetric"]
                                                          else "")),
            "costs": lambda: f"trade costs from {e['file']}"}[e["kind"]]()
    c = result["country"]
    q = result["quintile_gains_pct"]
    lines = [
        f"HAT counterfactual: {result['preset']}, {desc}",
        f"converged: {'yes' if result['converged'] else 'NO'}",
    ]
    if e["clamped"]:
        lines.append(f"{len(e['clamped'])} costs floored at d = 1: "
                     + ", ".join(f"{a}<-{b}" for a, b in e["clamped"][:8])
                     + (" ..." if len(e["clamped"]) > 8 else ""))
    lines += [
        f"R {result['R']:.6f} -> {result['R_new']:.6f}; {c}: W {result['wages'][result['countries'].index(c)]:.6f} -> "
        f"{result['wages_new'][result['countries'].index(c)]:.6f}, R/W {result['R_over_W']:.6f} -> "
        f"{result['R_over_W_new']:.6f}",
        f"{c} home share {result['home_share']:.6f} -> {result['home_share_new']:.6f}",
        "",
        f"Equivalent variation of {c}'s households (lambda_tau - 1, percent of income)",
        f"  mean (stationary distribution)   {result['mean_gain_pct']:.4f}%",
        "  by expenditure quintile          " + "  ".join(f"{x:.4f}%" for x in q),
        f"  share who gain                   {result['share_gain']:.4f}",
        f"  range over states                {100 * (np.min(result['ev']) - 1):.4f}% to "
        f"{100 * (np.max(result['ev']) - 1):.4f}%",
        f"  utilitarian welfare change       {result['welfare_change']:.6g}",
        f"ACR: {result['acr_pct']:.4f}% with the model's elasticity theta = "
        f"{result['theta_model']:.4f}; {result['acr_theta_pct']:.4f}% with theta = "
        f"{result['theta']:g}",
        f"EV: {'all states converged' if result['ev_converged'] else str(len(result['ev_failures'])) + ' states FAILED'}"
        f" (max residual {result['ev_max_residual']:.2e}, at most {result['ev_solves_max']} "
        "household solves per state)",
    ]
    t = result["timings"]
    lines.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in t.items() if v is not None))
    return "\n".join(lines)


def _run_counterfactual(args) -> int:
    progress = not args.quiet
    if not (np.isfinite(args.theta) and args.theta > 0):
        raise ValueError(f"--theta must be > 0, got {args.theta!r}")
    if not (np.isfinite(args.ev_tol) and args.ev_tol > 0):
        raise ValueError(f"--ev-tol must be > 0, got {args.ev_tol!r}")
    if args.plots and args.out is None:
        raise ValueError("--plots needs --out DIR")
    # validate the experiment before any solve
    from hat_jax.cli import setup_from_args

    econ0, _ = setup_from_args(args)
    d_new, experiment, fallback = experiment_costs(args, econ0)
    i = _default_country(econ0, args.country, fallback)

    base = solve_baseline(args)  # the same economy: its costs and countries are econ0's
    eq = base.eq
    timings = {"baseline_s": base.timings.get("compile_s", 0.0) + base.timings.get("run_s", 0.0)}
    if not bool(eq.converged):
        report_not_converged(eq, base.opts)
        return EXIT_NOT_CONVERGED
    if progress:
        _err("solving the counterfactual equilibrium (beta fixed, W and R solved)...")
    t0 = time.perf_counter()
    cf = wf.counterfactual(eq, d_new, base.opts, throw=False)
    timings["counterfactual_s"] = time.perf_counter() - t0
    if not bool(cf.new.converged):
        report_not_converged(cf.new, cf.opts)
        return EXIT_NOT_CONVERGED
    if progress:
        _err(f"equivalent variation for {eq.economy.countries[i]} "
             f"({eq.economy.Na * eq.economy.Nz} states)...")
    t0 = time.perf_counter()
    res = wf.welfare_analysis(cf, i, theta=args.theta, tol=args.ev_tol, throw=False)
    timings["ev_s"] = res.timings["ev_s"]
    timings["elasticity_s"] = res.timings["elasticity_s"]
    result = counterfactual_summary(args.preset, cf, res, experiment, timings)
    rc = EXIT_OK
    if not result["ev_converged"]:
        try:
            wf.check_ev(res.ev, eq.economy.countries[i], args.ev_tol)
        except ConvergenceError as exc:
            _err(f"not converged: {exc}")
        rc = EXIT_NOT_CONVERGED
    if args.out is not None:
        paths = write_counterfactual_outputs(args.out, cf, result, plots=args.plots)
        if progress:
            _err("wrote " + ", ".join(str(p) for p in paths))
    text = json.dumps(result, indent=2, allow_nan=False) if args.json \
        else format_counterfactual(result)
    print_text(text)
    return rc


# ------------------------------------------------------------------------------ planner
def read_weights(path, countries) -> np.ndarray:
    """Pareto weights from ``path``: CSV with a country column and a weight column (matched
    to ``countries`` case-insensitively), or N plain numbers."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--weights: no such file {str(path)!r}")
    df = pd.read_csv(path, header=None)
    N = len(countries)
    if df.shape[1] >= 2 and not pd.api.types.is_numeric_dtype(df.iloc[:, 0]):
        first = str(df.iloc[0, 0]).strip().upper()
        if first not in [c.upper() for c in countries]:
            df = df.iloc[1:]  # a header row
        m = {str(k).strip().upper(): v for k, v in zip(df.iloc[:, 0], df.iloc[:, 1])}
        missing = [c for c in countries if c.upper() not in m]
        if missing:
            raise ValueError(f"--weights: {path} lacks countries {missing}")
        w = np.array([float(m[c.upper()]) for c in countries])
    else:
        w = df.to_numpy(dtype=np.float64).ravel()
    if w.shape != (N,):
        raise ValueError(f"--weights: need {N} weights (one per country), got {w.size}")
    return w


def planner_summary(preset: str, eq, sol, checks: dict, country: int, timings: dict) -> dict:
    """The JSON object of ``hat planner``."""
    econ = eq.economy
    dec = np.asarray(eq.world.aggregates.trade_shares)
    eff = np.asarray(sol.trade_shares)
    return {
        "preset": preset,
        "countries": list(econ.countries),
        "country": econ.countries[country],
        "beta": _num(sol.beta),
        "weights": _nums(sol.weights),
        "trade_shares_efficient": _nums(eff),
        "trade_shares_decentralized": _nums(dec),
        "home_share_efficient": _nums(np.diag(eff)),
        "home_share_decentralized": _nums(np.diag(dec)),
        "consumption": _nums(sol.c),
        "choice_probabilities": _nums(sol.pi),
        "multipliers": _nums(sol.chi),
        "elasticity_efficient": _nums(sol.elasticity),
        "elasticity_efficient_values": _nums(sol.elasticity_values),
        "welfare_gain": _nums(sol.welfare_gain),
        "welfare": _num(sol.welfare),
        "resource_residuals": _nums(sol.resource_residuals),
        "checks": {k: _num(v) for k, v in checks.items()},
        "converged": bool(sol.converged) and bool(eq.converged),
        "iterations": int(sol.iterations),
        "timings": {k: _num(v) for k, v in timings.items()},
    }


def _pairs_frame(result: dict) -> pd.DataFrame:
    c = result["countries"]
    N = len(c)
    rows = []
    for i in range(N):
        for j in range(N):
            rows.append((c[i], c[j], result["trade_shares_decentralized"][i][j],
                         result["trade_shares_efficient"][i][j],
                         result["elasticity_efficient"][i][j], result["welfare_gain"][i][j]))
    return pd.DataFrame(rows, columns=["importer", "exporter", "share_decentralized",
                                       "share_efficient", "elasticity_efficient",
                                       "welfare_gain"])


def plot_efficient_trade(result: dict, ax=None):
    """Decentralized against efficient trade shares pi_ij / pi_ii (i != j), log-log; the
    chosen country's imports highlighted."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5.5))
    dec = np.asarray(result["trade_shares_decentralized"])
    eff = np.asarray(result["trade_shares_efficient"])
    N = dec.shape[0]
    off = ~np.eye(N, dtype=bool)
    x = (dec / np.diag(dec)[:, None])[off]
    y = (eff / np.diag(eff)[:, None])[off]
    ax.scatter(x, y, s=10, alpha=0.5, label="all pairs")
    k = result["countries"].index(result["country"])
    mask = np.zeros((N, N), bool)
    mask[k] = True
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


def format_planner(result: dict) -> str:
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


def _run_planner(args) -> int:
    progress = not args.quiet
    if args.plots and args.out is None:
        raise ValueError("--plots needs --out DIR")
    from hat_jax.cli import setup_from_args

    econ0, _ = setup_from_args(args)
    weights = None if args.weights is None else read_weights(args.weights, econ0.countries)
    if weights is not None:
        pl.pareto_weights(econ0, weights)  # validates
    k = _default_country(econ0, args.country, None)
    base = solve_baseline(args)
    eq = base.eq
    timings = {"baseline_s": base.timings.get("compile_s", 0.0) + base.timings.get("run_s", 0.0)}
    rc = EXIT_OK
    if not bool(eq.converged):
        report_not_converged(eq, base.opts)
        rc = EXIT_NOT_CONVERGED
    if progress:
        _err("solving the planner's problem...")
    t0 = time.perf_counter()
    sol = pl.solve_planner(eq.economy, weights, beta=eq.beta, throw=False)
    checks = pl.planner_checks(eq.economy, sol)
    timings["planner_s"] = time.perf_counter() - t0
    if not bool(sol.converged):
        _err(f"not converged: planner allocation, max |resource residual| "
             f"{float(sol.residual):.3e} after {int(sol.iterations)} iterations")
        rc = EXIT_NOT_CONVERGED
    result = planner_summary(args.preset, eq, sol, checks, k, timings)
    if args.out is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        _atomic_write(out / "planner.json", json.dumps(result, indent=2, allow_nan=False) + "\n")
        _atomic_write(out / "planner_pairs.csv",
                      _pairs_frame(result).to_csv(index=False, float_format="%.17g"))
        paths = [out / "planner.json", out / "planner_pairs.csv"]
        if args.plots:
            import matplotlib

            matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt

            ax = plot_efficient_trade(result)
            ax.figure.tight_layout()
            ax.figure.savefig(out / "efficient_trade.png", dpi=120)
            plt.close(ax.figure)
            paths.append(out / "efficient_trade.png")
        if progress:
            _err("wrote " + ", ".join(str(p) for p in paths))
    text = json.dumps(result, indent=2, allow_nan=False) if args.json else format_planner(result)
    print_text(text)
    return rc


def run(args: argparse.Namespace) -> int:
    """Run ``hat counterfactual`` or ``hat planner``; returns the exit code."""
    if args.command == "counterfactual":
        return _run_counterfactual(args)
    if args.command == "planner":
        return _run_planner(args)
    raise ValueError(f"hat_jax.cli_welfare cannot run {args.command!r}")
