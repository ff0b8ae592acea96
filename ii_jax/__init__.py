"""ii-jax: Information Imbalance between deep representations, in JAX.

The public surface is re-exported here; implementation lives in modules named for what they do.
"""
from ii_jax.binary import binarize
from ii_jax.binary import pack_bits
from ii_jax.binary import unpack_bits

__version__ = "0.1.0"

__all__ = [
    "binarize",
    "pack_bits",
    "unpack_bits",
]
