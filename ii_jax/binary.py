"""Sign binarisation and bit packing.

Binary codes are stored packed, 32 bits to a ``uint32`` word, least significant bit first: bit ``b`` of a
vector lands in word ``b // 32`` at position ``b % 32``. The last word is zero padded, and because padding
is zero on every point, it never changes a Hamming distance. The layout is the shard store's
(:mod:`ii_jax.store.bits`, which also holds the host-side :func:`pack_bits_np` and :func:`n_words`; both are
re-exported here).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from ii_jax.store.bits import WORD_BITS  # noqa: F401  (re-exported: the layout is the store's)
from ii_jax.store.bits import n_words
from ii_jax.store.bits import pack_bits_np  # noqa: F401  (re-exported for host-side callers)

__all__ = ["binarize", "pack_bits", "unpack_bits", "n_words"]


def binarize(x: jax.typing.ArrayLike) -> jax.Array:
    """Sign-binarise activations: ``x > 0``, so zero counts as negative.

    Args:
      x: real array of any shape ``[...]``.

    Returns:
      bool array of the same shape.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax import binarize
      >>> binarize(jnp.array([-1.0, 0.0, 2.5]))
      Array([False, False,  True], dtype=bool)
    """
    x = jnp.asarray(x)
    if not (jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)):
        raise TypeError(f"binarize: x must be a real numeric array, got dtype {x.dtype}.")
    return x > 0


def pack_bits(bits: jax.typing.ArrayLike, axis: int = -1) -> jax.Array:
    """Pack a boolean (or 0/1) axis into ``uint32`` words, least significant bit first.

    Args:
      bits: array ``[..., D, ...]`` of bools or 0/1 integers; non-zero counts as 1.
      axis: the axis to pack (default: last). The packed words replace it as the *last* axis.

    Returns:
      ``uint32`` array ``[..., W]`` with ``W = ceil(D / 32)``; the padding bits of the last word are zero.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax import pack_bits, unpack_bits
      >>> words = pack_bits(jnp.array([[1, 0, 1], [0, 0, 0]], dtype=bool))
      >>> words
      Array([[5],
             [0]], dtype=uint32)
      >>> unpack_bits(words, 3).astype(jnp.int32)
      Array([[1, 0, 1],
             [0, 0, 0]], dtype=int32)
    """
    bits = jnp.asarray(bits)
    if bits.ndim == 0:
        raise ValueError("pack_bits: bits must have at least one axis to pack, got a scalar.")
    bits = jnp.moveaxis(bits, axis, -1) != 0
    d = bits.shape[-1]
    w = n_words(d)
    pad = w * WORD_BITS - d
    if pad:
        bits = jnp.pad(bits, [(0, 0)] * (bits.ndim - 1) + [(0, pad)])
    bits = bits.reshape(bits.shape[:-1] + (w, WORD_BITS)).astype(jnp.uint32)
    shifts = jnp.arange(WORD_BITS, dtype=jnp.uint32)
    # Distinct powers of two: the sum is an exact bitwise OR.
    return jnp.sum(bits << shifts, axis=-1, dtype=jnp.uint32)


def unpack_bits(words: jax.typing.ArrayLike, n_bits: int) -> jax.Array:
    """Inverse of :func:`pack_bits`: ``uint32`` ``[..., W]`` -> bool ``[..., n_bits]``.

    Args:
      words: packed ``uint32`` array ``[..., W]``.
      n_bits: number of meaningful bits, ``32 * (W - 1) < n_bits <= 32 * W``.

    Returns:
      bool array ``[..., n_bits]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax import unpack_bits
      >>> unpack_bits(jnp.array([6], dtype=jnp.uint32), 4)
      Array([False,  True,  True, False], dtype=bool)
    """
    words = jnp.asarray(words)
    if words.dtype != jnp.uint32:
        raise TypeError(f"unpack_bits: words must be uint32 (as pack_bits makes them), got {words.dtype}.")
    w = words.shape[-1] if words.ndim else 0
    if not 32 * (w - 1) < int(n_bits) <= 32 * w:
        raise ValueError(f"unpack_bits: n_bits={n_bits} does not fit {w} words of 32 bits.")
    shifts = jnp.arange(WORD_BITS, dtype=jnp.uint32)
    bits = (words[..., None] >> shifts) & jnp.uint32(1)
    return bits.reshape(words.shape[:-1] + (w * WORD_BITS,))[..., :n_bits].astype(bool)

