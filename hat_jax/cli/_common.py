"""What the ``hat`` commands share: the parser class and exit codes, the economy and
equilibrium options of a preset, building the economy from them (once per command),
solving the baseline equilibrium with progress on stderr, and printing.

Importing this module imports :mod:`hat_jax`, which turns on JAX's 64-bit mode.
"""

from __future__ import annotations

import argparse
import contextlib
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
from hat_jax._ek import EKWorld
from hat_jax._ek_world import ek_world
from hat_jax._fileio import critical_section, discard_pending
from hat_jax._baseline import Baseline
from hat_jax._equilibrium import (
    Equilibrium,
    EquilibriumOptions,
    Start,
    check_equilibrium,
    solve_equilibrium,
)
from hat_jax._memory import (JacobianBlockNote, TangentSolverNote, available_memory,
                            memory_estimate, resolve_jacobian_block, resolve_tangent_solver)
from hat_jax._params import Economy
from hat_jax._preset_registry import preset_record
from hat_jax.report._files import json_text
from hat_jax._results import ConvergenceError
from hat_jax.welfare import country_index

__all__ = [
    "EXIT_OK", "EXIT_INPUT", "EXIT_NOT_CONVERGED", "UsageError", "Parser",
    "add_economy_arguments", "add_output_arguments", "Setup", "setup_from_args",
    "add_tables_arguments", "tables_world", "economy_from_args", "options_from_args", "starting_prices", "SolvedBaseline",
    "solve_baseline", "solve_seconds", "default_country", "report_not_converged", "err",
    "wrote",
    "print_text", "print_result", "EXIT_INTERRUPTED", "interrupt_handler",
    "set_interrupt_message", "memory_estimate", "available_memory", "choose_tangent_solver",
    "choose_jacobian_block",
    "add_ev_measure_argument",
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
    g.add_argument("--params", metavar="FILE", default=None,
                   help="structural parameters Theta of an ek_* preset or a --data world "
                   "from FILE (column 'guess', published layout: a hat calibrate params.csv); "
                   "its sibling prices.csv, if any, gives the starting wages and beta")


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
    e.add_argument("--tangent-solver", dest="tangent_solver", choices=("auto", "lu", "gmres"),
                   default=None,
                   help="linear solver of the implicit-function systems behind the "
                   "Jacobian: lu (dense LU per country, fastest; memory grows as "
                   "(2 Nz Na)^2) or gmres (matrix-free, for large grids). Default: auto, "
                   "lu or gmres with a note when lu would not fit in the memory this "
                   "process may use (free memory, cgroup and ulimit -v limits)")


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
                   "data (docs/tasks/own-data.md)")
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


def add_ev_measure_argument(g) -> None:
    """``--ev-measure {transfer,proportional}`` (dest ev_measure, default transfer): the
    measure of the equivalent variation (:class:`hat_jax.welfare.EVOptions`)."""
    g.add_argument("--ev-measure", dest="ev_measure", choices=("transfer", "proportional"),
                   default="transfer",
                   help="EV measure: transfer (default; a permanent lump-sum transfer at "
                   "the old prices, well posed for every state) or proportional (income "
                   "scaled by lambda, the paper's tables; ill posed where net income <= 0, "
                   "those states flagged)")


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
class Setup(NamedTuple):
    """The preset's economy with the command-line overrides, and the EK world it was
    built from (None for presets not built from the Eaton-Kortum data)."""

    economy: Economy
    world: EKWorld | None


def _overrides(args: argparse.Namespace, accepts: frozenset) -> dict[str, Any]:
    """The factory keywords of the command line, checked against the preset's
    ``accepts`` (:attr:`hat_jax._preset_registry.Preset.accepts`)."""
    overrides: dict[str, Any] = {}
    for opt, kw in _ECONOMY_OPTIONS.items():
        value = getattr(args, opt)
        if value is None:
            continue
        if kw not in accepts:
            raise ValueError(f"preset {args.preset!r} does not take --{opt.replace('_', '-')}")
        overrides[kw] = value
    if args.data_dir is not None:
        if "data_dir" in accepts:
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
        world = _with_params(args, lambda **kw: tables_world(args, **overrides, **kw))
        if args.preset is None:
            args.preset = world.name
        return Setup(world.economy, world)
    if args.preset is None:
        raise ValueError("PRESET is required (unless --data DIR is given)")
    record = preset_record(args.preset)  # ValueError listing the presets
    overrides = _overrides(args, record.accepts)
    try:
        if record.from_data:
            world = _with_params(args, lambda **kw: ek_world(args.preset, **overrides, **kw))
            return Setup(world.economy, world)
        if getattr(args, "params", None) is not None:
            raise ValueError(f"--params sets the parameters Theta of an ek_* preset or a "
                             f"--data world; preset {args.preset!r} has none")
        return Setup(hat_jax.preset(args.preset, **overrides), None)
    except TypeError as exc:  # an override the factory cannot take
        raise ValueError(f"preset {args.preset!r}: {exc}") from exc


def _with_params(args: argparse.Namespace, build) -> EKWorld:
    """``build()``, or with ``--params FILE`` ``build(params=...)`` with the file's prices."""
    if getattr(args, "params", None) is None:
        return build()
    from ._params_file import read_params_file, with_params_prices

    params = read_params_file(args.params)
    try:
        world = build(params=params)
    except ValueError as exc:
        raise ValueError(f"--params {args.params}: {exc}") from None
    return with_params_prices(world, args.params)


def economy_from_args(args: argparse.Namespace) -> Economy:
    """The preset's economy with the command-line overrides (ValueError on bad input)."""
    return setup_from_args(args).economy


def options_from_args(args: argparse.Namespace) -> EquilibriumOptions:
    """Equilibrium options; ``--unknown`` defaults to the preset's (see SOLVE_DEFAULTS)."""
    if args.unknown is None:
        args.unknown = ("beta" if getattr(args, "data", None) is not None
                        else preset_record(args.preset).unknown)
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
        tangent_solver=getattr(args, "tangent_solver", None) or "auto",
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
    experiments' are ``baseline.opts``) and the start label (compile and run seconds of
    the solve: ``eq.stats``, :func:`solve_seconds`)."""

    baseline: Baseline
    world: EKWorld | None
    opts: EquilibriumOptions
    start: str

    @property
    def eq(self) -> Equilibrium:
        """The solved equilibrium (converged or not)."""
        return self.baseline.equilibrium

    @property
    def economy(self) -> Economy:
        """The economy as set up (beta the preset's)."""
        return self.baseline.equilibrium.economy


def solve_seconds(eq: Equilibrium) -> float:
    """Compile plus run seconds of a solve (``eq.stats``; 0 where it has none)."""
    stats = eq.stats or {}
    return stats.get("compile_s", 0.0) + stats.get("run_s", 0.0)


def solve_baseline(args: argparse.Namespace, setup: Setup | None = None) -> SolvedBaseline:
    """Solve the equilibrium of ``setup`` (built by :func:`setup_from_args`; built here
    when None) with the options of ``args``, progress on stderr unless ``args.quiet``.
    Does not raise when the solve fails to converge: check ``eq.converged`` (see
    :func:`report_not_converged`)."""
    economy, world = setup if setup is not None else setup_from_args(args)
    opts = options_from_args(args)
    opts = opts.replace(tangent_solver=choose_tangent_solver(
        economy, getattr(args, "tangent_solver", None), quiet=args.quiet))
    opts = opts.replace(jacobian_block=choose_jacobian_block(economy, opts.tangent_solver,
                                                             quiet=args.quiet))
    guess, start = starting_prices(args, economy, world, opts)
    progress = not args.quiet
    if progress:
        err(f"{args.preset}: N={economy.N}, Na={economy.Na}, regime {opts.regime}, "
            f"solving for {opts.unknown}" + ("" if world is None else f", {start} start"))
        err("compiling... (the first solve for given grid sizes compiles the solver, "
            "which can take a minute; later runs read it from the compilation cache)")
    # with opts.verbose, solve_equilibrium prints "compiled in N s; solving..." and one
    # line per Newton iteration
    eq = solve_equilibrium(economy, opts, guess, throw=False)
    if progress:
        err(f"done: compile {eq.stats['compile_s']:.2f} s, run {eq.stats['run_s']:.3f} s")
    return SolvedBaseline(Baseline.from_equilibrium(eq, opts), world, opts, start)


# ------------------------------------------------------------------------------ memory
def choose_tangent_solver(economy: Economy, requested: str | None, quiet: bool = False,
                          available: float | None = None) -> str:
    """The command line's face of :func:`hat_jax._memory.resolve_tangent_solver`: the
    option named as the flag (``--tangent-solver``), the note on stderr. ``requested``
    None means "auto"; ``available`` defaults to :func:`available_memory`."""
    available = available_memory() if available is None else available
    flag = {"tangent_solver='lu'": "--tangent-solver lu",
            "tangent_solver='gmres'": "--tangent-solver gmres", "smaller Na": "smaller --Na"}

    def as_flags(text: str) -> str:
        for lib, cli in flag.items():
            text = text.replace(lib, cli)
        return text

    try:
        return _noted(TangentSolverNote, quiet, as_flags, resolve_tangent_solver, economy,
                      requested or "auto", available=available)
    except ValueError as exc:
        raise ValueError(as_flags(str(exc))) from None


def _noted(category, quiet: bool, show, resolve, *args, **kwargs):
    """``resolve(*args, **kwargs)`` with its notes of ``category`` printed on stderr as
    ``note: ...`` (through ``show``) instead of Python warnings."""
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", category)
        out = resolve(*args, **kwargs)
    for note in notes:
        if issubclass(note.category, category) and not quiet:
            err(f"note: {show(str(note.message))}")
    return out


def choose_jacobian_block(economy: Economy, tangent_solver: str, quiet: bool = False,
                          available: float | None = None) -> int:
    """The command line's face of :func:`hat_jax._memory.resolve_jacobian_block`: the
    directions of an exact Jacobian pushed at once, its note on stderr."""
    return _noted(JacobianBlockNote, quiet, str, resolve_jacobian_block, economy,
                  tangent_solver, available=available)


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
    (signal.set_wakeup_fd) is read by a watcher thread (the Python-level handler does
    nothing: it runs on the main thread, which may itself hold the lock), which takes
    :func:`hat_jax._fileio.critical_section` (a commit of output files in progress is
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
        # The Python-level handler runs on the main thread, which may hold the
        # (re-entrant) critical section mid-commit: it must not exit there. It does
        # nothing; the C-level handler's wakeup byte reaches the watcher thread, which
        # waits for the critical section like any other thread (issue 26, B2).
        old_handler = signal.signal(signal.SIGINT, lambda signum, frame: None)
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
