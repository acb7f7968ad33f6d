"""The ``hat`` command: a thin layer over the hat_jax API.

    hat solve PRESET [--gamma G] [--sigma S] [--beta B] [--d D] [--Na N] [--phi P]
                     [--amax A] [--psi-slope K] [--tol T] [--hh-tol T] [--max-iter M]
                     [--regime {global,autarky}] [--unknown {R,beta}] [--R R]
                     [--distribution {direct,iterate}] [--data-dir DIR]
                     [--out DIR] [--json] [--quiet]

PRESET is a key of :data:`hat_jax.PRESETS`; a preset registered there later is accepted
without changes here (``--data-dir`` is passed on when its factory takes ``data_dir``).
The economy is solved with :func:`hat_jax.solve_equilibrium`; the readable summary (or,
with ``--json``, one JSON object) goes to stdout, progress and diagnostics to stderr.

Exit codes: 0 solved; 1 bad input (``hat: error: ...``); 2 the equilibrium did not
converge (the diagnostic is printed on stderr; outputs are still written, with
``"converged": false``).

Importing this module imports :mod:`hat_jax`, which turns on JAX's 64-bit mode.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import jax
import jax.monitoring  # noqa: F401  (progress hook, see _announce_solving)
import numpy as np
import pandas as pd

import hat_jax
from hat_jax.equilibrium import (
    Equilibrium,
    EquilibriumOptions,
    check_equilibrium,
    newton_path,
    solve_equilibrium,
    solve_equilibrium_jit,
)
from hat_jax.ek import EK_PRESETS, EK_UNPUBLISHED_PRESETS, EKWorld, ek_world
from hat_jax.fileio import atomic_write_text
from hat_jax.params import Economy
from hat_jax.presets import solve_defaults
from hat_jax.results import ConvergenceError

__all__ = ["main", "build_parser", "summary", "format_summary", "write_outputs"]

EXIT_OK, EXIT_INPUT, EXIT_NOT_CONVERGED = 0, 1, 2

#: CLI option -> keyword of the preset factory (passed only when given).
_ECONOMY_OPTIONS = {
    "gamma": "gamma",
    "sigma": "sigma",
    "beta": "beta",
    "d": "d",
    "Na": "Na",
    "phi": "phi",
    "amax": "amax",
    "psi_slope": "psi_slope",
}


class _UsageError(Exception):
    """A command-line syntax error (reported with exit code 1, not argparse's 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # noqa: D401 - argparse API
        raise _UsageError(f"{message}\n{self.format_usage().rstrip()}")


# ------------------------------------------------------------------------------ parser
def add_economy_arguments(s: argparse.ArgumentParser) -> None:
    """PRESET and the economy / equilibrium options shared by every command that solves
    a baseline equilibrium first (solve, and the analysis commands)."""
    s.add_argument("preset", metavar="PRESET",
                   help=f"preset economy: one of {', '.join(sorted(hat_jax.PRESETS))}")
    g = s.add_argument_group("economy (overrides of the preset's values)")
    g.add_argument("--gamma", type=float, help="CRRA coefficient (1 = log utility)")
    g.add_argument("--sigma", type=float, help="logit scale of the taste shocks")
    g.add_argument("--beta", type=float,
                   help="discount factor (the starting guess with --unknown beta)")
    g.add_argument("--d", type=float,
                   help="symmetric off-diagonal trade cost d_ij >= 1 (two-country presets)")
    g.add_argument("--Na", type=int, help="number of asset grid points")
    g.add_argument("--phi", type=float, help="borrowing limit: a' >= -phi A_i")
    g.add_argument("--amax", type=float, help="top of the asset grid (times A_i)")
    g.add_argument("--psi-slope", dest="psi_slope", type=float,
                   help="quality / home-bias shifter slope")
    g.add_argument("--data-dir", dest="data_dir", metavar="DIR",
                   help="data directory, for presets built from the Eaton-Kortum data "
                   "(default: $HAT_DATA_DIR, then ../shared/data)")

    e = s.add_argument_group("equilibrium")
    e.add_argument("--regime", choices=("global", "autarky"), default="global",
                   help="one world bond market (global, default) or financial autarky")
    e.add_argument("--unknown", choices=("R", "beta"), default=None,
                   help="solve R at the given beta, or beta at a target R (default: the "
                   "preset's; R for the two-country presets, beta for the ek_* presets)")
    e.add_argument("--R", dest="R", type=float,
                   help="target R with --unknown beta (default: the preset's, 1.01); "
                   "otherwise the starting R (default 1)")
    e.add_argument("--start", choices=("published", "cold"), default=None,
                   help="starting prices of the ek_* presets: the published equilibrium "
                   "(default where the preset has one) or a cold start (all wages 1, beta = 0.95/R)")
    e.add_argument("--tol", type=float, default=1e-10,
                   help="equilibrium tolerance: max |excess demand| / world GDP (default 1e-10)")
    e.add_argument("--hh-tol", dest="hh_tol", type=float, default=1e-10,
                   help="household tolerance: sup-norm change of c and v (default 1e-10)")
    e.add_argument("--max-iter", dest="max_iter", type=int,
                   default=EquilibriumOptions().max_iter,
                   help="maximum Newton iterations (default %(default)s)")
    e.add_argument("--distribution", choices=("direct", "iterate"), default="iterate",
                   help="stationary distribution by forward iteration (default; the "
                   "reference method) or a direct dense linear solve")


# Further commands live in their own modules, each with ``add_parser(sub)`` (adds its
# subparser to the ``hat`` command's subparsers) and ``run(args) -> exit code``; they
# reuse :func:`add_economy_arguments` and :func:`solve_baseline` from here.
COMMAND_MODULES: dict[str, str] = {
    "elasticities": "hat_jax.cli_elasticities",
    "calibrate": "hat_jax.cli_calibrate",
    "counterfactual": "hat_jax.cli_welfare",
    "planner": "hat_jax.cli_welfare",
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hat",
        description="Heterogeneous Agent Trade model solver (hat_jax).",
    )
    parser.add_argument("--version", action="version", version=f"hat_jax {hat_jax.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser(
        "solve",
        help="solve the stationary world equilibrium of a preset economy",
        description="Solve the stationary world equilibrium of a preset economy and print "
        "a summary (or one JSON object with --json). Exit codes: 0 solved, 1 bad input, "
        "2 not converged.",
    )
    add_economy_arguments(s)

    o = s.add_argument_group("output")
    o.add_argument("--out", metavar="DIR",
                   help="write summary.json, trade_shares.csv and countries.csv to DIR")
    o.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout instead of the summary")
    o.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    for module in COMMAND_MODULES.values():
        importlib.import_module(module).add_parser(sub)
    return parser


# ------------------------------------------------------------------------ economy setup
def _takes(factory, name: str, *, via_kwargs: bool) -> bool:
    """Whether ``factory`` accepts keyword ``name`` (explicitly, or through **kwargs)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return True
    p = params.get(name)
    if p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
        return True
    return via_kwargs and any(q.kind is q.VAR_KEYWORD for q in params.values())


def economy_from_args(args: argparse.Namespace) -> Economy:
    """The preset's economy with the command-line overrides (ValueError on bad input)."""
    return setup_from_args(args)[0]


def setup_from_args(args: argparse.Namespace):
    """(economy, EKWorld or None) of the preset with the command-line overrides."""
    factory = hat_jax.PRESETS.get(args.preset)
    if factory is None:
        return hat_jax.preset(args.preset)  # raises ValueError listing the presets
    overrides: dict[str, Any] = {}
    for opt, kw in _ECONOMY_OPTIONS.items():
        value = getattr(args, opt)
        if value is None:
            continue
        # d must be a named parameter: passing it through **kwargs would clash with the
        # preset's own trade-cost matrix.
        if not _takes(factory, kw, via_kwargs=(kw != "d")):
            flag = "--" + opt.replace("_", "-")
            raise ValueError(f"preset {args.preset!r} does not take {flag}")
        overrides[kw] = value
    if args.data_dir is not None:
        if _takes(factory, "data_dir", via_kwargs=False):
            overrides["data_dir"] = args.data_dir
        elif not args.quiet:
            _err(f"note: preset {args.preset!r} does not read data; --data-dir ignored")
    try:
        if args.preset in EK_PRESETS or args.preset in EK_UNPUBLISHED_PRESETS:
            world = ek_world(args.preset, **overrides)
            return world.economy, world
        return hat_jax.preset(args.preset, **overrides), None
    except TypeError as exc:  # an override the factory cannot take
        raise ValueError(f"preset {args.preset!r}: {exc}") from exc


def options_from_args(args: argparse.Namespace) -> EquilibriumOptions:
    """Equilibrium options; ``--unknown`` defaults to the preset's (see SOLVE_DEFAULTS)."""
    if args.unknown is None:
        args.unknown = solve_defaults(args.preset)["unknown"]
    if not (args.hh_tol > 0 and math.isfinite(args.hh_tol)):
        raise ValueError(f"--hh-tol must be > 0, got hh_tol={args.hh_tol!r}")
    if not math.isfinite(args.tol):
        raise ValueError(f"--tol must be finite, got tol={args.tol!r}")
    if args.max_iter < 1:
        raise ValueError(f"--max-iter must be >= 1, got max_iter={args.max_iter!r}")
    if args.R is not None and not math.isfinite(args.R):
        raise ValueError(f"--R must be finite, got R={args.R!r}")
    return EquilibriumOptions(
        regime=args.regime, unknown=args.unknown, tol=args.tol, hh_tol=args.hh_tol,
        max_iter=args.max_iter, distribution=args.distribution,
        verbose=not args.quiet,
    )


# ----------------------------------------------------------------------------- results
def _num(x) -> float | None:
    """A JSON number: a plain float, or None when not finite."""
    x = float(x)
    return x if math.isfinite(x) else None


def _nums(x) -> list:
    """Nested lists of plain floats (None for non-finite entries)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        return _num(a)
    return [_nums(v) for v in a]


def gravity_summary(eq: Equilibrium, world: EKWorld) -> dict:
    """{"model": moments of the model's trade shares, "data": moments of the data}."""
    return {"model": world.model_moments(eq.world.aggregates.trade_shares).as_dict(),
            "data": world.data_moments().as_dict()}


def summary(eq: Equilibrium, preset: str, opts: EquilibriumOptions,
            timings: dict | None = None, world: EKWorld | None = None,
            start: str = "default") -> dict:
    """The JSON summary of a solved equilibrium (the ``--json`` / summary.json object).

    Keys: preset, countries, R, beta, wages, trade_shares (importer rows),
    home_choice_mean, share_borrowing_limit, bond_demand, home_share, import_share,
    nfa_gdp, A, L, residuals {goods, bonds, walras, max}, iterations {newton,
    household_max, jacobians}, path (one record per Newton iteration: iteration,
    max_residual, step, accepted, jacobian), converged, timings {compile_s, run_s}, start, settings {...}; for
    the ek_* presets also gravity {model, data} with S, m, dist (lists), border,
    language, EC, EFTA.
    """
    economy = eq.economy
    agg = eq.world.aggregates
    R = np.asarray(eq.R)
    goods = np.asarray(eq.goods_residuals)
    bonds = np.asarray(eq.bond_residuals)
    timings = timings or {}
    table = countries_frame(eq)
    path = [{k: (_num(v) if isinstance(v, float) else v) for k, v in row.items()}
            for row in newton_path(eq)]
    out = {
        "preset": preset,
        "countries": list(economy.countries),
        "R": _nums(R) if opts.regime == "autarky" else _num(R.reshape(-1)[0]),
        "beta": _num(eq.beta),
        "wages": _nums(eq.W),
        "trade_shares": _nums(agg.trade_shares),
        "home_choice_mean": _nums(agg.home_choice_mean),
        "share_borrowing_limit": _nums(agg.share_constrained),
        "bond_demand": _nums(agg.bond_demand),
        "home_share": _nums(table["home_share"]),
        "import_share": _nums(table["import_share"]),
        "nfa_gdp": _nums(table["nfa_gdp"]),
        "A": _nums(economy.A),
        "L": _nums(economy.L),
        "residuals": {
            "goods": _nums(goods),
            "bonds": _nums(bonds),
            "walras": _num(eq.walras_residual),
            "max": _num(eq.residual),
        },
        "iterations": {
            "newton": int(eq.iterations),
            "household_max": int(np.max(np.asarray(eq.world.households.iterations))),
            "jacobians": sum(row["jacobian"] for row in path),
        },
        "path": path,
        "converged": bool(eq.converged),
        "timings": {
            "compile_s": _num(timings["compile_s"]) if "compile_s" in timings else None,
            "run_s": _num(timings["run_s"]) if "run_s" in timings else None,
        },
        "start": start,
        "settings": {
            "gamma": float(economy.gamma),
            "sigma": _num(economy.sigma),
            "beta": _num(economy.beta),
            "Na": int(economy.Na),
            "phi": _num(economy.phi),
            "amax": _num(economy.amax),
            "psi_slope": _num(economy.psi_slope),
            "regime": opts.regime,
            "unknown": opts.unknown,
            "tol": float(opts.tol),
            "hh_tol": float(opts.hh_tol),
            "max_iter": int(opts.max_iter),
            "jacobian_reuse": float(opts.jacobian_reuse),
            "distribution": opts.distribution,
            "d": _nums(economy.d),
        },
    }
    if world is not None:
        out["gravity"] = gravity_summary(eq, world)
    return out


def trade_shares_frame(eq: Equilibrium) -> pd.DataFrame:
    """Trade shares pi_ij = M_ij / PC_i: importer rows, exporter columns, labelled."""
    labels = list(eq.economy.countries)
    df = pd.DataFrame(np.asarray(eq.world.aggregates.trade_shares), index=labels, columns=labels)
    df.index.name = "importer"
    df.columns.name = "exporter"
    return df


def countries_frame(eq: Equilibrium) -> pd.DataFrame:
    """One row per country (the countries.csv table)."""
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


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`hat_jax.fileio.atomic_write_text`)."""
    atomic_write_text(path, text)


def gravity_frame(gravity: dict) -> pd.DataFrame:
    """Moments side by side: one row per moment (S_ISO3 / m_ISO3 are added by the caller
    as S_1..S_N when labels are unknown), columns data, model, model_minus_data."""
    rows = []
    for key in ("S", "m", "dist"):
        for k, (d, m) in enumerate(zip(gravity["data"][key], gravity["model"][key])):
            rows.append((f"{key}_{k + 1}", d, m))
    for key in ("border", "language", "EC", "EFTA"):
        rows.append((key, gravity["data"][key], gravity["model"][key]))
    df = pd.DataFrame(rows, columns=["moment", "data", "model"])
    df["model_minus_data"] = df["model"] - df["data"]
    return df


def _label_gravity(df: pd.DataFrame, labels) -> pd.DataFrame:
    names = {f"{k}_{i + 1}": f"{k}_{c}" for k in ("S", "m") for i, c in enumerate(labels)}
    return df.assign(moment=df["moment"].map(lambda x: names.get(x, x)))


def write_outputs(out_dir: str | os.PathLike, eq: Equilibrium, result: dict,
                  world: EKWorld | None = None) -> list[Path]:
    """Write summary.json, trade_shares.csv and countries.csv to ``out_dir`` (created);
    for the ek_* presets also gravity.csv (moment, data, model, model_minus_data; S and m
    labelled by ISO3, dist_1..dist_6 by bin)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "summary.json": json.dumps(result, indent=2, allow_nan=False) + "\n",
        "trade_shares.csv": trade_shares_frame(eq).to_csv(float_format="%.17g"),
        "countries.csv": countries_frame(eq).to_csv(index=False, float_format="%.17g"),
    }
    if "gravity" in result:
        g = _label_gravity(gravity_frame(result["gravity"]), result["countries"])
        files["gravity.csv"] = g.to_csv(index=False, float_format="%.17g")
    paths = []
    for name, text in files.items():
        _atomic_write(out / name, text)
        paths.append(out / name)
    return paths


def _fmt(x) -> str:
    return "nan" if x is None else f"{x:.3e}"


def format_summary(result: dict, eq: Equilibrium) -> str:
    """The readable summary printed by ``hat solve`` (without --json)."""
    s = result["settings"]
    labels = result["countries"]
    regime = "financial autarky" if s["regime"] == "autarky" else "global bond market"
    solved = "R" if s["unknown"] == "R" else "beta"
    lines = [
        f"HAT equilibrium: {result['preset']} (N={len(labels)}, Na={s['Na']}, gamma={s['gamma']:g}, "
        f"sigma={s['sigma']:g}, {regime}, {solved} solved)",
        f"converged: {'yes' if result['converged'] else 'NO'}",
    ]
    if isinstance(result["R"], list):
        lines.append(f"beta = {result['beta']:.10g}  (R_i by country below)")
    else:
        lines.append(f"R = {result['R']:.10g}   beta = {result['beta']:.10g}")

    table = countries_frame(eq).set_index("country")
    table.index.name = None
    cols = {"W": "wage W", "A": "TFP A", "L": "L", "home_share": "home share",
            "import_share": "import share", "nfa_gdp": "NFA / GDP",
            "share_borrowing_limit": "at borrowing limit"}
    table = table[list(cols)].rename(columns=cols)
    if isinstance(result["R"], list):
        table.insert(0, "R_i", result["R"])
    with pd.option_context("display.width", 120, "display.max_columns", 50,
                           "display.float_format", "{:.6g}".format):
        lines += ["", "Countries", table.to_string()]
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


# -------------------------------------------------------------------------------- main
def _err(msg: str) -> None:
    print(f"hat: {msg}", file=sys.stderr, flush=True)


@contextmanager
def _announce_solving(enabled: bool):
    """Print "solving..." on stderr when XLA has finished compiling the solver.

    :func:`solve_equilibrium` compiles and runs in one call; the boundary is seen through
    JAX's public monitoring hook (the backend-compile event of ``solve_equilibrium_jit``).
    Best effort: if this JAX does not report it, nothing is printed here.
    """
    state = {"said": False}
    event_name = "/jax/core/compile/backend_compile_duration"
    name = solve_equilibrium_jit.__name__
    fun_names = (name, f"jit({name})")

    def listener(event, duration, **kwargs):
        try:
            if (not state["said"] and event == event_name
                    and kwargs.get("fun_name") in fun_names):
                state["said"] = True
                _err(f"compiled in {duration:.1f} s; solving...")
        except Exception:  # never let progress output break a compile
            pass

    monitoring = getattr(jax, "monitoring", None)
    register = getattr(monitoring, "register_event_duration_secs_listener", None)
    unregister = getattr(monitoring, "unregister_event_duration_listener", None)
    if not (enabled and register and unregister):
        yield state
        return
    register(listener)
    try:
        yield state
    finally:
        unregister(listener)


def starting_prices(args: argparse.Namespace, economy: Economy, world: EKWorld | None,
                    opts: EquilibriumOptions):
    """(W0, R0, beta0, start label) from --start / --R / --beta and the preset."""
    if world is None:
        if args.start == "published":
            raise ValueError(f"preset {args.preset!r} has no published prices; --start "
                             "published is for the ek_* presets")
        return None, args.R, None, "default"
    # default: the published prices where the preset has them (not ek_paper_2023)
    start = args.start or ("published" if world.published is not None else "cold")
    W0, R_target, beta0 = world.start(start)
    R0 = R_target if args.R is None else args.R
    if args.beta is not None:
        beta0 = args.beta
    elif opts.unknown == "beta" and beta0 * R0 >= 1.0:
        beta0 = 0.95 / R0
    return W0, R0, beta0, start


class Baseline(NamedTuple):
    """A solved baseline equilibrium and how it was set up from the command line."""

    economy: Economy
    world: EKWorld | None
    opts: EquilibriumOptions
    eq: Equilibrium
    timings: dict
    start: str


def solve_baseline(args: argparse.Namespace) -> Baseline:
    """Build the preset economy from ``args`` (see :func:`add_economy_arguments`) and solve
    its equilibrium, with progress on stderr unless ``args.quiet``. Does not raise when
    the solve fails to converge: check ``eq.converged`` (see :func:`report_not_converged`).
    """
    economy, world = setup_from_args(args)
    opts = options_from_args(args)
    W0, R0, beta0, start = starting_prices(args, economy, world, opts)
    progress = not args.quiet
    if progress:
        _err(f"{args.preset}: N={economy.N}, Na={economy.Na}, regime {opts.regime}, "
             f"solving for {opts.unknown}" + ("" if world is None else f", {start} start"))
        _err("compiling... (the first solve for given grid sizes and options compiles "
             "the solver; this can take a minute)")
    timings: dict = {}
    with _announce_solving(progress):
        eq = solve_equilibrium(economy, opts, W0=W0, R0=R0, beta0=beta0, timings=timings,
                               throw=False)
    if progress:
        _err(f"done: compile {timings.get('compile_s', float('nan')):.2f} s, "
             f"run {timings.get('run_s', float('nan')):.3f} s")
    return Baseline(economy, world, opts, eq, timings, start)


def report_not_converged(eq: Equilibrium, opts: EquilibriumOptions) -> None:
    """Print why the equilibrium did not converge (residuals, iterations) to stderr."""
    try:
        check_equilibrium(eq, opts)
        msg = "the equilibrium did not converge"
    except ConvergenceError as exc:
        msg = str(exc)
    _err(f"not converged: {msg}")


def print_text(text: str) -> None:
    """Print to stdout, tolerating a reader that closed the pipe early (`| head`)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # no second error when Python exits
        except OSError:
            pass


def _solve(args: argparse.Namespace) -> int:
    economy, world, opts, eq, timings, start = solve_baseline(args)
    progress = not args.quiet
    result = summary(eq, args.preset, opts, timings, world=world, start=start)

    if args.out is not None:
        paths = write_outputs(args.out, eq, result, world=world)
        if progress:
            _err("wrote " + ", ".join(str(p) for p in paths))
    rc = EXIT_OK
    if not result["converged"]:
        report_not_converged(eq, opts)
        rc = EXIT_NOT_CONVERGED

    text = json.dumps(result, indent=2, allow_nan=False) if args.json \
        else format_summary(result, eq)
    print_text(text)
    return rc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hat`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"hat: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_INPUT
    try:
        if args.command == "solve":
            return _solve(args)
        if args.command in COMMAND_MODULES:
            return importlib.import_module(COMMAND_MODULES[args.command]).run(args)
    except ValueError as exc:  # bad parameters (hat_jax validation), data errors
        print(f"hat: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    raise AssertionError(f"unhandled command {args.command!r}")  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
