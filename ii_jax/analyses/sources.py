"""Sources: shard stores and arrays behind one protocol (:class:`Source`), and one layer as one vector per item.

A *source* is anything with ``layers``, ``relative_depth``, ``tokens``, ``len()`` and per-layer packed bits
``uint32`` ``[N, T, W]`` (optionally floats ``[N, T, E]``): an opened :class:`ii_jax.store.Store`, or an
:class:`ArrayStore` built from arrays a user already has. :func:`as_source` also opens a store folder.
"""
from __future__ import annotations

import os
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ii_jax import baselines as _bl
from ii_jax import windows as _win

__all__ = ["Source", "ArrayStore", "as_source", "features", "REPRESENTATIONS"]

REPRESENTATIONS = ("concat", "last", "mean", "float")


@runtime_checkable
class Source(Protocol):
    """What every analysis reads: a shard store (:class:`ii_jax.store.Store`) or an :class:`ArrayStore`.

    Attributes:
      layers: stored layer indices. relative_depth: per layer (0 for the embeddings). tokens: T, tokens stored
        per item. embedding_layer: the embedding layer's index, or ``None``. item_ids: N ids or ``None``.
    """

    layers: list[int]
    relative_depth: list[float]

    @property
    def tokens(self) -> int:
        """Tokens stored per item."""

    def __len__(self) -> int: ...


class ArrayStore:
    """Per-layer arrays standing in for a shard store, read through the same accessors (``bits(layer)``,
    ``floats(layer)``, ``n_bits``, ``layers``, ...), so every analysis and :func:`ii_jax.bid.bid_profile_store` read
    either.

    Args:
      bits: a sequence of packed ``uint32`` ``[N, T, W]`` arrays, one per layer (or one ``[L, N, T, W]`` array).
      floats: optional float ``[N, T, E]`` arrays, one per layer (for the ``mean`` and ``float`` representations).
      layers: layer indices (default ``0 .. L-1``). relative_depth: per layer (default ``layer / max(layer)``).
      item_ids: optional N ids, checked against the other side's. labels: optional N class labels.
      name: shown in messages and reports.
      embedding_layer: the index in ``layers`` of the embedding layer, left out of every layer analysis by default
        (as a shard store's manifest says); ``None`` (default): the arrays hold no embedding layer.
      n_bits: the sign bits per token before packing, as a shard store's ``n_bits`` (default: every bit of the
        ``W`` words, ``32 * W``); the rest of the last word is zero padding.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore
      >>> s = ArrayStore(np.zeros((3, 10, 4, 2), np.uint32))  # 3 layers, 10 items, 4 tokens, 2 words
      >>> s.layers, s.relative_depth, s.tokens, s.n_bits, s.bits(2).shape
      ([0, 1, 2], [0.0, 0.5, 1.0], 4, 64, (10, 4, 2))
    """

    def __init__(self, bits: Sequence[Any], floats: Sequence[Any] | None = None, *,
                 layers: Sequence[int] | None = None, relative_depth: Sequence[float] | None = None,
                 item_ids: Sequence[str] | None = None, labels: Sequence[Any] | None = None, name: str = "arrays",
                 embedding_layer: int | None = None, n_bits: int | None = None):
        self._bits = list(bits)
        if not self._bits:
            raise ValueError("ArrayStore needs at least one layer of bits.")
        shapes = {np.shape(b) for b in self._bits}
        if len(shapes) != 1 or len(next(iter(shapes))) != 3:
            raise ValueError(f"ArrayStore bits must be [N, T, W] arrays of one shape, got shapes {sorted(shapes)}.")
        self._floats = None
        if floats is not None:
            self._floats = list(floats)
            if len(self._floats) != len(self._bits):
                raise ValueError(f"ArrayStore has {len(self._bits)} layers of bits but {len(self._floats)} of floats.")
        n_layers = len(self._bits)
        self.layers: list[int] = list(range(n_layers)) if layers is None else [int(x) for x in layers]
        if len(self.layers) != n_layers:
            raise ValueError(f"ArrayStore: {len(self.layers)} layer indices for {n_layers} layers.")
        if relative_depth is None:
            top = max(max(self.layers), 1)
            relative_depth = [x / top for x in self.layers]
        self.relative_depth: list[float] = [float(x) for x in relative_depth]
        words = int(np.shape(self._bits[0])[-1])
        if n_bits is None:
            n_bits = 32 * words
        elif not 32 * (words - 1) < int(n_bits) <= 32 * words:
            raise ValueError(f"ArrayStore: n_bits {n_bits} does not fit {words} packed words per token.")
        self.n_bits = int(n_bits)
        n = np.shape(self._bits[0])[0]
        for field, v in (("item_ids", item_ids), ("labels", labels)):
            if v is not None and len(v) != n:
                raise ValueError(f"ArrayStore: {len(v)} {field} for {n} items.")
        self.item_ids = None if item_ids is None else [str(x) for x in item_ids]
        self.labels = labels
        if embedding_layer is not None and int(embedding_layer) not in self.layers:
            raise ValueError(f"ArrayStore: embedding_layer {embedding_layer} is not among the layers {self.layers}.")
        self.embedding_layer = embedding_layer
        self.name = self.path = name

    def __repr__(self) -> str:
        return (f"ArrayStore({self.name!r}, N={len(self)}, layers={len(self.layers)}, T={self.tokens}, "
                f"E={self.n_bits}, floats={self.has_floats})")

    @property
    def tokens(self) -> int:
        """Tokens stored per item (T)."""
        return int(np.shape(self._bits[0])[1])

    @property
    def has_floats(self) -> bool:
        """Whether float activations are held (for ``mean``/``float``)."""
        return self._floats is not None

    def __len__(self) -> int:
        return int(np.shape(self._bits[0])[0])

    def _index(self, layer: int) -> int:
        if layer not in self.layers:
            raise ValueError(f"{self.name}: layer {layer} is not stored; stored layers are {self.layers}.")
        return self.layers.index(layer)

    def bits(self, layer: int):
        """Packed bits ``uint32`` ``[N, T, W]`` of ``layer``."""
        return self._bits[self._index(layer)]

    def floats(self, layer: int):
        """Float activations ``[N, T, E]`` of ``layer``."""
        if self._floats is None:
            raise ValueError(f"{self.name}: no float activations (pass floats=... for 'mean'/'float').")
        return self._floats[self._index(layer)]


def as_source(src):
    """A folder path, an opened :class:`~ii_jax.store.Store` or an :class:`ArrayStore` -> something with
    ``layers``, ``relative_depth``, ``tokens``, ``item_ids`` and per-layer bits/floats.
    """
    if isinstance(src, ArrayStore):
        return src
    if isinstance(src, (str, os.PathLike)):
        from ii_jax.store import open_store

        return open_store(src)
    if hasattr(src, "manifest") and hasattr(src, "bits"):
        return src
    raise TypeError(f"expected a shard store folder, a Store or an ArrayStore, got {type(src).__name__}.")


def _name(src) -> str:
    return str(getattr(src, "path", "source"))


def _check_paired(a, b) -> None:
    ia, ib = getattr(a, "item_ids", None), getattr(b, "item_ids", None)
    if ia is not None and ib is not None:
        from ii_jax.store import check_paired

        check_paired(a, b)
    elif len(a) != len(b):
        raise ValueError(f"sources are not paired: {_name(a)} has {len(a)} items and {_name(b)} has {len(b)}.")


def _layers(src, layers, include_embedding: bool = False) -> list[int]:
    """The layers an analysis runs over: ``layers`` as given, else every stored layer but the embedding layer
    (paper §3.1: "for every layer in the network, excluding the embedding layer") unless ``include_embedding``.
    """
    if layers is None:
        emb = getattr(src, "embedding_layer", None)
        out = [x for x in src.layers if include_embedding or emb is None or x != emb]
        if not out:
            raise ValueError(f"{_name(src)}: no layer to analyse: the only stored layer is the embedding layer "
                             f"{emb} (pass include_embedding=True to use it).")
        return out
    out = [int(x) for x in layers]
    missing = [x for x in out if x not in src.layers]
    if missing:
        raise ValueError(f"{_name(src)}: layer(s) {missing} do not exist; stored layers are "
                         f"{src.layers[0]}..{src.layers[-1]}.")
    return out


def _depth(src, layers) -> np.ndarray:
    return np.array([src.relative_depth[src.layers.index(x)] for x in layers], np.float64)


def features(src, layer: int, *, representation: str = "concat", tokens: int = 20, drop_last: int = 0):
    """One layer of a source as one vector per item.

    Args:
      src: a source (see :func:`as_source`). layer: a stored layer index.
      representation: one of :data:`REPRESENTATIONS`. tokens: window length (ignored by ``last``).
      drop_last: stored tokens dropped from the end first (for the token-distance analyses).

    Returns:
      ``(x, metric)``: ``uint32`` ``[N, tokens * W]`` with ``"hamming"``, or float32 ``[N, F]`` with
      ``"euclidean"``.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore, features
      >>> s = ArrayStore([np.arange(24, dtype=np.uint32).reshape(2, 4, 3)])
      >>> x, metric = features(s, 0, tokens=2)
      >>> x.shape, metric
      ((2, 6), 'hamming')
    """
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}.")
    if isinstance(drop_last, bool) or not isinstance(drop_last, (int, np.integer)) or drop_last < 0:
        raise ValueError(f"drop_last must be an integer >= 0, got {drop_last!r}.")
    src = as_source(src)
    t = src.tokens
    if drop_last >= t:
        raise ValueError(f"drop_last={drop_last} leaves no token of the {t} stored per item.")
    if representation in ("concat", "last"):
        bits = src.bits(layer)[:, : t - drop_last, :]
        return _win.last_tokens(bits, 1 if representation == "last" else tokens), "hamming"
    floats = src.floats(layer)[:, : t - drop_last, :]
    if representation == "mean":
        return _bl.clip_and_normalize(_win.mean_tokens(floats, tokens)), "euclidean"
    return _win.float_window(floats, tokens), "euclidean"


