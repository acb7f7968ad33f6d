"""hat_jax: a differentiable JAX solver for the Heterogeneous Agent Trade model.

Importing ``hat_jax`` turns on JAX's 64-bit mode (``jax_enable_x64``) process-wide:
the solver's tolerances (1e-10) are out of reach in float32. This is a global side
effect, documented in the README.
"""

import jax

jax.config.update("jax_enable_x64", True)
