"""A world from your own trade data: tidy tables -> :class:`~hat_jax.EKWorld`.

A data folder holds three tables, each ``NAME.csv`` or ``NAME.parquet`` (Parquet needs
pyarrow), and optionally ``spec.json``:

* ``countries``: ``iso3, name, L`` and optionally ``A``. One row per country; the row
  order is the country order, and the **last country is the numeraire** (A_N = 1; its
  S and m are the ones dropped from the moment vector). Any N >= 2.
* ``flows``: ``importer, exporter, value``: spending of the importer on the exporter's
  goods, **including home purchases** (the rows importer == exporter, X_ii > 0): every
  ordered pair, the N diagonal rows included, exactly once. Units are free (only
  X_ij / X_ii enters). Zero flows are allowed under PPML, not under OLS.
* ``gravity``: ``importer, exporter``, ``distance`` (when the specification uses it)
  and any number of numeric covariates (border, language, agreements, ...): every
  ordered pair i != j exactly once; diagonal rows are allowed and ignored.

The gravity specification (:class:`GravitySpec`, or ``spec.json``'s ``"gravity"``):
``distance`` ``"log"`` (the covariate ``log_distance``), ``"bins"`` (dummies
``dist_1..dist_B`` for the intervals [e_0, e_1), ..., [e_{B-1}, e_B) of ``bins``, no
intercept), or ``None``; ``covariates``: the column names to use; ``estimator``:
``"ols"`` (log(X_ij / X_ii)) or ``"ppml"`` (X_ij / X_ii). A constant ``const`` is added
when the regressors do not already span one (the bins do). The moments are importer and
exporter effects and one coefficient per regressor: K = 2(N-1) + C, matched by the
calibration from the static Eaton-Kortum inversion (:func:`hat_jax.calibration.static_ek_start`).

N = 2 builds a world (give ``params``: log A_1, mu_1; ``distance=None``, no covariates)
that can be solved, but its gravity moments are not identified (two pairs for an
importer and an exporter effect that the sum-to-zero normalisation makes collinear): the
data moments, the cold start and the calibration need N >= 3.

What is dropped (and only this): columns the specification does not name, and the
diagonal rows of ``gravity``. Everything else that is wrong raises :class:`TablesError`
naming the file, the row (1-based data row, as a spreadsheet shows it below the header)
and the value.

:func:`world_from_tables` builds the world with :func:`build_world`, the one builder that
also makes the ``ek_*`` presets (:func:`hat_jax.ek_world`) from the packaged
Eaton-Kortum data in this layout (:func:`ek_frames`; :func:`ek_tables` writes them to a
folder, the worked example).
"""

from ._ek_world import ek_frames, ek_tables
from ._tables import (MODEL_DEFAULTS, TABLE_NAMES, GravitySpec, TablesError, TradeTables,
                      build_world, load_spec, read_tables, world_from_tables, write_tables)

__all__ = ["TablesError", "GravitySpec", "TradeTables", "TABLE_NAMES", "MODEL_DEFAULTS",
           "read_tables", "world_from_tables", "build_world", "write_tables", "load_spec",
           "ek_tables", "ek_frames"]
