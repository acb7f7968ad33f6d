"""Output files and JSON numbers: the one atomic writer of the report layer and the one
conversion of numbers to JSON (plain floats; a non-finite value becomes ``null``).

The files of one command are written as a set, all or nothing (:func:`write_files`):

- into a folder that does not exist yet: every file is written into a hidden staging
  folder beside it (``.NAME.partial-*``), which is then renamed into place in one step;
- into an existing folder: the files are staged in a hidden folder inside it
  (``.hat-partial-*``); the commit removes the previous run's ``manifest.json`` (so the
  folder is marked incomplete), moves each new file into place, removes the files of the
  previous run's manifest that this run does not write (e.g. plots of an earlier
  ``--plots``), and writes the new ``manifest.json`` last. Files the command does not own
  (not named in either manifest: a calibration checkpoint, the user's own files) are
  kept.

``manifest.json`` (:data:`MANIFEST_NAME`) lists the run id, the time and each file with
its size and SHA-256; :func:`check_output_folder` verifies a folder against it and
refuses a folder without one. Ctrl-C in the ``hat`` command waits for a commit in
progress (:func:`hat_jax._fileio.critical_section`) and removes the staging folder of an
unfinished one, so an interrupted command leaves the earlier folder as it was.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np

from hat_jax._fileio import CSV_FLOAT, atomic_write_bytes, critical_section, fsync_dir, json_text, pending

__all__ = ["CSV_FLOAT", "MANIFEST_NAME", "json_num", "json_nums", "json_timings",
           "json_text", "records",
           "write_files", "check_output_folder", "check_writable_folder"]

MANIFEST_NAME = "manifest.json"  # written last by write_files: the set is complete



def json_num(x) -> float | None:
    """A JSON number: a plain float, or None when not finite."""
    x = float(x)
    return x if math.isfinite(x) else None


def json_timings(stats: dict | None, keys=None) -> dict:
    """The ``timings`` object of a --json output from a result's ``stats``: its seconds
    (the keys ending in ``_s``, in order), or exactly ``keys`` (None where missing)."""
    stats = stats or {}
    if keys is not None:
        return {k: json_num(stats[k]) if stats.get(k) is not None else None for k in keys}
    return {k: json_num(v) for k, v in stats.items() if k.endswith("_s")}


def json_nums(x):
    """Nested lists of plain floats (None for non-finite entries); a scalar for 0-d input."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        return json_num(a)
    return [json_nums(v) for v in a]


def records(df, keys) -> list[dict]:
    """Rows of a frame as JSON records over ``keys``: bools, ints and strings as they are,
    every other value through :func:`json_num`."""
    out = []
    for row in df[list(keys)].itertuples(index=False):
        rec = {}
        for k, v in zip(keys, row):
            if isinstance(v, (bool, np.bool_)):
                rec[k] = bool(v)
            elif isinstance(v, (int, np.integer)):
                rec[k] = int(v)
            elif isinstance(v, str):
                rec[k] = v
            else:
                rec[k] = json_num(v)
        out.append(rec)
    return out


def _write_plain(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _old_manifest_names(out: Path) -> set[str]:
    try:
        files = json.loads((out / MANIFEST_NAME).read_text())["files"]
        return {n for n in files if isinstance(n, str) and "/" not in n and n != MANIFEST_NAME}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def write_files(out_dir: str | os.PathLike, files: dict[str, str | bytes]) -> list[Path]:
    """Write the set ``files`` (name -> text or bytes) into ``out_dir``, all or nothing,
    with ``manifest.json`` last (see the module docstring); returns the paths of the
    files in order (the manifest not included)."""
    out = Path(out_dir)
    blobs = {}
    for name, data in files.items():
        if not name or "/" in name or name.startswith(".") or name == MANIFEST_NAME:
            raise ValueError(f"output file name {name!r} is not a plain file name")
        blobs[name] = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    manifest = {
        "run_id": uuid.uuid4().hex,
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "files": {n: {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                  for n, b in blobs.items()},
    }
    man = (json_text(manifest) + "\n").encode()
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {str(out)!r} exists and is not a folder")
    fresh = not out.exists()
    if fresh:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    else:
        stage = Path(tempfile.mkdtemp(prefix=".hat-partial-", dir=out))
    with pending(stage):
        try:
            for name, b in blobs.items():
                _write_plain(stage / name, b)
            if fresh:
                _write_plain(stage / MANIFEST_NAME, man)
                os.chmod(stage, 0o777 & ~_umask())
                with critical_section():
                    try:
                        os.rename(stage, out)  # one step: all the files or none
                    except OSError:  # the folder appeared meanwhile: write into it
                        fresh = False
                if fresh:
                    fsync_dir(out.parent)
                    return [out / n for n in blobs]
                return write_files(out, files)
            with critical_section():
                old = _old_manifest_names(out)
                try:
                    os.unlink(out / MANIFEST_NAME)  # from here the folder is incomplete
                except FileNotFoundError:
                    pass
                fsync_dir(out)
                for name in blobs:
                    os.replace(stage / name, out / name)
                for name in sorted(old - set(blobs)):  # the previous run's other files
                    try:
                        os.unlink(out / name)
                    except FileNotFoundError:
                        pass
                atomic_write_bytes(out / MANIFEST_NAME, man)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return [out / n for n in blobs]


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def check_output_folder(path: str | os.PathLike) -> dict:
    """The manifest of an output folder written by :func:`write_files`, after checking
    that every file it lists is there with its size and SHA-256. ValueError when the
    folder has no manifest (an unfinished or interrupted write, or not a hat output) or
    a file does not match it."""
    out = Path(path)
    try:
        manifest = json.loads((out / MANIFEST_NAME).read_text())
        files = manifest["files"]
    except FileNotFoundError:
        raise ValueError(f"{str(out)!r} has no {MANIFEST_NAME}: not a complete hat output "
                         "folder (an interrupted run, or written by something else)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{str(out / MANIFEST_NAME)!r} is unreadable ({exc})") from None
    for name, info in files.items():
        try:
            b = (out / name).read_bytes()
        except OSError:
            raise ValueError(f"{str(out)!r}: {name} of run {manifest.get('run_id')} is "
                             "missing") from None
        if len(b) != info.get("bytes") or hashlib.sha256(b).hexdigest() != info.get("sha256"):
            raise ValueError(f"{str(out)!r}: {name} does not match the manifest of run "
                             f"{manifest.get('run_id')} (changed after it was written)")
    return manifest


def check_writable_folder(path: str | os.PathLike, what: str = "--out") -> None:
    """Check, before any long work, that ``path`` is a folder that can be written (or
    created): ValueError naming ``what`` when it is a file, lies under a file, or its
    nearest existing folder is not writable (permissions, read-only filesystem). Creates
    nothing that remains."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{what} {str(out)!r} is a file, not a folder")
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{what} {str(out)!r}: {str(probe)!r} is a file, not a folder")
    try:
        tmp = tempfile.mkdtemp(prefix=".hat-probe-", dir=probe)
        os.rmdir(tmp)
    except OSError as exc:
        raise ValueError(f"{what} {str(out)!r}: cannot write in {str(probe)!r} "
                         f"({exc.strerror or exc})") from None
