"""Deprecated alias of :mod:`ii_jax.cli.bid` (the command-line code lives in :mod:`ii_jax.cli`), kept one release."""
import warnings

from ii_jax.cli.bid import *  # noqa: F401,F403
from ii_jax.cli.bid import __all__  # noqa: F401

warnings.warn("ii_jax.bid_cli is deprecated: import ii_jax.cli.bid", DeprecationWarning, stacklevel=2)
