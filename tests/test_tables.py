"""Worlds from tidy tables (hat_jax.tables), the generalised gravity layer and PPML."""

import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hat_jax
from hat_jax import cli
from hat_jax.calibration import problem_from_world, starting_point, synthetic_tables
from hat_jax.data import DataWarning
from hat_jax._gravity import gravity_design
from hat_jax.calibration import gravity_regression
from hat_jax.tables import GravitySpec, TablesError, ek_tables, read_tables, world_from_tables

SYN_N, SYN_NA = 8, 10


@pytest.fixture(scope="module")
def ek_pair(tmp_path_factory, data_dir):
    """(the ek_baseline world, the same data written as tidy tables and read back, folder)."""
    folder = ek_tables(tmp_path_factory.mktemp("ek_tables"), data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ek = hat_jax.ek_world("ek_baseline", data_dir)
    return ek, world_from_tables(folder), folder


def test_ek_tables_round_trip(ek_pair):
    """The EK data in the tidy layout give the ek_baseline world: same countries, L,
    geography, data moments (1e-12), cold start, calibration problem and, at the
    published Theta, the same A and d."""
    ek, tab, folder = ek_pair
    assert tab.countries == ek.countries and tab.coef_names == ek.coef_names
    np.testing.assert_array_equal(tab.economy.L, ek.economy.L)
    np.testing.assert_array_equal(tab.geography.covariates, ek.geography.covariates)
    np.testing.assert_allclose(tab.data.trade, ek.data.trade, rtol=0, atol=1e-14)
    np.testing.assert_allclose(tab.data_moments().moment_vector(),
                               ek.data_moments().moment_vector(), rtol=0, atol=1e-12)
    for e in ("gamma", "sigma", "psi_slope", "phi", "amax", "Na"):
        assert getattr(tab.economy, e) == getattr(ek.economy, e), e
    assert tab.R == ek.R and tab.published is None
    cold_t, cold_e = starting_point(tab, "cold"), starting_point(ek, "cold")
    np.testing.assert_allclose(cold_t.params, cold_e.params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cold_t.W, cold_e.W, rtol=0, atol=1e-12)
    pt, pe = problem_from_world(tab), problem_from_world(ek)
    np.testing.assert_allclose(pt.target, pe.target, rtol=0, atol=1e-12)
    assert pt.K == pe.K == 46 and pt.estimator == pe.estimator == "ols"
    same = world_from_tables(folder, params=ek.params)
    np.testing.assert_allclose(same.economy.d, ek.economy.d, rtol=1e-15, atol=0)
    np.testing.assert_allclose(same.economy.A, ek.economy.A, rtol=1e-15, atol=0)
    # a preset lends its utility settings; PPML moments from the same tables differ
    log_world = world_from_tables(folder, preset="ek_log")
    assert (log_world.economy.gamma, log_world.economy.sigma) == (1.0, 0.2369)


def test_parquet_tables_equal_csv(ek_pair, tmp_path):
    """The same tables in Parquet give the same world (moments, geography, L)."""
    pytest.importorskip("pyarrow")
    _, tab, folder = ek_pair
    for f in folder.iterdir():
        if f.suffix == ".csv":
            pd.read_csv(f, keep_default_na=False, na_values=[""]).to_parquet(
                tmp_path / f"{f.stem}.parquet", index=False)
        else:
            (tmp_path / f.name).write_bytes(f.read_bytes())
    pq = world_from_tables(tmp_path)
    assert pq.countries == tab.countries and pq.coef_names == tab.coef_names
    np.testing.assert_array_equal(pq.economy.L, tab.economy.L)
    np.testing.assert_array_equal(pq.geography.covariates, tab.geography.covariates)
    np.testing.assert_array_equal(pq.data_moments().moment_vector(),
                                  tab.data_moments().moment_vector())


def _ppml_reference(X, v):
    sm = pytest.importorskip("statsmodels.api")
    return sm.GLM(v, X, family=sm.families.Poisson()).fit(tol=1e-14, maxiter=200).params


def test_ppml_matches_statsmodels(ek_pair):
    """PPML of exp(y) on the gravity design equals statsmodels' Poisson GLM (1e-8), on the
    EK data and on a small world with zero flows (which OLS refuses)."""
    ek = ek_pair[0]
    geo = ek.geography
    X = np.asarray(gravity_design(geo))
    off = ~np.eye(geo.n, dtype=bool)
    gm = gravity_regression(jnp.asarray(ek.data.trade), geo, "ppml")
    b = _ppml_reference(X, np.exp(ek.data.trade[off]))
    m = geo.n - 1
    np.testing.assert_allclose(gm.coef, b[2 * m:], rtol=0, atol=1e-8)
    np.testing.assert_allclose(gm.S[:-1], b[m:2 * m], rtol=0, atol=1e-8)
    # zeros (which OLS refuses): a 6-country world with three zero flows, read from tables
    c, f, g = _tables(n=6, seed=2)
    f.loc[[1, 15, 29], "value"] = 0.0
    t = read_tables({"countries": c, "flows": f, "gravity": g},
                    GravitySpec(distance="log", covariates=("border",), estimator="ppml"))
    sub = t.geography()
    b6 = _ppml_reference(np.asarray(gravity_design(sub)), t.flows[~np.eye(6, dtype=bool)]
                         / np.repeat(np.diag(t.flows), 5))
    assert np.sum(t.flows == 0) == 3
    np.testing.assert_allclose(gravity_regression(jnp.asarray(t.trade), sub, "ppml").coef,
                               b6[10:], rtol=0, atol=1e-8)


def test_ppml_derivative_matches_finite_differences(ek_pair):
    """d moments / d y of PPML (implicit function theorem) against central differences,
    forward and reverse mode."""
    geo = ek_pair[0].geography
    regress = hat_jax._gravity.make_gravity_regression(geo, "ppml")
    y0 = jnp.asarray(ek_pair[0].data.trade)
    direction = jnp.asarray(np.random.default_rng(3).normal(size=y0.shape)) * (1 - jnp.eye(19))
    f = jax.jit(lambda s: regress(y0 + s * direction).moment_vector())
    _, jv = jax.jvp(f, (0.0,), (1.0,))
    h = 1e-5
    fd = (f(h) - f(-h)) / (2 * h)
    np.testing.assert_allclose(jv, fd, rtol=1e-6, atol=1e-7)
    g = jax.grad(lambda s: f(s)[-1])(0.0)
    assert g == pytest.approx(float(jv[-1]), rel=1e-10)


# ----------------------------------------------------------------------- bad inputs


def _tables(n=4, seed=0):
    rng = np.random.default_rng(seed)
    iso = [f"C{k}" for k in range(n)]
    countries = pd.DataFrame({"iso3": iso, "name": iso, "L": rng.uniform(0.5, 2, n)})
    I, J = np.meshgrid(range(n), range(n), indexing="ij")
    I, J = I.ravel(), J.ravel()
    flows = pd.DataFrame({"importer": np.take(iso, I), "exporter": np.take(iso, J),
                          "value": np.where(I == J, 10.0, rng.uniform(0.1, 1, I.size))})
    off = I != J
    xy = rng.uniform(0, 3000, (n, 2))
    gravity = pd.DataFrame({"importer": np.take(iso, I[off]), "exporter": np.take(iso, J[off]),
                            "distance": np.linalg.norm(xy[I[off]] - xy[J[off]], axis=1) + 100,
                            "border": ((I[off] + J[off]) % 3 == 0).astype(float)})
    return countries, flows, gravity


@pytest.mark.parametrize("case, match", [
    ("one_country", r"countries.csv: 1 countries; a world needs at least 2"),
    ("missing_L", r"countries.csv: row 2 \(C1\): L = nan is missing"),
    ("repeated_iso", r"countries.csv: row 3: iso3 'C0' repeated \(first in row 1\)"),
    ("unknown_iso", r"flows.csv: row 5: exporter 'XXX' is not in the countries table"),
    ("duplicate_pair", r"flows.csv: row 3: pair \(C0, C1\) repeated \(first in row 2\)"),
    ("missing_pair", r"gravity.csv: 1 \(importer, exporter\) pair\(s\) missing, e.g. \[\('C3', 'C2'\)\]"),
    ("zero_ols", r"flows.csv: 1 zero flow\(s\) \(row 2 \(C0, C1\)\).*use the PPML estimator"),
    ("negative", r"flows.csv: row 7 \(C1, C2\): value = -1.0 is negative"),
    ("constant", r"gravity.csv: covariate 'wto' is constant \(value 1.0 in every pair"),
    ("collinear", r"gravity.csv: covariate 'far' is collinear with the importer and exporter"),
    ("home_missing", r"flows.csv: 1 \(importer, exporter\) pair\(s\) missing.*home purchases"),
    ("bad_distance", r"gravity.csv: row 4 \(C1, C0\): distance = 'abc' is missing or not"),
])
def test_bad_tables_name_file_row_value(tmp_path, case, match):
    c, f, g = _tables()
    spec = GravitySpec(distance="log", covariates=("border",))
    if case == "one_country":
        c = c.iloc[:1]
    elif case == "missing_L":
        c.loc[1, "L"] = np.nan
    elif case == "repeated_iso":
        c.loc[2, "iso3"] = "C0"
    elif case == "unknown_iso":
        f.loc[4, "exporter"] = "XXX"
    elif case == "duplicate_pair":
        f.loc[2, ["importer", "exporter"]] = ["C0", "C1"]
    elif case == "missing_pair":
        g = g.drop(index=g.index[-1])
    elif case == "zero_ols":
        f.loc[1, "value"] = 0.0
    elif case == "negative":
        f.loc[6, "value"] = -1.0
    elif case == "constant":
        g["wto"] = 1.0
        spec = GravitySpec(distance="log", covariates=("border", "wto"))
    elif case == "collinear":
        g["far"] = g["importer"].str[1:].astype(float) ** 2  # an importer trait: in the FE
        spec = GravitySpec(distance="log", covariates=("far",))
    elif case == "home_missing":
        f = f.drop(index=f.index[0])
    elif case == "bad_distance":
        g["distance"] = g["distance"].astype(object)
        g.loc[3, "distance"] = "abc"
    for name, df in (("countries", c), ("flows", f), ("gravity", g)):
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    with pytest.raises(TablesError, match=match):
        read_tables(tmp_path, spec)


def test_tables_rules_zeros_ppml_bins_and_drops(tmp_path):
    """Zeros pass under PPML; distance bins from edges; the const column is added for log
    distance only; unused columns are dropped with a note; a distance outside the edges
    and an empty bin are errors."""
    c, f, g = _tables(n=5)
    f.loc[1, "value"] = 0.0
    g["unused"] = 3.0
    tabs = {"countries": c, "flows": f, "gravity": g}
    t = read_tables(tabs, GravitySpec(distance="log", covariates=("border",), estimator="ppml"))
    assert t.coef_names == ("const", "log_distance", "border") and t.trade[0, 1] == -np.inf
    assert t.notes and "unused" in t.notes[0]
    edges = (0.0, 1500.0, np.inf)
    t = read_tables(tabs, GravitySpec(distance="bins", bins=edges, estimator="ppml"))
    assert t.coef_names == ("dist_1", "dist_2")
    d = np.asarray(t.covariates)
    assert np.all(d[..., 0] + d[..., 1] == 1 - np.eye(5))
    with pytest.raises(TablesError, match=r"row 1 \(C0, C1\): distance = .* outside the bins"):
        read_tables(tabs, GravitySpec(distance="bins", bins=(1e6, 2e6), estimator="ppml"))
    with pytest.raises(TablesError, match=r"bin dist_2 \[100000.0, 200000.0\) has no pairs"):
        read_tables(tabs, GravitySpec(distance="bins", bins=(0, 1e5, 2e5, np.inf),
                                      estimator="ppml"))


def test_two_countries_solve_but_have_no_moments():
    """N = 2 builds a world from given theta (log A_1, mu_1; d_ij = exp(-mu_i / 4) clamped
    at 1); its gravity moments are refused (not identified), as are covariates."""
    c, f, g = _tables(n=2)
    world = world_from_tables(countries=c, flows=f, gravity=g, spec=GravitySpec(distance=None),
                              params=[0.2, -1.0], Na=20)
    assert world.coef_names == () and world.economy.N == 2
    np.testing.assert_allclose(world.economy.A, [np.exp(0.2), 1.0], rtol=1e-15)
    np.testing.assert_allclose(world.economy.d, [[1.0, np.exp(0.25)], [1.0, 1.0]], rtol=1e-15)
    with pytest.raises(ValueError, match="gravity moments need N >= 3 countries, got N = 2"):
        world.data_moments()
    with pytest.raises(TablesError, match=r"with N = 2 countries .*\['const', 'log_distance'\]|"
                       r"with N = 2 countries .*\['log_distance'\]"):
        read_tables({"countries": c, "flows": f, "gravity": g}, GravitySpec(distance="log"))


# ------------------------------------------------------------- synthetic recovery


def test_synthetic_world_recovered_by_cli_calibration(tmp_path, capsys):
    """`hat calibrate --data DIR --start cold` recovers the known parameters of an
    8-country world from its own flows (PPML moments, log distance + border)."""
    # (N, C, estimator, Na) as notebooks/own_data.ipynb: one compiled program for both
    _, theta = synthetic_tables(tmp_path / "tables", N=SYN_N, seed=5, Na=SYN_NA,
                                estimator="ppml")
    out = tmp_path / "cal"
    rc = cli.main(["calibrate", "--data", str(tmp_path / "tables"), "--start", "cold",
                   "--out", str(out), "--json", "--quiet", "--no-figure"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["converged"] is True
    assert list(res["parameters"])[-3:] == ["const", "log_distance", "border"]
    np.testing.assert_allclose(res["theta"], theta, rtol=0, atol=1e-6)
    assert res["settings"]["estimator"] == "ppml" and res["settings"]["Na"] == SYN_NA
