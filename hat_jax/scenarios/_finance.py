"""Financial integration experiments (model.md s.15): regime counterfactuals, wedges and
the welfare of wedges as a differentiable function.

- :func:`regime_baseline`: a baseline's economy re-solved under the other financial
  regime at its beta (e.g. the financial-autarky equilibrium of a calibrated world);
- :func:`regime_change`: the counterfactual from one regime to the other (autarky ->
  globalization opens the capital account), optionally with another change (a cost cut)
  in the new equilibrium; its EV by household state is
  :func:`hat_jax.welfare.welfare_analysis` of the result;
- wedges omega (R_i = R + omega_i, revenue rebated lump sum) are a
  :class:`~hat_jax.Change` (:meth:`~hat_jax.Change.wedges`) solved by
  :func:`hat_jax.welfare.counterfactual`; :func:`autarky_wedges` are those that
  reproduce financial autarky;
- :func:`financial_accounts`: R_i, net foreign assets, trade balances and wedge rebates
  of an equilibrium;
- :func:`wedge_welfare`: every country's utilitarian welfare sum lambda V_i at the
  equilibrium with wedges omega, traceable and differentiable in omega (the implicit
  function theorem through :func:`hat_jax.solve_equilibrium_jit`).
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._baseline import Baseline, as_baseline
from .._change import Change
from .._compiled import compiled
from .._equilibrium import Equilibrium, EquilibriumOptions, Start, solve_equilibrium_jit
from .._wedges import country_returns, validate_wedges, wedge_rebates
from .. import welfare as wf
from ..welfare import Counterfactual, counterfactual, utilitarian_welfare

__all__ = ["regime_baseline", "regime_change", "FinancialAccounts", "financial_accounts",
           "WedgeArgs", "wedge_args", "wedge_welfare", "REGIMES", "ev_by_country",
           "TradeFinanceTable", "trade_finance_table", "OpeningArgs", "opening_args",
           "opening_gain", "opening_gain_and_slope", "opening_gain_curve"]

#: The financial regimes of model.md s.6 and s.15.
REGIMES = ("global", "autarky")


def _check_regime(regime: str, what: str = "regime") -> str:
    if regime not in REGIMES:
        raise ValueError(f"{what} must be 'global' (financial globalization) or 'autarky' "
                         f"(financial autarky), got {regime!r}")
    return regime


def regime_baseline(baseline: Baseline | Equilibrium, regime: str,
                    opts: EquilibriumOptions | None = None) -> Baseline:
    """The baseline's economy (beta fixed at the baseline's) solved under ``regime``
    ("global" or "autarky"), started from the baseline; the baseline itself if it is
    already under ``regime``. Raises ConvergenceError if the solve fails."""
    b = as_baseline(baseline, opts)
    if _check_regime(regime) == b.regime:
        return b
    cf = counterfactual(b, None, opts, regime=regime)
    return Baseline.from_equilibrium(cf.new, b.opts)


def regime_change(baseline: Baseline | Equilibrium, source: str, target: str,
                  change=None, opts: EquilibriumOptions | None = None, *,
                  throw: bool = True) -> Counterfactual:
    """From the stationary equilibrium under the ``source`` regime to the one under
    ``target`` ("global" or "autarky"; model.md s.15), both at the baseline's beta, the
    new one after ``change`` as well (a :class:`~hat_jax.Change`, e.g. a cost cut;
    None: the regime change alone). ``regime_change(b, "autarky", "global")`` opens the
    capital account; the result is a :class:`~hat_jax.welfare.Counterfactual` (its
    ``baseline`` the source equilibrium) for :func:`hat_jax.welfare.welfare_analysis`.
    When ``target`` is the regime of ``baseline`` itself, the new equilibrium starts from
    ``baseline``'s solution (prices, household state, Newton Jacobian), not from the
    source equilibrium: without a change that is the answer (ek_baseline at Na = 100:
    16 Newton iterations and 5 exact Jacobians from the autarky prices, 42-47 s)."""
    _check_regime(source, "source")
    _check_regime(target, "target")
    original = as_baseline(baseline, opts)
    b = regime_baseline(original, source, opts)
    start = original.start if target == original.regime else None
    return counterfactual(b, change, opts, regime=target, throw=throw, start=start)


class FinancialAccounts(NamedTuple):
    """A country's financial position in a stationary equilibrium (arrays over countries).

    R: the return households face, R_i = R + omega_i (R_i under autarky); nfa: net
    foreign assets A_i = L_i sum lambda a (zero under autarky); nfa_gdp: A_i / Y_i;
    trade_balance: exports - imports X_i - M_i (at producer prices);
    trade_balance_gdp: (X_i - M_i) / Y_i; rebates: the wedge rebate per household
    F_i = (R - R_i) A_i / L_i (zeros without wedges); wedges: omega_i (zeros without).
    """

    R: np.ndarray
    nfa: np.ndarray
    nfa_gdp: np.ndarray
    trade_balance: np.ndarray
    trade_balance_gdp: np.ndarray
    rebates: np.ndarray
    wedges: np.ndarray


def financial_accounts(eq: Equilibrium) -> FinancialAccounts:
    """The :class:`FinancialAccounts` of a solved equilibrium."""
    agg = eq.world.aggregates
    Y = np.asarray(agg.Y)
    nfa = np.asarray(agg.assets)
    tb = np.asarray(agg.exports) - np.asarray(agg.imports)
    e = eq.economy
    return FinancialAccounts(np.asarray(country_returns(e, eq.R)), nfa, nfa / Y, tb, tb / Y,
                             np.asarray(wedge_rebates(eq)),
                             np.zeros(e.N) if e.wedges is None else np.asarray(e.wedges))


class WedgeArgs(NamedTuple):
    """What a wedge evaluation carries: economy, the baseline's fixed-beta economy with
    a wedge vector; start, the warm start (prices, household state, rebates)."""

    economy: object
    start: Start


def wedge_args(baseline: Baseline | Equilibrium) -> WedgeArgs:
    """The :class:`WedgeArgs` of a financial-globalization baseline (with or without
    wedges): its economy with explicit wedges (zeros where it has none)."""
    b = as_baseline(baseline)
    if b.regime != "global":
        raise ValueError("wedges need one world bond market: the baseline is under "
                         "financial autarky (regime='autarky')")
    e = b.economy
    omega = jnp.zeros(e.N) if e.wedges is None else e.wedges
    return WedgeArgs(e.replace(wedges=omega), b.start._replace(J=None))


def wedge_welfare(args: WedgeArgs, omega, opts: EquilibriumOptions):
    """(W_i(omega) = sum lambda_i V_i for every country [N], the equilibrium): the
    utilitarian welfare at the stationary equilibrium with wedges omega (R_i = R +
    omega_i), beta fixed; traceable and differentiable in omega (and in the economy of
    ``args``) by the implicit function theorem. Not converged: the equilibrium's
    ``converged`` says so (no error is raised inside a trace)."""
    if not isinstance(omega, jax.core.Tracer):
        omega = validate_wedges(omega, args.economy.N, args.economy.countries)
    e = solve_equilibrium_jit(args.economy.replace(wedges=omega), opts, args.start,
                              throw=False)
    return utilitarian_welfare(e), e


def ev_by_country(cf: Counterfactual, countries=None, opts=None, *, throw: bool = False,
                  **fields) -> dict:
    """{country label: :class:`~hat_jax.welfare.WelfareSummary`}: the EV of every state
    of each country in ``countries`` (labels or indices; default every country) and its
    aggregates (mean, expenditure quintiles, share who gain) for the counterfactual
    ``cf`` (:func:`hat_jax.welfare.equivalent_variation`, options ``opts`` /
    ``fields``); a state whose EV did not converge is reported by the EV's flags (no
    error with ``throw=False``)."""
    econ = cf.baseline.economy
    idx = range(econ.N) if countries is None else [wf.country_index(econ, c)
                                                   for c in countries]
    out = {}
    for i in idx:
        ev = wf.equivalent_variation(cf.baseline, cf.new, i, opts, throw=throw, **fields)
        out[econ.countries[i]] = wf.welfare_summary(cf.baseline, cf.new, ev)
    return out


# ------------------------------------------------------- the interaction with goods trade
class TradeFinanceTable(NamedTuple):
    """The 2 x 2 table of model.md s.15: cells {name: {country: WelfareSummary}} for
    ``trade_cut_global`` (a global cost cut under financial globalization),
    ``trade_cut_autarky`` (the same cut under financial autarky), ``opening`` (financial
    opening at today's costs) and ``opening_after_cut`` (opening at the cut costs);
    counterfactuals: the four :class:`~hat_jax.welfare.Counterfactual` by cell; cut: the
    proportional cost cut."""

    cells: dict
    counterfactuals: dict
    cut: float


def trade_finance_table(baseline: Baseline | Equilibrium, cut: float = 0.10,
                        countries=None, opts: EquilibriumOptions | None = None,
                        ev_opts=None, **ev_fields) -> TradeFinanceTable:
    """The gains (EV by state and aggregates, :func:`ev_by_country`) of a global
    ``cut`` of every international trade cost under each financial regime, and of
    financial opening (autarky -> globalization) at today's and at the cut costs, for
    ``countries`` (default all). ``baseline``: a financial-globalization baseline (its
    beta is kept; the autarky equilibrium is solved at it)."""
    b = as_baseline(baseline, opts)
    bg, ba = regime_baseline(b, "global", opts), regime_baseline(b, "autarky", opts)
    change = Change.global_cut(b.economy, cut)
    cfs = {"trade_cut_global": counterfactual(bg, change, opts),
           "trade_cut_autarky": counterfactual(ba, change, opts),
           "opening": counterfactual(ba, None, opts, regime="global")}
    aut_cut = Baseline.from_equilibrium(cfs["trade_cut_autarky"].new, ba.opts)
    cfs["opening_after_cut"] = counterfactual(aut_cut, None, opts, regime="global")
    cells = {k: ev_by_country(cf, countries, ev_opts, **ev_fields) for k, cf in cfs.items()}
    return TradeFinanceTable(cells, cfs, float(cut))


class OpeningArgs(NamedTuple):
    """The two baselines of :func:`opening_gain`: financial globalization and financial
    autarky at the same beta, economies without the cost floor (scaled costs may fall
    below 1, the paper's convention)."""

    global_: Baseline
    autarky: Baseline


def opening_args(baseline: Baseline | Equilibrium,
                 opts: EquilibriumOptions | None = None) -> OpeningArgs:
    """The :class:`OpeningArgs` of a baseline (the other regime solved once)."""
    b = as_baseline(baseline, opts)
    bg, ba = regime_baseline(b, "global", opts), regime_baseline(b, "autarky", opts)
    return OpeningArgs(_without_floor(bg), _without_floor(ba))


def _without_floor(b: Baseline) -> Baseline:
    """``b`` with its economy's cost floor off (the start kept)."""
    return eqx.tree_at(lambda x: x.economy, b, b.economy.replace(cost_floor=False))


def opening_gain(args: OpeningArgs, log_scale):
    """(G_i(s) = W_i^global(s) - W_i^autarky(s) for every country [N], (global,
    autarky equilibria)): the utilitarian welfare gain sum lambda V of financial opening
    when every international cost is scaled by s = exp(log_scale) (d_ij s, i != j).
    Traceable and differentiable in ``log_scale`` (both equilibria by the implicit
    function theorem): ``jax.jvp`` gives dG_i/d log s."""
    outs = []
    for b in (args.global_, args.autarky):
        e = b.economy
        off = 1.0 - jnp.eye(e.N)
        d = e.d * jnp.exp(log_scale * off)
        eq = solve_equilibrium_jit(e.replace(d=d), b.opts, b.start._replace(J=None),
                                   throw=False)
        outs.append(eq)
    return utilitarian_welfare(outs[0]) - utilitarian_welfare(outs[1]), tuple(outs)


def opening_gain_and_slope(args: OpeningArgs, log_scale):
    """(G_i, dG_i/d log s, both equilibria converged) at ``log_scale`` by one forward-mode
    pass (:func:`opening_gain`); traceable."""
    g, dg, (eg, ea) = jax.jvp(lambda x: opening_gain(args, x), (log_scale,),
                              (jnp.ones_like(log_scale),), has_aux=True)
    return g, dg, eg.converged & ea.converged


#: :func:`opening_gain_and_slope` compiled once per shape: the two baselines are arguments
#: of the program, not constants folded into it (a closure over them made a new program,
#: 16 s to compile for two countries at Na = 40, for every call and every world)
_gain_and_slope_program = jax.jit(opening_gain_and_slope)


def opening_gain_curve(args: OpeningArgs, scales) -> dict:
    """The opening gain G_i(s) and dG_i/d log s (by AD, one jvp per scale) along
    ``scales`` (trade-cost scalings s > 0): {"scale", "gain" [S, N], "dgain_dlogs"
    [S, N], "converged" [S]}."""
    scales = np.asarray(scales, np.float64)
    if scales.ndim != 1 or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError(f"scales must be a 1-d list of trade-cost scalings > 0, got "
                         f"{scales!r}")
    log_scale = lambda s: jnp.log(jnp.asarray(s, jnp.float64))  # noqa: E731
    f = compiled(_gain_and_slope_program, (args, log_scale(1.0)))
    gains, slopes, ok = [], [], []
    for s in scales:
        g, dg, conv = f(args, log_scale(s))
        gains.append(np.asarray(g))
        slopes.append(np.asarray(dg))
        ok.append(bool(conv))
    return {"scale": scales, "gain": np.array(gains), "dgain_dlogs": np.array(slopes),
            "converged": np.array(ok)}
