"""The per-(layer, token) distance cache: Hamming distances of one layer of one source, per token and per window.

A concatenation's Hamming distance is the sum of its tokens' distances (each token's padding bits are zero on every
item, :mod:`ii_jax.windows`), so the ``[N, N]`` distance matrix of the last-k window is a running sum of per-token
``int32`` blocks: a window sweep adds one block per window instead of recomputing the window, and a profile, a
sweep and the token-distance analysis all read the same matrices.

A *run* of tokens (offsets ``start .. stop - 1`` from the last stored token) is computed in one pass of the engine's
kernel over the run's concatenated words (:func:`ii_jax.imbalance.distance_matrix`: the native kernel on CPU when it
is built), or summed from per-token blocks already cached: the same integers either way, so every route gives the
same Δ bit for bit. Per-token blocks are kept only when asked for (:meth:`TokenDistances.token`); an object holds
one layer and is dropped when the analysis moves to the next layer, so at most a few ``[N, N]`` matrices are alive.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from ii_jax import imbalance as _imb
from ii_jax import windows as _win
from ii_jax.analyses.sources import as_source

__all__ = ["TokenDistances", "layer_distances"]


class TokenDistances:
    """Hamming distance matrices ``int32`` ``[N, N]`` of one stored layer: per token, per run, per window.

    Args:
      src: a source (see :func:`~ii_jax.analyses.as_source`). layer: a stored layer index.
      kernel: Hamming kernel for :func:`ii_jax.imbalance.distance_matrix` (default: the backend's).

    Offsets count from the last stored token (0 = the last). ``window(k, drop_last=s)`` is the concatenation of the
    ``k`` tokens before the last ``s``, in order, as :func:`~ii_jax.analyses.features` builds it.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore
      >>> from ii_jax.analyses.cache import TokenDistances
      >>> bits = np.random.default_rng(0).integers(0, 2**32, size=(1, 30, 4, 2), dtype=np.uint32)
      >>> c = TokenDistances(ArrayStore(bits), 0)
      >>> d3 = c.window(3)
      >>> bool((d3 == c.token(0) + c.token(1) + c.token(2)).all()), d3.dtype
      (True, dtype('int32'))
      >>> [(k, int(d[0, 1])) for k, d in c.windows([1, 3])] == [(1, int(c.token(0)[0, 1])), (3, int(d3[0, 1]))]
      True
    """

    def __init__(self, src, layer: int, *, kernel: str | None = None):
        self.source = as_source(src)
        self.layer = layer
        self.bits = self.source.bits(layer)  # [N, T, W], possibly a memmap
        self.n, self.tokens = int(np.shape(self.bits)[0]), int(np.shape(self.bits)[1])
        self.kernel = kernel
        self._token: dict[int, np.ndarray] = {}

    def _matrix(self, words) -> np.ndarray:
        return np.asarray(_imb.distance_matrix(words, kernel=self.kernel))

    def token(self, offset: int) -> np.ndarray:
        """The distances of the single token ``offset`` before the last (cached: computed once)."""
        if offset not in self._token:
            self._token[offset] = self._matrix(_win.token_at(self.bits, offset))
        return self._token[offset]

    def run(self, start: int, stop: int) -> np.ndarray:
        """Distances of the concatenated tokens at offsets ``start .. stop - 1``: the sum of their per-token
        distances, from cached per-token blocks when all of them are cached, else one kernel pass over their words.
        """
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
            raise ValueError(f"drop_last must be an integer >= 0, got {start!r}.")
        if start >= self.tokens:
            raise ValueError(f"drop_last={start} leaves no token of the {self.tokens} stored per item.")
        if all(o in self._token for o in range(start, stop)) and stop > start:
            out = self._token[start].copy()
            for o in range(start + 1, stop):
                out += self._token[o]
            return out
        # last_tokens validates the window (length >= 1, within the stored tokens) with the usual messages.
        return self._matrix(_win.last_tokens(self.bits[:, : self.tokens - start, :], stop - start))

    def window(self, tokens: int, *, drop_last: int = 0) -> np.ndarray:
        """Distances of the last ``tokens`` tokens (after dropping ``drop_last``), concatenated."""
        return self.run(drop_last, drop_last + tokens)

    def windows(self, sizes: Sequence[int], *, drop_last: int = 0) -> Iterator[tuple[int, np.ndarray]]:
        """``(k, distances of window k)`` for the distinct ``sizes`` in increasing order, as a running sum: window
        ``k`` is the previous window plus the run of tokens between them (one ``[N, N]`` addition each). Only the
        running sum and one run are alive at a time; each yielded matrix is a fresh array.
        """
        acc, prev = None, 0
        for k in sorted({int(s) for s in sizes}):
            if k < 1:
                raise ValueError(f"the window must be an integer >= 1 token, got {k!r}.")
            if drop_last + k > self.tokens:
                raise ValueError(f"a window of {k} tokens is longer than the {self.tokens - drop_last} tokens "
                                 f"stored per item.")
            seg = self.run(drop_last + prev, drop_last + k)
            acc = seg if acc is None else acc + seg
            prev = k
            yield k, acc


def layer_distances(src, layer: int, *, representation: str = "concat", tokens: int = 20,
                    drop_last: int = 0) -> np.ndarray:
    """The ``[N, N]`` distance matrix of one layer under a representation (see :func:`~ii_jax.analyses.features`):
    through :class:`TokenDistances` for the Hamming ones (``concat``, ``last``), else from the float features
    (Euclidean comes back squared: the same order).
    """
    from ii_jax.analyses.sources import features

    if representation in ("concat", "last"):
        return TokenDistances(src, layer).window(1 if representation == "last" else tokens, drop_last=drop_last)
    x, metric = features(src, layer, representation=representation, tokens=tokens, drop_last=drop_last)
    return np.asarray(_imb.distance_matrix(x, metric=metric))
