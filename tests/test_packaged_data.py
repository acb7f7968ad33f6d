"""The data shipped inside the package (hat_jax/_data) and where the loaders look."""

import hashlib
import os
from pathlib import Path

import pytest

from hat_jax.data import DataError, load_ek2002, packaged_data_dir, resolve_data_dir

#: An original data folder to compare the packaged copy with (the project's shared data).
ORIGINAL = Path(os.environ.get("HAT_ORIGINAL_DATA_DIR")
                or Path(__file__).resolve().parents[2] / "shared" / "data")
FOLDERS = ("ek2002", "hat-baseline")


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_packaged_copy_is_byte_identical():
    """Every file the loaders read (and the folders' READMEs) is identical, byte for byte,
    to the original folder's; no file is missing or extra."""
    if not all((ORIGINAL / f).is_dir() for f in FOLDERS):
        pytest.skip(f"no original data folder at {ORIGINAL}")
    pkg = packaged_data_dir()
    for folder in FOLDERS:
        ours = sorted(p.name for p in (pkg / folder).iterdir())
        theirs = sorted(p.name for p in (ORIGINAL / folder).iterdir())
        assert ours == theirs, folder
        for name in ours:
            assert _digest(pkg / folder / name) == _digest(ORIGINAL / folder / name), name


def test_packaged_copy_is_the_default(monkeypatch, tmp_path):
    """Without HAT_DATA_DIR the loaders read the packaged copy, from any directory;
    HAT_DATA_DIR and an explicit path override it."""
    monkeypatch.delenv("HAT_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    pkg = packaged_data_dir()
    assert pkg.parent.name == "hat_jax" and (pkg / "ek2002" / "ek-data.csv").is_file()
    assert resolve_data_dir() == pkg
    assert load_ek2002().iso3[-1] == "USA"
    monkeypatch.setenv("HAT_DATA_DIR", str(tmp_path))
    assert resolve_data_dir() == tmp_path
    with pytest.raises(DataError, match="countries.csv: missing file"):  # the override is really used
        load_ek2002()
    assert resolve_data_dir(pkg / "ek2002") == pkg
