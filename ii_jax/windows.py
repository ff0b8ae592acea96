"""Token summaries of stored representations: last-k concatenation, a single token, the mean token.

Stores hold, per layer, packed sign bits ``uint32`` ``[N, T, W]`` for the last ``T`` tokens of each item (the
window already ends before the dropped final tokens) and optionally float16 ``[N, T, E]``. Concatenating the
packed words of k tokens is exactly the packed concatenation of their bits: each token's padding bits are zero
on every item, so they never change a Hamming distance.
"""
from __future__ import annotations


import numpy as np

from ii_jax.baselines import clip_and_normalize as _clip_and_normalize

__all__ = ["last_tokens", "token_at", "mean_tokens", "float_window"]


def _check_tokens(name: str, a, k: int) -> int:
    if np.ndim(a) != 3:
        raise ValueError(f"{name} must have shape [N, T, W or E] (items, tokens, features), got {np.shape(a)}.")
    t = np.shape(a)[1]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"the window must be an integer >= 1 token, got {k!r}.")
    if k > t:
        raise ValueError(f"a window of {k} tokens is longer than the {t} tokens stored per item.")
    return t


def last_tokens(bits, k: int) -> np.ndarray:
    """Concatenate the packed bits of the last ``k`` stored tokens, in order.

    Args:
      bits: ``uint32`` ``[N, T, W]`` (a store layer, possibly a memmap).
      k: window length, ``1 <= k <= T``.

    Returns:
      ``uint32`` ``[N, k * W]``.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.windows import last_tokens
      >>> b = np.arange(2 * 3 * 1, dtype=np.uint32).reshape(2, 3, 1)
      >>> last_tokens(b, 2)
      array([[1, 2],
             [4, 5]], dtype=uint32)
    """
    t = _check_tokens("bits", bits, k)
    if np.asarray(bits[:1, :1]).dtype != np.uint32:
        raise TypeError(f"bits must be packed uint32 words, got {np.asarray(bits[:1, :1]).dtype}.")
    n, _, w = np.shape(bits)
    return np.ascontiguousarray(bits[:, t - k:, :]).reshape(n, k * w)


def token_at(a, offset: int = 0) -> np.ndarray:
    """One token per item: ``offset`` tokens before the last stored one (0 = the last).

    Args:
      a: ``[N, T, F]`` bits or floats. offset: ``0 <= offset < T``.

    Returns:
      ``[N, F]``.
    """
    t = _check_tokens("a", a, 1)
    if not 0 <= offset < t:
        raise ValueError(f"token offset must lie in [0, {t - 1}] for {t} stored tokens, got {offset}.")
    return np.ascontiguousarray(a[:, t - 1 - offset, :])


def mean_tokens(floats, k: int) -> np.ndarray:
    """Mean activation over the last ``k`` tokens (the paper's Supp. D "average"): float32 ``[N, E]``."""
    t = _check_tokens("floats", floats, k)
    return np.asarray(floats[:, t - k:, :], np.float32).mean(axis=1)


def float_window(floats, k: int, *, preprocess: bool = True) -> np.ndarray:
    """Concatenate the float activations of the last ``k`` tokens (``[N, k * E]``), clipped and normalised
    (:func:`ii_jax.baselines.clip_and_normalize`, the paper's quantiles) unless ``preprocess=False`` — the float
    counterpart of :func:`last_tokens` (paper Supp. G).
    """
    t = _check_tokens("floats", floats, k)
    n, _, e = np.shape(floats)
    x = np.asarray(floats[:, t - k:, :], np.float32).reshape(n, k * e)
    return _clip_and_normalize(x) if preprocess else x
