"""The efficient (planner) allocation (model.md section 11): resource constraints,
first-order conditions, Proposition 2 (the welfare gain of a cost cut, by AD through the
planner's solve) and the efficient elasticity; the ``hat planner`` command."""

import contextlib
import io
import json
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import hat_jax
from hat_jax import cli
from hat_jax import ConvergenceError
from hat_jax import _planner as pl

from conftest import NA_TEST


def test_two_country_planner():
    econ = hat_jax.two_country(Na=20)
    sol = pl.solve_planner(econ)
    assert bool(sol.converged) and float(sol.residual) <= 1e-10
    # symmetric economy: symmetric allocation, home bias from the trade cost
    shares = np.asarray(sol.trade_shares)
    assert shares[0, 0] == pytest.approx(shares[1, 1], rel=1e-12)
    assert shares[0, 0] > 0.5
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-12)
    # the household-level probabilities do not depend on z without a quality shifter
    pi_z = np.asarray(sol.pi_z)
    assert np.ptp(pi_z, axis=1).max() < 1e-14
    checks = pl.planner_checks(econ, sol)
    assert checks["resource"] <= 1e-10
    assert checks["foc"] <= 1e-12
    assert checks["welfare_gain"] <= 1e-8  # Proposition 2: -dW/dlog d = psi u'(c) c pi L/(1-beta)
    assert checks["elasticity"] <= 1e-10  # theta_ij = -u'(c_ij) c_ij / sigma_i


def test_planner_weights_and_errors():
    econ = hat_jax.two_country(Na=20)
    a = pl.solve_planner(econ, weights=[1.0, 1.0])
    b = pl.solve_planner(econ, weights=[2.0, 1.0])
    # a larger weight on Home raises Home's consumption
    assert float(b.c[0, 0]) > float(a.c[0, 0])
    assert float(b.c[1, 1]) < float(a.c[1, 1])
    with pytest.raises(ValueError, match="positive"):
        pl.pareto_weights(econ, [1.0, -1.0])
    with pytest.raises(ValueError, match="one entry per country"):
        pl.pareto_weights(econ, [1.0, 1.0, 1.0])


@pytest.mark.parametrize("name", ["ek_log", "ek_baseline"])
def test_ek_planner(data_dir, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        world = hat_jax.ek_world(name, data_dir, Na=20)
    econ = world.economy
    sol = pl.solve_planner(econ)
    assert bool(sol.converged)
    # resource constraints to 1e-10 of each country's output
    assert np.max(np.abs(np.asarray(sol.resource_residuals))) <= 1e-10
    checks = pl.planner_checks(econ, sol)
    assert checks["foc"] <= 1e-12
    assert checks["welfare_gain"] <= 1e-8
    if float(econ.psi_slope) == 0.0:
        assert checks["elasticity"] <= 1e-9
    np.testing.assert_allclose(np.asarray(sol.trade_shares).sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(np.asarray(sol.elasticity) < 0)


def test_cli_planner_json(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(["planner", "two_country", "--Na", str(NA_TEST), "--quiet", "--json",
                       "--out", str(tmp_path)])
    assert rc == 0, err.getvalue()
    r = json.loads(out.getvalue())
    assert r["converged"] is True
    assert {"trade_shares_efficient", "trade_shares_decentralized", "elasticity_efficient",
            "welfare_gain", "weights", "checks"} <= set(r)
    assert np.asarray(r["trade_shares_efficient"]).shape == (2, 2)
    assert r["checks"]["resource"] <= 1e-10
    assert (tmp_path / "planner.json").is_file() and (tmp_path / "planner_pairs.csv").is_file()


def test_planner_welfare_derivative_matches_central_differences():
    """-dW/d log d_ij by AD through the planner's solve (optimistix implicit adjoint)
    equals central differences of the re-solved planner and the Proposition-2 formula,
    in an asymmetric two-country economy."""
    import jax

    econ = hat_jax.two_country(Na=20)
    econ = econ.replace(d=jnp.asarray([[1.0, 1.3], [1.6, 1.0]]), A=jnp.asarray([1.0, 1.2]))
    sol = pl.solve_planner(econ)
    w, beta = sol.weights, sol.beta
    log_d = jnp.log(econ.d)
    grad = np.asarray(jax.jit(jax.grad(pl.welfare_of_costs))(log_d, econ, w, beta))
    h = 1e-5
    for i, j in ((0, 1), (1, 0)):
        e = jnp.zeros_like(log_d).at[i, j].set(h)
        fd = (pl.welfare_of_costs(log_d + e, econ, w, beta)
              - pl.welfare_of_costs(log_d - e, econ, w, beta)) / (2 * h)
        assert float(grad[i, j]) == pytest.approx(float(fd), rel=1e-7)
        assert -float(grad[i, j]) == pytest.approx(float(sol.welfare_gain[i, j]), rel=1e-8)


def test_planner_not_converged_is_an_error():
    econ = hat_jax.two_country(Na=20)
    with pytest.raises(ConvergenceError, match=r"planner allocation did not converge.*"
                                               r"Newton iterations: max \|resource residual\|"):
        pl.solve_planner(econ, opts=pl.PlannerOptions(max_steps=1, tol=1e-14))
    sol = pl.solve_planner(econ, opts=pl.PlannerOptions(max_steps=1, tol=1e-14), throw=False)
    assert not bool(sol.converged) and np.isfinite(float(sol.residual))
