"""Deprecated alias of :mod:`ii_jax.cli.demo` (the command-line code lives in :mod:`ii_jax.cli`), kept one release."""
import warnings

from ii_jax.cli.demo import *  # noqa: F401,F403
from ii_jax.cli.demo import __all__  # noqa: F401

warnings.warn("ii_jax.demo is deprecated: import ii_jax.cli.demo", DeprecationWarning, stacklevel=2)
