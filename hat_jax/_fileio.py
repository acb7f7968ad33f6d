"""Atomic file writes: a temporary file in the same folder, fsync, rename (os.replace),
then fsync of the folder. A process killed at any moment (SIGKILL included) leaves either
the old file or the new one, never a partial file.

:func:`critical_section` and :func:`pending` cooperate with an interrupt handler that
ends the process at once (the ``hat`` command's Ctrl-C handler, ``os._exit``): the
handler takes :func:`critical_section` first, so a commit in progress (the renames
that put a set of files in place) is finished, not cut; and it removes what
:func:`pending` lists (temporary files and staging folders of writes in progress)
with :func:`discard_pending`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "critical_section", "pending",
           "discard_pending", "fsync_dir", "CSV_FLOAT", "json_text"]

CSV_FLOAT = "%.17g"  # float format of every CSV file: round-trips float64 exactly


def json_text(obj) -> str:
    """``obj`` as indented JSON (NaN refused: convert non-finite numbers to None first)."""
    return json.dumps(obj, indent=2, allow_nan=False)


_LOCK = threading.RLock()
_PENDING: set[Path] = set()


def critical_section():
    """A context (re-entrant lock) that an immediate-exit interrupt handler waits for."""
    return _LOCK


@contextlib.contextmanager
def pending(path: Path):
    """Register ``path`` (a temporary file or folder) as work in progress for the span of
    the context; removed by :func:`discard_pending` if the process is ended meanwhile."""
    with _LOCK:
        _PENDING.add(Path(path))
    try:
        yield path
    finally:
        with _LOCK:
            _PENDING.discard(Path(path))


def discard_pending() -> None:
    """Remove every registered temporary file or folder (best effort; call holding
    :func:`critical_section`, just before ending the process)."""
    with _LOCK:
        for p in list(_PENDING):
            try:
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink()
            except OSError:
                pass
        _PENDING.clear()


def fsync_dir(path: Path) -> None:
    """fsync a folder (its entries: renames, new files); errors ignored."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``: temporary file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with _LOCK:
        _PENDING.add(Path(tmp))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 -> the usual mode of a new file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with _LOCK:
            os.replace(tmp, path)
            _PENDING.discard(Path(tmp))
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    finally:
        with _LOCK:
            _PENDING.discard(Path(tmp))
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8 (newlines as given)."""
    atomic_write_bytes(Path(path), text.encode("utf-8"))
