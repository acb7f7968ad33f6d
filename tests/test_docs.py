"""The documentation can not drift from the code (issue 25): the generated CLI reference
covers every ``hat`` command and option, the generated API reference every public name,
and every link of the README into docs/ points at a file that exists. Fast: argparse
parsers and text only, no solve (the site itself is built by ``.ci/run`` with
``mkdocs build --strict``)."""

import argparse
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_covers_every_command_and_option(hooks):
    import hat_jax.cli

    page = hooks.cli_reference()
    parser = hat_jax.cli.build_parser()
    commands = next(a for a in parser._actions
                    if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == set(hat_jax.cli.COMMANDS)
    sections = re.split(r"^## ", page, flags=re.M)
    for name, sub in commands.items():
        section = next((s for s in sections if s.startswith(f"`hat {name}`")), None)
        assert section is not None, f"hat {name} has no section in the CLI reference"
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            names = action.option_strings or [action.metavar or action.dest]
            for option in names:
                assert f"`{option}`" in section, f"hat {name} {option} missing from the CLI reference"


def test_api_reference_lists_every_public_name(hooks):
    import hat_jax

    page = hooks.api_reference()
    for name in hat_jax.__all__:
        assert f"hat_jax.{name}" in page, name


def test_layers_are_read_from_the_structure_test(hooks):
    layers = hooks.layers()
    assert layers and all(isinstance(layer, set) for layer in layers)
    assert {"cli"} in layers


def test_readme_links_to_docs_resolve():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    docs = [link.split("#")[0] for link in links if link.startswith("docs/")]
    assert docs, "the README links to no docs page"
    missing = [link for link in docs if not (ROOT / link).is_file()]
    assert not missing, f"README links to missing docs files: {missing}"
    for link in links:  # every other relative link too
        target = link.split("#")[0]
        if target and not re.match(r"[a-z]+:", target):
            assert (ROOT / target).exists(), f"README link {link} does not resolve"


def test_executed_tutorials_match_their_notebooks(hooks):
    """Every executed copy the site renders (docs/executed/NAME.ipynb, with outputs) has
    the code of notebooks/NAME.ipynb: a notebook edited without running
    docs/execute_notebooks.py again fails here instead of showing old outputs."""
    executed = sorted((ROOT / "docs" / "executed").glob("*.ipynb"))
    stale = [p.name for p in executed
             if not (ROOT / "notebooks" / p.name).is_file()
             or hooks.rendered(ROOT / "notebooks" / p.name) != p]
    assert not stale, f"re-run python docs/execute_notebooks.py {' '.join(stale)}"
