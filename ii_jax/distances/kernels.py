"""Traceable distance kernels on one tile: a row block of queries against word-major (transposed) columns.

Hamming kernels take packed words ``xb`` ``[B, Wk]`` and ``yt`` ``[Wk, M]`` (``Wk`` words of the kernel's word size)
and return ``int32`` ``[B, M]``; the float kernel takes ``[B, D]`` rows and ``[D, M]`` columns. They are pure JAX,
so they run inside ``jit``, ``shard_map`` and on any backend; :mod:`ii_jax.distances.registry` names them.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["hamming_tile", "hamming_tile64", "hamming_matmul_tile", "float_tile", "normalize_rows", "pad_axis",
           "x64_scope", "BF16_EXACT_BITS"]

# Words XOR-ed and popcounted together before the int32 accumulation: fewer passes over the accumulator.
_WORD_GROUP = 4


def pad_axis(x: jax.Array, axis: int, multiple: int, value=0) -> jax.Array:
    """Zero-pad (or ``value``-pad) ``axis`` of ``x`` up to a multiple of ``multiple``."""
    size = x.shape[axis]
    pad = (-size) % multiple
    if not pad:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, pad)
    return jnp.pad(x, widths, constant_values=value)


def _zeros(shape, dtype, *like: jax.Array) -> jax.Array:
    """Zeros of ``shape`` that vary over the same ``shard_map`` axes as ``like`` (a loop's initial carry must)."""
    return sum(lax.full_like(a, 0, dtype, shape) for a in like)


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
    xg = pad_axis(xb, 1, g).T.reshape(-1, g, xb.shape[0])  # [W/g, g, B]
    yg = pad_axis(yt, 0, g).reshape(-1, g, yt.shape[1])  # [W/g, g, M]
    del w

    def step(acc, words):
        xw, yw = words
        pc = lax.population_count(xw[:, :, None] ^ yw[:, None, :])
        return acc + jnp.sum(pc, axis=0).astype(jnp.int32), None

    acc, _ = lax.scan(step, _zeros((xb.shape[0], yt.shape[1]), jnp.int32, xb, yt), (xg, yg))
    return acc


# Tensor-core friendly shapes: the unpacked bit axis is zero-extended to a multiple of _TC_K, row and column
# counts to a multiple of _TC_MN (zeros in the ±1 encoding add nothing to a·b, and padded rows are cut off).
_TC_K = 128
_TC_MN = 16
BF16_EXACT_BITS = 1 << 24  # bf16 ±1 products summed in float32 are exact integers below 2^24 bits


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
    a = pad_axis(pad_axis(_pm1(xb, dtype), 1, _TC_K), 0, _TC_MN)  # [B', D'], zeros in the padding
    b = pad_axis(pad_axis(_pm1(yt.T, dtype), 1, _TC_K), 0, _TC_MN)  # [M', D']
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


def x64_scope():
    """A *scoped* 64-bit context (never a global flip): 64-bit words only inside our own kernels."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # older JAX

    return enable_x64()


def hamming_tile64(xb: jax.Array, yt: jax.Array) -> jax.Array:
    """:func:`hamming_tile` on ``uint64`` words (two packed words each): on CPUs without a vector popcount,
    LLVM sums 64-bit lanes with one ``psadbw``, which is markedly cheaper than the 32-bit reduction.
    """
    g = _WORD_GROUP
    xg = pad_axis(xb, 1, g).T.reshape(-1, g, xb.shape[0])
    yg = pad_axis(yt, 0, g).reshape(-1, g, yt.shape[1])

    def step(acc, words):
        xw, yw = words
        return acc + jnp.sum(lax.population_count(xw[:, :, None] ^ yw[:, None, :]), axis=0), None

    acc, _ = lax.scan(step, _zeros((xb.shape[0], yt.shape[1]), jnp.uint64, xb, yt), (xg, yg))
    return acc.astype(jnp.int32)
