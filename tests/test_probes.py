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
