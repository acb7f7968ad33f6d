"""The package's shape: one-way imports, declared public names, the public face and its
renamed names, public API in notebooks and docs, module and function sizes (issues 12
and 24). Static checks, except the last tests, which import hat_jax and build one
economy (no solve)."""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "hat_jax"

# Layers of the data flow, lowest first; a module may import its own layer or lower ones.
# Named without the leading underscore of a private module (``_household`` is "household").
LAYERS = [
    {"config", "compiled", "backend", "results", "fileio", "income", "anderson", "tariffs",
     "memory", "memory_maps", "deprecation", "wedges"},
    {"household"},
    {"params", "distribution", "aggregates", "change", "warm"},
    {"unknowns", "start", "newton", "diagnostics", "equilibrium", "equilibrium_options",
     "baseline", "batched",
     "symmetry", "scenario_start", "coarse"},
    {"data", "ppml", "gravity", "preset_registry", "presets", "ek", "tables", "ek_world"},
    {"calibration", "elasticities", "welfare", "planner", "transition", "model"},
    {"scenarios", "policy"},
    {"report"},
    {"cli"},
]


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        yield name, path


def _imports(name: str, path: Path) -> set[str]:
    """hat_jax modules imported anywhere in the file (module level or inside functions)."""
    tree = ast.parse(path.read_text())
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("hat_jax")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("hat_jax"):
                continue
            out.add(mod)
            names = {f"{mod}.{a.name}" for a in node.names}
            out |= {n for n in names if n in MODULES}
    return {m for m in out if m != name}


MODULES = dict(_modules())
GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _top(name: str) -> str:
    parts = name.split(".")
    return parts[1].removeprefix("_") if len(parts) > 1 else "__init__"


def _layer(name: str) -> int | None:
    top = _top(name)
    for k, layer in enumerate(LAYERS):
        if top in layer:
            return k
    return None


def test_no_import_cycle():
    """Depth-first search for a cycle in the import graph of hat_jax (the package
    __init__, which re-exports everything, is left out)."""
    graph = {m: {d for d in deps if d in MODULES and d != "hat_jax"}
             for m, deps in GRAPH.items() if m != "hat_jax"}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            # a module importing its own package __init__ is importing a sibling re-export
            if m.startswith(d + "."):
                continue
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_imports_flow_one_way():
    """No module imports a module of a higher layer (params -> ... -> report -> cli)."""
    bad = []
    for m, deps in GRAPH.items():
        lm = _layer(m)
        if m == "hat_jax" or lm is None:
            continue
        for d in deps:
            ld = _layer(d)
            if d != "hat_jax" and ld is not None and ld > lm:
                bad.append(f"{m} (layer {lm}) imports {d} (layer {ld})")
    assert not bad, "imports against the data flow:\n" + "\n".join(sorted(bad))


def test_every_module_is_layered():
    unknown = sorted(m for m in MODULES if m != "hat_jax" and _layer(m) is None)
    assert not unknown, f"modules missing from LAYERS: {unknown}"


def test_public_modules_declare_all():
    missing = []
    for name, path in MODULES.items():
        if any(p.startswith("_") and p != "__init__" for p in name.split(".")):
            continue
        tree = ast.parse(path.read_text())
        declared = any(isinstance(n, (ast.Assign, ast.AnnAssign)) and any(
            isinstance(t, ast.Name) and t.id == "__all__"
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))
            for n in tree.body)
        if not declared:
            missing.append(name)
    assert not missing, f"public modules without __all__: {missing}"


MAX_MODULE_LINES = 550  # "about 500": a module past this has more than one concern


def test_module_sizes():
    big = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    big = {k: v for k, v in big.items() if v > MAX_MODULE_LINES}
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"


def _private_uses(text: str) -> tuple[list[str], list[str]]:
    """What a piece of code takes from hat_jax's implementation: (private modules, private
    names). A private module is ``hat_jax._x`` or ``hat_jax.pkg._x`` (imported or
    reached by attribute); a private name is an underscore name inside any module
    (``from hat_jax._x import _y``, ``hat_jax.x._y``)."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    modules, names = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hat_jax"):
            if any(p.startswith("_") for p in node.module.split(".")):
                modules.append(node.module)
            for a in node.names:
                if not a.name.startswith("_"):
                    continue
                full = f"{node.module}.{a.name}"
                (modules if full in MODULES else names).append(full)
        elif isinstance(node, ast.Import):
            modules += [a.name for a in node.names
                        if a.name.startswith("hat_jax") and "._" in a.name]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id == "hat_jax":
                full = ast.unparse(node)
                (modules if full in MODULES else names).append(full)
    return modules, names


def _python_blocks(markdown: str) -> list[str]:
    """The fenced ``python`` code blocks of a Markdown page."""
    blocks, inside = [], None
    for line in markdown.splitlines():
        if inside is None and line.strip() == "```python":
            inside = []
        elif inside is not None and line.strip() == "```":
            blocks.append("\n".join(inside))
            inside = None
        elif inside is not None:
            inside.append(line)
    return blocks


def _user_code() -> dict[str, list[str]]:
    """The code a user reads and copies: the notebooks' code cells and the Python blocks
    of the README and of every docs page."""
    out = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        out[path.name] = ["\n".join("".join(c["source"]) for c in cells
                                    if c["cell_type"] == "code")]
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        out[str(path.relative_to(ROOT))] = _python_blocks(path.read_text())
    return out


def _block_uses(block: str) -> list[str]:
    """Private modules and names in one block; an excerpt that is not a whole program
    (``...`` standing for the rest) is searched as text."""
    try:
        modules, names = _private_uses(block)
        return modules + names
    except SyntaxError:
        return re.findall(r"hat_jax(?:\.\w+)*\._\w+", block)


def _unresolved(block: str) -> list[str]:
    """Names a block imports from hat_jax that do not exist, or that moved (CHANGELOG 0.2)
    and now only resolve with a DeprecationWarning."""
    import importlib
    import importlib.util

    from hat_jax import _MOVED as MOVED

    try:
        tree = ast.parse(block)
    except SyntaxError:
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hat_jax"):
            try:
                mod = importlib.import_module(node.module)
            except ImportError:
                out.append(node.module)
                continue
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if node.module == "hat_jax" and a.name in MOVED:
                    out.append(f"{full} (moved to hat_jax.{MOVED[a.name]})")
                elif not hasattr(mod, a.name) and importlib.util.find_spec(full) is None:
                    out.append(full)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "hat_jax" and node.attr in MOVED:
            out.append(f"hat_jax.{node.attr} (moved to hat_jax.{MOVED[node.attr]})")
    return out


def test_user_code_uses_only_the_public_api():
    """Notebooks, README and docs examples use the public face only: ``hat_jax`` and its
    public namespaces, never an implementation module (``_name``) or an underscore name,
    and every name they import exists."""
    bad = {}
    for name, blocks in _user_code().items():
        uses = [u for block in blocks for u in _block_uses(block) + _unresolved(block)]
        if uses:
            bad[name] = uses
    assert not bad, f"private, unknown or moved names used: {bad}"


def test_tests_use_no_private_names():
    """Tests may import an implementation module to test it (``hat_jax._household``),
    but never one of its underscore helpers: what a test pins is a module's declared
    interface (its ``__all__``), which the module's own refactors keep."""
    bad = {}
    for path in sorted((ROOT / "tests").glob("*.py")):
        if path.name == Path(__file__).name:
            continue
        _, names = _private_uses(path.read_text())
        if names:
            bad[path.name] = names
    assert not bad, f"private names used: {bad}"


MAX_PUBLIC_NAMES = 65  # the package's face: what `import hat_jax` offers


def test_small_documented_public_face():
    """``hat_jax.__all__`` holds at most 65 names, each defined and documented (a
    docstring; a constant is documented by the API reference's value line); every public
    namespace it names declares its own ``__all__`` of defined names."""
    import hat_jax

    names = hat_jax.__all__
    assert len(names) <= MAX_PUBLIC_NAMES, f"{len(names)} names in hat_jax.__all__"
    assert len(set(names)) == len(names), "a name listed twice in hat_jax.__all__"
    undocumented = []
    for name in names:
        obj = getattr(hat_jax, name)
        if isinstance(obj, (dict, tuple, str, int, float)):
            continue
        if not (getattr(obj, "__doc__", None) or "").strip():
            undocumented.append(name)
        if isinstance(obj, type(hat_jax)):
            missing = [n for n in obj.__all__ if not hasattr(obj, n)]
            assert not missing, f"hat_jax.{name}.__all__ names undefined {missing}"
    assert not undocumented, f"public names without a docstring: {undocumented}"


def test_moved_names_warn_and_resolve():
    """A name dropped from ``hat_jax.__all__`` (CHANGELOG 0.2) still resolves, to the
    same object as its new home, with a DeprecationWarning that names that home."""
    import importlib

    import hat_jax

    for name, home in hat_jax._MOVED.items():
        assert name not in hat_jax.__all__
        target = getattr(importlib.import_module(f"hat_jax.{home}"), name)
        with pytest.warns(DeprecationWarning, match=f"hat_jax.{home}.{name}"):
            assert getattr(hat_jax, name) is target
    with pytest.raises(AttributeError, match="no_such_name"):
        hat_jax.no_such_name


# ----------------------------------------------------------------- typed solver states
#: Conventional names of an iteration's carry; string-key reads on them (``c["it"]``)
#: are what a typed state (an ``eqx.Module`` read by attribute, like
#: hat_jax._newton.NewtonState) replaces.
CARRY_NAMES = {"c", "carry", "state"}
#: Modules that still keep a dict carry, each with its reason. Such a carry must be
#: built and read inside its own module only (none leaves it).
DICT_CARRY_MODULES = {
    "hat_jax.welfare._roots": "the EV root's safeguarded secant: a dict carry built, read "
                             "and finished inside _root_state / _next_point of this module "
                             "(the EV work owns it)",
    "hat_jax.welfare._policy_rule": "the policy-rule secant: a dict carry local to one "
                                   "while_loop of one function",
    "hat_jax.welfare._continuation": "the continuation ring: a dict carry local to one "
                                    "while_loop of one function",
}


def _carry_names(tree) -> set[str]:
    """CARRY_NAMES plus the names bound to a ``lax.while_loop`` result and the parameters
    of its cond / body functions."""
    names = set(CARRY_NAMES)
    defs = {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef,
                                                               ast.AsyncFunctionDef))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and ast.unparse(node.value.func).endswith("while_loop"):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("while_loop"):
            for fn in node.args[:2]:
                if isinstance(fn, ast.Lambda):
                    names |= {a.arg for a in fn.args.args}
                elif isinstance(fn, ast.Name) and fn.id in defs:
                    names |= {a.arg for a in defs[fn.id].args.args}
    return names


def test_no_solver_state_key_reads():
    """No string-key subscript (``c["it"]``) of a solver's carry anywhere in hat_jax,
    except in the modules of DICT_CARRY_MODULES (local carries, reasons there): solver
    states are typed (eqx.Module) and read by attribute."""
    bad = []
    for name, path in MODULES.items():
        if name in DICT_CARRY_MODULES:
            continue
        tree = ast.parse(path.read_text())
        names = _carry_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                    and node.value.id in names and isinstance(node.slice, ast.Constant) \
                    and isinstance(node.slice.value, str):
                bad.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert not bad, "string-key reads of a solver state:\n" + "\n".join(bad)


# ------------------------------------------------------------------- function sizes
MAX_FUNCTION_LINES = 80  # def line to last line, docstring included
#: Functions allowed past MAX_FUNCTION_LINES, each with its reason.
LONG_FUNCTIONS = {
    "hat_jax.welfare._roots._solve_roots": "the EV's safeguarded per-state root solver (83 "
        "lines): its closures (start_of, one, finish) share one trace; to be split with "
        "the rest of issue 24",
}


def _functions(tree, prefix: str):
    """(qualified name, lines) of every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = f"{prefix}.{node.name}"
            yield name, node.end_lineno - node.lineno + 1
            yield from _functions(node, name)
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}.{node.name}")


def test_function_sizes():
    big = {}
    for name, path in MODULES.items():
        for fn, lines in _functions(ast.parse(path.read_text()), name):
            if lines > MAX_FUNCTION_LINES and fn not in LONG_FUNCTIONS:
                big[fn] = lines
    assert not big, f"functions over {MAX_FUNCTION_LINES} lines (split them, or list them " \
                    f"in LONG_FUNCTIONS with a reason): {big}"


def test_renamed_keywords_and_attributes_warn():
    """The names renamed in 0.2 (CHANGELOG: theta -> params for the parameter vector, T ->
    horizon for the transition, lam -> factor for the EV) still work, give the same
    object or value, and warn with the new name; giving both spellings is an error."""
    import warnings

    import numpy as np

    import hat_jax
    from hat_jax import calibration as cal, scenarios as sc, transition as tn

    params = cal.synthetic_params(4, seed=1)
    with pytest.warns(DeprecationWarning, match=r"trade_cost_levels\(theta=...\) is now params="):
        old = cal.trade_cost_levels(theta=params)
    assert old == cal.trade_cost_levels(params)
    with pytest.raises(TypeError, match="both theta="):
        cal.trade_cost_levels(params=params, theta=params)
    for ns, old_name, new_name in [(sc, "theta_draws", "parameter_draws"),
                                   (sc, "theta_scenarios", "parameter_scenarios"),
                                   (cal, "synthetic_theta", "synthetic_params"),
                                   (tn, "DEFAULT_T", "DEFAULT_HORIZON")]:
        with pytest.warns(DeprecationWarning, match=f"{ns.__name__}.{new_name}"):
            assert getattr(ns, old_name) is getattr(ns, new_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the EK data's labour-force note
        world = hat_jax.ek_world("ek_baseline", Na=20)
    with pytest.warns(DeprecationWarning, match="EKWorld.params"):
        assert world.theta is world.params
    with pytest.warns(DeprecationWarning, match=r"ek_world\(theta=...\) is now params="):
        again = hat_jax.ek_world("ek_baseline", Na=20, theta=np.asarray(world.params))
    np.testing.assert_array_equal(again.economy.d, world.economy.d)
    shock = tn.shock_path(hat_jax.two_country(Na=20), None, horizon=5)
    with pytest.warns(DeprecationWarning, match="ShockPath.horizon"):
        assert shock.T == shock.horizon == 5
