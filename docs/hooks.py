"""MkDocs hooks: the generated parts of the documentation site.

Nothing here is written to ``docs/``: the pages are added to the build in memory, so
the site follows the code it documents and cannot drift from it.

* ``reference/api.md``: one section per module, one entry per name of
  ``hat_jax.__all__`` (mkdocstrings renders each docstring).
* ``reference/cli.md``: every ``hat`` command and option, from the argparse parsers
  that ``hat_jax.cli.build_parser`` builds (:func:`cli_reference`).
* the layer order on the Architecture page, from ``LAYERS`` in
  ``tests/test_structure.py`` (read with :mod:`ast`, the test is not imported).
* ``tutorials/*.ipynb``: the notebooks of ``notebooks/``, rendered by mkdocs-jupyter
  with their stored outputs (``execute: false``), without a copy in ``docs/``.

The functions that build page text import no MkDocs module, so that
``tests/test_docs.py`` can run them without the ``docs`` extra.
"""

from __future__ import annotations

import argparse
import ast
import html
import re
import importlib
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
STRUCTURE_TEST = ROOT / "tests" / "test_structure.py"

# The notebooks in reading order; any other notebook in notebooks/ follows, by name.
NOTEBOOK_ORDER = ["two_country", "ek_world", "elasticities", "calibration", "welfare",
                  "trade_policy", "transition", "own_data"]

# Section titles of the API reference, by the module that defines a public name.
API_SECTIONS = {
    "_config": "Configuration",
    "change": "Experiments: Change",
    "income": "Income processes",
    "household": "Households",
    "params": "Economies",
    "presets": "Presets",
    "preset_registry": "Presets",
    "ek": "The Eaton-Kortum world",
    "distribution": "Stationary distributions",
    "aggregates": "Aggregates",
    "equilibrium": "Equilibrium",
    "diagnostics": "Equilibrium",
    "results": "Results and failures",
    "elasticities": "Trade elasticities",
    "calibration": "Calibration",
    "welfare": "Welfare",
    "planner": "The planner",
    "batched": "Many scenarios",
    "scenarios": "Many scenarios",
    "tables": "Your own data",
    "tariffs": "Tariffs and trade policy",
    "policy": "Tariffs and trade policy",
    "transition": "Transitions",
}


# The order of the sections (titles not listed here follow, in order of appearance).
SECTION_ORDER = ["Economies", "Presets", "The Eaton-Kortum world", "Equilibrium",
                 "Results and failures", "Households", "Income processes",
                 "Stationary distributions", "Aggregates", "Trade elasticities",
                 "Experiments: Change", "Calibration", "Welfare", "The planner", "Many scenarios",
                 "Tariffs and trade policy", "Transitions", "Your own data",
                 "Configuration"]


def _import_package():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("hat_jax")


# ------------------------------------------------------------------------------ API
def _home_module(obj, name: str) -> str:
    """The hat_jax submodule (top level) where a public object is defined."""
    module = getattr(obj, "__name__", None) if isinstance(obj, type(sys)) else None
    if module is None:
        module = getattr(obj, "__module__", None) or "hat_jax"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "hat_jax" else name


def api_sections() -> dict[str, list[str]]:
    """Section title -> the public names (``hat_jax.__all__``, in its order)."""
    hat_jax = _import_package()
    sections: dict[str, list[str]] = {}
    for name in hat_jax.__all__:
        home = _home_module(getattr(hat_jax, name), name)
        key = home.lstrip("_")  # a module made private (_name.py) keeps its section
        title = API_SECTIONS.get(home) or API_SECTIONS.get(
            key, key.replace("_", " ").capitalize())
        sections.setdefault(title, []).append(name)
    rank = {t: k for k, t in enumerate(SECTION_ORDER)}
    return dict(sorted(sections.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def api_reference() -> str:
    """The API reference page: every name of ``hat_jax.__all__``, grouped by module."""
    hat_jax = _import_package()
    lines = [
        "# Python API",
        "",
        "The public names of `hat_jax` (its `__all__`), grouped by the module that defines",
        "them. This page is generated when the site is built, so it lists exactly what",
        "`import hat_jax` offers; anything else is internal and may change.",
        "",
        "```python",
        "import hat_jax  # turns on JAX's float64 mode for the whole process",
        "```",
        "",
    ]
    for title, names in api_sections().items():
        lines += [f"## {title}", ""]
        for name in names:
            obj = getattr(hat_jax, name)
            if isinstance(obj, type(sys)):
                members = ", ".join(f"`{m}`" for m in getattr(obj, "__all__", []))
                lines += [f"::: hat_jax.{name}", "    options:", "      members: false",
                          "      show_root_heading: true", ""]
                if members:
                    lines += [f"Names in `hat_jax.{name}`: {members}.", ""]
            elif callable(obj) or isinstance(obj, type):
                lines += [f"::: hat_jax.{name}", "    options:",
                          "      show_root_heading: true", ""]
            else:  # a constant (e.g. PRESETS)
                value = ", ".join(f"`{k}`" for k in obj) if isinstance(obj, dict) else f"`{obj!r}`"
                lines += [f"### `hat_jax.{name}`", "", f"Value: {value}.", ""]
    return "\n".join(lines + namespace_reference(hat_jax)) + "\n"


def namespace_reference(hat_jax) -> list[str]:
    """Every name of the public namespaces (``hat_jax.model``, ``hat_jax.welfare``, ...)
    that ``hat_jax`` itself does not export, rendered from its docstring."""
    top = {id(getattr(hat_jax, n)) for n in hat_jax.__all__}
    lines = ["# Namespaces", "",
             "The names of the public namespaces that `hat_jax` does not export itself.", ""]
    for name in hat_jax.__all__:
        ns = getattr(hat_jax, name)
        if not isinstance(ns, type(sys)):
            continue
        lines += [f"## `hat_jax.{name}`", ""]
        for member in ns.__all__:
            obj = getattr(ns, member)
            if id(obj) in top:
                lines += [f"- `hat_jax.{name}.{member}`: see `hat_jax.{member}` above.", ""]
            elif callable(obj) or isinstance(obj, type(sys)):
                lines += [f"::: hat_jax.{name}.{member}", "    options:",
                          "      show_root_heading: true", "      heading_level: 3", ""]
            else:
                value = f"{len(obj)} entries" if isinstance(obj, (dict, tuple, list)) \
                    else f"`{obj!r}`"
                lines += [f"### `hat_jax.{name}.{member}`", "", f"Value: {value}.", ""]
    return lines


# ------------------------------------------------------------------------------ CLI
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_commands() -> dict[str, argparse.ArgumentParser]:
    """Command name -> its argparse parser, as ``hat`` builds them."""
    _import_package()
    cli = importlib.import_module("hat_jax.cli")
    return _subparsers(cli.build_parser())


def _option_row(action: argparse.Action) -> str:
    if action.option_strings:
        names = ", ".join(f"`{s}`" for s in action.option_strings)
    else:
        names = f"`{action.metavar or action.dest}`"
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        takes = " \\| ".join(f"`{c}`" for c in action.choices)
    elif action.nargs == 0:
        takes = "(flag)"
    else:
        metavar = action.metavar or (action.dest.upper() if action.option_strings else "")
        if isinstance(metavar, tuple):
            metavar = " ".join(metavar)
        takes = f"`{metavar}`" if metavar else ""
        if action.nargs in ("*", "+"):
            takes += " ..."
        elif isinstance(action.nargs, int) and action.nargs > 1 and not isinstance(
                action.metavar, tuple):
            takes = " ".join([takes] * action.nargs)
    default = action.default
    shown = "" if default in (None, False, argparse.SUPPRESS) else f"`{default}`"
    text = (action.help or "").replace("%(default)s", str(default)).replace("%%", "%")
    text = html.escape(" ".join(text.split())).replace("|", "\\|")
    return f"| {names} | {takes} | {shown} | {text} |"


def cli_reference() -> str:
    """The CLI reference page: each command's usage, description and options."""
    commands = cli_commands()
    lines = [
        "# The `hat` command",
        "",
        "Generated from the argparse parsers of `hat_jax.cli` when the site is built: every",
        "command and every option `hat` accepts, with its help text. `hat COMMAND --help`",
        "prints the same. Exit codes and messages: [Errors and exit codes](errors.md);",
        "what `--json` prints and `--out` writes: [JSON and output folders](outputs.md).",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for name, parser in commands.items():
        first = " ".join((parser.description or "").split()).split(". ")[0].rstrip(".")
        lines.append(f"| [`hat {name}`](#hat-{name}) | {html.escape(first)} |")
    lines.append("")
    for name, parser in commands.items():
        usage = parser.format_usage().rstrip().replace("usage: ", "", 1)
        usage = usage.replace("\n" + " " * len("usage: "), "\n")  # continuation lines
        lines += [f"## `hat {name}` {{#hat-{name}}}", "", "```text", usage, "```", ""]
        if parser.description:
            lines += [" ".join(parser.description.split()), ""]
        for group in parser._action_groups:
            actions = [a for a in group._group_actions
                       if not isinstance(a, argparse._HelpAction)]
            if not actions:
                continue
            title = group.title or "options"
            lines += [f"**{title[0].upper() + title[1:]}**", "",
                      "| option | value | default | meaning |", "|---|---|---|---|"]
            lines += [_option_row(a) for a in actions]
            lines.append("")
        if parser.epilog:
            lines += [" ".join(parser.epilog.split()), ""]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ layers
def layers() -> list[set[str]]:
    """``LAYERS`` of tests/test_structure.py, read from its source."""
    tree = ast.parse(STRUCTURE_TEST.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "LAYERS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"no LAYERS list in {STRUCTURE_TEST}")


def layers_table() -> str:
    rows = ["| layer | modules of `hat_jax` |", "|---|---|"]
    for k, layer in enumerate(layers()):
        rows.append(f"| {k} | {', '.join(f'`{m}`' for m in sorted(layer))} |")
    return "\n".join(rows)


# ------------------------------------------------------------------------------ notebooks
EXECUTED = ROOT / "docs" / "executed"


def _code_sources(path: Path) -> list[str]:
    import json

    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def rendered(path: Path) -> Path:
    """What the site shows for notebooks/NAME.ipynb: its executed copy
    docs/executed/NAME.ipynb (outputs and figures; written by docs/execute_notebooks.py)
    while the copy's code cells equal the notebook's, else the notebook itself."""
    copy = EXECUTED / path.name
    if copy.is_file() and _code_sources(copy) == _code_sources(path):
        return copy
    return path


def notebooks() -> list[Path]:
    found = {p.stem: p for p in sorted(NOTEBOOKS.glob("*.ipynb"))}
    ordered = [found.pop(n) for n in NOTEBOOK_ORDER if n in found]
    return ordered + list(found.values())


def notebook_title(path: Path) -> str:
    """The notebook's first Markdown heading (its title in the navigation)."""
    import json

    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem.replace("_", " ").capitalize()


# ------------------------------------------------------------------------------ figures
FIGURE = re.compile(r"<!-- figure (\S+?)\.ipynb (\d+): (.+?) -->")
FIGURES = ROOT / "docs" / "figures"


def _stored_figures(path: Path) -> list[bytes]:
    spec = importlib.util.spec_from_file_location(
        "docs_extract_figures", ROOT / "docs" / "extract_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.stored_figures(path)


def figure_count(notebook: str) -> int:
    """How many figures notebooks/NOTEBOOK.ipynb has stored (or docs/figures/ holds)."""
    path = NOTEBOOKS / f"{notebook}.ipynb"
    stored = len(_stored_figures(rendered(path))) if path.is_file() else 0
    return max(stored, len(list(FIGURES.glob(f"{notebook}-*.png"))))


def figure_markdown(notebook: str, k: int, caption: str, depth: int) -> str:
    """The k-th (1-based) stored figure of notebooks/NOTEBOOK.ipynb (added to the build
    by :func:`on_files`, or extracted to docs/figures/ by docs/extract_figures.py); a
    note that points to the tutorial while the notebook is stored without outputs."""
    up = "../" * depth
    name = f"{notebook}-{k}.png"
    if (FIGURES / name).is_file() or figure_count(notebook) >= k:
        return f"![{caption}]({up}figures/{name})\n\n*{caption}* ([tutorial]({up}tutorials/{notebook}.ipynb))"
    return (f'!!! info "Figure: {caption}"\n'
            f"    Drawn by the tutorial [{notebook}.ipynb]({up}tutorials/{notebook}.ipynb). The\n"
            f"    picture appears here once the notebook is stored with its outputs and\n"
            f"    `python docs/extract_figures.py` has copied its figures to `docs/figures/`.")


# ------------------------------------------------------------------------------ MkDocs events
try:  # the hooks run inside MkDocs; the page builders above also run without it
    from mkdocs.plugins import event_priority
except ImportError:  # pragma: no cover - tests without the docs extra
    def event_priority(_priority):
        return lambda f: f


def on_config(config):
    """The Tutorials section of the navigation: every notebook of notebooks/."""
    for entry in config["nav"] or []:
        if isinstance(entry, dict) and "Tutorials" in entry:
            entry["Tutorials"] = [{notebook_title(p): f"tutorials/{p.name}"}
                                  for p in notebooks()]
    return config


@event_priority(100)  # before mkdocs-jupyter, which turns the notebooks into pages
def on_files(files, config):
    from mkdocs.structure.files import File

    files.append(File.generated(config, "reference/api.md", content=api_reference()))
    files.append(File.generated(config, "reference/cli.md", content=cli_reference()))
    # tests/README.md is the one place of the tiers and the suite time: shown as is
    files.append(File.generated(config, "testing.md",
                                content=(ROOT / "tests" / "README.md").read_text()))
    for path in notebooks():
        files.append(File.generated(config, f"tutorials/{path.name}",
                                    abs_src_path=str(rendered(path))))
        for k, data in enumerate(_stored_figures(rendered(path)), start=1):
            uri = f"figures/{path.stem}-{k}.png"
            if files.get_file_from_path(uri) is None:  # docs/figures/ takes precedence
                files.append(File.generated(config, uri, content=data))
    return files


def on_nav(nav, config, files):
    """mkdocs-jupyter wraps each notebook in a ``NotebookFile`` whose own ``abs_src_path``
    is computed from ``src_dir`` (None for a generated file): give it the notebook's."""
    for f in files:
        inner = getattr(f, "file", None)
        if inner is not None and f.src_uri.startswith("tutorials/"):
            f.__dict__["abs_src_path"] = inner.abs_src_path
    return nav


SPHINX_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj):(?=<code>)")


def on_page_content(html_text, page, config, files):
    """Docstrings use Sphinx roles (``:func:`name```); shown as plain code."""
    if page.file.src_uri == "reference/api.md":
        html_text = SPHINX_ROLE.sub("", html_text)
    return html_text


def on_page_markdown(markdown, page, config, files):
    if "<!-- layers -->" in markdown:
        markdown = markdown.replace("<!-- layers -->", layers_table())
    depth = page.file.src_uri.count("/")
    markdown = FIGURE.sub(lambda m: figure_markdown(m[1], int(m[2]), m[3], depth), markdown)
    return markdown
