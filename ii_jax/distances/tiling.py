"""Tiles, matrices and row-sharded passes, written once for every kernel of the registry.

* :func:`hamming_tiles` / :func:`float_tiles`: a tile function ``(i0, i1, j0, j1) -> [i1-i0, j1-j0]`` over one
  pair of spaces, for the host loops (:func:`assemble`, the streaming pass of the Imbalance);
* :func:`assemble`: a full host matrix from tiles (upper tiles and mirror when symmetric), on every core;
* :func:`prepare_operands` / :func:`rows_vs_columns` / :func:`sharded_matrix`: one device's block of rows against
  every column, traceable, for ``shard_map`` on a device mesh (:mod:`ii_jax.parallel`);
* :func:`pipelined`: the "one step in flight while the previous one is copied out" loop of every sharded pass.
"""
from __future__ import annotations

import contextlib
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ii_jax.distances import kernels as _k
from ii_jax.distances import registry as _reg

__all__ = ["hamming_tiles", "float_tiles", "NativeTiles", "assemble", "tile_edge", "tile_workers", "parallel_map",
           "Operands", "prepare_operands", "rows_vs_columns", "sharded_matrix", "pipelined", "word_major"]


def tile_edge(n: int, requested: int | None = None, largest: int = 512) -> int:
    """Tile edge: the requested one, else the smallest power of two >= n, capped at ``largest``."""
    if requested:
        return int(requested)
    return int(min(largest, 1 << max(0, (int(n) - 1).bit_length())))


def tile_workers() -> int:
    """Host threads that dispatch tiles concurrently. XLA:CPU runs one tile's scan on one core, and each call
    releases the GIL, so independent tiles on separate threads use every core.
    """
    return max(1, min(8, os.cpu_count() or 1))


def parallel_map(fn, items: list) -> list:
    """``[fn(i) for i in items]``, on :func:`tile_workers` threads when there is more than one item."""
    if len(items) < 2 or tile_workers() < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(min(tile_workers(), len(items))) as pool:
        return list(pool.map(fn, items))


_END = object()


def pipelined(items: Iterable, launch: Callable, finish: Callable) -> None:
    """``finish(item, launch(item))`` for every item, with the next item launched before the previous one is
    finished: JAX dispatch is asynchronous, so a device step runs while the host copies out the one before.

    Examples:
      >>> log = []
      >>> pipelined([1, 2], lambda i: log.append(f"launch {i}") or i, lambda i, h: log.append(f"finish {i}"))
      >>> log
      ['launch 1', 'launch 2', 'finish 1', 'finish 2']
    """
    pending = None
    for item in [*items, _END]:
        launched = None if item is _END else (item, launch(item))
        if pending is not None:
            finish(*pending)
        pending = launched


def _scope(kernel: _reg.HammingKernel):
    return _k.x64_scope() if kernel.word_bits == 64 else contextlib.nullcontext()


def word_major(words, word_bits: int, pad_to: int = 1) -> np.ndarray:
    """Packed ``uint32`` ``[N, W]`` -> word-major ``[Wk, N_pad]`` words of ``word_bits`` (zero padded: rows to a
    multiple of ``pad_to``, and ``W`` to an even count for 64-bit words), built in row chunks of ~16 MB so no
    second full-size copy is made.
    """
    w = np.asarray(words)  # no copy for host arrays and CPU device arrays
    n, nw = w.shape
    per = word_bits // 32
    nk = -(-nw // per)
    dtype = np.uint64 if word_bits == 64 else np.uint32
    out = np.zeros((nk, -(-n // pad_to) * pad_to), dtype)
    rows = max(1, (1 << 22) // max(nw, 1))
    for r0 in range(0, n, rows):
        chunk = np.zeros((min(rows, n - r0), nk * per), np.uint32)
        chunk[:, :nw] = w[r0:r0 + rows]
        out[:, r0:r0 + len(chunk)] = chunk.view(dtype).T
    return out


# Tile programs take the whole (padded) word-major arrays and the tile's offsets, and slice inside the jit: one
# compiled program per (kernel, tile shape), whatever the offset. One word-major layout serves rows and columns.
@functools.partial(jax.jit, static_argnames=("rows", "cols", "kernel"))
def _hamming_block(at, bt, i0, j0, *, rows, cols, kernel):
    xb = lax.dynamic_slice_in_dim(at, i0, rows, 1).T
    return _reg.get_kernel(kernel).tile(xb, lax.dynamic_slice_in_dim(bt, j0, cols, 1))


@functools.partial(jax.jit, static_argnames=("rows", "cols", "metric"))
def _float_block(a, bt, a_sq, b_sq, i0, j0, *, rows, cols, metric):
    xb, yt = lax.dynamic_slice_in_dim(a, i0, rows, 0), lax.dynamic_slice_in_dim(bt, j0, cols, 1)
    return _k.float_tile(xb, yt, lax.dynamic_slice_in_dim(a_sq, i0, rows), lax.dynamic_slice_in_dim(b_sq, j0, cols),
                         metric)


class NativeTiles:
    """Tile function of the native kernel: ``tile(i0, i1, j0, j1) -> int32 [i1-i0, j1-j0]`` like the pure-JAX
    ones (one core per tile: :func:`assemble` and the streaming pass run tiles on :func:`tile_workers` threads),
    plus :meth:`matrix`, the whole matrix in one call on every core (upper tiles and mirror when symmetric).

    Args:
      a: ``uint32`` ``[N, W]``; b: ``uint32`` ``[M, W]`` or ``None`` for ``a`` against itself.
    """

    def __init__(self, a, b=None):
        from ii_jax import _native

        self._native = _native
        cpu = jax.devices("cpu")[0]
        self.symmetric = b is None
        self.a = jax.device_put(np.ascontiguousarray(a), cpu)
        self.b = self.a if self.symmetric else jax.device_put(np.ascontiguousarray(b), cpu)

    def __call__(self, i0, i1, j0, j1) -> jax.Array:
        """The ``[i1-i0, j1-j0]`` tile on one core."""
        return self._native.hamming(self.a, self.b, i0, j0, rows=i1 - i0, cols=j1 - j0, threads=1)

    def matrix(self) -> jax.Array:
        """``int32`` ``[N, M]``, all cores."""
        n, m = self.a.shape[0], self.b.shape[0]
        return self._native.hamming(self.a, self.b, rows=n, cols=m, symmetric=self.symmetric)


def hamming_tiles(a, b=None, *, kernel: str | None = None, pad_to: int = 1):
    """A tile function ``(i0, i1, j0, j1) -> int32 [i1-i0, j1-j0]`` of Hamming distances ``a[i0:i1]`` vs ``b[j0:j1]``.

    ``kernel``: any name of :mod:`ii_jax.distances.registry` (default by backend). Host kernels (``"native"``)
    return their own tile object (:class:`NativeTiles`); traceable ones lay both sides out word-major once, rows
    zero-padded to a multiple of ``pad_to``, so tiles requested on that grid past the last row keep their full
    static shape (one compilation for the whole matrix); callers cut the padding off.
    """
    name = _reg.check_kernel(kernel, 32 * int(np.shape(a)[1]))
    k = _reg.get_kernel(name)
    if k.host_tiles is not None:  # rows past the end come back as zeros: no padding needed
        return k.host_tiles(a, b)
    with _scope(k):
        at = jnp.asarray(word_major(a, k.word_bits, pad_to))
        bt = at if b is None else jnp.asarray(word_major(b, k.word_bits, pad_to))

    def tile(i0, i1, j0, j1):
        with _scope(k):
            return _hamming_block(at, bt, i0, j0, rows=i1 - i0, cols=j1 - j0, kernel=name)

    return tile


def float_tiles(a, b=None, *, metric: str, pad_to: int = 1):
    """A tile function ``(i0, i1, j0, j1) -> float32`` of float distances (``a``, ``b`` already checked); rows
    padded to a multiple of ``pad_to`` as in :func:`hamming_tiles`.
    """
    if metric == "cosine":
        a = _k.normalize_rows(a)
        b = a if b is None else _k.normalize_rows(b)
    b = a if b is None else b
    a, b = _k.pad_axis(a, 0, pad_to), _k.pad_axis(b, 0, pad_to)
    a_sq, b_sq = jnp.sum(a * a, axis=1), jnp.sum(b * b, axis=1)
    bt = b.T

    def tile(i0, i1, j0, j1):
        return _float_block(a, bt, a_sq, b_sq, i0, j0, rows=i1 - i0, cols=j1 - j0, metric=metric)

    return tile


def assemble(n: int, m: int, block: int, symmetric: bool, tile_fn, dtype) -> np.ndarray:
    """Fill an ``[n, m]`` host matrix tile by tile; with ``symmetric`` only tiles on/above the diagonal.

    Every call to ``tile_fn`` has the full ``block × block`` shape (the tile functions pad their inputs to whole
    tiles), so one compilation serves the whole matrix; the padding is cut off here. Tiles run on
    :func:`tile_workers` threads. A host tile object with a ``matrix()`` method fills it in one call.
    """
    if isinstance(tile_fn, NativeTiles):  # the whole matrix in one native call (a read-only view, no copy)
        return np.asarray(tile_fn.matrix())
    out = np.empty((n, m), dtype=dtype)
    jobs = [(i0, j0) for i0 in range(0, n, block) for j0 in range(i0 if symmetric else 0, m, block)]

    def run(job):
        i0, j0 = job
        i1, j1 = min(i0 + block, n), min(j0 + block, m)
        t = np.asarray(tile_fn(i0, i0 + block, j0, j0 + block))[: i1 - i0, : j1 - j0]
        out[i0:i1, j0:j1] = t
        if symmetric and j0 != i0:
            out[j0:j1, i0:i1] = t.T

    parallel_map(run, jobs)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Row-sharded execution (ii_jax.parallel): one device's block of rows against *every* column, on the device.


class Operands(NamedTuple):
    """One space prepared for :func:`rows_vs_columns`, as host arrays (shipped to the devices by the caller).

    Attributes:
      rows: ``[N, F]`` query rows: packed words of the kernel's word size, or floats.
      row_aux: float32 ``[N]`` squared norms (float metrics; zeros otherwise).
      cols: ``[n_chunks, F, chunk]`` the columns, feature-major, in chunks, zero-padded past the last column.
      col_aux: float32 ``[n_chunks, chunk]``.
      kind: a traceable Hamming kernel name of the registry, or a float metric (``"sqeuclidean"``,
        ``"euclidean"``, ``"cosine"``).
    """

    rows: np.ndarray
    row_aux: np.ndarray
    cols: np.ndarray
    col_aux: np.ndarray
    kind: str


def _chunked_columns(a: np.ndarray, chunk: int) -> np.ndarray:
    """``[M, F]`` -> ``[ceil(M/chunk), F, chunk]`` (zero padded), each chunk feature-major."""
    m, f = a.shape
    nc = -(-m // chunk)
    out = np.zeros((nc * chunk, f), a.dtype)
    out[:m] = a
    return np.ascontiguousarray(out.reshape(nc, chunk, f).transpose(0, 2, 1))


def prepare_operands(a, b=None, *, metric: str, kernel: str | None = None, chunk: int) -> Operands:
    """Rows of ``a`` against columns of ``b`` (default ``a``), for ``metric`` (``"hamming"`` or a float metric).

    ``a`` and ``b`` must already be checked (:func:`~ii_jax.distances.checks.check_words` / ``check_floats``).
    A host kernel (``"native"``) is replaced by its traceable stand-in: the mesh path traces into ``shard_map``.
    """
    symmetric = b is None
    b = a if symmetric else b
    if metric == "hamming":
        k = _reg.get_kernel(_reg.check_kernel(kernel, 32 * int(a.shape[1])))
        if k.tile is None:
            k = _reg.get_kernel(k.traced)
        rows, cols = (word_major(w, k.word_bits).T for w in (a, b))
        zr = np.zeros(rows.shape[0], np.float32)
        cc = _chunked_columns(np.ascontiguousarray(cols), chunk)
        return Operands(np.ascontiguousarray(rows), zr, cc, np.zeros(cc.shape[::2], np.float32), k.name)
    if metric == "cosine":
        a = _k.normalize_rows(a)
        b = a if symmetric else _k.normalize_rows(b)
    a_sq, b_sq = jnp.sum(a * a, axis=1), jnp.sum(b * b, axis=1)
    cols = _chunked_columns(np.asarray(b), chunk)
    nc = cols.shape[0]
    b_aux = np.zeros(nc * chunk, np.float32)
    b_aux[: b.shape[0]] = np.asarray(b_sq)
    return Operands(np.asarray(a), np.asarray(a_sq), cols, b_aux.reshape(nc, chunk), metric)


def needs_x64(kind: str) -> bool:
    """Whether operands of ``kind`` hold 64-bit words (their device arrays need the scoped x64 context)."""
    return kind in _reg.kernel_names() and _reg.get_kernel(kind).word_bits == 64


def kind_scope(*kinds: str):
    """The scoped x64 context when any of ``kinds`` needs it, else a null context."""
    return _k.x64_scope() if any(needs_x64(k) for k in kinds) else contextlib.nullcontext()


def rows_vs_columns(rows: jax.Array, row_aux: jax.Array, cols: jax.Array, col_aux: jax.Array, *,
                    kind: str) -> jax.Array:
    """Distances of a block of rows ``[B, F]`` to all column chunks ``[n_chunks, F, C]`` -> ``[B, n_chunks·C]``.

    Traceable (meant to run inside ``shard_map``); chunks are visited one after another (``lax.map``), so the
    working set stays one ``[B, C]`` tile. 64-bit kernels need the scoped x64 context (:func:`kind_scope`).
    """
    tile = _reg.get_kernel(kind).tile if kind in _reg.kernel_names() else None

    def one(chunk):
        ct, ca = chunk
        if tile is not None:
            return tile(rows, ct)
        return _k.float_tile(rows, ct, row_aux, ca, kind)

    out = lax.map(one, (cols, col_aux))  # [n_chunks, B, C]
    return jnp.transpose(out, (1, 0, 2)).reshape(rows.shape[0], -1)


def _par():
    from ii_jax import parallel

    return parallel


def _shard_rows_vs_columns(rows, row_aux, cols, col_aux, *, kind):
    return rows_vs_columns(rows, row_aux, cols, col_aux, kind=kind)


def sharded_matrix(ops: Operands, mesh, n: int, m: int, block: int, dtype) -> np.ndarray:
    """The ``[n, m]`` matrix on every device of ``mesh``: ``block`` rows per device per step, all columns."""
    par = _par()
    step = par.n_shards(mesh) * block
    call = par.row_sharded(_shard_rows_vs_columns, mesh, sharded=(True, True, False, False), out_axes=(0,),
                            kind=ops.kind)
    out = np.empty((n, m), dtype)
    with kind_scope(ops.kind):
        cols, col_aux = par.replicate(mesh, ops.cols), par.replicate(mesh, ops.col_aux)

        def launch(i0):
            return call(par.shard_rows(mesh, ops.rows, i0, step), par.shard_rows(mesh, ops.row_aux, i0, step),
                        cols, col_aux)[0]

        def finish(i0, res):
            i1 = min(i0 + step, n)
            out[i0:i1] = par.to_host(res)[: i1 - i0, :m]

        pipelined(range(0, n, step), launch, finish)
    return out
