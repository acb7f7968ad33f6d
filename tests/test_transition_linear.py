"""The public linear layer of transitions (issue 30): the general-equilibrium
sequence-space Jacobians G (``tn.sequence_jacobian``) against jvps of the nonlinear path
and the first-order transition (``tn.linear_transition``) against the nonlinear solution
for a small shock; batched transitions (``tn.solve_transitions``) against one-at-a-time
ones. Two-country economy without TFP scaling of the grid (TFP inputs), Na = 40, T = 60."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hat_jax
from hat_jax import transition as tn

from conftest import NA_TEST

T = 60
PATH_OUTPUTS = ("W", "R", "R_next", "trade_shares", "PC", "bond_demand", "Y")


@pytest.fixture(scope="module")
def world():
    """(equilibrium, the no-shock transition, G for both inputs and every output)."""
    eq = hat_jax.solve_equilibrium(hat_jax.two_country(Na=NA_TEST, scale_by_tfp=False))
    still = tn.solve_transition(eq, horizon=T)
    sj = tn.sequence_jacobian(eq, inputs=("log_d", "A"), horizon=T, cache=still)
    return eq, still, sj


def _outputs(out):
    """The path outcomes as G's outputs, [T, n] each."""
    return {"W": out.W, "R": out.R[:, None], "R_next": out.R_next[:, None],
            "trade_shares": out.trade_shares.reshape(out.W.shape[0], -1), "PC": out.PC,
            "bond_demand": out.bond_demand, "Y": out.Y}


def test_sequence_jacobian_columns_equal_jvps_of_the_path(world):
    """Columns of G (a trade-cost pair at date 3, TFP of each country at dates 0 and 10)
    equal the implicit-function response through the nonlinear path: dH/dZ and the
    outputs by forward-mode jvp of ``path_outcomes`` (the inputs moved at one date),
    dU = -J^{-1} dH/dZ with the stationary Jacobian (itself checked against the
    one-jvp-per-column Jacobian in test_transition), to 1e-8 of each column's scale."""
    eq, still, sj = world
    econ, end = still.economy, tn.endpoint(still.initial)
    hopts = hat_jax.model.household_options(econ, tol=1e-12)
    N = econ.N
    d0 = jnp.broadcast_to(econ.d, (T + 1, N, N))
    A0 = jnp.broadcast_to(econ.A, (T + 1, N))

    def f(U, d, A):
        out = tn.path_outcomes(U, econ, tn.ShockPath({"d": d, "A": A}), end, end, hopts)
        return out.residuals, _outputs(out)

    cols = [("log_d", 3, 0), ("A", 0, 0), ("A", 10, 1)]   # pair 0 = (Home, Foreign)
    dd = np.zeros((len(cols), T + 1, N, N))
    dA = np.zeros((len(cols), T + 1, N))
    for c, (z, s, k) in enumerate(cols):
        if z == "log_d":
            dd[c, s, 0, 1] = float(econ.d[0, 1])
        else:
            dA[c, s, k] = float(econ.A[k])
    # tangents stacked with their negatives (see test_linear_path_response_equals_the_path_jvp)
    two = lambda x: jnp.concatenate([jnp.asarray(x), -jnp.asarray(x)])
    U = still.U
    zero = jnp.zeros((2 * len(cols),) + U.shape)
    jvp = jax.jit(jax.vmap(lambda u, a, b: jax.jvp(f, (U, d0, A0), (u, a, b))[1]))
    dH, _ = jvp(zero, two(dd), two(dA))
    lu = jax.scipy.linalg.lu_factor(still.jacobian)
    dU = -jax.vmap(lambda h: jax.scipy.linalg.lu_solve(lu, h.reshape(-1)))(dH).reshape(
        zero.shape)
    _, dO = jvp(dU, two(dd), two(dA))
    for c, (z, s, k) in enumerate(cols):
        for o in PATH_OUTPUTS:
            want = np.asarray(dO[o][c])
            got = np.asarray(sj.G[o][z][:, :, s, k])
            scale = max(np.abs(want).max(), 1e-12)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-8 * scale, err_msg=(o, z, s))
    assert np.abs(np.asarray(dO["W"])).max() > 1e-3  # real responses
    assert sj.matrix("W", "A").shape == (T * N, T * N)
    with pytest.raises(ValueError, match=r"outputs must be a non-empty subset.*'C'"):
        tn.sequence_jacobian(eq, outputs=("C",), horizon=T)


def test_linear_transition_matches_the_nonlinear_path(world):
    """A 0.1% temporary shock (Home's cost of Foreign goods and Home's TFP, rho = 0.7)
    solved nonlinearly: the first-order path G Z is within 1e-3 of each output's largest
    deviation at every date, R within 1.5e-3 (measured 1.19e-3 at date 2; W 5.7e-4,
    trade shares 8.4e-4, PC 5.5e-4, NFA 5.6e-4). The gaps are the nonlinear terms:
    G's columns equal the path's jvps to 1e-8 (above), and a centered response
    (+/- shock) narrows them only to 1e-4..4e-4, the path map being piecewise smooth
    (lottery brackets, the borrowing limit)."""
    eq, still, sj = world
    econ = still.economy
    ss = _outputs(still.path)
    d = np.asarray(econ.d).copy()
    d[0, 1] *= np.exp(1e-3)
    change = hat_jax.Change({"d": d, "A": np.asarray(econ.A) * np.array([np.exp(1e-3), 1.0])},
                            "a 0.1% shock")
    shock = tn.shock_path(econ, change, T, rho=0.7)
    nl = tn.solve_transition(eq, shock, cache=still, opts=tn.TransitionOptions(tol=1e-13))
    lin = tn.linear_transition(eq, shock, jacobian=sj)
    for o in PATH_OUTPUTS:
        np.testing.assert_allclose(sj.steady[o], ss[o][0], rtol=0, atol=1e-10)
        dev = np.asarray(_outputs(nl.path)[o]) - np.asarray(ss[o])
        scale = np.abs(dev).max()
        assert scale > 1e-7, o
        gap = np.abs(np.asarray(lin.deviations[o]) - dev).max(axis=1) / scale
        assert gap.max() <= (1.5e-3 if o.startswith("R") else 1e-3), (o, gap.max())
        np.testing.assert_allclose(lin.paths[o], sj.steady[o][None] + lin.deviations[o])
    with pytest.raises(ValueError, match=r"returns to the initial economy.*T=60"):
        tn.linear_transition(eq, tn.shock_path(econ, change, T), jacobian=sj)


def test_batched_transitions_equal_one_at_a_time(world, monkeypatch):
    """Three permanent cost cuts (5% and 10% global, 10% of Home's cost of Foreign
    goods) solved as one batch sharing one Jacobian equal the one-at-a-time solves
    (each from the same cache, to residuals of 1e-12 of GDP) to 1e-10 at every date;
    per-shock results and a bad batch are reported by shock. The batch is compacted
    two shocks at a time (the last chunk padded), as on the CPU with more shocks."""
    from hat_jax.transition import _batch

    monkeypatch.setattr(_batch, "CPU_CHUNK", 2)
    eq, still, _ = world
    econ = still.economy
    d = np.asarray(econ.d).copy()
    d[0, 1] *= 0.9
    changes = [hat_jax.Change.global_cut(econ, 0.05), hat_jax.Change.global_cut(econ, 0.1),
               hat_jax.Change({"d": d}, "Home's cost of Foreign goods -10%")]
    opts = tn.TransitionOptions(tol=1e-12)
    batch = tn.solve_transitions(eq, changes, T, opts=opts, cache=still)
    assert len(batch) == 3 and batch.converged.all() and batch.initial is still.initial
    for k, c in enumerate(changes):
        one = tn.solve_transition(eq, c, horizon=T, opts=opts, cache=still,
                                  terminal=batch.terminals[k])
        tk = batch.transition(k)
        assert tk.converged and tk.iterations >= 1
        for a, b in ((tk.path.W, one.path.W), (tk.path.R_next, one.path.R_next),
                     (tk.path.trade_shares, one.path.trade_shares),
                     (tk.path.bond_demand, one.path.bond_demand)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match=r"changes\[1\] moves other fields"):
        tn.solve_transitions(eq, [changes[0], hat_jax.Change(
            {"A": np.asarray(econ.A) * 1.01}, "tfp")], T)
