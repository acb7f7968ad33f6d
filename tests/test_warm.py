"""Warm solves from a solved world's inverses (issue 29, hat_jax._warm): the chord steps
change the path to the household and distribution fixed points, not the fixed points;
the plain solves take over where the chord steps fail; derivatives are unchanged and
agree with central differences; experiments from a Baseline with inverses equal those
without."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hat_jax
from hat_jax import Baseline, EquilibriumOptions, Start, World
from hat_jax import welfare as wf
from hat_jax._household import WARM_MAX_ITER
from hat_jax.model import (household_options, household_problems, solve_households,
                           stationary_distributions, warm_inverse_bytes, warm_inverses)

from conftest import NA_TEST

D = np.array([[1.0, 1.8, 2.2], [1.7, 1.0, 2.0], [2.4, 1.9, 1.0]])
W0 = jnp.array([1.0, 0.9, 1.1])
R0 = 1.01


def _world(econ, opts, W, R, state0=None, inverses=None):
    probs = household_problems(econ, W, R, econ.beta)
    sol = solve_households(probs, opts, state0=state0, throw=False,
                           inverse=None if inverses is None else inverses.household)
    dist = stationary_distributions(sol.pi, sol.lottery_lo, sol.lottery_w, probs.P,
                                    throw=False,
                                    inverse=None if inverses is None else inverses.distribution)
    return World(probs, sol, dist, None)


solve = jax.jit(_world)


@pytest.fixture(scope="module")
def base():
    econ = hat_jax.make_economy(D, gamma=1.5, sigma=0.25, beta=0.92, phi=0.5, amax=8.0,
                                Na=NA_TEST)
    opts = household_options(econ, tol=1e-10)
    world = solve(econ, opts, W0, R0)
    return econ, opts, world, warm_inverses(world, opts)


def _gaps(a: World, b: World):
    ha, hb = a.households, b.households
    return (float(jnp.max(jnp.abs(ha.c - hb.c))), float(jnp.max(jnp.abs(ha.v - hb.v))),
            float(jnp.max(jnp.abs(a.distribution.lam - b.distribution.lam))))


def _converged(w: World, opts):
    return (bool(jnp.all(w.households.converged)) and bool(jnp.all(w.distribution.converged))
            and float(jnp.max(w.households.residual)) <= float(opts.tol))


def test_inverses_shape_and_bytes(base):
    econ, _, _, inv = base
    n = econ.Nz * econ.Na
    assert inv.household.shape == (3, 2 * n, 2 * n) and inv.household.dtype == jnp.float32
    assert inv.distribution.shape == (3, n, n) and inv.distribution.dtype == jnp.float32
    assert warm_inverse_bytes(3, econ.Nz, econ.Na) == inv.household.nbytes + inv.distribution.nbytes


@pytest.mark.parametrize("move", [0.01, 0.05])
def test_chord_steps_reach_the_plain_solution_in_fewer_sweeps(base, move):
    """After a wage move (even countries up, odd down) and R up by move/10: the same
    policies, values and distributions as the plain warm solve (1e-10), converged, with
    at most a third of its sweeps; the distribution in at most 20 chord steps."""
    econ, opts, world, inv = base
    W = W0 * jnp.array([1 + move, 1 - move, 1 + move])
    R = R0 * (1 + move / 10)
    plain = solve(econ, opts, W, R, world.households.state)
    warm = solve(econ, opts, W, R, world.households.state, inv)
    assert _converged(plain, opts) and _converged(warm, opts)
    assert max(_gaps(plain, warm)) <= 1e-10
    assert int(jnp.max(warm.households.iterations)) * 3 <= int(jnp.max(plain.households.iterations))
    assert int(jnp.max(warm.distribution.iterations)) <= 20


def test_useless_inverses_fall_back_to_the_plain_solves(base):
    """Zero inverses (no chord step moves) and the inverses of a far world: the plain
    iteration and the direct distribution solve take over, same solution (1e-10)."""
    econ, opts, world, inv = base
    W = W0 * 1.02
    plain = solve(econ, opts, W, R0, world.households.state)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, inv)
    stuck = solve(econ, opts, W, R0, world.households.state, zeros)
    assert _converged(stuck, opts) and max(_gaps(plain, stuck)) <= 1e-10
    assert int(jnp.min(stuck.households.iterations)) > WARM_MAX_ITER  # the cap, then plain
    far = warm_inverses(solve(econ, opts, W0 * jnp.array([2.0, 0.5, 1.0]), 1.0), opts)
    farther = solve(econ, opts, W, R0, world.households.state, far)
    assert _converged(farther, opts) and max(_gaps(plain, farther)) <= 1e-10


def test_derivatives_with_inverses_match_central_differences(base):
    """d(aggregate consumption spending, distribution) / d(wage of country 1): the
    implicit derivatives with inverses agree with central differences of the solve with
    inverses, taken from the jvp program's own values at w -+ h."""
    econ, opts, world, inv = base

    def out(w1, inverses):
        W = W0.at[1].set(w1)
        w = _world(econ, opts, W, R0, world.households.state, inverses)
        lam = w.distribution.lam
        spend = jnp.einsum("naz,nazj->n", lam, w.households.c * w.households.pi)
        return jnp.concatenate([spend, lam[:, :3, 0].reshape(-1)])

    with_inv = jax.jit(lambda w1: jax.jvp(lambda x: out(x, inv), (w1,), (1.0,)))
    x0 = jnp.asarray(0.9)
    v1, t1 = with_inv(x0)
    h = 1e-5
    # the values at x0 -+ h from the same program (its primal outputs): one program
    primal = lambda x: with_inv(jnp.asarray(x))[0]  # noqa: E731
    fd = (primal(x0 + h) - primal(x0 - h)) / (2 * h)
    np.testing.assert_allclose(np.asarray(t1), np.asarray(fd), rtol=1e-5, atol=1e-7)


def test_counterfactual_from_a_baseline_with_inverses(two_country_eq):
    """The counterfactual from a Baseline with inverses equals the one without (1e-10)
    with fewer household sweeps at the root, and the derivative of a new wage in a
    trade cost with inverses agrees with central differences of the counterfactual."""
    b = Baseline.from_equilibrium(two_country_eq)
    bi = b.with_warm_inverses()
    assert b.inverses is None and bi.inverses is not None
    d = jnp.array([[1.0, 1.6], [1.6, 1.0]])
    new, new_i = wf.counterfactual(b, d).new, wf.counterfactual(bi, d).new
    assert bool(new_i.converged)
    assert abs(float(new.R) - float(new_i.R)) <= 1e-10
    np.testing.assert_allclose(np.asarray(new_i.W), np.asarray(new.W), rtol=0, atol=1e-10)
    sweeps = lambda e: int(jnp.max(e.world.households.iterations))
    assert sweeps(new_i) < sweeps(new)
    start = Start.from_baseline(bi)
    cost = lambda s: d.at[0, 1].set(1.0 + 0.6 * s)  # Home's cost of importing from Foreign
    g = jax.jit(jax.grad(lambda s: hat_jax.solve_equilibrium_jit(
        b.economy.replace(d=cost(s)), b.opts, start, throw=False).W[1]))(1.0)
    h = 1e-4
    w = lambda s: float(wf.counterfactual(bi, cost(s)).new.W[1])
    fd = (w(1 + h) - w(1 - h)) / (2 * h)
    assert abs(fd) > 1e-3 and abs(float(g) - fd) <= 1e-5 * abs(fd)


def test_batched_scenarios_with_inverses(two_country_eq):
    """solve_equilibria from a Start with the baseline's inverses (what hat sweep uses)
    equals the batch without them (1e-10), every scenario converged."""
    b = Baseline.from_equilibrium(two_country_eq)
    bi = b.with_warm_inverses()
    d = jnp.array([[1.0, 1.6], [1.6, 1.0]])
    econ, opts = b.economy, b.opts
    econs = hat_jax.model.stack_economies([econ.replace(d=d), econ.replace(d=d * 1.05 - 0.05)])
    batch = hat_jax.model.solve_equilibria(econs, opts, Start.from_baseline(b))
    batch_i = hat_jax.model.solve_equilibria(econs, opts, Start.from_baseline(bi))
    assert bool(jnp.all(batch_i.converged))
    np.testing.assert_allclose(np.asarray(batch_i.W), np.asarray(batch.W), rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(batch_i.R), np.asarray(batch.R), rtol=0, atol=1e-10)


def test_inverses_of_another_grid_are_refused(two_country_eq, base):
    _, _, _, inv = base
    start = Start.from_baseline(Baseline.from_equilibrium(two_country_eq))._replace(inverses=inv)
    with pytest.raises(ValueError, match="Start.inverses"):
        hat_jax.solve_equilibrium(two_country_eq.economy, EquilibriumOptions(), start)


def test_hat_sweep_inverses_choice(monkeypatch):
    """hat sweep --inverses: on / off as asked; auto builds them for more than one scenario
    when they take at most a quarter of the memory left."""
    from hat_jax.cli import _sweep

    econ = hat_jax.two_country(Na=50)  # 2 countries: 4 (2000^2 + 1000^2) * 2 = 40 MB
    need = warm_inverse_bytes(2, econ.Nz, econ.Na)
    assert need == 4 * 2 * ((2 * econ.Nz * 50) ** 2 + (econ.Nz * 50) ** 2)
    assert _sweep.use_inverses("on", 1, econ) and not _sweep.use_inverses("off", 19, econ)
    monkeypatch.setattr(_sweep, "available_memory", lambda: 4.0 * need)
    assert _sweep.use_inverses("auto", 2, econ) and not _sweep.use_inverses("auto", 1, econ)
    monkeypatch.setattr(_sweep, "available_memory", lambda: 3.9 * need)
    assert not _sweep.use_inverses("auto", 19, econ)
    monkeypatch.setattr(_sweep, "available_memory", lambda: None)
    assert not _sweep.use_inverses("auto", 19, econ)
