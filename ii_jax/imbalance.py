r"""The host driver of the Information Imbalance: validation, row blocks, native kernels, devices, checkpoints.

Semantics (DESIGN.md §3), defined once in :mod:`ii_jax.core`. Points ``i = 1..N`` are the same items in two
spaces with distances :math:`d^X, d^Y`; a point is never its own neighbour.

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

How it is computed: for each block of ``B`` query rows, the two ``[B, N]`` distance blocks (from a cached matrix,
streamed tiles, or on the devices of a mesh), then their exact integer row statistics: by the core's
:func:`ii_jax.core.stats.block_stats` (the traceable reference), or on CPU by the native kernel that computes the
same integers faster (``ii_jax/_native/stats.cc``). The finish is the core's too
(:func:`ii_jax.core.delta_from_stats`), here on the host in int64 and float64. The functions here take host or
device arrays and return Python floats or NumPy arrays; inside ``jax.jit``, ``jax.vmap`` or ``shard_map`` use
:mod:`ii_jax.core`, which gives the same values.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ii_jax import distances as _dist
from ii_jax import parallel as _par
from ii_jax.core import checks as _checks
from ii_jax.core import finish as _finish
from ii_jax.core import stats as _stats
from ii_jax.core.checks import METRICS, TIES

__all__ = ["Imbalance", "information_imbalance", "imbalance_from_distances", "pointwise_imbalance",
           "distance_matrix", "TIES", "METRICS"]

_INT_SENTINEL = np.iinfo(np.int32).max  # larger than every real integer distance (see _as_distance_matrix)
_INT32_MIN = int(np.iinfo(np.int32).min)


class Imbalance(NamedTuple):
    """Both directions of the Information Imbalance.

    Attributes:
      x_to_y: Δ(X→Y): how well neighbourhoods in X predict those in Y (0 perfect, about 1 uninformative).
      y_to_x: Δ(Y→X).
    """

    x_to_y: float
    y_to_x: float


# ----------------------------------------------------------------------------------------------------------------
# One block of distance rows -> its exact statistics: the core's (ii_jax.core.stats), or the native CPU kernel's,
# which gives the same integers.


def _native_stats(dx, dy, row_ids, **opts):
    """:func:`ii_jax._native.block_stats` where it runs (CPU, native library built, ties "average"/"min"), else None."""
    if not _dist.native_available():
        return None
    from ii_jax import _native

    return _native.block_stats(dx, dy, row_ids, **opts)


def _on_cpu(*arrays) -> bool:
    """Whether none of ``arrays`` is a JAX array on an accelerator (NumPy arrays live on the host)."""
    return not any(isinstance(a, jax.Array) and any(dev.platform != "cpu" for dev in a.devices()) for a in arrays)


def _host_native_rows(dx, dy, block: int, *, k: int, ties: str):
    """``stats_fn`` for :func:`_run_blocks` computing every block of rows of two host ``[N, N]`` matrices by the
    native kernel: each block is a NumPy view of the rows (the last one shorter), so nothing is padded or copied
    into JAX first. ``None`` where the native kernel does not run (not built, ``ties="random"``, a dtype other
    than int32/float32, arrays on an accelerator): the caller takes the general route.
    """
    if ties not in ("average", "min") or not _dist.native_available() or not _on_cpu(dx, dy):
        return None
    hx, hy = np.asarray(dx), np.asarray(dy)
    if hx.dtype != hy.dtype or hx.dtype not in (np.dtype(np.int32), np.dtype(np.float32)):
        return None
    from ii_jax import _native

    n = hx.shape[0]

    def stats_fn(i0, row_ids):
        i1 = min(i0 + block, n)
        return _native.block_stats(hx[i0:i1], hy[i0:i1], np.arange(i0, i1, dtype=np.int32), n_valid=n, k=k,
                                   ties=ties)

    return stats_fn


def _subset_matrices(mats, ties: str) -> list | None:
    """The ``[N, N]`` matrices ``mats`` validated (:func:`_as_distance_matrix`) and uploaded once as CPU arrays, for
    :func:`_subset_imbalance` on many subsets; ``None`` where the native subset kernel does not run (not built,
    ``ties="random"``, a matrix on an accelerator).
    """
    if ties not in ("average", "min") or not _dist.native_available():
        return None
    from ii_jax import _native

    if not _native.subset_available() or not _on_cpu(*mats):
        return None
    return [jnp.asarray(_as_distance_matrix("d", m)) for m in mats]


def _subset_imbalance(dx, dy, idx, *, k: int, ties: str) -> Imbalance | None:
    """Δ of the sub-matrices ``dx[idx][:, idx]`` and ``dy[idx][:, idx]`` (both directions), read in place by the
    native kernel from matrices of :func:`_subset_matrices`; ``None`` where the two differ in dtype (the caller
    gathers them instead).
    """
    from ii_jax import _native

    m = len(idx)
    _check_options(m, k, ties, None)
    st = _native.subset_stats(dx, dy, np.asarray(idx, np.int32), k=k, ties=ties)
    return None if st is None else _values(np.asarray(st, np.int64), m, k)


def _block_stats(dx, dy, row_ids, px, py, *, n_valid, k, ties, n_cand) -> np.ndarray:
    """Row statistics of one block, ``[2, 5, B]``: the native kernel where it runs, else the core's."""
    native = _native_stats(dx, dy, row_ids, n_valid=n_valid, k=k, ties=ties)
    if native is not None:  # every row exact in one native pass (ii_jax/_native/stats.cc): same integers
        return np.asarray(native)
    return np.asarray(_stats.block_stats(dx, dy, row_ids, px, py, n_valid=n_valid, k=k, ties=ties, n_cand=n_cand))


# ----------------------------------------------------------------------------------------------------------------
# Host side: validation, the block loop, and the exact float64 finish.


def _pointwise(stats: np.ndarray, n: int, k: int) -> np.ndarray:
    """``stats``: ``int`` ``[..., 5, N]`` -> float64 ``[..., N]`` per-point contributions whose mean is Δ."""
    return _finish.pointwise_from_stats(np.asarray(stats), k=k, m=n - 1)


def _values(stats: np.ndarray, n: int, k: int) -> Imbalance:
    """``stats``: ``int`` ``[2, 5, N]`` -> both directions, exactly (:func:`ii_jax.core.delta_from_stats`)."""
    d = _finish.delta_from_stats(np.asarray(stats), k=k, m=n - 1)
    return Imbalance(float(d[0]), float(d[1]))


def _check_options(n: int, k: int, ties: str, key) -> None:
    _checks.check_k(n, k)
    _checks.check_ties(ties, key)


def _progress(total: int, desc: str, enabled: bool | None):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="row", disable=(not enabled) if enabled is not None else None,
                leave=False, mininterval=1.0)


def _run_blocks(n: int, block: int, stats_fn, progress: bool | None, desc: str, ckpt=None) -> np.ndarray:
    """Loop over row blocks; ``stats_fn(i0, row_ids)`` returns ``[2, 5, block]``; returns ``int64`` ``[2, 5, N]``.
    With a :class:`~ii_jax.parallel.RowCheckpoint`, blocks already written are skipped and new ones saved.
    """
    out = np.empty((2, 5, n), np.int64) if ckpt is None else ckpt.stats
    show = progress if progress is not None else (n >= 20_000)
    with _progress(n, desc, show) as bar:
        for i0 in range(0, n, block):
            i1 = min(i0 + block, n)
            if ckpt is not None and ckpt.covered(i0, i1):
                bar.update(i1 - i0)
                continue
            row_ids = np.arange(i0, i0 + block, dtype=np.int32)
            s = np.asarray(stats_fn(i0, row_ids))
            out[:, :, i0:i1] = s[:, :, : i1 - i0]
            if ckpt is not None:
                ckpt.save(i0, i1, out[:, :, i0:i1])
            bar.update(i1 - i0)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Many devices (ii_jax.parallel): each step gives every device of the mesh its own block of query rows; the
# distances are computed, ranked and counted on the device, and only the [2, 5, rows] statistics come back.


def _shard_features(xr, xra, yr, yra, row_ids, xc, xca, yc, yca, px, py, *, kx, ky, n_valid, k, ties, n_cand):
    dx = _dist.rows_vs_columns(xr, xra, xc, xca, kind=kx)
    dy = _dist.rows_vs_columns(yr, yra, yc, yca, kind=ky)
    return _stats.block_stats(dx, dy, row_ids, px, py, n_valid=n_valid, k=k, ties=ties, n_cand=n_cand)


def _shard_distances(dx, dy, row_ids, px, py, *, n_valid, k, ties, n_cand):
    return _stats.block_stats(dx, dy, row_ids, px, py, n_valid=n_valid, k=k, ties=ties, n_cand=n_cand)


def _sharded_stats(n: int, block: int, mesh, stats_fn, row_inputs: list, replicated: list, *,
                   progress: bool | None, desc: str, ckpt=None) -> np.ndarray:
    """The block loop of :func:`_run_blocks` on a mesh: ``block`` rows per device per step.

    ``row_inputs``: host arrays (or memory maps) whose rows are the query rows, sharded; ``replicated``: global
    arrays every device holds. ``stats_fn(*rows, row_ids, *replicated) -> stats`` is a
    :func:`ii_jax.parallel.row_sharded` callable (the core's block statistics on every device). Rows are padded to
    whole steps (never dropped) and cut off here. Every process runs the same loop.
    """
    step = _par.n_shards(mesh) * block
    out = np.zeros((2, 5, n), np.int64) if ckpt is None else ckpt.stats
    todo = [i0 for i0 in range(0, n, step) if ckpt is None or not ckpt.covered(i0, min(i0 + step, n))]
    show = (progress if progress is not None else (n >= 20_000)) and jax.process_index() == 0

    def launch(i0):
        ids = np.arange(i0, i0 + step, dtype=np.int32)
        args = [_par.shard_rows(mesh, h, i0, step) for h in row_inputs] + [_par.shard_rows(mesh, ids, 0, step)]
        return stats_fn(*args, *replicated)

    def resolve(i0, res):
        i1 = min(i0 + step, n)
        stats = _par.to_host(res[0])[:, :, : i1 - i0].astype(np.int64)
        out[:, :, i0:i1] = stats
        if ckpt is not None:
            ckpt.save(i0, i1, stats)
        return i1 - i0

    with _progress(n, desc, show) as bar:
        bar.update(n - sum(min(i0 + step, n) - i0 for i0 in todo))
        _dist.pipelined(todo, launch, lambda i0, res: bar.update(resolve(i0, res)))
    return out


def _checkpoint(checkpoint, n: int, identity: dict, arrays) -> _par.RowCheckpoint | None:
    """A :class:`~ii_jax.parallel.RowCheckpoint` for this problem; in a multi-host run also checks that every
    process holds the same data.
    """
    if checkpoint is None and jax.process_count() == 1:
        return None
    digest = _par.data_digest(*(np.asarray(a) for a in arrays))
    _par.check_same_data(digest)
    if checkpoint is None:
        return None
    return _par.RowCheckpoint(checkpoint, dict(identity, n=n, data=digest), (2, 5, n))


def _default_block(n: int) -> int:
    return int(min(256, max(8, 2 ** math.floor(math.log2(max(8, 16_000_000 // max(n, 1)))))))


def _ordinal_ranks(d: np.ndarray) -> np.ndarray:
    """Per-row dense ranks of a float64/int64 matrix as int32: same order and ties, exact in 32 bits."""
    out = np.empty(d.shape, np.int32)
    for i, row in enumerate(d):
        out[i] = np.unique(row, return_inverse=True)[1].reshape(-1)
    return out


def _as_distance_matrix(name: str, d) -> jax.Array | np.ndarray:
    """A validated ``[N, N]`` matrix in the kernels' dtype: ``int32`` strictly below the sentinel, or float32
    (an int32-range NumPy matrix stays a NumPy array).

    Only the order within rows matters, so anything the kernels cannot hold exactly (float64, float32
    subnormals, integers outside ``[INT32_MIN, INT32_MAX - 1]``, e.g. uint32 >= 2^31 or uint64) becomes per-row
    ordinal ranks: the same order and the same ties, never a wrap-around or a flush to zero.
    """
    arr = d if isinstance(d, jax.Array) else np.asarray(d)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square [N, N] distance matrix, got shape {arr.shape}.")
    is_int = jnp.issubdtype(arr.dtype, jnp.integer)
    if not (is_int or jnp.issubdtype(arr.dtype, jnp.floating)):
        raise TypeError(f"{name} must be a real-valued distance matrix, got dtype {arr.dtype}.")
    if not is_int:
        host = np.asarray(arr)
        if not bool(np.all(np.isfinite(host))):
            raise ValueError(f"{name} contains NaN or Inf.")
        # float64 would round to 32 bits; float32 subnormals are flushed to zero by XLA on CPU (new ties).
        if arr.dtype.itemsize > 4 or bool(np.any((host != 0) & (np.abs(host) < np.finfo(np.float32).tiny))):
            return jnp.asarray(_ordinal_ranks(host))
        return jnp.asarray(arr).astype(jnp.float32)  # float16/bfloat16 -> float32 is exact
    if arr.size:
        low_ok = arr.dtype == np.int32 or int(arr.min()) >= _INT32_MIN  # an int32 matrix needs no pass for it
        if not (low_ok and int(arr.max()) < _INT_SENTINEL):
            return jnp.asarray(_ordinal_ranks(np.asarray(arr)))
    if isinstance(arr, np.ndarray):  # host matrices stay on the host (the native kernel reads them in place)
        return arr.astype(np.int32, copy=False)
    return jnp.asarray(arr).astype(jnp.int32)


def imbalance_from_distances(dx, dy, *, k: int = 1, ties: str = "average", key=None, block_size: int | None = None,
                             progress: bool | None = None, mesh=None, _n_cand: int | None = None) -> Imbalance:
    """Information Imbalance from two precomputed ``[N, N]`` distance matrices (both directions).

    Only the order of distances within each row matters; the diagonal is ignored. float64/int64 NumPy inputs are
    converted to exact per-row ranks, so no tie is made or broken by rounding.

    Args:
      dx: ``[N, N]`` distances in space X. dy: ``[N, N]`` distances in space Y, same points in the same order.
      k: number of nearest neighbours (``1 <= k < N - 1``).
      ties: ``"average"`` (default, mid-ranks and shared neighbour weights), ``"min"`` or ``"random"``.
      key: PRNG key, required for ``ties="random"``.
      block_size: rows per block (default: chosen from N; per device on a mesh).
      progress: show a progress bar (default: only for large N).
      mesh: devices to shard the rows over (:func:`ii_jax.parallel.resolve_mesh`; default: all devices when JAX
        sees more than one, ``False`` for one device). The result is identical either way.

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
    st = _distance_stats(dx, dy, k=k, ties=ties, key=key, block_size=block_size, progress=progress, _n_cand=_n_cand,
                         mesh=mesh)
    return _values(st, st.shape[-1], k)


def pointwise_imbalance(dx, dy, *, k: int = 1, ties: str = "average", key=None, block_size: int | None = None,
                        progress: bool | None = None, mesh=None) -> np.ndarray:
    """Per-point contributions to the Information Imbalance, from two ``[N, N]`` distance matrices.

    Args: as :func:`imbalance_from_distances`.

    Returns:
      float64 ``[2, N]``: row 0 for Δ(X→Y), row 1 for Δ(Y→X); ``.mean(axis=1)`` is the Imbalance. Point ``i``'s
      value is ``2/(N-1)`` times the (weighted) mean rank in one space of its nearest neighbours in the other.

    Examples:
      >>> import numpy as np
      >>> from ii_jax import imbalance_from_distances, pointwise_imbalance
      >>> t = np.array([0.0, 1.0, 3.0, 6.0, 10.0, 15.0])
      >>> d = np.abs(t[:, None] - t[None, :])
      >>> e = np.abs(np.sin(t)[:, None] - np.sin(t)[None, :])
      >>> p = pointwise_imbalance(d, e)
      >>> bool(np.allclose(p.mean(axis=1), imbalance_from_distances(d, e)))
      True
    """
    st = _distance_stats(dx, dy, k=k, ties=ties, key=key, block_size=block_size, progress=progress, mesh=mesh)
    return _pointwise(st, st.shape[-1], k)


def _distance_stats(dx, dy, *, k, ties, key, block_size, progress, _n_cand=None, mesh=None) -> np.ndarray:
    """Validated row statistics ``int64`` ``[2, 5, N]`` from two distance matrices (on a mesh when there is one)."""
    dx = _as_distance_matrix("dx", dx)
    dy = _as_distance_matrix("dy", dy)
    n = dx.shape[0]
    if dy.shape[0] != n:
        raise ValueError(f"dx and dy must describe the same N points, got N={n} and N={dy.shape[0]}.")
    _check_options(n, k, ties, key)
    block = int(block_size or _default_block(n))
    px, py = _stats.priorities(n, ties, key)
    n_cand = int(_n_cand or _stats.n_candidates(n - 1, k))
    mesh = _par.resolve_mesh(mesh)
    if mesh is None:
        host = _host_native_rows(dx, dy, block, k=k, ties=ties)
        if host is not None:  # the CPU's route: the native kernel on views of the rows, nothing padded or copied
            return _run_blocks(n, block, host, progress, "II")
    if mesh is not None:
        fn = _par.row_sharded(_shard_distances, mesh, sharded=(True, True, True, False, False), out_axes=(-1,),
                              n_valid=n, k=k, ties=ties, n_cand=n_cand)
        rep = [_par.replicate(mesh, np.asarray(p)) for p in (px, py)]
        return _sharded_stats(n, block, mesh, fn, [np.asarray(dx), np.asarray(dy)], rep, progress=progress,
                              desc="II")
    block = min(block, n)  # one block of every row: no padding, no slicing
    dx = _dist.pad_axis(dx, 0, block)
    dy = _dist.pad_axis(dy, 0, block)

    def rows(d, i0):
        return d if block == n else lax.dynamic_slice_in_dim(d, i0, block)

    def stats_fn(i0, row_ids):
        return _block_stats(rows(dx, i0), rows(dy, i0), row_ids, px, py, n_valid=n, k=k, ties=ties, n_cand=n_cand)

    return _run_blocks(n, block, stats_fn, progress, "II")


def _prepare(name: str, a, metric: str):
    if metric == "hamming":
        a = _dist.as_array(a)
        if jnp.issubdtype(a.dtype, jnp.floating):
            raise TypeError(f"{name} is a float array but metric='hamming' expects packed uint32 words [N, W]: "
                            f"use pack_bits(binarize({name})), or a float metric ('euclidean', 'cosine').")
        return _dist.check_words(name, a)
    return _dist.check_floats(name, a)


def _rank_metric(metric: str) -> str:
    """The metric whose order is used: Euclidean ranks by squared distance (same order, no ties from a root)."""
    return "sqeuclidean" if metric == "euclidean" else metric


def _col_chunk(n: int) -> int:
    """Columns per streamed tile: the accumulator stays in cache."""
    edge = _dist.tile_edge(n)
    return max(edge, 1024 if n > 2048 else edge)


def _tiles(a, metric: str, kernel: str | None, pad_to: int):
    """Tile function and dtype for one space. Euclidean ranks by squared distance: same order, and no ties made
    by a square root.
    """
    if metric == "hamming":
        return _dist.hamming_tiles(a, kernel=kernel, pad_to=pad_to), np.int32
    m = "cosine" if metric == "cosine" else "sqeuclidean"
    return _dist.float_tiles(a, metric=m, pad_to=pad_to), np.float32


def distance_matrix(a, *, metric: str = "hamming", kernel: str | None = None, mesh=None) -> np.ndarray:
    """The full ``[N, N]`` distance matrix of one space as a host array, from symmetric tiles (half the work).

    Only the order within rows matters to the Imbalance: Euclidean comes back *squared*. For the resampling
    routines, which reuse one matrix for many subsamples.

    Args:
      a: packed ``uint32`` ``[N, W]`` for ``"hamming"``, float ``[N, D]`` otherwise.
      metric: one of :data:`METRICS`.
      kernel: Hamming kernel (see :func:`information_imbalance`).
      mesh: devices to shard the rows over (default: all devices when there is more than one); on a mesh every
        device computes whole rows (no symmetry), and every process of a multi-host run gets the full matrix.

    Returns:
      ``int32`` (Hamming) or ``float32`` ``[N, N]``.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    a = _prepare("a", a, metric)
    n = a.shape[0]
    edge = _dist.tile_edge(n)
    mesh = _par.resolve_mesh(mesh)
    if mesh is not None:
        ops = _dist.prepare_operands(a, metric=_rank_metric(metric), kernel=kernel, chunk=edge)
        return _dist.sharded_matrix(ops, mesh, n, n, edge, np.int32 if metric == "hamming" else np.float32)
    tile, dtype = _tiles(a, metric, kernel, edge)
    return _dist.assemble(n, n, edge, True, tile, dtype)


def _row_source(a, n: int, metric: str, kernel: str, cached: bool, block: int):
    """``rows(i0) -> [block or fewer, N]`` distances from the features: slices of a full matrix built once from
    symmetric tiles (half the distance work), or computed on the fly in column chunks (memory O(N·block)).
    """
    if cached:
        mat = distance_matrix(a, metric=metric, kernel=kernel)
        return lambda i0: mat[i0:i0 + block]
    col_chunk = _col_chunk(n)
    tile, _ = _tiles(a, metric, kernel, math.lcm(block, col_chunk))  # every request below lies on this grid

    def rows(i0):  # whole tiles (one compiled shape), column chunks on every core; the padding is cut off
        parts = _dist.parallel_map(lambda j0: np.asarray(tile(i0, i0 + block, j0, j0 + col_chunk)),
                                   list(range(0, n, col_chunk)))
        return (parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))[:, :n]

    return rows


def information_imbalance(x, y, *, metric: str = "hamming", k: int = 1, ties: str = "average", key=None,
                          block_size: int | None = None, kernel: str | None = None, progress: bool | None = None,
                          max_cache_bytes: int = 2**31, mesh=None, checkpoint=None,
                          _n_cand: int | None = None) -> Imbalance:
    r"""Information Imbalance Δ(X→Y) and Δ(Y→X) between two representations of the same N points.

    .. math:: \Delta(X \to Y) = \frac{2}{N-1}\,\frac{1}{N k} \sum_i \sum_j w^X_{ij}\, r^Y_{ij}

    with mid-ranks :math:`r^Y` and tie-shared neighbour weights :math:`w^X` (see the module docstring).
    Both directions come from one pass over row blocks. When both ``N × N`` distance matrices fit in
    ``max_cache_bytes`` they are built once from symmetric tiles (half the distance work); otherwise every block of
    rows is computed on the fly and memory stays ``O(N · block)``.

    With more than one device (or a ``mesh``), every device takes its own block of query rows against the whole
    other side, all on the device (``jax.jit`` + ``shard_map``, see :mod:`ii_jax.parallel`); a multi-host run
    (:func:`ii_jax.parallel.initialize`) makes the same call in every process. The result is identical to one
    device's, bit for bit.

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
      max_cache_bytes: memory allowed for the two cached distance matrices (0 forces the streaming pass;
        single-device path only).
      mesh: devices to shard the query rows over (:func:`ii_jax.parallel.resolve_mesh`): by default all devices
        when JAX sees more than one, or an accelerator (so distances never leave the device); ``False`` forces the
        single-device host loop, ``True`` or a :class:`jax.sharding.Mesh` the mesh path.
      checkpoint: a folder: finished row blocks are written there (atomically, by process 0), and a rerun of the
        same problem after a crash resumes from them. A folder written for other data or options is refused.

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
    kernel = _dist.check_kernel(kernel, 32 * max(x.shape[1], y.shape[1]) if metric == "hamming" else None)
    block = int(block_size or _default_block(n))
    n_cand = int(_n_cand or _stats.n_candidates(n - 1, k))
    identity = dict(fn="information_imbalance", metric=metric, k=int(k), ties=ties,
                    key=None if key is None else np.asarray(jax.random.key_data(key)).ravel().tolist())
    ckpt = _checkpoint(checkpoint, n, identity, (x, y))
    mesh = _par.resolve_mesh(True if mesh is None and jax.default_backend() != "cpu" else mesh)
    if mesh is not None:
        st = _sharded_features(x, y, metric=metric, kernel=kernel, k=k, ties=ties, key=key, block=block,
                               n_cand=n_cand, mesh=mesh, progress=progress, ckpt=ckpt)
        return _values(st, n, k)
    cached = 2 * n * n * 4 <= max_cache_bytes
    src = dict(n=n, metric=metric, kernel=kernel, cached=cached, block=block)
    rows_x, rows_y = _row_source(x, **src), _row_source(y, **src)
    px, py = _stats.priorities(n, ties, key)

    def stats_fn(i0, row_ids):
        i1 = min(i0 + block, n)
        dx, dy = (_dist.pad_axis(jnp.asarray(r[: i1 - i0]), 0, block)
                  for r in _dist.parallel_map(lambda src: src(i0), [rows_x, rows_y]))
        return _block_stats(dx, dy, row_ids, px, py, n_valid=n, k=k, ties=ties, n_cand=n_cand)

    st = _run_blocks(n, block, stats_fn, progress, f"II ({metric})", ckpt)
    return _values(st, n, k)


def _sharded_features(x, y, *, metric, kernel, k, ties, key, block, n_cand, mesh, progress, ckpt) -> np.ndarray:
    """Row statistics ``[2, 5, N]`` of two feature spaces on a mesh: per device, ``block`` query rows against all
    columns (replicated in chunks of the single-device path's streamed tile width, so every distance is computed
    by the same tile as on one device).
    """
    n = x.shape[0]
    chunk = _col_chunk(n)
    m = _rank_metric(metric)
    ox = _dist.prepare_operands(x, metric=m, kernel=kernel, chunk=chunk)
    oy = _dist.prepare_operands(y, metric=m, kernel=kernel, chunk=chunk)
    n_cols = ox.cols.shape[0] * chunk
    px, py = (np.pad(np.asarray(p), (0, n_cols - n), constant_values=np.iinfo(np.int32).max)
              for p in _stats.priorities(n, ties, key))
    opts = dict(kx=ox.kind, ky=oy.kind, n_valid=n, k=k, ties=ties)
    sharded = (True,) * 5 + (False,) * 6
    with _dist.kind_scope(ox.kind, oy.kind):  # 64-bit words only inside this scope
        fn = _par.row_sharded(_shard_features, mesh, sharded=sharded, out_axes=(-1,), n_cand=n_cand, **opts)
        rep = [_par.replicate(mesh, a) for a in (ox.cols, ox.col_aux, oy.cols, oy.col_aux, px, py)]
        return _sharded_stats(n, block, mesh, fn, [ox.rows, ox.row_aux, oy.rows, oy.row_aux], rep,
                              progress=progress, desc=f"II ({metric})", ckpt=ckpt)
