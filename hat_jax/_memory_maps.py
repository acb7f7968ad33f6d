"""A guard against running out of memory mappings in a long-lived process (private).

Each program XLA:CPU compiles and keeps loaded holds a few memory mappings of its own
(its code and data sections: about 3 for a small program, more for a large one), and
they stay until the executable is released. Linux caps the mappings of one process at
``vm.max_map_count`` (65,530 by default). A process that compiles thousands of
programs (a notebook session, a test worker, a long sweep of differently shaped
problems) reaches the cap, and then LLVM's next allocation fails inside the compiler:
the process dies of a segmentation fault in ``backend_compile_and_load`` or in
``executable.serialize()``, with no Python error (seen in this project's CI workers:
41,000 mappings two-thirds into the quick tier).

:func:`release_if_crowded` counts the process's mappings and, above a share of the cap,
drops every in-process executable (``jax.clear_caches()`` and the caches registered
with :func:`on_release`, such as :func:`hat_jax._compiled.clear`) so that the next
program compiles into a process with room. The persistent compilation cache is
untouched, so a dropped program comes back as a disk read. Nothing in JAX does this (it has no limit on its in-memory caches), hence by hand.
"""

from __future__ import annotations

import gc
import os
import warnings
from pathlib import Path

__all__ = ["mapping_count", "mapping_limit", "on_release", "release_if_crowded"]

_DEFAULT_LIMIT = 65_530
_SHARE = 0.5  # release at half the cap: one large compilation must still fit after it
_RELEASERS: list = []  # the library's own caches of executables (no import cycle)


def on_release(clear) -> None:
    """Register ``clear()``, called when the executables are released (a cache of
    compiled programs that ``jax.clear_caches()`` does not reach)."""
    _RELEASERS.append(clear)


def mapping_count() -> int | None:
    """The number of memory mappings of this process (None where /proc is absent)."""
    try:
        with open(f"/proc/{os.getpid()}/maps", "rb") as maps:
            return sum(1 for _ in maps)
    except OSError:
        return None


def mapping_limit() -> int:
    """The kernel's cap on one process's mappings (``vm.max_map_count``)."""
    try:
        return int(Path("/proc/sys/vm/max_map_count").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_LIMIT


def release_if_crowded(share: float = _SHARE, *, warn: bool = True) -> bool:
    """Drop the in-process executables if the mappings exceed ``share`` of the cap.

    Returns True when it released them. With ``warn`` a ``RuntimeWarning`` says so (the
    next call of each program is slower: it is traced again and read from the
    persistent cache).
    """
    count = mapping_count()
    if count is None or count <= share * mapping_limit():
        return False
    import jax

    for clear in _RELEASERS:
        clear()
    jax.clear_caches()
    gc.collect()
    if warn:
        after = mapping_count()
        warnings.warn(
            f"hat_jax: this process held {count} memory mappings of the kernel's "
            f"vm.max_map_count = {mapping_limit()} (one set per compiled program); "
            f"the in-process compiled programs were released ({after} mappings now) "
            "so that XLA does not crash on the next compilation. Programs are "
            "recompiled (or read from the persistent cache) on their next call.",
            RuntimeWarning,
            stacklevel=2,
        )
    return True
