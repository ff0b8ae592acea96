r"""The Differentiable Information Imbalance as a loss: soft neighbours in A(w), exact ranks in B, by row blocks.

.. math::

   \mathrm{DII}(A(w) \to B) = \frac{2}{R\,C} \sum_{i=1}^{R} \sum_{j \ne i} c_{ij}\, r^B_{ij}, \qquad
   c_{ij} = \frac{\exp(-d^A_{ij}(w)^2 / \lambda_i)}{\sum_{k \ne i} \exp(-d^A_{ik}(w)^2 / \lambda_i)}, \qquad
   d^A_{ij}(w)^2 = \sum_f w_{g(f)}^2 (x_{if} - x_{jf})^2

over R row points and C = N column points (R = N by default), with r^B the exact mid-ranks of B
(:func:`~ii_jax.dii.rank_matrix`). ``g(f)`` maps a feature to its weight: one weight per feature, or one per *group*
of features (a token of a concatenated window, a block of neurons). The scale λ_i is ``lambda_factor`` times the
squared distance from i to its k-th nearest neighbour in A(w) (``scheme="point"``, point-adaptive), or that
factor times the mean of those squared distances over the rows (``scheme="global"``); the gradient flows through
λ as well, as in DADApy. Both set λ in proportion to the squared distances themselves, which suits data whose
neighbour distances vary a lot in relative terms; in high dimensions distances concentrate (the nearest of 300
windows of 20 × 896 sign bits lies at ~6,800 bits, the tenth ~450 bits further), and then λ = 0.1 d²_1 spreads
the soft neighbourhood over most points. ``scheme="gap"`` scales λ_i by the spread of the first neighbours
instead, ``lambda_factor · (d²(i, (k+1)-th) − d²(i, 1st))`` (the softmax ignores a common offset of a row), as
DADApy's unused "cython" adaptive rule did with the gap between the first two.

**Normalisation.** ``2 / (R C)`` is Wild et al.'s (and DADApy 0.3.4 ``DiffImbalance``'s), so the values and the
optimiser settings carry over. ii-jax's exact Δ (:func:`ii_jax.information_imbalance`) uses ``2 / (N (N - 1))``;
with R = C = N, ``DII · N / (N - 1)`` is on Δ's scale, and as λ → 0 the soft neighbours become the nearest
neighbours with ties sharing the weight equally, so ``DII · N / (N - 1)`` → Δ(A(w) → B) with ``k=1`` and
``ties="average"`` exactly (DADApy's ranks break ties by index instead; without ties the two agree).

**Memory.** The rows are walked in blocks of ``block_size`` under ``lax.scan`` with the block body in
``jax.checkpoint``: a block's ``[b, C]`` distances, weights and ranks are recomputed in the backward pass, never
stored for all blocks, so the loss and its gradient keep ``O(b · C · width)`` alive beside the inputs and the rank
matrix, ``width`` being D for ``distance="diff"`` (Σ_f w_f² (x_if − x_jf)², exact for near-duplicate points, as
DADApy forms it) and G for ``"grouped"`` (one matmul per group) or for given group distances; by default ``b`` keeps
one such block under 2^25 entries. With a device mesh the row blocks are split over the devices (``shard_map``) and
the partial sums added with ``psum``.

References:
  Wild, Del Tatto, Rodriguez, Laio et al., "Automatic feature selection and weighting in molecular systems using
  Differentiable Information Imbalance", Nature Communications 16:270 (2025), https://arxiv.org/abs/2411.00851
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["group_index", "soft_imbalance", "SCHEMES", "LAYOUTS"]

SCHEMES = ("point", "global", "gap")


def group_index(groups, n_features: int) -> np.ndarray:
    """The weight index of every feature: ``int`` ``[D]``.

    Args:
      groups: ``None`` (one weight per feature), an ``int`` g (consecutive groups of g features: one weight per
        token of a window of tokens of g features each), or a sequence of group sizes summing to D (DADApy's
        ``params_groups``).
      n_features: D.

    Examples:
      >>> from ii_jax.dii import group_index
      >>> group_index([2, 1], 3).tolist(), group_index(2, 4).tolist()
      ([0, 0, 1], [0, 0, 1, 1])
    """
    if groups is None:
        return np.arange(n_features)
    if isinstance(groups, (int, np.integer)) and not isinstance(groups, bool):
        if groups < 1 or n_features % groups:
            raise ValueError(f"groups={groups} must be >= 1 and divide the {n_features} features.")
        return np.repeat(np.arange(n_features // groups), groups)
    sizes = np.asarray(groups)
    if sizes.ndim != 1 or sizes.size == 0 or not np.issubdtype(sizes.dtype, np.integer) or (sizes < 1).any():
        raise ValueError(f"groups must be None, an int or a sequence of group sizes >= 1, got {groups!r}.")
    if int(sizes.sum()) != n_features:
        raise ValueError(f"the group sizes sum to {int(sizes.sum())}, but there are {n_features} features.")
    return np.repeat(np.arange(sizes.size), sizes)


LAYOUTS = ("diff", "grouped", "given")
_BLOCK_ELEMENTS = 1 << 25  # entries of one [b, C, width] intermediate when block_size is None (128 MiB float32)


class _Static(NamedTuple):
    """Compile-time settings of the loss: rows per block, the largest k, the λ scheme and how d² is formed."""

    block: int
    kmax: int
    scheme: str
    layout: str
    n_groups: int


def _scales(weights, gidx, st: _Static):
    """Per feature (``diff``) or per group (``grouped``, ``given``) squared weight."""
    s = weights * weights
    return s[gidx] if st.layout == "diff" else s


def _block_d2(a, aux, s, rows, st: _Static):
    """Squared distances ``[b, C]`` in A(w) from the row points ``rows`` to every point.

    ``diff``: a = x ``[N, D]``, Σ_f s_f (x_if − x_jf)² (exact for duplicates; ``[b, C, D]`` alive). ``grouped``: a =
    x ``[N, G, E]``, aux = per-group squared norms ``[N, G]``, Σ_g s_g (|x_ig|² + |x_jg|² − 2 x_ig·x_jg) (one matmul per
    group; ``[b, C, G]`` alive). ``given``: a = the groups' squared distances ``[G, N, N]``, Σ_g s_g a_g,ij.
    """
    if st.layout == "diff":
        diff = a[rows][:, None, :] - a[None, :, :]
        return jnp.einsum("bcd,d->bc", diff * diff, s)
    if st.layout == "grouped":
        dots = jnp.einsum("bge,cge->bcg", a[rows], a)
        dg = jnp.maximum(aux[rows][:, None, :] + aux[None, :, :] - 2.0 * dots, 0.0)
        return dg @ s
    blk = jnp.take(a, rows, axis=1).astype(s.dtype)
    return jnp.einsum("gbc,g->bc", blk, s)


def _kth(d2, self_mask, k, kmax):
    """``[b]``: the k-th smallest squared distance of each row, the row's own point left out."""
    masked = jnp.where(self_mask, jnp.inf, d2)
    if kmax == 1:
        return jnp.min(masked, axis=1)
    neg, _ = lax.top_k(-masked, kmax)
    return -jnp.take(neg, k - 1, axis=1)


def _gap(d2, self_mask, k, kmax):
    """``[b]``: the (k+1)-th smallest squared distance of each row minus the smallest (own point left out)."""
    masked = jnp.where(self_mask, jnp.inf, d2)
    neg, _ = lax.top_k(-masked, kmax + 1)
    return neg[:, 0] - jnp.take(neg, k, axis=1)


def _block_sum(a, aux, s, cols_idx, twice, valid, row_ids, k, factor, lam_global, st: _Static):
    """Σ_i Σ_j c_ij r_ij over the valid rows of one block (``twice``: the block's doubled ranks ``[b, C]``).

    A row whose λ is 0 (its k-th neighbour is a duplicate of it, or, for ``"gap"``, ties with its nearest) takes
    the limit λ → 0: equal weights on its nearest neighbours, constant in the weights, so no 0/0 reaches the
    gradient.
    """
    d2 = _block_d2(a, aux, s, row_ids, st)
    self_mask = row_ids[:, None] == cols_idx[None, :]
    if st.scheme == "point":
        lam = factor * _kth(d2, self_mask, k, st.kmax)
    elif st.scheme == "gap":
        lam = factor * _gap(d2, self_mask, k, st.kmax)
    else:
        lam = jnp.broadcast_to(lam_global, (d2.shape[0],))
    degenerate = lam <= 0
    safe = jnp.where(degenerate, 1.0, lam)
    nearest = jnp.min(jnp.where(self_mask, jnp.inf, d2), axis=1, keepdims=True)
    logits = jnp.where(degenerate[:, None], jnp.where(d2 <= nearest, 0.0, -jnp.inf), -d2 / safe[:, None])
    logits = jnp.where(self_mask, -jnp.inf, logits)
    c = jax.nn.softmax(logits, axis=1)
    out = jnp.sum(c * (0.5 * twice.astype(d2.dtype)), axis=1)
    return jnp.sum(jnp.where(valid, out, 0.0))


def _block_kth_sum(a, aux, s, cols_idx, row_ids, valid, k, st: _Static):
    d2 = _block_d2(a, aux, s, row_ids, st)
    return jnp.sum(jnp.where(valid, _kth(d2, row_ids[:, None] == cols_idx[None, :], k, st.kmax), 0.0))


def _local_sums(a, aux, s, twice_loc, rows_loc, n_valid_loc, k, factor, lam_global, st: _Static, kth_only: bool):
    """Walk the local rows in blocks: Σ over valid rows of the block sums (or of the k-th distances).

    ``twice_loc`` ``[R_loc, C]``: the ranks of the local rows; ``rows_loc`` ``[R_loc]``: their point indices;
    ``n_valid_loc``: how many of the local rows are real (the rest is padding). The last block is clamped to end at
    ``R_loc`` and counts only the rows not counted before.
    """
    r_loc, c = twice_loc.shape
    b = st.block
    cols_idx = jnp.arange(c)
    starts = jnp.arange(0, r_loc, b)

    # Several blocks: each block's body is recomputed in the backward pass (jax.checkpoint), so only one block's
    # [b, C] intermediates are ever alive. One block: nothing to save, no checkpoint.
    remat = jax.checkpoint if r_loc > b else (lambda f: f)

    def body(carry, i0):
        start = jnp.minimum(i0, r_loc - b)
        local = start + jnp.arange(b)
        valid = (local >= i0) & (local < n_valid_loc)
        row_ids = lax.dynamic_slice_in_dim(rows_loc, start, b)
        if kth_only:
            part = remat(functools.partial(_block_kth_sum, st=st))(a, aux, s, cols_idx, row_ids, valid, k)
        else:
            blk = lax.dynamic_slice_in_dim(twice_loc, start, b, axis=0)
            part = remat(functools.partial(_block_sum, st=st))(a, aux, s, cols_idx, blk, valid, row_ids, k, factor,
                                                              lam_global)
        return carry, part

    if r_loc <= b:  # one block: no loop to compile
        return body(None, jnp.zeros((), starts.dtype))[1]
    _, parts = lax.scan(body, None, starts)  # per-block sums (no carry: its device variance may differ in shard_map)
    return jnp.sum(parts)


def _layout_inputs(a, st: _Static):
    """The operands of :func:`_block_d2`: ``(a, aux)``."""
    if st.layout == "grouped":
        n, d = a.shape
        a = a.reshape(n, st.n_groups, d // st.n_groups)
        return a, jnp.sum(a * a, axis=2)
    return a, jnp.zeros((), a.dtype)


def _dii_local(weights, a, gidx, twice, rows, n_rows, k, factor, st: _Static, axis=None):
    """DII ``2 / (R C) Σ`` over the rows of ``twice``; with ``axis``, the partial sums are added over the mesh."""
    s = _scales(weights, gidx, st)
    a, aux = _layout_inputs(a, st)
    r_loc, c = twice.shape
    n_valid = r_loc if axis is None else jnp.clip(n_rows - lax.axis_index(axis) * r_loc, 0, r_loc)

    def total(v):
        return v if axis is None else lax.psum(v, axis)

    lam_global = jnp.zeros((), s.dtype)
    if st.scheme == "global":
        lam_global = factor * total(_local_sums(a, aux, s, twice, rows, n_valid, k, factor, lam_global, st,
                                                True)) / n_rows
    return 2.0 / (n_rows * c) * total(_local_sums(a, aux, s, twice, rows, n_valid, k, factor, lam_global, st,
                                                  False))


@functools.lru_cache(maxsize=None)
def _dii_sharded(mesh, st: _Static, n_rows: int):
    """The DII with rows sharded over ``mesh`` (axis ``"rows"``): ranks and row indices split by rows, padded."""
    from jax.sharding import PartitionSpec as P

    from ii_jax.parallel import AXIS

    def local(weights, a, gidx, twice_loc, rows_loc, k, factor):
        return _dii_local(weights, a, gidx, twice_loc, rows_loc, n_rows, k, factor, st, axis=AXIS)

    return jax.shard_map(local, mesh=mesh, in_specs=(P(), P(), P(), P(AXIS), P(AXIS), P(), P()), out_specs=P())


@functools.partial(jax.jit, static_argnames=("st", "mesh", "n_rows"))
def _dii(weights, a, gidx, twice, rows, k, factor, *, st: _Static, mesh=None, n_rows: int = 0):
    if mesh is None:
        return _dii_local(weights, a, gidx, twice, rows, twice.shape[0], k, factor, st)
    return _dii_sharded(mesh, st, n_rows)(weights, a, gidx, twice, rows, k, factor)


def _check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}.")
    return scheme


def _check_int(name: str, v, lo: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}.")
    return int(v)


def prepare_rows(twice, rows, mesh, block: int):
    """Row indices and ranks laid out for :func:`_dii`: ``(twice, rows, n_rows, block)``; with a mesh, padded to
    whole blocks per device and placed row-sharded.
    """
    n_rows = int(twice.shape[0])
    rows = jnp.arange(n_rows) if rows is None else jnp.asarray(rows)
    if mesh is None:
        return jnp.asarray(twice), rows, n_rows, min(block, n_rows)
    from ii_jax.parallel import n_shards, shard_rows

    shards = n_shards(mesh)
    per = -(-n_rows // shards)
    block = min(block, per)
    per = -(-per // block) * block
    return (shard_rows(mesh, np.asarray(twice), 0, per * shards), shard_rows(mesh, np.asarray(rows), 0, per * shards),
            n_rows, block)


class _Prepared(NamedTuple):
    a: jax.Array
    gidx: jax.Array
    n: int
    n_params: int
    layout: str
    n_groups: int


def prepare_a(a, groups, distance: str | None) -> _Prepared:
    """Validate space A and choose how its squared distances are formed (see :func:`soft_imbalance`)."""
    if np.ndim(a) == 3:
        if groups is not None:
            raise ValueError("groups must be None when A is given as group distances [G, N, N] (one weight each).")
        if distance not in (None, "given"):
            raise ValueError(f"A given as group distances [G, N, N] needs distance=None, got {distance!r}.")
        g, n, n2 = np.shape(a)
        if n != n2:
            raise ValueError(f"group distances must be [G, N, N], got shape {np.shape(a)}.")
        arr = jnp.asarray(a)
        return _Prepared(arr, jnp.arange(g), n, g, "given", g)
    x = jnp.asarray(a)
    if x.ndim != 2 or not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"A must be float features [N, D] or group distances [G, N, N], got {x.dtype} {x.shape}.")
    n, d = x.shape
    gidx = group_index(groups, d)
    n_params = int(gidx.max()) + 1
    equal = isinstance(groups, (int, np.integer)) and not isinstance(groups, bool) and groups > 1
    if distance is None:
        distance = "grouped" if equal else "diff"
    if distance not in ("diff", "grouped"):
        raise ValueError(f"distance must be None, 'diff' or 'grouped' for features, got {distance!r}.")
    if distance == "grouped" and not equal:
        raise ValueError("distance='grouped' needs groups=int (equal consecutive groups of more than one feature).")
    return _Prepared(x, jnp.asarray(gidx), n, n_params, distance, n_params)


def block_rows(block_size, prep: _Prepared) -> int:
    """Rows per block: ``block_size``, or by default as many as keep one ``[b, N, width]`` intermediate under
    2^25 entries.
    """
    if block_size is not None:
        return _check_int("block_size", block_size)
    width = prep.a.shape[1] if prep.layout == "diff" else prep.n_groups
    return int(max(1, min(512, _BLOCK_ELEMENTS // max(1, prep.n * width))))


def soft_imbalance(a, ranks, weights, *, groups=None, k: int = 1, lambda_factor: float = 0.1,
                   scheme: str = "point", rows=None, distance: str | None = None, block_size: int | None = None,
                   mesh=False) -> jax.Array:
    """The Differentiable Information Imbalance DII(A(w) → B), differentiable in ``weights``.

    See the module docstring for the definition and its normalisation (Wild et al.'s ``2 / (R C)``; times
    ``N / (N - 1)`` it is on the scale of ii-jax's exact Δ, which it approaches as ``lambda_factor`` → 0).

    Args:
      a: space A, either float features ``[N, D]`` (for sign bits, ±1 floats, then ``d² = 4 · Hamming``), or the
        squared distances of G groups of features ``[G, N, N]`` (any real dtype: e.g. per-token Hamming matrices,
        whose sum is the window's Hamming distance; one weight per group; λ is relative, so a common scale such as
        the 4 of ±1 bits does not matter).
      ranks: doubled ranks of B, ``[R, N]`` (:func:`~ii_jax.dii.rank_matrix`, with the same ``rows``).
      weights: ``[P]``, one per feature or per group.
      groups: see :func:`group_index` (features only).
      k: the neighbour whose squared distance sets λ (``1 <= k < N``).
      lambda_factor: λ_i = ``lambda_factor`` · d²(i, k-th neighbour).
      scheme: ``"point"`` (one λ per row, DADApy's ``point_adapt_lambda=True``), ``"global"`` (their mean) or
        ``"gap"`` (``lambda_factor`` · (d²(i, (k+1)-th) − d²(i, 1st)), for high-dimensional data).
      rows: the row points (indices ``[R]``), default all N.
      distance: how d² is formed from features: ``"diff"`` (Σ_f w² (x_if − x_jf)², exact for near-duplicates;
        ``[b, N, D]`` alive per block; the default unless ``groups`` is an int) or ``"grouped"`` (per group
        ``|x_ig|² + |x_jg|² − 2 x_ig·x_jg`` by one matmul per group, ``[b, N, G]`` alive; the default for
        ``groups=int``; exact for ±1 bits, subject to cancellation for near-duplicate float points).
      block_size: rows per block (default: as many as keep one ``[b, N, width]`` block under 2^25 entries).
      mesh: ``False`` (default: one device), ``None`` (all devices when there are several), ``True`` or a
        :class:`jax.sharding.Mesh` with the axis ``"rows"`` (see :func:`ii_jax.parallel.resolve_mesh`).

    Returns:
      A scalar jax Array (float32, or float64 for float64 inputs under a scoped x64).

    Examples:
      >>> import jax, numpy as np
      >>> from ii_jax.dii import rank_matrix, soft_imbalance
      >>> x = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
      >>> ranks = rank_matrix(x[:, :1])  # B is A's first feature
      >>> good = soft_imbalance(x, ranks, np.array([1.0, 0.0, 0.0], np.float32))
      >>> bad = soft_imbalance(x, ranks, np.array([0.0, 1.0, 1.0], np.float32))
      >>> bool(good < 0.1 < 0.5 < bad)
      True
      >>> g = jax.grad(soft_imbalance, argnums=2)(x, ranks, np.full(3, 0.5, np.float32))
      >>> g.shape
      (3,)
    """
    from ii_jax.parallel import resolve_mesh

    prep = prepare_a(a, groups, distance)
    if np.ndim(weights) != 1 or np.shape(weights)[0] != prep.n_params:
        raise ValueError(f"weights must be [{prep.n_params}] (one per feature or group), got shape "
                         f"{np.shape(weights)}.")
    if np.ndim(ranks) != 2 or np.shape(ranks)[1] != prep.n:
        raise ValueError(f"ranks must be [R, {prep.n}] (rank_matrix of B on the same points), got "
                         f"{np.shape(ranks)}.")
    k = _check_int("k", k)
    if k + (scheme == "gap") >= prep.n:
        raise ValueError(f"k={k} needs more than {k + (scheme == 'gap')} points, got {prep.n}.")
    mesh = resolve_mesh(mesh)
    twice, rows_arr, n_rows, block = prepare_rows(ranks, rows, mesh, block_rows(block_size, prep))
    st = _Static(block, k, _check_scheme(scheme), prep.layout, prep.n_groups)
    w = jnp.asarray(weights)
    w = w.astype(prep.a.dtype) if prep.layout != "given" else w.astype(jnp.result_type(w.dtype, jnp.float32))
    return _dii(w, prep.a, prep.gidx, twice, rows_arr, k, jnp.asarray(lambda_factor, w.dtype), st=st, mesh=mesh,
                n_rows=n_rows)
