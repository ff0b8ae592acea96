"""Greedy selection of features (or groups of features) by the DII: forward addition or backward pruning.

Each candidate set is trained on its own (:func:`~ii_jax.dii.train`, weights outside the set held at 0, no L1) and
scored by its final DII; the ``n_best`` best sets of each size seed the next size, as in DADApy 0.3.4's
``forward_greedy_feature_selection`` and ``backward_greedy_feature_selection`` (which this generalises to groups:
one candidate per weight, e.g. per token of a window). Every training has the same shapes, so the compiled
program is reused.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ii_jax.dii import loss as _loss
from ii_jax.dii.train import train

__all__ = ["Selection", "greedy_selection"]


class Selection(NamedTuple):
    """The best set of each size.

    Attributes:
      sets: per step, the chosen weight indices (sorted), in the order found (growing for ``"forward"``,
        shrinking for ``"backward"``).
      dii: ``[S]``, each set's final DII (:attr:`~ii_jax.dii.DIIResult.dii`).
      weights: ``[S, P]``, each set's trained weights (0 outside the set).
      params: the settings used.
    """

    sets: list
    dii: np.ndarray
    weights: np.ndarray
    params: dict


def greedy_selection(x, ranks, *, direction: str = "forward", n_best: int = 10, stop: int | None = None,
                     groups=None, weights_init=None, **train_kwargs) -> Selection:
    """Forward (add one weight at a time) or backward (drop one at a time) greedy search by the DII.

    Args:
      x, ranks, groups: as :func:`~ii_jax.dii.train`.
      direction: ``"forward"`` (start from single weights) or ``"backward"`` (start from all of them).
      n_best: sets of each size kept to seed the next size.
      stop: the last set size (default: all weights for ``"forward"``, 1 for ``"backward"``).
      weights_init: ``[P]`` starting weights of every candidate (default 0.1 each), masked to the set.
      train_kwargs: the other arguments of :func:`~ii_jax.dii.train` (``l1`` is not allowed).

    Returns:
      A :class:`Selection`.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.dii import greedy_selection, rank_matrix
      >>> x = np.random.default_rng(0).normal(size=(120, 4)).astype(np.float32)
      >>> sel = greedy_selection(x, rank_matrix(x[:, [2]]), stop=2, epochs=10, learning_rate=0.1)
      >>> sel.sets[0]
      [2]
    """
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}.")
    if "l1" in train_kwargs:
        raise ValueError("greedy_selection trains without L1: drop l1.")
    n_best = _loss._check_int("n_best", n_best)
    n_params = int(_loss.group_index(groups, np.shape(x)[1]).max()) + 1
    w0 = np.full(n_params, 0.1) if weights_init is None else np.asarray(weights_init, np.float64)
    if w0.shape != (n_params,):
        raise ValueError(f"weights_init must be [{n_params}], got shape {w0.shape}.")
    last = (n_params if direction == "forward" else 1) if stop is None else _loss._check_int("stop", stop)
    if not 1 <= last <= n_params:
        raise ValueError(f"stop must lie in [1, {n_params}], got {stop}.")
    cache: dict[tuple, tuple[float, np.ndarray]] = {}

    def score(subset: tuple) -> tuple[float, np.ndarray]:
        if subset not in cache:
            mask = np.zeros(n_params, bool)
            mask[list(subset)] = True
            if not np.any(w0[mask]):
                cache[subset] = (np.inf, np.zeros(n_params))
            else:
                res = train(x, ranks, groups=groups, weights_init=np.where(mask, w0, 0.0), **train_kwargs)
                cache[subset] = (res.dii, res.weights)
        return cache[subset]

    everything = tuple(range(n_params))
    if direction == "forward":
        frontier = [(i,) for i in everything]
    else:
        frontier = [everything]
    sets, diis, weights = [], [], []
    while True:
        ranked = sorted(frontier, key=lambda s: (score(s)[0], s))[:n_best]
        best = ranked[0]
        sets.append(list(best))
        diis.append(score(best)[0])
        weights.append(score(best)[1])
        size = len(best)
        if size == last:
            break
        nxt = set()
        for s in ranked:
            if direction == "forward":
                nxt.update(tuple(sorted(s + (j,))) for j in everything if j not in s)
            else:
                nxt.update(tuple(i for i in s if i != j) for j in s)
        frontier = sorted(nxt)
    params = dict(direction=direction, n_best=n_best, stop=last, **{k: v for k, v in train_kwargs.items()
                                                                     if isinstance(v, (int, float, str, type(None)))})
    return Selection(sets, np.asarray(diis), np.asarray(weights), params)
