"""One in-process cache of ahead-of-time compiled programs (private).

``jax.jit`` already caches by shapes, but the library's entry points compile ahead of
time (``lower(...).compile()``) so that compile and run time are measured apart. This
module keeps those executables, keyed by the jitted function, its static arguments and
the tree structure, shapes and dtypes of its dynamic arguments (numeric options are
dynamic leaves, so a new tolerance reuses the program). Across processes the
persistent compilation cache (:mod:`hat_jax._config`) makes ``compile()`` a disk read.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import jax
import numpy as np

__all__ = ["compiled", "compile_and_run", "clear"]

_CACHE: "OrderedDict[tuple, object]" = OrderedDict()
_MAX_ENTRIES = 64


def _aval(x):
    """(shape, dtype, weak type) of an argument leaf (arrays, Python scalars,
    ShapeDtypeStruct)."""
    dtype = getattr(x, "dtype", None)
    dtype = np.result_type(x) if dtype is None else dtype
    weak = getattr(x, "weak_type", isinstance(x, (bool, int, float, complex)))
    return np.shape(x), str(dtype), bool(weak)


def _signature(tree):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple(_aval(x) for x in leaves)


def compiled(jitted, args: tuple, kwargs: dict | None = None, static: dict | None = None,
             timings: dict | None = None):
    """The compiled executable of ``jitted(*args, **kwargs, **static)``.

    ``args`` / ``kwargs`` are the dynamic arguments (only their structure, shapes and
    dtypes enter the key); ``static`` are the jit's static arguments (hashable). If
    ``timings`` is a dict, ``compile_s`` is written into it (about 0 when cached).
    The executable is called with the dynamic arguments only.
    """
    kwargs = {} if kwargs is None else kwargs
    static = {} if static is None else static
    key = (jitted, tuple(sorted(static.items())), _signature((args, kwargs)))
    t0 = time.perf_counter()
    exe = _CACHE.get(key)
    if exe is None:
        exe = jitted.lower(*args, **kwargs, **static).compile()
        _CACHE[key] = exe
        while len(_CACHE) > _MAX_ENTRIES:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    if timings is not None:
        timings["compile_s"] = time.perf_counter() - t0
    return exe


def compile_and_run(jitted, args: tuple, timings: dict | None = None):
    """``jitted(*args)`` through :func:`compiled`, blocked until ready; if ``timings`` is
    a dict, ``compile_s`` and ``run_s`` are written into it."""
    t: dict = {}
    exe = compiled(jitted, args, timings=t)
    t0 = time.perf_counter()
    out = jax.block_until_ready(exe(*args))
    t["run_s"] = time.perf_counter() - t0
    if timings is not None:
        timings.update(t)
    return out


def clear() -> None:
    """Forget every in-process executable (the persistent cache is untouched)."""
    _CACHE.clear()
