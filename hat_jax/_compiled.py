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

from hat_jax import _memory_maps

__all__ = ["compiled", "compile_and_run", "timed_run", "clear", "unplaced"]

_CACHE: "OrderedDict[tuple, object]" = OrderedDict()
_MAX_ENTRIES = 64


def _aval(x):
    """(shape, dtype, weak type) of an argument leaf (arrays, Python scalars,
    ShapeDtypeStruct)."""
    dtype = getattr(x, "dtype", None)
    dtype = np.result_type(x) if dtype is None else dtype
    weak = getattr(x, "weak_type", isinstance(x, (bool, int, float, complex)))
    return np.shape(x), str(dtype), bool(weak)


def _unplaced(x):
    """A leaf to lower from: an array or ShapeDtypeStruct placed on the default device
    alone becomes a ShapeDtypeStruct without a placement (shape, dtype, weak type);
    anything else (NumPy arrays, Python scalars, another device, shardings over several
    devices) is kept.

    Written by hand because jit lowers a committed array's (or an executable's
    ``out_info``) single-device sharding into the program's text (``sdy.sharding``
    attributes on its arguments): the same computation then has two programs, one for
    placed and one for unplaced inputs, each compiled and stored in the persistent cache
    under its own key (the optimal tariff's Jacobian program was compiled twice in one
    test, 86 s each), and an executable lowered from placed inputs commits its outputs,
    which spreads the placement to every program they are passed to. Lowered from
    unplaced inputs, the executable takes placed and unplaced arrays alike and returns
    unplaced ones."""
    sharding = getattr(x, "sharding", None)
    if sharding is None or isinstance(x, jax.core.Tracer) \
            or sharding.device_set != {jax.devices()[0]}:  # elsewhere: placed on purpose
        return x
    return jax.ShapeDtypeStruct(np.shape(x), x.dtype, weak_type=bool(getattr(x, "weak_type",
                                                                             False)))


def unplaced(tree):
    """``tree`` with every array leaf placed on the default device alone replaced by an
    unplaced ShapeDtypeStruct (:func:`_unplaced`): what :func:`compiled` lowers from."""
    return jax.tree_util.tree_map(_unplaced, tree)


def _signature(tree):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple(_aval(x) for x in leaves)


def compiled(jitted, args: tuple, kwargs: dict | None = None, static: dict | None = None):
    """The compiled executable of ``jitted(*args, **kwargs, **static)``.

    ``args`` / ``kwargs`` are the dynamic arguments (only their structure, shapes and
    dtypes enter the key); ``static`` are the jit's static arguments (hashable). The
    executable is called with the dynamic arguments only (callers that report a
    compile time measure this call: about 0 when cached).
    """
    kwargs = {} if kwargs is None else kwargs
    static = {} if static is None else static
    key = (jitted, tuple(sorted(static.items())), _signature((args, kwargs)))
    exe = _CACHE.get(key)
    if exe is None:
        # A long-lived process may be near the kernel's cap on memory mappings, past
        # which XLA's compiler crashes: release the loaded programs first.
        _memory_maps.release_if_crowded()
        exe = jitted.lower(*unplaced(args), **unplaced(kwargs), **static).compile()
        _CACHE[key] = exe
        while len(_CACHE) > _MAX_ENTRIES:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return exe


def timed_run(jitted, args: tuple):
    """(``jitted(*args)`` through :func:`compiled`, blocked until ready; its stats
    ``{"compile_s", "run_s"}``): the timings a result's ``stats`` carries."""
    t0 = time.perf_counter()
    exe = compiled(jitted, args)
    t1 = time.perf_counter()
    out = jax.block_until_ready(exe(*args))
    return out, {"compile_s": t1 - t0, "run_s": time.perf_counter() - t1}


def compile_and_run(jitted, args: tuple):
    """``jitted(*args)`` through :func:`compiled`, blocked until ready (see
    :func:`timed_run` for its timings)."""
    return timed_run(jitted, args)[0]


def clear() -> None:
    """Forget every in-process executable (the persistent cache is untouched)."""
    _CACHE.clear()


_memory_maps.on_release(clear)
