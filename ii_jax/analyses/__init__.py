"""The study's analyses (arXiv 2505.17101) on shard stores or arrays: layer profiles, cross-model matrices,
token-window sweeps, token distance and causal asymmetry, same-class image pairs, image–caption profiles.

Every analysis takes *sources*: a shard store (a folder path or an opened :class:`ii_jax.store.Store`) or an
:class:`ArrayStore` built from arrays a user already has (``bits[l]`` packed ``uint32`` ``[N, T, W]`` per layer,
optionally ``floats[l]`` ``[N, T, E]``). Per layer, each side is summarised into one vector per item by a
*representation*:

==========  ======================================================================================  =========
name        vector per item                                                                         metric
==========  ======================================================================================  =========
``concat``  the packed sign bits of the last ``tokens`` tokens, concatenated (the paper's default)  Hamming
``last``    the sign bits of the last token                                                         Hamming
``mean``    the mean activation of the last ``tokens`` tokens, clipped and L2-normalised            Euclidean
``float``   the float activations of the last ``tokens`` tokens, concatenated, clip+normalised      Euclidean
==========  ======================================================================================  =========

(``mean`` and ``float`` need a store extracted with floats.) The two ``[N, N]`` distance matrices of a layer
are computed once; Δ on all points, the jackknife or bootstrap and the shuffled null all re-rank inside them
(:mod:`ii_jax.resample`). When they would not fit ``max_cache_bytes``, Δ streams over row blocks instead and
each jackknife subset gets its own small matrices.

Directions: every result holds ``[..., 2]`` = (Δ(A→B), Δ(B→A)) for sources ``a``, ``b`` in call order.

Result style: every analysis returns a ``NamedTuple`` of NumPy arrays (plus ``n`` and a ``params`` dict of the
settings used), never jax Arrays: results leave the engine, go to plots, reports and :func:`to_json`. jax Arrays
stay inside the jitted kernels.

Layout (one module per concept):

- :mod:`~ii_jax.analyses.sources`: the :class:`Source` protocol (stores and :class:`ArrayStore`), :func:`as_source`,
  :func:`features`.
- :mod:`~ii_jax.analyses.cache`: the per-(layer, token) distance cache :class:`~ii_jax.analyses.cache.TokenDistances`
  (a window's Hamming matrix is the sum of its tokens' matrices), shared by the profile, the sweep and token distance.
- :mod:`~ii_jax.analyses.resampling`: the one route from a pair of distance matrices to Δ, error bars and null.
- :mod:`~ii_jax.analyses.profile` (:func:`layer_profile`, :func:`semantic_layers`, :func:`cross_model`,
  :func:`compare_representations`), :mod:`~ii_jax.analyses.sweep` (:func:`window_sweep`),
  :mod:`~ii_jax.analyses.tokens` (:func:`token_distance`), :mod:`~ii_jax.analyses.token_weights`
  (:func:`token_weights`: DII weights of the tokens of a window, beyond the paper),
  :mod:`~ii_jax.analyses.images` (:func:`image_pairs`,
  :func:`cross_modal`), :mod:`~ii_jax.analyses.serialise` (:func:`to_json`), :mod:`~ii_jax.analyses.claims` (the paper's claims as
  computed verdicts over these results).
"""
from __future__ import annotations

from ii_jax.analyses import claims
from ii_jax.analyses.cache import TokenDistances
from ii_jax.analyses.images import ImagePairs
from ii_jax.analyses.images import cross_modal
from ii_jax.analyses.images import image_pairs
from ii_jax.analyses.images import pairing_sources
from ii_jax.analyses.profile import CrossModel
from ii_jax.analyses.profile import Profile
from ii_jax.analyses.profile import SemanticLayers
from ii_jax.analyses.profile import compare_representations
from ii_jax.analyses.profile import cross_model
from ii_jax.analyses.profile import layer_profile
from ii_jax.analyses.profile import semantic_layers
from ii_jax.analyses.resampling import Jackknife
from ii_jax.analyses.resampling import default_jackknife
from ii_jax.analyses.serialise import to_json
from ii_jax.analyses.sources import REPRESENTATIONS
from ii_jax.analyses.sources import ArrayStore
from ii_jax.analyses.sources import Source
from ii_jax.analyses.sources import as_source
from ii_jax.analyses.sources import features
from ii_jax.analyses.sweep import WindowSweep
from ii_jax.analyses.sweep import default_windows
from ii_jax.analyses.sweep import window_sweep
from ii_jax.analyses.tokens import TokenDistance
from ii_jax.analyses.tokens import token_distance
from ii_jax.analyses.token_weights import TokenWeights
from ii_jax.analyses.token_weights import token_weights
from ii_jax.store import same_class_pairs

__all__ = [
    "ArrayStore", "as_source", "features", "REPRESENTATIONS", "default_jackknife", "Jackknife", "same_class_pairs",
    "Profile", "SemanticLayers", "CrossModel", "WindowSweep", "TokenDistance", "TokenWeights", "ImagePairs",
    "layer_profile", "semantic_layers", "cross_model", "window_sweep", "token_distance", "image_pairs", "pairing_sources",
    "cross_modal", "compare_representations", "claims", "token_weights",
]
