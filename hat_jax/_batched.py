"""Many equilibria at once: K economies with a leading scenario axis, solved by one
jitted program (the Newton of :mod:`hat_jax._newton`, :func:`~hat_jax._newton.run_batched`),
with the scenario axis sharded over local devices.

Every leaf of the batched :class:`~hat_jax._params.Economy` carries the scenario axis
(build it with :func:`stack_economies`; generic over the Economy pytree, so a new field
is batched like the others). Each scenario has its own converged / iterations /
residual; a scenario that fails stops at ``max_iter`` without touching the others.

Strategy (``strategy``): ``"vmap"`` runs the K Newton iterations in lock step (one
``while_loop`` over the batch, :func:`~hat_jax._newton.run_batched`): every scenario's
household problems are solved as one batch at every iteration, which keeps an
accelerator busy, but a batch runs to its slowest member's iteration count (and inner
household loops to the slowest scenario's sweep count). ``"map"`` runs the scenarios
one after another inside the same compiled program (``lax.map`` of the single-economy
Newton, :func:`~hat_jax._newton.run`): each takes only its own iterations, which is
what pays on a CPU, where a batched kernel is no faster than a loop. ``"auto"`` (the
default) chooses ``"map"`` on the CPU and ``"vmap"`` on an accelerator
(:mod:`hat_jax._backend`). Both give the same numbers (the same steps per scenario).

Devices: the block of scenarios is padded to a multiple of the device count (with
copies of its last scenario, dropped afterwards) and split over a one-axis mesh of
local devices with ``jax.shard_map``: each device runs its own while loop on its share,
no collective communication, so the results do not depend on the number of devices.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from . import _newton
from ._backend import STRATEGIES, resolve_strategy
from ._equilibrium import Equilibrium, EquilibriumOptions, _finish, _newton_system, _start
from ._params import Economy, validate_economy
from ._warm import check_inverses
from ._scenario_start import unknowns_count
from ._start import Start

__all__ = ["stack_economies", "economy_at", "batch_size_of", "pad_batch", "local_mesh",
           "solve_equilibria", "resolve_strategy", "STRATEGIES"]


def stack_economies(economies) -> Economy:
    """One :class:`Economy` whose every array leaf has a leading scenario axis (static
    fields must agree: grid size, labels, cost convention)."""
    economies = list(economies)
    if not economies:
        raise ValueError("no scenarios: need at least one economy to stack")
    static = {(e.Na, e.countries, e.cost_floor) for e in economies}
    if len(static) > 1:
        raise ValueError("the scenarios' economies differ in a static field (Na, countries "
                         f"or cost_floor): {sorted(map(str, static))}")
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *economies)


def economy_at(economies: Economy, k: int) -> Economy:
    """Scenario k of a stacked economy."""
    return jax.tree_util.tree_map(lambda x: x[k], economies)


def batch_size_of(tree) -> int:
    """The leading (scenario) axis length of a stacked pytree."""
    return int(jax.tree_util.tree_leaves(tree)[0].shape[0])


def pad_batch(tree, size: int):
    """``tree`` with its leading axis padded to ``size`` by repeating the last entry."""
    k = batch_size_of(tree)
    if k == size:
        return tree
    return jax.tree_util.tree_map(
        lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], size - k, axis=0)]), tree)


@functools.lru_cache(maxsize=8)
def local_mesh(n_devices: int | None = None) -> Mesh:
    """A one-axis mesh (axis ``"scenario"``) of the first ``n_devices`` local devices
    (default: all of them)."""
    devs = jax.local_devices()
    n = len(devs) if n_devices is None else int(n_devices)
    if not 1 <= n <= len(devs):
        raise ValueError(f"devices must be between 1 and the {len(devs)} local device(s), "
                         f"got devices={n_devices!r}")
    return Mesh(np.array(devs[:n]), ("scenario",))


def _block(economies, x0, s0, R_fixed, opts: EquilibriumOptions, J0=None, inverses=None,
           strategy: str = "vmap") -> Equilibrium:
    """The equilibria of one block of scenarios (leading axis), on one device; J0: the
    Jacobian every scenario's Newton starts from (None: an exact one at its start);
    inverses: the chord steps of every scenario's inner solves (hat_jax._warm), shared."""
    f = lambda x, s, e: _newton_system(x, e, opts, R_fixed, s, inverses)
    if strategy == "map":
        def one(args):
            xk, sk, ek = args
            return _newton.run(xk, sk, lambda x, s: f(x, s, ek), opts.tol, opts.max_iter,
                               opts.jacobian_reuse, opts.max_step, J0=J0, block=opts.block)
        c = lax.map(one, (x0, s0, economies))
    else:
        c = _newton.run_batched(x0, s0, f, economies, opts.tol, opts.max_iter,
                                opts.jacobian_reuse, opts.max_step, J0, opts.block)
    x, s = jax.vmap(_newton.solution)(c)
    fin = lambda x_, s_, it, h, e: _finish(x_, s_, it, h, e, R_fixed, opts, None, inverses)
    return jax.vmap(fin)(x, s, c.it, c.history, economies)


def _starts(economies, opts, start: Start):
    """Unconstrained starting unknowns and household warm starts of every scenario: the
    one-economy start (:func:`hat_jax._equilibrium._start`) mapped over the scenarios (a
    given household state is shared by all)."""
    x0, R_fixed, s0 = jax.vmap(_start, in_axes=(0, None, None),
                               out_axes=(0, None, 0))(economies, opts, start)
    return x0, R_fixed, s0


@functools.lru_cache(maxsize=8)
def _program(n_devices: int, strategy: str):
    """The jitted block solver on ``n_devices`` local devices (1: plain jit)."""
    block = functools.partial(_block, strategy=strategy)

    def solve(economies, start, opts):
        J0 = None if start.J is None else jax.lax.stop_gradient(start.J)
        inverses = jax.lax.stop_gradient(start.inverses)
        x0, R_fixed, s0 = _starts(economies, opts, start._replace(J=None, inverses=None))
        if n_devices == 1:
            return block(economies, x0, s0, R_fixed, opts, J0, inverses)
        S, P = PartitionSpec("scenario"), PartitionSpec()
        sharded = jax.shard_map(block, mesh=local_mesh(n_devices),
                                in_specs=(S, S, S, P, P, P, P), out_specs=S, check_vma=False)
        return sharded(economies, x0, s0, R_fixed, opts, J0, inverses)

    return jax.jit(solve)


def solve_equilibria(economies: Economy, opts: EquilibriumOptions, start: Start | None = None,
                     *, devices: int | None = 1, pad_to: int = 1,
                     validate: bool = True, strategy: str = "auto") -> Equilibrium:
    """The stationary equilibria of K economies (a stacked :class:`Economy`, leading
    axis K), every one started from the same :class:`~hat_jax.Start` (prices, one
    economy's household state and Jacobian, e.g. ``Start.from_baseline(b)``; empty
    fields: the default guess, the cold start and an exact Jacobian at each scenario's
    start; a Jacobian is kept while its Broyden-updated steps deliver, see
    :mod:`hat_jax._scenario_start`).

    Returns an :class:`~hat_jax.Equilibrium` whose every array has the leading axis K,
    with per-scenario ``converged``, ``iterations``, ``residual`` (never raises on a
    scenario that fails). devices: local devices to shard the scenarios over (None: all).
    pad_to: compile for at least this many scenarios (blocks of one size share a program).
    validate: check every scenario's economy first (ValueError naming the scenario).
    strategy: ``"auto"`` (default), ``"vmap"`` or ``"map"`` (module docstring).
    """
    strategy = resolve_strategy(strategy)
    K = batch_size_of(economies)
    if validate:
        for k in range(K):
            try:
                validate_economy(economy_at(economies, k))
            except ValueError as exc:
                raise ValueError(f"scenario {k}: {exc}") from None
    mesh = local_mesh(devices)
    n = mesh.devices.size
    size = -(-max(K, int(pad_to)) // n) * n
    start = Start() if start is None else start
    if start.J is not None:
        n_x = unknowns_count(len(economies.countries), opts.regime,
                             economies.tariffs is not None)
        if np.shape(start.J) != (n_x, n_x):
            raise ValueError(f"Start.J must be the ({n_x}, {n_x}) Jacobian of the scenarios' "
                             f"unknowns, got shape Start.J.shape={np.shape(start.J)}")
        start = start._replace(J=jnp.asarray(start.J, jnp.float64))
    check_inverses(start.inverses, economy_at(economies, 0))
    args = (pad_batch(economies, size), start, opts.replace(verbose=False))
    if n > 1:  # scenarios split over the mesh, everything else on every device
        split, copy = NamedSharding(mesh, PartitionSpec("scenario")), NamedSharding(mesh,
                                                                                   PartitionSpec())
        args = (jax.device_put(args[0], split), *jax.device_put(args[1:], copy))
    eq = _program(n, strategy)(*args)
    if size != K:
        eq = jax.tree_util.tree_map(lambda x: x[:K], eq)
    return eq
