"""Exact target ranks for the Differentiable Information Imbalance: the tie-aware mid-ranks of space B.

The DII needs, for every row point i and every column point j, the rank r^B_ij of j among i's neighbours in the
target space B. They do not depend on the weights being learnt, so they are computed once, by row blocks, and
kept as one ``[R, C]`` matrix of *doubled* mid-ranks (``2 r``: a mid-rank is a whole or a half number), in
``uint16`` when ``2 (C - 1)`` fits (C <= 32,768 points) and ``int32`` above. It is the only ``O(N²)`` object of a
DII training; everything else stays ``O(N · block)``.

Mid-rank, as for the exact Δ of :func:`ii_jax.information_imbalance`: r_ij = #{k != i : d_ik < d_ij} + (t + 1)/2,
t the number of k != i with d_ik = d_ij (j included); the point itself gets 0. Without ties this is the 1-based
rank DADApy's ``DiffImbalance`` uses (``argsort().argsort()``, self at 0).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["rank_matrix", "rerank"]

_METRICS = ("euclidean", "hamming")


@jax.jit
def doubled_midranks(d: jax.Array, self_mask: jax.Array) -> jax.Array:
    """Doubled mid-ranks of each row of ``d`` ``[b, C]`` among the columns not masked as the row's own point.

    Returns int32 ``[b, C]``: ``2 r`` off self, 0 on self.
    """
    low = jnp.array(-jnp.inf, d.dtype) if jnp.issubdtype(d.dtype, jnp.floating) else jnp.array(-1, d.dtype)
    dm = jnp.where(self_mask, low, d)
    srt = jnp.sort(dm, axis=1)
    lo = jax.vmap(functools.partial(jnp.searchsorted, side="left"))(srt, dm)
    hi = jax.vmap(functools.partial(jnp.searchsorted, side="right"))(srt, dm)
    n_self = jnp.sum(self_mask, axis=1, keepdims=True)
    twice = 2 * (lo - n_self) + (hi - lo) + 1
    return jnp.where(self_mask, 0, twice).astype(jnp.int32)


def host_midranks2(d: np.ndarray, self_cols: np.ndarray) -> np.ndarray:
    """NumPy twin of :func:`doubled_midranks` for the host: ``d`` ``[b, C]``, ``self_cols`` ``[b]`` the column of
    each row's own point. One argsort per row; a tie group's doubled mid-rank is the sum of its first and last
    sorted positions (1-based among the other points) — no search, no Python loop over rows.
    """
    b, c = d.shape
    d = np.array(d, dtype=d.dtype if d.dtype.kind == "f" else np.int64)  # a writable copy; ints signed
    rows = np.arange(b)
    d[rows, self_cols] = -np.inf if d.dtype.kind == "f" else -1  # the own point sorts first
    order = np.argsort(d, axis=1)
    srt = np.take_along_axis(d, order, axis=1)
    tied = srt[:, 1:] == srt[:, :-1]
    twice = np.empty((b, c), np.int32)
    twice[:] = 2 * np.arange(c, dtype=np.int32)  # 0-based sorted position p is rank p among the others
    if tied.any():
        pos = np.arange(c, dtype=np.int32)
        new = np.ones((b, c), bool)
        new[:, 1:] = ~tied
        first = np.maximum.accumulate(np.where(new, pos, np.int32(0)), axis=1)
        end = np.ones((b, c), bool)
        end[:, :-1] = ~tied
        last = np.minimum.accumulate(np.where(end, pos, np.int32(c - 1))[:, ::-1], axis=1)[:, ::-1]
        twice = first + last
    out = np.empty((b, c), np.int32)
    np.put_along_axis(out, order, twice, axis=1)
    out[rows, self_cols] = 0
    return out


def _sq_euclidean(rows: np.ndarray, cols: np.ndarray, n_c: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances ``[b, C]`` on the host (BLAS), in the features' dtype."""
    n_r = np.einsum("ij,ij->i", rows, rows)
    return np.maximum(n_r[:, None] + n_c[None, :] - 2.0 * (rows @ cols.T), 0)


def _rank_dtype(n_cols: int):
    return np.uint16 if 2 * (n_cols - 1) <= np.iinfo(np.uint16).max else np.int32


def _check_rows(rows, n: int) -> np.ndarray:
    idx = np.arange(n) if rows is None else np.asarray(rows)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer) or idx.size == 0:
        raise ValueError(f"rows must be a non-empty 1-D array of point indices, got shape {idx.shape} "
                         f"and dtype {idx.dtype}.")
    if idx.min() < 0 or idx.max() >= n or len(np.unique(idx)) != idx.size:
        raise ValueError(f"rows must be distinct indices in [0, {n}).")
    return idx.astype(np.int64)


def rank_matrix(y=None, *, metric: str = "euclidean", distances=None, rows=None,
                block_size: int = 1024) -> jax.Array:
    """Doubled mid-ranks ``2 r^B_ij`` of the target space B, by row blocks.

    Args:
      y: the points of B: float ``[N, D]`` with ``metric="euclidean"`` (squared Euclidean distances in the
        features' dtype, float32 or float64, on the host), or packed sign bits ``uint32``
        ``[N, W]`` with ``metric="hamming"`` (distances from :func:`ii_jax.hamming_distances`).
      metric: ``"euclidean"`` or ``"hamming"``.
      distances: instead of ``y``, a precomputed distance matrix ``[N, N]`` of B (any real dtype).
      rows: the row points (distinct indices, ``[R]``), default all N; the columns are always all N points.
      block_size: rows ranked at a time (memory ``O(block_size · N)``).

    Returns:
      ``[R, N]`` ``uint16`` (N <= 32,768) or ``int32``: twice the mid-rank of column j from row point ``rows[i]``
      among the other N - 1 points, 0 where j is the row point itself.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.dii import rank_matrix
      >>> y = np.array([[0.0], [1.0], [3.0], [4.0]])
      >>> np.asarray(rank_matrix(y)) // 2  # ranks from each point
      array([[0, 1, 2, 3],
             [1, 0, 2, 3],
             [3, 2, 0, 1],
             [3, 2, 1, 0]], dtype=uint16)
    """
    if (y is None) == (distances is None):
        raise ValueError("pass exactly one of y (the points of B) and distances (their [N, N] matrix).")
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size must be an integer >= 1, got {block_size!r}.")
    if distances is not None:
        if np.ndim(distances) != 2 or np.shape(distances)[0] != np.shape(distances)[1]:
            raise ValueError(f"distances must be a square [N, N] matrix, got shape {np.shape(distances)}.")
        n = np.shape(distances)[0]
    else:
        if metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}.")
        if np.ndim(y) != 2:
            raise ValueError(f"y must be [N, D] (points x features), got shape {np.shape(y)}.")
        n = np.shape(y)[0]
        if metric == "hamming" and np.asarray(y[:1]).dtype != np.uint32:
            raise TypeError(f"metric='hamming' needs packed uint32 words (ii_jax.pack_bits), got "
                            f"{np.asarray(y[:1]).dtype}.")
        if metric == "euclidean" and not np.issubdtype(np.asarray(y[:1]).dtype, np.floating):
            raise TypeError(f"metric='euclidean' needs float features, got {np.asarray(y[:1]).dtype}.")
    if n < 2:
        raise ValueError(f"ranks need at least 2 points, got {n}.")
    idx = _check_rows(rows, n)
    out = np.empty((idx.size, n), _rank_dtype(n))
    if distances is None:
        y = np.asarray(y)
        n_c = np.einsum("ij,ij->i", y, y) if metric == "euclidean" else None
    for a in range(0, idx.size, block_size):
        blk = idx[a:a + block_size]
        if distances is not None:
            d = np.asarray(distances[blk])
        elif metric == "hamming":
            from ii_jax.distances import hamming_distances

            d = np.asarray(hamming_distances(y[blk], y))
        else:
            d = _sq_euclidean(y[blk], y, n_c)
        out[a:a + blk.size] = host_midranks2(d, blk)
    return jnp.asarray(out)


@jax.jit
def rerank(twice: jax.Array) -> jax.Array:
    """Doubled mid-ranks of a square sub-matrix of doubled ranks, ranked again among its own columns.

    A mini-batch of m points keeps the order (and the ties) of the full ranks; its ranks run over 1..m-1.

    Args:
      twice: ``[m, m]`` doubled ranks of m points among themselves, their own point on the diagonal (0).

    Returns:
      int32 ``[m, m]``, doubled mid-ranks within the m points, 0 on the diagonal.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.dii import rank_matrix, rerank
      >>> full = rank_matrix(np.array([[0.0], [1.0], [3.0], [4.0]]))
      >>> np.asarray(rerank(full[1:, 1:])) // 2
      array([[0, 1, 2],
             [2, 0, 1],
             [2, 1, 0]], dtype=int32)
    """
    m = twice.shape[0]
    return doubled_midranks(twice.astype(jnp.int32), jnp.eye(m, dtype=bool))
