"""What the ``hat`` commands share: the parser class and exit codes, the economy and
equilibrium options of a preset, building the economy from them (once per command),
solving the baseline equilibrium with progress on stderr, and printing.

Importing this module imports :mod:`hat_jax`, which turns on JAX's 64-bit mode.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import math
import os
import signal
import socket
import sys
import threading
import warnings
from typing import Any, NamedTuple


import hat_jax
from hat_jax.data import DataWarning
from hat_jax.ek import EK_PRESETS, EK_UNPUBLISHED_PRESETS, EKWorld, ek_world
from hat_jax.fileio import critical_section, discard_pending
from hat_jax.baseline import Baseline
from hat_jax.equilibrium import (
    Equilibrium,
    EquilibriumOptions,
    Start,
    check_equilibrium,
    solve_equilibrium,
)
from hat_jax.params import Economy
from hat_jax.presets import solve_defaults
from hat_jax.report.files import json_text
from hat_jax.results import ConvergenceError
from hat_jax.welfare import country_index

__all__ = [
    "EXIT_OK", "EXIT_INPUT", "EXIT_NOT_CONVERGED", "UsageError", "Parser",
    "add_economy_arguments", "add_output_arguments", "Setup", "setup_from_args",
    "add_tables_arguments", "tables_world", "economy_from_args", "options_from_args", "starting_prices", "SolvedBaseline",
    "solve_baseline", "default_country", "report_not_converged", "err", "wrote",
    "print_text", "print_result", "EXIT_INTERRUPTED", "interrupt_handler",
    "set_interrupt_message", "memory_estimate", "available_memory", "choose_tangent_solver",
]

EXIT_OK, EXIT_INPUT, EXIT_NOT_CONVERGED, EXIT_INTERRUPTED = 0, 1, 2, 130

#: CLI option -> keyword of the preset factory (passed only when given).
_ECONOMY_OPTIONS = {"gamma": "gamma", "sigma": "sigma", "beta": "beta", "d": "d", "Na": "Na",
                    "phi": "phi", "amax": "amax", "psi_slope": "psi_slope"}


class UsageError(Exception):
    """A command-line syntax error (reported with exit code 1, not argparse's 2)."""


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of exiting with code 2."""

    def error(self, message):  # noqa: D401 - argparse API
        raise UsageError(f"{message}\n{self.format_usage().rstrip()}")


# ------------------------------------------------------------------------------ parser
def _add_economy_group(s: argparse.ArgumentParser) -> None:
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
                   "(default: $HAT_DATA_DIR, then the copy shipped in the package)")


def _add_equilibrium_group(s: argparse.ArgumentParser) -> None:
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
                   "(default where the preset has one) or a cold start (all wages 1, "
                   "beta = 0.95/R)")
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
    e.add_argument("--tangent-solver", dest="tangent_solver", choices=("lu", "gmres"),
                   default=None,
                   help="linear solver of the implicit-function systems behind the "
                   "Jacobian: lu (dense LU per country, fastest; memory grows as "
                   "(2 Nz Na)^2) or gmres (matrix-free, for large grids). Default: lu, "
                   "or gmres with a note when lu would not fit in the available memory")


def add_economy_arguments(s: argparse.ArgumentParser) -> None:
    """PRESET and the economy / equilibrium options shared by every command that solves
    a baseline equilibrium first (solve, and the analysis commands)."""
    s.add_argument("preset", metavar="PRESET", nargs="?", default=None,
                   help=f"preset economy: one of {', '.join(sorted(hat_jax.PRESETS))} "
                   "(optional with --data: then an ek_* preset lends its utility settings)")
    _add_economy_group(s)
    add_tables_arguments(s)
    _add_equilibrium_group(s)


def add_tables_arguments(s: argparse.ArgumentParser) -> None:
    """--data DIR and --gravity-estimator: a world from your own tidy tables."""
    g = s.add_argument_group("your own data (hat_jax.tables)")
    g.add_argument("--data", metavar="DIR", default=None,
                   help="a folder of tidy tables (countries, flows, gravity; CSV or Parquet; "
                   "optional spec.json): the world is built from them instead of a preset's "
                   "data (README: Your own data)")
    g.add_argument("--gravity-estimator", dest="gravity_estimator", default=None,
                   choices=("ols", "ppml"),
                   help="gravity estimator of the data and model moments (default: spec.json's, "
                   "else ols)")


def tables_world(args: argparse.Namespace, **overrides) -> EKWorld:
    """The world of ``--data DIR`` (with PRESET's utility settings when one is given)."""
    from dataclasses import replace

    from hat_jax.tables import GravitySpec, load_spec, world_from_tables

    spec = None
    if args.gravity_estimator is not None:
        spec = load_spec(args.data)[0] or GravitySpec()
        spec = replace(spec, estimator=args.gravity_estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        world = world_from_tables(args.data, spec=spec, preset=args.preset, **overrides)
    if not getattr(args, "quiet", False):
        for note in world.data.notes:
            err(f"note: {note}")
    return world


def add_output_arguments(s: argparse.ArgumentParser, files: str, plots: str | None = None,
                         json_help: str = "print one JSON object on stdout instead of the "
                         "summary") -> argparse._ArgumentGroup:
    """The "output" group: --out DIR (writing ``files``), --json, --plots (with help
    ``plots``; omitted when None) and --quiet. Returns the group."""
    o = s.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help=f"write {files} to DIR")
    o.add_argument("--json", action="store_true", help=json_help)
    if plots is not None:
        o.add_argument("--plots", action="store_true", help=plots)
    o.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    return o


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


class Setup(NamedTuple):
    """The preset's economy with the command-line overrides, and the EK world it was
    built from (None for presets not built from the Eaton-Kortum data)."""

    economy: Economy
    world: EKWorld | None


def _overrides(args: argparse.Namespace, factory) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for opt, kw in _ECONOMY_OPTIONS.items():
        value = getattr(args, opt)
        if value is None:
            continue
        # d must be a named parameter: passing it through **kwargs would clash with the
        # preset's own trade-cost matrix.
        if not _takes(factory, kw, via_kwargs=(kw != "d")):
            raise ValueError(f"preset {args.preset!r} does not take --{opt.replace('_', '-')}")
        overrides[kw] = value
    if args.data_dir is not None:
        if _takes(factory, "data_dir", via_kwargs=False):
            overrides["data_dir"] = args.data_dir
        elif not args.quiet:
            err(f"note: preset {args.preset!r} does not read data; --data-dir ignored")
    return overrides


def setup_from_args(args: argparse.Namespace) -> Setup:
    """Build the preset's economy (and EK world) from ``args``; ValueError on bad input.
    Commands call it once and pass the result on (:func:`solve_baseline`)."""
    if getattr(args, "data", None) is not None:
        if args.d is not None or args.data_dir is not None:
            raise ValueError("--data builds d from the tables; --d and --data-dir do not apply")
        overrides = {k: getattr(args, k) for k in _ECONOMY_OPTIONS if k != "d"}
        world = tables_world(args, **overrides)
        if args.preset is None:
            args.preset = world.name
        return Setup(world.economy, world)
    if args.preset is None:
        raise ValueError("PRESET is required (unless --data DIR is given)")
    factory = hat_jax.PRESETS.get(args.preset)
    if factory is None:
        hat_jax.preset(args.preset)  # raises ValueError listing the presets
    overrides = _overrides(args, factory)
    try:
        if args.preset in EK_PRESETS or args.preset in EK_UNPUBLISHED_PRESETS:
            world = ek_world(args.preset, **overrides)
            return Setup(world.economy, world)
        return Setup(hat_jax.preset(args.preset, **overrides), None)
    except TypeError as exc:  # an override the factory cannot take
        raise ValueError(f"preset {args.preset!r}: {exc}") from exc


def economy_from_args(args: argparse.Namespace) -> Economy:
    """The preset's economy with the command-line overrides (ValueError on bad input)."""
    return setup_from_args(args).economy


def options_from_args(args: argparse.Namespace) -> EquilibriumOptions:
    """Equilibrium options; ``--unknown`` defaults to the preset's (see SOLVE_DEFAULTS)."""
    if args.unknown is None:
        args.unknown = ("beta" if getattr(args, "data", None) is not None
                        else solve_defaults(args.preset)["unknown"])
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
        max_iter=args.max_iter, distribution=args.distribution, verbose=not args.quiet,
        tangent_solver=getattr(args, "tangent_solver", None) or "lu",
    )


def starting_prices(args: argparse.Namespace, economy: Economy, world: EKWorld | None,
                    opts: EquilibriumOptions):
    """(:class:`~hat_jax.Start`, start label) from --start / --R / --beta and the preset."""
    if world is None:
        if args.start == "published":
            raise ValueError(f"preset {args.preset!r} has no published prices; --start "
                             "published is for the ek_* presets")
        return Start(R=args.R), "default"
    # default: the published prices where the preset has them (not ek_paper_2023)
    start = args.start or ("published" if world.published is not None else "cold")
    W0, R_target, beta0 = world.start(start)
    R0 = R_target if args.R is None else args.R
    if args.beta is not None:
        beta0 = args.beta
    elif opts.unknown == "beta" and beta0 * R0 >= 1.0:
        beta0 = 0.95 / R0
    return Start(W=W0, R=R0, beta=beta0), start


# ----------------------------------------------------------------------------- solving
class SolvedBaseline(NamedTuple):
    """A solved :class:`~hat_jax.Baseline` and how it was set up from the command line:
    world (the EK world, or None), opts (the options of the baseline solve; the
    experiments' are ``baseline.opts``), timings of the solve and the start label."""

    baseline: Baseline
    world: EKWorld | None
    opts: EquilibriumOptions
    timings: dict
    start: str

    @property
    def eq(self) -> Equilibrium:
        """The solved equilibrium (converged or not)."""
        return self.baseline.equilibrium

    @property
    def economy(self) -> Economy:
        """The economy as set up (beta the preset's)."""
        return self.baseline.equilibrium.economy


def solve_baseline(args: argparse.Namespace, setup: Setup | None = None) -> SolvedBaseline:
    """Solve the equilibrium of ``setup`` (built by :func:`setup_from_args`; built here
    when None) with the options of ``args``, progress on stderr unless ``args.quiet``.
    Does not raise when the solve fails to converge: check ``eq.converged`` (see
    :func:`report_not_converged`)."""
    economy, world = setup if setup is not None else setup_from_args(args)
    opts = options_from_args(args)
    opts = opts.replace(tangent_solver=choose_tangent_solver(
        economy, getattr(args, "tangent_solver", None), quiet=args.quiet))
    guess, start = starting_prices(args, economy, world, opts)
    progress = not args.quiet
    if progress:
        err(f"{args.preset}: N={economy.N}, Na={economy.Na}, regime {opts.regime}, "
            f"solving for {opts.unknown}" + ("" if world is None else f", {start} start"))
        err("compiling... (the first solve for given grid sizes compiles the solver, "
            "which can take a minute; later runs read it from the compilation cache)")
    timings: dict = {}
    # with opts.verbose, solve_equilibrium prints "compiled in N s; solving..." and one
    # line per Newton iteration
    eq = solve_equilibrium(economy, opts, guess, timings=timings, throw=False)
    if progress:
        err(f"done: compile {timings.get('compile_s', float('nan')):.2f} s, "
            f"run {timings.get('run_s', float('nan')):.3f} s")
    return SolvedBaseline(Baseline.from_equilibrium(eq, opts), world, opts, timings, start)


# ------------------------------------------------------------------------------ memory
#: Peak resident memory of a solve, measured with /usr/bin/time -v (hat solve two_country,
#: tangent_solver lu, CPU): Na = 100, 200, 400 -> 0.89, 1.20, 2.52 GB, i.e. about 0.76 GB
#: (the runtime and the compiler) plus 3.45 dense (2 Nz Na)^2 float64 matrices (the
#: household tangent matrix, I - K, its LU, the distribution's (Nz Na)^2 matrices and
#: the Jacobian columns; countries are factorised one after another, so N hardly
#: matters). GMRES needs no dense matrix: 4.7 GB measured at Na = 2000 (issue 17), i.e.
#: the base plus about 6000 state vectors per country.
MEMORY_BASE_BYTES = 0.76e9
MEMORY_LU_MATRICES = 3.45
MEMORY_GMRES_VECTORS = 6000


def memory_estimate(economy: Economy, tangent_solver: str = "lu") -> float:
    """Estimated peak memory (bytes) of solving ``economy``'s equilibrium on the CPU with
    ``tangent_solver`` ("lu": dominated by dense (2 Nz Na)^2 float64 matrices;
    "gmres": linear in Na)."""
    n = 2 * economy.Nz * economy.Na  # household state size of one country
    if tangent_solver == "lu":
        return MEMORY_BASE_BYTES + MEMORY_LU_MATRICES * 8.0 * n * n
    return MEMORY_BASE_BYTES + MEMORY_GMRES_VECTORS * 8.0 * n * economy.N


def available_memory() -> float | None:
    """Memory this process can still use (bytes): the smaller of MemAvailable
    (/proc/meminfo) and what a cgroup limit leaves; None where neither is known."""
    found = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(float(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit) as f:
                lim = f.read().strip()
            with open(usage) as f:
                used = float(f.read().strip())
            if lim != "max" and float(lim) < 2**60:
                found.append(float(lim) - used)
        except (OSError, ValueError):
            continue
    return min(found) if found else None


def choose_tangent_solver(economy: Economy, requested: str | None, quiet: bool = False,
                          available: float | None = None) -> str:
    """The tangent solver for a solve of ``economy``: ``requested`` ("lu" or "gmres") if
    given, else "lu" when its :func:`memory_estimate` fits in ``available`` bytes
    (default :func:`available_memory`), else "gmres" with a note on stderr. Raises
    ValueError, before anything is compiled, when "lu" was requested and does not fit."""
    available = available_memory() if available is None else available
    if requested == "gmres" or available is None:
        return requested or "lu"
    need = memory_estimate(economy, "lu")
    if need <= 0.9 * available:
        return "lu"
    what = (f"the dense tangent solver (lu) needs about {need / 1e9:.1f} GB at Na={economy.Na}"
            f" (Nz={economy.Nz}), more than the {available / 1e9:.1f} GB available")
    if requested == "lu":
        raise ValueError(f"--tangent-solver lu: {what}; use --tangent-solver gmres "
                         f"(matrix-free, about "
                         f"{memory_estimate(economy, 'gmres') / 1e9:.1f} GB) or a smaller --Na")
    if not quiet:
        err(f"note: {what}; using --tangent-solver gmres (matrix-free, slower per "
            "Jacobian)")
    return "gmres"


def default_country(economy, given, fallback) -> int:
    """``given`` (a label), else ``fallback`` (an index), else USA if present, else 0."""
    if given is not None:
        return country_index(economy, given)
    if fallback is not None:
        return fallback
    labels = [c.upper() for c in economy.countries]
    return labels.index("USA") if "USA" in labels else 0


def report_not_converged(eq: Equilibrium, opts: EquilibriumOptions) -> None:
    """Print why the equilibrium did not converge (residuals, iterations) to stderr."""
    try:
        check_equilibrium(eq, opts)
        msg = "the equilibrium did not converge"
    except ConvergenceError as exc:
        msg = str(exc)
    err(f"not converged: {msg}")


# ---------------------------------------------------------------------------- printing
def err(msg: str) -> None:
    """``hat: msg`` on stderr (progress and diagnostics)."""
    print(f"hat: {msg}", file=sys.stderr, flush=True)


def wrote(paths, quiet: bool) -> None:
    """Report the files written (unless ``quiet``)."""
    if not quiet:
        err("wrote " + ", ".join(str(p) for p in paths))


def print_text(text: str) -> None:
    """Print to stdout, tolerating a reader that closed the pipe early (`| head`)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # no second error when Python exits
        except OSError:
            pass


def print_result(args: argparse.Namespace, result: dict, text) -> None:
    """Print ``result`` as JSON with ``--json``, else ``text()`` (the readable summary)."""
    print_text(json_text(result) if args.json else text())


# --------------------------------------------------------------------------- Ctrl-C
_INTERRUPT = {"message": "interrupted"}


def set_interrupt_message(message: str) -> None:
    """The line printed (after ``hat: ``) when the command is interrupted."""
    _INTERRUPT["message"] = message


def _exit_interrupted() -> None:
    with critical_section():  # let a commit of output files finish
        discard_pending()  # staging folders and temporary files of unfinished writes
        try:
            os.write(2, f"hat: {_INTERRUPT['message']}\n".encode())
        except OSError:
            pass
        os._exit(EXIT_INTERRUPTED)


def _watch(sock: socket.socket) -> None:
    while True:
        try:
            data = sock.recv(64)
        except OSError:
            return
        if not data:
            return
        if signal.SIGINT in data:
            _exit_interrupted()


@contextlib.contextmanager
def interrupt_handler():
    """Within the context, SIGINT (Ctrl-C) ends the process at once with exit code 130 and
    one line on stderr (:func:`set_interrupt_message`), no traceback.

    Python runs a signal handler only when the main thread returns to the interpreter,
    which can take many seconds while XLA compiles (and unwinding a KeyboardInterrupt
    through JAX has crashed the process). So the C-level handler's wakeup byte
    (signal.set_wakeup_fd) is read by a watcher thread, which takes
    :func:`hat_jax.fileio.critical_section` (a commit of output files in progress is
    finished), removes unfinished staging files and calls ``os._exit(130)``. Outside the
    main thread (or where signals cannot be set) the context does nothing. The previous
    handler and wakeup fd are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    rsock, wsock = socket.socketpair()
    wsock.setblocking(False)
    try:
        old_fd = signal.set_wakeup_fd(wsock.fileno(), warn_on_full_buffer=False)
        old_handler = signal.signal(signal.SIGINT, lambda signum, frame: _exit_interrupted())
    except (ValueError, OSError):  # pragma: no cover - not the main interpreter
        rsock.close()
        wsock.close()
        yield
        return
    _INTERRUPT["message"] = "interrupted"
    watcher = threading.Thread(target=_watch, args=(rsock,), name="hat-sigint", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_handler)
        signal.set_wakeup_fd(old_fd)
        wsock.close()  # the watcher's recv returns b"" and it ends
        watcher.join(timeout=1.0)
        rsock.close()
