"""Pairing items for the Imbalance: disjoint same-class pairs (image–image analyses, paper Fig. 4a).

NumPy only and part of the store package, so the extraction layer (``extract.datasets``) and the engine
(:mod:`ii_jax.analyses`) use the same pairing.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["same_class_pairs"]


def same_class_pairs(labels: Sequence, *, seed: int = 0) -> np.ndarray:
    """Disjoint pairs of items with equal labels: each class shuffled (seeded) and paired in order.

    No item appears twice (pairs are drawn without repetition); a class with an odd count leaves one out.

    Args:
      labels: ``[N]`` class label per item (compared as strings).
      seed: the shuffle's seed.

    Returns:
      ``int64`` ``[P, 2]`` row indices, sorted by the first column.

    Examples:
      >>> from ii_jax.store.pairing import same_class_pairs
      >>> p = same_class_pairs(["a", "b", "a", "b", "a"], seed=0)
      >>> p.shape, all(len(set(r)) == 2 for r in p.tolist())
      ((2, 2), True)
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray([str(x) for x in labels])
    pairs = []
    for cls in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        pairs += [(int(idx[k]), int(idx[k + 1])) for k in range(0, len(idx) - 1, 2)]
    return np.array(sorted(pairs), np.int64).reshape(-1, 2)
