"""Checkpoints of a calibration: the whole state of the Newton iterations, fingerprinted
and checksummed.

After every iteration the state (Theta, gaps, Jacobian, prices, beta, household states,
history, fingerprint of the problem, start and settings) is written atomically
(temporary file, fsync, rename) to a ``.npz`` with a SHA-256 checksum; a resumed run
continues exactly where the checkpoint left off (bit for bit: the same compiled program
on the same inputs). A corrupt checkpoint, or one written for another preset, data set,
start or settings, raises :class:`CheckpointError` naming what differs.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._fileio import atomic_write_bytes
from ._problem import CalibrationProblem
from ._starts import Start

__all__ = ["CHECKPOINT_NAME", "CHECKPOINT_FORMAT", "CheckpointError", "IterationState",
           "problem_fingerprint", "start_fingerprint", "describe_differences",
           "save_checkpoint", "load_checkpoint", "checkpoint_fingerprint"]

#: File name of the checkpoint inside an output folder.
CHECKPOINT_NAME = "checkpoint.npz"
#: The format tag stored in every checkpoint.
CHECKPOINT_FORMAT = "hat_jax.calibration._checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt or was written for another calibration."""


@dataclass
class IterationState:
    """Everything the Newton loop carries from one iteration to the next (and what a
    checkpoint holds): iteration, params, gaps, model moments, Jacobian G (has_G: it was
    computed), wages W, beta, unconstrained prices x, household state leaves, the
    equilibrium's residual and iterations, trade shares, the history records, elapsed
    seconds and status ("running", "converged" or "failed")."""

    iteration: int
    params: np.ndarray
    gaps: np.ndarray
    model: np.ndarray
    G: np.ndarray
    has_G: bool
    W: np.ndarray
    beta: float
    x: np.ndarray
    state: list  # household state leaves
    eq_residual: float
    eq_iterations: int
    trade_shares: np.ndarray
    history: list = field(default_factory=list)
    elapsed: float = 0.0
    status: str = "running"


def _hash_arrays(h, named) -> None:
    for name, a in named:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())


def problem_fingerprint(problem: CalibrationProblem) -> dict:
    """A readable description of the problem plus a hash of all its data (L, income
    process, geography, data moments). A, d and beta of the base economy are not
    part of it (they come from Theta and the equilibrium)."""
    e = problem.economy
    h = hashlib.sha256()
    _hash_arrays(h, [("L", e.L), ("z", e.z), ("P", e.P), ("y_P", e.y_P),
                     ("geography", problem.geography.covariates),
                     ("target", problem.target), ("data_trade", problem.data_trade)])
    return {
        "N": int(e.N), "Na": int(e.Na), "Nz": int(e.Nz), "gamma": float(e.gamma),
        "sigma": float(e.sigma), "psi_slope": float(e.psi_slope), "phi": float(e.phi),
        "amax": float(e.amax), "scale_by_tfp": bool(e.scale_by_tfp),
        "R": float(problem.R), "theta_d": float(problem.theta_d),
        "estimator": problem.estimator, "covariates": list(problem.coef_names),
        "countries": list(e.countries), "data_sha256": h.hexdigest(),
    }


def start_fingerprint(start: Start) -> dict:
    """The start's label and a hash of its Theta, W and beta."""
    h = hashlib.sha256()
    _hash_arrays(h, [("theta", np.asarray(start.params, np.float64)),
                     ("W", np.asarray(start.W, np.float64)),
                     ("beta", np.asarray(start.beta, np.float64))])
    return {"label": start.label, "sha256": h.hexdigest()}


def describe_differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Readable lines "key: checkpoint OLD, now NEW" for every differing (nested) key."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += describe_differences(a, b, f"{prefix}{k}.")
        elif a != b:
            if k == "countries":
                a, b = f"{len(a)} countries", f"{len(b)} countries"
            elif k.endswith("sha256"):
                a, b = str(a)[:12] + "...", str(b)[:12] + "..."
            out.append(f"{prefix}{k}: checkpoint {a!r}, now {b!r}")
    return out


def _checksum(meta: str, arrays: dict) -> str:
    h = hashlib.sha256(meta.encode())
    _hash_arrays(h, sorted(arrays.items()))
    return h.hexdigest()


def save_checkpoint(path, st: IterationState, fingerprint: dict) -> None:
    """Write ``st`` with its fingerprint to ``path`` atomically (with a checksum)."""
    meta = json.dumps({
        "format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "iteration": st.iteration,
        "beta": st.beta, "has_G": st.has_G, "eq_residual": st.eq_residual,
        "eq_iterations": st.eq_iterations, "history": st.history, "elapsed": st.elapsed,
        "status": st.status, "n_state": len(st.state),
    }, sort_keys=True)
    arrays = {"theta": st.params, "gaps": st.gaps, "model": st.model, "G": st.G, "W": st.W,
              "x": st.x, "trade_shares": st.trade_shares,
              **{f"state_{k}": a for k, a in enumerate(st.state)}}
    arrays = {k: np.ascontiguousarray(np.asarray(v)) for k, v in arrays.items()}
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(meta), checksum=np.array(_checksum(meta, arrays)), **arrays)
    atomic_write_bytes(Path(path), buf.getvalue())


def _read_verified(path: Path) -> tuple[dict, dict]:
    """(meta, arrays) of a checkpoint whose checksum and format check out."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path} to resume from")
    corrupt = f"checkpoint {path} is corrupt"
    try:
        with np.load(path, allow_pickle=False) as z:
            files = dict((k, z[k]) for k in z.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise CheckpointError(f"{corrupt} (cannot be read: {exc}); remove it or start "
                              "afresh") from exc
    try:
        meta_s = str(files.pop("meta"))
        checksum = str(files.pop("checksum"))
    except KeyError as exc:
        raise CheckpointError(f"{corrupt} (missing entry {exc})") from exc
    if _checksum(meta_s, files) != checksum:
        raise CheckpointError(f"{corrupt} (checksum mismatch); remove it or start afresh")
    meta = json.loads(meta_s)
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"checkpoint {path} has format {found!r}, expected "
                              f"{CHECKPOINT_FORMAT!r}")
    return meta, files


def load_checkpoint(path, fingerprint: dict | None = None) -> IterationState:
    """Read and verify a checkpoint (format, SHA-256 checksum, and, when given, that its
    fingerprint equals ``fingerprint``). Raises :class:`CheckpointError` otherwise."""
    path = Path(path)
    meta, files = _read_verified(path)
    if fingerprint is not None and meta.get("fingerprint") != fingerprint:
        diff = describe_differences(meta.get("fingerprint") or {}, fingerprint)
        raise CheckpointError(
            f"checkpoint {path} was written for a different calibration ("
            + "; ".join(diff) + "); it is not used: rerun with the same preset, data and "
            "settings, or start afresh")
    try:
        n_state = int(meta["n_state"])
        return IterationState(
            iteration=int(meta["iteration"]), params=files["theta"], gaps=files["gaps"],
            model=files["model"], G=files["G"], has_G=bool(meta["has_G"]), W=files["W"],
            beta=float(meta["beta"]), x=files["x"],
            state=[files[f"state_{k}"] for k in range(n_state)],
            eq_residual=float(meta["eq_residual"]),
            eq_iterations=int(meta["eq_iterations"]), trade_shares=files["trade_shares"],
            history=list(meta["history"]), elapsed=float(meta["elapsed"]),
            status=str(meta["status"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt (missing or malformed "
                              f"entry {exc})") from exc


def checkpoint_fingerprint(path) -> dict:
    """The fingerprint stored in a (verified) checkpoint."""
    return _read_verified(Path(path))[0]["fingerprint"]
