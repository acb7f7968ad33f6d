"""Model primitives as validated, immutable pytrees (model.md sections 1, 2, 13).

:class:`Economy` holds everything that is not an equilibrium price: technology A, labour
L, trade costs d (importer rows, exporter columns), preferences (gamma, sigma, beta,
psi_slope), the borrowing limit and asset grid (phi, amax, Na), the income process and
country labels. Build one with :func:`make_economy` or a preset (``hat_jax._presets``);
every bad input raises ``ValueError`` naming the parameter and the value.

:func:`household_problems` turns an economy and prices (W, R, beta) into the batched
per-country inputs of the household block, applying the reference country scaling
(sigma_i = sigma A_i^(1-gamma), psi likewise, asset grid [-phi A_i, amax A_i]).
"""

from __future__ import annotations

from typing import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._household import HouseholdOptions, HouseholdProblem, check_grid_size
from ._income import IncomeProcess, income_process, validate_transition
from ._tariffs import validate_tariffs
from ._wedges import validate_wedges

__all__ = [
    "Economy", "validate_economy", "validate_trade_costs", "traced_cost_check",
    "traced_costs_ok", "make_economy",
    "household_options",
    "delivered_prices", "country_scale", "household_problems", "check_prices",
    "check_country_labels", "check_income_risk",
]


def _f64(x):
    """Field converter: a float64 array (traced values pass through), so that an economy
    built or replaced with Python numbers has the same types as one from make_economy."""
    if isinstance(x, jax.core.Tracer):
        return x
    return jnp.asarray(x, dtype=jnp.float64)


def _f64_or_none(x):
    """Field converter of optional arrays (the tariff matrix): None stays None."""
    return None if x is None else _f64(x)


def _flag(x):
    """Field converter of the traced switch ``scale_by_tfp``: a boolean array (traced
    values pass through); anything but True / False (or 1 / 0) raises ValueError."""
    if isinstance(x, jax.core.Tracer):
        return x
    a = np.asarray(x)
    if a.dtype != np.bool_ and not (a.size and np.isin(a, (0, 1)).all()):
        raise ValueError(f"scale_by_tfp must be True or False, got scale_by_tfp={x!r}")
    return jnp.asarray(a, dtype=bool)


def _concrete(x) -> bool:
    return not any(isinstance(l, jax.core.Tracer) for l in jax.tree_util.tree_leaves(x))


class Economy(eqx.Module):
    """An N-country HAT economy (all arrays float64; country axis first).

    A[i]: TFP; L[i]: mass of households; d[i, j] >= 1: iceberg cost of j's variety
    delivered to i (d[i, i] = 1); beta: discount factor (an unknown in the
    "beta" equilibrium mode, then this value is only the starting guess); sigma: logit
    scale; psi_slope: quality / home-bias shifter slope; phi: borrowing limit (a' >= -phi
    A_i); amax: top of the asset grid (amax A_i); z, P, y_P: the income chain.
    gamma: CRRA coefficient (1 = log utility; traced like the other parameters, so
    derivatives with respect to it exist and log utility is not another program).
    scale_by_tfp: the reference country scaling (True, the default: country i's asset
    grid, sigma and psi scale with A_i; see :func:`country_scale`), a boolean array
    traced like gamma, so both settings run one compiled program.
    Static: Na (asset grid points), countries (labels), cost_floor (True, the default:
    every d_ij >= 1, model.md s.1; False: the paper's convention for proportional cost
    cuts, off-diagonal costs may fall below 1, d_ij > 0; d_ii = 1 either way).
    tariffs[i, j] >= 0 (t_ii = 0): ad-valorem tariff of importer i on j's variety
    (model.md s.14), or None (the default): free trade, and the equilibrium solves the
    same program as before tariffs existed. With a matrix (zeros included) the
    equilibrium also solves the lump-sum rebates T_i (see :mod:`hat_jax._tariffs`);
    :attr:`tariff_matrix` is the matrix either way.
    wedges[i]: capital-account wedge omega_i (model.md s.15): households of i save and
    borrow at R_i = R + omega_i, the revenue (R - R_i) A_i rebated lump sum; None (the
    default): no wedges, the same program as before wedges existed. With a vector
    (zeros included) the equilibrium also solves the lump-sum rebates (see
    :mod:`hat_jax._wedges`).
    """

    A: jax.Array = eqx.field(converter=_f64)
    L: jax.Array = eqx.field(converter=_f64)
    d: jax.Array = eqx.field(converter=_f64)
    beta: jax.Array = eqx.field(converter=_f64)
    sigma: jax.Array = eqx.field(converter=_f64)
    psi_slope: jax.Array = eqx.field(converter=_f64)
    phi: jax.Array = eqx.field(converter=_f64)
    amax: jax.Array = eqx.field(converter=_f64)
    z: jax.Array = eqx.field(converter=_f64)
    P: jax.Array = eqx.field(converter=_f64)
    y_P: jax.Array = eqx.field(converter=_f64)
    gamma: jax.Array = eqx.field(converter=_f64)
    Na: int = eqx.field(static=True)
    countries: tuple = eqx.field(static=True)
    scale_by_tfp: jax.Array = eqx.field(default=True, converter=_flag)
    cost_floor: bool = eqx.field(static=True, default=True)
    tariffs: jax.Array | None = eqx.field(default=None, converter=_f64_or_none)
    wedges: jax.Array | None = eqx.field(default=None, converter=_f64_or_none)

    @property
    def N(self) -> int:
        return self.A.shape[0]

    @property
    def has_tariffs(self) -> bool:
        """Whether the economy carries a tariff matrix (static: a different program)."""
        return self.tariffs is not None

    @property
    def has_wedges(self) -> bool:
        """Whether the economy carries capital-account wedges (static)."""
        return self.wedges is not None

    @property
    def has_rebates(self) -> bool:
        """Whether lump-sum rebates are equilibrium unknowns (tariffs or wedges): N more
        unknowns T_i, the tariff revenue plus the wedge revenue per capita."""
        return self.tariffs is not None or self.wedges is not None

    @property
    def tariff_matrix(self):
        """The N x N tariff matrix t (zeros under free trade, tariffs=None)."""
        if self.tariffs is None:
            return jnp.zeros((self.N, self.N), self.A.dtype)
        return self.tariffs

    @property
    def Nz(self) -> int:
        return self.z.shape[0]

    def replace(self, **changes) -> "Economy":
        """A copy with some fields changed (validated like the original when concrete)."""
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        fields.update(changes)
        return Economy(**fields)

    def __check_init__(self):
        if _concrete((self.A, self.L, self.d, self.beta, self.sigma, self.phi, self.amax,
                      self.P, self.z, self.y_P, self.gamma, self.tariffs, self.wedges)):
            validate_economy(self)


def _scalar(name, x):
    x = np.asarray(x, dtype=np.float64)
    if x.shape != ():
        raise ValueError(f"{name} must be a scalar, got shape {x.shape}")
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {name}={float(x)!r}")
    return float(x)


def validate_trade_costs(d, countries=None, what: str = "d (trade costs)",
                         floor: bool = True) -> np.ndarray:
    """The one check of an iceberg cost matrix (model.md s.1): N x N (importer rows,
    exporter columns), finite, d_ij >= 1 (``floor=True``, the default) or d_ij > 0 off
    the diagonal (``floor=False``: the paper's convention, where a proportional cut may
    take a cost below 1), d_ii = 1. ``countries``: N labels naming the entries in
    messages (default: indices, N taken from ``d``). Returns d as float64; raises
    ValueError naming ``what``, the entry and its value."""
    d = np.asarray(d, dtype=np.float64)
    N = len(countries) if countries is not None else (d.shape[0] if d.ndim else 0)
    labels = list(countries) if countries is not None else list(range(N))
    if d.shape != (N, N) or N < 1:
        names = f"; countries {', '.join(map(str, countries))}" if countries else ""
        raise ValueError(f"{what} must be {N} x {N} (an N x N trade-cost matrix: importer "
                         f"rows, exporter columns{names}), got shape {d.shape}")
    if not np.all(np.isfinite(d)):
        i, j = np.argwhere(~np.isfinite(d))[0]
        raise ValueError(f"{what} has a non-finite entry d[{labels[i]}, {labels[j]}]="
                         f"{float(d[i, j])!r}")
    if np.any(d <= 0.0):
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        raise ValueError(f"trade costs must be positive: d[{labels[i]}, {labels[j]}]="
                         f"{float(d[i, j])!r} <= 0")
    if floor and np.any(d < 1.0):
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        raise ValueError(
            f"trade costs must satisfy d >= 1: d[{labels[i]}, {labels[j]}]="
            f"{float(d[i, j])!r} < 1 (the cost floor, the default); to allow costs below 1 "
            "off the diagonal (the paper's convention for proportional cuts) use "
            "cost_floor=False "
            "(make_economy, Economy.replace, hat_jax.welfare.counterfactual) or "
            "--no-floor-costs")
    diag = np.diag(d)
    if np.any(diag != 1.0):
        k = int(np.argmax(np.abs(diag - 1.0)))
        raise ValueError(f"domestic trade costs must be 1, got d[{labels[k]}, {labels[k]}]="
                         f"{float(diag[k])!r}")
    return d


def traced_cost_check(e: Economy) -> Economy:
    """``e`` with a runtime check of its trade costs attached where they are traced.

    An Economy built inside a trace (``jax.jit``: its leaves are tracers) cannot be
    validated when it is built. This attaches in-graph checks (``equinox.error_if``:
    a predicate in the program, no host call unless it fires) that every d_ij > 0 and,
    under the cost floor (``cost_floor=True``, the default), d_ij >= 1; the returned
    economy carries them (use it). Costs below 1 stay allowed with cost_floor=False
    (the paper's convention). Concrete economies are returned unchanged (validated when
    built)."""
    if _concrete(e.d):
        return e
    # written as ~(d > 0) so that NaN (every comparison False) fails the check too
    d = eqx.error_if(e.d, jnp.any(~(e.d > 0.0) | ~jnp.isfinite(e.d)),
                     "trade costs must be positive and finite: some d_ij <= 0, NaN or "
                     "infinite (an economy built or "
                     "passed under jax.jit; validate d before tracing with "
                     "hat_jax._params.validate_trade_costs)")
    if e.cost_floor:
        d = eqx.error_if(d, jnp.any(~(d >= 1.0)),
                         "trade costs must satisfy d >= 1: some d_ij < 1 under jax.jit "
                         "with cost_floor=True (the cost floor, the default); to allow "
                         "costs below 1 off the diagonal (the paper's convention) use "
                         "cost_floor=False, or validate d before tracing with "
                         "hat_jax._params.validate_trade_costs")
    return eqx.tree_at(lambda x: x.d, e, d)


def traced_costs_ok(e: Economy):
    """The same condition as :func:`traced_cost_check` as a traced boolean (d > 0, and
    d >= 1 under the cost floor), with no runtime error attached; ``None`` for a
    concrete economy (validated when built). For programs that report failure in their
    outputs (``throw=False``): a host callback such as ``equinox.error_if`` keeps a
    program out of JAX's persistent compilation cache."""
    if _concrete(e.d):
        return None
    ok = jnp.all((e.d > 0.0) & jnp.isfinite(e.d))  # NaN compares False: fails
    return ok & jnp.all(e.d >= 1.0) if e.cost_floor else ok


def check_country_labels(countries) -> None:
    """Raise ValueError naming the duplicates if two country labels are the same (compared
    as countries are looked up: stripped and case-insensitive), since a label must name
    one country (a cut of the second 'A' would cut the first)."""
    keys = [str(c).strip().upper() for c in countries]
    dup = sorted({c for c, k in zip(countries, keys) if keys.count(k) > 1}, key=str)
    if dup:
        raise ValueError(f"countries must be distinct labels (compared case-insensitively), "
                         f"got duplicates {dup} in countries={tuple(countries)}")


def check_income_risk(e: Economy) -> None:
    """Raise ValueError, before any solve, if the income process has no risk: one income
    state (Nz = 1), all productivity levels z equal, or P = I (every state absorbing,
    so each household keeps its z forever). Without income risk a household with
    beta R < 1 runs its assets down to the borrowing limit (away from it consumption
    falls over time, u'(c_t) = beta R u'(c_t+1)), so in the long run every household
    holds a' = -phi A_i: the bonds (zero net supply) cannot clear at any R < 1/beta,
    and at beta R = 1 the stationary distribution is not determined. The model then
    has no stationary equilibrium. Traced economies are not checked."""
    if not _concrete((e.P, e.z)):
        return
    P, z = np.asarray(e.P), np.asarray(e.z)
    if P.shape[0] == 1:
        what = "Nz=1: one income state"
    elif np.ptp(z) == 0.0:
        what = f"all {P.shape[0]} productivity levels z are equal, z={float(z[0])!r}"
    elif np.all(np.diag(P) >= 1.0 - 1e-12):
        what = "P = I: every income state is absorbing, each household keeps its z forever"
    else:
        return
    raise ValueError(
        f"the income process has no risk ({what}): the model has no stationary "
        "equilibrium. Without income risk a household with beta R < 1 runs its assets "
        "down to the borrowing limit a' = -phi A_i, so the bond market (zero net supply) "
        "cannot clear at any R < 1/beta, and at beta R = 1 the stationary distribution "
        "of assets is not determined. Use an income process with risk (a P with "
        "off-diagonal mass and distinct z; hat_jax.income_process)")


def validate_economy(e: Economy) -> None:
    """Raise ValueError naming the parameter and the bad value for every invalid input."""
    A, L, d = np.asarray(e.A), np.asarray(e.L), np.asarray(e.d)
    if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape[0] < 1:
        raise ValueError(f"d must be an N x N trade-cost matrix, got shape {d.shape}")
    N = d.shape[0]  # the number of countries is that of the trade-cost matrix
    if N < 2:
        raise ValueError("the economy has N=1 country: the HAT model needs N >= 2 (trade "
                         "between countries); a closed economy is not supported")
    if A.shape != (N,):
        raise ValueError(f"A (TFP) must have one entry per country, shape ({N},) like the "
                         f"{N} x {N} trade costs d, got shape {A.shape}")
    if L.shape != (N,):
        raise ValueError(f"L (labour) must have one entry per country, shape ({N},) like "
                         f"the {N} x {N} trade costs d, got shape {L.shape}")
    for name, x in (("A", A), ("L", L)):
        if not np.all(np.isfinite(x)) or np.any(x <= 0):
            k = int(np.argmin(np.where(np.isfinite(x), x, -np.inf)))
            raise ValueError(f"{name} must be positive and finite, got {name}[{k}]={float(x[k])!r}")
    if not isinstance(e.cost_floor, (bool, np.bool_)):
        raise ValueError(f"cost_floor must be True or False, got cost_floor={e.cost_floor!r}")
    validate_trade_costs(d, floor=bool(e.cost_floor))
    gamma = _scalar("gamma", e.gamma)
    if gamma <= 0:
        raise ValueError(f"gamma (CRRA coefficient) must be > 0, got gamma={gamma!r}")
    sigma = _scalar("sigma", e.sigma)
    if sigma <= 0:
        raise ValueError(f"sigma (logit scale of the taste shocks) must be > 0, got sigma={sigma!r}")
    beta = _scalar("beta", e.beta)
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta (discount factor) must lie in (0, 1), got beta={beta!r}")
    _scalar("psi_slope", e.psi_slope)
    phi = _scalar("phi", e.phi)
    amax = _scalar("amax", e.amax)
    # bonds are in zero net supply: the grid [-phi, amax] must contain a = 0 with room
    # to lend, else the bond market cannot clear (phi < 0 would force everyone to hold
    # a' >= -phi > 0; amax <= 0 would leave no lender)
    if phi < 0:
        raise ValueError(f"phi (borrowing limit a' >= -phi) must be >= 0, got phi={phi!r}: "
                         "with phi < 0 every household holds positive bonds and the bond "
                         "market (zero net supply) cannot clear")
    if amax <= 0:
        raise ValueError(f"amax (top of the asset grid) must be > 0, got amax={amax!r}: "
                         "the bond market (zero net supply) needs households that lend")
    check_grid_size(e.Na)
    validate_transition(e.P, "P (income transition matrix)")
    z = np.asarray(e.z)
    if z.shape != (np.shape(e.P)[0],) or np.any(z <= 0) or not np.all(np.isfinite(z)):
        raise ValueError(f"z (productivity levels) must be positive, one per row of P, got {z}")
    y_P = np.asarray(e.y_P)
    if y_P.shape != z.shape or not np.all(np.isfinite(y_P)):
        raise ValueError(f"y_P (log persistent income, the quality shifter's state) must be "
                         f"finite with one entry per income state, shape {z.shape}, got "
                         f"shape {y_P.shape}" + ("" if y_P.shape != z.shape else f": {y_P}"))
    if len(e.countries) != N:
        raise ValueError(f"countries must have {N} labels, got {len(e.countries)}: {e.countries}")
    check_country_labels(e.countries)
    if e.tariffs is not None:
        validate_tariffs(e.tariffs, N, e.countries)
    if e.wedges is not None:
        validate_wedges(e.wedges, N, e.countries)


def make_economy(
    d,
    A=None,
    L=None,
    *,
    gamma: float = 1.5,
    sigma: float = 0.25,
    beta: float = 0.92,
    psi_slope: float = 0.0,
    phi: float = 0.5,
    amax: float = 8.0,
    Na: int = 100,
    income: IncomeProcess | None = None,
    countries: Sequence[str] | None = None,
    scale_by_tfp: bool = True,
    cost_floor: bool = True,
    tariffs=None,
    wedges=None,
) -> Economy:
    """Build and validate an :class:`Economy`. ``d`` is the N x N trade-cost matrix
    (importer rows); A and L default to ones; income defaults to the reference process.
    cost_floor: True (default) requires d >= 1; False lets off-diagonal costs fall below 1
    (the paper's convention; see :class:`Economy`). tariffs: an N x N tariff matrix
    (importer rows) or None (free trade; see :class:`Economy`). wedges: N capital-account
    wedges omega_i (R_i = R + omega_i, model.md s.15) or None (none)."""
    d = np.asarray(d, dtype=np.float64)
    if d.ndim != 2:
        raise ValueError(f"d must be an N x N matrix, got shape {d.shape}")
    N = d.shape[0]
    A = np.ones(N) if A is None else np.asarray(A, dtype=np.float64)
    L = np.ones(N) if L is None else np.asarray(L, dtype=np.float64)
    income = income_process() if income is None else income
    countries = tuple(countries) if countries is not None else tuple(f"C{i + 1}" for i in range(N))
    if not isinstance(gamma, (int, float)) or not np.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma (CRRA coefficient) must be > 0, got gamma={gamma!r}")
    f = lambda x: jnp.asarray(x, dtype=jnp.float64)
    return Economy(
        A=f(A), L=f(L), d=f(d), beta=f(beta), sigma=f(sigma), psi_slope=f(psi_slope),
        phi=f(phi), amax=f(amax), z=f(income.z), P=f(income.P), y_P=f(income.y_P),
        gamma=float(gamma), Na=check_grid_size(Na), countries=countries, scale_by_tfp=scale_by_tfp,
        cost_floor=bool(cost_floor),
        tariffs=None if tariffs is None else f(validate_tariffs(tariffs, N, countries)),
        wedges=None if wedges is None else f(validate_wedges(wedges, N, countries)),
    )


def household_options(economy: Economy, **kw) -> HouseholdOptions:
    """HouseholdOptions for this economy (gamma, Na) with optional overrides (tol, ...)."""
    return HouseholdOptions(gamma=economy.gamma, Na=economy.Na, **kw)


def delivered_prices(economy: Economy, W):
    """p_ij = (1 + t_ij) d_ij W_j / A_j: the consumer price of j's variety delivered to i
    (W_j/A_j = p_j; t = 0 under free trade, where the factor is left out)."""
    p = economy.d * (W / economy.A)[None, :]
    return p if economy.tariffs is None else (1.0 + economy.tariffs) * p


def country_scale(economy: Economy):
    """A_i^(1-gamma) when the reference country scaling is on, else ones (the switch is
    traced: one program for both)."""
    return jnp.where(economy.scale_by_tfp, economy.A ** (1.0 - economy.gamma), 1.0)


def grid_scale(economy: Economy):
    """A_i, the scale of country i's asset grid, when the reference country scaling is
    on, else ones."""
    return jnp.where(economy.scale_by_tfp, economy.A, 1.0)


def household_problems(economy: Economy, W, R, beta=None, T=None) -> HouseholdProblem:
    """Per-country household inputs (leading axis = country) at wages W and interest R.

    R may be a scalar (financial globalization) or one per country (autarky); with
    capital-account wedges households face R_i = R + omega_i (model.md s.15); T: the
    lump-sum transfer of each country's households (tariff and wedge rebates; default 0).
    Prices p_ij include the economy's tariffs. sigma_i = sigma A_i^(1-gamma); psi_ij(z) = psi_slope A_i^(1-gamma) y_P(z) 1{j=i};
    grid from -phi A_i to amax A_i (A_i = 1 without scaling).
    """
    N, Na, Nz = economy.N, economy.Na, economy.Nz
    beta = economy.beta if beta is None else beta
    scale = country_scale(economy)
    gscale = grid_scale(economy)
    a_min = -economy.phi * gscale
    da = (economy.amax + economy.phi) * gscale / (Na - 1)
    p = delivered_prices(economy, W)
    psi = (economy.psi_slope * scale)[:, None, None] * economy.y_P[None, :, None] \
        * jnp.eye(N, dtype=p.dtype)[:, None, :]
    R = jnp.broadcast_to(jnp.asarray(R, p.dtype), (N,))
    if economy.wedges is not None:
        R = R + economy.wedges
    T = jnp.zeros(N, p.dtype) if T is None else jnp.broadcast_to(jnp.asarray(T, p.dtype), (N,))
    return HouseholdProblem(
        a_min=a_min, da=da, p=p, W=jnp.asarray(W, p.dtype), R=R, T=T,
        sigma=economy.sigma * scale, psi=psi,
        z=jnp.broadcast_to(economy.z, (N, Nz)), P=jnp.broadcast_to(economy.P, (N, Nz, Nz)),
        beta=jnp.broadcast_to(jnp.asarray(beta, p.dtype), (N,)),
    )


def check_prices(economy: Economy, W, R, beta=None) -> None:
    """Validate concrete prices: W > 0, beta R < 1 (else no stationary distribution), and
    the borrowing limit above the natural one (consumption positive at the limit)."""
    if not _concrete((W, R, beta)):
        return
    beta = float(economy.beta if beta is None else beta)
    W = np.asarray(W, dtype=np.float64)
    R = np.broadcast_to(np.asarray(R, dtype=np.float64), W.shape)
    if economy.wedges is not None:  # households face R_i = R + omega_i
        R = R + np.asarray(economy.wedges)
    if np.any(~np.isfinite(W)) or np.any(W <= 0):
        k = int(np.argmin(W))
        raise ValueError(f"wages must be positive, got W[{k}]={float(W[k])!r}")
    if np.any(R <= 0):
        raise ValueError(f"the gross interest rate must be positive, got R={float(R.min())!r}")
    if np.any(beta * R >= 1.0):
        k = int(np.argmax(R))
        raise ValueError(
            f"beta*R >= 1 (beta={beta!r}, R={float(R[k])!r}, beta*R={float(beta * R[k])!r}): households "
            "would accumulate without bound and no stationary distribution exists")
    A = np.broadcast_to(np.asarray(grid_scale(economy)), W.shape)
    phi = float(economy.phi)
    zmin = float(np.min(np.asarray(economy.z)))
    # consumption of the poorest household at the limit: (R-1)(-phi A) + W z_min > 0
    cmin = (R - 1.0) * (-phi * A) + W * zmin
    if np.any(cmin <= 0):
        k = int(np.argmin(cmin))
        raise ValueError(
            f"borrowing limit phi={phi!r} is beyond the natural borrowing limit in country "
            f"{economy.countries[k]} (R={float(R[k])!r}, W={float(W[k])!r}, z_min={zmin:.4g}): consumption "
            "at the limit would be non-positive")
