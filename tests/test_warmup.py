"""``hat warmup`` (issue 30 item 2): runs the commands that fill the compilation cache
for a preset and grid and reports what they compiled."""

import json

from hat_jax.cli import main

from conftest import NA_TEST


def test_warmup_reports_each_command(capsys):
    rc = main(["warmup", "two_country", "--Na", str(NA_TEST), "--commands", "solve", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert [s["command"] for s in out["steps"]] == ["solve"]
    step = out["steps"][0]
    assert step["exit"] == 0 and step["argv"][:2] == ["solve", "two_country"]
    assert step["programs_compiled"] >= 0 and step["compile_s"] >= 0 and step["wall_s"] > 0
    assert out["Na"] == NA_TEST and "cache_dir" in out


def test_warmup_bad_input(capsys):
    assert main(["warmup", "two_country", "--commands", "counterfactual"]) == 1
    assert "--commands" in capsys.readouterr().err
    assert main(["warmup", "two_country", "--T", "1"]) == 1
    assert "horizon" in capsys.readouterr().err
