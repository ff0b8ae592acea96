"""Deprecated alias of :mod:`ii_jax.cli.report` (the command-line code lives in :mod:`ii_jax.cli`), kept one release."""
import warnings

from ii_jax.cli.report import *  # noqa: F401,F403
from ii_jax.cli.report import __all__  # noqa: F401

warnings.warn("ii_jax.report is deprecated: import ii_jax.cli.report", DeprecationWarning, stacklevel=2)
