"""Linear algebra by backend (private).

On the CPU the per-country dense factorisations of the implicit-function tangents run
one country after another (``lax.map``): batched LAPACK kernels inside nested solves
under jvp once deadlocked XLA's CPU thread pool on a 2-core machine (see
hat_jax._config), and on a CPU a batched factorisation is no faster than a loop.
On an accelerator the countries (and, under ``vmap``, the scenarios) are factorised
as one batch (``vmap``): batched cuBLAS / cuSOLVER kernels keep the device busy.
"""

from __future__ import annotations

import jax
from jax import lax

from ._results import check_choice

__all__: list[str] = []

#: How a batch of independent problems (scenarios) is iterated: ``"vmap"`` in lock step
#: (accelerators), ``"map"`` one after another inside one program (the CPU), ``"auto"``
#: by backend (see :mod:`hat_jax._batched`).
STRATEGIES = ("auto", "vmap", "map")


def sequential_linalg() -> bool:
    """Whether per-country factorisations run one after another (the CPU backend)."""
    return jax.default_backend() == "cpu"


def country_map(f, xs):
    """``f`` over the leading (country) axis of ``xs``: ``lax.map`` on the CPU, ``vmap``
    on an accelerator (see the module docstring)."""
    return lax.map(f, xs) if sequential_linalg() else jax.vmap(f)(xs)


def resolve_strategy(strategy: str) -> str:
    """``"vmap"`` or ``"map"`` for a requested strategy (``"auto"``: ``"map"`` on the
    CPU, ``"vmap"`` on an accelerator); ValueError naming any other value."""
    check_choice("strategy", strategy, STRATEGIES)
    if strategy == "auto":
        return "map" if sequential_linalg() else "vmap"
    return strategy
