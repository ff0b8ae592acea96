"""Blocked distance kernels: Hamming on packed bits, squared-Euclidean and cosine on floats.

Every kernel works on a *row block* of queries against *word-major* (transposed) columns, so XLA
vectorises the XOR + popcount (or the matmul) across points, and no kernel ever needs the full N×N matrix.
The public :func:`hamming_distances` and :func:`float_distances` assemble full matrices block by block for
users who want them (and use the symmetry of ``a`` against itself).
"""
from __future__ import annotations

import contextlib
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["hamming_distances", "float_distances", "FLOAT_METRICS"]

FLOAT_METRICS = ("euclidean", "sqeuclidean", "cosine")
# Words XOR-ed and popcounted together before the int32 accumulation: fewer passes over the accumulator.
_WORD_GROUP = 4


def _pad_axis(x: jax.Array, axis: int, multiple: int, value=0) -> jax.Array:
    size = x.shape[axis]
    pad = (-size) % multiple
    if not pad:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, pad)
    return jnp.pad(x, widths, constant_values=value)


def hamming_tile(xb: jax.Array, yt: jax.Array) -> jax.Array:
    """Hamming distances between a row block and word-major columns.

    Args:
      xb: ``uint32`` ``[B, W]`` packed query rows.
      yt: ``uint32`` ``[W, M]`` packed columns, word-major (``y.T``).

    Returns:
      ``int32`` ``[B, M]``: ``popcount(xb[i] ^ y[j])`` summed over words.
    """
    w = xb.shape[1]
    g = _WORD_GROUP
    xg = _pad_axis(xb, 1, g).T.reshape(-1, g, xb.shape[0])  # [W/g, g, B]
    yg = _pad_axis(yt, 0, g).reshape(-1, g, yt.shape[1])  # [W/g, g, M]
    del w

    def step(acc, words):
        xw, yw = words
        pc = lax.population_count(xw[:, :, None] ^ yw[:, None, :])
        return acc + jnp.sum(pc, axis=0).astype(jnp.int32), None

    acc0 = jnp.zeros((xb.shape[0], yt.shape[1]), jnp.int32)
    acc, _ = lax.scan(step, acc0, (xg, yg))
    return acc


# Tensor-core friendly shapes: the unpacked bit axis is zero-extended to a multiple of _TC_K, row and column
# counts to a multiple of _TC_MN (zeros in the ±1 encoding add nothing to a·b, and padded rows are cut off).
_TC_K = 128
_TC_MN = 16
_BF16_EXACT_BITS = 1 << 24  # bf16 ±1 products summed in float32 are exact integers below 2^24 bits


def _pm1(words: jax.Array, dtype) -> jax.Array:
    """Packed ``uint32`` ``[..., W]`` -> ±1 ``[..., 32W]`` of ``dtype``, unpacked on the device."""
    shifts = jnp.arange(32, dtype=jnp.uint32)
    bits = (words[..., None] >> shifts) & jnp.uint32(1)
    return (bits.astype(dtype) * 2 - 1).reshape(words.shape[:-1] + (-1,))


def hamming_matmul_tile(xb: jax.Array, yt: jax.Array, *, dtype=jnp.int8) -> jax.Array:
    """Hamming distances by a ±1 matmul (the accelerator route): int8 with int32 accumulation by default.

    For ±1 vectors of ``D`` bits, ``hamming = (D - a·b) / 2``. The packed words travel to the device and are
    unpacked there; zero padding bits of the last word unpack to -1 on both sides and so cancel, and the operands
    are zero-extended to tensor-core multiples (``D`` to 128, rows and columns to 16), which adds nothing to
    ``a·b``. int8 is exact for any number of bits; ``dtype=jnp.bfloat16`` (float32 accumulation) is exact below
    2^24 bits.

    Args:
      xb: ``uint32`` ``[B, W]``; yt: ``uint32`` ``[W, M]``.
      dtype: ``jnp.int8`` (default) or ``jnp.bfloat16``.

    Returns:
      ``int32`` ``[B, M]``.
    """
    d = 32 * xb.shape[1]
    acc = jnp.int32 if dtype == jnp.int8 else jnp.float32
    a = _pad_axis(_pad_axis(_pm1(xb, dtype), 1, _TC_K), 0, _TC_MN)  # [B', D'], zeros in the padding
    b = _pad_axis(_pad_axis(_pm1(yt.T, dtype), 1, _TC_K), 0, _TC_MN)  # [M', D']
    dot = lax.dot_general(a, b, (((1,), (1,)), ((), ())), preferred_element_type=acc)
    dot = dot[: xb.shape[0], : yt.shape[1]].astype(jnp.int32)
    return (d - dot) // 2


def float_tile(xb: jax.Array, yt: jax.Array, x_sq: jax.Array, y_sq: jax.Array, metric: str) -> jax.Array:
    """Float distances between a row block and transposed columns, by matmul with float32 accumulation.

    Args:
      xb: ``[B, D]`` rows; yt: ``[D, M]`` columns (transposed). For ``"cosine"`` both must be L2-normalised.
      x_sq, y_sq: ``[B]``, ``[M]`` squared norms (used by the Euclidean metrics).
      metric: ``"sqeuclidean"``, ``"euclidean"`` or ``"cosine"``.

    Returns:
      float32 ``[B, M]``.
    """
    dot = lax.dot_general(xb, yt, (((1,), (0,)), ((), ())), precision=lax.Precision.HIGHEST,
                          preferred_element_type=jnp.float32)
    if metric == "cosine":
        return 1.0 - dot
    d2 = jnp.maximum(x_sq[:, None] + y_sq[None, :] - 2.0 * dot, 0.0)
    return jnp.sqrt(d2) if metric == "euclidean" else d2


def normalize_rows(x: jax.Array) -> jax.Array:
    """L2-normalise rows of a float ``[N, D]`` array (zero rows stay zero)."""
    norm = jnp.linalg.norm(x, axis=1, keepdims=True)
    return x / jnp.where(norm > 0, norm, 1.0)


def as_array(a) -> jax.Array | np.ndarray:
    """``a`` as an array without copying: host arrays (and memory maps) stay on the host, device arrays stay put."""
    return a if isinstance(a, (np.ndarray, jax.Array)) else np.asarray(a)


def check_words(name: str, a) -> jax.Array | np.ndarray:
    """Validate packed words. Host arrays (and memory maps) stay on the host: the kernels lay them out themselves,
    so no device copy of the whole input is made here."""
    a = as_array(a)
    if a.dtype != jnp.uint32:
        raise TypeError(f"{name} must be packed uint32 words of shape [N, W] (use pack_bits(binarize(x))), "
                        f"got dtype {a.dtype}.")
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape [N, W], got shape {a.shape}.")
    return a


def check_floats(name: str, a) -> jax.Array:
    a = jnp.asarray(a)
    if not jnp.issubdtype(a.dtype, jnp.floating):
        hint = " (packed words go with metric='hamming')" if a.dtype == jnp.uint32 else ""
        raise TypeError(f"{name} must be a float array for a float metric, got dtype {a.dtype}{hint}.")
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape [N, D], got shape {a.shape}.")
    if not bool(jnp.all(jnp.isfinite(a))):
        raise ValueError(f"{name} contains NaN or Inf; distances would be meaningless.")
    return a.astype(jnp.float32) if a.dtype != jnp.float32 else a


def _x64_scope():
    """A *scoped* 64-bit context (never a global flip): 64-bit words only inside our own kernels."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # older JAX

    return enable_x64()


def _hamming_tile64(xb: jax.Array, yt: jax.Array) -> jax.Array:
    """:func:`hamming_tile` on ``uint64`` words (two packed words each): on CPUs without a vector popcount,
    LLVM sums 64-bit lanes with one ``psadbw``, which is markedly cheaper than the 32-bit reduction."""
    g = _WORD_GROUP
    xg = _pad_axis(xb, 1, g).T.reshape(-1, g, xb.shape[0])
    yg = _pad_axis(yt, 0, g).reshape(-1, g, yt.shape[1])

    def step(acc, words):
        xw, yw = words
        return acc + jnp.sum(lax.population_count(xw[:, :, None] ^ yw[:, None, :]), axis=0), None

    acc, _ = lax.scan(step, jnp.zeros((xb.shape[0], yt.shape[1]), jnp.uint64), (xg, yg))
    return acc.astype(jnp.int32)


def _slices(a, bt, i0, j0, rows, cols):
    return lax.dynamic_slice_in_dim(a, i0, rows, 0), lax.dynamic_slice_in_dim(bt, j0, cols, 1)


# Tile kernels take the whole (padded) arrays and the tile's offsets, and slice inside the jit: one compiled
# program per tile shape, whatever the offset.
@functools.partial(jax.jit, static_argnames=("rows", "cols"))
def _hamming_block64(at, bt, i0, j0, *, rows, cols):
    """Both operands word-major ``[W64, N]``: one layout serves rows and columns, so no second copy is kept."""
    xb = lax.dynamic_slice_in_dim(at, i0, rows, 1).T
    return _hamming_tile64(xb, lax.dynamic_slice_in_dim(bt, j0, cols, 1))


def _hamming_kernel(xb: jax.Array, yt: jax.Array, kernel: str) -> jax.Array:
    """One tile by the named 32-bit-word kernel (``"popcount"`` here means :func:`hamming_tile`)."""
    if kernel == "matmul":
        return hamming_matmul_tile(xb, yt)
    if kernel == "matmul_bf16":
        return hamming_matmul_tile(xb, yt, dtype=jnp.bfloat16)
    return hamming_tile(xb, yt)


@functools.partial(jax.jit, static_argnames=("rows", "cols", "kernel"))
def _hamming_block(a, bt, i0, j0, *, rows, cols, kernel="popcount"):
    xb, yt = _slices(a, bt, i0, j0, rows, cols)
    return _hamming_kernel(xb, yt, kernel)


@functools.partial(jax.jit, static_argnames=("rows", "cols", "metric"))
def _float_block(a, bt, a_sq, b_sq, i0, j0, *, rows, cols, metric):
    xb, yt = _slices(a, bt, i0, j0, rows, cols)
    return float_tile(xb, yt, lax.dynamic_slice_in_dim(a_sq, i0, rows), lax.dynamic_slice_in_dim(b_sq, j0, cols),
                      metric)


def native_available() -> bool:
    """Whether the native CPU kernel (``ii_jax/_native``, XLA FFI) can run: built, loadable, JAX on CPU."""
    if jax.default_backend() != "cpu":
        return False
    from ii_jax import _native

    return _native.available()


def default_kernel() -> str:
    """``"matmul"`` (±1 int8, int32 accumulation) on accelerators; on CPU ``"native"`` where the native kernel is
    built, else ``"popcount"``."""
    if jax.default_backend() != "cpu":
        return "matmul"
    return "native" if native_available() else "popcount"


# Hamming kernels by name. "native" is the C++ kernel behind XLA's FFI (CPU only, :mod:`ii_jax._native`); the
# others are pure JAX: the fallback where the native one is absent, its test oracle, and the route on GPUs.
KERNELS = ("native", "popcount", "popcount32", "matmul", "matmul_bf16")


def check_kernel(kernel: str | None, n_bits: int | None = None) -> str:
    """The kernel to use (default by backend), validated; ``matmul_bf16`` only below 2^24 bits. ``"native"``
    where the native kernel cannot run (not built, or not a CPU backend) becomes the backend's pure-JAX default,
    with one warning."""
    kernel = kernel or default_kernel()
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")
    if kernel == "native" and not native_available():
        _warn_native_missing()
        kernel = "popcount" if jax.default_backend() == "cpu" else "matmul"
    if kernel == "matmul_bf16" and n_bits is not None and n_bits >= _BF16_EXACT_BITS:
        raise ValueError(f"kernel='matmul_bf16' is exact only below 2^24 bits, got {n_bits} bits; use 'matmul'.")
    return kernel


@functools.lru_cache(maxsize=None)
def _warn_native_missing() -> None:
    import warnings

    warnings.warn("kernel='native' is not available here (not built, or not a CPU backend); using the pure-JAX "
                  "kernel. Build it with `make setup` or `python -m ii_jax._native`.", RuntimeWarning, stacklevel=3)


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
        return self._native.hamming(self.a, self.b, i0, j0, rows=i1 - i0, cols=j1 - j0, threads=1)

    def matrix(self) -> jax.Array:
        """``int32`` ``[N, M]``, all cores."""
        n, m = self.a.shape[0], self.b.shape[0]
        return self._native.hamming(self.a, self.b, rows=n, cols=m, symmetric=self.symmetric)


def hamming_tiles(a: jax.Array, b: jax.Array | None = None, *, kernel: str | None = None, pad_to: int = 1):
    """A tile function ``(i0, i1, j0, j1) -> int32 [i1-i0, j1-j0]`` of Hamming distances ``a[i0:i1]`` vs ``b[j0:j1]``.

    ``kernel``: ``"native"`` (the C++ kernel behind XLA's FFI; CPU default where built: a :class:`NativeTiles`),
    ``"popcount"`` (64-bit words in a scoped x64 context; the CPU fallback), ``"popcount32"`` (32-bit words, no
    x64 at all), ``"matmul"`` (±1 int8 matmul with int32 accumulation; accelerator default) or ``"matmul_bf16"``
    (±1 bf16 with float32 accumulation, below 2^24 bits).
    Rows are zero-padded to a multiple of ``pad_to``, so tiles requested on that grid past the last row keep their
    full static shape (one compilation for the whole matrix); callers cut the padding off.
    """
    kernel = check_kernel(kernel, 32 * int(np.shape(a)[1]))
    symmetric = b is None
    if kernel == "native":  # rows past the end come back as zeros: no padding needed
        return NativeTiles(a, b)
    if kernel != "popcount":
        a = _pad_axis(jnp.asarray(a), 0, pad_to)
        b = a if symmetric else _pad_axis(jnp.asarray(b), 0, pad_to)
        bt = b.T

        def tile(i0, i1, j0, j1):
            return _hamming_block(a, bt, i0, j0, rows=i1 - i0, cols=j1 - j0,
                                  kernel="popcount" if kernel == "popcount32" else kernel)

        return tile

    def word_major_u64(words):  # [N, W] uint32 -> [ceil(W/2), N_pad] uint64, zero padded
        w = np.asarray(words)  # no copy for host arrays and CPU device arrays
        n, nw = w.shape
        out = np.zeros(((nw + 1) // 2, -(-n // pad_to) * pad_to), np.uint64)
        rows = max(1, (1 << 22) // max(nw, 1))  # ~16 MB of words at a time: no second full-size copy
        for r0 in range(0, n, rows):
            chunk = np.zeros((min(rows, n - r0), nw + nw % 2), np.uint32)
            chunk[:, :nw] = w[r0:r0 + rows]
            out[:, r0:r0 + len(chunk)] = chunk.view(np.uint64).T
        return out

    with _x64_scope():
        at = jnp.asarray(word_major_u64(a))
        bt = at if symmetric else jnp.asarray(word_major_u64(b))

    def tile(i0, i1, j0, j1):
        with _x64_scope():
            return _hamming_block64(at, bt, i0, j0, rows=i1 - i0, cols=j1 - j0)

    return tile


def float_tiles(a: jax.Array, b: jax.Array | None = None, *, metric: str, pad_to: int = 1):
    """A tile function ``(i0, i1, j0, j1) -> float32`` of float distances (``a``, ``b`` already checked); rows
    padded to a multiple of ``pad_to`` as in :func:`hamming_tiles`."""
    if metric == "cosine":
        a = normalize_rows(a)
        b = a if b is None else normalize_rows(b)
    b = a if b is None else b
    a, b = _pad_axis(a, 0, pad_to), _pad_axis(b, 0, pad_to)
    a_sq, b_sq = jnp.sum(a * a, axis=1), jnp.sum(b * b, axis=1)
    bt = b.T

    def tile(i0, i1, j0, j1):
        return _float_block(a, bt, a_sq, b_sq, i0, j0, rows=i1 - i0, cols=j1 - j0, metric=metric)

    return tile


def tile_edge(n: int, requested: int | None = None, largest: int = 512) -> int:
    """Tile edge: the requested one, else the smallest power of two >= n, capped at ``largest``."""
    if requested:
        return int(requested)
    return int(min(largest, 1 << max(0, (int(n) - 1).bit_length())))


def tile_workers() -> int:
    """Host threads that dispatch tiles concurrently. XLA:CPU runs one tile's scan on one core, and each call
    releases the GIL, so independent tiles on separate threads use every core."""
    return max(1, min(8, os.cpu_count() or 1))


def parallel_map(fn, items: list) -> list:
    """``[fn(i) for i in items]``, on :func:`tile_workers` threads when there is more than one item."""
    if len(items) < 2 or tile_workers() < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(min(tile_workers(), len(items))) as pool:
        return list(pool.map(fn, items))


def assemble(n: int, m: int, block: int, symmetric: bool, tile_fn, dtype) -> np.ndarray:
    """Fill an ``[n, m]`` host matrix tile by tile; with ``symmetric`` only tiles on/above the diagonal.

    Every call to ``tile_fn`` has the full ``block × block`` shape (the tile functions pad their inputs to whole
    tiles), so one compilation serves the whole matrix; the padding is cut off here. Tiles run on
    :func:`tile_workers` threads.
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
      rows: ``[N, F]`` query rows: packed words (``uint64`` for ``kind="popcount64"``, else ``uint32``) or floats.
      row_aux: float32 ``[N]`` squared norms (float metrics; zeros otherwise).
      cols: ``[n_chunks, F, chunk]`` the columns, feature-major, in chunks, zero-padded past the last column.
      col_aux: float32 ``[n_chunks, chunk]``.
      kind: ``"popcount64"``, ``"popcount"``, ``"matmul"``, ``"matmul_bf16"``, ``"sqeuclidean"``, ``"euclidean"``
        or ``"cosine"``.
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

    ``a`` and ``b`` must already be checked (:func:`check_words` / :func:`check_floats`).
    """
    symmetric = b is None
    b = a if symmetric else b
    if metric == "hamming":
        kernel = check_kernel(kernel, 32 * int(a.shape[1]))
        if kernel == "native":  # the mesh path traces its kernels into shard_map: the pure-JAX one there
            kernel = "popcount"
        rows, cols = np.asarray(a), np.asarray(b)
        if kernel == "popcount":  # two words per uint64: the cheaper popcount reduction on CPU
            if rows.shape[1] % 2:
                rows, cols = (np.pad(w, ((0, 0), (0, 1))) for w in (rows, cols))
            rows, cols = np.ascontiguousarray(rows).view(np.uint64), np.ascontiguousarray(cols).view(np.uint64)
        kind = {"popcount": "popcount64", "popcount32": "popcount"}.get(kernel, kernel)
        zr = np.zeros(rows.shape[0], np.float32)
        cc = _chunked_columns(cols, chunk)
        return Operands(rows, zr, cc, np.zeros(cc.shape[::2], np.float32), kind)
    if metric == "cosine":
        a = normalize_rows(a)
        b = a if symmetric else normalize_rows(b)
    a_sq, b_sq = jnp.sum(a * a, axis=1), jnp.sum(b * b, axis=1)
    cols = _chunked_columns(np.asarray(b), chunk)
    nc = cols.shape[0]
    b_aux = np.zeros(nc * chunk, np.float32)
    b_aux[: b.shape[0]] = np.asarray(b_sq)
    return Operands(np.asarray(a), np.asarray(a_sq), cols, b_aux.reshape(nc, chunk), metric)


def rows_vs_columns(rows: jax.Array, row_aux: jax.Array, cols: jax.Array, col_aux: jax.Array, *,
                    kind: str) -> jax.Array:
    """Distances of a block of rows ``[B, F]`` to all column chunks ``[n_chunks, F, C]`` -> ``[B, n_chunks·C]``.

    Traceable (meant to run inside ``shard_map``); chunks are visited one after another (``lax.map``), so the
    working set stays one ``[B, C]`` tile. ``kind="popcount64"`` needs the scoped x64 context.
    """

    def one(chunk):
        ct, ca = chunk
        if kind == "popcount64":
            return _hamming_tile64(rows, ct)
        if kind in ("popcount", "matmul", "matmul_bf16"):
            return _hamming_kernel(rows, ct, kind)
        return float_tile(rows, ct, row_aux, ca, kind)

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
    with _x64_scope() if ops.kind == "popcount64" else contextlib.nullcontext():
        cols, col_aux = par.replicate(mesh, ops.cols), par.replicate(mesh, ops.col_aux)
        pending = None
        for i0 in list(range(0, n, step)) + [None]:  # one step in flight while the previous one is copied out
            launched = None
            if i0 is not None:
                launched = (i0, call(par.shard_rows(mesh, ops.rows, i0, step),
                                     par.shard_rows(mesh, ops.row_aux, i0, step), cols, col_aux)[0])
            if pending is not None:
                p0, res = pending
                p1 = min(p0 + step, n)
                out[p0:p1] = par.to_host(res)[: p1 - p0, :m]
            pending = launched
    return out


def hamming_distances(a, b=None, *, block_size: int | None = None, kernel: str | None = None,
                      mesh=None) -> jax.Array:
    """Hamming distances between packed binary codes, computed in blocks.

    Args:
      a: ``uint32`` ``[N, W]`` packed bits (see :func:`ii_jax.pack_bits`).
      b: ``uint32`` ``[M, W]``, or ``None`` for ``a`` against itself (then only the upper triangle of tiles is
        computed and mirrored).
      block_size: tile edge (default 512, or less for small inputs).
      kernel: ``"native"`` (the C++ kernel behind XLA's FFI, CPU default where it is built), ``"popcount"`` (XOR +
        popcount in JAX, the CPU fallback), ``"popcount32"`` (the same on 32-bit words, without the scoped 64-bit
        context), ``"matmul"`` (±1 int8 matmul, the accelerator route) or ``"matmul_bf16"``; default by backend.
      mesh: devices to shard the rows over (see :func:`ii_jax.parallel.resolve_mesh`; default: all devices when
        there is more than one).

    Returns:
      ``int32`` ``[N, M]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax import hamming_distances, pack_bits
      >>> words = pack_bits(jnp.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=bool))
      >>> hamming_distances(words)
      Array([[0, 1, 3],
             [1, 0, 2],
             [3, 2, 0]], dtype=int32)
    """
    a = check_words("a", a)
    symmetric = b is None
    b = a if symmetric else check_words("b", b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same number of words, got {a.shape[1]} and {b.shape[1]}.")
    block = tile_edge(max(a.shape[0], b.shape[0]), block_size)
    mesh = _par().resolve_mesh(mesh)
    if mesh is not None:
        ops = prepare_operands(a, None if symmetric else b, metric="hamming", kernel=kernel, chunk=block)
        return jnp.asarray(sharded_matrix(ops, mesh, a.shape[0], b.shape[0], block, np.int32))
    tile = hamming_tiles(a, None if symmetric else b, kernel=kernel, pad_to=block)
    if isinstance(tile, NativeTiles):
        return tile.matrix()
    return jnp.asarray(assemble(a.shape[0], b.shape[0], block, symmetric, tile, np.int32))


def float_distances(a, b=None, *, metric: str = "euclidean", block_size: int | None = None,
                    mesh=None) -> jax.Array:
    """Float distances (``"euclidean"``, ``"sqeuclidean"`` or ``"cosine"``) by blocked matmul in float32.

    Args:
      a: float ``[N, D]``.
      b: float ``[M, D]``, or ``None`` for ``a`` against itself.
      metric: ``"euclidean"`` (default), ``"sqeuclidean"`` or ``"cosine"`` (``1 - cos``).
      block_size: tile edge (default 512, or less for small inputs).
      mesh: as for :func:`hamming_distances`.

    Returns:
      float32 ``[N, M]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax import float_distances
      >>> float_distances(jnp.array([[0.0, 0.0], [3.0, 4.0]]))
      Array([[0., 5.],
             [5., 0.]], dtype=float32)
    """
    if metric not in FLOAT_METRICS:
        raise ValueError(f"metric must be one of {FLOAT_METRICS}, got {metric!r}.")
    a = check_floats("a", a)
    symmetric = b is None
    b = a if symmetric else check_floats("b", b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same feature dimension, got {a.shape[1]} and {b.shape[1]}.")
    block = tile_edge(max(a.shape[0], b.shape[0]), block_size)
    mesh = _par().resolve_mesh(mesh)
    if mesh is not None:
        ops = prepare_operands(a, None if symmetric else b, metric=metric, chunk=block)
        return jnp.asarray(sharded_matrix(ops, mesh, a.shape[0], b.shape[0], block, np.float32))
    tile = float_tiles(a, None if symmetric else b, metric=metric, pad_to=block)
    return jnp.asarray(assemble(a.shape[0], b.shape[0], block, symmetric, tile, np.float32))
