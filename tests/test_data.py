"""Tests for hat_jax.data: the Eaton-Kortum loader, its validation and published vectors."""

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hat_jax.data import (
    EK_ISO3,
    DataError,
    DataWarning,
    EKData,
    load_ek2002,
    load_published,
    resolve_data_dir,
)
from hat_jax.calibration import Geography

N = 19


@pytest.fixture(scope="module")
def ek(data_dir) -> EKData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return load_ek2002(data_dir)


@pytest.fixture
def ek_copy(data_dir, tmp_path) -> Path:
    """A writable copy of ek2002/ under tmp_path (returns the copied ek2002 folder)."""
    dst = tmp_path / "ek2002"
    shutil.copytree(data_dir / "ek2002", dst)
    return dst


@pytest.fixture
def hb_copy(data_dir, tmp_path) -> Path:
    dst = tmp_path / "hat-baseline"
    shutil.copytree(data_dir / "hat-baseline", dst)
    return dst


def _load_quiet(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return load_ek2002(path)


def _set_cell(file: Path, row: int, column: str, value) -> Path:
    """Overwrite one cell of a CSV copy (to corrupt it) and return its path."""
    df = pd.read_csv(file)
    df.loc[row, column] = value
    df.to_csv(file, index=False)
    return file


def _expect_error(path, file: Path, *fragments):
    """Loading ``path`` raises DataError whose message names ``file`` and all ``fragments``."""
    with pytest.raises(DataError) as info:
        _load_quiet(path)
    msg = str(info.value)
    assert str(file) in msg
    for frag in fragments:
        assert re.search(frag, msg), (frag, msg)


# ------------------------------------------------------------------------ loading


def test_shapes_labels_dtypes(ek):
    assert ek.n == N
    assert ek.iso3 == EK_ISO3
    assert ek.names[0] == "Australia" and ek.names[-1] == "United States"
    for a in (ek.trade, ek.distance, ek.border, ek.language, ek.ec, ek.efta):
        assert a.shape == (N, N) and a.dtype == np.float64
        assert np.all(np.diag(a) == 0)
    assert ek.L.shape == (N,) and ek.L.dtype == np.float64 and ek.L[-1] == 1.0
    assert ek.dist_bin.shape == (N, N) and np.issubdtype(ek.dist_bin.dtype, np.integer)
    assert np.all(np.diag(ek.dist_bin) == -1)
    off = ~np.eye(N, dtype=bool)
    assert set(np.unique(ek.dist_bin[off])) == set(range(6))
    assert not ek.trade.flags.writeable


def test_importer_row_orientation(ek):
    """trade[i, j] is log(X_ij / X_ii) with i the importer: ek-data.csv rows spot-checked."""
    bel, deu, aus, aut = (ek.index(c) for c in ("BEL", "DEU", "AUS", "AUT"))
    assert ek.trade[bel, deu] == 3.758  # importer 3, exporter 8
    assert ek.trade[aus, aut] == -7.41  # importer 1, exporter 2
    assert ek.trade[aut, aus] == -7.942  # importer 2, exporter 1
    assert ek.distance[aus, aut] == 9891.0
    # language / EC / EFTA (ek-cntryfix.csv) are symmetric and land on the right pairs
    for a in (ek.language, ek.ec, ek.efta):
        assert np.array_equal(a, a.T)
    usa, gbr, fin, nor = (ek.index(c) for c in ("USA", "GBR", "FIN", "NOR"))
    assert ek.language[usa, gbr] == 1 and ek.ec[bel, deu] == 1 and ek.efta[fin, nor] == 1
    assert ek.ec[usa, gbr] == 0 and ek.language[bel, deu] == 0
    # dist_bin follows the distance intervals (except the AUS-GBR 769-mile quirk)
    edges = np.array([375, 750, 1500, 3000, 6000])
    off = ~np.eye(N, dtype=bool)
    implied = np.searchsorted(edges, ek.distance, side="right")
    mismatch = {(ek.iso3[i], ek.iso3[j]) for i, j in zip(*np.nonzero(off & (implied != ek.dist_bin)))}
    assert mismatch == {("AUS", "GBR"), ("GBR", "AUS")}


def test_geography(ek):
    geo = ek.geography()
    assert isinstance(geo, Geography)
    oh = np.asarray(geo.dist_bin_onehot)
    assert oh.shape == (N, N, 6)
    off = ~np.eye(N, dtype=bool)
    assert np.all(oh.sum(-1) == off)
    assert np.array_equal(oh.argmax(-1)[off], ek.dist_bin[off])
    assert np.array_equal(np.asarray(geo.border), ek.border)


def test_germany_warning(data_dir):
    with pytest.warns(DataWarning, match="Germany.*0.0225"):
        ek = load_ek2002(data_dir)
    assert ek.L[ek.index("DEU")] == 0.0225  # flagged, not changed


def test_path_forms(data_dir, ek, monkeypatch):
    """Accept the data dir, the ek2002 dir itself, and HAT_DATA_DIR."""
    a = _load_quiet(data_dir / "ek2002")
    assert np.array_equal(a.trade, ek.trade)
    assert resolve_data_dir(data_dir / "ek2002") == data_dir
    monkeypatch.setenv("HAT_DATA_DIR", str(data_dir))
    assert resolve_data_dir() == data_dir
    assert np.array_equal(_load_quiet(None).L, ek.L)


def test_resolve_errors(tmp_path, monkeypatch):
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match=re.escape(str(missing))):
        resolve_data_dir(missing)
    monkeypatch.setenv("HAT_DATA_DIR", str(missing))
    with pytest.raises(DataError, match="HAT_DATA_DIR"):
        resolve_data_dir()


# ------------------------------------------------------------------ DataError cases


def test_missing_file(ek_copy):
    (ek_copy / "ek-labor.csv").unlink()
    _expect_error(ek_copy.parent, ek_copy / "ek-labor.csv", "missing file")


def test_missing_column(ek_copy):
    f = ek_copy / "ek-data.csv"
    pd.read_csv(f).drop(columns="trade").to_csv(f, index=False)
    _expect_error(ek_copy, f, "missing column", "trade")


@pytest.mark.parametrize("fname,expected", [("ek-data.csv", 361), ("ek-cntryfix.csv", 342),
                                            ("ek-language.csv", 342), ("ek-labor.csv", 19),
                                            ("countries.csv", 19)])
def test_wrong_row_count(ek_copy, fname, expected):
    f = ek_copy / fname
    pd.read_csv(f).iloc[:-1].to_csv(f, index=False)
    _expect_error(ek_copy, f, f"expected {expected} rows, found {expected - 1}")


def test_nan(ek_copy):
    f = _set_cell(ek_copy / "ek-data.csv", 5, "trade", np.nan)
    _expect_error(ek_copy, f, "NaN", "trade")


def test_exporter_major_ordering(ek_copy):
    f = ek_copy / "ek-data.csv"
    pd.read_csv(f).sort_values(["exporter", "importer"]).to_csv(f, index=False)
    _expect_error(ek_copy, f, "importer-major")


def test_cntryfix_ordering(ek_copy):
    f = ek_copy / "ek-cntryfix.csv"
    df = pd.read_csv(f)
    df.iloc[[0, 1]] = df.iloc[[1, 0]].to_numpy()
    df.to_csv(f, index=False)
    _expect_error(ek_copy, f, "importer-major")


def test_country_list_mismatch(ek_copy):
    f = _set_cell(ek_copy / "countries.csv", 7, "iso3", "FRG")
    _expect_error(ek_copy, f, "country list mismatch")


def test_language_files_disagree(ek_copy):
    f = _set_cell(ek_copy / "ek-language.csv", 0, "efta", 1)
    _expect_error(ek_copy, f, "efta")


def test_nonpositive_labor(ek_copy):
    f = _set_cell(ek_copy / "ek-labor.csv", 3, "L", 0.0)
    _expect_error(ek_copy, f, "positive", "CAN")


# -------------------------------------------------------------- published vectors


@pytest.mark.parametrize("name", ["baseline", "no-quality", "log"])
def test_published(data_dir, name):
    pv = load_published(name, data_dir)
    assert pv.name == name
    assert pv.params.shape == (46,) and pv.params.dtype == np.float64
    assert pv.wages.shape == (19,) and np.all(pv.wages > 0)
    assert pv.wages.mean() == pytest.approx(1.0, abs=1e-14)
    assert 0.0 < pv.beta < 1.0
    raw = pd.read_csv(data_dir / "hat-baseline" / f"{name}-prices.csv")["guess"].to_numpy()
    assert np.array_equal(pv.wages[:18], raw[:18]) and pv.beta == raw[18]


def test_published_baseline_values(data_dir):
    """Spot values of the baseline vector, and the hat-baseline dir is accepted as path."""
    pv = load_published("baseline", data_dir / "hat-baseline")
    assert pv.params[0] == -3.3182656213003865  # log A_AUS
    assert pv.params[20] == 4.723982770894994  # mu_BEL (Belgium's large importer effect)
    assert pv.beta == 0.9293630720608874


def test_published_unknown_name(data_dir):
    with pytest.raises(ValueError, match="baseline.*no-quality.*log"):
        load_published("high-quality", data_dir)


@pytest.mark.parametrize("fname,expected", [("baseline-params.csv", 46), ("baseline-prices.csv", 19)])
def test_published_wrong_rows(hb_copy, fname, expected):
    f = hb_copy / fname
    pd.read_csv(f).iloc[:-1].to_csv(f, index=False)
    with pytest.raises(DataError, match=re.escape(str(f)) + f".*expected {expected} rows"):
        load_published("baseline", hb_copy.parent)


def test_published_missing_file(hb_copy):
    f = hb_copy / "log-prices.csv"
    f.unlink()
    with pytest.raises(DataError, match=re.escape(str(f)) + ".*missing file"):
        load_published("log", hb_copy)
