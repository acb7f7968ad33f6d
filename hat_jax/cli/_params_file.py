"""``--params FILE``: the structural parameters of an ``ek_*`` preset or a ``--data``
world read from a file, such as the ``params.csv`` that ``hat calibrate`` writes.

The file has a column ``guess`` with the K = 2(N-1) + C parameters Theta in the published
layout (:mod:`hat_jax._gravity`; ``hat-baseline/baseline-params.csv`` is one). Its sibling
``prices.csv`` (``X-params.csv`` -> ``X-prices.csv``), when present, gives the starting
wages W_1..W_{N-1} and beta (the ``published`` start); without it the solve starts cold.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from hat_jax.calibration._starts import guess_column, read_prices, sibling_prices
from hat_jax.data import PublishedVectors
from hat_jax._ek import EKWorld

__all__ = ["read_params_file", "with_params_prices"]


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
