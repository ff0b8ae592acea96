"""The streamed Hamming-distance histogram of packed bits (all pairs, or R subsamples in one pass).

The distance tiles come from the kernel registry (:mod:`ii_jax.distances.registry`: the backend's default kernel,
so a newly registered kernel serves the BID too); this module only counts the pairs ``i < j`` of each subsample.
"""
from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ii_jax.binary import WORD_BITS, n_words
from ii_jax.distances import registry as _reg
from ii_jax.distances import tiling as _tiling
from ii_jax.distances.tiling import pipelined

__all__ = ["hamming_histogram", "subsample_histograms"]

_TILE = 128  # points per row/column tile of the streaming histogram: a 128x128 int32 block is 64 KiB.
_COLS = 1024  # columns per tile a host kernel hands back (a multiple of the row tile): fewer, larger calls.


# ----------------------------------------------------------------------------------------------------------
# Streaming Hamming histogram


def _check_words(words: Any, n_bits: Any, fn: str) -> tuple[np.ndarray, int]:
    """Validate packed words against ``n_bits``; return them as a host ``(N, W)`` uint32 array."""
    if isinstance(n_bits, bool) or not isinstance(n_bits, (int, np.integer)):
        raise TypeError(f"{fn}: n_bits must be an int, got {type(n_bits).__name__}.")
    n_bits = int(n_bits)
    if n_bits < 1:
        raise ValueError(f"{fn}: n_bits must be positive, got {n_bits}.")
    dtype = getattr(words, "dtype", None)
    if dtype is None:
        words = np.asarray(words)
        dtype = words.dtype
    if dtype != np.uint32:
        raise TypeError(
            f"{fn}: words must be packed bits, uint32 as pack_bits makes them, got dtype {dtype}. "
            "BID is defined on binary data: use pack_bits(binarize(x))."
        )
    words = np.asarray(words)
    if words.ndim != 2:
        raise ValueError(f"{fn}: words must have shape [N, W], got shape {words.shape}.")
    if words.shape[1] != n_words(n_bits):
        raise ValueError(
            f"{fn}: words has {words.shape[1]} words per point but n_bits={n_bits} needs {n_words(n_bits)}."
        )
    tail = n_bits % WORD_BITS
    if tail and words.shape[0] and np.any(words[:, -1] >> np.uint32(tail)):
        raise ValueError(
            f"{fn}: words has set bits beyond n_bits={n_bits} (padding must be zero): n_bits does not "
            "match the packed data."
        )
    if words.shape[0] < 2:
        raise ValueError(f"{fn}: words needs at least 2 points to have a distance, got {words.shape[0]}.")
    return words, n_bits


def _bin_pairs(dist: jax.Array, mi: jax.Array, mj: jax.Array, i0, j0, n_bins: int) -> jax.Array:
    """Counts of one distance tile's pairs (i, j), j > i, per subsample: ``[R, n_bins]`` int32.

    Args:
      dist: ``[B, C]`` int32 distances of rows ``i0 + [0, B)`` against columns ``j0 + [0, C)``.
      mi, mj: ``[R, B]``, ``[R, C]`` int32 0/1 membership of those rows and columns (0 on padding).
    """
    rows = i0 + jnp.arange(dist.shape[0], dtype=jnp.int32)
    cols = j0 + jnp.arange(dist.shape[1], dtype=jnp.int32)
    upper = (cols[None, :] > rows[:, None]).astype(jnp.int32)
    weights = (mi[:, :, None] * mj[:, None, :] * upper[None]).reshape(mi.shape[0], -1)
    flat = dist.ravel()
    return jax.vmap(lambda wr: jnp.bincount(flat, weights=wr, length=n_bins))(weights).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("n_bins",))
def _add_tile(counts: jax.Array, dist: jax.Array, members: jax.Array, i0: jax.Array, j0: jax.Array,
              n_valid: jax.Array, *, n_bins: int) -> jax.Array:
    """``counts`` plus :func:`_bin_pairs` of one ``[B, k B]`` tile handed back by a tile function (host kernels),
    counted ``[B, B]`` at a time so the weights stay in cache; squares from column ``n_valid`` on (padding) are
    skipped.
    """
    rows, width = dist.shape
    mi = lax.dynamic_slice_in_dim(members, i0, rows, axis=1)

    def square(t, acc):
        c0 = t * rows
        part = lax.dynamic_slice_in_dim(dist, c0, rows, axis=1)
        mj = lax.dynamic_slice_in_dim(members, j0 + c0, rows, axis=1)
        return acc + _bin_pairs(part, mi, mj, i0, j0 + c0, n_bins)

    return lax.fori_loop(0, jnp.minimum(width, n_valid - j0) // rows, square, counts)


@functools.partial(jax.jit, static_argnames=("n_bins", "tile", "kernel"))
def _row_block_counts(wt: jax.Array, members: jax.Array, i0: jax.Array, *, n_bins: int, tile: int,
                      kernel: str) -> jax.Array:
    """Distance counts of pairs (i, j), i in rows ``[i0, i0 + tile)``, j > i, for each subsample, with the
    traceable registry kernel ``kernel`` (:mod:`ii_jax.distances.registry`) on every tile.

    Args:
      wt: ``[Wk, N_pad]`` packed words of the kernel's word size, word-major
        (:func:`~ii_jax.distances.tiling.word_major`).
      members: ``[R, N_pad]`` int32 0/1 membership of each point in each of R subsamples.
      i0: first row of the block, a multiple of ``tile``.

    Returns:
      ``[R, n_bins]`` int32 counts. Memory O(W * tile + R * tile**2): never an N x N matrix.
    """
    tile_fn = _reg.get_kernel(kernel).tile
    n_pad = wt.shape[1]
    xi = lax.dynamic_slice_in_dim(wt, i0, tile, axis=1).T
    mi = lax.dynamic_slice_in_dim(members, i0, tile, axis=1)

    def column_tile(t, counts):
        j0 = t * tile
        xj = lax.dynamic_slice_in_dim(wt, j0, tile, axis=1)
        mj = lax.dynamic_slice_in_dim(members, j0, tile, axis=1)
        return counts + _bin_pairs(tile_fn(xi, xj), mi, mj, i0, j0, n_bins)

    init = jnp.zeros((members.shape[0], n_bins), jnp.int32)
    return lax.fori_loop(i0 // tile, n_pad // tile, column_tile, init)


def _shard_row_counts(i0s: jax.Array, wt: jax.Array, members: jax.Array, *, n_bins: int, tile: int,
                      kernel: str) -> jax.Array:
    """One device's row block of :func:`_row_block_counts` (its first row in ``i0s[0]``) -> ``[1, R, n_bins]``."""
    return _row_block_counts(wt, members, i0s[0], n_bins=n_bins, tile=tile, kernel=kernel)[None]


def _traced_kernel(kernel: str | None, n_w: int) -> str:
    """The registry kernel to run inside ``jit``: the default (or named) one, or a host kernel's stand-in."""
    k = _reg.get_kernel(_reg.check_kernel(kernel, 32 * n_w))
    return k.name if k.tile is not None else k.traced


def _sharded_pair_histograms(words: np.ndarray, mem: np.ndarray, n_bins: int, tile: int, mesh,
                             kernel: str | None) -> np.ndarray:
    """:func:`_pair_histograms` on a mesh: every device counts its own row block; exact int64 sum here."""
    from ii_jax import parallel as par

    name = _traced_kernel(kernel, words.shape[1])
    d = par.n_shards(mesh)
    wt = _tiling.word_major(words, _reg.get_kernel(name).word_bits, tile)
    n_pad = wt.shape[1]
    call = par.row_sharded(_shard_row_counts, mesh, sharded=(True, False, False), out_axes=(0,), n_bins=n_bins,
                           tile=tile, kernel=name)
    total = np.zeros((mem.shape[0], n_bins), np.int64)
    with _tiling.kind_scope(name):
        wt_d, mem_d = par.replicate(mesh, wt), par.replicate(mesh, mem[:, :n_pad])

        def launch(s0):  # rows past the end count nothing
            return call(par.shard_rows(mesh, (s0 + tile * np.arange(d)).astype(np.int32), 0, d), wt_d, mem_d)[0]

        def finish(_, counts):
            nonlocal total
            total += par.to_host(counts).astype(np.int64).sum(axis=0)

        pipelined(range(0, n_pad, d * tile), launch, finish)
    return total


def _fused_pair_histograms(words: np.ndarray, mem: np.ndarray, n_bins: int, tile: int, name: str) -> np.ndarray:
    """One device, a traceable kernel: one jitted call per row block (kernel tiles and counting fused)."""
    wt = _tiling.word_major(words, _reg.get_kernel(name).word_bits, tile)
    n_pad = wt.shape[1]
    total = np.zeros((mem.shape[0], n_bins), np.int64)

    def finish(_, counts):  # exact int64 totals on the host, one block in flight while we add
        nonlocal total
        total += np.asarray(counts)

    with _tiling.kind_scope(name):
        wt_d, mem_d = jnp.asarray(wt), jnp.asarray(mem[:, :n_pad])
        pipelined(range(0, n_pad, tile),
                  lambda i0: _row_block_counts(wt_d, mem_d, i0, n_bins=n_bins, tile=tile, kernel=name), finish)
    return total


def _tiled_pair_histograms(words: np.ndarray, mem: np.ndarray, n_bins: int, tile: int, cols: int,
                           kernel: str | None) -> np.ndarray:
    """One device, any kernel: distance tiles from the registry's tile function
    (:func:`~ii_jax.distances.tiling.hamming_tiles`), ``tile`` rows by ``cols`` columns from the diagonal on,
    counted by :func:`_add_tile`; row blocks on :func:`~ii_jax.distances.tiling.tile_workers` threads.
    """
    n_pad = -(-words.shape[0] // tile) * tile
    width = mem.shape[1]  # n_pad + cols - tile: the last column tile of every row block fits
    tiles = _tiling.hamming_tiles(words, kernel=kernel, pad_to=width)
    mem_d = jnp.asarray(mem)

    def row_block(i0):  # the columns j >= i0 (whole tiles), in tiles of `cols` columns
        counts = jnp.zeros((mem.shape[0], n_bins), jnp.int32)
        for j0 in range(i0, n_pad, cols):
            counts = _add_tile(counts, tiles(i0, i0 + tile, j0, j0 + cols), mem_d, i0, j0, n_pad, n_bins=n_bins)
        return np.asarray(counts).astype(np.int64)

    return sum(_tiling.parallel_map(row_block, list(range(0, n_pad, tile))))


def _column_tile(n: int, tile: int) -> int:
    """Columns per tile a host kernel hands back: a multiple of ``tile``, about ``_COLS`` (few, large calls), at
    most the padded points.
    """
    return tile * max(1, min(_COLS // tile, -(-n // tile)))


def _pair_histograms(words: np.ndarray, n_bits: int, members: np.ndarray, tile: int, mesh=None, *,
                     kernel: str | None = None, route: str | None = None) -> np.ndarray:
    """Host driver: ``[R, n_bits + 1]`` int64 counts of the pairs i < j of every subsample, from the distance
    tiles of a registry kernel (``kernel``; default: the backend's, see :mod:`ii_jax.distances.registry`).

    * On a mesh (default: all devices when JAX sees more than one, see :mod:`ii_jax.parallel`): one row block per
      device, the traceable kernel (a host kernel's stand-in) inside ``shard_map``.
    * ``route="tiled"`` (one device, the default for host kernels such as ``"native"``): the registry's tile
      function hands back tiles of ``tile`` rows by :func:`_column_tile` columns, counted by :func:`_add_tile`.
    * ``route="fused"`` (one device, the default for traceable kernels): one jitted call per row block, kernel
      and counting together.
    """
    from ii_jax import parallel as par

    n, n_w = words.shape
    name = _reg.check_kernel(kernel, 32 * n_w)
    mesh = par.resolve_mesh(mesh)
    if route is None:
        route = "tiled" if _reg.get_kernel(name).tile is None else "fused"
    if route not in ("tiled", "fused"):
        raise ValueError(f"route must be 'tiled' or 'fused', got {route!r}.")
    cols = _column_tile(n, tile) if mesh is None and route == "tiled" else tile
    n_pad = -(-n // tile) * tile + cols - tile
    n_rows = members.shape[0] if members.shape[0] == 1 else -(-members.shape[0] // 4) * 4  # fewer shapes
    mem = np.zeros((n_rows, n_pad), np.int32)
    mem[: members.shape[0], :n] = members
    n_bins = -(-(n_bits + 1) // 1024) * 1024  # a few static lengths, not one compilation per L
    if mesh is not None:
        total = _sharded_pair_histograms(words, mem, n_bins, tile, mesh, name)
    elif route == "tiled":
        total = _tiled_pair_histograms(words, mem, n_bins, tile, cols, name)
    else:
        total = _fused_pair_histograms(words, mem, n_bins, tile, _traced_kernel(name, n_w))
    return total[: members.shape[0], : n_bits + 1]


def hamming_histogram(words: jax.typing.ArrayLike, n_bits: int, *, block_size: int | None = None) -> np.ndarray:
    """Histogram of the Hamming distances between all pairs of points, streamed in row blocks.

    Each unordered pair ``i < j`` is counted once. The distances come in tiles from the backend's default
    Hamming kernel of :mod:`ii_jax.distances.registry` (the native C++ kernel on CPU where it is built, the
    pure-JAX kernels otherwise), one block of ``block_size`` rows against column tiles at a time, and only the
    counting happens here: memory O(N * W + block_size * 1024), never N x N.

    Args:
      words: ``[N, W]`` uint32 packed bits (:func:`ii_jax.pack_bits`), ``W = ceil(n_bits / 32)``.
      n_bits: number of bits L per point.
      block_size: rows per tile (and columns, on device meshes and with traceable kernels); default 128.

    Returns:
      ``[n_bits + 1]`` int64 NumPy array: ``counts[r]`` = number of pairs at distance ``r``; sums to
      ``N (N - 1) / 2``. (NumPy int64 because the counts pass 2**31 at N ~ 65,000, and JAX without x64
      has no int64.)

    Examples:
      >>> import numpy as np
      >>> from ii_jax import pack_bits, hamming_histogram
      >>> bits = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]], dtype=bool)
      >>> hamming_histogram(pack_bits(bits), 4)
      array([0, 1, 1, 1, 0])
    """
    words, n_bits = _check_words(words, n_bits, "hamming_histogram")
    tile = _tile(block_size)
    members = np.ones((1, words.shape[0]), np.int32)
    return _pair_histograms(words, n_bits, members, tile)[0]


def subsample_histograms(
    words: jax.typing.ArrayLike, n_bits: int, members: jax.typing.ArrayLike, *, block_size: int | None = None
) -> np.ndarray:
    """Hamming histograms of R subsamples of the points in one pass over the pairs.

    Every distance is computed once and added to the histogram of each subsample that holds both points,
    so R jackknife subsamples cost one distance pass, not R.

    Args:
      words: ``[N, W]`` uint32 packed bits.
      n_bits: bits per point.
      members: ``[R, N]`` bool: ``members[s, i]`` when point ``i`` belongs to subsample ``s``.
      block_size: rows per tile (default 128).

    Returns:
      ``[R, n_bits + 1]`` int64 counts.

    Examples:
      >>> import numpy as np
      >>> from ii_jax import pack_bits, subsample_histograms
      >>> bits = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 1]], dtype=bool)
      >>> subsample_histograms(pack_bits(bits), 3, np.array([[1, 1, 0], [0, 1, 1]], dtype=bool))
      array([[0, 1, 0, 0],
             [0, 0, 1, 0]])
    """
    words, n_bits = _check_words(words, n_bits, "subsample_histograms")
    members = np.asarray(members)
    if members.ndim != 2 or members.shape[1] != words.shape[0]:
        raise ValueError(
            f"subsample_histograms: members must have shape [R, N] with N={words.shape[0]}, got {members.shape}."
        )
    if members.dtype != bool and not np.all((members == 0) | (members == 1)):
        raise ValueError("subsample_histograms: members must be bool or 0/1.")
    return _pair_histograms(words, n_bits, members.astype(np.int32), _tile(block_size))


def _tile(block_size: int | None) -> int:
    if block_size is None:
        return _TILE
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}.")
    return int(block_size)
