"""Failure modes found by probing bad and extreme inputs (issue 26, part B): each test
failed on the code before its fix."""

import contextlib
import io

import numpy as np
import pytest

from hat_jax import cli
from hat_jax.report.readers import read_cost_matrix


def run(argv):
    """(exit code, stdout, stderr) of ``hat argv`` run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


# ------------------------------------------- 9. a non-number in a plain --costs CSV
@pytest.mark.parametrize("content, match", [
    ("1,1.5\nABC,1\n", r"cell at row 2, column 1 is 'ABC', not a number"),
    ("1,ABC\n1.5,1\n", r"cell at row 1, column 2 is 'ABC', not a number"),
    ("1,2\n3,\n", r"cell at row 2, column 2 is empty, not a number"),
    (",Home,Foreign\nHome,1,x\nForeign,2,1\n",
     r"cell at row HOME, column FOREIGN is 'x', not a number"),
])
def test_costs_csv_names_the_cell_that_is_not_a_number(tmp_path, content, match):
    f = tmp_path / "c.csv"
    f.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        read_cost_matrix(f, ("Home", "Foreign"))
    assert "unknown countries" not in str(info.value)


def test_costs_csv_plain_and_labelled_still_read(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("1,2.5\n3,1\n")
    np.testing.assert_array_equal(read_cost_matrix(f, ("Home", "Foreign")), [[1, 2.5], [3, 1]])
    f.write_text(",foreign,home\nforeign,1,3\nhome,2.5,1\n")
    np.testing.assert_array_equal(read_cost_matrix(f, ("Home", "Foreign")), [[1, 2.5], [3, 1]])


# ------------------------------------------------- 10. models the solver must refuse
def _income(P, z):
    from hat_jax.income import IncomeProcess
    n = len(z)
    return IncomeProcess(z=np.asarray(z, float), P=np.asarray(P, float),
                         stationary=np.ones(n) / n, y_P=np.zeros(n))


D2 = np.array([[1.0, 1.745], [1.745, 1.0]])


@pytest.mark.parametrize("P, z, what", [
    (np.eye(3), [0.5, 1.0, 1.5], r"P = I"),
    (np.ones((1, 1)), [1.0], r"Nz=1"),
    (np.full((2, 2), 0.5), [1.0, 1.0], r"z are equal"),
])
def test_no_income_risk_is_refused_before_solving(P, z, what):
    import time

    import hat_jax
    from hat_jax.params import make_economy

    e = make_economy(D2, Na=20, income=_income(P, z))
    t = time.perf_counter()
    with pytest.raises(ValueError, match=rf"no risk \(.*{what}.*no stationary equilibrium.*"
                       r"borrowing limit"):
        hat_jax.solve_equilibrium(e)
    assert time.perf_counter() - t < 2.0  # refused up front, not after a failed solve


def test_duplicate_country_labels_are_refused():
    from hat_jax.params import make_economy

    with pytest.raises(ValueError, match=r"countries must be distinct.*duplicates \['A', 'a'\]"):
        make_economy(np.array([[1, 2, 2], [2, 1, 2], [2, 2, 1.0]]), countries=("A", "B", "a"))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_traced_cost_check_fails_on_nan_and_inf(bad):
    import jax
    import jax.numpy as jnp

    from hat_jax.params import make_economy, traced_cost_check, traced_costs_ok

    e = make_economy(D2, Na=20)
    d = jnp.array([[1.0, bad], [1.745, 1.0]])
    assert not bool(jax.jit(lambda dd: traced_costs_ok(e.replace(d=dd)))(d))
    with pytest.raises(Exception):
        jax.block_until_ready(jax.jit(lambda dd: traced_cost_check(e.replace(d=dd)).d)(d))
