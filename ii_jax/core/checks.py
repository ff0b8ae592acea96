"""Validation of the options every Information Imbalance routine shares: ``k``, ``ties``, ``key``, ``metric``.

Every check here looks at Python values and static shapes only, so it runs at trace time inside ``jax.jit``,
``jax.vmap`` and ``shard_map`` as well as on the host.
"""
from __future__ import annotations

import numpy as np

from ii_jax.distances import FLOAT_METRICS

__all__ = ["TIES", "METRICS", "check_k", "check_candidates", "check_ties", "check_metric"]

TIES = ("average", "min", "random")
METRICS = ("hamming",) + FLOAT_METRICS


def check_k(n: int, k: int) -> None:
    """N points, every point ranked against the N - 1 others, are enough for ``k`` neighbours.

    Examples:
      >>> from ii_jax.core.checks import check_k
      >>> check_k(10, 3)
      >>> try:
      ...     check_k(10, 9)
      ... except ValueError as e:
      ...     print(e)
      k must be smaller than N-1=9 (N=10 points), got k=9.
    """
    if n < 3:
        raise ValueError(f"need at least N=3 points, got N={n}.")
    _check_int_k(k)
    if k >= n - 1:
        raise ValueError(f"k must be smaller than N-1={n - 1} (N={n} points), got k={k}.")


def check_candidates(m: int, k: int) -> None:
    """``m`` candidates per query are enough for ``k`` neighbours (``1 <= k < m``, so a query's neighbours
    never take in every candidate).
    """
    if m < 2:
        raise ValueError(f"need at least 2 candidates per query, got {m}.")
    _check_int_k(k)
    if k >= m:
        raise ValueError(f"k must be smaller than the {m} candidates per query, got k={k}.")


def _check_int_k(k) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}.")


def check_ties(ties: str, key=None, *, need_key: bool = True) -> None:
    """``ties`` is one of :data:`TIES`; ``ties="random"`` comes with a PRNG ``key``."""
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}.")
    if need_key and ties == "random" and key is None:
        raise ValueError("ties='random' needs a PRNG key: pass key=jax.random.key(seed).")


def check_metric(metric: str) -> None:
    """``metric`` is one of :data:`METRICS`."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
