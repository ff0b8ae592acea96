r"""The traceable Information Imbalance: pure functions of arrays, usable under ``jax.jit``, ``jax.vmap`` and
``shard_map``, returning jax Arrays.

Three layouts of queries and candidates, one set of semantics (:mod:`ii_jax.core.stats`):

* **one sample** (default): N points, each ranked against the ``m = N - 1`` others,
  :math:`\Delta(X \to Y) = \frac{2}{N-1}\,\frac{1}{N k}\sum_i \sum_j w^X_{ij}\, r^Y_{ij}`, the value of
  :func:`ii_jax.information_imbalance`;
* **queries against candidates** (``candidates=(xc, yc)``): Q new points ranked against a reference set of
  ``m = M`` candidates that does not contain them (Δ of new points against a reference),
  :math:`\Delta = \frac{2}{M}\,\frac{1}{Q k}\sum_i \sum_j w^X_{ij}\, r^Y_{ij}` with ranks ``1..M`` among the
  candidates: ``2/M`` for a perfect predictor (``k = 1``), about ``(M + 1)/M`` for an uninformative one. With
  ``query_ids`` the queries are candidates themselves (query ``i`` is candidate ``query_ids[i]``, left out of its
  own ranking, ``m = M - 1``): rows of one sample, e.g. one device's share of them;
* **the rows/columns split** (``split=True``): one sample of N points split at random into ``N // 2`` queries and
  ``N - N // 2`` candidates (:func:`split_rows_columns`), as the paper authors' later JAX code (``geometry.py`` of
  acevedo-s/syn-sem) does; the same normalisation as queries against candidates, ``2/M`` with
  ``M = N - N // 2``. That code reports :math:`2(\bar r - 1)/(M - 2)` from ``min`` ranks (``k = 1``), which is
  :math:`(M\Delta - 2)/(M - 2)` of this Δ where the nearest neighbours are unique.

Everything is exact: per-row integer statistics (:func:`row_stats`, ``int32`` ``[2, 5, Q]``) and an exact
integer finish (:mod:`ii_jax.core.finish`). Memory is ``O(Q_block · M)``: the queries go through
``lax.map`` in blocks of ``block_size`` rows, each block's distances to every candidate computed there and then.
Shapes are static; options (``metric``, ``k``, ``ties``, ``block_size``, ``kernel``, ``split``) are Python values.
Inputs are checked by dtype and shape only (inside ``jit`` values cannot be checked): distances must be finite,
integers below ``2^31 - 1``.

The host driver (:func:`ii_jax.information_imbalance` and the rest of the public API) runs the same row statistics
and the same finish, and on CPU the native kernels that give the same integers: with x64 enabled, this core's
values equal the host's bit for bit; in float32 they are those values rounded.
"""
from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ii_jax.core import checks as _checks
from ii_jax.core import finish as _finish
from ii_jax.core import stats as _stats
from ii_jax.distances import registry as _reg
from ii_jax.distances.kernels import float_tile, normalize_rows

__all__ = ["imbalance", "pointwise", "row_stats", "imbalance_from_distances", "pointwise_from_distances",
           "row_stats_from_distances", "split_rows_columns", "default_block"]


def default_block(m: int) -> int:
    """Query rows per block against ``m`` candidates: up to 256, fewer for large ``m`` (about 16M distances)."""
    return int(min(256, max(8, 2 ** math.floor(math.log2(max(8, 16_000_000 // max(m, 1)))))))


def split_rows_columns(key, n: int) -> tuple[jax.Array, jax.Array]:
    """A random split of ``n`` points into ``n // 2`` query rows and ``n - n // 2`` candidate columns.

    The split of the paper authors' ``separate_samples`` (acevedo-s/syn-sem ``geometry.py``): uniformly random and
    disjoint (the same distribution, not the same draws).

    Returns:
      ``(rows, cols)``: ``int32`` ``[n // 2]`` and ``[n - n // 2]``, together a permutation of ``0..n-1``.

    Examples:
      >>> import jax
      >>> from ii_jax.core import split_rows_columns
      >>> rows, cols = split_rows_columns(jax.random.key(0), 7)
      >>> rows.shape, cols.shape, sorted(rows.tolist() + cols.tolist()) == list(range(7))
      ((3,), (4,), True)
    """
    perm = jax.random.permutation(key, n).astype(jnp.int32)
    return perm[: n // 2], perm[n // 2:]


# ----------------------------------------------------------------------------------------------------------------
# Layouts: which rows are queries, which are candidates, which candidate each query is.


class _Layout(NamedTuple):
    """Queries, candidates and the static facts about them, resolved in Python before tracing."""

    xq: Any
    yq: Any
    xc: Any
    yc: Any
    self_ids: Any  # int32 [Q]: each query's own column, or None
    m: int  # candidates per query
    key: Any  # the key left for ties="random"
    square: bool = False  # one sample, every point against the others


def _layout(x, y, *, candidates, query_ids, split: bool, key, ties: str, rows_only: bool) -> _Layout:
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x and y must hold the same points (rows), got {n} and {y.shape[0]}.")
    if split:
        if candidates is not None or query_ids is not None:
            raise ValueError("split=True splits one sample: pass neither candidates (rectangular) nor query_ids.")
        if key is None:
            raise ValueError("split=True draws the split from a PRNG key: pass key=jax.random.key(seed).")
        if n < 4:
            raise ValueError(f"split=True needs at least N=4 points, got N={n}.")
        k_split, k_ties = jax.random.split(key)
        rows, cols = split_rows_columns(k_split, n)
        if rows_only:  # distances: the block of rows x columns
            return _Layout(x[rows][:, cols], y[rows][:, cols], None, None, None, n - n // 2,
                           k_ties if ties == "random" else None)
        return _Layout(x[rows], y[rows], x[cols], y[cols], None, n - n // 2, k_ties if ties == "random" else None)
    if candidates is None:
        if query_ids is not None:
            raise ValueError("query_ids name the queries among separate candidates: pass candidates too.")
        if rows_only and x.shape[0] != x.shape[1]:
            raise ValueError(f"one sample's distances must be square [N, N], got {x.shape}; pass rectangular=True "
                             "for queries against candidates.")
        ids = jnp.arange(n, dtype=jnp.int32)
        return _Layout(x, y, None if rows_only else x, None if rows_only else y, ids, n - 1, key, True)
    if rows_only:
        m = x.shape[1]
    else:
        if not (isinstance(candidates, (tuple, list)) and len(candidates) == 2):
            raise TypeError("candidates must be a pair (xc, yc) of the candidates' representations in X and in Y.")
        xc, yc = candidates
        if xc.shape[0] != yc.shape[0]:
            raise ValueError(f"the candidates xc and yc must hold the same points, got {xc.shape[0]} and "
                             f"{yc.shape[0]}.")
        m = xc.shape[0]
    ids = None
    if query_ids is not None:
        ids = jnp.asarray(query_ids)
        if ids.shape != (n,) or not jnp.issubdtype(ids.dtype, jnp.integer):
            raise ValueError(f"query_ids must be integers [Q] = [{n}] (each query's index among the candidates), "
                             f"got shape {ids.shape} and dtype {ids.dtype}.")
        ids = ids.astype(jnp.int32)
        m -= 1
    if rows_only:
        return _Layout(x, y, None, None, ids, m, key)
    return _Layout(x, y, xc, yc, ids, m, key)


def _check_common(lay: _Layout, k: int, ties: str, key) -> None:
    if lay.square:
        _checks.check_k(lay.m + 1, k)  # one sample: the host API's message
    else:
        _checks.check_candidates(lay.m, k)
    _checks.check_ties(ties, key)
    _finish.check_exact_range(lay.xq.shape[0], lay.m, k)


# ----------------------------------------------------------------------------------------------------------------
# Distances of a block of queries to every candidate, inside the trace.


def _traced_kernel(kernel: str | None, n_bits: int) -> str:
    """A traceable Hamming kernel on 32-bit words: the backend's default where it is one, else ``"popcount32"``.
    A host kernel (``"native"``) or a 64-bit one (``"popcount"``) becomes ``"popcount32"``: the same integers,
    without 64-bit types inside the caller's trace.
    """
    if kernel is None:
        kernel = _reg.default_kernel()
    k = _reg.get_kernel(kernel)
    if k.tile is None or k.word_bits != 32:
        return "popcount32"
    if k.max_bits is not None and n_bits >= k.max_bits:
        raise ValueError(f"kernel={kernel!r} is exact only below 2^{k.max_bits.bit_length() - 1} bits, got "
                         f"{n_bits} bits; use 'matmul'.")
    return kernel


def _check_space(name: str, q, c, metric: str):
    """Validated (queries, candidates) of one space, by dtype and shape only."""
    for nm, a in ((name, q), (f"{name}c", c)):
        if a.ndim != 2:
            raise ValueError(f"{nm} must have shape [N, W] (packed words) or [N, D] (floats), got {a.shape}.")
    if metric == "hamming":
        for nm, a in ((name, q), (f"{name}c", c)):
            if a.dtype != jnp.uint32:
                raise TypeError(f"{nm} must be packed uint32 words [N, W] for metric='hamming' (use "
                                f"pack_bits(binarize(acts)), or a float metric), got dtype {a.dtype}.")
    else:
        for nm, a in ((name, q), (f"{name}c", c)):
            if not jnp.issubdtype(a.dtype, jnp.floating):
                raise TypeError(f"{nm} must be a float array for metric={metric!r}, got dtype {a.dtype}.")
        q, c = q.astype(jnp.float32), c.astype(jnp.float32)
    if q.shape[1] != c.shape[1]:
        raise ValueError(f"the queries and candidates of {name} must have the same width, got {q.shape[1]} and "
                         f"{c.shape[1]}.")
    return q, c


def _operands(q, c, kind: str):
    """Rows ``[Q, F]``, row norms ``[Q]``, feature-major candidates ``[F, M]`` and their norms ``[M]``."""
    if kind in ("cosine",):
        q, c = normalize_rows(q), normalize_rows(c)
    if kind in ("sqeuclidean", "cosine"):
        return q, jnp.sum(q * q, axis=1), c.T, jnp.sum(c * c, axis=1)
    return q, jnp.zeros(q.shape[0], jnp.float32), c.T, jnp.zeros(c.shape[0], jnp.float32)


def _distances(rows, row_aux, cols, col_aux, kind: str):
    if kind in ("sqeuclidean", "cosine"):
        return float_tile(rows, cols, row_aux, col_aux, kind)
    return _reg.get_kernel(kind).tile(rows, cols)


def _blocks(a, block: int, fill=0):
    """``[Q, ...]`` -> ``[ceil(Q / block), block, ...]``, padded with ``fill``."""
    q = a.shape[0]
    nb = -(-q // block)
    pad = [(0, nb * block - q)] + [(0, 0)] * (a.ndim - 1)
    return jnp.pad(a, pad, constant_values=fill).reshape((nb, block) + a.shape[1:])


def _unblock(st, q: int):
    """``[nb, 2, 5, block]`` -> ``[2, 5, q]``."""
    nb, _, _, b = st.shape
    return jnp.transpose(st, (1, 2, 0, 3)).reshape(2, 5, nb * b)[:, :, :q]


@functools.partial(jax.jit, static_argnames=("kx", "ky", "k", "ties", "n_cand", "block"))
def _stats_features(xq, yq, xc, yc, self_ids, px, py, *, kx, ky, k, ties, n_cand, block):
    q, m_cols = xq.shape[0], xc.shape[0]
    rx, rxa, cx, cxa = _operands(xq, xc, kx)
    ry, rya, cy, cya = _operands(yq, yc, ky)

    def step(blk):
        bx, bxa, by, bya, ids = blk
        dx = _distances(bx, bxa, cx, cxa, kx)
        dy = _distances(by, bya, cy, cya, ky)
        return _stats.block_stats(dx, dy, ids, px, py, n_valid=m_cols, k=k, ties=ties, n_cand=n_cand)

    parts = (_blocks(rx, block), _blocks(rxa, block), _blocks(ry, block), _blocks(rya, block),
             _blocks(self_ids, block, -1))
    return _unblock(lax.map(step, parts), q)


@functools.partial(jax.jit, static_argnames=("k", "ties", "n_cand", "block"))
def _stats_distances(dx, dy, self_ids, px, py, *, k, ties, n_cand, block):
    q, m_cols = dx.shape

    def step(blk):
        bx, by, ids = blk
        return _stats.block_stats(bx, by, ids, px, py, n_valid=m_cols, k=k, ties=ties, n_cand=n_cand)

    return _unblock(lax.map(step, (_blocks(dx, block), _blocks(dy, block), _blocks(self_ids, block, -1))), q)


def _kind(metric: str, kernel: str | None, width: int) -> str:
    if metric == "hamming":
        return _traced_kernel(kernel, 32 * width)
    return "sqeuclidean" if metric == "euclidean" else metric  # Euclidean ranks by the squared distance


def _row_stats(x, y, *, metric, k, ties, key, candidates, query_ids, split, block_size, kernel):
    """Validated features -> (``int32`` ``[2, 5, Q]``, m)."""
    _checks.check_metric(metric)
    x, y = jnp.asarray(x), jnp.asarray(y)
    if candidates is not None and not split:
        candidates = tuple(jnp.asarray(c) for c in candidates) if isinstance(candidates, (tuple, list)) \
            else candidates
    lay = _layout(x, y, candidates=candidates, query_ids=query_ids, split=split, key=key, ties=ties,
                  rows_only=False)
    _check_common(lay, k, ties, key)
    xq, xc = _check_space("x", lay.xq, lay.xc, metric)
    yq, yc = _check_space("y", lay.yq, lay.yc, metric)
    m_cols, q = xc.shape[0], xq.shape[0]
    ids = jnp.full(q, -1, jnp.int32) if lay.self_ids is None else lay.self_ids
    px, py = _stats.priorities(m_cols, ties, lay.key)
    block = int(min(block_size or default_block(m_cols), q))
    st = _stats_features(xq, yq, xc, yc, ids, px, py, kx=_kind(metric, kernel, xq.shape[1]),
                         ky=_kind(metric, kernel, yq.shape[1]), k=int(k), ties=ties,
                         n_cand=_stats.n_candidates(lay.m, int(k)), block=block)
    return st, lay.m


def _check_distances(name: str, d):
    if d.ndim != 2:
        raise ValueError(f"{name} must be a [Q, M] distance matrix, got shape {d.shape}.")
    if jnp.issubdtype(d.dtype, jnp.integer):
        return d.astype(jnp.int32)
    if not jnp.issubdtype(d.dtype, jnp.floating):
        raise TypeError(f"{name} must be a real-valued distance matrix, got dtype {d.dtype}.")
    return d if d.dtype.itemsize >= 4 else d.astype(jnp.float32)


def _row_stats_distances(dx, dy, *, k, ties, key, rectangular, query_ids, split, block_size):
    """Validated distances -> (``int32`` ``[2, 5, Q]``, m)."""
    dx, dy = _check_distances("dx", jnp.asarray(dx)), _check_distances("dy", jnp.asarray(dy))
    if dx.shape != dy.shape:
        raise ValueError(f"dx and dy must have the same shape (the same queries and candidates), got {dx.shape} "
                         f"and {dy.shape}.")
    if dx.dtype != dy.dtype:
        dx, dy = (d.astype(jnp.result_type(dx.dtype, dy.dtype)) for d in (dx, dy))
    if split and dx.shape[0] != dx.shape[1]:
        raise ValueError(f"split=True splits one sample's square [N, N] distances, got {dx.shape}.")
    if not rectangular and not split and query_ids is not None:
        raise ValueError("query_ids name the queries among the columns: pass rectangular=True too.")
    lay = _layout(dx, dy, candidates=True if rectangular else None, query_ids=query_ids, split=split, key=key,
                  ties=ties, rows_only=True)
    _check_common(lay, k, ties, key)
    q, m_cols = lay.xq.shape
    ids = jnp.full(q, -1, jnp.int32) if lay.self_ids is None else lay.self_ids
    px, py = _stats.priorities(m_cols, ties, lay.key)
    block = int(min(block_size or default_block(m_cols), q))
    st = _stats_distances(lay.xq, lay.yq, ids, px, py, k=int(k), ties=ties,
                          n_cand=_stats.n_candidates(lay.m, int(k)), block=block)
    return st, lay.m


# ----------------------------------------------------------------------------------------------------------------
# The public functions





def row_stats(x, y, *, metric: str = "hamming", k: int = 1, ties: str = "average", key=None, candidates=None,
              query_ids=None, split: bool = False, block_size: int | None = None,
              kernel: str | None = None) -> jax.Array:
    """The exact per-query statistics of both directions, ``int32`` ``[2, 5, Q]`` (see :mod:`ii_jax.core.stats`).

    :func:`ii_jax.core.delta_from_stats` and :func:`ii_jax.core.pointwise_from_stats` finish them, with ``m``
    the candidates per query (``N - 1`` for one sample). Rows from several devices or chunks concatenate
    along the last axis before the finish. Arguments as :func:`imbalance`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from ii_jax import binarize, core, pack_bits
      >>> acts = jax.random.normal(jax.random.key(0), (50, 64))
      >>> x, y = pack_bits(binarize(acts)), pack_bits(binarize(acts[:, :32]))
      >>> halves = [core.row_stats(x[rows], y[rows], candidates=(x, y), query_ids=rows)  # e.g. per device
      ...           for rows in (jnp.arange(25), jnp.arange(25, 50))]
      >>> merged = core.delta_from_stats(jnp.concatenate(halves, axis=-1), k=1, m=49)
      >>> bool((merged == core.imbalance(x, y)).all())  # the rows of one sample, in two shares
      True
    """
    return _row_stats(x, y, metric=metric, k=k, ties=ties, key=key, candidates=candidates, query_ids=query_ids,
                      split=split, block_size=block_size, kernel=kernel)[0]


def imbalance(x, y, *, metric: str = "hamming", k: int = 1, ties: str = "average", key=None, candidates=None,
              query_ids=None, split: bool = False, block_size: int | None = None,
              kernel: str | None = None) -> jax.Array:
    r"""Information Imbalance, both directions: ``[2]`` = (Δ(X→Y), Δ(Y→X)), traceable.

    .. math:: \Delta(X \to Y) = \frac{2}{m}\,\frac{1}{Q k} \sum_i \sum_j w^X_{ij}\, r^Y_{ij}

    with ``Q`` queries and ``m`` candidates per query (``m = N - 1``, ``Q = N`` for one sample: the value of
    :func:`ii_jax.information_imbalance`).

    Args:
      x: the queries in space X: packed ``uint32`` ``[N, Wx]`` for ``metric="hamming"``
        (``pack_bits(binarize(acts))``), float ``[N, Dx]`` for the float metrics.
      y: the same points in space Y, ``[N, Wy]`` or ``[N, Dy]`` (the widths may differ).
      metric: ``"hamming"`` (default), ``"euclidean"``, ``"sqeuclidean"`` or ``"cosine"``.
      k: neighbours per point, ``1 <= k < m`` (``m`` candidates per query).
      ties: ``"average"`` (default: mid-ranks, tied neighbours share their weight), ``"min"`` or ``"random"``
        (needs ``key``).
      key: PRNG key: the tie-breaking priorities of ``ties="random"`` and the split of ``split=True``.
      candidates: ``None`` (default): one sample, every point against the N - 1 others; or ``(xc, yc)``, the
        candidates' representations (``[M, Wx]``, ``[M, Wy]``): ``x`` and ``y`` are queries ranked against them.
      query_ids: with ``candidates``: ``int`` ``[N]``, the index of each query among the candidates (left out of
        its own ranking).
      split: ``True``: the rows/columns split of one sample (see the module docstring); needs ``key``.
      block_size: query rows per step of the ``lax.map`` (default: up to 256, chosen from the candidates).
      kernel: Hamming kernel of :mod:`ii_jax.distances` (default: the backend's traceable 32-bit kernel,
        ``"popcount32"`` on CPU, ``"matmul"`` on accelerators).

    Returns:
      ``[2]`` in the default float dtype (float32; float64 where x64 is enabled). References: Glielmo et al.,
      "Ranking the information content of distance measures", PNAS Nexus 2022, https://arxiv.org/abs/2104.15079;
      the split: Acevedo et al., acevedo-s/syn-sem ``geometry.py``.

    Examples:
      >>> import jax
      >>> from ii_jax import binarize, core, information_imbalance, pack_bits
      >>> acts = jax.random.normal(jax.random.key(0), (4, 100, 256))  # 4 layers of 100 points
      >>> x, y = pack_bits(binarize(acts)), pack_bits(binarize(acts[..., :128]))
      >>> per_layer = jax.jit(jax.vmap(lambda a, b: core.imbalance(a, b, k=2)))(x, y)  # one program
      >>> per_layer.shape
      (4, 2)
      >>> r = information_imbalance(x[2], y[2], k=2)  # the host driver, on layer 2
      >>> print(f"{r.x_to_y:.6f} {float(per_layer[2, 0]):.6f}")
      0.222622 0.222622
    """
    st, m = _row_stats(x, y, metric=metric, k=k, ties=ties, key=key, candidates=candidates, query_ids=query_ids,
                       split=split, block_size=block_size, kernel=kernel)
    return _finish.delta_from_stats(st, k=int(k), m=m)


def pointwise(x, y, *, metric: str = "hamming", k: int = 1, ties: str = "average", key=None, candidates=None,
              query_ids=None, split: bool = False, block_size: int | None = None,
              kernel: str | None = None) -> jax.Array:
    """Per-query values of both directions, ``[2, Q]``; their mean over queries is :func:`imbalance`.

    Query ``i``'s value is ``2/m`` times the (weighted) mean rank in one space of its nearest neighbours in the
    other. Arguments as :func:`imbalance`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax.core import imbalance, pointwise
      >>> x = jnp.array([[0.0], [1.0], [3.0], [6.0], [10.0]])
      >>> p = pointwise(x, x ** 3, metric="euclidean")  # a monotone map: every neighbour keeps rank 1
      >>> p
      Array([[0.5, 0.5, 0.5, 0.5, 0.5],
             [0.5, 0.5, 0.5, 0.5, 0.5]], dtype=float32)
    """
    st, m = _row_stats(x, y, metric=metric, k=k, ties=ties, key=key, candidates=candidates, query_ids=query_ids,
                       split=split, block_size=block_size, kernel=kernel)
    return _finish.pointwise_from_stats(st, k=int(k), m=m)


def row_stats_from_distances(dx, dy, *, k: int = 1, ties: str = "average", key=None, rectangular: bool = False,
                             query_ids=None, split: bool = False, block_size: int | None = None) -> jax.Array:
    """:func:`row_stats` from precomputed distances: ``int32`` ``[2, 5, Q]``. Arguments as
    :func:`imbalance_from_distances`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax.core import row_stats_from_distances
      >>> t = jnp.array([0.0, 1.0, 3.0, 6.0])
      >>> d = jnp.abs(t[:, None] - t[None, :])
      >>> row_stats_from_distances(d, d)[0]  # [sum of 2r strict, tied (hi, lo), m_less, m_eq] per point
      Array([[0, 0, 0, 0],
             [0, 0, 0, 0],
             [2, 2, 2, 2],
             [0, 0, 0, 0],
             [1, 1, 1, 1]], dtype=int32)
    """
    return _row_stats_distances(dx, dy, k=k, ties=ties, key=key, rectangular=rectangular, query_ids=query_ids,
                                split=split, block_size=block_size)[0]


def imbalance_from_distances(dx, dy, *, k: int = 1, ties: str = "average", key=None, rectangular: bool = False,
                             query_ids=None, split: bool = False, block_size: int | None = None) -> jax.Array:
    """:func:`imbalance` from precomputed distances: ``[2]``.

    Only the order of distances within each row matters.

    Args:
      dx: distances in space X: ``[N, N]`` for one sample (the diagonal is ignored), or ``[Q, M]`` queries
        against candidates with ``rectangular=True``; ``int32`` or a float dtype, finite.
      dy: the same in space Y, same shape.
      k, ties, key: as :func:`imbalance`.
      rectangular: ``True``: rows are queries, columns candidates (nothing left out unless ``query_ids``).
      query_ids: with ``rectangular``: ``int`` ``[Q]``, the column of each query itself.
      split: ``True``: split one sample's square matrices into a random half of rows and the other half of
        columns (:func:`split_rows_columns`); needs ``key``.
      block_size: rows per step (default: chosen from the columns).

    Returns:
      ``[2]`` in the default float dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax.core import imbalance_from_distances
      >>> t = jnp.array([0.0, 1.0, 3.0, 6.0, 10.0, 15.0])
      >>> d = jnp.abs(t[:, None] - t[None, :])
      >>> imbalance_from_distances(d, jnp.abs(jnp.sin(t)[:, None] - jnp.sin(t)[None, :]))
      Array([1.4666667, 1.1      ], dtype=float32)
      >>> imbalance_from_distances(d[:3, 3:], d[:3, 3:] ** 2, rectangular=True)  # 3 queries, 3 candidates
      Array([0.6666667, 0.6666667], dtype=float32)
    """
    st, m = _row_stats_distances(dx, dy, k=k, ties=ties, key=key, rectangular=rectangular, query_ids=query_ids,
                                 split=split, block_size=block_size)
    return _finish.delta_from_stats(st, k=int(k), m=m)


def pointwise_from_distances(dx, dy, *, k: int = 1, ties: str = "average", key=None, rectangular: bool = False,
                             query_ids=None, split: bool = False, block_size: int | None = None) -> jax.Array:
    """:func:`pointwise` from precomputed distances: ``[2, Q]``. Arguments as :func:`imbalance_from_distances`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax.core import pointwise_from_distances
      >>> t = jnp.array([0.0, 1.0, 3.0, 6.0])
      >>> d = jnp.abs(t[:, None] - t[None, :])
      >>> pointwise_from_distances(d, d)
      Array([[0.6666667, 0.6666667, 0.6666667, 0.6666667],
             [0.6666667, 0.6666667, 0.6666667, 0.6666667]], dtype=float32)
    """
    st, m = _row_stats_distances(dx, dy, k=k, ties=ties, key=key, rectangular=rectangular, query_ids=query_ids,
                                 split=split, block_size=block_size)
    return _finish.pointwise_from_stats(st, k=int(k), m=m)

