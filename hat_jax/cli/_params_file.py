"""``--params FILE``: the structural parameters of an ``ek_*`` preset or a ``--data``
world read from a file, such as the ``params.csv`` that ``hat calibrate`` writes.

The file has a column ``guess`` with the K = 2(N-1) + C parameters Theta in the published
layout (:mod:`hat_jax._gravity`; ``hat-baseline/baseline-params.csv`` is one). Its sibling
``prices.csv`` (``X-params.csv`` -> ``X-prices.csv``), when present, gives the starting
wages W_1..W_{N-1} and beta (the ``published`` start); without it the solve starts cold.

:func:`inference_for_world` reads the ``inference.json`` of ``hat calibrate --se`` (given
to ``hat counterfactual --se`` or ``hat sweep --from-calibration``) and checks that it is
about the baseline's parameters.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from hat_jax.calibration._starts import guess_column, read_prices, sibling_prices
from hat_jax.data import PublishedVectors
from hat_jax._ek import EKWorld

__all__ = ["read_params_file", "with_params_prices", "inference_for_world",
           "delta_method_problem", "delta_method_inputs"]


def read_params_file(path) -> np.ndarray:
    """Theta from column ``guess`` of ``path`` (ValueError naming --params and the file)."""
    return guess_column(Path(path).expanduser(), "--params")


def with_params_prices(world: EKWorld, path) -> EKWorld:
    """``world`` (built with the file's Theta) with the file's sibling prices as its
    ``published`` start, or with no published start (a cold one) when there is none."""
    path = Path(path).expanduser()
    sib = sibling_prices(path)
    if sib is None:
        return dataclasses.replace(world, published=None)
    W, beta = read_prices(sib, world.economy.N, "--params")
    if not 0.0 < beta < 1.0:
        raise ValueError(f"--params: the prices file {sib} gives beta={beta!r}, not in (0, 1)")
    pub = PublishedVectors(name=f"file:{path}", params=np.asarray(world.params),
                           wages=W, beta=beta)
    return dataclasses.replace(world, published=pub)


def inference_for_world(args, world: EKWorld | None, flag: str, path):
    """(params, V_params, cov) of the inference.json ``path`` given by ``flag``, checked
    before anything is solved: the baseline ``world`` must have calibrated parameters, the
    file's, to 1e-9 (ValueError naming the flag, the file and the fix otherwise)."""
    from hat_jax.report._readers import read_inference

    params, V, cov = read_inference(path, flag)
    if world is None:
        raise ValueError(f"{flag}: preset {args.preset!r} has no calibrated parameters "
                         "(an ek_* preset or --data world has)")
    own = np.asarray(world.params, np.float64)
    source = (f"--params {args.params}" if getattr(args, "params", None) is not None
              else f"preset {args.preset!r}")
    if params.shape != own.shape:
        raise ValueError(f"{flag}: {path} holds {params.size} parameters, the baseline "
                         f"({source}) has {own.size}")
    if not np.allclose(params, own, rtol=1e-9, atol=1e-12):
        raise ValueError(f"{flag}: {path} holds other parameters than the baseline's "
                         f"({source}; largest difference {np.max(np.abs(params - own)):.3g}); "
                         "give the calibration's parameters with --params DIR/params.csv")
    return params, V, cov


def delta_method_problem(setup, what: str, cov: str, say=None):
    """(params, problem) for a command's ``--se``: the world's calibrated parameters and
    its calibration problem on the economy this run solves (its grid and settings), the
    argument of the delta method's Jacobian programs; ``say`` (a message printer, None:
    quiet) is told that the Jacobian of ``what`` is being computed."""
    from hat_jax.calibration import problem_from_world

    params = np.asarray(setup.world.params, np.float64)
    if say is not None:
        say(f"standard errors ({cov}, delta method): the Jacobian of {what} with respect "
            f"to the {params.size} parameters...")
    problem = problem_from_world(setup.world)
    problem = problem.__class__(setup.economy, problem.geography, problem.target,
                                problem.data_trade, problem.R, problem.theta_d,
                                problem.estimator)
    return params, problem


def delta_method_inputs(setup, base, what: str, cov: str = "", say=None):
    """(params, problem, start): :func:`delta_method_problem` and a :class:`~hat_jax.Start`
    at the solved baseline ``base`` (its prices, beta and household state), the
    arguments with which ``hat elasticities``, ``hat tariff`` and ``hat transition``
    call their Jacobian programs (with ``opts=base.opts``). A library call with the same
    arguments runs the command's compiled program."""
    from hat_jax import Start

    params, problem = delta_method_problem(setup, what, cov, say)
    eq = base.eq
    start = Start(W=np.asarray(eq.W), beta=np.asarray(eq.beta),
                  state=eq.world.households.state)
    return params, problem, start
