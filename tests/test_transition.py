"""Transitions after a trade shock (issue 14, model.md s.12): the perfect-foresight path,
the sequence-space Jacobian, implicit derivatives, elasticities by horizon, transition
welfare. Two-country economy, Na = 40, T = 60 (the terminal gaps are checked)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hat_jax
from hat_jax import transition as tn
from hat_jax import welfare as wf

from conftest import NA_TEST

T = 60


@pytest.fixture(scope="module")
def still(two_country_eq):
    """The no-shock transition (its Jacobian is the stationary sequence-space Jacobian)."""
    return tn.solve_transition(two_country_eq, horizon=T)


@pytest.fixture(scope="module")
def cut(two_country_eq, still):
    """A permanent 10% global cut (symmetric), Jacobian computed at its terminal
    equilibrium by the solver."""
    d, _ = wf.global_cut(two_country_eq.economy, 0.1)
    return tn.solve_transition(two_country_eq, d=d, horizon=T)


def test_no_shock_path_is_the_stationary_equilibrium(still, two_country_eq):
    p = still.path
    assert still.converged and still.iterations == 0
    np.testing.assert_allclose(p.W, np.broadcast_to(still.initial.W, p.W.shape), rtol=0,
                               atol=1e-12)
    np.testing.assert_allclose(p.R_next, float(still.initial.R), rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.R, float(still.initial.R), rtol=0, atol=1e-12)
    # quantities: the stationary ones, up to the solves' own tolerances
    agg = still.initial.world.aggregates
    np.testing.assert_allclose(p.trade_shares, np.broadcast_to(agg.trade_shares, p.M.shape),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(p.V0, still.initial.world.households.V, rtol=0, atol=1e-10)
    assert still.terminal_gap < 1e-9
    assert abs(float(still.initial.R) - float(two_country_eq.R)) < 1e-9  # same equilibrium


def test_zero_shock_transition_ev_is_exactly_one(still):
    tw = tn.transition_welfare(still, 0)
    assert np.all(np.asarray(tw.ev.factor) == 1.0)
    assert tw.mean_gain_pct == 0.0


def test_permanent_cut_ends_at_the_counterfactual(cut, two_country_eq):
    assert cut.converged and cut.residual <= 1e-9
    assert cut.terminal_gap <= 1e-8
    cf = wf.counterfactual(two_country_eq, cut.shock.fields["d"][-1])
    p = cut.path
    for t in range(T - 5, T):
        np.testing.assert_allclose(p.W[t], cf.new.W, rtol=0, atol=1e-8)
        np.testing.assert_allclose(p.R_next[t], cf.new.R, rtol=0, atol=1e-8)
        np.testing.assert_allclose(p.trade_shares[t], cf.new.world.aggregates.trade_shares,
                                   rtol=0, atol=1e-8)
    # at t = 0 R is predetermined, at the initial equilibrium's value
    assert float(p.R[0]) == float(cut.initial.R)


def test_walras_and_national_accounts_every_date(cut):
    p = cut.path
    gdp = np.asarray(p.Y).sum(axis=1)
    assert np.max(np.abs(p.residuals)) <= 1e-9
    assert np.max(np.abs(p.walras)) <= 1e-9  # the dropped goods market clears too
    Y, PC, Ap, A = (np.asarray(x) for x in (p.Y, p.PC, p.bond_demand, p.assets))
    R = np.asarray(p.R)[:, None]
    np.testing.assert_allclose(Y, PC + Ap - R * A, rtol=0, atol=1e-10 * gdp.max())
    M = np.asarray(p.M)
    off = M * (1 - np.eye(2))
    X, Mi = off.sum(axis=1), off.sum(axis=2)  # exports (over importers), imports
    np.testing.assert_allclose(Y, PC + X - Mi, rtol=0, atol=2e-9 * gdp.max())
    # assets carried forward: A_{t+1} = A'_t (the distribution moves with the policies)
    np.testing.assert_allclose(A[1:], Ap[:-1], rtol=0, atol=1e-10)


def test_symmetric_shock_keeps_symmetry(cut):
    p = cut.path
    np.testing.assert_allclose(p.W[:, 0], p.W[:, 1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(p.home_share[:, 0], p.home_share[:, 1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(p.bond_demand, 0.0, atol=1e-9)


def test_sequence_jacobian_matches_central_differences(still):
    econ, end = still.economy, tn.endpoint(still.initial)
    hopts = hat_jax.model.household_options(econ, tol=1e-12)
    shock = tn.stationary_shock(econ, T)
    H = jax.jit(lambda u: tn.path_residuals(u, econ, shock, end, end, hopts))
    U = np.asarray(still.U)
    J = np.asarray(still.jacobian)
    eps = 1e-5
    for col in (0, 1, 2 * 7 + 1, 2 * 30, 2 * (T - 1) + 1):
        t, k = divmod(col, 2)
        dU = np.zeros_like(U)
        dU[t, k] = eps
        fd = (np.asarray(H(U + dU)) - np.asarray(H(U - dU))).reshape(-1) / (2 * eps)
        np.testing.assert_allclose(J[:, col], fd, rtol=0, atol=2e-6 * max(1, np.abs(fd).max()))


def test_path_derivative_matches_finite_differences(two_country_eq, still):
    """jvp of the path (implicit function theorem, no unrolled Newton) against central
    differences of two solved transitions: the GE response of log(M_01/M_00) at
    horizons 0, 3, 20 to a permanent change of log d_01."""
    he = tn.horizon_elasticities(still.initial, 0, horizon=T, jacobian=still.jacobian)
    eps = 1e-4
    econ = still.economy
    stat = []
    for s in (1, -1):
        d = np.asarray(econ.d).copy()
        d[0, 1] *= np.exp(s * eps)
        tr = tn.solve_transition(still.initial, d=d, horizon=T, jacobian=still.jacobian)
        M = np.asarray(tr.path.M)
        stat.append(np.log(M[:, 0, 1] / M[:, 0, 0]))
    fd = (stat[0] - stat[1]) / (2 * eps)
    for h in (0, 3, 20):
        assert abs(he.general_equilibrium[0, h] - fd[h]) < 1e-5, (h, fd[h])
    # the GE path tends to the long-run elasticity across stationary equilibria
    assert abs(he.general_equilibrium[0, -1] - he.long_run[0]) < 1e-4
    # fixed prices: h = 0 is the static elasticity; the limit the stationary PE one
    te = hat_jax.trade_elasticities(still.initial, hh_tol=1e-12)
    assert abs(he.fixed_prices[0, 0] - float(te.theta[0, 1])) < 1e-7
    assert abs(he.fixed_prices[0, -1] - he.limit_fixed_prices[0]) < 1e-6
    # the time-series estimate is close to its population value
    assert abs(he.time_series[0] - he.time_series_population[0]) < 0.05
    # the values of the previous implementation (jvps through the stationary solve and the
    # whole path per partner, commit c9c37a0): the linearized path reproduces them
    H = [0, 1, 5, 20, 59]
    np.testing.assert_allclose(he.fixed_prices[0, H], [
        -4.123775204176, -4.12263649621, -4.121201927689, -4.120701492247, -4.120691542123],
        rtol=0, atol=1e-9)
    np.testing.assert_allclose(he.general_equilibrium[0, H], [
        -2.362729560424, -2.35369725092, -2.328641209508, -2.304304488203, -2.302294213913],
        rtol=0, atol=1e-9)
    np.testing.assert_allclose(he.irf[0, H], [
        -2.464236439301, -2.187747530235, -1.374840567442, -0.259891030287, -0.004372450864],
        rtol=0, atol=1e-9)
    np.testing.assert_allclose([he.limit_fixed_prices[0], he.long_run[0]],
                               [-4.120691537778, -2.302292503953], rtol=0, atol=1e-11)


def test_log_utility_fixed_price_elasticity_is_minus_one_over_sigma(two_country_log_eq):
    he = tn.horizon_elasticities(two_country_log_eq, 0, horizon=T)
    sigma = float(two_country_log_eq.economy.sigma)
    np.testing.assert_allclose(he.fixed_prices[0], -1.0 / sigma, rtol=0, atol=1e-8)
    np.testing.assert_allclose(he.limit_fixed_prices[0], -1.0 / sigma, rtol=0, atol=1e-8)



def _clears_every_date(tr, tol=1e-9):
    """Every goods market (the dropped one too) and the bond market clear at every date."""
    p = tr.path
    assert tr.converged and tr.residual <= tol
    assert np.max(np.abs(p.residuals)) <= tol and np.max(np.abs(p.walras)) <= tol


def test_announced_cut_anticipation_and_terminal(two_country_eq, cut):
    """A 10% cut announced at t = 0 for date S: costs are the old ones before S, prices
    move before S only through anticipation (news), the path ends at the counterfactual
    of the new costs (cut's terminal, itself checked against `counterfactual`), and the
    date-0 gain is positive but below that of the immediate cut (the gains come later)."""
    S = 10
    d_new = cut.shock.fields["d"][-1]
    tr = tn.solve_transition(two_country_eq, d=d_new, announce=S, horizon=T, cache=cut)
    _clears_every_date(tr)
    # the same terminal economy: both endpoints and the Jacobian are the cache's
    assert tr.initial is cut.initial and tr.terminal is cut.terminal
    assert tr.jacobian is cut.jacobian and tr.jacobians == 0
    d = np.asarray(tr.shock.fields["d"])
    assert np.all(d[:S] == np.asarray(two_country_eq.economy.d)) and np.all(d[S:] == d_new)
    p, R0 = tr.path, float(tr.initial.R)
    assert np.max(np.abs(np.asarray(p.R_next[:S]) - R0)) > 1e-5  # news moves R before S
    np.testing.assert_allclose(p.W, 1.0, rtol=0, atol=1e-8)  # symmetric: wages stay 1
    for t in range(T - 5, T):
        np.testing.assert_allclose(p.W[t], cut.terminal.W, rtol=0, atol=1e-8)
        np.testing.assert_allclose(p.R_next[t], cut.terminal.R, rtol=0, atol=1e-8)
        np.testing.assert_allclose(p.trade_shares[t], cut.terminal.world.aggregates.trade_shares,
                                   rtol=0, atol=1e-8)
    late = tn.transition_welfare(tr, 0).mean_gain_pct
    now = tn.transition_welfare(cut, 0).mean_gain_pct
    assert 0.0 < late < now, (late, now)


def test_temporary_cut_returns_to_the_initial_equilibrium(two_country_eq, still):
    """A temporary AR(1) cut (rho = 0.7): costs log d_t = log d + rho^t (log d' - log d),
    the terminal economy is the initial one, and the path returns to the initial
    equilibrium (terminal gap and last dates to 1e-8); imports jump on impact."""
    rho = 0.7
    econ = two_country_eq.economy
    d_new, _ = wf.global_cut(econ, 0.1)
    tr = tn.solve_transition(two_country_eq, d=d_new, rho=rho, horizon=T, cache=still.cache)
    assert tr.initial is still.initial and tr.jacobians == 0  # all from the cache
    _clears_every_date(tr)
    d = np.asarray(tr.shock.fields["d"])
    t = np.arange(T)[:, None, None]
    np.testing.assert_allclose(np.log(d[:T]), np.log(econ.d) + rho ** t
                               * np.log(np.asarray(d_new) / np.asarray(econ.d)), atol=1e-14)
    np.testing.assert_array_equal(d[T], np.asarray(econ.d))
    assert tr.terminal is tr.initial and tr.terminal_gap < 1e-8
    p, agg = tr.path, tr.initial.world.aggregates
    for s in range(T - 5, T):
        np.testing.assert_allclose(p.W[s], tr.initial.W, rtol=0, atol=1e-8)
        np.testing.assert_allclose(p.R_next[s], tr.initial.R, rtol=0, atol=1e-8)
        np.testing.assert_allclose(p.trade_shares[s], agg.trade_shares, rtol=0, atol=1e-8)
    home0 = np.asarray(agg.trade_shares)[0, 0]
    assert p.home_share[0, 0] < home0 - 1e-3  # cheaper imports on impact
    assert abs(p.home_share[20, 0] - home0) < 0.1 * abs(p.home_share[0, 0] - home0)


def test_cache_and_given_endpoints_reproduce_a_fresh_solve(two_country_eq, cut):
    """Another permanent cut (5%) from the 10% cut's cache: the initial equilibrium and
    the sequence-space Jacobian are reused (no Jacobian computed: the 10% terminal's
    serves quasi-Newton), only the new terminal is solved (warm), and the path equals a
    solve from scratch to 1e-8 (both to residuals of 1e-9 of GDP); given endpoints are taken as they are and checked."""
    econ = two_country_eq.economy
    c5 = hat_jax.Change.global_cut(econ, 0.05)
    warm = tn.solve_transition(two_country_eq, c5, horizon=T, cache=cut.cache)
    assert warm.initial is cut.initial and warm.jacobians == 0
    assert warm.jacobian is cut.jacobian and not warm.cache.jacobian_exact
    fresh = tn.solve_transition(two_country_eq, c5, horizon=T)
    assert fresh.jacobians == 1 and fresh.cache.jacobian_exact
    for a, b in ((warm.path.W, fresh.path.W), (warm.path.R_next, fresh.path.R_next),
                 (warm.path.trade_shares, fresh.path.trade_shares)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8)
    np.testing.assert_allclose(warm.terminal.W, fresh.terminal.W, rtol=0, atol=1e-10)
    # given endpoints: used as they are (no stationary solve, so the same objects)
    given = tn.solve_transition(two_country_eq, c5, horizon=T, initial=fresh.initial,
                                terminal=fresh.terminal, jacobian=fresh.jacobian)
    assert given.initial is fresh.initial and given.terminal is fresh.terminal
    np.testing.assert_allclose(given.path.W, fresh.path.W, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"terminal is the equilibrium of another economy"):
        tn.solve_transition(two_country_eq, c5, horizon=T, terminal=cut.terminal)
    with pytest.raises(ValueError, match=r"initial is the equilibrium of another economy"):
        tn.solve_transition(two_country_eq, c5, horizon=T, initial=cut.terminal)
    with pytest.raises(ValueError, match=r"cache must be a TransitionCache.*got dict"):
        tn.solve_transition(two_country_eq, c5, horizon=T, cache={})


def test_tfp_path_ends_at_the_stationary_equilibrium_of_the_new_tfp():
    """A permanent 2% rise of Home's TFP (economy without TFP scaling of the grid): every
    market clears at every date, the terminal is the stationary equilibrium at the new A
    (solved independently, beta fixed) and the last dates reach it to 1e-8 (net foreign
    assets adjust slowly: the gap falls about 4% a year), and Home's relative wage rises."""
    econ = hat_jax.two_country(Na=NA_TEST, scale_by_tfp=False)
    eq = hat_jax.solve_equilibrium(econ)
    A_new = np.array([1.02, 1.0])
    tr = tn.solve_transition(eq, A=A_new, horizon=T)
    _clears_every_date(tr)
    np.testing.assert_allclose(np.asarray(tr.shock.fields["A"][:T]), np.broadcast_to(A_new, (T, 2)))
    eo = tn.transition_eq_options(tn.TransitionOptions(), None)
    new = hat_jax.solve_equilibrium(econ.replace(A=A_new, beta=eq.beta), eo,
                                    hat_jax.Start(W=np.asarray(eq.W), R=float(eq.R)))
    np.testing.assert_allclose(tr.terminal.W, new.W, rtol=0, atol=1e-12)
    assert abs(float(tr.terminal.R) - float(new.R)) < 1e-12
    assert tr.terminal_gap < 1e-7
    p = tr.path
    for t in (T - 2, T - 1):
        np.testing.assert_allclose(p.W[t], new.W, rtol=0, atol=1e-8)
        np.testing.assert_allclose(p.R_next[t], new.R, rtol=0, atol=1e-8)
        np.testing.assert_allclose(p.trade_shares[t], new.world.aggregates.trade_shares,
                                   rtol=0, atol=1e-8)
    assert new.W[0] > new.W[1] and p.W[0, 0] > p.W[0, 1]


def test_fake_news_jacobian_equals_the_jvp_jacobian(still):
    """The fake-news Jacobian (date blocks iterated) equals the one-jvp-per-column
    Jacobian of the stacked residuals at the stationary path (T = 12)."""
    econ, end = still.economy, tn.endpoint(still.initial)
    Ts = 12
    J = tn.stationary_jacobian(still.initial, Ts)
    hopts = hat_jax.model.household_options(econ, tol=1e-12)
    Jj = tn.residual_jacobian(tn.steady_unknowns(end, Ts), econ, tn.stationary_shock(econ, Ts),
                              end, end, hopts)
    assert J.shape == (2 * Ts, 2 * Ts)
    np.testing.assert_allclose(J, Jj, rtol=0, atol=1e-9 * np.abs(Jj).max())

def test_linear_path_response_equals_the_path_jvp(still):
    """The linearized path from the date blocks (two cost directions, every input by
    date, the terminal wages and household state) equals the forward-mode jvp of the
    residuals and of importer 0's purchases through the whole path (T = 12)."""
    econ, end = still.economy, tn.endpoint(still.initial)
    Ts, N = 12, 2
    hopts = hat_jax.model.household_options(econ, tol=1e-12)
    D = np.zeros((2, N, N))
    D[0, 0, 1] = D[1, 1, 0] = 1.0
    rng = np.random.default_rng(3)
    e = rng.normal(size=(Ts + 1, N + 2)) * 1e-2
    e[0, N - 1] = 0.0  # R_0 is predetermined
    dy_T = jax.tree_util.tree_map(lambda a: 1e-3 * rng.normal(size=a.shape), end.y)
    lin = jax.jit(lambda e, y: tn.linear_path_response(
        tn.linear_path_blocks(econ, end, hopts, 0, jnp.asarray(D)), e, y, 0))
    dres, dM = lin(e, dy_T)
    U = tn.steady_unknowns(end, Ts)
    dU = np.concatenate([e[:Ts, : N - 1], e[1:, N - 1:N]], axis=1)
    d_path = jnp.broadcast_to(econ.d, (Ts + 1, N, N))
    dd = econ.d[None] * np.tensordot(e[:, N:], D, axes=1)
    eqm = hat_jax._equilibrium
    dW = jax.jvp(eqm.wages_from_x, (eqm.x_from_wages(end.W),), (jnp.asarray(e[Ts, : N - 1]),))[1]

    def f(U, dp, W_T, y_T):
        out = tn.path_outcomes(U, econ, tn.ShockPath({"d": dp}), end,
                               tn.Endpoint(W_T, end.R, y_T, end.lam), hopts)
        return out.residuals, out.M[:, 0]

    # two tangents (t, -t) at once: the unbatched jvp of the path with respect to U comes
    # out NaN here (a batch of one too; not yet explained), the batched one does not
    two = lambda x: jnp.stack([jnp.asarray(x), -jnp.asarray(x)])
    ref = jax.jit(jax.vmap(lambda *t: jax.jvp(f, (U, d_path, end.W, end.y), t)[1]))(
        two(dU), two(dd), two(dW), jax.tree_util.tree_map(two, dy_T))
    ref = [r[0] for r in ref]
    for got, want in zip((dres, dM), ref):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * np.abs(want).max())
    assert np.abs(ref[0]).max() > 1e-4 and np.abs(ref[1]).max() > 1e-4


def test_jacobian_refresh_cap_reports_non_convergence(two_country_eq, cut):
    """A Jacobian four times too large makes every step cut the residual by only about a
    quarter; with max_refresh=0 the solver stops at the first step that fails to halve
    it and says so (residual, iterations, why) instead of recomputing Jacobians."""
    opts = tn.TransitionOptions(max_refresh=0)
    d = cut.shock.fields["d"][-1]
    tr = tn.solve_transition(two_country_eq, d=d, horizon=T, jacobian=4 * cut.jacobian, opts=opts,
                             throw=False)
    assert not tr.converged and tr.stop == "max_refresh"
    assert tr.iterations == 1 and tr.jacobians == 0
    assert np.isfinite(tr.residual) and tr.residual > 1e-9
    with pytest.raises(hat_jax.ConvergenceError,
                       match=r"did not converge: max \|market residual\| / world GDP "
                             r"\d\.\d+e-\d+ > tol 1e-09 after 1 quasi-Newton iterations "
                             r"\(0 exact Jacobians\); stopped: a step failed to halve the "
                             r"residual with the max_refresh=0 exact-Jacobian refreshes"):
        tn.check_transition(tr, opts)
    with pytest.raises(ValueError, match=r"max_refresh must be an integer >= 0, got "
                                         r"max_refresh=-1"):
        tn.TransitionOptions(max_refresh=-1)


def test_bad_inputs(two_country_eq, cut):
    econ = two_country_eq.economy
    d, _ = wf.global_cut(econ, 0.1)
    with pytest.raises(ValueError, match=r"announce.*T=60.*announce=60"):
        tn.shock_path(econ, T, d=d, announce=60)
    with pytest.raises(ValueError, match=r"rho.*\[0, 1\).*rho=1.0"):
        tn.shock_path(econ, T, d=d, rho=1.0)
    with pytest.raises(ValueError, match=r"rho.*rho=-0.1"):
        tn.shock_path(econ, T, d=d, rho=-0.1)
    with pytest.raises(ValueError, match=r"hh_max_iter.*hh_max_iter=0"):
        tn.TransitionOptions(hh_max_iter=0)
    with pytest.raises(ValueError, match=r"horizon T \(transition dates\).*horizon=1"):
        tn.shock_path(econ, 1, d=d)
    # T too short for the terminal gap: T = 60 against a terminal_tol far below the gap
    # it leaves (about 1e-9), so the compiled T = 60 programs of ``cut`` serve (a T = 4
    # path compiled three programs of its own)
    short = tn.TransitionOptions(terminal_tol=1e-14)
    assert cut.terminal_gap > 1e-13
    with pytest.raises(ValueError, match=r"T=60 is too short: the terminal gap \(last date "
                                         r"vs the terminal stationary equilibrium\) is "
                                         r"\d\.\d+e-\d+ > terminal_tol 1e-14; increase T"):
        tn.solve_transition(two_country_eq, d=d, horizon=T, opts=short, jacobian=cut.jacobian)


def test_transition_jit_parameter_derivative_matches_finite_differences(cut):
    """jax.jvp of a path statistic with respect to sigma through transition_jit (both
    stationary solves and the path by the implicit function theorem, the exact
    sequence-space Jacobian at the solution) against central differences, taken from the
    jvp program's primal outputs: one compiled program (a second, primal-only one runs
    faster warm but costs more to compile on CI's cold cache: 35 s against 27 s)."""
    opts = tn.TransitionOptions()
    eo = tn.transition_eq_options(opts, None)

    def stat(sig):
        e = cut.economy.replace(sigma=sig)
        out, ok, _, _ = tn.transition_jit(e, cut.shock,
                                          hat_jax.Start.from_equilibrium(cut.initial, False),
                                          cut.jacobian, opts, eo)
        return jnp.log(out.M[:, 0, 1] / out.M[:, 0, 0])[jnp.array([0, 5, 30])], ok

    s0, h = cut.economy.sigma, 1e-5
    jvp = jax.jit(lambda s: jax.jvp(stat, (s,), (jnp.ones_like(s),), has_aux=True))
    _, dv, ok = jvp(s0)
    (vp, _, ok_p), (vm, _, ok_m) = jvp(s0 + h), jvp(s0 - h)
    assert bool(ok) and bool(ok_p) and bool(ok_m)
    fd = (np.asarray(vp) - np.asarray(vm)) / (2 * h)
    assert np.abs(fd).min() > 1.0  # a real response (about 7 here)
    np.testing.assert_allclose(dv, fd, rtol=1e-6)


def test_cli_json_keys_and_bad_input(capsys, tmp_path):
    from hat_jax.cli import main

    base = ["transition", "two_country", "--Na", str(NA_TEST), "--T", str(T), "--quiet"]
    assert main(base + ["--global-cut", "0.1", "--announce", str(T)]) == 1
    assert "announce" in capsys.readouterr().err
    assert main(base + ["--global-cut", "0.1", "--temporary", "1.5"]) == 1
    assert "--temporary" in capsys.readouterr().err
    import json

    rc = main(base + ["--global-cut", "0.1", "--ev", "--paths", "--json", "--out",
                      str(tmp_path / "o")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    for key in ("t", "R", "wages", "home_share", "converged", "residual", "terminal_gap",
                "elasticity_by_horizon", "ev", "mean_gain_pct", "steady_state_mean_gain_pct"):
        assert key in out, key
    assert len(out["R"]) == T and np.shape(out["wages"]) == (T, 2)
    assert "ev_s" in out["timings"]
    assert np.shape(out["ev"]) == (NA_TEST, 10)
    # the EV measure (issue 26 A): the transfer by default, every state has its root
    assert out["ev_measure"] == "transfer" and out["ev_ok"] and out["ev_ill_posed_count"] == 0
    assert np.shape(out["ev_transfer"]) == np.shape(out["steady_state_ev_transfer"]) \
        == (NA_TEST, 10)
    eh = out["elasticity_by_horizon"]
    assert len(eh["fixed_prices"]) == T and len(eh["general_equilibrium"]) == T
    assert out["converged"] and out["residual"] <= 1e-9
    # the transition gain and the steady-state gain are close for a permanent cut
    assert abs(out["mean_gain_pct"] - out["steady_state_mean_gain_pct"]) < 0.1
    assert {"summary.json", "path.csv", "ev.csv", "percentiles.csv"} <= {
        p.name for p in (tmp_path / "o").iterdir()}
    # --paths: percentiles along the path (issue 30 item 5); EV by wealth decile
    dp = out["distribution_paths"]
    assert dp["percentiles"] == list(tn.PERCENTILES)
    for key in ("consumption", "assets", "import_share"):
        assert np.shape(dp[key]) == (T, 2, len(tn.PERCENTILES)), key
        assert np.all(np.diff(dp[key], axis=-1) >= 0), key   # percentiles ordered
    np.testing.assert_allclose(dp["mass"], 1.0, rtol=0, atol=1e-12)
    dec = np.asarray(out["ev_by_wealth_decile_pct"])
    assert dec.shape == (10,) and np.mean(dec) == pytest.approx(out["mean_gain_pct"], abs=1e-10)


def test_cli_cost_conventions_as_counterfactual():
    """`hat transition` takes the cost experiment of `hat counterfactual`, with
    --floor-costs (default: scaled costs floored at 1) and --no-floor-costs (the
    paper's convention: costs below 1 kept and listed). Parsing only, nothing solved."""
    from hat_jax.cli import build_parser
    from hat_jax.cli._counterfactual import cost_change, experiment_record

    econ = hat_jax.two_country(Na=NA_TEST)  # d_HF = d_FH = 1.745: a 60% cut gives 0.698
    argv = ["transition", "two_country", "--global-cut", "0.6"]
    floored = build_parser().parse_args(argv)
    c = cost_change(floored, econ)
    exp, _ = experiment_record(c, econ, floored.floor_costs)
    d = np.asarray(c.values["d"])
    assert floored.floor_costs and np.allclose(np.asarray(d), 1.0)
    assert exp["below_one"] == []
    # the EV only when asked
    assert not floored.ev and build_parser().parse_args(argv + ["--ev"]).ev
    paper = build_parser().parse_args(argv + ["--no-floor-costs"])
    with pytest.warns(wf.CostsBelowOneWarning):
        c = cost_change(paper, econ.replace(cost_floor=False))
        exp, _ = experiment_record(c, econ.replace(cost_floor=False), paper.floor_costs)
        d = np.asarray(c.values["d"])
    assert not paper.floor_costs and np.isclose(float(d[0, 1]), 0.4 * 1.745)
    assert [list(p) for p in exp["below_one"]] == [["Home", "Foreign"], ["Foreign", "Home"]]
