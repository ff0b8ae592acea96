r"""The Differentiable Information Imbalance (DII): learn which features of A carry the information B holds.

.. math::

   \mathrm{DII}(A(w) \to B) = \frac{2}{N^2} \sum_{i,j} c_{ij}\, r^B_{ij}, \qquad
   c_{ij} = \mathrm{softmax}_{j \ne i}\big(-d^A_{ij}(w)^2 / \lambda_i\big)

(Wild et al., Nat. Commun. 2025; DADApy 0.3.4's ``DiffImbalance``). The weights ``w`` scale A's features, one per
feature or one per *group* (a token of a concatenated window, a block of neurons); r^B are B's exact, tie-aware
mid-ranks; λ_i is a fraction of the squared distance to the k-th neighbour (point-adaptive) or its mean.

**Normalisation.** Wild et al.'s ``2/N²`` (``2/(R N)`` with R row points), as DADApy, so DADApy's
hyper-parameters and curves carry over. ii-jax's exact Δ uses ``2/(N (N − 1))``: ``DII · N/(N − 1)`` is on Δ's
scale, and as λ → 0 it tends to Δ(A(w) → B) with ``k=1`` and ``ties="average"`` exactly.

Pure functions over arrays, usable from any JAX code:

* :func:`rank_matrix`: B's doubled mid-ranks ``[R, N]`` (once; Hamming on packed bits through
  :func:`ii_jax.hamming_distances`, squared Euclidean on floats, or a given distance matrix); :func:`rerank`.
* :func:`soft_imbalance`: the DII, differentiable in the weights, by row blocks under ``lax.scan`` with the block
  body recomputed in the backward pass (``jax.checkpoint``): memory ``O(block · N · width)`` (width: features, or
  groups), rows sharded over a device mesh on request. Composes with ``jax.jit`` and ``jax.grad``.
* :func:`train`: any optax optimiser (or ``"sgd"``, ``"adam"``, ``"adamw"``), learning-rate decay, L1 (proximal),
  the cosine schedule of the neighbour order that sets λ, mini-batches; one compiled ``lax.scan`` over the steps.
* :func:`greedy_selection`: forward addition or backward pruning of features or groups.

For sign bits use ±1 floats (``2 * unpack_bits(words, n) - 1``): then ``d² = 4 · Hamming``.

Examples:
  >>> import numpy as np
  >>> from ii_jax import dii
  >>> rng = np.random.default_rng(1)
  >>> x = rng.normal(size=(150, 3)).astype(np.float32)
  >>> res = dii.train(x, dii.rank_matrix(x[:, :1]), epochs=40, learning_rate=0.1, optimizer="adam")
  >>> int(np.argmax(res.weights))
  0

References:
  Wild, Del Tatto, Rodriguez, Laio et al., "Automatic feature selection and weighting in molecular systems using
  Differentiable Information Imbalance", Nature Communications 16:270 (2025), https://arxiv.org/abs/2411.00851
"""
from __future__ import annotations

from ii_jax.dii.loss import SCHEMES
from ii_jax.dii.loss import group_index
from ii_jax.dii.loss import soft_imbalance
from ii_jax.dii.ranks import rank_matrix
from ii_jax.dii.ranks import rerank
from ii_jax.dii.select import Selection
from ii_jax.dii.select import greedy_selection
from ii_jax.dii.train import LR_DECAYS
from ii_jax.dii.train import OPTIMIZERS
from ii_jax.dii.train import DIIResult
from ii_jax.dii.train import train

__all__ = ["rank_matrix", "rerank", "soft_imbalance", "group_index", "train", "DIIResult", "greedy_selection",
           "Selection", "SCHEMES", "OPTIMIZERS", "LR_DECAYS"]
