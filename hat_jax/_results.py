"""Convergence checks, option validation and derivative linear solves shared by every
solver.

Every solve returns its value with ``converged``, ``iterations`` and ``residual``; with
``throw=True`` (the default) an unconverged result raises :class:`ConvergenceError`
instead of being returned. Outside ``jit`` the message carries the numbers; inside a
traced computation the check becomes an ``equinox.error_if`` runtime error.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "ConvergenceError", "as_float", "as_int", "check_choice", "check_option_values",
    "check_converged",
    "linear_solve", "krylov_solve",
]


class ConvergenceError(RuntimeError):
    """An iterative solver stopped without meeting its tolerance."""


def _is_traced(*xs) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(xs))


def as_float(x):
    """Option converter: a Python float where ``x`` is a real number; anything else
    (a traced value, or bad input that :func:`check_option_values` then names) is
    returned unchanged."""
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        return float(x)
    if (isinstance(x, (np.ndarray, jax.Array)) and not _is_traced(x) and np.ndim(x) == 0
            and np.issubdtype(x.dtype, np.number)):
        return float(x)
    return x


def as_int(x):
    """Option converter: a Python int where ``x`` is an integral number (20.0 -> 20);
    anything else (20.9, a traced value, ...) is returned unchanged for
    :func:`check_option_values` to name."""
    if isinstance(x, bool):
        return x
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)) and np.isfinite(x) and float(x) == int(x):
        return int(x)
    return x


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def check_choice(name: str, value, choices) -> None:
    """Raise ValueError naming the option and its value unless ``value`` is one of
    ``choices`` (the one check of every options class's string choices)."""
    choices = tuple(choices)
    if isinstance(value, (list, dict, set)) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {name}={value!r}")


def check_option_values(opts, positive=(), at_least_one=(), unit_interval=()) -> None:
    """Validate numeric option fields of a concrete options object: ``positive`` (> 0 and
    finite), ``at_least_one`` (integers >= 1), ``unit_interval`` (in [0, 1)). Raises
    ValueError naming the field and its value; traced values are not checked."""
    for name in positive:
        x = getattr(opts, name)
        if not _is_traced(x) and not (_is_number(x) and np.isfinite(x) and x > 0):
            raise ValueError(f"{name} must be a positive number, got {name}={x!r}")
    for name in at_least_one:
        x = getattr(opts, name)
        if not _is_traced(x) and not (isinstance(x, int) and not isinstance(x, bool)
                                      and x >= 1):
            raise ValueError(f"{name} must be an integer >= 1, got {name}={x!r}")
    for name in unit_interval:
        x = getattr(opts, name)
        if not _is_traced(x) and not (_is_number(x) and 0.0 <= x < 1.0):
            raise ValueError(f"{name} must be in [0, 1), got {name}={x!r}")


def _fmt_tol(tol) -> str:
    return "traced" if _is_traced(tol) else f"{float(tol):g}"


def check_converged(what: str, converged, iterations, residual, tol, unit: str | None = None,
                    labels=None):
    """Raise ConvergenceError (or an in-graph error when traced) if not converged.

    ``converged``, ``iterations``, ``residual`` may be batched (e.g. one per country);
    the message then names the failing members (by ``labels`` when given).

    Returns ``residual``; inside a trace the returned array carries the runtime check
    (``equinox.error_if``), so callers must use the returned value for it to take effect.
    """
    if _is_traced(converged, iterations, residual):
        ok = jnp.all(converged)
        # the message is static inside a trace
        return eqx.error_if(residual, ~ok, f"{what} did not converge (tolerance {_fmt_tol(tol)}); "
                            "run outside jit or with throw=False to see residuals and "
                            "iterations")
    conv = np.atleast_1d(np.asarray(converged))
    if conv.all():
        return residual
    its = np.broadcast_to(np.atleast_1d(np.asarray(iterations)), conv.shape)
    res = np.broadcast_to(np.atleast_1d(np.asarray(residual)), conv.shape)
    bad = np.flatnonzero(~conv)
    parts = []
    for k in bad[:8]:
        name = labels[k] if labels is not None else (f"{unit} {k}" if unit else "")
        prefix = f"{name}: " if name else ""
        parts.append(f"{prefix}residual {res[k]:.3e} after {int(its[k])} iterations")
    more = f" (and {len(bad) - 8} more)" if len(bad) > 8 else ""
    raise ConvergenceError(
        f"{what} did not converge to tolerance {_fmt_tol(tol)}: " + "; ".join(parts) + more
        + ". A non-finite residual means NaN/inf appeared (check prices and parameters)."
    )


def linear_solve(operator, vector, solver):
    """A x = b by lineax (``operator``, ``solver``) without runtime callbacks.

    lineax's default ``throw=True`` attaches a host callback (equinox.error_if); nested
    inside the Newton while loop and transposed for reverse mode, those callbacks
    deadlocked XLA's CPU runtime. And lineax differentiates and transposes its own solve
    with ``throw=True`` whatever the caller passed (lineax 0.1.1, ``_solve.py``), which
    puts a host callback into every program differentiated through this solve; JAX
    keeps no program with a host callback in its persistent compilation cache, so each
    new process compiled those derivative programs again. Hence ``lax.custom_linear_solve``
    around lineax with ``throw=False``: JAX differentiates and transposes it by calling
    the solves given here (the derivative with respect to A through ``matvec``), so no
    callback enters any program. The solves here are derivative (tangent) solves and the
    distribution's mass condition; a failed dense solve yields non-finite values that
    the callers' residual checks catch, and the accuracy of every derivative is verified
    against central finite differences in the tests.
    """
    import lineax as lx

    def solve(_, b):
        return lx.linear_solve(operator, b, solver, throw=False).value

    def transpose_solve(_, b):
        return lx.linear_solve(operator.transpose(), b, solver, throw=False).value

    return jax.lax.custom_linear_solve(operator.mv, vector, solve, transpose_solve)


def krylov_solve(matvec, b, rtol: float, atol: float, max_steps: int = 50,
                 restart: int = 40):
    """Solve A x = b (A given by ``matvec`` on pytrees) matrix-free with lineax GMRES.

    lineax stops when |r_i| <= atol + rtol |b_i| for every entry. Entries with b_i ~ 0
    then need |r_i| <= atol, which round-off from large entries can make unreachable;
    under vmap one such system keeps all the others iterating. So the solve also stops
    after 5 restarts without progress, and after ``max_steps`` restarts (of ``restart``
    Krylov vectors each). (Scaling b to unit norm first would avoid this but is not
    linear in b, which reverse mode needs to transpose the solve.)

    Forward and reverse mode both work (lineax transposes the solve); no runtime
    callback (see :func:`linear_solve`). Tried and rejected: lineax BiCGStab (breaks
    down to NaN on the zero right-hand sides that reverse mode produces) and
    jax.scipy's GMRES (its custom_linear_solve cannot be transposed inside a custom_jvp
    rule). Known risk: GMRES solves a small QR per restart with jaxlib's LAPACK kernel;
    batched (under vmap) and running concurrently with another batched LAPACK kernel,
    it can wedge XLA's CPU thread pool on 2-core machines (see docs/performance.md, CPU threading).
    """
    import lineax as lx

    operator = lx.FunctionLinearOperator(matvec, jax.eval_shape(lambda: b))
    solver = lx.GMRES(rtol=rtol, atol=atol, restart=restart, stagnation_iters=5,
                      max_steps=max_steps)
    return lx.linear_solve(operator, b, solver, throw=False).value
