"""One type for every experiment (issue 24): :class:`hat_jax.Change` and its builders.

No equilibrium solves: each builder against the matrix the old function produced
(exactly), ``apply`` under jit / vmap / grad, and bad inputs that name the field. The
derivative of a solved outcome with respect to a change's value is what the welfare
derivative tests already check (tests/test_welfare.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hat_jax
from hat_jax import Change
from hat_jax import _tariffs as tf

from conftest import NA_TEST


@pytest.fixture(scope="module")
def economy():
    return hat_jax.two_country(Na=NA_TEST)


def _old_scale(economy, factor, floor=1.0):
    """The matrix the pre-Change welfare.scale_costs produced (main at 64ff6d2)."""
    d = np.asarray(economy.d, np.float64)
    off = ~np.eye(economy.N, dtype=bool)
    new = np.where(off, np.broadcast_to(factor, d.shape) * d, 1.0)
    return new if floor is None else np.where(off & (new < floor), floor, new)


def test_cost_builders_give_the_old_matrices(economy):
    N = economy.N
    f = np.full((N, N), 0.9)
    assert np.array_equal(Change.global_cut(economy, 0.1).values["d"], _old_scale(economy, f))
    row = np.ones((N, N))
    row[0, :] = 0.8
    assert np.array_equal(Change.unilateral_cut(economy, "home", 0.2).values["d"],
                          _old_scale(economy, row))
    pair = np.ones((N, N))
    pair[1, 0] = pair[0, 1] = 0.9
    bil = Change.bilateral_cut(economy, "Foreign", "Home", 0.1, symmetric=True)
    assert np.array_equal(bil.values["d"], _old_scale(economy, pair))
    assert np.array_equal(Change.scale_costs(economy, f).values["d"], _old_scale(economy, f))
    # the thin helpers return the builder's matrix and clamped pairs
    d, cl = hat_jax.welfare.global_cut(economy, 0.1)
    assert np.array_equal(d, Change.global_cut(economy, 0.1).values["d"]) and cl == []
    near = economy.replace(d=jnp.array([[1.0, 1.05], [1.745, 1.0]]))
    c = Change.unilateral_cut(near, "Home", 0.10)
    assert c.values["d"][0, 1] == 1.0 and c.clamped == [("Home", "Foreign")]
    assert c.experiment == {"kind": "unilateral", "country": "Home", "cut": 0.1,
                            "clamped": [["Home", "Foreign"]]}
    assert c.note == "Home cuts its import costs by 10%" and c.label == "Home"


def test_tariff_and_country_builders_give_the_old_matrices(economy):
    N = economy.N
    assert np.array_equal(Change.uniform_tariff(economy, "Foreign", 0.1).values["tariffs"],
                          tf.uniform_tariffs(N, 1, 0.1))
    war = Change.tariff_war(economy, 0.25)
    assert np.array_equal(war.values["tariffs"], tf.tariff_war(N, 0.25))
    assert war.note == "tariff war: every country levies 25% on every partner"
    t = [[0.0, 0.3], [0.1, 0.0]]
    assert np.array_equal(Change.tariffs(economy, t, source="t.csv").values["tariffs"], t)
    L = Change.population(economy, "Home", 2.0).apply(economy).L
    assert np.array_equal(L, [2.0 * economy.L[0], economy.L[1]])
    A = Change.country(economy, "A", 1, 1.5).apply(economy).A
    assert np.array_equal(A, [economy.A[0], 1.5])


def test_apply_is_traced_and_differentiable(economy):
    c = Change.global_cut(economy, 0.1)
    total = jax.jit(lambda ch, e: ch.apply(e).d.sum())(c, economy)
    assert total == pytest.approx(float(np.sum(c.values["d"])))
    grad = jax.grad(lambda a: jnp.sum(Change({"A": a}).apply(economy).A ** 2))(economy.A)
    np.testing.assert_array_equal(grad, 2 * np.asarray(economy.A))
    A = jax.vmap(lambda a: Change({"A": a}).apply(economy).A)(jnp.stack([economy.A,
                                                                        2 * economy.A]))
    np.testing.assert_array_equal(A[1], 2 * np.asarray(economy.A))


@pytest.mark.parametrize("change, match", [
    (Change({"Q": 1.0}, "q"), r"Change 'q': 'Q' is not a field of the Economy"),
    (Change({"Na": 3.0}), r"'Na' is a static setting of the Economy"),
    (Change({"A": [1.0]}, "short"), r"Change 'short': A must have shape \(2,\), got shape \(1,\)"),
    (Change({"tariffs": np.zeros(2)}), r"tariffs must have shape \(2, 2\)"),
    (Change({"A": [-1.0, 1.0]}, "neg"), r"Change 'neg': A must be positive.*A\[0\]=-1.0"),
])
def test_bad_changes_name_the_field(economy, change, match):
    with pytest.raises(ValueError, match=match):
        change.apply(economy)


def test_bad_builder_inputs_name_the_value(economy):
    with pytest.raises(ValueError, match=r"cut must lie in \(0, 1\).*cut=1.5"):
        Change.global_cut(economy, 1.5)
    with pytest.raises(ValueError, match="unknown country 'USA'"):
        Change.population(economy, "USA", 2.0)
    with pytest.raises(ValueError, match=r"tariff war: the tariff must be >= 0, got -0.1"):
        Change.tariff_war(economy, -0.1)
    with pytest.raises(ValueError, match=r"'gamma' is not a country-level field"):
        Change.country(economy, "gamma", 0, 2.0)


def test_tfp_change_and_cli(economy):
    import contextlib
    import io
    import json

    from hat_jax import cli

    A = Change.tfp(economy, "home", 1.1).apply(economy).A
    np.testing.assert_array_equal(A, [1.1 * economy.A[0], economy.A[1]])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = cli.main(["counterfactual", "two_country", "--Na", "40", "--quiet",
                       "--tfp", "Home", "1.1", "--country", "Foreign", "--json"])
    r = json.loads(out.getvalue())
    assert rc == 0 and r["converged"] is True and r["country"] == "Foreign"
    assert r["experiment"] == {"kind": "tfp", "country": "Home", "factor": 1.1, "clamped": []}
    assert r["wages_new"][0] > r["wages"][0]  # Home's wage rises with its TFP
    assert np.isfinite(r["mean_gain_pct"]) and r["ev_converged"] is True


def test_scenarios_and_shock_paths_are_changes(economy):
    from hat_jax import scenarios as sc
    from hat_jax import transition as tn

    uni = sc.unilateral_scenarios(economy, 0.1)
    assert [c.note for c in uni.changes] == ["Home cuts its import costs by 10%",
                                            "Foreign cuts its import costs by 10%"]
    same = sc.scenarios_of(economy, [Change.unilateral_cut(economy, c, 0.1)
                                     for c in economy.countries])
    assert same.names == uni.names and sc.fingerprint(same) == sc.fingerprint(uni)
    with pytest.raises(ValueError, match=r"scenario 'bad': L must be positive"):
        sc.scenarios_of(economy, [Change({"L": [-1.0, 1.0]}, "bad")])
    c = Change.global_cut(economy, 0.1)
    new = tn.shock_path(economy, c, 20, announce=3, rho=0.5)
    old = tn.shock_path(economy, 20, d=c.values["d"], announce=3, rho=0.5)  # deprecated
    np.testing.assert_array_equal(new.fields["d"], old.fields["d"])
    with pytest.raises(ValueError, match="either a Change or d= / A= / fields="):
        tn.shock_path(economy, c, 20, d=c.values["d"])
