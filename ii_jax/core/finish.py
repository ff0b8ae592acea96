r"""From the exact per-row statistics to Δ and to per-point values, exactly, with or without 64-bit types.

A row of statistics (``int`` ``[5]``, see :mod:`ii_jax.core.stats`) holds, for one query ``i``, the sum ``s`` of
``2 r_ij`` over its strict neighbours, the sum over the neighbours tied at the ``k``-th distance split into
``(hi, lo)`` halves (``hi · 2^11 + lo``), the number ``m_less`` of strict neighbours and the size ``m_eq`` of the
tie group. Its doubled weighted rank sum is

.. math:: v_i = \sum_j w_{ij}\, 2 r_{ij} = s + (k - m_{less})\,\frac{hi \cdot 2^{11} + lo}{m_{eq}},

a rational number. It is split exactly, in integer arithmetic that never overflows 32 bits, into an integer part
and a remainder ``rem / m_eq``; the remainders' fractions are expanded to 44 binary digits, and the integer parts
and the digits are summed over the rows as 12- and 11-bit limbs with carries. So the total
:math:`\sum_i v_i` is known to ``Q · 2^-44`` whatever the number of rows, the order they come in, the device or
the transformation (``jit``, ``vmap``, ``shard_map``); only the last steps round: the limbs to a float, and the
product with :math:`1 / (m Q k)`. Floats are only multiplied by powers of two, added and multiplied once, so
NumPy and XLA (whose division on CPU is not correctly rounded) produce the same bits.

With ``Q`` query rows and ``m`` candidates per query (``m = N - 1`` for one sample of N points),

.. math:: \Delta = \frac{1}{m\,Q\,k} \sum_i v_i, \qquad \delta_i = \frac{v_i}{m\,k}, \qquad
          \Delta = \frac{1}{Q} \sum_i \delta_i .

The same function runs on NumPy arrays (the host driver: int64 statistics, float64 values) and on jax Arrays
(the traceable core: int32 statistics, the default float dtype: float32, or float64 where the caller enabled
x64). With x64 enabled, the core's values are the host's, bit for bit; in float32 they are that value rounded,
to a few units in the last place.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["SPLIT", "delta_from_stats", "pointwise_from_stats", "check_exact_range"]

SPLIT = 11  # tied rank sums are split into (hi, lo) 11-bit halves so that int32 never overflows
_LIMB = 12  # bits per integer limb of the row sums
_DIGIT = 11  # bits per binary digit of the fractions
_SUM_DIGITS = 4  # the fractions summed to 44 bits: the total to Q · 2^-44
_POINT_DIGITS = 5  # a point's fraction to 55 bits, beyond float64
_MAX_ROWS = 1 << 19  # int32 limbs hold 2^19 rows and candidates; k·m < 2^29 keeps each row's parts in int32


def check_exact_range(q: int, m: int, k: int) -> None:
    """The int32 arithmetic of the traceable core is exact for ``q`` query rows and ``m`` candidates per query
    (below 2^19 each, and ``k · m`` below 2^29); the host driver (int64) has no such limit.
    """
    if q >= _MAX_ROWS or m >= _MAX_ROWS or k * m >= (1 << 29):
        raise ValueError(f"the traceable core's exact int32 sums hold fewer than {_MAX_ROWS} queries and candidates "
                         f"and k*m < 2^29, got {q} queries, {m} candidates and k={k}: use "
                         "ii_jax.information_imbalance (the host driver) for larger problems.")


def _xp(stats):
    return np if isinstance(stats, np.ndarray) else jnp


def _float_dtype(xp):
    return np.float64 if xp is np else jnp.result_type(float)


def _parts(stats, k: int, xp):
    """Exact integer part, remainder and divisor of every row's ``v_i`` (``[..., 5, Q]`` -> three ``[..., Q]``)."""
    s, hi, lo, m_less, m_eq = (stats[..., i, :] for i in range(5))
    c = k - m_less  # tied neighbours taken (weight shared by the m_eq tied)
    m_eq = xp.maximum(m_eq, 1)
    q_hi, r_hi = hi // m_eq, hi % m_eq
    u = r_hi * (1 << SPLIT) + lo  # < 4096 m_eq
    q_u, r_u = u // m_eq, u % m_eq
    cr = c * r_u  # < k m_eq
    whole = s + c * q_hi * (1 << SPLIT) + c * q_u + cr // m_eq
    return whole, cr % m_eq, m_eq


def _limb_sum(parts, dtype, xp):
    return xp.sum(parts, axis=-1, dtype=dtype)


def _digits(rem, m_eq, n: int) -> list:
    """``rem / m_eq`` (``0 <= rem < m_eq``) as ``n`` binary digits of 11 bits each, most significant first."""
    out, r = [], rem
    for _ in range(n):
        r = r * (1 << _DIGIT)
        out.append(r // m_eq)
        r = r % m_eq
    return out


def _combine(digits: list, ftype) -> object:
    """``sum_j digits[j] 2^(-11 (j + 1))`` in ``ftype``, by multiplications by powers of two and additions only."""
    acc = digits[0].astype(ftype)
    for d in digits[1:]:
        acc = acc * float(1 << _DIGIT) + d.astype(ftype)
    return acc * 2.0 ** (-_DIGIT * len(digits))


def delta_from_stats(stats, *, k: int, m: int):
    r"""Δ from exact row statistics: ``int`` ``[..., 5, Q]`` -> ``[...]`` (both directions: ``[2, 5, Q]`` -> ``[2]``).

    Args:
      stats: the statistics of :func:`ii_jax.core.row_stats` (a jax Array: traceable, values in the default float
        dtype) or of the host driver (a NumPy array: float64 values).
      k: the neighbours per point the statistics were computed with.
      m: candidates per query: ``N - 1`` for one sample of N points, ``M`` for queries against M candidates.

    Returns:
      :math:`\frac{1}{m Q k}\sum_i \sum_j w_{ij}\, 2 r_{ij}` per leading index.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.core import delta_from_stats
      >>> st = np.array([[[0, 0, 0], [0, 0, 0], [2, 2, 4], [0, 0, 0], [1, 1, 1]]])  # k=1: 2r = 2, 2, 4 (no strict)
      >>> print(delta_from_stats(st, k=1, m=2))  # mean rank 4/3 over 2 candidates, times 2/m
      [1.33333333]
    """
    xp = _xp(stats)
    stats = stats.astype(np.int64) if xp is np else stats
    ftype = _float_dtype(xp)
    whole, rem, m_eq = _parts(stats, k, xp)
    it = stats.dtype
    d = [_limb_sum(v, it, xp) for v in _digits(rem, m_eq, _SUM_DIGITS)]
    mask = (1 << _LIMB) - 1
    l0, l1, l2 = (_limb_sum(p, it, xp) for p in (whole & mask, (whole >> _LIMB) & mask, whole >> (2 * _LIMB)))
    dm = (1 << _DIGIT) - 1
    for j in range(len(d) - 1, 0, -1):  # carries, lowest digit first
        d[j - 1], d[j] = d[j - 1] + (d[j] >> _DIGIT), d[j] & dm
    l0, d[0] = l0 + (d[0] >> _DIGIT), d[0] & dm
    l1, l0 = l1 + (l0 >> _LIMB), l0 & mask
    l2, l1 = l2 + (l1 >> _LIMB), l1 & mask
    integer = l2.astype(ftype) * float(1 << 2 * _LIMB) + l1.astype(ftype) * float(1 << _LIMB) + l0.astype(ftype)
    q = stats.shape[-1]
    # A product by the reciprocal, not a division: XLA's division on CPU is not correctly rounded, a product is,
    # so NumPy and XLA give the same bits.
    return (integer + _combine(d, ftype)) * xp.asarray(1.0 / (float(m) * q * k), ftype)


def pointwise_from_stats(stats, *, k: int, m: int):
    r"""Per-point values from exact row statistics: ``int`` ``[..., 5, Q]`` -> ``[..., Q]``, whose mean is Δ.

    Point ``i``'s value :math:`\delta_i = \frac{1}{m k}\sum_j w_{ij}\, 2 r_{ij}` is ``2/m`` times the weighted
    mean rank in one space of its neighbours in the other. Arguments as :func:`delta_from_stats`.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.core import pointwise_from_stats
      >>> st = np.array([[[0, 0, 0], [0, 0, 0], [2, 2, 4], [0, 0, 0], [1, 1, 1]]])
      >>> print(pointwise_from_stats(st, k=1, m=2))
      [[1. 1. 2.]]
    """
    xp = _xp(stats)
    stats = stats.astype(np.int64) if xp is np else stats
    ftype = _float_dtype(xp)
    whole, rem, m_eq = _parts(stats, k, xp)
    frac = _combine(_digits(rem, m_eq, _POINT_DIGITS), ftype)
    return (whole.astype(ftype) + frac) * xp.asarray(1.0 / (float(m) * k), ftype)
