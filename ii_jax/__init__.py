"""ii-jax: Information Imbalance between deep representations, in JAX.

The public surface is re-exported here; implementation lives in modules named for what they do.
"""
from ii_jax.binary import binarize
from ii_jax.binary import pack_bits
from ii_jax.binary import unpack_bits
from ii_jax.distances import float_distances
from ii_jax.distances import hamming_distances
from ii_jax.imbalance import Imbalance
from ii_jax.imbalance import imbalance_from_distances
from ii_jax.imbalance import information_imbalance
from ii_jax.imbalance import pointwise_imbalance
from ii_jax.resample import Estimate
from ii_jax.resample import bootstrap
from ii_jax.resample import jackknife
from ii_jax.resample import shuffled_null

__version__ = "0.1.0"

__all__ = [
    "binarize",
    "pack_bits",
    "unpack_bits",
    "float_distances",
    "hamming_distances",
    "Imbalance",
    "imbalance_from_distances",
    "information_imbalance",
    "pointwise_imbalance",
    "Estimate",
    "bootstrap",
    "jackknife",
    "shuffled_null",
]
