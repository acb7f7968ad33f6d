"""The baseline of an experiment (model.md s.10, s.14): one :class:`Baseline`, built once
from a solved equilibrium and passed to everything above it (counterfactuals, welfare
derivatives, EV, tariffs, transitions, scenarios, the CLI).

Every experiment solves again at the baseline's discount factor: beta is fixed at the
equilibrium's (solved or given), wages, R (one world R, or R_i per country under
financial autarky) and, with tariffs, the rebates T are the unknowns, started from the
baseline's prices, rebates and household state.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._equilibrium import Equilibrium, EquilibriumOptions
from ._params import Economy
from ._start import Start
from ._warm import warm_inverses
from ._unknowns import encode

__all__ = ["Baseline", "as_baseline", "baseline", "financial_regime"]


def financial_regime(eq) -> str:
    """"autarky" if ``eq`` has one R per country, else "global" (one world bond market)."""
    return "autarky" if np.ndim(eq.R) == 1 else "global"


class Baseline(eqx.Module):
    """A solved world as the start of experiments.

    economy: the equilibrium's economy with beta set to the equilibrium's beta (the
    fixed-beta economy every experiment changes); start: its prices W, R, beta, rebates
    T (zeros under free trade), household state and, when it fits the fixed-beta
    unknowns, the Newton Jacobian J (:class:`~hat_jax.Start`); opts: the options of
    the experiments' solves (unknown "R", the baseline's regime; see
    :meth:`EquilibriumOptions.fixed_beta`); regime: "global" or "autarky";
    equilibrium: the :class:`~hat_jax.Equilibrium` it was built from.
    """

    economy: Economy
    start: Start
    opts: EquilibriumOptions
    equilibrium: Equilibrium
    regime: str = eqx.field(static=True, default="global")

    @classmethod
    def from_equilibrium(cls, eq: Equilibrium, opts: EquilibriumOptions | None = None
                         ) -> "Baseline":
        """The baseline of the solved ``eq``; ``opts`` (default EquilibriumOptions())
        supplies the tolerances of the experiments' solves."""
        if isinstance(eq, Baseline):
            return eq if opts is None else eq.with_options(opts)
        regime = financial_regime(eq)
        opts = (EquilibriumOptions() if opts is None else opts).fixed_beta(regime)
        economy = eq.economy.replace(beta=jnp.asarray(eq.beta, jnp.float64))
        T = jnp.zeros(economy.N) if eq.T is None else jnp.asarray(eq.T)
        n = encode(eq.W, eq.R, eq.beta, economy, opts, T).shape[0]
        J = eq.jacobian
        J = jnp.asarray(J) if J is not None and np.shape(J) == (n, n) else None
        start = Start(jnp.asarray(eq.W), jnp.asarray(eq.R), jnp.asarray(eq.beta), T,
                      eq.world.households.state, J)
        return cls(economy, start, opts, eq, regime)

    def with_options(self, opts: EquilibriumOptions | None) -> "Baseline":
        """This baseline with the experiments' options taken from ``opts`` (unknown and
        regime stay the baseline's); None keeps the current ones."""
        if opts is None:
            return self
        return eqx.tree_at(lambda b: b.opts, self, opts.fixed_beta(self.regime))

    def with_exact_jacobian(self) -> "Baseline":
        """This baseline with ``J`` the exact Jacobian of the experiments' (fixed-beta)
        unknowns at its prices, one forward-mode Jacobian: every experiment's Newton
        then starts from it (Broyden-updated), which pays for many scenarios
        (:mod:`hat_jax._scenario_start`)."""
        from ._scenario_start import exact_baseline_jacobian

        J = exact_baseline_jacobian(self)
        return eqx.tree_at(lambda b: b.start, self, self.start._replace(J=J))

    def with_warm_inverses(self) -> "Baseline":
        """This baseline with ``Start.inverses``, the :class:`~hat_jax.model.WarmInverses`
        of its solved world: every experiment's household and distribution solves then
        take chord steps from them (same solutions to the tolerances, a fraction of the
        sweeps; :mod:`hat_jax._warm`). Costs about 400 household sweeps per country once
        and 4 (2 Nz Na)^2 + 4 (Nz Na)^2 bytes per country (ek_baseline, Na = 100: 380 MB):
        worth it for many experiments (a sweep, a policy optimisation), not for one."""
        opts = self.opts.resolved(self.economy)
        inv = warm_inverses(self.equilibrium.world, opts.household_options(self.economy))
        return eqx.tree_at(lambda b: b.start, self, self.start._replace(inverses=inv))

    @property
    def inverses(self):
        """The :class:`~hat_jax.model.WarmInverses` of the solved world (None unless
        :meth:`with_warm_inverses` built them)."""
        return self.start.inverses

    def options(self, opts: EquilibriumOptions | None = None) -> EquilibriumOptions:
        """The options of a solve from this baseline: ``opts`` (default: the
        baseline's) at fixed beta under the baseline's regime."""
        return self.opts if opts is None else opts.fixed_beta(self.regime)

    @property
    def W(self):
        return self.start.W

    @property
    def R(self):
        return self.start.R

    @property
    def beta(self):
        return self.start.beta

    @property
    def T(self):
        return self.start.T

    @property
    def state(self):
        """The household fixed-point variables of every country (a warm start)."""
        return self.start.state

    @property
    def J(self):
        """The Newton Jacobian of the fixed-beta unknowns (None when the equilibrium's
        does not fit them)."""
        return self.start.J

    @property
    def N(self) -> int:
        return self.economy.N

    @property
    def countries(self):
        return self.economy.countries

    def country_state(self, i: int):
        """Country i's solved household fixed-point variable y."""
        return jax.tree_util.tree_map(lambda x: x[i], self.start.state)


def baseline(eq: Equilibrium, opts: EquilibriumOptions | None = None) -> Baseline:
    """:meth:`Baseline.from_equilibrium`."""
    return Baseline.from_equilibrium(eq, opts)


def as_baseline(x, opts: EquilibriumOptions | None = None) -> Baseline:
    """``x`` as a :class:`Baseline` (an :class:`~hat_jax.Equilibrium` is converted once;
    a Baseline is returned as it is, with ``opts`` applied when given)."""
    return Baseline.from_equilibrium(x, opts)
