r"""The permutation null of the Information Imbalance: many permutations from one ranking of each space.

Under the null hypothesis the pairing of the two spaces carries no information, so permuting the items of Y
against those of X leaves the distribution of Δ unchanged. This module draws ``P`` permutations and gives the
whole null distribution of both directions (mean, 2.5 % / 97.5 % quantiles, a permutation p-value), not one draw.

**Why it is cheap.** The neighbours of X do not move when Y's items are permuted. With the sparse neighbour weights
:math:`w^X_{ij}` (``N k`` non-zeros, more where the ``k``-th distance is tied), the mid-rank matrices
:math:`R^X, R^Y` and :math:`c = 2 / ((N-1) N k)`, a permutation ``p`` (Y's item ``p_i`` paired with X's item ``i``,
i.e. ``dy[p][:, p]``) and its inverse ``q = p^{-1}`` give

.. math::
   \Delta(X \to Y_p) = c \sum_{(i, j)} w^X_{ij}\, R^Y_{p_i p_j}, \qquad
   \Delta(Y_p \to X) = c \sum_{(a, b)} w^Y_{ab}\, R^X_{q_a q_b}.

Each space is ranked once, row by row in blocks: integer distances of a narrow range (Hamming) by counting (a
histogram per row), anything else by sorting. Every permutation is then one gather of ``nnz`` entries, done for a
chunk of permutations at a time (memory bounded). The ranks are kept doubled as integers (mid-ranks are
half-integers): each point's neighbour ranks are summed exactly as integers, then weighted and summed in float64.
Memory: the two rank matrices, ``N^2`` uint16 each (int32 from N = 32768), next to the distance matrices.

Semantics are those of :mod:`ii_jax.imbalance`: a point is never its own neighbour (the diagonal is ignored),
neighbours tied at the ``k``-th distance share the weight left, ranks are mid-ranks (``ties="average"``) or
``#smaller + 1`` (``ties="min"``). ``ties="random"`` is not supported, as for every resampling.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ii_jax import imbalance as _imb
from ii_jax import resample as _rs
from ii_jax.core.checks import check_k

__all__ = ["NullDistribution", "permutation_null", "permutation_null_from_distances", "null_from_values",
           "draw_permutations", "neighbour_weights", "mid_ranks", "NULL_TIES", "QUANTILES"]

#: The tie rules the permutation null supports.
NULL_TIES = ("average", "min")
#: The quantiles of :attr:`NullDistribution.quantiles`: a central 95 % band.
QUANTILES = (0.025, 0.975)

_BLOCK_ELEMENTS = 2**21  # distance entries sorted per row block (~80 MB of temporaries)
_GATHER_ELEMENTS = 2**22  # rank entries gathered per chunk of permutations (~50 MB of temporaries)
_COUNT = True  # integer matrices of a narrow range by counting (tests switch it off to compare with the sort)


class NullDistribution(NamedTuple):
    """The permutation null of both directions of Δ.

    Attributes:
      values: float64 ``[P, 2]``: (Δ(X→Y_p), Δ(Y_p→X)) for every permutation ``p``.
      mean: float64 ``[2]``: their mean over the permutations.
      std: float64 ``[2]``: their standard deviation (``ddof=1``; NaN for one permutation). The standard error of
        ``mean`` is ``std / sqrt(P)``.
      expected: float64 ``[2]``: the exact mean over *all* ``N!`` permutations: ``N/(N-1)`` for ``ties="average"``
        (see :func:`permutation_null_from_distances`); NaN where unknown (:func:`null_from_values` without it).
      quantiles: float64 ``[2, 2]``: per direction (rows), the 2.5 % and 97.5 % quantiles (columns) of ``values``
        (NumPy's linear interpolation).
      p_below: float64 ``[2]``: the permutation p-value of "Δ lies below the null":
        ``(1 + #{p: Δ_p <= observed}) / (P + 1)`` per direction; NaN without an observed Δ. Never below
        ``1 / (P + 1)``.
      observed: float64 ``[2]``: the Δ the p-values refer to (the identity pairing; NaN: none).
      n: N. permutations: P.
    """

    values: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    expected: np.ndarray
    quantiles: np.ndarray
    p_below: np.ndarray
    observed: np.ndarray
    n: int
    permutations: int


def null_from_values(values, *, n: int, observed=None, expected=None) -> NullDistribution:
    """A :class:`NullDistribution` from Δ's already computed under ``P`` permutations (e.g. through the engine).

    Args:
      values: ``[P, 2]`` (Δ(X→Y_p), Δ(Y_p→X)) per permutation.
      n: N, the number of points.
      observed: ``[2]`` the Δ of the true pairing, for ``p_below`` (``None``: NaN).
      expected: ``[2]`` (or a scalar) the exact null mean, if known (``None``: NaN).

    Returns:
      :class:`NullDistribution`.

    Examples:
      >>> from ii_jax.null import null_from_values
      >>> nd = null_from_values([[1.0, 0.9], [1.1, 1.0], [0.95, 1.05]], n=50, observed=[0.3, 1.0])
      >>> nd.mean.round(3).tolist(), nd.p_below.tolist()
      ([1.017, 0.983], [0.25, 0.75])
    """
    v = np.asarray(values, np.float64).reshape(-1, 2)
    if len(v) < 1:
        raise ValueError("a null distribution needs at least one permutation.")
    nan = np.full(2, np.nan)
    obs = nan if observed is None else np.broadcast_to(np.asarray(observed, np.float64), (2,)).copy()
    exp = nan if expected is None else np.broadcast_to(np.asarray(expected, np.float64), (2,)).copy()
    p_below = (1.0 + (v <= obs).sum(axis=0)) / (len(v) + 1.0)
    p_below[np.isnan(obs)] = np.nan
    return NullDistribution(v, v.mean(axis=0), _rs.replica_std(v, axis=0), exp,
                            np.quantile(v, QUANTILES, axis=0).T.copy(), p_below, obs, int(n), len(v))


def draw_permutations(key, n: int, permutations: int) -> np.ndarray:
    """The permutations of the null, int64 ``[P, N]``: row ``r`` is the ``r``-th ``rng.permutation(n)`` of a NumPy
    generator seeded from ``key``'s data (as every host-side draw of :mod:`ii_jax.resample`). Row ``r`` pairs Y's
    item ``p[r, i]`` with X's item ``i``.

    Examples:
      >>> import jax
      >>> from ii_jax.null import draw_permutations
      >>> p = draw_permutations(jax.random.key(0), 5, 3)
      >>> p.shape, sorted(p[0].tolist())
      ((3, 5), [0, 1, 2, 3, 4])
    """
    if key is None:
        raise ValueError("key is required: pass key=jax.random.key(seed) so the permutations are reproducible.")
    _check_permutations(permutations)
    return np.concatenate(list(_permutation_chunks(_rs._seed(key), int(n), int(permutations), int(permutations))))


def _permutation_chunks(rng: np.random.Generator, n: int, permutations: int, chunk: int):
    """``[C, N]`` chunks of the permutation stream (the same permutations whatever the chunk size)."""
    for c0 in range(0, permutations, chunk):
        yield np.stack([rng.permutation(n) for _ in range(min(chunk, permutations - c0))])


# ----------------------------------------------------------------------------------------------------------------
# One sort per space: sparse neighbour weights and doubled mid-ranks

def _check_matrix(name: str, d) -> np.ndarray:
    d = np.asarray(d)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"{name} must be a square [N, N] distance matrix, got shape {d.shape}.")
    if not (np.issubdtype(d.dtype, np.integer) or np.issubdtype(d.dtype, np.floating)):
        raise TypeError(f"{name} must be a real-valued distance matrix, got dtype {d.dtype}.")
    if np.issubdtype(d.dtype, np.floating) and not bool(np.isfinite(d).all()):
        raise ValueError(f"{name} contains NaN or Inf.")
    return d


def _check_ties(ties: str) -> None:
    _rs._check_ties(ties)  # the resampling's message for "random"
    if ties not in NULL_TIES:
        raise ValueError(f"ties must be one of {NULL_TIES}, got {ties!r}.")


def _rank_dtype(n: int):
    return np.uint16 if 2 * n <= np.iinfo(np.uint16).max else np.int32


class _Neighbours(NamedTuple):
    """Sparse neighbour weights, sorted by row: entry ``e`` is ``(rows[e], cols[e])`` with weight 1 where
    ``inside[e]`` (strictly inside the ``k``-th distance), else ``shared[rows[e]]`` (tied at it).
    """

    rows: np.ndarray
    cols: np.ndarray
    inside: np.ndarray
    shared: np.ndarray

    @property
    def weights(self) -> np.ndarray:
        return np.where(self.inside, 1.0, self.shared[self.rows])


def _counted_block(d: np.ndarray, i0: int, i1: int, k: int | None, ties: str | None):
    """Rows ``i0:i1`` of an integer matrix by counting: one histogram of each row's values (self taken out), whose
    running sum gives every value's ``#less`` and ``#less-or-equal``; no sort. ``None`` where the values of the block
    span too wide a range for that to be cheap.
    """
    n = d.shape[0]
    b = i1 - i0
    at = np.arange(b)
    self_col = np.arange(i0, i1)
    v = d[i0:i1].astype(np.int64)
    v[at, self_col] = v[at, (self_col + 1) % n]  # self stands in as another value of its row, taken out below
    lo = int(v.min())
    width = int(v.max()) - lo + 1
    if width > max(4 * n, 1024):
        return None
    v -= lo
    v += (at * width)[:, None]  # a value's bin in the block's histograms
    hist = np.bincount(v.ravel(), minlength=b * width)
    hist[v[at, self_col]] -= 1
    hist = hist.reshape(b, width)
    le = np.cumsum(hist, axis=1)  # #others <= value
    less = le - hist  # #others < value
    r2 = None
    if ties is not None:
        r2 = (less + le + 1 if ties == "average" else 2 * less + 2).reshape(-1)[v]
        r2[at, self_col] = 0
    if k is None:
        return r2, None
    kth = np.argmax(le >= k, axis=1)  # the k-th smallest value of each row (a bin)
    near = v <= (kth + at * width)[:, None]
    near[at, self_col] = False
    rr, cc = np.nonzero(near)
    inside = v[rr, cc] < kth[rr] + rr * width
    return r2, (rr + i0, cc, inside, (k - less[at, kth]) / hist[at, kth])


def _sorted_block(d: np.ndarray, i0: int, i1: int, k: int | None, ties: str | None):
    """Rows ``i0:i1`` by sorting each row without its diagonal entry: over the ``N - 1`` other points sorted by
    distance, ``start`` is the first sorted position of each point's tie group (= #strictly smaller) and ``end`` its
    last, so the doubled mid-rank is ``start + end + 2`` and the doubled min-rank ``2 start + 2``; the neighbours are
    the positions up to the end of the ``k``-th one's group.
    """
    n = d.shape[0]
    m, b = n - 1, i1 - i0
    pos = np.arange(m, dtype=np.int32 if m < 2**31 else np.int64)
    self_col = np.arange(i0, i1)
    keep = np.ones((b, n), bool)
    keep[np.arange(b), self_col] = False
    off = d[i0:i1][keep].reshape(b, m)  # row r without its diagonal entry
    order = np.argsort(off, axis=1)  # the order within ties does not matter
    s = np.take_along_axis(off, order, axis=1)
    new = np.ones((b, m), bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    last = np.ones((b, m), bool)
    last[:, :-1] = new[:, 1:]
    end = np.minimum.accumulate(np.where(last, pos, m - 1)[:, ::-1], axis=1)[:, ::-1]
    full = order + (order >= self_col[:, None])  # column in the full matrix
    r2 = None
    if ties is not None:
        r2 = np.zeros((b, n), np.int64)
        np.put_along_axis(r2, full, start + end + 2 if ties == "average" else 2 * start + 2, axis=1)
    if k is None:
        return r2, None
    less, top = start[:, k - 1], end[:, k - 1]  # #strictly inside the k-th distance, last tied position
    rr, tt = np.nonzero(pos[None, : int(top.max()) + 1] <= top[:, None])
    return r2, (rr + i0, full[rr, tt], tt < less[rr], (k - less) / (top - less + 1.0))


def _ranked_space(d: np.ndarray, k: int | None, ties: str | None):
    """One pass over ``d``'s rows in blocks (self left out): the sparse neighbour weights (``k`` given) and the
    doubled ranks ``[N, N]`` (``ties`` given; 0 on the diagonal). Integer matrices whose rows span a narrow range
    (Hamming distances) are counted (:func:`_counted_block`), the rest sorted (:func:`_sorted_block`); both give the
    same numbers.
    """
    n = d.shape[0]
    block = max(1, _BLOCK_ELEMENTS // n)
    ranks2 = None if ties is None else np.zeros((n, n), _rank_dtype(n))
    parts = []
    for i0 in range(0, n, block):
        i1 = min(n, i0 + block)
        got = _counted_block(d, i0, i1, k, ties) if np.issubdtype(d.dtype, np.integer) and _COUNT else None
        r2, nbrs = got if got is not None else _sorted_block(d, i0, i1, k, ties)
        if ranks2 is not None:
            ranks2[i0:i1] = r2
        parts.append(nbrs)
    if k is None:
        return None, ranks2
    return _Neighbours(*(np.concatenate(x) for x in zip(*parts, strict=True))), ranks2


def neighbour_weights(d, *, k: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The neighbour weights of every point as a sparse list, from an ``[N, N]`` distance matrix.

    ``w_ij = 1`` for the points strictly inside the ``k``-th smallest distance of row ``i`` and ``(k - #less) /
    #tied`` for the ``#tied`` points at it; the diagonal is ignored (self is never a neighbour). Every row's weights
    sum to ``k``.

    Args:
      d: ``[N, N]`` distances (any real dtype; only the order within rows matters). k: neighbours per point.

    Returns:
      ``(rows, cols, weights)``: int64, int64, float64 ``[nnz]``, sorted by row (``nnz >= N k``).

    Examples:
      >>> import numpy as np
      >>> from ii_jax.null import neighbour_weights
      >>> d = np.array([[0, 1, 1, 2], [1, 0, 2, 2], [1, 2, 0, 3], [2, 2, 3, 0]])
      >>> r, c, w = neighbour_weights(d)
      >>> r.tolist(), c.tolist(), w.tolist()
      ([0, 0, 1, 2, 3, 3], [1, 2, 0, 0, 0, 1], [0.5, 0.5, 1.0, 1.0, 0.5, 0.5])
    """
    d = _check_matrix("d", d)
    check_k(d.shape[0], k)
    w = _ranked_space(d, int(k), None)[0]
    return w.rows, w.cols, w.weights


def mid_ranks(d, *, ties: str = "average") -> np.ndarray:
    """The rank of every point ``j`` from every point ``i``, float64 ``[N, N]`` (0 on the diagonal).

    ``ties="average"``: ``#{l != i: d_il < d_ij} + (#{l != i: d_il == d_ij} + 1) / 2`` (``j`` counted among the
    equal; a mid-rank, so each row's ranks sum to ``N (N - 1) / 2``); ``ties="min"``: ``#{...<...} + 1``.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.null import mid_ranks
      >>> d = np.array([[0, 1, 1, 2], [1, 0, 2, 2], [1, 2, 0, 3], [2, 2, 3, 0]])
      >>> mid_ranks(d)[0].tolist(), mid_ranks(d, ties="min")[0].tolist()
      ([0.0, 1.5, 1.5, 3.0], [0.0, 1.0, 1.0, 3.0])
    """
    d = _check_matrix("d", d)
    _check_ties(ties)
    return _ranked_space(d, None, ties)[1] / 2.0


# ----------------------------------------------------------------------------------------------------------------
# The null

def _check_permutations(permutations) -> None:
    if isinstance(permutations, bool) or not isinstance(permutations, (int, np.integer)) or permutations < 1:
        raise ValueError(f"permutations must be an integer >= 1, got {permutations!r}.")


def _check(n: int, permutations: int, key, k: int, ties: str) -> None:
    if key is None:
        raise ValueError("key is required: pass key=jax.random.key(seed) so the permutations are reproducible.")
    _check_permutations(permutations)
    _check_ties(ties)
    check_k(n, k)


def _gathered(w: _Neighbours, r2: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """``sum_e w_e R[perm[rows_e], perm[cols_e]]`` for each row of ``perms`` ``[C, N]`` -> float64 ``[C]``.

    Per point, the doubled ranks of its neighbours inside and tied at the ``k``-th distance are summed as exact
    integers; only then are the tied ones weighted and the ``N`` points summed in float64, in a fixed order. So a
    permutation's value does not depend on the chunk, the row blocks or how the sort ordered tied entries.
    """
    n = r2.shape[0]
    g = r2.reshape(-1)[perms[:, w.rows] * n + perms[:, w.cols]].astype(np.int64)  # [C, nnz]
    starts = np.flatnonzero(np.r_[True, w.rows[1:] != w.rows[:-1]])  # every point has >= k neighbours
    inside = np.add.reduceat(np.where(w.inside, g, 0), starts, axis=1)
    tied = np.add.reduceat(g, starts, axis=1) - inside
    return (inside + w.shared * tied).sum(axis=1) / 2.0


def permutation_null_from_distances(dx, dy, *, permutations: int = 200, key, k: int = 1, ties: str = "average",
                                    observed=None) -> NullDistribution:
    r"""The permutation null of Δ from two ``[N, N]`` distance matrices: ``permutations`` random pairings of Y's items
    with X's, both directions, from one sort of each matrix (see the module docstring).

    Permutation ``p`` (row ``p`` of :func:`draw_permutations`) gives exactly ``imbalance_from_distances(dx,
    dy[p][:, p])``: Δ(X→Y_p) and Δ(Y_p→X).

    **The exact null mean.** For a uniformly random ``p`` and ``i != j``, ``(p_i, p_j)`` is uniform over the
    ``N (N - 1)`` ordered pairs of distinct points, so :math:`E[R^Y_{p_i p_j}] = \bar R^Y`, the mean rank off the
    diagonal. Mid-ranks keep each row's rank sum ``1 + ... + (N - 1) = N (N - 1) / 2``, so :math:`\bar R = N/2`;
    the weights sum to ``N k``. Hence

    .. math::
       E[\Delta(X \to Y_p)] = \frac{2}{(N-1) N k} \cdot N k \cdot \frac{N}{2} = \frac{N}{N-1},

    and the same for Δ(Y_p→X), whatever the two spaces (``expected``). With ``ties="min"`` tied ranks are lowered,
    and ``expected`` is the exact :math:`2 \bar R / (N - 1)` of each direction's ranked space (``N/(N-1)`` without
    ties).

    Args:
      dx, dy: ``[N, N]`` distances of the two spaces over the same items in the same order (any real dtype, NumPy
        or JAX; only the order within rows matters; the diagonal is ignored).
      permutations: P >= 1 random pairings. key: PRNG key (the permutations: :func:`draw_permutations`).
      k: neighbours (``1 <= k < N - 1``). ties: ``"average"`` or ``"min"`` (``"random"`` is not supported).
      observed: ``[2]`` the observed (Δ(X→Y), Δ(Y→X)) for ``p_below``; default: computed here, by the same identity
        with the identity permutation (equal to :func:`ii_jax.imbalance_from_distances`).

    Returns:
      :class:`NullDistribution` (``values [P, 2]``, ``quantiles [2, 2]``, ``p_below [2]``, float64).

    Examples:
      >>> import jax, numpy as np
      >>> from ii_jax.null import permutation_null_from_distances
      >>> t = np.random.default_rng(0).normal(size=(60, 2))
      >>> d = ((t[:, None] - t[None]) ** 2).sum(-1)   # the plane
      >>> e = np.abs(t[:, None, 0] - t[None, :, 0])    # its first coordinate
      >>> nd = permutation_null_from_distances(d, e, permutations=99, key=jax.random.key(0))
      >>> nd.values.shape, nd.quantiles.shape, nd.expected.round(4).tolist()
      ((99, 2), (2, 2), [1.0169, 1.0169])
      >>> nd.p_below.tolist()  # both directions far below every permutation: p = 1 / (P + 1)
      [0.01, 0.01]
    """
    dx, dy = _check_matrix("dx", dx), _check_matrix("dy", dy)
    n = dx.shape[0]
    if dy.shape != dx.shape:
        raise ValueError(f"dx and dy must be distances over the same N points, got shapes {dx.shape} and "
                         f"{dy.shape}.")
    _check(n, permutations, key, k, ties)
    k = int(k)
    wx, rx = _ranked_space(dx, k, ties)
    wy, ry = _ranked_space(dy, k, ties)
    c = 2.0 / ((n - 1) * n * k)
    if observed is None:
        ident = np.arange(n)[None]
        observed = c * np.array([_gathered(wx, ry, ident)[0], _gathered(wy, rx, ident)[0]])
    chunk = max(1, _GATHER_ELEMENTS // max(len(wx.rows), len(wy.rows)))
    vals = []
    for p in _permutation_chunks(_rs._seed(key), n, int(permutations), chunk):
        q = np.argsort(p, axis=1)
        vals.append(c * np.stack([_gathered(wx, ry, p), _gathered(wy, rx, q)], axis=1))
    expected = np.full(2, n / (n - 1))
    if ties == "min":  # 2 mean(R) / (N - 1), R off the diagonal (held doubled; integer sums, exact in float64)
        expected = np.array([r.sum(dtype=np.float64) / (n * (n - 1)) for r in (ry, rx)]) / (n - 1)
    return null_from_values(np.concatenate(vals), n=n, observed=observed, expected=expected)


def permutation_null(x, y, *, permutations: int = 200, key, metric: str = "hamming", k: int = 1,
                     ties: str = "average") -> NullDistribution:
    """The permutation null of Δ between two spaces given as features: their two ``[N, N]`` distance matrices
    (:func:`ii_jax.imbalance.distance_matrix`), then :func:`permutation_null_from_distances`.

    Args:
      x, y: the two spaces as for :func:`ii_jax.information_imbalance` (packed ``uint32`` bits ``[N, W]`` for
        ``"hamming"``, float ``[N, D]`` for a float metric), the same N items in the same order.
      permutations, key, k, ties: as :func:`permutation_null_from_distances`. metric: the distance of both spaces.

    Returns:
      :class:`NullDistribution`; ``observed`` is Δ of the true pairing.

    Examples:
      >>> import jax
      >>> from ii_jax import binarize, pack_bits
      >>> from ii_jax.null import permutation_null
      >>> a = jax.random.normal(jax.random.key(1), (300, 128))
      >>> x, y = pack_bits(binarize(a)), pack_bits(binarize(a[:, :64]))
      >>> nd = permutation_null(x, y, permutations=200, key=jax.random.key(0))
      >>> bool(abs(nd.mean - nd.expected).max() < 0.02), bool(nd.p_below.max() < 0.01)
      (True, True)
    """
    if np.shape(x)[0] != np.shape(y)[0]:
        raise ValueError(f"x and y must hold the same N points, got {np.shape(x)[0]} and {np.shape(y)[0]}.")
    _check(int(np.shape(x)[0]), permutations, key, k, ties)  # before the distance work
    dx, dy = (_imb.distance_matrix(a, metric=metric) for a in (x, y))
    return permutation_null_from_distances(dx, dy, permutations=permutations, key=key, k=k, ties=ties)
