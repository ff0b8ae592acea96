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
from ii_jax.baselines import cka
from ii_jax.baselines import mutual_knn
from ii_jax.bid import BIDJackknife
from ii_jax.bid import BIDProfile
from ii_jax.bid import BIDResult
from ii_jax.bid import bid_from_bits
from ii_jax.bid import bid_from_histogram
from ii_jax.bid import bid_jackknife
from ii_jax.bid import bid_profile
from ii_jax.bid import bid_profile_store
from ii_jax.bid import hamming_histogram
from ii_jax.bid import plot_bid_profile
from ii_jax.bid import subsample_histograms
from ii_jax import bid  # the module (callable for one release: the deprecated ii_jax.bid(...))
from ii_jax import flax_capture
from ii_jax import synthetic
from ii_jax import parallel
from ii_jax import analyses
from ii_jax import plots
from ii_jax.analyses import layer_profile
from ii_jax.analyses import semantic_layers

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
    "cka",
    "mutual_knn",
    "BIDJackknife",
    "BIDProfile",
    "BIDResult",
    "bid",
    "bid_from_bits",
    "bid_from_histogram",
    "bid_jackknife",
    "bid_profile",
    "bid_profile_store",
    "hamming_histogram",
    "plot_bid_profile",
    "subsample_histograms",
    "flax_capture",
    "synthetic",
    "parallel",
    "analyses",
    "plots",
    "layer_profile",
    "semantic_layers",
]
