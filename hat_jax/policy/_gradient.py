"""Welfare as a differentiable function of the tariff matrix (model.md s.14).

:func:`tariff_welfare` maps a tariff matrix t to every country's utilitarian welfare
W_i(t) = sum_{a,z} lambda_i V_i at the stationary equilibrium with tariffs t (beta fixed
at the baseline's; wages, R and the rebates T solved by
:func:`hat_jax.solve_equilibrium_jit`, differentiated by the implicit function theorem).
:func:`tariff_gradient` is dW_i/dt_kl for all pairs by one reverse-mode pass.
"""

from __future__ import annotations

import dataclasses
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._compiled import compile_and_run, timed_run
from .._baseline import Baseline, as_baseline
from .._equilibrium import Equilibrium, EquilibriumOptions, Start, solve_equilibrium_jit
from .._results import ConvergenceError
from .._tariffs import validate_tariffs
from .._unknowns import encode
from ..welfare import WelfareGradient, country_index, utilitarian_welfare

__all__ = ["TariffArgs", "tariff_args", "tariff_welfare", "TariffGradient", "tariff_gradient",
           "policy_options", "value_and_gradient", "warm_start", "welfare_program",
           "welfare_jacobian"]


class TariffArgs(NamedTuple):
    """What a tariff evaluation carries beyond the :class:`~hat_jax.Baseline`: economy,
    the baseline's fixed-beta economy with an explicit tariff matrix (zeros under free
    trade: one program either way), and start, the moving warm start
    (:class:`~hat_jax.Start`: prices, household state, rebates T and J, the Newton
    Jacobian of the last solve, NaN when there is none yet: Newton then computes it).
    Each evaluation's warm start is the next one's: a small tariff change then needs no
    new Jacobian, only a few residual evaluations."""

    economy: object
    start: Start


def policy_options(b: Baseline | Equilibrium, opts: EquilibriumOptions | None = None):
    """Options of the equilibria inside tariff derivatives and optimisation: ``opts``
    (default: the baseline's) at fixed beta under the baseline's regime, without Newton
    printing (progress is reported per evaluation by the optimisers instead)."""
    return as_baseline(b).options(opts).replace(verbose=False)


def tariff_args(b: Baseline | Equilibrium) -> TariffArgs:
    """The :class:`TariffArgs` of a baseline (free trade or with tariffs)."""
    b = as_baseline(b)
    econ = b.economy.replace(tariffs=jnp.asarray(b.economy.tariff_matrix))
    n = encode(b.W, b.R, b.beta, econ, b.opts).shape[0]  # the unknowns with tariffs
    J = b.J if b.J is not None and np.shape(b.J) == (n, n) else None
    # one program either way: a strongly typed NaN matrix (jnp.full of the Python float
    # jnp.nan is weakly typed, which made a second program: 50 s of compilation, loaded)
    J = jnp.asarray(np.full((n, n), np.nan)) if J is None else jnp.asarray(J)
    return TariffArgs(econ, b.start._replace(J=J))


def _solve(args: TariffArgs, t, opts: EquilibriumOptions):
    e = solve_equilibrium_jit(args.economy.replace(tariffs=t), opts, args.start, throw=False)
    return utilitarian_welfare(e), e


def warm_start(args: TariffArgs, e) -> TariffArgs:
    """``args`` moved to the solved equilibrium ``e`` (prices, household state, rebates,
    Newton Jacobian), without derivatives: the start of the next evaluation."""
    return jax.lax.stop_gradient(args._replace(start=Start.from_equilibrium(e)))


def tariff_welfare(args: TariffArgs, t, opts: EquilibriumOptions):
    """(W_i(t) for every country [N], (converged, iterations, residual)): utilitarian
    welfare at the equilibrium with tariffs t, started from the baseline ``args``.
    Traceable and differentiable in t (jit it; derivatives by the implicit function
    theorem)."""
    welfare, e = _solve(args, t, opts)
    return welfare, (e.converged, e.iterations, e.residual)


#: ``tariff_welfare`` compiled (one program per shape; share it rather than re-jitting)
welfare_program = jax.jit(tariff_welfare)


@jax.jit
def _gradient_program(args, t, w, opts):
    """(w . W(t), (converged, iterations, residual, TariffArgs at t: a warm start)), and
    the gradient in t."""

    def objective(tt):
        welfare, e = _solve(args, tt, opts)
        return jnp.dot(w, welfare), (e.converged, e.iterations, e.residual,
                                     warm_start(args, e))

    return jax.value_and_grad(objective, has_aux=True)(t)


@jax.jit
def _jacobian_program(args, t, opts):
    """(dW_i/dt_kl [N, N, N] by N reverse passes sharing one solve, (W [N], converged,
    warm start at t))."""

    def f(tt):
        welfare, e = _solve(args, tt, opts)
        return welfare, (jax.lax.stop_gradient(welfare), e.converged, warm_start(args, e))

    return jax.jacrev(f, has_aux=True)(t)


def welfare_jacobian(args: TariffArgs, t, opts: EquilibriumOptions):
    """(W [N], dW_i/dt_kl [N, N, N], converged, warm start at t): every country's welfare
    gradient in one program (compiled once per shape)."""
    J, (W, ok, warm) = compile_and_run(_jacobian_program,
                                       (args, jnp.asarray(t, jnp.float64), opts))
    return np.asarray(W), np.asarray(J), bool(ok), warm


def value_and_gradient(args: TariffArgs, t, w, opts: EquilibriumOptions):
    """(w . W(t), grad [N, N], converged, warm start at t): one equilibrium solve from
    ``args`` and one reverse pass (compiled once per shape)."""
    (val, (ok, it, res, warm)), g = compile_and_run(
        _gradient_program, (args, jnp.asarray(t, jnp.float64), jnp.asarray(w, jnp.float64),
                            opts))
    return float(val), np.asarray(g), bool(ok), warm


@dataclasses.dataclass(frozen=True)
class TariffGradient(WelfareGradient):
    """dW_country/dt_kl: value (welfare at t), grad [N, N] (zero diagonal), and the
    convergence of the equilibrium at t (the fields of
    :class:`~hat_jax.welfare.WelfareGradient`). Unpacks as ``value, grad``."""


def tariff_gradient(eq: Baseline | Equilibrium, country, tariffs=None, *,
                    opts: EquilibriumOptions | None = None, throw: bool = True
                    ) -> TariffGradient:
    """Gradient of ``country``'s utilitarian welfare with respect to every tariff t_kl at
    the tariff matrix ``tariffs`` (default: the baseline's own), general equilibrium
    (W, R, T re-solved, beta fixed), one reverse-mode pass. ``eq``: a
    :class:`~hat_jax.Baseline` (an Equilibrium is converted once). The result's
    ``stats``: iterations, compile_s, run_s, total_s."""
    b = as_baseline(eq)
    econ = b.economy
    i = country_index(econ, country)
    t = econ.tariff_matrix if tariffs is None else validate_tariffs(tariffs, econ.N,
                                                                     econ.countries)
    w = jnp.zeros(econ.N).at[i].set(1.0)
    t0 = time.perf_counter()
    ((val, (ok, it, res, _)), g), stats = timed_run(
        _gradient_program, (tariff_args(b), jnp.asarray(t, jnp.float64), w,
                            policy_options(b, opts)))
    stats = dict(stats, iterations=int(it), total_s=time.perf_counter() - t0)
    if throw and not bool(ok):
        raise ConvergenceError(f"tariff gradient: the equilibrium with the given tariffs did "
                               f"not converge: residual {float(res):.3e} after {int(it)} "
                               "iterations")
    N = econ.N
    return TariffGradient(float(val), np.asarray(g) * (1.0 - np.eye(N)), bool(ok), int(it),
                          float(res), stats)
