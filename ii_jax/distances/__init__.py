"""Distances between representations: Hamming on packed bits, squared-Euclidean and cosine on floats, in tiles.

Every kernel works on a *row block* of queries against *word-major* (transposed) columns, so XLA vectorises the
XOR + popcount (or the matmul) across points, and no kernel ever needs the full N×N matrix. The package:

* :mod:`~ii_jax.distances.kernels`: the traceable tile kernels (XOR + popcount on 32- or 64-bit words, the ±1
  int8/bf16 matmul of accelerators, the float32 matmul for float metrics);
* :mod:`~ii_jax.distances.registry`: Hamming kernels by name (``"native"``, ``"popcount"``, ``"popcount32"``,
  ``"matmul"``, ``"matmul_bf16"``), the default per backend, and :func:`register_kernel` for new ones;
* :mod:`~ii_jax.distances.tiling`: tile functions, full matrices, and the row-sharded pass on device meshes;
* :mod:`~ii_jax.distances.checks`: input validation.

The public :func:`hamming_distances` and :func:`float_distances` assemble full matrices block by block for users
who want them (and use the symmetry of ``a`` against itself).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ii_jax.distances import tiling as _tiling
from ii_jax.distances.checks import as_array, check_floats, check_words
from ii_jax.distances.kernels import (float_tile, hamming_matmul_tile, hamming_tile, hamming_tile64, normalize_rows,
                                      pad_axis, x64_scope)
from ii_jax.distances.registry import (KERNELS, HammingKernel, check_kernel, default_kernel, get_kernel,
                                       kernel_names, native_available, register_kernel)
from ii_jax.distances.tiling import (NativeTiles, Operands, assemble, float_tiles, hamming_tiles, kind_scope,
                                     needs_x64, parallel_map, pipelined, prepare_operands, rows_vs_columns,
                                     sharded_matrix, tile_edge, tile_workers, word_major)

__all__ = ["hamming_distances", "float_distances", "FLOAT_METRICS", "register_kernel", "HammingKernel",
           "kernel_names", "default_kernel"]

FLOAT_METRICS = ("euclidean", "sqeuclidean", "cosine")


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
    mesh = _tiling._par().resolve_mesh(mesh)
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
    mesh = _tiling._par().resolve_mesh(mesh)
    if mesh is not None:
        ops = prepare_operands(a, None if symmetric else b, metric=metric, chunk=block)
        return jnp.asarray(sharded_matrix(ops, mesh, a.shape[0], b.shape[0], block, np.float32))
    tile = float_tiles(a, None if symmetric else b, metric=metric, pad_to=block)
    return jnp.asarray(assemble(a.shape[0], b.shape[0], block, symmetric, tile, np.float32))
