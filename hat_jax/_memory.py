"""The memory model of a solve: which tangent solver fits this machine.

The household and distribution implicit-function systems are solved either with dense
LU factors per country ("lu": fast, (2 Nz Na)^2 float64 numbers per matrix) or
matrix-free with GMRES ("gmres": linear in Na). ``tangent_solver="auto"`` (the default
of :class:`~hat_jax.EquilibriumOptions`) picks "lu" when its estimated peak fits in the
memory this process may still use, else "gmres" with a :class:`TangentSolverNote`.
"""

from __future__ import annotations

import resource
import warnings

import numpy as np

__all__ = ["TANGENT_SOLVERS", "JacobianBlockNote", "TangentSolverNote", "available_memory",
           "check_jacobian_block", "jacobian_direction_bytes", "memory_estimate",
           "resolve_jacobian_block", "resolve_tangent_solver"]

#: the accepted values of ``tangent_solver``
TANGENT_SOLVERS = ("auto", "lu", "gmres")

#: Peak resident memory of a solve, measured with /usr/bin/time -v (hat solve two_country,
#: tangent_solver lu, CPU): Na = 100, 200, 400 -> 0.89, 1.20, 2.52 GB, i.e. about 0.76 GB
#: (the runtime and the compiler) plus 1.725 dense (2 Nz Na)^2 float64 matrices per
#: country (the household tangent matrix, I - K, its LU, the distribution's (Nz Na)^2
#: matrices; the factors of every country are kept for the Jacobian's directions; the
#: synthetic N = 40 world at Na = 100 with 4 directions at once: 3.6 GB, of which the
#: directions about 0.7). GMRES needs no dense matrix: 4.7 GB measured at Na = 2000
#: (issue 17), i.e. the base plus about 6000 state vectors per country.
MEMORY_BASE_BYTES = 0.76e9
MEMORY_LU_MATRICES_PER_COUNTRY = 1.725
MEMORY_GMRES_VECTORS = 6000
#: Memory of one direction of an exact equilibrium Jacobian, in float64 numbers per
#: (exporter, importer, household state): each country's tangent of its purchases from
#: every country, state by state. Measured on the synthetic N = 40 world at Na = 100
#: (benchmarks/scale_n.py's): the Jacobian's peak 9.63 GB with all 40 directions at
#: once, 3.60 GB with 4 (the same numbers), i.e. 0.167 GB, 13.1 numbers, per direction.
JACOBIAN_DIRECTION_NUMBERS = 14.0
#: The share of the available memory the Jacobian's directions and the solve's other
#: memory may take together (the rest: XLA's temporaries the model does not count).
JACOBIAN_MEMORY_SHARE = 0.7


class TangentSolverNote(UserWarning):
    """``tangent_solver="auto"`` chose the matrix-free solver: "lu" would not fit."""


class JacobianBlockNote(UserWarning):
    """``jacobian_block="auto"`` pushes the Jacobian's directions in blocks: all of them
    at once would not fit."""


def memory_estimate(economy, tangent_solver: str = "lu") -> float:
    """Estimated peak memory (bytes) of solving ``economy``'s equilibrium on the CPU,
    besides the Jacobian's directions (:func:`jacobian_direction_bytes`): base + 1.725
    * 8 (2 Nz Na)^2 N with "lu", base + 6000 * 8 (2 Nz Na) N with "gmres"."""
    n = 2 * economy.Nz * economy.Na  # household state size of one country
    if tangent_solver == "lu":
        return MEMORY_BASE_BYTES + MEMORY_LU_MATRICES_PER_COUNTRY * 8.0 * n * n * economy.N
    return MEMORY_BASE_BYTES + MEMORY_GMRES_VECTORS * 8.0 * n * economy.N


def _meminfo_available() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_left() -> list[float]:
    left = []
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit) as f:
                lim = f.read().strip()
            with open(usage) as f:
                used = float(f.read().strip())
            if lim != "max" and float(lim) < 2**60:
                left.append(float(lim) - used)
        except (OSError, ValueError):
            continue
    return left


def _address_space_left() -> float | None:
    """What the process's own RLIMIT_AS (``ulimit -v``) leaves of its address space."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return float(soft) - float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return float(soft)


def available_memory() -> float | None:
    """Memory this process can still use (bytes): the smallest of MemAvailable
    (/proc/meminfo), what a cgroup limit leaves and what the process's address-space
    limit (RLIMIT_AS) leaves; None where none is known."""
    found = [v for v in (_meminfo_available(), _address_space_left()) if v is not None]
    found += _cgroup_left()
    return min(found) if found else None


def resolve_tangent_solver(economy, requested: str = "auto",
                           available: float | None = None) -> str:
    """The tangent solver for a solve of ``economy``: ``requested`` ("lu" or "gmres")
    as given, or for "auto" "lu" when its :func:`memory_estimate` is at most 90% of
    ``available`` bytes (default :func:`available_memory`; "lu" when unknown), else
    "gmres" with a :class:`TangentSolverNote`. Raises ValueError, before anything is
    compiled, when "lu" was requested and does not fit."""
    if requested not in TANGENT_SOLVERS:
        raise ValueError(f"tangent_solver must be one of {TANGENT_SOLVERS}, got "
                         f"tangent_solver={requested!r}")
    if requested == "gmres":
        return "gmres"
    available = available_memory() if available is None else available
    if available is None:
        return "lu"
    need = memory_estimate(economy, "lu")
    if need <= 0.9 * available:
        return "lu"
    what = (f"the dense tangent solver (lu) needs about {need / 1e9:.1f} GB at "
            f"Na={economy.Na} (Nz={economy.Nz}), more than the {available / 1e9:.1f} GB "
            "this process can use")
    if requested == "lu":
        raise ValueError(f"tangent_solver='lu': {what}; use tangent_solver='gmres' "
                         f"(matrix-free, about {memory_estimate(economy, 'gmres') / 1e9:.1f}"
                         " GB) or a smaller Na")
    warnings.warn(f"{what}; using tangent_solver='gmres' (matrix-free, slower per "
                  "Jacobian)", TangentSolverNote, stacklevel=3)
    return "gmres"


def check_jacobian_block(block) -> None:
    """ValueError naming ``jacobian_block`` unless it is "auto" or an integer >= 1."""
    ok = block == "auto" or (isinstance(block, (int, np.integer)) and not isinstance(
        block, bool) and block >= 1)
    if not ok:
        raise ValueError(f"jacobian_block must be 'auto' or an integer >= 1, got "
                         f"jacobian_block={block!r}")


def jacobian_direction_bytes(economy) -> float:
    """Estimated memory (bytes) of one direction of an exact equilibrium Jacobian
    pushed through the world with the others (vmapped): 14 float64 numbers per
    household state (Nz Na) and pair of countries (N^2)."""
    return JACOBIAN_DIRECTION_NUMBERS * 8.0 * economy.N ** 2 * economy.Nz * economy.Na


def equal_blocks(n: int, block: int) -> tuple[int, int]:
    """(m, b): the fewest blocks of at most ``block`` of n directions, m = ceil(n /
    block), made equal, b = ceil(n / m) (m b - n < m directions of padding). Blocks of
    unequal size cost more: ``lax.map``'s block-and-remainder split keeps the two
    bodies' temporaries apart (:func:`hat_jax._newton.value_and_jacobian`)."""
    m = -(-n // block)
    return m, -(-n // m)


def resolve_jacobian_block(economy, tangent_solver: str = "lu",
                           available: float | None = None, directions: int | None = None
                           ) -> int:
    """How many of the n directions of an exact Jacobian (default n = N, the unknowns;
    ``directions`` for another count, e.g. the calibration's N + K) are pushed at once:
    all n where their :func:`jacobian_direction_bytes` and the solve's
    :func:`memory_estimate` fit in 70% of ``available`` bytes (default
    :func:`available_memory`; all when unknown), else the size of the fewest equal
    blocks that fit (at least 1; the blocks :func:`hat_jax._newton.value_and_jacobian`
    runs), with a :class:`JacobianBlockNote`."""
    n = economy.N if directions is None else int(directions)
    available = available_memory() if available is None else available
    if available is None:
        return n
    room = JACOBIAN_MEMORY_SHARE * available - memory_estimate(economy, tangent_solver)
    per = jacobian_direction_bytes(economy)
    if n * per <= room:
        return n
    _, block = equal_blocks(n, int(max(1, min(n - 1, room // per))))  # 74 of 121 -> 61
    what = (f"the {n} x {n} equilibrium Jacobian" if directions is None
            else f"a Jacobian of {n} directions through the equilibrium")
    warnings.warn(f"{what} needs about {n * per / 1e9:.1f} GB "
                  f"with all {n} directions at once, more than the "
                  f"{max(room, 0.0) / 1e9:.1f} GB left of what this process can use; "
                  f"pushing them {block} at a time (jacobian_block={block}: a little "
                  "slower, the same numbers)", JacobianBlockNote, stacklevel=3)
    return block
