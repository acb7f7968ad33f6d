"""Execute the tutorials and store the executed copies the site renders.

    python docs/execute_notebooks.py [NAME ...]

The notebooks in notebooks/ are committed without outputs (tests/test_notebooks.py
checks it: their diffs stay readable). The documentation site shows each tutorial with
its figures from an executed copy, docs/executed/NAME.ipynb, written by this script: a
fresh kernel on this interpreter runs notebooks/NAME.ipynb at the grid sizes of the
notebook tests (HAT_NOTEBOOK_NA, tests/notebook_runner.py: small grids, so the figures
are those of coarse asset grids), and the result is stored with its outputs. The site
takes a copy only while its code cells equal the notebook's (docs/hooks.py; a stale
copy falls back to the notebook without outputs, and tests/test_docs.py fails on it):
run this script again after editing a notebook. Nothing here runs at build time.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = ROOT / "docs" / "executed"


def code_sources(path: Path) -> list[str]:
    """The sources of a notebook's code cells (what must match between the copies)."""
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _kernel_env(tmp: Path, na: str, data_dir: str | None) -> dict:
    """A 'python3' kernelspec running this interpreter, first on JUPYTER_PATH."""
    spec_dir = tmp / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    # no MPLBACKEND (the tests set Agg): the kernel's inline backend stores the figures
    env = {"JUPYTER_PATH": str(tmp / "jupyter"), "HAT_NOTEBOOK_NA": na,
           "MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONUNBUFFERED": "1"}
    if data_dir is not None:
        env["HAT_DATA_DIR"] = data_dir
    return env


def execute(path: Path) -> Path:
    """Run notebooks/NAME.ipynb at the tests' grid size; write docs/executed/NAME.ipynb."""
    import nbclient
    import nbformat

    sys.path.insert(0, str(ROOT / "tests"))
    from notebook_runner import CELL_TIMEOUT_S, NOTEBOOK_NA, SMALL_NA

    from hat_jax.data import packaged_data_dir

    na = NOTEBOOK_NA.get(path.name, SMALL_NA)
    with tempfile.TemporaryDirectory() as tmp:
        env = _kernel_env(Path(tmp), na, str(packaged_data_dir()))
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            nb = nbformat.read(path, as_version=4)
            nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                    resources={"metadata": {"path": str(path.parent)}}
                                    ).execute()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    nb.metadata["hat_jax_executed"] = {"HAT_NOTEBOOK_NA": na}
    EXECUTED.mkdir(exist_ok=True)
    out = EXECUTED / path.name
    nbformat.write(nb, out)
    return out


def main(names: list[str]) -> int:
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if names:
        paths = [p for p in paths if p.stem in names or p.name in names]
    for p in paths:
        print(f"executing {p.name} ...", flush=True)
        print(f"  wrote {execute(p).relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
