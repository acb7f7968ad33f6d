"""``hat elasticities``: trade elasticities of a preset economy (model.md section 9).

    hat elasticities PRESET [economy / equilibrium options of ``hat solve``]
                     [--importer ISO] [--states I J] [--out DIR] [--json] [--plots] [--quiet]

Solves the preset's equilibrium (as ``hat solve``), then computes every bilateral
elasticity theta_ij = d log(M_ij/M_ii) / d log d_ij by forward-mode AD through the
household problems (W, R and the distribution fixed; :func:`hat_jax.elasticities.
trade_elasticities`), the trade-weighted mean per importer, and optionally one importer's
partners (theta, delivered price p_ij, trade share) and one pair's state-level
elasticities with the Proposition-3 rebuild.

Exit codes as ``hat solve``: 0 done; 1 bad input; 2 the equilibrium (or a re-solved
household problem) did not converge (outputs are still printed and written, with
``"converged": false``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hat_jax import elasticities as el
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
    setup_from_args,
    solve_baseline,
)

__all__ = ["add_parser", "run", "elasticities_summary", "write_elasticity_outputs"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``elasticities`` command to the ``hat`` subparsers."""
    p = sub.add_parser(
        "elasticities",
        help="bilateral trade elasticities by automatic differentiation",
        description="Solve a preset's equilibrium, then compute every bilateral trade "
        "elasticity theta_ij = d log(M_ij/M_ii) / d log d_ij (W, R and the distribution "
        "fixed, households re-optimizing) by forward-mode AD, the trade-weighted mean per "
        "importer, one importer's partners (--importer) and one pair's elasticities by "
        "household state (--states). Exit codes: 0 done, 1 bad input, 2 not converged.",
    )
    add_economy_arguments(p)
    o = p.add_argument_group("elasticities and output")
    o.add_argument("--importer", metavar="ISO",
                   help="report this importer's partners: theta_ij, delivered price p_ij, "
                   "trade share pi_ij (country label, e.g. USA or Home)")
    o.add_argument("--states", nargs=2, metavar=("I", "J"),
                   help="state-level elasticities of importer I with respect to d_IJ "
                   "(margins, weights, Proposition-3 rebuild)")
    o.add_argument("--out", metavar="DIR",
                   help="write summary.json, theta.csv, theta_mean.csv, pairs.csv (and "
                   "partners_ISO.csv, states_I_J.csv, figures with --plots) to DIR")
    o.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout instead of the tables")
    o.add_argument("--plots", action="store_true",
                   help="save figures to --out DIR: heatmaps of -theta(a,z) and of the "
                   "foreign expenditure share (the --states pair; the two countries of a "
                   "two-country preset by default) and, with --importer, elasticities "
                   "against delivered prices (needs matplotlib)")
    o.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    return p


# ------------------------------------------------------------------------------ checks
def _check_args(args, countries) -> tuple[int | None, tuple[int, int] | None]:
    """Validate --importer / --states / --plots against the economy's labels."""
    imp = None
    if args.importer is not None:
        imp = el.country_index(countries, args.importer, "--importer")
    pair = None
    if args.states is not None:
        i = el.country_index(countries, args.states[0], "--states importer")
        j = el.country_index(countries, args.states[1], "--states partner")
        if i == j:
            raise ValueError(f"--states needs two different countries, got {countries[i]!r} "
                             "twice (theta_ii = 1 by convention)")
        pair = (i, j)
    if args.plots:
        if args.out is None:
            raise ValueError("--plots saves PNG files: give --out DIR")
        if pair is None and imp is None and len(countries) != 2:
            raise ValueError("--plots: give --states I J (state heatmaps) and/or --importer "
                             "ISO (elasticities vs delivered prices)")
        try:
            import matplotlib  # noqa: F401
        except ImportError as exc:
            raise ValueError("--plots needs matplotlib (pip install 'hat_jax[plot]')") from exc
    return imp, pair


# ----------------------------------------------------------------------------- results
def _records(df: pd.DataFrame, keys) -> list[dict]:
    out = []
    for row in df[list(keys)].itertuples(index=False):
        rec = {}
        for k, v in zip(keys, row):
            if isinstance(v, (bool, np.bool_)):
                rec[k] = bool(v)
            elif isinstance(v, (int, np.integer)):
                rec[k] = int(v)
            elif isinstance(v, str):
                rec[k] = v
            else:
                rec[k] = _num(v)
        out.append(rec)
    return out


STATE_KEYS = ("asset", "z_index", "theta", "theta_E", "theta_I", "omega_ij", "omega_ii",
              "theta_E_home", "theta_I_home", "lam", "foreign_share", "constrained")


def elasticities_summary(te: el.TradeElasticities, preset: str, eq, opts, hh_tol: float,
                         importer: int | None = None, states: el.StateElasticities | None = None,
                         timings: dict | None = None) -> dict:
    """The ``--json`` / summary.json object.

    Keys: preset, countries, theta (N x N, importer rows, diagonal 1.0), theta_mean (per
    importer, trade-weighted over partners), import_share (1 - pi_ii), converged
    (equilibrium and re-solved households), timings {equilibrium_compile_s,
    equilibrium_run_s, elasticities_s}, settings {...}; with an importer: importer and
    partners [{country, theta, price, share}]; with a state pair: states_pair {importer,
    partner, theta, theta_proposition3, share_constrained} and states [{asset, z_index,
    theta, theta_E, theta_I, omega_ij, omega_ii, theta_E_home, theta_I_home, lam,
    foreign_share, constrained}].
    """
    e = eq.economy
    timings = timings or {}
    means = el.theta_mean_frame(te)
    out = {
        "preset": preset,
        "countries": list(te.countries),
        "theta": _nums(te.theta),
        "theta_mean": _nums(te.theta_mean),
        "import_share": _nums(means["import_share"]),
        "converged": bool(eq.converged) and bool(np.all(np.asarray(te.converged))),
        "timings": {k: _num(timings[k]) if k in timings else None
                    for k in ("equilibrium_compile_s", "equilibrium_run_s", "elasticities_s")},
        "settings": {
            "gamma": float(e.gamma), "sigma": _num(e.sigma), "psi_slope": _num(e.psi_slope),
            "beta": _num(eq.beta), "R": _nums(eq.R), "Na": int(e.Na), "Nz": int(e.Nz),
            "phi": _num(e.phi), "amax": _num(e.amax), "regime": opts.regime,
            "unknown": opts.unknown, "tol": float(opts.tol), "hh_tol": float(hh_tol),
        },
    }
    if importer is not None:
        out["importer"] = te.countries[importer]
        out["partners"] = _records(el.partners_frame(te, importer),
                                   ("country", "theta", "price", "share"))
    if states is not None:
        df = el.states_frame(states)
        out["states_pair"] = {
            "importer": states.importer, "partner": states.partner,
            "theta": _num(states.theta_aggregate),
            "theta_proposition3": _num(el.proposition3(states)),
            "share_constrained": _num(np.sum(np.asarray(states.lam)
                                             * np.asarray(states.constrained))),
        }
        out["states"] = _records(df, STATE_KEYS)
    return out


def write_elasticity_outputs(out_dir, te, result: dict, states=None, importer=None,
                             plot_states=None, plots: bool = False) -> list[Path]:
    """Write summary.json, theta.csv (importer rows, exporter columns), theta_mean.csv,
    pairs.csv (importer, exporter, theta, price, share, M); partners_<ISO>.csv and
    states_<I>_<J>.csv when given; with ``plots`` the PNG figures
    state_heatmaps_<I>_<J>.png and elasticity_vs_price_<ISO>.png."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fmt = "%.17g"
    files = {
        "summary.json": json.dumps(result, indent=2, allow_nan=False) + "\n",
        "theta.csv": el.theta_matrix(te).to_csv(float_format=fmt),
        "theta_mean.csv": el.theta_mean_frame(te).to_csv(index=False, float_format=fmt),
        "pairs.csv": el.elasticity_frame(te).to_csv(index=False, float_format=fmt),
    }
    if importer is not None:
        files[f"partners_{te.countries[importer]}.csv"] = el.partners_frame(
            te, importer).to_csv(index=False, float_format=fmt)
    if states is not None:
        files[f"states_{states.importer}_{states.partner}.csv"] = el.states_frame(
            states).to_csv(index=False, float_format=fmt)
    paths = []
    for name, text in files.items():
        _atomic_write(out / name, text)
        paths.append(out / name)
    if plots:
        paths += _write_plots(out, te, plot_states, importer)
    return paths


def _write_plots(out: Path, te, states, importer) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    paths = []
    figs = []
    if states is not None:
        figs.append((f"state_heatmaps_{states.importer}_{states.partner}.png",
                     el.plot_state_heatmaps(states)))
    if importer is not None:
        figs.append((f"elasticity_vs_price_{te.countries[importer]}.png",
                     el.plot_elasticity_vs_price(te, importer)))
    for name, fig in figs:
        tmp = out / f".{name}.tmp.png"
        fig.savefig(tmp, dpi=120)
        plt.close(fig)
        tmp.replace(out / name)
        paths.append(out / name)
    return paths


def format_elasticities(result: dict, te) -> str:
    """The readable report printed without --json."""
    s = result["settings"]
    labels = result["countries"]
    N = len(labels)
    lines = [
        f"Trade elasticities: {result['preset']} (N={N}, Na={s['Na']}, gamma={s['gamma']:g}, "
        f"sigma={s['sigma']:g}); theta_ij = d log(M_ij/M_ii) / d log d_ij with W, R and the "
        "distribution fixed",
        f"converged: {'yes' if result['converged'] else 'NO'}",
    ]
    with pd.option_context("display.width", 120, "display.max_columns", 50):
        if N <= 6:
            m = el.theta_matrix(te)
            m.index.name, m.columns.name = "importer \\ exporter", None
            lines += ["", "theta_ij (importer rows, exporter columns; diagonal 1 by convention)",
                      m.to_string(float_format="{:.6f}".format)]
        else:
            lines += ["", f"theta_ij: {N} x {N} matrix in --json / --out (theta.csv, pairs.csv)"]
        means = el.theta_mean_frame(te).set_index("importer")
        means.index.name = None
        lines += ["", "Trade-weighted mean elasticity by importer (over partners j != i)",
                  means.to_string(float_format="{:.6f}".format)]
        if "partners" in result:
            df = el.partners_frame(te, result["importer"]).set_index("country")
            df.index.name = None
            lines += ["", f"{result['importer']}: partners' elasticities, delivered prices "
                      "p_ij and trade shares", df.to_string(float_format="{:.6f}".format)]
        if "states_pair" in result:
            sp = result["states_pair"]
            th = np.array([r["theta"] for r in result["states"]], dtype=float)
            lines += ["", f"States: {sp['importer']} importing from {sp['partner']} "
                      f"({len(th)} states (asset, productivity); all in --json / --out)",
                      f"  theta_ij = {sp['theta']:.10f} (AD of the flows), Proposition 3 "
                      f"rebuild {sp['theta_proposition3']:.10f}",
                      f"  theta_ij(a,z) from {th.min():.4f} to {th.max():.4f}; share of "
                      f"households at the borrowing limit {sp['share_constrained']:.4f}"]
    t = result["timings"]
    if t["elasticities_s"] is not None:
        lines += ["", f"elasticities: {t['elasticities_s']:.2f} s (first call includes "
                  "compilation)"]
    return "\n".join(lines)


# -------------------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> int:
    """Run ``hat elasticities``; returns the exit code (ValueError: bad input)."""
    if args.importer is not None or args.states is not None or args.plots:
        economy, _ = setup_from_args(args)  # check the labels before a long solve
        _check_args(args, economy.countries)
    economy, world, opts, eq, timings, start = solve_baseline(args)
    imp, pair = _check_args(args, economy.countries)
    progress = not args.quiet
    if progress:
        _err("computing the trade elasticities (forward-mode AD through the household "
             "problems)...")
    t0 = time.perf_counter()
    te = el.trade_elasticities(eq, hh_tol=args.hh_tol, throw=False)
    elapsed = time.perf_counter() - t0
    if progress:
        _err(f"done: {elapsed:.2f} s")
    times = {"equilibrium_compile_s": timings.get("compile_s"),
             "equilibrium_run_s": timings.get("run_s"), "elasticities_s": elapsed}
    times = {k: v for k, v in times.items() if v is not None}
    states = te.states(*pair) if pair is not None else None
    result = elasticities_summary(te, args.preset, eq, opts, args.hh_tol, importer=imp,
                                  states=states, timings=times)

    if args.out is not None:
        plot_states = states
        if args.plots and plot_states is None and len(te.countries) == 2:
            plot_states = te.states(0, 1)
        paths = write_elasticity_outputs(args.out, te, result, states=states, importer=imp,
                                         plot_states=plot_states, plots=args.plots)
        if progress:
            _err("wrote " + ", ".join(str(p) for p in paths))
    rc = EXIT_OK
    if not bool(eq.converged):
        report_not_converged(eq, opts)
        rc = EXIT_NOT_CONVERGED
    elif not result["converged"]:
        bad = [te.countries[i] for k, i in enumerate(te.importers)
               if not bool(np.asarray(te.converged)[k])]
        _err("not converged: the household problem re-solved for the elasticities did not "
             f"converge to {args.hh_tol:g} in {', '.join(bad)}")
        rc = EXIT_NOT_CONVERGED
    text = json.dumps(result, indent=2, allow_nan=False) if args.json \
        else format_elasticities(result, te)
    print_text(text)
    return rc


if __name__ == "__main__":  # pragma: no cover
    from hat_jax.cli import main

    sys.exit(main(["elasticities", *sys.argv[1:]]))
