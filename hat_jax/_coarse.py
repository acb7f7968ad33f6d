"""A coarse-grid start for the cold solve of a large world (issue 29, item 2).

From the default guess (W = 1, R = 1, the cold household start) Newton needs several
exact N x N Jacobians on the way to the root, and at large N each costs as much as
about ten evaluations of the excess demands (N = 80 at Na = 100: 118-134 s against
13.5 s). The
same economy on a coarse asset grid has nearly the same prices and Jacobian at a small
fraction of the cost, so :func:`coarse_start` solves it first and starts the given grid
from its prices, rebates and Newton Jacobian (kept, with secant updates, while its steps
deliver; an exact one only where they stop): a standard grid continuation. The result
is the given grid's root to the same tolerance; only the way there changes. Measured
(benchmarks/scale_n.py, synthetic N = 80, Na = 100, quiet): the cold solve 190 s
against 537 s without the stage; from the coarse prices alone (an exact Jacobian of the
given grid at its start) 337 s, in as many steps (8). The price: the baseline's
Jacobian is then the coarse one with secant updates, and a counterfactual from it
computed one exact Jacobian of its own (217 s against 55 s from the cold solve's
Jacobian); a sweep computes the exact baseline Jacobian once anyway, and
``coarse_grid=0`` keeps the cold path.

``EquilibriumOptions.coarse_grid`` decides: "auto" (default) uses :data:`COARSE_NA`
points where N >= :data:`COARSE_MIN_N` and the grid is at least :data:`COARSE_MIN_RATIO`
times finer, an integer >= 2 that many points (below the given Na), 0 never. Only the
host-driven :func:`~hat_jax.solve_equilibrium` takes this stage, and only from a cold
start (:func:`is_cold`: no household state, Jacobian or rebates, and no wages or equal
ones).
"""

from __future__ import annotations

import numpy as np

from ._start import Start

__all__ = ["COARSE_MIN_N", "COARSE_NA", "check_coarse_grid", "coarse_na", "coarse_start",
           "is_cold"]

#: The coarse grid of "auto", and where it is used: N >= COARSE_MIN_N (below it one
#: program compiled more costs more than the Jacobians it saves: the 19-country cold
#: solve at Na = 100 takes 19.5 s, its Jacobian 4.9 s) and Na >= COARSE_MIN_RATIO *
#: COARSE_NA.
COARSE_NA = 20
COARSE_MIN_N = 40
COARSE_MIN_RATIO = 3


def check_coarse_grid(value) -> None:
    """ValueError naming ``coarse_grid`` unless it is "auto", 0 or an integer >= 2."""
    ok = value == "auto" or (isinstance(value, int) and not isinstance(value, bool)
                             and (value == 0 or value >= 2))
    if not ok:
        raise ValueError(f"coarse_grid must be 'auto', 0 (no coarse stage) or an integer "
                         f">= 2 (asset grid points), got coarse_grid={value!r}")


def coarse_na(economy, coarse_grid) -> int:
    """The coarse stage's Na for ``economy`` under the option ``coarse_grid``; 0: none."""
    if coarse_grid == "auto":
        big = economy.N >= COARSE_MIN_N and economy.Na >= COARSE_MIN_RATIO * COARSE_NA
        return COARSE_NA if big else 0
    return coarse_grid if 0 < coarse_grid < economy.Na else 0


def is_cold(start: Start | None) -> bool:
    """Whether ``start`` is a cold start: no wages or equal ones (the default guess, as
    the commands' ``--start cold`` gives them), no household state, Jacobian or rebates
    (R and beta, scalar guesses, may be given)."""
    if start is None:
        return True
    flat = start.W is None or float(np.ptp(np.asarray(start.W, np.float64))) == 0.0
    return flat and all(v is None for v in (start.state, start.J, start.T))


def coarse_start(economy, opts, start: Start | None, solve) -> tuple[Start | None, dict]:
    """(the start for ``economy``'s solve, stats): from a cold ``start`` with a coarse
    stage due (:func:`coarse_na`), the prices, rebates and Newton Jacobian of the same
    economy solved on the coarse grid by ``solve`` (:func:`~hat_jax.solve_equilibrium`;
    in the "beta" mode its R is the target R); otherwise ``start`` unchanged. A coarse
    solve that does not converge is dropped (the cold start is used). stats: coarse_na
    (0: no stage), coarse_compile_s, coarse_run_s, coarse_iterations, coarse_converged
    (:func:`~hat_jax.solve_equilibrium` adds the seconds to its own)."""
    Na_c = coarse_na(economy, opts.coarse_grid)
    if not Na_c or not is_cold(start):
        return start, {"coarse_na": 0}
    eq = solve(economy.replace(Na=Na_c), opts.replace(coarse_grid=0, jacobian_block="auto"),
               start, throw=False)
    stats = {"coarse_na": Na_c, "coarse_compile_s": eq.stats["compile_s"],
             "coarse_run_s": eq.stats["run_s"], "coarse_iterations": eq.stats["iterations"],
             "coarse_converged": bool(eq.converged)}
    if not bool(eq.converged):
        return start, stats
    return Start(W=eq.W, R=eq.R, beta=eq.beta, T=eq.T, J=eq.jacobian), stats
