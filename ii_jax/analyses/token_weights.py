"""Which tokens of a window carry the information two representations share: DII token weights.

The paper concatenates the last 20 tokens of each item with equal weight (§3.1.2). Here each token of A's window
gets its own weight, learnt with the Differentiable Information Imbalance (:mod:`ii_jax.dii`) so that A's
weighted neighbourhoods best predict B's (the whole window of B, as in Δ). A window's Hamming distance is the sum
of its tokens' (:class:`~ii_jax.analyses.cache.TokenDistances`), so the weighted distance is
``d_w(i, j) = Σ_t w_t² H_t(i, j)`` over the per-token Hamming matrices H_t of the sign bits — exactly the squared
Euclidean distance of the ±1 bits with one weight per token, up to a factor 4 that λ absorbs. Sign bits only:
no floats are needed.

Each weighting is learnt on a random training subset of the items (by default half of them) and judged on the
other items by the exact Δ (ties "average"): Δ(A_w → B) with the learnt weights against Δ(A → B) with equal
weights, on the same held-out items. ``repeats`` random subsets give ``repeats`` weightings; their spread is the
spread of a weight across subsets of the data (subsample variability, not a standard error at N).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ii_jax import imbalance as _imb
from ii_jax import resample as _rs
from ii_jax.analyses._util import _key, _progress
from ii_jax.analyses.cache import TokenDistances
from ii_jax.analyses.sources import _check_paired, _depth, _layers, _name, as_source

__all__ = ["TokenWeights", "token_weights"]


class TokenWeights(NamedTuple):
    """DII token weights per layer, both directions, on ``repeats`` random halves.

    Attributes:
      layers, relative_depth: ``[L]``.
      offsets: ``[T]``, tokens before the last one of the window, oldest first (``T − 1 .. 0``); the last axis of
        the weights follows it.
      weights: ``[L, 2, R, T]``, each token's share of the weighted distance, ``T · w_t² / Σ w²`` (1 for every token:
        the paper's equal weighting); direction 0 weighs A's tokens to predict B, direction 1 B's to predict A.
      mean, spread: ``[L, 2, T]``, the mean and the standard deviation (ddof 1) of the weights across the halves.
      dii: ``[L, 2, R]``, the final DII on the training half, times ``n/(n − 1)`` (on Δ's scale).
      delta_learned, delta_uniform: ``[L, 2, R]``, the exact Δ on the held-out half with the learnt weights and
        with equal weights.
      n: items. n_sub: items of a training half. params: the settings used.
    """

    layers: np.ndarray
    relative_depth: np.ndarray
    offsets: np.ndarray
    weights: np.ndarray
    mean: np.ndarray
    spread: np.ndarray
    dii: np.ndarray
    delta_learned: np.ndarray
    delta_uniform: np.ndarray
    n: int
    n_sub: int
    params: dict


def _shares(w: np.ndarray) -> np.ndarray:
    s = np.asarray(w, np.float64) ** 2
    return len(s) * s / s.sum()


def _direction(h_src: np.ndarray, d_tgt: np.ndarray, halves, k: int, ties: str, train_kw: dict):
    """Learn token weights of ``h_src`` ``[T, N, N]`` against ``d_tgt`` ``[N, N]`` on each half; judge on the rest."""
    from ii_jax import dii

    n = d_tgt.shape[0]
    out = []
    for train_idx in halves:
        test_idx = np.setdiff1d(np.arange(n), train_idx)
        h_tr = h_src[:, train_idx][:, :, train_idx].astype(np.float32)
        ranks = dii.rank_matrix(distances=d_tgt[np.ix_(train_idx, train_idx)])
        res = dii.train(h_tr, ranks, **train_kw)
        m = len(train_idx)
        s = np.asarray(res.weights, np.float64) ** 2
        h_te = h_src[:, test_idx][:, :, test_idx].astype(np.float64)
        d_te = d_tgt[np.ix_(test_idx, test_idx)]
        learned = _imb.imbalance_from_distances(np.tensordot(s, h_te, axes=1), d_te, k=k, ties=ties).x_to_y
        uniform = _imb.imbalance_from_distances(h_te.sum(axis=0), d_te, k=k, ties=ties).x_to_y
        out.append((_shares(res.weights), res.dii * m / (m - 1), learned, uniform))
    return out


def token_weights(a, b, *, tokens: int = 20, layers=None, repeats: int = 5, n_sub: int | None = None,
                  epochs: int = 100, learning_rate: float = 0.003, optimizer: str = "adam", k_init: int = 3,
                  k_final: int = 3, lambda_factor: float = 1.0, scheme: str = "gap", k: int = 1,
                  ties: str = "average", key=None, drop_last: int = 0, progress: bool | None = None,
                  include_embedding: bool = False) -> TokenWeights:
    """DII weights of the tokens of A's window that best predict B's neighbourhoods, and B's for A's, per layer.

    Args:
      a, b: paired sources (shard stores or :class:`~ii_jax.analyses.ArrayStore`), sign bits per token.
      tokens: window length T (the paper's 20). layers: layer indices (default: all but the embedding layer,
        unless ``include_embedding``); A's layer l is weighed against B's layer l.
      repeats: random halves R (at least 2, for a spread). n_sub: items of a training half (default N // 2); the
        other items judge it.
      epochs, learning_rate, optimizer, k_init, k_final, lambda_factor, scheme: the DII training
        (:func:`ii_jax.dii.train`, full batch, weights started equal). The default λ, ``scheme="gap"``: λ_i is the
        spread of i's first four neighbours (d²_4th − d²_1st), because the windows' distances concentrate (the
        nearest of 300 windows of 20 × 896 bits at ~6,800 bits, the tenth ~450 further): DADApy's λ = 0.1 d²_1st
        would spread each soft neighbourhood over most points. Adam at 0.003 for 100 epochs, chosen on one random
        half of Qwen2.5-Coder-0.5B's en–es windows at layer 15 (larger steps collapsed the weights onto one or two
        tokens and did worse on the held-out half than equal weights).
      k, ties: the exact Δ of the held-out half. key: PRNG key of the halves. drop_last: stored final tokens left
        out of the window.

    Returns:
      A :class:`TokenWeights`.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore, token_weights
      >>> rng = np.random.default_rng(0)
      >>> a = rng.integers(0, 2**32, size=(1, 60, 4, 2), dtype=np.uint32)
      >>> b = a.copy(); b[:, :, :3] = rng.integers(0, 2**32, size=(1, 60, 3, 2), dtype=np.uint32)  # B shares A's last token
      >>> tw = token_weights(ArrayStore(a), ArrayStore(b), tokens=4, repeats=2, epochs=30, progress=False)
      >>> tw.weights.shape, int(tw.mean[0, 0].argmax()), int(tw.offsets[-1])
      ((1, 2, 2, 4), 3, 0)
    """
    a, b = as_source(a), as_source(b)
    _check_paired(a, b)
    lays = _layers(a, layers, include_embedding)
    missing = [x for x in lays if x not in b.layers]
    if missing:
        raise ValueError(f"{_name(b)}: layer(s) {missing} do not exist; stored layers are {b.layers}.")
    n = len(a)
    if isinstance(tokens, bool) or not isinstance(tokens, (int, np.integer)) or tokens < 2:
        raise ValueError(f"tokens must be an integer >= 2 (a window to weigh), got {tokens!r}.")
    if drop_last + tokens > min(a.tokens, b.tokens):
        raise ValueError(f"a window of {tokens} tokens after dropping {drop_last} needs {drop_last + tokens} stored "
                         f"tokens; the sources store {min(a.tokens, b.tokens)}.")
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 2:
        raise ValueError(f"repeats must be an integer >= 2 (the spread needs two halves), got {repeats!r}.")
    n_sub = n // 2 if n_sub is None else n_sub
    if isinstance(n_sub, bool) or not isinstance(n_sub, (int, np.integer)) or not 8 <= n_sub <= n - 8:
        raise ValueError(f"n_sub must be an integer in [8, N - 8] = [8, {n - 8}] (train and held-out items), "
                         f"got {n_sub!r}.")
    train_kw = dict(epochs=epochs, learning_rate=learning_rate, optimizer=optimizer, k_init=max(k_init, k_final),
                    k_final=k_final, lambda_factor=lambda_factor, scheme=scheme)
    halves = _rs.draw_subsets(_key(key), n, n_sub, repeats)
    offsets = np.arange(drop_last + tokens - 1, drop_last - 1, -1)
    L = len(lays)
    weights = np.zeros((L, 2, repeats, tokens))
    dii_v, learned, uniform = (np.zeros((L, 2, repeats)) for _ in range(3))
    for li in _progress(range(L), "token weights", progress):
        caches = TokenDistances(a, lays[li]), TokenDistances(b, lays[li])
        per_token = [np.stack([c.token(int(o)) for o in offsets]) for c in caches]  # [T, N, N] int32 each
        windows = [h.sum(axis=0) for h in per_token]
        for di, (src, tgt) in enumerate(((0, 1), (1, 0))):
            for r, (w, d, lv, uv) in enumerate(_direction(per_token[src], windows[tgt], halves, k, ties, train_kw)):
                weights[li, di, r], dii_v[li, di, r], learned[li, di, r], uniform[li, di, r] = w, d, lv, uv
    params = dict(analysis="token_weights", a=_name(a), b=_name(b), tokens=tokens, repeats=repeats, n_sub=n_sub,
                  k=k, ties=ties, drop_last=drop_last, include_embedding=include_embedding,
                  weights="share of the weighted Hamming distance, T w_t^2 / sum w^2 (1 = equal weights)",
                  spread="std (ddof 1) across the random training subsets", **train_kw)
    return TokenWeights(np.array(lays), _depth(a, lays), offsets, weights, weights.mean(axis=2),
                        weights.std(axis=2, ddof=1), dii_v, learned, uniform, n, n_sub, params)
