"""``hat sweep --transition``: the perfect-foresight transition of every scenario instead
of its stationary counterfactual (issue 30 item 4), in the same resumable folder.

Each chunk of ``--batch`` scenarios is one :func:`hat_jax.transition.solve_transitions`
call (all paths iterated together); the sequence-space Jacobian is computed once, by the
first chunk this process solves, and handed to the next chunks (its cache), so a sweep of
K transitions costs one Jacobian plus K batched paths. Rows: :func:`hat_jax.scenarios.
transition_frame` (per-scenario convergence, terminal gap, the path at a few horizons).
"""

from __future__ import annotations

import numpy as np

from hat_jax import scenarios as sc
from hat_jax import transition as tn
from hat_jax.scenarios import _store as sst

__all__ = ["add_transition_arguments", "check_path_arguments", "check_transition_arguments",
           "transition_manifest", "solve_transition_chunks"]


def add_transition_arguments(c) -> None:
    """The ``--transition`` group of ``hat sweep``."""
    t = c.add_argument_group("transitions (--transition)")
    t.add_argument("--transition", action="store_true",
                   help="solve the perfect-foresight transition after each scenario (beta "
                   "fixed; one shared sequence-space Jacobian, the paths batched) instead of "
                   "its stationary counterfactual; rows: convergence, terminal gap, W, home "
                   "share and NFA at horizons 0, 1, 5, 10, 20 and the terminal equilibrium")
    t.add_argument("--T", "--horizon", dest="T", type=int, default=tn.DEFAULT_HORIZON,
                   help=f"with --transition: the horizon T (default {tn.DEFAULT_HORIZON})")
    t.add_argument("--announce", type=int, default=0, metavar="S",
                   help="with --transition: the changes take effect at date S (news at 0)")
    t.add_argument("--temporary", type=float, default=None, metavar="RHO",
                   help="with --transition: temporary changes decaying at rate RHO in [0, 1)")
    t.add_argument("--path-tol", dest="path_tol", type=float, default=None, metavar="TOL",
                   help="with --transition: max |market residual| / world GDP at every "
                   f"date (default {float(tn.TransitionOptions().tol):g})")


def check_path_arguments(args) -> None:
    """The shock-path flags that ``hat transition`` and ``hat sweep --transition`` share:
    --T (a valid horizon), --announce S (0 <= S < T), --temporary RHO (in [0, 1))."""
    tn.check_horizon(args.T)
    if not 0 <= args.announce < args.T:
        raise ValueError(f"--announce must satisfy 0 <= S < T={args.T}, got {args.announce}")
    if args.temporary is not None and not (np.isfinite(args.temporary)
                                           and 0.0 <= args.temporary < 1.0):
        raise ValueError(f"--temporary RHO must lie in [0, 1), got {args.temporary!r}")


def check_transition_arguments(args) -> None:
    """ValueError naming the option for a bad or misplaced transition option."""
    moved = [f for f, on in (("--T", args.T != tn.DEFAULT_HORIZON),
                             ("--announce", args.announce != 0),
                             ("--temporary", args.temporary is not None),
                             ("--path-tol", args.path_tol is not None)) if on]
    if not args.transition:
        if moved:
            raise ValueError(f"{', '.join(moved)} go(es) with --transition")
        return
    check_path_arguments(args)
    _options(args)   # --path-tol
    if args.ev:
        raise ValueError("--ev is not available with --transition yet (use hat transition "
                         "--ev for one scenario's transition EV)")
    if args.draws is not None:
        raise ValueError("--transition needs trade-cost or country-field scenarios "
                         "(--scenarios, --every-unilateral, --global-cuts), not --draws")


def _options(args) -> tn.TransitionOptions:
    if args.path_tol is None:
        return tn.TransitionOptions()
    if not (np.isfinite(args.path_tol) and args.path_tol > 0):
        raise ValueError(f"--path-tol must be > 0, got {args.path_tol!r}")
    return tn.TransitionOptions(tol=args.path_tol)


def transition_manifest(args) -> dict:
    """The manifest's ``options.transition`` (part of the sweep's identity: a folder of
    another horizon or shock timing is refused)."""
    return {"T": int(args.T), "announce": int(args.announce), "temporary": args.temporary,
            "tol": float(_options(args).tol)}


def solve_transition_chunks(args, s, mine, B, man, baseline, eq_opts, progress) -> list:
    """Solve the chunks ``mine`` of the scenario set ``s`` as transitions; each chunk's
    rows are written to ``--out`` as soon as they are known. Returns the frames."""
    frames, cache = [], None
    opts = _options(args)
    for c in mine:
        block = sc.select_scenarios(s, slice(c * B, (c + 1) * B))
        res = sc.solve_transition_scenarios(baseline, block, args.T, announce=args.announce,
                                            rho=args.temporary, opts=opts, eq_opts=eq_opts,
                                            cache=cache)
        cache = res.cache
        frame = sc.transition_frame(res, block.names, opts)
        if args.out is not None:
            sst.write_chunk(args.out, man, c, frame)
        frames.append(frame)
        progress.update(block.K)
    return frames
