"""World equilibrium: market clearing, Walras' law, national accounts, symmetry,
log-utility theory, regimes and modes, convergence reporting."""

import jax
import jax.numpy as jnp
from jax import lax
import numpy as np
import pytest

import hat_jax
from hat_jax import EquilibriumOptions

from conftest import NA_TEST


def _accounts(eq):
    agg = eq.world.aggregates
    R = np.broadcast_to(np.asarray(eq.R), (eq.economy.N,))
    return (np.asarray(agg.Y), np.asarray(agg.PC), np.asarray(agg.bond_demand),
            np.asarray(agg.assets), R, np.asarray(agg.exports), np.asarray(agg.imports))


def test_two_country_equilibrium_clears_markets(two_country_eq):
    eq = two_country_eq
    assert bool(eq.converged)
    gdp = float(np.sum(eq.world.aggregates.Y))
    M = np.asarray(eq.world.aggregates.M)
    Y = np.asarray(eq.world.aggregates.Y)
    assert np.max(np.abs(Y - M.sum(0))) / gdp < 1e-9           # every goods market
    assert abs(float(np.sum(eq.world.aggregates.bond_demand))) / gdp < 1e-9  # bonds
    assert abs(float(eq.walras_residual)) < 1e-9               # the dropped market (Walras)
    assert float(np.mean(eq.W)) == pytest.approx(1.0, abs=1e-14)  # numeraire
    assert float(eq.economy.beta) * float(eq.R) < 1.0


def test_symmetric_countries_are_identical(two_country_eq):
    eq = two_country_eq
    np.testing.assert_allclose(np.asarray(eq.W), [1.0, 1.0], atol=1e-10)
    S = np.asarray(eq.world.aggregates.trade_shares)
    assert S[0, 1] == pytest.approx(S[1, 0], abs=1e-10)
    np.testing.assert_allclose(S.sum(1), 1.0, atol=1e-14)
    lam = np.asarray(eq.world.distribution.lam)
    np.testing.assert_allclose(lam[0], lam[1], atol=1e-10)
    c = np.asarray(eq.world.households.c)
    np.testing.assert_allclose(c[0], c[1][..., ::-1], atol=1e-9)  # home <-> foreign variety
    B = np.asarray(eq.world.aggregates.bond_demand)
    assert abs(B[0]) < 1e-9 and abs(B[1]) < 1e-9


def test_national_accounts_identities(two_country_eq):
    Y, PC, Bnext, A, R, X, M = _accounts(two_country_eq)
    # budget aggregated: Y = PC + (A' - R A), to 1e-10 of GDP
    np.testing.assert_allclose(Y, PC + Bnext - R * A, atol=1e-10 * Y.sum(), rtol=0)
    # expenditure side at equilibrium: Y = PC + X - M
    np.testing.assert_allclose(Y, PC + X - M, atol=1e-9 * Y.sum(), rtol=0)
    # stationarity: A' = A
    np.testing.assert_allclose(Bnext, A, atol=1e-10)


def test_log_utility_separation_result(two_country_log_eq):
    """gamma = 1: every household's foreign share (choice and expenditure) is
    d^(-1/sigma)/(1 + d^(-1/sigma)), whatever its assets and productivity."""
    eq = two_country_log_eq
    d, sigma = 2.05, 0.25
    target = d ** (-1 / sigma) / (1 + d ** (-1 / sigma))
    hh = eq.world.households
    p = np.asarray(eq.world.problems.p)
    pi = np.asarray(hh.pi)
    np.testing.assert_allclose(pi[0, :, :, 1], target, atol=1e-9, rtol=0)
    spend = np.asarray(hh.c) * pi * p[:, None, None, :]
    share = spend[0, :, :, 1] / spend[0].sum(-1)
    np.testing.assert_allclose(share, target, atol=1e-9, rtol=0)
    S = np.asarray(eq.world.aggregates.trade_shares)
    assert S[0, 1] == pytest.approx(target, abs=1e-9)
    # gravity: M_ij / M_ii = (p_ij / p_ii)^(-1/sigma)
    M = np.asarray(eq.world.aggregates.M)
    assert M[0, 1] / M[0, 0] == pytest.approx((p[0, 1] / p[0, 0]) ** (-1 / sigma), rel=1e-9)


@pytest.fixture(scope="module")
def asymmetric_economy():
    d = np.array([[1.0, 1.6], [1.9, 1.0]])
    return hat_jax.make_economy(d, A=[1.0, 1.2], L=[1.0, 0.6], Na=NA_TEST,
                                countries=hat_jax._presets.TWO_COUNTRY_LABELS)


@pytest.fixture(scope="module")
def asymmetric_eq(asymmetric_economy):
    return hat_jax.solve_equilibrium(asymmetric_economy)


def test_asymmetric_equilibrium_walras_and_accounts(asymmetric_eq):
    eq = asymmetric_eq
    assert bool(eq.converged)
    assert float(eq.residual) < 1e-10
    assert abs(float(eq.walras_residual)) < 1e-9
    Y, PC, Bnext, A, R, X, M = _accounts(eq)
    np.testing.assert_allclose(Y, PC + X - M, atol=1e-9 * Y.sum(), rtol=0)
    # with financial globalization, one country borrows what the other lends
    B = np.asarray(eq.world.aggregates.bond_demand)
    assert abs(B.sum()) < 1e-9 * Y.sum()


def test_beta_mode_inverts_R_mode(asymmetric_economy, asymmetric_eq):
    """Solving beta at the R found in R-mode recovers the economy's beta and prices."""
    opts = EquilibriumOptions(unknown="beta")
    eq = hat_jax.solve_equilibrium(asymmetric_economy.replace(beta=jnp.asarray(0.9)), opts,
                                   hat_jax.Start(R=float(asymmetric_eq.R)))
    assert float(eq.beta) == pytest.approx(0.92, abs=1e-9)
    np.testing.assert_allclose(np.asarray(eq.W), np.asarray(asymmetric_eq.W), atol=1e-9)


def test_newton_path_and_jacobian_reuse(asymmetric_economy, asymmetric_eq):
    """The Newton path is recorded; plain Newton (a Jacobian every iteration) and the
    default (Jacobians reused while steps deliver) reach the same equilibrium."""
    eq = asymmetric_eq
    path = hat_jax.model.newton_path(eq)
    n = int(eq.iterations)
    assert len(path) == n and path[0]["jacobian"] and not path[-1]["jacobian"]
    assert path[-1]["max_residual"] <= 1e-10 and path[-1]["step"] == 0.0
    accepted = [r["max_residual"] for r in path if r["accepted"]]
    assert all(b < a for a, b in zip(accepted, accepted[1:]))  # sufficient decrease
    assert np.all(np.isnan(np.asarray(eq.history)[n:]))
    plain = hat_jax.solve_equilibrium(asymmetric_economy, EquilibriumOptions(jacobian_reuse=0.0))
    assert all(r["jacobian"] for r in hat_jax.model.newton_path(plain)[:-1])
    np.testing.assert_allclose(np.asarray(plain.W), np.asarray(eq.W), atol=1e-10)
    assert float(plain.R) == pytest.approx(float(eq.R), abs=1e-12)
    with pytest.raises(ValueError, match=r"jacobian_reuse must be in \[0, 1\)"):
        EquilibriumOptions(jacobian_reuse=1.0)


def test_jacobian_warm_start(asymmetric_economy, asymmetric_eq):
    """A nearby solve started from a finished one's Newton Jacobian (Start.J) computes no
    Jacobian at all and reaches the equilibrium a cold start reaches; a Start.J of the
    wrong shape is refused by name."""
    near = asymmetric_economy.replace(d=jnp.asarray([[1.0, 1.62], [1.9, 1.0]]))
    J = asymmetric_eq.jacobian
    assert J.shape == (2, 2) and np.all(np.isfinite(np.asarray(J)))
    warm = hat_jax.solve_equilibrium(near, start=hat_jax.Start(W=asymmetric_eq.W, J=J))
    cold = hat_jax.solve_equilibrium(near, start=hat_jax.Start(W=asymmetric_eq.W))
    assert not any(r["jacobian"] for r in hat_jax.model.newton_path(warm))
    assert any(r["jacobian"] for r in hat_jax.model.newton_path(cold))
    np.testing.assert_allclose(np.asarray(warm.W), np.asarray(cold.W), atol=1e-10)
    assert float(warm.R) == pytest.approx(float(cold.R), abs=1e-10)  # both at tol 1e-10
    with pytest.raises(ValueError, match=r"Start.J must be the \(2, 2\) Jacobian.*\(3, 3\)"):
        hat_jax.solve_equilibrium(near, start=hat_jax.Start(J=np.eye(3)))


def test_financial_autarky_balances_trade(asymmetric_economy):
    eq = hat_jax.solve_equilibrium(asymmetric_economy, EquilibriumOptions(regime="autarky"))
    assert np.shape(eq.R) == (2,)
    Y, PC, Bnext, A, R, X, M = _accounts(eq)
    np.testing.assert_allclose(Bnext, 0.0, atol=1e-10 * Y.sum())
    np.testing.assert_allclose(X - M, 0.0, atol=1e-9 * Y.sum())  # trade is balanced
    assert np.all(0.92 * np.asarray(eq.R) < 1)


def test_unconverged_equilibrium_raises_with_diagnostics(asymmetric_economy):
    opts = EquilibriumOptions(max_iter=1)
    with pytest.raises(hat_jax.ConvergenceError,
                       match=r"world equilibrium did not converge .* after 1 Newton iterations: "
                             r"max \|excess demand\|/GDP = "):
        hat_jax.solve_equilibrium(asymmetric_economy, opts)
    eq = hat_jax.solve_equilibrium(asymmetric_economy, opts, throw=False)
    assert not bool(eq.converged) and float(eq.residual) > 1e-10


def test_near_autarky_is_diagnosed_not_solved_silently(two_country_eq):
    """With d = 100 trade is ~2e-8 of GDP: a residual of 1e-10 of GDP would be all of it, so
    the goods markets must also clear relative to trade (trade_tol) and the failure names
    vanishing trade; a normal equilibrium clears relative to trade by far."""
    assert float(two_country_eq.trade_residual) < 1e-6
    far = hat_jax.two_country(d=100.0, Na=NA_TEST)
    with pytest.raises(hat_jax.ConvergenceError, match="Trade has nearly vanished"):
        hat_jax.solve_equilibrium(far, EquilibriumOptions(max_iter=12))
    with pytest.raises(ValueError, match="trade_tol must be a positive number"):
        EquilibriumOptions(trade_tol=0.0)


def test_jacobian_in_blocks_equals_all_at_once(asymmetric_eq):
    """The exact Newton Jacobian pushed one direction at a time (jacobian_block=1: one
    linearization, lax.map over the directions, the memory-bounded form of the large
    worlds) equals the one with all directions vmapped, and central differences."""
    from hat_jax import _equilibrium as E
    from hat_jax import _scenario_start as ss

    b = hat_jax.Baseline.from_equilibrium(asymmetric_eq)
    opts = b.opts.resolved(b.economy).replace(verbose=False)
    x = E.encode(b.W, b.R, b.beta, b.economy, opts, b.T)
    J_all = np.asarray(ss._jacobian_at(b.economy, opts, x, b.state))
    J_one = np.asarray(ss._jacobian_at(b.economy, opts.replace(jacobian_block=1), x, b.state))
    assert J_all.shape == (2, 2)
    np.testing.assert_allclose(J_one, J_all, rtol=0, atol=1e-12 * np.abs(J_all).max())
    h = 1e-5
    r = jax.jit(jax.vmap(lambda y: E.excess_demands(y, b.economy, opts, jnp.asarray(1.0),
                                                    b.state)[0]))
    steps = h * np.concatenate([np.eye(2), -np.eye(2)])
    rr = np.asarray(r(x + steps))
    fd = ((rr[:2] - rr[2:]) / (2 * h)).T
    np.testing.assert_allclose(J_all, fd, rtol=0, atol=1e-5 * np.abs(J_all).max())


def test_jacobian_blocks_that_do_not_divide_the_directions():
    """value_and_jacobian with blocks that do not divide the n = 7 directions equals the
    vmapped Jacobian (pytree outputs, aux), and runs m equal blocks (zero directions
    padded), so that blocks never take more memory than all directions at once: lax.map's
    own split (a block, then the remainder vmapped apart) took more temporaries than the
    vmapped Jacobian here (123 MB in blocks of 4 or 5 against 95 MB), and the
    calibration Jacobian of N = 40 in blocks of 73 of 128 needed 36 GB (15 GB in two
    equal blocks)."""
    from hat_jax._newton import value_and_jacobian

    w = jnp.linspace(0.1, 1.0, 100_000)

    def f(x):
        big = jnp.sin(jnp.outer(w, x))
        return {"a": jnp.sum(big * big, axis=0), "b": jnp.prod(jnp.cos(x))}, jnp.sum(x)

    def g(x):  # tangents carried through a loop, as in the household solve
        body = lambda k, c: jnp.sin(1.0001 * c + jnp.outer(w, x))  # noqa: E731
        c = lax.fori_loop(0, 5, body, jnp.zeros((w.size, x.size)))
        return jnp.sum(c * c, axis=0), None

    x = jnp.linspace(-0.5, 0.7, 7)
    y, J, aux = value_and_jacobian(f, x)
    for block in (1, 3, 4, 5, 6):
        yb, Jb, auxb = value_and_jacobian(f, x, block)
        assert float(auxb) == float(aux) and Jb["a"].shape == (7, 7) and Jb["b"].shape == (7,)
        np.testing.assert_allclose(Jb["a"], J["a"], rtol=1e-14, atol=1e-12)
        np.testing.assert_allclose(Jb["b"], J["b"], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(value_and_jacobian(g, x, 5)[1], value_and_jacobian(g, x)[1],
                               rtol=1e-13, atol=1e-13)
    temp = {b: jax.jit(lambda z, b=b: value_and_jacobian(g, z, b)[1]).lower(x).compile()
            .memory_analysis().temp_size_in_bytes for b in (1, 4, 5, 6, None)}
    assert temp[1] < temp[4] == temp[5] == temp[6] < temp[None], temp


def test_equilibrium_with_jacobian_in_blocks(asymmetric_economy, asymmetric_eq):
    """An equilibrium solved with jacobian_block=1 takes the same Newton path to the same
    root as the default (all directions at once)."""
    eq = hat_jax.solve_equilibrium(asymmetric_economy, EquilibriumOptions(jacobian_block=1))
    assert int(eq.iterations) == int(asymmetric_eq.iterations)
    np.testing.assert_allclose(np.asarray(eq.W), np.asarray(asymmetric_eq.W), atol=1e-12)
    assert float(eq.R) == pytest.approx(float(asymmetric_eq.R), abs=1e-12)


def test_coarse_grid_start_reaches_the_same_root(asymmetric_economy, asymmetric_eq):
    """A cold solve that first solves a coarse asset grid (coarse_grid=20) and starts
    from its prices and Newton Jacobian reaches the root of the cold solve, with fewer
    exact Jacobians on the given grid; its seconds are counted in the stats. "auto"
    takes the stage only for large worlds (N >= 40, Na >= 60); bad values are refused."""
    from hat_jax._coarse import coarse_na, is_cold

    eq = hat_jax.solve_equilibrium(asymmetric_economy, EquilibriumOptions(coarse_grid=20))
    assert eq.stats["coarse_na"] == 20 and eq.stats["coarse_converged"]
    assert eq.stats["compile_s"] >= eq.stats["coarse_compile_s"] > 0
    assert eq.stats["run_s"] > eq.stats["coarse_run_s"] > 0
    np.testing.assert_allclose(np.asarray(eq.W), np.asarray(asymmetric_eq.W), atol=1e-10)
    assert float(eq.R) == pytest.approx(float(asymmetric_eq.R), abs=1e-10)
    fine = sum(r["jacobian"] for r in hat_jax.model.newton_path(eq))
    cold = sum(r["jacobian"] for r in hat_jax.model.newton_path(asymmetric_eq))
    assert fine < cold and int(eq.iterations) < int(asymmetric_eq.iterations)
    assert asymmetric_eq.stats["coarse_na"] == 0       # "auto": N = 2 takes no stage
    near = hat_jax.solve_equilibrium(asymmetric_economy, EquilibriumOptions(coarse_grid=20),
                                     hat_jax.Start(W=asymmetric_eq.W))
    assert near.stats["coarse_na"] == 0                 # not a cold start
    assert is_cold(hat_jax.Start(W=np.ones(2), R=1.01, beta=0.9))  # --start cold's guess
    assert not is_cold(hat_jax.Start(state=asymmetric_eq.world.households.state))
    N = 40
    big = hat_jax.make_economy(np.full((N, N), 2.0) - np.eye(N), np.ones(N), np.ones(N), Na=100)
    assert coarse_na(big, "auto") == 20 and coarse_na(big.replace(Na=50), "auto") == 0
    assert coarse_na(big, 0) == 0 and coarse_na(big, 30) == 30 and coarse_na(big, 100) == 0
    for bad in (1, -1, "fine", 2.5):
        with pytest.raises(ValueError, match=r"coarse_grid must be 'auto', 0 .* got "
                           r"coarse_grid="):
            EquilibriumOptions(coarse_grid=bad)
