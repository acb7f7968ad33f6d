"""``hat warmup``: fill the persistent compilation cache for a preset and grid (issue 30).

    hat warmup PRESET [--Na N] [--T T] [--commands solve,transition] [--json] [--quiet]

Runs the listed commands once, in this process, on the preset at ``--Na`` (``hat solve
PRESET``; ``hat transition PRESET --global-cut 0.1 --T T``), their output discarded, so
that every program they compile is in the cache (``HAT_JAX_CACHE_DIR``, see
:mod:`hat_jax._config`) for the jobs that follow: on a cluster, run it once per preset
and grid on a node of the kind the jobs use (compiled programs are specific to the
backend and the CPU or GPU model) into a cache folder they share. Reports, per command,
the wall time, the programs compiled and their compile seconds (jax.monitoring's
backend-compile events) and how many came from the cache.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

from hat_jax import transition as tn
from hat_jax._config import cache_dir

from ._common import EXIT_OK, err, print_result

__all__ = ["add_parser", "run", "compile_events", "WARMUP_COMMANDS"]

#: What ``--commands`` may list.
WARMUP_COMMANDS = ("solve", "transition")


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``hat warmup`` to the ``hat`` command's subparsers."""
    c = sub.add_parser(
        "warmup", help="fill the compilation cache for a preset and grid",
        description="Run hat solve and hat transition once on a preset and grid (output "
        "discarded) so that their compiled programs are in the persistent compilation "
        "cache (HAT_JAX_CACHE_DIR) for the jobs that follow. Exit codes: 0 done, 1 bad "
        "input, 2 a command did not converge.")
    c.add_argument("preset", help="the preset (as hat solve)")
    c.add_argument("--Na", type=int, default=None, help="asset grid points (default: the "
                   "preset's)")
    c.add_argument("--T", "--horizon", dest="T", type=int, default=tn.DEFAULT_HORIZON,
                   help=f"the transition horizon (default {tn.DEFAULT_HORIZON})")
    c.add_argument("--commands", default=",".join(WARMUP_COMMANDS),
                   help=f"comma-separated, of {', '.join(WARMUP_COMMANDS)} (default all)")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return c


@contextlib.contextmanager
def compile_events():
    """Collect jax.monitoring's backend-compile durations (seconds) and persistent-cache
    hits while the block runs: yields a dict with lists ``compile_s`` and a count
    ``cache_hits``."""
    import jax.monitoring as mon

    seen = {"compile_s": [], "cache_hits": 0}
    on = [True]

    def duration(event, secs, **kw):
        if on[0] and event.endswith("backend_compile_duration"):
            seen["compile_s"].append(float(secs))

    def count(event, **kw):
        if on[0] and event == "/jax/compilation_cache/cache_hits":
            seen["cache_hits"] += 1

    mon.register_event_duration_secs_listener(duration)
    mon.register_event_listener(count)
    try:
        yield seen
    finally:
        on[0] = False   # jax keeps listeners registered: silence them


def _argv(args, command) -> list[str]:
    grid = [] if args.Na is None else ["--Na", str(args.Na)]
    if command == "solve":
        return ["solve", args.preset, *grid, "--quiet"]
    return ["transition", args.preset, *grid, "--global-cut", "0.1", "--T", str(args.T),
            "--quiet"]


def run(args: argparse.Namespace) -> int:
    """Run ``hat warmup``; returns the exit code (ValueError: bad input)."""
    from . import main

    todo = [c.strip() for c in args.commands.split(",") if c.strip()]
    bad = [c for c in todo if c not in WARMUP_COMMANDS]
    if bad or not todo:
        raise ValueError(f"--commands must list some of {', '.join(WARMUP_COMMANDS)}, got "
                         f"{args.commands!r}")
    tn.check_horizon(args.T)
    if args.Na is not None and args.Na < 2:
        raise ValueError(f"--Na must be an integer >= 2, got {args.Na}")
    steps, rc = [], EXIT_OK
    for command in todo:
        if not args.quiet:
            err(f"warmup: hat {' '.join(_argv(args, command))}...")
        t0 = time.perf_counter()
        with compile_events() as seen, contextlib.redirect_stdout(io.StringIO()):
            code = main(_argv(args, command))
        rc = max(rc, code)
        steps.append({"command": command, "argv": _argv(args, command), "exit": code,
                      "wall_s": time.perf_counter() - t0,
                      "programs_compiled": len(seen["compile_s"]),
                      "compile_s": sum(seen["compile_s"]),
                      "cache_hits": seen["cache_hits"]})
    cache = cache_dir()
    result = {"preset": args.preset, "Na": args.Na, "T": args.T,
              "cache_dir": None if cache is None else str(cache), "steps": steps}
    print_result(args, result, lambda: _format(result))
    return rc


def _format(result) -> str:
    lines = [f"hat warmup {result['preset']}: compilation cache "
             f"{result['cache_dir'] or '(off: HAT_JAX_CACHE=0)'}"]
    for s in result["steps"]:
        lines.append(f"  {' '.join(s['argv'])}: {s['wall_s']:.1f} s, "
                     f"{s['programs_compiled']} programs compiled ({s['compile_s']:.1f} s), "
                     f"{s['cache_hits']} from the cache, exit {s['exit']}")
    return "\n".join(lines)
