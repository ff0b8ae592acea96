"""Baselines the Information Imbalance is compared with: linear CKA and mutual k-NN overlap.

Both take float features ``x: [N, Dx]`` and ``y: [N, Dy]`` whose rows are the same N items, and are
symmetric in ``x`` and ``y`` (which is exactly what the Information Imbalance is not).

References:
  Kornblith, Norouzi, Lee, Hinton, "Similarity of Neural Network Representations Revisited", ICML 2019,
  https://arxiv.org/abs/1905.00414 (linear CKA).
  Song, Smola, Gretton, Bedo, Borgwardt, "Feature Selection via Dependence Maximization", JMLR 13 (2012)
  (the unbiased HSIC estimator behind ``debiased=True``).
  Huh, Cheung, Wang, Isola, "The Platonic Representation Hypothesis", ICML 2024,
  https://arxiv.org/abs/2405.07987 (mutual k-NN alignment, ``platonic-rep``'s ``mutual_knn``).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["cka", "cka_from_grams", "mutual_knn", "mutual_knn_from_distances", "clip_and_normalize",
           "PAPER_QUANTILES"]

_HIGHEST = lax.Precision.HIGHEST
#: The paper's clipping quantiles (Supp. F, G: "quantiles of order 0.05% and 95%").
PAPER_QUANTILES = (0.0005, 0.95)


def _check_pair(fn: str, x, y, *, min_n: int) -> tuple[jax.Array, jax.Array]:
    x, y = jnp.asarray(x), jnp.asarray(y)
    for name, a in (("x", x), ("y", y)):
        if not jnp.issubdtype(a.dtype, jnp.floating):
            raise TypeError(f"{fn}: {name} must be a float array, got dtype {a.dtype}.")
        if a.ndim != 2:
            raise ValueError(f"{fn}: {name} must have shape [N, D], got shape {a.shape}.")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{fn}: x and y need the same number of rows (items), got {x.shape[0]} and {y.shape[0]}.")
    if x.shape[0] < min_n:
        raise ValueError(f"{fn}: need at least {min_n} items, got {x.shape[0]}.")
    return x, y


# ----------------------------------------------------------------------------------------------------------
# CKA


def _row_blocks(a: jax.Array, block: int) -> jax.Array:
    pad = (-a.shape[0]) % block
    a = jnp.pad(a, ((0, pad), (0, 0)))
    return a.reshape(-1, block, a.shape[1])


def _gram_sums(xc, yc, block):
    """``(||Xc^T Yc||^2, ||Xc^T Xc||^2, ||Yc^T Yc||^2)`` as sums over row blocks of the N x N Gram products."""

    def one(carry, blocks):
        xb, yb = blocks
        kb = jnp.matmul(xb, xc.T, precision=_HIGHEST)
        lb = jnp.matmul(yb, yc.T, precision=_HIGHEST)
        return carry + jnp.stack([jnp.sum(kb * lb), jnp.sum(kb * kb), jnp.sum(lb * lb)]), None

    sums, _ = lax.scan(one, jnp.zeros(3, xc.dtype), (_row_blocks(xc, block), _row_blocks(yc, block)))
    return sums


def _feature_sums(xc, yc):
    xty = jnp.matmul(xc.T, yc, precision=_HIGHEST)
    xtx = jnp.matmul(xc.T, xc, precision=_HIGHEST)
    yty = jnp.matmul(yc.T, yc, precision=_HIGHEST)
    return jnp.stack([jnp.sum(xty * xty), jnp.sum(xtx * xtx), jnp.sum(yty * yty)])


@functools.partial(jax.jit, static_argnames=("debiased", "block_size"))
def _cka(x, y, *, debiased, block_size):
    n, dx = x.shape
    dy = y.shape[1]
    dtype = jnp.promote_types(jnp.result_type(x, y), jnp.float32)
    xc = x.astype(dtype) - jnp.mean(x.astype(dtype), axis=0)
    yc = y.astype(dtype) - jnp.mean(y.astype(dtype), axis=0)
    # The cheaper of the D x D form (N (Dx + Dy)^2) and the blocked N x N form (N^2 (Dx + Dy)).
    if (dx + dy) ** 2 <= n * (dx + dy):
        s_xy, s_xx, s_yy = _feature_sums(xc, yc)
    else:
        s_xy, s_xx, s_yy = _gram_sums(xc, yc, min(block_size, n))
    if not debiased:
        return s_xy / jnp.sqrt(s_xx * s_yy)
    # Unbiased HSIC (Song et al. 2012) of the linear kernels, in the form of Kornblith et al.'s code:
    # <K~, L~> - n/(n-2) sum_i K_ii L_ii + tr K tr L / ((n-1)(n-2)), on centred features.
    a = jnp.sum(xc * xc, axis=1)
    b = jnp.sum(yc * yc, axis=1)

    def hsic(s, u, v):
        return s - n / (n - 2.0) * jnp.dot(u, v) + jnp.sum(u) * jnp.sum(v) / ((n - 1.0) * (n - 2.0))

    return hsic(s_xy, a, b) / jnp.sqrt(hsic(s_xx, a, a) * hsic(s_yy, b, b))


def cka(x: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *, debiased: bool = False, block_size: int = 1024,
        preprocess: bool = False, quantiles: float | tuple[float, float] = PAPER_QUANTILES) -> jax.Array:
    r"""Linear Centered Kernel Alignment between two representations of the same N items.

    .. math::

       \mathrm{CKA}(X, Y) = \frac{\mathrm{HSIC}(K, L)}{\sqrt{\mathrm{HSIC}(K, K)\,\mathrm{HSIC}(L, L)}},
       \qquad K = X X^\top,\; L = Y Y^\top,

    with the biased HSIC ``tr(KHLH)`` or, with ``debiased=True``, the unbiased estimator of Song et al.
    (2012). Computed in the cheaper of the feature form (``||Xc^T Yc||_F^2``, D x D memory) and the Gram
    form (N x N, streamed in row blocks: memory ``block_size x N``). Symmetric, invariant to orthogonal
    transforms and isotropic scaling of either side.

    Args:
      x: ``[N, Dx]`` float features.
      y: ``[N, Dy]`` float features of the same items.
      debiased: use the unbiased HSIC (needs N >= 4); it removes the bias that pushes the biased CKA
        towards 1 when D >> N.
      block_size: rows per block of the Gram form.
      preprocess: clip and normalise each side first (:func:`clip_and_normalize` with ``quantiles``), as the
        paper's Supp. F does for its baselines; off by default (plain linear CKA).
      quantiles: clipping quantiles for ``preprocess``.

    Returns:
      scalar ``[]`` float32 (float64 if the inputs are): 1 for identical geometry up to rotation and scale.

    Examples:
      >>> import jax
      >>> from ii_jax import cka
      >>> x = jax.random.normal(jax.random.key(0), (100, 8))
      >>> print(f"{float(cka(x, 3.0 * x)):.4f}")
      1.0000
    """
    x, y = _check_pair("cka", x, y, min_n=4 if debiased else 2)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"cka: block_size must be a positive int, got {block_size!r}.")
    if preprocess:
        x, y = (jnp.asarray(clip_and_normalize(a, quantiles=quantiles)) for a in (x, y))
    return _cka(x, y, debiased=bool(debiased), block_size=block_size)


@functools.partial(jax.jit, static_argnames=("debiased",))
def cka_from_grams(k: jax.Array, l: jax.Array, *, debiased: bool = False) -> jax.Array:
    """Linear CKA from two uncentred ``[N, N]`` Gram matrices ``K = X X^T``, ``L = Y Y^T``.

    For resampling: the Gram of a subsample is a sub-block of the full Gram, so jackknife repetitions need
    no new feature products. Same value as :func:`cka` on the features. Works under ``jax.vmap``.

    Args:
      k: ``[N, N]`` Gram matrix of X.
      l: ``[N, N]`` Gram matrix of Y.
      debiased: unbiased HSIC (Song et al. 2012) instead of the biased one.

    Returns:
      scalar ``[]``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from ii_jax import cka
      >>> from ii_jax.baselines import cka_from_grams
      >>> x, y = jax.random.normal(jax.random.key(0), (2, 50, 6), dtype=jnp.float32)
      >>> print(f"{float(cka_from_grams(x @ x.T, y @ y.T)):.5f} {float(cka(x, y)):.5f}")
      0.12578 0.12578
    """
    n = k.shape[0]
    row_k, row_l = jnp.mean(k, axis=0), jnp.mean(l, axis=0)
    kc = k - row_k[None, :] - row_k[:, None] + jnp.mean(k)  # H K H
    lc = l - row_l[None, :] - row_l[:, None] + jnp.mean(l)
    s_xy, s_xx, s_yy = jnp.sum(kc * lc), jnp.sum(kc * kc), jnp.sum(lc * lc)
    if not debiased:
        return s_xy / jnp.sqrt(s_xx * s_yy)
    a, b = jnp.diagonal(kc), jnp.diagonal(lc)

    def hsic(s, u, v):
        return s - n / (n - 2.0) * jnp.dot(u, v) + jnp.sum(u) * jnp.sum(v) / ((n - 1.0) * (n - 2.0))

    return hsic(s_xy, a, b) / jnp.sqrt(hsic(s_xx, a, a) * hsic(s_yy, b, b))


# ----------------------------------------------------------------------------------------------------------
# Mutual k-NN


def clip_and_normalize(x: jax.typing.ArrayLike, *,
                       quantiles: float | tuple[float, float] = PAPER_QUANTILES) -> np.ndarray:
    """The one clip-and-normalise of ii-jax: clip every entry between two quantiles, then L2-normalise each row.

    ``quantiles=(lo, hi)`` (default ``(0.0005, 0.95)``): every entry is clipped to ``[Q_lo, Q_hi]``, the
    ``lo``- and ``hi``-quantiles of *all* ``N·D`` signed entries (NumPy's default linear interpolation). This is
    the literal reading of the paper (arXiv 2505.17101, Supp. F and G: "we clip the activations using quantiles
    of order 0.05% and 95%, we normalize each vector"). A single number ``quantiles=t`` clips symmetrically,
    ``|x| <= Q_t(|x|)`` over all entries: platonic-rep's ``remove_outliers(feats, q=t, exact=True)`` (Huh et al.
    2024). Their default ``exact=False`` clamps at the *mean over rows* of each row's quantile instead; it is not
    offered (on heavy-tailed rows the two thresholds differ by up to ~0.1 per normalised entry). Rows are then
    divided by their L2 norm (zero rows stay zero). Used by the ``mean`` and ``float`` representations of the
    analyses, by :func:`mutual_knn` and by :func:`cka` with ``preprocess=True``.

    Host-side preprocessing (NumPy quantiles by partition, no sort of ``N·D`` entries): not traceable.

    Args:
      x: ``[N, D]`` float features (NumPy or JAX).
      quantiles: ``(lo, hi)`` with ``0 <= lo < hi <= 1``, or one ``t`` in ``(0, 1]`` for the symmetric clip of
        ``|x|`` (``1.0``: no clipping).

    Returns:
      float32 ``[N, D]`` NumPy array, rows of unit norm.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.baselines import clip_and_normalize
      >>> x = np.array([[3.0, 4.0, 100.0], [1.0, -2.0, 2.0]])
      >>> clip_and_normalize(x, quantiles=1.0)  # no clipping: plain L2 normalisation
      array([[ 0.02996257,  0.03995009,  0.9987523 ],
             [ 0.33333334, -0.6666667 ,  0.6666667 ]], dtype=float32)
      >>> np.round(clip_and_normalize(x, quantiles=(0.0, 0.8)), 4)  # 100 clipped to the 0.8-quantile, 4
      array([[ 0.4685,  0.6247,  0.6247],
             [ 0.3333, -0.6667,  0.6667]], dtype=float32)
    """
    a = np.asarray(x)
    if not np.issubdtype(a.dtype, np.floating) or a.ndim != 2:
        raise TypeError(f"clip_and_normalize: x must be a float [N, D] array, got dtype {a.dtype} shape {a.shape}.")
    a = a.astype(np.float32)
    if np.ndim(quantiles) == 0:
        t = float(quantiles)
        if not 0.0 < t <= 1.0:
            raise ValueError(f"clip_and_normalize: a symmetric quantile must be in (0, 1], got {quantiles!r}.")
        if t < 1.0:
            c = np.float32(np.quantile(np.abs(a), t))
            a = np.clip(a, -c, c)
    else:
        try:
            lo, hi = (float(v) for v in quantiles)
        except (TypeError, ValueError):
            raise ValueError(f"clip_and_normalize: quantiles must be (lo, hi) or one number, got {quantiles!r}.") from None
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"clip_and_normalize: need 0 <= lo < hi <= 1, got quantiles=({lo}, {hi}).")
        q_lo, q_hi = np.quantile(a, [lo, hi]).astype(np.float32)
        a = np.clip(a, q_lo, q_hi)
    norm = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.where(norm > 0, norm, np.float32(1.0))


def _knn_weights(sim: jax.Array, k: int) -> jax.Array:
    """Tie-aware k-NN indicator of each row of ``sim`` (larger = closer; excluded entries are -inf).

    Points strictly closer than the k-th get weight 1; those tied with the k-th share what is left, so the
    weights sum to k: the expectation over random tie-breaking.
    """
    kth = lax.top_k(sim, k)[0][:, -1:]
    closer = sim > kth
    tied = sim == kth
    # counts in sim's float dtype: under a user's jax_enable_x64 integer sums are int64 and would promote to float64
    left = k - jnp.sum(closer, axis=1, keepdims=True, dtype=sim.dtype)
    share = left / jnp.sum(tied, axis=1, keepdims=True, dtype=sim.dtype)
    return jnp.where(closer, jnp.ones((), sim.dtype), jnp.where(tied, share, jnp.zeros((), sim.dtype)))


def _overlap_rows(sx, sy, k):
    return jnp.sum(_knn_weights(sx, k) * _knn_weights(sy, k), axis=1) / k


@functools.partial(jax.jit, static_argnames=("k", "block", "inner"))
def _mutual_knn(x, y, *, k, block, inner):
    """Mean overlap, streamed over row blocks (memory ``block x N``)."""
    n = x.shape[0]
    xb, yb = _row_blocks(x, block), _row_blocks(y, block)
    x_sq, y_sq = jnp.sum(x * x, axis=1), jnp.sum(y * y, axis=1)

    def similarity(qb, base, base_sq):
        dots = jnp.matmul(qb, base.T, precision=_HIGHEST)
        # inner products for unit rows; otherwise -|q - b|^2 up to the row constant |q|^2 (rank-equivalent)
        return dots if inner else 2.0 * dots - base_sq[None, :]

    def one(carry, blocks):
        i, qx, qy = blocks
        rows = i * block + jnp.arange(block)
        self_or_pad = (jnp.arange(n)[None, :] == rows[:, None])
        sx = jnp.where(self_or_pad, -jnp.inf, similarity(qx, x, x_sq))
        sy = jnp.where(self_or_pad, -jnp.inf, similarity(qy, y, y_sq))
        return carry + jnp.sum(jnp.where(rows < n, _overlap_rows(sx, sy, k), 0.0)), None

    total, _ = lax.scan(one, jnp.zeros((), x.dtype), (jnp.arange(xb.shape[0]), xb, yb))
    return total / n


def _check_k(fn: str, k, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n - 2:
        raise ValueError(f"{fn}: k must be an int with 1 <= k <= N - 2 = {n - 2}, got {k!r}.")
    return k


def mutual_knn(
    x: jax.typing.ArrayLike,
    y: jax.typing.ArrayLike,
    *,
    k: int = 10,
    preprocess: bool = True,
    quantiles: float | tuple[float, float] = PAPER_QUANTILES,
    block_size: int = 512,
) -> jax.Array:
    """Mutual k-nearest-neighbour overlap (Huh et al. 2024): mean over items of ``|kNN_X(i) ∩ kNN_Y(i)| / k``.

    With ``preprocess=True`` (as in platonic-rep and the paper's Supp. F) each side is clipped at its
    ``quantiles`` and L2-normalised (:func:`clip_and_normalize`), and neighbours are the
    largest inner products (= smallest Euclidean distances between unit vectors). With
    ``preprocess=False`` neighbours are by Euclidean distance on the raw features. Ties at the k-th
    neighbour are shared (the expected overlap under random tie-breaking), so the value does not depend on
    the order of the items. Memory ``block_size x N``.

    Args:
      x: ``[N, Dx]`` float features.
      y: ``[N, Dy]`` float features of the same items.
      k: neighbours per item, ``1 <= k <= N - 2``.
      preprocess: clip and normalise first (platonic-rep's pipeline).
      quantiles: clipping quantiles, as :func:`clip_and_normalize` (default: the paper's 0.05 % and 95 %).
      block_size: query rows per block.

    Returns:
      scalar in ``[0, 1]``: 1 when both spaces have the same k-neighbourhoods; about ``k / (N - 1)`` when
      unrelated.

    Examples:
      >>> import jax
      >>> from ii_jax import mutual_knn
      >>> x = jax.random.normal(jax.random.key(0), (200, 16))
      >>> print(f"{float(mutual_knn(x, 2.0 * x + 1.0, k=5, preprocess=False)):.2f}")
      1.00
    """
    x, y = _check_pair("mutual_knn", x, y, min_n=3)
    k = _check_k("mutual_knn", k, x.shape[0])
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"mutual_knn: block_size must be a positive int, got {block_size!r}.")
    x, y = x.astype(jnp.promote_types(x.dtype, jnp.float32)), y.astype(jnp.promote_types(y.dtype, jnp.float32))
    if preprocess:
        x, y = (jnp.asarray(clip_and_normalize(a, quantiles=quantiles)) for a in (x, y))
    return _mutual_knn(x, y, k=k, block=min(block_size, x.shape[0]), inner=bool(preprocess))


@functools.partial(jax.jit, static_argnames=("k",))
def _mutual_knn_dist(dx, dy, *, k):
    eye = jnp.eye(dx.shape[0], dtype=bool)
    sx = jnp.where(eye, -jnp.inf, -dx.astype(jnp.float32))
    sy = jnp.where(eye, -jnp.inf, -dy.astype(jnp.float32))
    return jnp.mean(_overlap_rows(sx, sy, k))


def mutual_knn_from_distances(dx: jax.typing.ArrayLike, dy: jax.typing.ArrayLike, *, k: int = 10) -> jax.Array:
    """Mutual k-NN overlap from two ``[N, N]`` distance matrices (the diagonal is ignored).

    Depends on the distances only through their order in each row: invariant to any increasing transform.

    Args:
      dx: ``[N, N]`` distances in X.
      dy: ``[N, N]`` distances in Y between the same items.
      k: neighbours per item.

    Returns:
      scalar in ``[0, 1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax.baselines import mutual_knn_from_distances
      >>> d = jnp.array([[0, 1, 3, 6], [1, 0, 2, 5], [3, 2, 0, 4], [6, 5, 4, 0]], dtype=jnp.float32)
      >>> float(mutual_knn_from_distances(d, d ** 3, k=1))
      1.0
      >>> tied = jnp.array([[0, 1, 2, 3], [1, 0, 1, 2], [2, 1, 0, 1], [3, 2, 1, 0]], dtype=jnp.float32)
      >>> float(mutual_knn_from_distances(tied, tied, k=1))  # rows 1, 2: two neighbours share the slot
      0.75
    """
    dx, dy = jnp.asarray(dx), jnp.asarray(dy)
    if dx.ndim != 2 or dx.shape[0] != dx.shape[1] or dx.shape != dy.shape:
        raise ValueError(f"mutual_knn_from_distances: dx and dy must both be [N, N], got {dx.shape} and {dy.shape}.")
    k = _check_k("mutual_knn_from_distances", k, dx.shape[0])
    return _mutual_knn_dist(dx, dy, k=k)
