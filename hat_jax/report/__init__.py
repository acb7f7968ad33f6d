"""The report layer: what turns solver results into JSON objects, tidy pandas frames,
CSV files and figures. Used by the ``hat`` command (:mod:`hat_jax.cli`) and by notebooks.

Modules (import the one you need; nothing heavy is imported here, matplotlib only when a
figure is drawn):

- :mod:`hat_jax.report._files` -- the one atomic writer of output files and the one
  conversion of numbers to JSON;
- :mod:`hat_jax.report._figures` -- :func:`~hat_jax.report._figures.save_figure`, the one way
  to write a figure;
- :mod:`hat_jax.report.equilibrium` -- the ``hat solve`` summary, frames and files;
- :mod:`hat_jax.report.elasticities` -- trade-elasticity frames, tables and figures;
- :mod:`hat_jax.report.welfare` -- counterfactual and planner summaries, frames, figures;
- :mod:`hat_jax.report._readers` -- input files of the command (cost matrix, weights);
- :mod:`hat_jax.report.calibration` -- calibration summary, table, fit figure and files;
- :mod:`hat_jax.report.sweep` -- the merge of a ``hat sweep`` folder (whose manifest and
  chunks are the sweep store of :mod:`hat_jax.scenarios`), its summary and figure;
- :mod:`hat_jax.report.transition` -- transition summary, path table, figures and files;
- :mod:`hat_jax.report.policy` -- optimal and Nash tariff summaries, frames and figures;
- :mod:`hat_jax.report.finance` -- financial integration: EV by state under each regime
  or capital-account policy, net foreign assets (bars and transition paths), the
  ``hat capital-controls`` files.

The modules with a leading underscore are the layer's implementation.
"""

# the public per-task modules (imported on demand: ``from hat_jax.report import welfare``)
__all__ = ["calibration", "elasticities", "equilibrium", "finance", "policy", "sweep",
           "transition", "welfare"]
