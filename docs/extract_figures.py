"""Copy the figures stored in the notebooks' outputs to docs/figures/.

    python docs/extract_figures.py

Each PNG output of notebooks/NAME.ipynb becomes docs/figures/NAME-K.png (K = 1, 2, ...
in the order of the notebook's outputs). Nothing is executed: a notebook stored without
outputs gives no figure, and the pages then point to the tutorial instead (the
``<!-- figure NAME.ipynb K: caption -->`` marks, see docs/hooks.py). Figures of a
notebook that no longer has them are removed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"


def extract(notebook: Path, out: Path = FIGURES) -> list[Path]:
    """Write the notebook's stored PNG outputs to ``out``; returns the files written."""
    nb = json.loads(notebook.read_text())
    written = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png is None:
                continue
            path = out / f"{notebook.stem}-{len(written) + 1}.png"
            data = "".join(png) if isinstance(png, list) else png
            path.write_bytes(base64.b64decode(data))
            written.append(path)
    for stale in out.glob(f"{notebook.stem}-*.png"):
        if stale not in written:
            stale.unlink()
    return written


def main() -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        written = extract(notebook)
        print(f"{notebook.relative_to(ROOT)}: {len(written)} figure(s)")


if __name__ == "__main__":
    main()
