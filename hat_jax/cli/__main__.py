"""``python -m hat_jax.cli ...``: the ``hat`` command."""

import sys

from hat_jax.cli import main

sys.exit(main())
