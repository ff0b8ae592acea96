r"""The exact per-row statistics of the Information Imbalance for one block of distance rows: the semantics,
written once.

For a block of ``B`` query rows against ``M`` candidate columns, distances :math:`d^A, d^B` ``[B, M]`` and, per
row ``i``, the column ``self_cols[i]`` that is the query itself (``-1``: none) and the ``n_valid`` real columns:

* the query's own column and the padding columns are set to a sentinel larger than every distance, so they are
  never closer, never tied and never neighbours;
* :math:`d_k` is the ``k``-th smallest distance of the row in ``A``; the ``m_less`` candidates strictly closer
  are neighbours with weight 1, the ``m_eq`` tied at :math:`d_k` share the remaining ``k - m_less``
  (the exact expectation over random tie-breaking);
* the rank of candidate ``j`` in ``B`` is found by counting, doubled so it stays an integer:
  :math:`2 r_{ij} = \#\{l: d^B_{il} < d^B_{ij}\} + \#\{l: d^B_{il} \le d^B_{ij}\} + 1` (``ties="average"``,
  the mid-rank) or :math:`2\,\#\{l: d^B_{il} < d^B_{ij}\} + 2` (``ties="min"``);
* ``ties="random"`` breaks every tie, in neighbours and in ranks, by a random priority per column and per space
  (:func:`priorities`).

A row's statistics are ``int32`` ``[5]``: the sum of :math:`2 r_{ij}` over the strict neighbours, the sum over
the tied ones split into ``(hi, lo)`` halves of :data:`~ii_jax.core.finish.SPLIT` bits, ``m_less`` and ``m_eq``
(``ties="random"``: ``[sum, 0, 0, k, 1]``). :mod:`ii_jax.core.finish` turns them into Δ exactly.

How: the few nearest candidates of each row (repeated ``argmin``, O(C·M) a row) and their ranks by comparisons
against the row (no argsort). A row whose tie group at :math:`d_k` is larger than those candidates is redone by
an exact sort-based count, a few rows at a time inside a ``lax.while_loop`` that runs only as often as such rows
occur (never, on data without ties). Everything is traceable, with static shapes: it runs under ``jax.jit``,
``jax.vmap`` and ``shard_map`` alike, and the native CPU kernel (``ii_jax/_native/stats.cc``) gives the same
integers.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from ii_jax.core.finish import SPLIT

__all__ = ["block_stats", "direction_fast", "direction_exact", "mask_self", "smallest", "priorities",
           "n_candidates", "EXACT_ROWS"]

EXACT_ROWS = 8  # rows per step of the exact sort-based count


def sentinel(dtype):
    """A value larger than every real distance of ``dtype``: its maximum (integers) or ``inf`` (floats)."""
    return jnp.array(jnp.iinfo(dtype).max if jnp.issubdtype(dtype, jnp.integer) else jnp.inf, dtype)


def mask_self(d: jax.Array, self_cols: jax.Array, n_valid: int) -> jax.Array:
    """``d`` ``[B, M]`` with ``d[b, self_cols[b]]`` and the padded columns ``>= n_valid`` set to the sentinel."""
    cols = jnp.arange(d.shape[1])
    bad = (cols[None, :] == self_cols[:, None]) | (cols[None, :] >= n_valid)
    return jnp.where(bad, sentinel(d.dtype), d)


def smallest(d: jax.Array, c: int) -> tuple[jax.Array, jax.Array]:
    """The ``c`` smallest entries of each row, ascending, with their column indices (lowest index first among
    equals): ``[B, M] -> ([B, c], [B, c])``. Repeated argmin, O(c·M) a row: XLA's CPU ``top_k`` is a full sort
    and costs two orders of magnitude more for the few candidates needed here.
    """
    big = sentinel(d.dtype)
    rows = jnp.arange(d.shape[0])

    def body(t, carry):
        cur, vals, idx = carry
        j = jnp.argmin(cur, axis=1).astype(jnp.int32)
        v = cur[rows, j]
        return cur.at[rows, j].set(big), vals.at[:, t].set(v), idx.at[:, t].set(j)

    init = (d, lax.full_like(d, 0, d.dtype, (d.shape[0], c)), lax.full_like(d, 0, jnp.int32, (d.shape[0], c)))
    _, vals, idx = lax.fori_loop(0, c, body, init)
    return vals, idx


def _split_sum(mask: jax.Array, two_r: jax.Array) -> tuple[jax.Array, jax.Array]:
    m = mask.astype(jnp.int32)
    return (jnp.sum(m * (two_r >> SPLIT), axis=-1, dtype=jnp.int32),
            jnp.sum(m * (two_r & ((1 << SPLIT) - 1)), axis=-1, dtype=jnp.int32))


def _neighbour_classes(da, dk):
    less = da < dk[:, None]
    eq = da == dk[:, None]
    return less, eq, jnp.sum(less, axis=1, dtype=jnp.int32), jnp.sum(eq, axis=1, dtype=jnp.int32)


def direction_fast(da, db, pa, pb, *, k: int, ties: str, n_cand: int):
    """Row statistics for Δ(A→B) on a block by counting: neighbours in A, ranks in B.

    Args:
      da, db: ``[B, M]`` distances with sentinels at self and padding.
      pa, pb: ``int32`` ``[M]`` tie-breaking priorities (used by ``ties="random"`` only).

    Returns:
      ``(stats, overflow)``: ``int32`` ``[5, B]`` and ``bool`` ``[B]``, the rows whose neighbour set is larger than
      the ``n_cand`` candidates (their stats are invalid here and come from :func:`direction_exact`).
    """
    cand_a, idx = smallest(da, n_cand)  # [B, C] ascending
    dk = cand_a[:, k - 1]
    _, _, m_less, m_eq = _neighbour_classes(da, dk)
    overflow = m_less + m_eq > n_cand
    cand_b = jnp.take_along_axis(db, idx, axis=1)  # [B, C]
    strict_c = cand_a < dk[:, None]
    tied_c = cand_a == dk[:, None]
    zeros = jnp.zeros_like(m_less)
    if ties == "random":
        k_left = k - m_less  # how many of the tied group are taken, by smallest priority
        cand_pa, cand_pb = pa[idx], pb[idx]
        order = jnp.sum(tied_c[:, None, :] & (cand_pa[:, None, :] < cand_pa[:, :, None]), axis=-1)
        chosen_c = strict_c | (tied_c & (order < k_left[:, None]))
        before = (db[:, None, :] < cand_b[:, :, None]) | (
            (db[:, None, :] == cand_b[:, :, None]) & (pb[None, None, :] < cand_pb[:, :, None]))
        two_r = 2 * jnp.sum(before, axis=-1, dtype=jnp.int32) + 2
        return jnp.stack([jnp.sum(chosen_c * two_r, axis=1, dtype=jnp.int32), zeros, zeros, zeros + k,
                          zeros + 1]), overflow
    if ties == "average":
        # 2·rank = 2·#{d < v} + #{d == v} + 1 = #{d < v} + #{d <= v} + 1, by comparisons only: a difference
        # v - d could overflow integer distances against the sentinel. Sentinels (d > every v) add 0.
        lt = jnp.sum(db[:, None, :] < cand_b[:, :, None], axis=-1, dtype=jnp.int32)
        le = jnp.sum(db[:, None, :] <= cand_b[:, :, None], axis=-1, dtype=jnp.int32)
        two_r = lt + le + 1
    else:
        two_r = 2 * jnp.sum(db[:, None, :] < cand_b[:, :, None], axis=-1, dtype=jnp.int32) + 2
    hi, lo = _split_sum(tied_c, two_r)
    return jnp.stack([jnp.sum(strict_c * two_r, axis=1, dtype=jnp.int32), hi, lo, m_less, m_eq]), overflow


def direction_exact(da, db, pa, pb, *, k: int, ties: str):
    """The same statistics as :func:`direction_fast` for any size of tie group, by sorting B's rows."""
    dk = smallest(da, k)[0][:, k - 1]
    less, eq, m_less, m_eq = _neighbour_classes(da, dk)
    zeros = jnp.zeros_like(m_less)
    if ties == "random":
        # The (k - m_less) smallest priorities among the tied group complete the neighbour set.
        top_p = smallest(jnp.where(eq, pa[None, :], jnp.iinfo(jnp.int32).max), k)[0]  # [B, k] ascending
        thr = jnp.take_along_axis(top_p, jnp.maximum(k - m_less - 1, 0)[:, None], axis=1)
        chosen = less | (eq & (pa[None, :] <= thr))
        pb_row = jnp.broadcast_to(pb[None, :], db.shape)
        _, _, chosen_s = lax.sort((db, pb_row, chosen.astype(jnp.int32)), dimension=1, num_keys=2)
        pos2 = 2 * jnp.arange(db.shape[1], dtype=jnp.int32) + 2
        return jnp.stack([jnp.sum(chosen_s * pos2, axis=1, dtype=jnp.int32), zeros, zeros, zeros + k, zeros + 1])
    # Sort B's row carrying the neighbour classes; mid-ranks from the run boundaries of equal values.
    s, less_s, eq_s = lax.sort((db, less.astype(jnp.int32), eq.astype(jnp.int32)), dimension=1, num_keys=1)
    pos = jnp.broadcast_to(jnp.arange(s.shape[1], dtype=jnp.int32), s.shape)
    is_start = jnp.concatenate([jnp.ones_like(s[:, :1], bool), s[:, 1:] != s[:, :-1]], axis=1)
    is_end = jnp.concatenate([s[:, 1:] != s[:, :-1], jnp.ones_like(s[:, :1], bool)], axis=1)
    start = lax.cummax(jnp.where(is_start, pos, 0), axis=1)
    end = lax.cummin(jnp.where(is_end, pos, s.shape[1]), axis=1, reverse=True)
    two_r = start + end + 2 if ties == "average" else 2 * start + 2
    hi, lo = _split_sum(eq_s, two_r)
    return jnp.stack([jnp.sum(less_s * two_r, axis=1, dtype=jnp.int32), hi, lo, m_less, m_eq])


@functools.partial(jax.jit, static_argnames=("n_valid", "k", "ties", "n_cand"))
def block_stats(dx, dy, self_cols, px, py, *, n_valid: int, k: int, ties: str, n_cand: int) -> jax.Array:
    """Both directions' statistics for one block of distance rows: ``[B, M]`` -> ``int32`` ``[2, 5, B]``.

    Args:
      dx, dy: ``[B, M]`` distances of the block's queries to the candidates, in X and in Y (``int32`` or a float
        dtype; integers must stay below the dtype's maximum, the sentinel).
      self_cols: ``int32`` ``[B]``: the column that is the query itself (excluded), ``-1`` for none.
      px, py: ``int32`` ``[M]`` tie-breaking priorities (:func:`priorities`; only ``ties="random"`` reads them).
      n_valid: columns ``>= n_valid`` are padding. k: neighbours. ties: ``"average"``, ``"min"`` or ``"random"``.
      n_cand: nearest candidates ranked by counting (:func:`n_candidates`); rows whose tie group is larger are
        redone by the exact count.

    Returns:
      ``[Δ(X→Y) rows, Δ(Y→X) rows]`` statistics, see the module docstring.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax.core.stats import block_stats
      >>> t = jnp.array([0.0, 1.0, 3.0, 6.0])
      >>> d = jnp.abs(t[:, None] - t[None, :])
      >>> z = jnp.zeros(4, jnp.int32)
      >>> block_stats(d, d, jnp.arange(4, dtype=jnp.int32), z, z, n_valid=4, k=1, ties="average", n_cand=3)[0]
      Array([[0, 0, 0, 0],
             [0, 0, 0, 0],
             [2, 2, 2, 2],
             [0, 0, 0, 0],
             [1, 1, 1, 1]], dtype=int32)
    """
    dx, dy = mask_self(dx, self_cols, n_valid), mask_self(dy, self_cols, n_valid)
    sxy, oxy = direction_fast(dx, dy, px, py, k=k, ties=ties, n_cand=n_cand)
    syx, oyx = direction_fast(dy, dx, py, px, k=k, ties=ties, n_cand=n_cand)
    stats = jnp.stack([sxy, syx])
    over = oxy | oyx
    b = dx.shape[0]
    r = min(EXACT_ROWS, b)
    todo = jnp.nonzero(over, size=-(-b // r) * r, fill_value=0)[0].astype(jnp.int32)  # overflowing rows first
    count = jnp.sum(over, dtype=jnp.int32)

    def exact(carry):  # r of the overflowing rows; the fill (row 0) is recomputed exactly too, which is harmless
        t, st = carry
        sel = lax.dynamic_slice_in_dim(todo, t * r, r)
        ax, ay = dx[sel], dy[sel]
        ex = jnp.stack([direction_exact(ax, ay, px, py, k=k, ties=ties),
                        direction_exact(ay, ax, py, px, k=k, ties=ties)])
        return t + 1, st.at[:, :, sel].set(ex)

    _, stats = lax.while_loop(lambda c: c[0] * r < count, exact, (jnp.int32(0), stats))
    return stats


def priorities(n_cols: int, ties: str, key) -> tuple[jax.Array, jax.Array]:
    """The tie-breaking priorities of the columns in X and in Y: ``int32`` ``[n_cols]`` each, a random permutation
    per space drawn from ``key`` for ``ties="random"`` (smaller first), zeros otherwise.
    """
    if ties != "random":
        z = jnp.zeros(n_cols, jnp.int32)
        return z, z
    kx, ky = jax.random.split(key)
    return (jax.random.permutation(kx, n_cols).astype(jnp.int32),
            jax.random.permutation(ky, n_cols).astype(jnp.int32))


def n_candidates(m: int, k: int) -> int:
    """Nearest candidates per row ranked by counting: a few more than ``k``, at most the ``m`` real columns."""
    return min(m, max(k + 3, 2 * k))
