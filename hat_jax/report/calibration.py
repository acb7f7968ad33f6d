"""What a calibration writes: params.csv, prices.csv (the published layouts),
summary.json, moments.csv (Table-1 style) and fit.png, from a
:class:`hat_jax.calibration.CalibrationResult`.

The report layer sits above :mod:`hat_jax.calibration` (which never imports it).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..calibration import (
    CalibrationResult,
    moment_names,
    parameter_names,
    trade_cost_levels,
)

from .._gravity import log_share_ratios
from ._figures import figure_bytes, save_figure
from ._files import write_files

__all__ = ["OUTPUT_FILES", "INFERENCE_FILES", "calibration_table", "fit_figure", "params_csv",
           "prices_csv", "summary", "write_outputs", "inference_table", "inference_json",
           "inference_latex"]

#: The files :func:`write_outputs` writes (fit.png only with ``figure=True``).
OUTPUT_FILES = ("params.csv", "prices.csv", "summary.json", "moments.csv", "fit.png")
#: The files :func:`write_outputs` adds with ``inference`` (``hat calibrate --se``).
INFERENCE_FILES = ("table1.csv", "table1.tex", "inference.json")
#: Two-sided 95% normal quantile of the confidence intervals.
Z95 = 1.959963984540054


def calibration_table(result: CalibrationResult):
    """Table-1 style: one row per moment (published layout): moment, data, model, gap
    (model - data), parameter (its name), value, and trade_cost_level = exp(-value /
    theta_d) for the importer effects mu and the common coefficients (NaN for log A)."""
    import pandas as pd

    countries, names = result.problem.countries, result.problem.coef_names
    m = result.problem.N - 1
    level = np.exp(-result.params / result.problem.theta_d)
    level[:m] = np.nan
    return pd.DataFrame({
        "moment": moment_names(countries, names), "data": result.target,
        "model": result.model, "gap": result.gaps,
        "parameter": parameter_names(countries, names), "value": result.params,
        "trade_cost_level": level})


def params_csv(params) -> str:
    """params.csv: column ``guess``, the K parameters (exact round trip)."""
    return "guess\n" + "".join(f"{float(v)!r}\n" for v in params)


def prices_csv(W, beta) -> str:
    """prices.csv: column ``guess``, W_1..W_{N-1} (wages normalised to mean one, so that
    W_N = N - sum(W_1..W_{N-1})) then beta."""
    W = np.asarray(W, np.float64)
    W = W * (W.size / W.sum())
    return "guess\n" + "".join(f"{float(v)!r}\n" for v in W[:-1]) + f"{float(beta)!r}\n"


def _num(x):
    x = float(x)
    return x if math.isfinite(x) else None


def summary(result: CalibrationResult, preset: str | None = None) -> dict:
    """The summary.json object of a calibration (non-finite numbers as null)."""
    hist = [{k: (_num(v) if isinstance(v, float) else v) for k, v in r.items()}
            for r in result.history]
    fp = result.fingerprint
    countries, names = result.problem.countries, result.problem.coef_names
    return {
        "preset": preset, "countries": list(countries),
        "converged": bool(result.converged), "iterations": int(result.iterations),
        "max_gap": _num(result.max_gap), "tol": result.tol, "seconds": _num(result.seconds),
        "compile_s": _num(result.compile_s), "start": result.start,
        "resumed": bool(result.resumed), "message": result.message,
        "theta": [_num(v) for v in result.params],
        "parameters": dict(zip(parameter_names(countries, names),
                               (_num(v) for v in result.params))),
        "trade_cost_levels": trade_cost_levels(result.params, result.problem.theta_d, names),
        "wages": [_num(v) for v in result.W], "beta": _num(result.beta), "R": _num(result.R),
        "eq_residual": _num(result.eq_residual),
        "gaps": dict(zip(moment_names(countries, names), (_num(v) for v in result.gaps))),
        "history": hist,
        "settings": {**fp["problem"], **fp["options"]},
    }


def _diagonal(ax, x, y) -> None:
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    pad = 0.05 * (hi - lo + 1e-12)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1, label="45-degree line")


def fit_figure(result: CalibrationResult, path=None):
    """The fit: (left) each pair i != j, the model's log(pi_ij / pi_ii) against the
    data's log(X_ij / X_ii); (right) the K gravity moments, model against data.
    Saved as PNG to ``path`` if given; returns the matplotlib Figure (Agg canvas, no
    pyplot, so it works without a display; matplotlib is imported here, lazily)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.8))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    shares = np.asarray(result.trade_shares)
    off = ~np.eye(shares.shape[0], dtype=bool)
    model = np.asarray(log_share_ratios(shares))[off]
    data = np.asarray(result.problem.data_trade)[off]
    ax1.scatter(data, model, s=9, alpha=0.6)
    _diagonal(ax1, data, model)
    ax1.set(xlabel=r"data $\log(X_{ij}/X_{ii})$", ylabel=r"model $\log(\pi_{ij}/\pi_{ii})$",
            title=f"Trade, {int(off.sum())} pairs $i \\neq j$")
    ax1.legend(loc="upper left")
    ax2.scatter(result.target, result.model, s=12)
    _diagonal(ax2, np.asarray(result.target), np.asarray(result.model))
    ax2.set(xlabel="data moment", ylabel="model moment",
            title=f"Gravity moments (max |gap| {result.max_gap:.1e})")
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def inference_table(result: CalibrationResult, inference):
    """Table 1 with standard errors: one row per moment / parameter (the layout of
    :func:`calibration_table`): moment, data, data_se (standard error of the data
    moment), model, parameter, value, se (of the parameter), ci_low, ci_high (95%,
    value -+ 1.96 se) and trade_cost_level."""
    table = calibration_table(result)
    table.insert(2, "data_se", inference.moments_se)
    pos = table.columns.get_loc("value") + 1
    table.insert(pos, "se", inference.se)
    table.insert(pos + 1, "ci_low", inference.params - Z95 * inference.se)
    table.insert(pos + 2, "ci_high", inference.params + Z95 * inference.se)
    return table.drop(columns="gap")


def _matrix(a) -> list:
    return [[_num(v) for v in row] for row in np.asarray(a, np.float64)]


def inference_json(result: CalibrationResult, inference, preset: str | None = None) -> dict:
    """The inference.json object of ``hat calibrate --se`` (docs/reference/outputs.md)."""
    def rows(names, values, se):
        return {n: {"value": _num(v), "se": _num(e)} for n, v, e in zip(names, values, se)}

    return {
        "preset": preset, "cov": inference.cov, "estimator": inference.estimator,
        "countries": list(result.problem.countries),
        "parameter_names": list(inference.parameter_names),
        "moment_names": list(inference.moment_names),
        "params": [_num(v) for v in inference.params],
        "se": [_num(v) for v in inference.se],
        "parameters": rows(inference.parameter_names, inference.params, inference.se),
        "moments": rows(inference.moment_names, result.target, inference.moments_se),
        "model_moments": [_num(v) for v in result.model],
        "V_params": _matrix(inference.V_params), "V_m": _matrix(inference.V_m),
        "G": _matrix(inference.G), "timings": dict(inference.stats),
    }


def _tex(name: str) -> str:
    return name.replace("_", r"\_")


def inference_latex(result: CalibrationResult, inference) -> str:
    """table1.tex: a LaTeX tabular (booktabs) of Table 1 with standard errors: panel A
    the covariate coefficients (EK: distance bins, border, language, EC, EFTA), panel B
    the country parameters; columns moment, data (s.e.), model, parameter, estimate
    (s.e.)."""
    t = inference_table(result, inference)
    C = result.problem.geography.n_coef

    def line(r):
        return (f"{_tex(r.moment)} & {r.data:.3f} & ({r.data_se:.3f}) & {r.model:.3f} & "
                f"{_tex(r.parameter)} & {r.value:.3f} & ({r.se:.3f}) \\\\")

    head = [r"\begin{tabular}{lrrrlrr}", r"\toprule",
            r"Moment & Data & (s.e.) & Model & Parameter & Estimate & (s.e.) \\",
            r"\midrule", r"\multicolumn{7}{l}{\emph{A. Trade costs}} \\"]
    body = [line(r) for r in t.iloc[-C:].itertuples()]
    body += [r"\midrule", r"\multicolumn{7}{l}{\emph{B. Countries}} \\"]
    body += [line(r) for r in t.iloc[:-C].itertuples()]
    foot = [r"\bottomrule", r"\end{tabular}",
            f"% standard errors: {inference.cov} ({inference.estimator} gravity), "
            "V_params = G^{-1} V_m G^{-T}"]
    return "\n".join(head + body + foot) + "\n"


def write_outputs(out_dir, result: CalibrationResult, preset: str | None = None,
                  figure: bool = True, inference=None) -> list[Path]:
    """Write the calibration to ``out_dir`` as one set (:func:`~hat_jax.report._files.write_files`;
    a checkpoint in the folder is kept):

    params.csv (:func:`params_csv`), prices.csv (:func:`prices_csv`), summary.json
    (:func:`summary`), moments.csv (:func:`calibration_table`) and, with ``figure``,
    fit.png (:func:`fit_figure`); with ``inference`` (a
    :class:`~hat_jax.calibration.ParamsInference`) table1.csv (:func:`inference_table`),
    table1.tex (:func:`inference_latex`) and inference.json (:func:`inference_json`).
    Returns the paths written.
    """
    files = {
        "params.csv": params_csv(result.params),
        "prices.csv": prices_csv(result.W, result.beta),
        "summary.json": json.dumps(summary(result, preset), indent=2, allow_nan=False) + "\n",
        "moments.csv": calibration_table(result).to_csv(index=False, float_format="%.17g"),
    }
    if inference is not None:
        files["table1.csv"] = inference_table(result, inference).to_csv(
            index=False, float_format="%.17g")
        files["table1.tex"] = inference_latex(result, inference)
        files["inference.json"] = json.dumps(inference_json(result, inference, preset),
                                             indent=2, allow_nan=False) + "\n"
    if figure:
        files["fit.png"] = figure_bytes(fit_figure(result))
    return write_files(out_dir, files)
