"""The one way to write a figure: PNG bytes rendered in memory, written atomically through
:mod:`hat_jax._fileio`, the figure closed. matplotlib is imported lazily, on the Agg backend
(no display needed)."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from hat_jax._fileio import atomic_write_bytes

__all__ = ["DPI", "pyplot", "figure_bytes", "save_figure"]

DPI = 120  # resolution of every PNG the report layer writes


def pyplot():
    """``matplotlib.pyplot``, imported on first use: on the Agg backend (no display) unless
    pyplot is already loaded or ``MPLBACKEND`` chooses one (a notebook keeps its inline
    backend). Raises ImportError with the install hint when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("figures need matplotlib (pip install 'hat_jax[plot]')") from exc
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_bytes(fig, dpi: int = DPI) -> bytes:
    """``fig`` (a matplotlib Figure, or an Axes: its figure) rendered as PNG bytes; the
    figure is closed. For a set of output files (:func:`hat_jax.report._files.write_files`)."""
    if not hasattr(fig, "savefig"):  # an Axes
        fig = fig.figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    pyplot().close(fig)
    return buf.getvalue()


def save_figure(fig, path, dpi: int = DPI) -> Path:
    """Write ``fig`` (a matplotlib Figure, or an Axes: its figure) as PNG to ``path``
    atomically (temporary file, fsync, rename), close it, and return the path."""
    path = Path(path)
    atomic_write_bytes(path, figure_bytes(fig, dpi))
    return path
