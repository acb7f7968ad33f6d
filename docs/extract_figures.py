"""Copy the figures stored in the notebooks' outputs to docs/figures/.

    python docs/extract_figures.py [NAME ...]

Each PNG output of notebooks/NAME.ipynb becomes docs/figures/NAME-K.png (K = 1, 2, ...
in the order of the notebook's outputs). Nothing is executed: a notebook stored without
outputs gives no figure. Figures of a notebook that no longer has them are removed.

The site does not need this step: docs/hooks.py adds the same figures to the build in
memory (``figures/NAME-K.png``, a file of that name in docs/figures/ taking precedence),
and the ``<!-- figure NAME.ipynb K: caption -->`` marks of the task pages show figure K
of the notebook, or point to the tutorial while the notebook has no stored outputs. Run
it for files to link from elsewhere (the README on GitHub, slides).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"


def stored_figures(notebook: Path) -> list[bytes]:
    """The PNG outputs stored in a notebook, in order (nothing is executed)."""
    nb = json.loads(notebook.read_text())
    found = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png is not None:
                found.append(base64.b64decode("".join(png) if isinstance(png, list) else png))
    return found


def extract(notebook: Path, out: Path = FIGURES) -> list[Path]:
    """Write the notebook's stored PNG outputs to ``out``; returns the files written."""
    written = []
    for k, data in enumerate(stored_figures(notebook), start=1):
        path = out / f"{notebook.stem}-{k}.png"
        path.write_bytes(data)
        written.append(path)
    for stale in out.glob(f"{notebook.stem}-*.png"):
        if stale not in written:
            stale.unlink()
    return written


def main(names: list[str]) -> None:
    """Extract the figures of the notebooks named (default: all), from the executed
    copy the site renders (docs/executed/, see docs/execute_notebooks.py) where it is
    current, else from the notebook itself."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    FIGURES.mkdir(parents=True, exist_ok=True)
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if names and notebook.stem not in names:
            continue
        source = hooks.rendered(notebook)
        written = extract(source)  # the copy has the notebook's name: NAME-K.png
        print(f"{source.relative_to(ROOT)}: {len(written)} figure(s)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
