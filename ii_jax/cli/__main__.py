"""``python -m ii_jax.cli``: the ``ii-jax`` command."""
import sys

from ii_jax.cli.commands import main

sys.exit(main())
