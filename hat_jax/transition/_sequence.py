"""The public linear layer (issue 30, item 3): the general-equilibrium sequence-space
Jacobians G of the transition at a stationary equilibrium (model.md s.12, linearized).

Inputs Z, one vector per date t = 0..T-1 (zero from T on: the economy is back at the
stationary one): ``"log_d"``, d log d_ij,t of every trade cost pair i != j (importer i,
exporter j, row-major), and ``"A"``, d log A_i,t by country (needs
``scale_by_tfp=False``, as a TFP path does). Outputs O, one vector per date:
``"W"`` (wages, mean one), ``"R"`` (R_t paid at t; R_0 is predetermined), ``"R_next"``
(R_{t+1}), ``"trade_shares"`` (pi_ij,t row-major), ``"PC"`` (aggregate consumption
expenditure), ``"bond_demand"`` (net foreign assets A'_i,t), ``"Y"`` (output).

With the household block's Jacobians by the fake-news algorithm
(:func:`~hat_jax.transition._fakenews.block_jacobian`: the market residuals H and the
outputs o, each against the unknowns U and the inputs Z, one pass),

    dU = -J_HU^{-1} J_HZ dZ,      G_OZ = J_OZ + J_OU dU/dZ,

and the prices W, R read off dU. ``G[o][z]`` is [T, n_o, T, n_z]: the response of
output o at date t to input z at date s; :meth:`SequenceJacobian.matrix` gives the
[T n_o, T n_z] matrix (date-major), so impulse responses to any input paths, or a
time-series likelihood, are matrix products (:meth:`SequenceJacobian.apply`).
:func:`linear_transition` is the first-order path of a shock that returns to the
initial economy (temporary changes, or any :class:`ShockPath` whose row T is the
initial economy).
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._baseline import as_baseline
from .._change import Change
from .._compiled import compiled
from .._deprecation import renamed_keywords, warn_renamed
from .._equilibrium import wages_from_x, x_from_wages
from .._params import household_options, household_problems
from ._fakenews import _residual_map, block_jacobian, unknown_columns
from ._path import ShockPath, endpoint
from ._shocks import DEFAULT_HORIZON, check_horizon, shock_path
from ._solve import TransitionOptions, residual_jacobian

__all__ = ["SequenceJacobian", "LinearTransition", "sequence_jacobian", "linear_transition",
           "INPUTS", "OUTPUTS"]

#: The inputs of :func:`sequence_jacobian` (log deviations by date).
INPUTS = ("log_d", "A")
#: The outputs of :func:`sequence_jacobian` (level deviations by date).
OUTPUTS = ("W", "R", "R_next", "trade_shares", "PC", "bond_demand", "Y")


class SequenceJacobian(eqx.Module):
    """``G[output][input]`` [T, n_out, T, n_in]: d output_t / d input_s in general
    equilibrium at the stationary equilibrium ``steady`` (dict of the outputs' stationary
    values [n_out]); inputs / outputs: their names; labels: each name's components
    (countries, or (importer, exporter) pairs); horizon: T."""

    G: dict
    steady: dict
    inputs: tuple = eqx.field(static=True)
    outputs: tuple = eqx.field(static=True)
    labels: dict = eqx.field(static=True)
    horizon: int = eqx.field(static=True)

    def matrix(self, output_name: str, input_name: str) -> jax.Array:
        """``G[output_name][input_name]`` as a [T n_out, T n_in] matrix (rows t n_out + k,
        columns s n_in + l)."""
        g = self.G[output_name][input_name]
        return g.reshape(g.shape[0] * g.shape[1], -1)

    def apply(self, paths: dict) -> dict:
        """The first-order output deviations [T, n_out] for input deviations ``paths``
        ({input: [T, n_in]}, inputs left out are zero): sum over inputs of G Z."""
        unknown = set(paths) - set(self.inputs)
        if unknown:
            raise ValueError(f"paths has inputs {sorted(unknown)} this SequenceJacobian "
                             f"was not computed for (inputs={self.inputs})")
        return {o: sum(jnp.einsum("tksl,sl->tk", self.G[o][z], jnp.asarray(p))
                       for z, p in paths.items()) for o in self.outputs}


def _check_names(names, allowed, what):
    names = (names,) if isinstance(names, str) else tuple(names)
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise ValueError(f"{what} must be a non-empty subset of {allowed}, got {what}={names!r}")
    return names


def _program(economy, end, hopts, horizon, inputs, batch):
    """{output: {input: [T, n_o, T, n_z]}}, the stationary outputs (see the module)."""
    T, N = horizon, economy.N
    pairs = np.array([(i, j) for i in range(N) for j in range(N) if i != j]).reshape(-1, 2)
    n_d = len(pairs) if "log_d" in inputs else 0
    n_a = N if "A" in inputs else 0
    x_ss = jnp.concatenate([x_from_wages(end.W), jnp.reshape(end.R, (1,)),
                            jnp.zeros(n_d + n_a, end.W.dtype)])

    def prob_of(x):
        zd, za = x[N: N + n_d], x[N + n_d:]
        e = economy
        if n_d:
            e = e.replace(d=e.d * jnp.exp(jnp.zeros((N, N), x.dtype)
                                          .at[pairs[:, 0], pairs[:, 1]].set(zd)))
        if n_a:
            e = e.replace(A=e.A * jnp.exp(za))
        return household_problems(e, wages_from_x(x[: N - 1]), x[N - 1], economy.beta)

    def out_of(M, B, Y):
        PC = jnp.sum(M, axis=1)
        return jnp.concatenate([Y, jnp.sum(M, axis=0), jnp.sum(B)[None],
                                (M / PC[:, None]).reshape(-1), PC, B, Y])

    def rows_of(o):
        Dphi = jax.jacfwd(_residual_map)(o[: 2 * N + 1], N)
        n_e = o.shape[0] - 2 * N - 1
        return jnp.block([[Dphi, jnp.zeros((N, n_e), o.dtype)],
                          [jnp.zeros((n_e, 2 * N + 1), o.dtype), jnp.eye(n_e, dtype=o.dtype)]])

    Jx = block_jacobian(economy, end, T, hopts, prob_of, out_of, x_ss, rows_of, batch)
    J_U = unknown_columns(Jx, N)                                     # [t, s, r, N]
    J_Z = Jx[:, :T, :, N:]                                           # [t, s, r, n_z]
    J_HU = J_U[:, :, :N].transpose(0, 2, 1, 3).reshape(N * T, N * T)
    J_HZ = J_Z[:, :, :N].transpose(0, 2, 1, 3).reshape(N * T, -1)
    dU = -jnp.linalg.solve(J_HU, J_HZ).reshape(T, N, T, n_d + n_a)  # [t, k, s, z]
    G_e = jnp.einsum("tsek,skqz->teqz", J_U[:, :, N:], dU) \
        + J_Z[:, :, N:].transpose(0, 2, 1, 3)                        # [t, e, s, z]
    DW = jax.jacfwd(wages_from_x)(x_ss[: N - 1])                     # [N, N-1]
    R_next = dU[:, N - 1:N]
    G = {"W": jnp.einsum("wk,tksz->twsz", DW, dU[:, : N - 1]), "R_next": R_next,
         "R": jnp.concatenate([jnp.zeros_like(R_next[:1]), R_next[:-1]], axis=0)}
    cut = np.cumsum([0, N * N, N, N, N])
    for name, a, b in zip(("trade_shares", "PC", "bond_demand", "Y"), cut[:-1], cut[1:]):
        G[name] = G_e[:, a:b]
    split = {"log_d": slice(0, n_d), "A": slice(n_d, n_d + n_a)}
    G = {o: {z: g[..., split[z]] for z in inputs} for o, g in G.items()}
    o_ss = out_of(*_stationary_flows(economy, end, hopts, prob_of(x_ss)))[2 * N + 1:]
    steady = {"W": end.W, "R": jnp.reshape(end.R, (1,)), "R_next": jnp.reshape(end.R, (1,))}
    steady.update({n: o_ss[a:b] for n, a, b in zip(("trade_shares", "PC", "bond_demand", "Y"),
                                                   cut[:-1], cut[1:])})
    return G, steady


def _stationary_flows(economy, end, hopts, prob):
    from .._aggregates import aggregate
    from .._household import HouseholdSolution, policies
    hh = jax.vmap(policies, in_axes=(0, 0, None))(end.y, prob, hopts)
    agg = aggregate(HouseholdSolution(*hh, None, None, None, None), end.lam, prob,
                    economy.L, economy.Na)
    return agg.M, agg.bond_demand, agg.Y


_program_jit = jax.jit(_program, static_argnames=("horizon", "inputs", "batch"))


@renamed_keywords(T="horizon")
def sequence_jacobian(baseline, inputs=INPUTS, outputs=OUTPUTS, horizon: int = DEFAULT_HORIZON,
                      *legacy, opts: TransitionOptions | None = None, eq_opts=None, cache=None,
                      batch: int = 64) -> SequenceJacobian:
    """The general-equilibrium sequence-space Jacobians G from the input paths to the
    output paths at the stationary equilibrium of ``baseline`` (a
    :class:`~hat_jax.Baseline` or Equilibrium; see the module for the names and the
    equations), over ``horizon`` dates T. The initial equilibrium is re-solved at the
    transition's household tolerance as :func:`solve_transition` does, or taken from
    ``cache`` (a :class:`TransitionCache` or :class:`Transition`).

    Deprecated: ``sequence_jacobian(U, economy, shock, initial, terminal, hopts)`` (an
    array first), the exact dH/dU at a path, is now :func:`residual_jacobian`."""
    if isinstance(baseline, (jax.Array, np.ndarray)):
        warn_renamed("sequence_jacobian(U, economy, shock, initial, terminal, hopts)",
                     "residual_jacobian(U, economy, shock, initial, terminal, hopts)")
        if len(legacy) == 3:   # batch given positionally, as the old signature allowed
            *legacy, batch = legacy
        return residual_jacobian(baseline, inputs, outputs, horizon, *legacy, batch=batch)
    from ._driver import _as_cache, endpoint_equilibria, stationary_shock
    T = check_horizon(horizon)
    inputs = _check_names(inputs, INPUTS, "inputs")
    outputs = _check_names(outputs, OUTPUTS, "outputs")
    opts = TransitionOptions() if opts is None else opts
    b = as_baseline(baseline)
    econ = b.economy
    if "A" in inputs and bool(econ.scale_by_tfp):
        raise ValueError("inputs 'A' (TFP paths) need an economy with scale_by_tfp=False: "
                         "with the reference country scaling the asset grid moves with A")
    cache = _as_cache(cache)
    initial = endpoint_equilibria(b, stationary_shock(econ, 2), opts, eq_opts,
                                  cache=cache)[1]
    hopts = household_options(econ, tol=opts.hh_tol)
    args = (econ, endpoint(initial), hopts)
    static = dict(horizon=T, inputs=inputs, batch=max(1, batch // 4))
    G, steady = compiled(_program_jit, args, static=static)(*args)
    N = econ.N
    names = tuple(econ.countries)
    pairs = tuple((names[i], names[j]) for i in range(N) for j in range(N) if i != j)
    labels = {"log_d": pairs, "A": names, "W": names, "R": ("R",), "R_next": ("R_next",),
              "trade_shares": tuple((a, c) for a in names for c in names), "PC": names,
              "bond_demand": names, "Y": names}
    return SequenceJacobian({o: G[o] for o in outputs}, {o: steady[o] for o in outputs},
                            inputs, outputs, {k: labels[k] for k in inputs + outputs}, T)


class LinearTransition(NamedTuple):
    """The first-order transition: deviations {output: [T, n_out]} from the stationary
    values, paths (levels: stationary + deviation), inputs (the input deviations
    {input: [T, n_in]}), jacobian (the :class:`SequenceJacobian` used)."""

    deviations: dict
    paths: dict
    inputs: dict
    jacobian: SequenceJacobian


def shock_inputs(economy, shock: ShockPath, inputs) -> dict:
    """The input deviations {"log_d": [T, pairs], "A": [T, N]} of a shock path
    (ValueError if it moves other fields, or does not return to the initial economy)."""
    N, T = economy.N, shock.horizon
    other = set(shock.fields) - {"d", "A"}
    if other:
        raise ValueError(f"linear_transition handles trade costs d and TFP A; the shock "
                         f"moves {sorted(other)}")
    out = {}
    for name, field, key in (("d", "d", "log_d"), ("A", "A", "A")):
        if name not in shock.fields:
            continue
        x = np.log(np.asarray(shock.fields[field]) / np.asarray(getattr(economy, field)))
        if np.max(np.abs(x[T])) > 0:
            raise ValueError(f"linear_transition needs a shock that returns to the initial "
                             f"economy by T={T} (a temporary change, rho=...); this one "
                             f"changes {field} for good (use solve_transition)")
        if key not in inputs:
            raise ValueError(f"the shock moves {field}, which is not among the "
                             f"SequenceJacobian's inputs {inputs}")
        if key == "log_d":
            x = x[:, ~np.eye(N, dtype=bool)]
        out[key] = jnp.asarray(x[:T])
    return out


@renamed_keywords(T="horizon")
def linear_transition(baseline, change: Change | ShockPath, horizon: int = DEFAULT_HORIZON, *,
                      rho: float | None = None, announce: int = 0,
                      jacobian: SequenceJacobian | None = None, **kwargs) -> LinearTransition:
    """The first-order transition after ``change`` (a :class:`~hat_jax.Change` with
    ``rho``, the AR(1) decay of a temporary change, and ``announce``, or a
    :class:`ShockPath`): G applied to the shock's input paths. jacobian: a
    :class:`SequenceJacobian` of the same baseline and horizon to reuse (else computed,
    ``kwargs`` as :func:`sequence_jacobian`)."""
    b = as_baseline(baseline)
    shock = change if isinstance(change, ShockPath) else shock_path(
        b.economy, change, horizon, announce=announce, rho=rho)
    if jacobian is None:
        jacobian = sequence_jacobian(b, horizon=shock.horizon, **kwargs)
    if jacobian.horizon != shock.horizon:
        raise ValueError(f"jacobian has horizon T={jacobian.horizon}, the shock "
                         f"T={shock.horizon}")
    z = shock_inputs(b.economy, shock, jacobian.inputs)
    dev = jacobian.apply(z)
    paths = {o: jacobian.steady[o][None] + dev[o] for o in jacobian.outputs}
    return LinearTransition(dev, paths, z, jacobian)
