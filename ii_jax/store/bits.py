"""Host-side bit packing in the store's layout (NumPy only; the device twin is :func:`ii_jax.binary.pack_bits`).

Binary codes are stored packed, 32 bits to a ``uint32`` word, least significant bit first: bit ``b`` of a
vector lands in word ``b // 32`` at position ``b % 32``. The last word is zero padded, and because padding
is zero on every point, it never changes a Hamming distance.
"""
from __future__ import annotations

import numpy as np

__all__ = ["WORD_BITS", "n_words", "pack_bits_np"]

WORD_BITS = 32


def n_words(n_bits: int) -> int:
    """Number of 32-bit words that hold ``n_bits`` bits.

    Examples:
      >>> from ii_jax.store.bits import n_words
      >>> n_words(32), n_words(70)
      (1, 3)
    """
    return -(-int(n_bits) // WORD_BITS)


def pack_bits_np(bits: np.ndarray, axis: int = -1) -> np.ndarray:
    """NumPy twin of :func:`ii_jax.binary.pack_bits` for host-side writers (same layout, no device transfer).

    Args:
      bits: array ``[..., D, ...]`` of bools or 0/1 integers; non-zero counts as 1.
      axis: the axis to pack (default: last). The packed words replace it as the *last* axis.

    Returns:
      ``uint32`` array ``[..., W]`` with ``W = ceil(D / 32)``; the padding bits of the last word are zero.

    Raises:
      ValueError: if ``bits`` is a scalar.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.store.bits import pack_bits_np
      >>> pack_bits_np(np.array([[1, 0, 1], [0, 0, 0]], dtype=bool))
      array([[5],
             [0]], dtype=uint32)
    """
    bits = np.asarray(bits)
    if bits.ndim == 0:
        raise ValueError("pack_bits_np: bits must have at least one axis to pack, got a scalar.")
    bits = np.moveaxis(bits, axis, -1) != 0
    d = bits.shape[-1]
    w = n_words(d)
    padded = np.zeros(bits.shape[:-1] + (w * WORD_BITS,), dtype=bool)
    padded[..., :d] = bits
    as_bytes = np.packbits(padded, axis=-1, bitorder="little")
    return np.ascontiguousarray(as_bytes).view("<u4").astype(np.uint32, copy=False)
