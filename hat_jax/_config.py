"""Process-wide JAX settings made when ``hat_jax`` is imported (private).

* ``jax_enable_x64``: float64 everywhere (the solver's 1e-10 tolerances are out of reach
  in float32).
* ``--xla_cpu_multi_thread_eigen=false`` in ``XLA_FLAGS`` (unless XLA_FLAGS already sets
  it, or ``HAT_JAX_CPU_MULTITHREAD=1``, or ``JAX_PLATFORMS`` leaves the CPU out): XLA's
  multi-threaded Eigen pool on the CPU deadlocked on this library's nested while loops
  under jvp/vmap (re-measured with jaxlib 0.10.2 for issue 13: no hang in 3 + 3 runs
  with and without it, no consistent speed difference; kept for the CPU). Only effective if no
  JAX computation ran before the import; a warning says so otherwise.
* Faster compilation on the CPU: ``--xla_backend_optimization_level=1`` in ``XLA_FLAGS``
  (unless XLA_FLAGS sets it, a GPU plugin is installed or ``HAT_JAX_FAST_COMPILE=0``;
  only with the jaxlib releases it was measured on): LLVM at -O1 compiles about a
  quarter faster, and the programs measured ran as fast or faster
  (docs/performance.md#compile-time).
* The persistent compilation cache: compiled programs are stored on disk and reused by
  later processes (a second ``hat`` command or notebook kernel does not recompile).
  Directory: ``$HAT_JAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/hat_jax/jax-cache``, else
  ``~/.cache/hat_jax/jax-cache``. ``HAT_JAX_CACHE=0`` turns it off; a cache directory
  the user set for JAX itself (``JAX_COMPILATION_CACHE_DIR`` or
  ``jax.config.update("jax_compilation_cache_dir", ...)`` before the import) is left
  alone. The chosen directory is exported as ``HAT_JAX_CACHE_DIR`` so that subprocesses
  and notebook kernels share it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

__all__: list[str] = []

_OFF = ("0", "false", "no", "off")


def _cpu_in_platforms() -> bool:
    """Whether JAX may start its CPU backend (JAX_PLATFORMS unset or naming cpu)."""
    platforms = os.environ.get("JAX_PLATFORMS", "").lower()
    return not platforms or "cpu" in platforms.split(",")


def configure_xla_cpu() -> None:
    if os.environ.get("HAT_JAX_CPU_MULTITHREAD", "0") == "1":
        return
    if not _cpu_in_platforms():  # the flag is for the CPU backend
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" in flags:
        return
    os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
    try:  # the flag is read when the CPU backend starts
        from jax._src import xla_bridge

        started = bool(getattr(xla_bridge, "_backends", {}))
    except Exception:  # pragma: no cover - private API moved
        started = False
    if started:
        warnings.warn(
            "hat_jax was imported after JAX started its CPU backend, so XLA_FLAGS="
            "--xla_cpu_multi_thread_eigen=false could not take effect; set it in the "
            "environment to avoid rare deadlocks of nested solves on the CPU",
            RuntimeWarning, stacklevel=4)


# An XLA option that shortens compilation on the CPU (measured with jaxlib 0.10.2 on 2
# cores, 2026-12-07, docs/performance.md#compile-time): LLVM at -O1 instead of -O2
# compiles a quarter faster, and a cached ek_baseline solve ran 6.65 and 6.68 s against
# 7.63 and 7.93 s at -O2 (alternating runs). HAT_JAX_FAST_COMPILE=0 keeps XLA's
# defaults. XLA aborts the process on a flag it does not know, so it is set only for the
# jaxlib releases it was measured with; it is a backend-wide option, so it is left alone
# wherever a GPU plugin is installed (it would also lower the GPU kernels'
# optimisation). Not used: --xla_cpu_use_fusion_emitters=false, whose legacy emitters
# changed numbers (a gamma = 50 household problem stopped converging), and
# --xla_backend_optimization_level=0 (programs three times slower).
_COMPILE_FLAGS = {"xla_backend_optimization_level": "1"}
_COMPILE_FLAGS_JAXLIB = ("0.10.",)
_GPU_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin",
                "jax_rocm7_plugin")


def compile_flags() -> dict[str, str]:
    """The XLA flags :func:`configure_xla_compile` adds to ``XLA_FLAGS`` in this
    installation: empty under ``HAT_JAX_FAST_COMPILE=0`` (or false, no, off), where a
    GPU plugin is installed, and with a jaxlib release they were not measured on."""
    import importlib.util

    import jaxlib

    if os.environ.get("HAT_JAX_FAST_COMPILE", "1").strip().lower() in _OFF:
        return {}
    if not jaxlib.__version__.startswith(_COMPILE_FLAGS_JAXLIB):
        return {}
    if any(importlib.util.find_spec(name) is not None for name in _GPU_PLUGINS):
        return {}
    return dict(_COMPILE_FLAGS)


def configure_xla_compile() -> None:
    """Add :func:`compile_flags` to ``XLA_FLAGS``, each unless ``XLA_FLAGS`` sets it."""
    if not _cpu_in_platforms():
        return
    flags = os.environ.get("XLA_FLAGS", "")
    extra = [f"--{name}={value}" for name, value in compile_flags().items()
             if name not in flags]
    if extra:
        os.environ["XLA_FLAGS"] = " ".join([flags, *extra]).strip()


def default_cache_dir() -> Path:
    """Where compiled programs are stored unless HAT_JAX_CACHE_DIR says otherwise."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hat_jax" / "jax-cache"


def configure_cache() -> Path | None:
    """Turn on JAX's persistent compilation cache (see the module docstring); returns
    the directory, or None when the cache is off or the user configured JAX's own."""
    import jax

    if os.environ.get("HAT_JAX_CACHE", "1").strip().lower() in _OFF:
        return None
    if jax.config.jax_compilation_cache_dir:  # the user's own JAX setting wins
        return Path(jax.config.jax_compilation_cache_dir)
    path = Path(os.environ.get("HAT_JAX_CACHE_DIR") or default_cache_dir()).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        warnings.warn(f"hat_jax: compilation cache directory {str(path)!r} is not usable "
                      f"({exc}); compiling without a persistent cache", RuntimeWarning,
                      stacklevel=4)
        return None
    os.environ["HAT_JAX_CACHE_DIR"] = str(path)
    jax.config.update("jax_compilation_cache_dir", str(path))
    # store every program: the library's programs take seconds to compile, and the
    # small ones are cheap to store
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path


def cache_dir() -> Path | None:
    """The persistent compilation cache directory in use, or None if the cache is off."""
    import jax

    d = jax.config.jax_compilation_cache_dir
    return Path(d) if d else None


def configure() -> None:
    configure_xla_cpu()
    configure_xla_compile()
    import jax

    jax.config.update("jax_enable_x64", True)
    configure_cache()
