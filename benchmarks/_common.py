"""Shared harness for the benchmark scripts in this folder.

Every benchmark script builds a list of *records*, one per timed computation::

    {"name": str, "compile_s": float, "median_s": float, "runs": int, ...extras}

``compile_s`` is the time to lower and compile (XLA) the jitted function, measured on its
own; ``median_s`` is the median wall time of ``runs`` warm calls, each ending with
``jax.block_until_ready`` (one untimed warm-up call precedes them). Extras are optional
(``min_s``, ``iterations``, ``N``, ``Na``, ``device``, ``load1``, ...).

A script calls :func:`main` with a function ``records_fn(args) -> list[dict]``; ``main``
provides the command-line contract shared by every script:

    python benchmarks/<script>.py              # a table (pandas) on stdout
    python benchmarks/<script>.py --json       # only a JSON list of records on stdout
    python benchmarks/<script>.py --runs 10    # timed warm runs per record (median)
    python benchmarks/<script>.py --out f.json # also write the JSON list to a file

Progress messages go to stderr (use :func:`log`), so ``--json`` output can be piped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import jax

REQUIRED_FIELDS = ("name", "compile_s", "median_s", "runs")


def log(*parts) -> None:
    """Print a progress message to stderr (stdout is reserved for the table / JSON)."""
    print(*parts, file=sys.stderr, flush=True)


def device_description() -> str:
    """Backend and device kind of JAX's default device, e.g. 'cpu:cpu' or 'gpu:NVIDIA H100'."""
    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', d.platform)}"


def compile_timed(fn: Callable, *args, compile: Callable[[], Callable] | None = None):
    """Compile ``fn`` for ``args`` and return ``(callable, compile_s)``.

    Default: ``jax.jit(fn)`` (or ``fn`` itself if it is already jitted), then
    ``.lower(*args).compile()``; the returned callable is the compiled executable.
    For functions with static arguments pass ``compile``: a zero-argument callable that
    compiles and returns the callable to run with ``*args`` (e.g.
    ``lambda: jitted.lower(*args, opts=opts).compile()``); its wall time is ``compile_s``.
    """
    t0 = time.perf_counter()
    if compile is None:
        jitted = fn if hasattr(fn, "lower") else jax.jit(fn)
        call = jitted.lower(*args).compile()
    else:
        call = compile()
        if call is None:
            call = fn
    return call, time.perf_counter() - t0


def time_runs(call: Callable, *args, runs: int = 5, warmup: int = 1):
    """Time ``runs`` calls of ``call(*args)`` (each blocked until ready) after ``warmup``
    untimed calls. Returns ``(output of the last call, {"median_s", "min_s", "runs"})``."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got runs={runs}")
    out = None
    for _ in range(warmup):
        out = jax.block_until_ready(call(*args))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = jax.block_until_ready(call(*args))
        times.append(time.perf_counter() - t0)
    return out, {"median_s": statistics.median(times), "min_s": min(times), "runs": runs}


def time_fn(name: str, fn: Callable, *args, runs: int = 5, compile=None, warmup: int = 1,
            info: Callable[[Any], dict] | None = None, **extra) -> dict:
    """Compile ``fn`` for ``args`` (timed separately) and time ``runs`` warm calls.

    fn: a function (jitted here) or an already jitted function; see :func:`compile_timed`
      for ``compile`` (functions with static arguments).
    info: optional ``info(output) -> dict`` of extra fields computed from the output of
      the last run (iteration counts, residuals; also a place to assert convergence or
      keep the output for a later benchmark).
    extra: constant fields added to the record (N, Na, method, ...).

    Returns the record ``{name, compile_s, median_s, min_s, runs, ...}``.
    """
    call, compile_s = compile_timed(fn, *args, compile=compile)
    out, stats = time_runs(call, *args, runs=runs, warmup=warmup)
    record = {"name": name, "compile_s": compile_s, **stats}
    if info is not None:
        record.update(info(out))
    return stamp(record, **extra)


def stamp(record: dict, **extra) -> dict:
    """``record`` with ``extra`` fields, the device and the 1-minute load average after
    the runs (timings on a shared machine are only comparable when it is below the
    number of cores) added in place; returns it."""
    record.update(extra)
    record.setdefault("device", device_description())
    record.setdefault("load1", round(os.getloadavg()[0], 2))
    return record


def _jsonable(x):
    if hasattr(x, "item"):  # numpy / jax scalars
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON serializable: {type(x).__name__}")


def to_json(records: list[dict]) -> str:
    return json.dumps(records, indent=1, default=_jsonable)


def print_table(records: list[dict], file=None) -> None:
    import pandas as pd

    df = pd.DataFrame(records)
    first = [c for c in ("name", "compile_s", "median_s", "min_s", "runs") if c in df]
    df = df[first + [c for c in df.columns if c not in first]]
    with pd.option_context("display.max_columns", None, "display.width", 200,
                           "display.max_colwidth", 60):
        print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=file)


def main(records_fn: Callable[[argparse.Namespace], list[dict]], description: str | None = None,
         add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
         default_runs: int = 5, argv=None) -> list[dict]:
    """Command-line entry point shared by every benchmark script (see module docstring).

    records_fn(args) returns the list of records; ``args.runs`` holds ``--runs``.
    add_arguments(parser) adds script-specific options.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", action="store_true",
                        help="print only a JSON list of records on stdout")
    parser.add_argument("--runs", type=int, default=default_runs,
                        help=f"timed warm runs per benchmark (median reported; default {default_runs})")
    parser.add_argument("--out", type=Path, default=None,
                        help="also write the JSON list of records to this file")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)

    log(f"jax {jax.__version__} on {device_description()}, python {platform.python_version()}, "
        f"x64={jax.config.jax_enable_x64}, {os.cpu_count()} cpus, "
        f"load average {os.getloadavg()[0]:.2f}")
    # Under --json anything printed by the benchmarks themselves goes to stderr.
    redirect = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    with redirect:
        records = records_fn(args)
    for r in records:
        missing = [k for k in REQUIRED_FIELDS if k not in r]
        if missing:
            raise RuntimeError(f"benchmark record {r.get('name')!r} lacks fields {missing}")

    text = to_json(records)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        log(f"wrote {args.out}")
    if args.json:
        print(text)
    else:
        print_table(records)
    return records


def load_ek_world(preset: str, data_dir, Na: int):
    """``hat_jax.ek_world(preset, data_dir, Na=Na)`` without the data loader's documented
    DataWarning (Germany's labour force), for the benchmarks on the 19-country world."""
    import warnings

    from hat_jax.data import DataWarning
    from hat_jax import ek_world

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return ek_world(preset, data_dir, Na=Na)
