r"""Tie-aware Information Imbalance, computed in row blocks, both directions in one pass.

Semantics (DESIGN.md §3). Points ``i = 1..N`` are the same items in two spaces with distances
:math:`d^X, d^Y`; a point is never its own neighbour.

* **Rank** of ``j`` from ``i`` in ``Y`` is the mid-rank
  :math:`r^Y_{ij} = \#\{l \ne i: d^Y_{il} < d^Y_{ij}\} + (t + 1)/2`, ``t`` the number of ``l != i`` tied with
  ``j`` (``j`` included). ``ties="min"`` uses :math:`\#\{\cdot < \cdot\} + 1` instead.
* **Neighbours** of ``i`` in ``X``: the points strictly closer than the ``k``-th smallest distance get weight 1
  and the points tied at it share what is left, so the weights sum to ``k``. This is the exact expectation over
  random tie-breaking, so the result does not depend on the order of the points.
* :math:`\Delta(X \to Y) = \frac{2}{N-1}\,\frac{1}{N k} \sum_i \sum_j w_{ij} r^Y_{ij}`: ``2/(N-1)`` for a perfect
  predictor (``k = 1``), about ``N/(N-1)`` for an uninformative one.
* ``ties="random"`` breaks every tie (in neighbours and in ranks) by an independent random priority per point
  and per space, drawn from ``key``: one draw of the random tie-breaking that ``"average"`` averages over.

How it is computed: for each block of ``B`` query rows, the two ``[B, N]`` distance blocks, the ``k``-th smallest
distance per row, a few nearest candidates (``lax.top_k``), and their ranks *by counting* (comparisons against
the row, no argsort). Rows whose tie group at the ``k``-th distance is larger than the candidate set fall back
to an exact sort-based count for that block. Per-row results are exact integers; the final sum is done in
float64 on the host, so the value is exact to rounding of the last division.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ii_jax import distances as _dist

__all__ = ["Imbalance", "information_imbalance", "imbalance_from_distances", "TIES", "METRICS"]

TIES = ("average", "min", "random")
METRICS = ("hamming",) + _dist.FLOAT_METRICS
_INT_SENTINEL = np.iinfo(np.int32).max
_SPLIT = 11  # tied rank sums are split into (hi, lo) 11-bit halves so int32 never overflows (N < ~1.4e6)


class Imbalance(NamedTuple):
    """Both directions of the Information Imbalance.

    Attributes:
      x_to_y: Δ(X→Y): how well neighbourhoods in X predict those in Y (0 perfect, about 1 uninformative).
      y_to_x: Δ(Y→X).
    """

    x_to_y: float
    y_to_x: float


# ----------------------------------------------------------------------------------------------------------------
# Per-block kernels (jitted, static shapes). Distances arrive with self and padding set to a sentinel that is larger
# than every real distance, so they never count as closer, never tie, and never become neighbours.


def _sentinel(dtype):
    return jnp.array(_INT_SENTINEL if jnp.issubdtype(dtype, jnp.integer) else jnp.inf, dtype)


def _mask_self(d: jax.Array, row_ids: jax.Array, n_valid: int) -> jax.Array:
    """Set ``d[b, row_ids[b]]`` and the padded columns ``>= n_valid`` to the sentinel."""
    cols = jnp.arange(d.shape[1])
    bad = (cols[None, :] == row_ids[:, None]) | (cols[None, :] >= n_valid)
    return jnp.where(bad, _sentinel(d.dtype), d)


def _split_sum(mask: jax.Array, two_r: jax.Array) -> tuple[jax.Array, jax.Array]:
    m = mask.astype(jnp.int32)
    return (jnp.sum(m * (two_r >> _SPLIT), axis=-1), jnp.sum(m * (two_r & ((1 << _SPLIT) - 1)), axis=-1))


def _direction(da, db, pa, pb, *, k: int, ties: str, n_cand: int):
    """Row statistics for Δ(A→B) on a block: neighbours in A, ranks in B.

    Args:
      da, db: ``[B, M]`` distances with sentinels at self and padding.
      pa, pb: ``int32`` ``[M]`` tie-breaking priorities (used by ``ties="random"`` only).

    Returns:
      ``int32`` ``[5, B]``: the strict-neighbour sum of ``2·rank``, the tied-neighbour sum split in (hi, lo), the number
      of strictly-closer points ``m_less`` and the size of the tie group ``m_eq`` at the ``k``-th distance.
    """
    neg, idx = lax.top_k(-da, n_cand)
    cand_a = -neg  # [B, C] ascending
    dk = cand_a[:, k - 1]
    less = da < dk[:, None]
    eq = da == dk[:, None]
    m_less = jnp.sum(less, axis=1, dtype=jnp.int32)
    m_eq = jnp.sum(eq, axis=1, dtype=jnp.int32)
    overflow = m_less + m_eq > n_cand
    cand_b = jnp.take_along_axis(db, idx, axis=1)  # [B, C]
    strict_c = cand_a < dk[:, None]
    tied_c = cand_a == dk[:, None]
    zeros = jnp.zeros_like(m_less)

    if ties == "random":
        k_left = k - m_less  # how many of the tied group are taken
        cand_pa, cand_pb = pa[idx], pb[idx]
        order = jnp.sum(tied_c[:, None, :] & (cand_pa[:, None, :] < cand_pa[:, :, None]), axis=-1)
        chosen_c = strict_c | (tied_c & (order < k_left[:, None]))
        before = (db[:, None, :] < cand_b[:, :, None]) | (
            (db[:, None, :] == cand_b[:, :, None]) & (pb[None, None, :] < cand_pb[:, :, None]))
        two_r = 2 * jnp.sum(before, axis=-1, dtype=jnp.int32) + 2
        fast = jnp.stack([jnp.sum(chosen_c * two_r, axis=1), zeros, zeros, zeros + k, zeros + 1])

        def exact():
            # The (k - m_less) smallest priorities among the tied group complete the neighbour set.
            low = jnp.iinfo(jnp.int32).min + 1
            top_p = -lax.top_k(jnp.where(eq, -pa[None, :], low), k)[0]  # [B, k] ascending priorities
            thr = jnp.take_along_axis(top_p, jnp.maximum(k_left - 1, 0)[:, None], axis=1)
            chosen = less | (eq & (pa[None, :] <= thr))
            pb_row = jnp.broadcast_to(pb[None, :], db.shape)
            _, _, chosen_s = lax.sort((db, pb_row, chosen.astype(jnp.int32)), dimension=1, num_keys=2)
            pos2 = 2 * jnp.arange(db.shape[1], dtype=jnp.int32) + 2
            return jnp.stack([jnp.sum(chosen_s * pos2, axis=1), zeros, zeros, zeros + k, zeros + 1])
    else:
        f_less = jnp.sum(db[:, None, :] < cand_b[:, :, None], axis=-1, dtype=jnp.int32)
        if ties == "average":
            f_eq = jnp.sum(db[:, None, :] == cand_b[:, :, None], axis=-1, dtype=jnp.int32)
            two_r = 2 * f_less + f_eq + 1
        else:
            two_r = 2 * f_less + 2
        hi, lo = _split_sum(tied_c, two_r)
        fast = jnp.stack([jnp.sum(strict_c * two_r, axis=1), hi, lo, m_less, m_eq])

        def exact():
            # Sort B's row carrying the neighbour classes; mid-ranks from the run boundaries of equal values.
            s, less_s, eq_s = lax.sort((db, less.astype(jnp.int32), eq.astype(jnp.int32)), dimension=1, num_keys=1)
            pos = jnp.broadcast_to(jnp.arange(s.shape[1], dtype=jnp.int32), s.shape)
            is_start = jnp.concatenate([jnp.ones_like(s[:, :1], bool), s[:, 1:] != s[:, :-1]], axis=1)
            is_end = jnp.concatenate([s[:, 1:] != s[:, :-1], jnp.ones_like(s[:, :1], bool)], axis=1)
            start = lax.cummax(jnp.where(is_start, pos, 0), axis=1)
            end = lax.cummin(jnp.where(is_end, pos, s.shape[1]), axis=1, reverse=True)
            two_r_s = start + end + 2 if ties == "average" else 2 * start + 2
            hi_s, lo_s = _split_sum(eq_s, two_r_s)
            return jnp.stack([jnp.sum(less_s * two_r_s, axis=1), hi_s, lo_s, m_less, m_eq])

    ex = lax.cond(jnp.any(overflow), exact, lambda: fast)
    return jnp.where(overflow[None, :], ex, fast)


@functools.partial(jax.jit, static_argnames=("n_valid", "k", "ties", "n_cand"))
def _block_stats(dx, dy, row_ids, px, py, *, n_valid, k, ties, n_cand):
    """Both directions' row statistics for one block of distance rows ``[B, M]`` -> ``int32`` ``[2, 5, B]``."""
    dx = _mask_self(dx, row_ids, n_valid)
    dy = _mask_self(dy, row_ids, n_valid)
    opts = dict(k=k, ties=ties, n_cand=n_cand)
    return jnp.stack([_direction(dx, dy, px, py, **opts), _direction(dy, dx, py, px, **opts)])


# ----------------------------------------------------------------------------------------------------------------
# Host side: validation, the block loop, and the exact float64 finish.


def _finish(stats: np.ndarray, n: int, k: int) -> float:
    """``stats``: ``int`` ``[5, N]`` for one direction -> Δ."""
    s_strict, hi, lo, m_less, m_eq = (stats[i].astype(np.float64) for i in range(5))
    s_tied = hi * float(1 << _SPLIT) + lo
    rows = 0.5 * (s_strict + (k - m_less) / m_eq * s_tied)
    return float(2.0 / (n - 1) * rows.sum() / (n * k))


def _check_options(n: int, k: int, ties: str, key) -> None:
    if n < 3:
        raise ValueError(f"need at least N=3 points, got N={n}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}.")
    if k >= n - 1:
        raise ValueError(f"k must be smaller than N-1={n - 1} (N={n} points), got k={k}.")
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}.")
    if ties == "random" and key is None:
        raise ValueError("ties='random' needs a PRNG key: pass key=jax.random.key(seed).")


def _priorities(n_cols: int, ties: str, key) -> tuple[jax.Array, jax.Array]:
    if ties != "random":
        z = jnp.zeros(n_cols, jnp.int32)
        return z, z
    kx, ky = jax.random.split(key)
    return (jax.random.permutation(kx, n_cols).astype(jnp.int32),
            jax.random.permutation(ky, n_cols).astype(jnp.int32))


def _n_candidates(n: int, k: int) -> int:
    return min(n - 1, max(k + 3, 2 * k))


def _progress(total: int, desc: str, enabled: bool | None):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="row", disable=(not enabled) if enabled is not None else None,
                leave=False, mininterval=1.0)


def _run_blocks(n: int, block: int, stats_fn, progress: bool | None, desc: str) -> np.ndarray:
    """Loop over row blocks; ``stats_fn(i0, row_ids)`` returns ``[2, 5, block]``; returns ``int64`` ``[2, 5, N]``."""
    out = np.empty((2, 5, n), np.int64)
    show = progress if progress is not None else (n >= 20_000)
    with _progress(n, desc, show) as bar:
        for i0 in range(0, n, block):
            row_ids = jnp.arange(i0, i0 + block, dtype=jnp.int32)
            s = np.asarray(stats_fn(i0, row_ids))
            i1 = min(i0 + block, n)
            out[:, :, i0:i1] = s[:, :, : i1 - i0]
            bar.update(i1 - i0)
    return out


def _default_block(n: int) -> int:
    return int(min(256, max(8, 2 ** math.floor(math.log2(max(8, 2_000_000 // max(n, 1)))))))


def _ordinal_ranks(d: np.ndarray) -> np.ndarray:
    """Per-row dense ranks of a float64/int64 matrix as int32: same order and ties, exact in 32 bits."""
    out = np.empty(d.shape, np.int32)
    for i, row in enumerate(d):
        out[i] = np.unique(row, return_inverse=True)[1].reshape(-1)
    return out


def _as_distance_matrix(name: str, d) -> jax.Array:
    if isinstance(d, jax.Array):
        arr = d
    else:
        arr = np.asarray(d)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square [N, N] distance matrix, got shape {arr.shape}.")
    if not (jnp.issubdtype(arr.dtype, jnp.integer) or jnp.issubdtype(arr.dtype, jnp.floating)):
        raise TypeError(f"{name} must be a real-valued distance matrix, got dtype {arr.dtype}.")
    if jnp.issubdtype(arr.dtype, jnp.floating) and not bool(np.all(np.isfinite(np.asarray(arr)))):
        raise ValueError(f"{name} contains NaN or Inf.")
    if isinstance(arr, np.ndarray) and arr.dtype.itemsize > 4:
        arr = _ordinal_ranks(arr)  # keep the order exact instead of rounding to 32 bits
    arr = jnp.asarray(arr)
    if jnp.issubdtype(arr.dtype, jnp.integer) and arr.dtype != jnp.int32:
        arr = arr.astype(jnp.int32)
    if jnp.issubdtype(arr.dtype, jnp.floating) and arr.dtype != jnp.float32:
        arr = arr.astype(jnp.float32)
    return arr


def imbalance_from_distances(dx, dy, *, k: int = 1, ties: str = "average", key=None, block_size: int | None = None,
                             progress: bool | None = None, _n_cand: int | None = None) -> Imbalance:
    """Information Imbalance from two precomputed ``[N, N]`` distance matrices (both directions).

    Only the order of distances within each row matters; the diagonal is ignored. float64/int64 NumPy inputs are
    converted to exact per-row ranks, so no tie is made or broken by rounding.

    Args:
      dx: ``[N, N]`` distances in space X. dy: ``[N, N]`` distances in space Y, same points in the same order.
      k: number of nearest neighbours (``1 <= k < N - 1``).
      ties: ``"average"`` (default, mid-ranks and shared neighbour weights), ``"min"`` or ``"random"``.
      key: PRNG key, required for ``ties="random"``.
      block_size: rows per block (default: chosen from N).
      progress: show a progress bar (default: only for large N).

    Returns:
      :class:`Imbalance` with ``x_to_y`` and ``y_to_x``.

    Examples:
      >>> import numpy as np
      >>> from ii_jax import imbalance_from_distances
      >>> t = np.array([0.0, 1.0, 3.0, 6.0, 10.0, 15.0])
      >>> d = np.abs(t[:, None] - t[None, :])
      >>> r = imbalance_from_distances(d, d ** 2)  # a monotone map keeps every neighbourhood: 2/(N-1)
      >>> print(f"{r.x_to_y:.4f} {r.y_to_x:.4f}")
      0.4000 0.4000
      >>> r = imbalance_from_distances(d, np.abs(np.sin(t)[:, None] - np.sin(t)[None, :]))
      >>> print(f"{r.x_to_y:.4f} {r.y_to_x:.4f}")
      1.4667 1.1000
    """
    dx = _as_distance_matrix("dx", dx)
    dy = _as_distance_matrix("dy", dy)
    n = dx.shape[0]
    if dy.shape[0] != n:
        raise ValueError(f"dx and dy must describe the same N points, got N={n} and N={dy.shape[0]}.")
    _check_options(n, k, ties, key)
    block = int(block_size or _default_block(n))
    n_pad = -(-n // block) * block
    dx = _dist._pad_axis(dx, 0, block)
    dy = _dist._pad_axis(dy, 0, block)
    px, py = _priorities(n, ties, key)
    n_cand = int(_n_cand or _n_candidates(n, k))

    def stats_fn(i0, row_ids):
        return _block_stats(lax.dynamic_slice_in_dim(dx, i0, block), lax.dynamic_slice_in_dim(dy, i0, block),
                            row_ids, px, py, n_valid=n, k=k, ties=ties, n_cand=n_cand)

    del n_pad
    st = _run_blocks(n, block, stats_fn, progress, "II")
    return Imbalance(_finish(st[0], n, k), _finish(st[1], n, k))


def _prepare(name: str, a, metric: str):
    if metric == "hamming":
        a = jnp.asarray(a)
        if jnp.issubdtype(a.dtype, jnp.floating):
            raise TypeError(f"{name} is a float array but metric='hamming' expects packed uint32 words [N, W]: "
                            f"use pack_bits(binarize({name})), or a float metric ('euclidean', 'cosine').")
        return _dist.check_words(name, a)
    return _dist.check_floats(name, a)


def _row_source(a, n: int, metric: str, kernel: str, cached: bool, tile_edge: int, col_chunk: int):
    """``rows(i0, i1) -> [i1 - i0, N]`` distances from the features: either slices of a full matrix built once
    from symmetric tiles (half the distance work), or computed on the fly in column chunks (memory O(N·block))."""
    if metric == "hamming":
        tile, dtype = _dist.hamming_tiles(a, kernel=kernel), np.int32
    else:  # Euclidean ranks by squared distance: same order, and no ties made by a square root.
        tile, dtype = _dist.float_tiles(a, metric="cosine" if metric == "cosine" else "sqeuclidean"), np.float32
    if cached:
        mat = _dist.assemble(n, n, tile_edge, True, tile, dtype)
        return lambda i0, i1: mat[i0:i1]

    def rows(i0, i1):
        parts = [np.asarray(tile(i0, i1, j0, min(j0 + col_chunk, n))) for j0 in range(0, n, col_chunk)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    return rows


def information_imbalance(x, y, *, metric: str = "hamming", k: int = 1, ties: str = "average", key=None,
                          block_size: int | None = None, kernel: str | None = None, progress: bool | None = None,
                          max_cache_bytes: int = 2**31, _n_cand: int | None = None) -> Imbalance:
    r"""Information Imbalance Δ(X→Y) and Δ(Y→X) between two representations of the same N points.

    .. math:: \Delta(X \to Y) = \frac{2}{N-1}\,\frac{1}{N k} \sum_i \sum_j w^X_{ij}\, r^Y_{ij}

    with mid-ranks :math:`r^Y` and tie-shared neighbour weights :math:`w^X` (see the module docstring).
    Both directions come from one pass over row blocks. When both ``N × N`` distance matrices fit in
    ``max_cache_bytes`` they are built once from symmetric tiles (half the distance work); otherwise every block of
    rows is computed on the fly and memory stays ``O(N · block)``.

    Args:
      x: for ``metric="hamming"``, packed ``uint32`` ``[N, Wx]`` (``pack_bits(binarize(acts))``); for the float
        metrics, float ``[N, Dx]``.
      y: the same N points in the other space: ``[N, Wy]`` or ``[N, Dy]`` (the widths may differ).
      metric: ``"hamming"`` (default), ``"euclidean"``, ``"sqeuclidean"`` or ``"cosine"``.
      k: number of nearest neighbours, ``1 <= k < N - 1``.
      ties: ``"average"`` (default), ``"min"`` or ``"random"`` (needs ``key``).
      key: PRNG key for ``ties="random"``.
      block_size: query rows per block (default: chosen from N).
      kernel: Hamming kernel: ``"popcount"`` (CPU default), ``"popcount32"`` or ``"matmul"`` (±1 int8 with int32
        accumulation, the accelerator default).
      progress: show a progress bar (default: only for large N).
      max_cache_bytes: memory allowed for the two cached distance matrices (0 forces the streaming pass).

    Returns:
      :class:`Imbalance` ``(x_to_y, y_to_x)`` of Python floats. References: Glielmo et al., "Ranking the
      information content of distance measures", PNAS Nexus 2022, https://arxiv.org/abs/2104.15079.

    Examples:
      >>> import jax
      >>> from ii_jax import binarize, information_imbalance, pack_bits
      >>> kx, ky = jax.random.split(jax.random.key(0))
      >>> acts = jax.random.normal(kx, (200, 256))
      >>> noisy = acts + 0.3 * jax.random.normal(ky, (200, 256))
      >>> x, y = pack_bits(binarize(acts)), pack_bits(binarize(noisy[:, :128]))
      >>> r = information_imbalance(x, y)
      >>> bool(r.x_to_y < r.y_to_x < 1.0)  # the full code predicts the half code better than the reverse
      True
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    x = _prepare("x", x, metric)
    y = _prepare("y", y, metric)
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x and y must hold the same N points (rows), got N={n} and N={y.shape[0]}.")
    _check_options(n, k, ties, key)
    kernel = kernel or _dist.default_kernel()
    if kernel not in _dist.KERNELS:
        raise ValueError(f"kernel must be one of {_dist.KERNELS}, got {kernel!r}.")
    block = int(block_size or _default_block(n))
    cached = 2 * n * n * 4 <= max_cache_bytes
    src = dict(n=n, metric=metric, kernel=kernel, cached=cached, tile_edge=256, col_chunk=2048)
    rows_x, rows_y = _row_source(x, **src), _row_source(y, **src)
    px, py = _priorities(n, ties, key)
    n_cand = int(_n_cand or _n_candidates(n, k))

    def stats_fn(i0, row_ids):
        i1 = min(i0 + block, n)
        dx, dy = (_dist._pad_axis(jnp.asarray(r(i0, i1)), 0, block) for r in (rows_x, rows_y))
        return _block_stats(dx, dy, row_ids, px, py, n_valid=n, k=k, ties=ties, n_cand=n_cand)

    st = _run_blocks(n, block, stats_fn, progress, f"II ({metric})")
    return Imbalance(_finish(st[0], n, k), _finish(st[1], n, k))
