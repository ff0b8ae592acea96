"""The traceable core: the Information Imbalance as pure functions of arrays, inside ``jax.jit``, ``jax.vmap``
and ``shard_map``.

The public functions of :mod:`ii_jax` (:func:`~ii_jax.information_imbalance`, :func:`~ii_jax.imbalance_from_distances`,
:func:`~ii_jax.pointwise_imbalance`, and the resampling and analyses on top) are host drivers: they validate
values, stream row blocks, use the native CPU kernels, write checkpoints and return Python floats. This package
holds the semantics they run and is the route for JAX code: call it on arrays inside a jitted step, ``vmap`` it
over a ``[L, N, W]`` stack of layers (one compiled program for every layer), ``shard_map`` it over devices.

* :func:`imbalance`, :func:`pointwise`, :func:`row_stats` from features (packed bits with Hamming, or floats);
  :func:`imbalance_from_distances`, :func:`pointwise_from_distances`, :func:`row_stats_from_distances` from
  distance matrices. One sample (N points, each against the N - 1 others), queries against a separate set of
  candidates (``candidates=``), or the authors' rows/columns split of one sample (``split=True``).
* :func:`delta_from_stats`, :func:`pointwise_from_stats`: the exact finish of the integer row statistics.

Modules: :mod:`~ii_jax.core.stats` (the row statistics of one block of distance rows), :mod:`~ii_jax.core.finish`
(statistics to values, exact in 32-bit integers), :mod:`~ii_jax.core.engine` (layouts, the ``lax.map`` over row
blocks, the public functions), :mod:`~ii_jax.core.checks` (the options' validation).

Examples:
  >>> import jax
  >>> from ii_jax import binarize, core, pack_bits
  >>> acts = jax.random.normal(jax.random.key(1), (300, 64))
  >>> x, y = pack_bits(binarize(acts)), pack_bits(binarize(acts[:, :32]))
  >>> d = jax.jit(lambda a, b: core.imbalance(a, b))(x, y)
  >>> bool(d[0] < d[1])  # the full code predicts its half better than the reverse
  True
"""
from __future__ import annotations

from ii_jax.core.checks import METRICS
from ii_jax.core.checks import TIES
from ii_jax.core.engine import imbalance
from ii_jax.core.engine import imbalance_from_distances
from ii_jax.core.engine import pointwise
from ii_jax.core.engine import pointwise_from_distances
from ii_jax.core.engine import row_stats
from ii_jax.core.engine import row_stats_from_distances
from ii_jax.core.engine import split_rows_columns
from ii_jax.core.finish import delta_from_stats
from ii_jax.core.finish import pointwise_from_stats

__all__ = [
    "imbalance", "pointwise", "row_stats",
    "imbalance_from_distances", "pointwise_from_distances", "row_stats_from_distances",
    "delta_from_stats", "pointwise_from_stats", "split_rows_columns", "TIES", "METRICS",
]
