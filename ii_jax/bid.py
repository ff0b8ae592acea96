"""Binary Intrinsic Dimension (BID) of sign-binarised representations.

N binary vectors of L bits give N(N-1)/2 Hamming distances. For L independent fair bits the distance
``r`` between two points follows ``P0(r) = C(L, r) / 2**L``. The BID ansatz replaces L by a dimension
that may drift with the distance, ``d(r) = d0 + d1 * r``:

.. math::

   P(r) \\propto \\binom{d(r)}{r} \\, 2^{-d(r)}, \\qquad r_{min} \\le r \\le r_{max},

normalised over the fitted range. ``r_min`` and ``r_max`` are the ``alpha_min`` and ``alpha_max``
quantiles of the empirical distance distribution (probability mass, not fractions of L). ``d0`` (the BID)
and ``d1`` minimise ``KL(P_emp || P_model)``, found with optax L-BFGS on JAX gradients from several starts.

Conventions shared with DADApy 0.3.4's ``dadapy.hamming.BID`` (so that the numbers can be compared):
the histogram counts each unordered pair once; the fitted bins are the distances that occur in the data
(empty bins inside the range are neither fitted nor part of the model's normalisation); ``r_max`` is the
largest occurring distance whose cumulative probability is at most ``alpha_max`` (``r_min`` likewise, and
the smallest occurring distance when ``alpha_min == 0``); starts follow DADApy's grid
``d0 = L * {0.05, ..., 0.95}``, ``d1 = 2 - d0 / mean(r)`` plus ``(r_max, 1)``.

Numerics (float32, no x64). ``log C(d, r) - d log 2`` is of order one where the data lie, but
``gammaln(d + 1)`` is of order ``d log d``; the difference of three float32 ``gammaln`` values loses
~1e-3 absolute at ``d ~ 2000`` and ~3e-2 at ``d ~ 1e5``, more than the KL being minimised. The model is
therefore evaluated as ``-[r log(2r/d) + (d-r) log(2(d-r)/d)] + S(d) - S(r) - S(d-r)`` with the Stirling
remainder ``S(x) = gammaln(x+1) - x log x + x`` (asymptotic series for ``x >= 8``, a shifted recurrence
below) and a power series for the first bracket near ``r = d/2``: float32 error ~1e-6 to 1e-5. The float32
L-BFGS stops where the KL's float32 resolution (~3e-7) hides the rest of the descent, so every converged fit
ends with a few damped Newton steps on the same objective in float64, inside a *scoped* x64 context (never a
global flip): fitted ``d0`` agrees with an independent float64 SciPy fit to 1e-5 relative (tests/test_bid.py).
The public functions are host-side (NumPy windows and batching around jitted kernels): call them on arrays,
not inside a caller's ``jit``; only the private model and KL (``_log_model``, ``_kl``) are float32-traceable.

The fit is parametrised by ``phi = log(d(r) - r)`` at the two ends of the range, which keeps ``d(r) > r``
(the model's support) and removes the strong ``d0``-``d1`` correlation of the raw parameters.
Convergence means a finite KL, L-BFGS stopped before its iteration limit, a positive definite Hessian
(central differences of the gradient) and a Newton step below ``1e-3`` in ``phi`` (the fitted
``d(r) - r`` settled to 0.1%). It says the optimum was found, not that the model fits: check ``kl``.

References:
  Acevedo, Rodriguez, Laio, "Unsupervised detection of semantic correlations in big data",
  Communications Physics 8:202 (2025), https://arxiv.org/abs/2411.02126
"""
from __future__ import annotations

import functools
import sys
import types
import warnings
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jax.scipy.special import digamma, gammaln, logsumexp, xlogy

from ii_jax._compat import renamed_kwargs as _renamed_kwargs
from ii_jax.binary import WORD_BITS, n_words
from ii_jax.distances import _x64_scope
from ii_jax.resample import replica_std

__all__ = [
    "BIDResult",
    "BIDJackknife",
    "BIDProfile",
    "hamming_histogram",
    "subsample_histograms",
    "bid_from_bits",
    "bid_from_histogram",
    "bid_jackknife",
    "bid_profile",
    "bid_profile_store",
    "plot_bid_profile",
]

_TILE = 128  # points per row/column tile of the streaming histogram: a 128x128 int32 block is 64 KiB.
_MAX_ITER = 200
_CHUNK = 4  # fits per vmapped call, single fits included: batches are padded to a multiple of it.
_STEP_TOL = 1e-3
_MIN_STEP = 1e-5  # L-BFGS stops when an iteration moves phi by less than this  # Newton step in phi = log(d(r) - r) below which a fit counts as converged.
_QUANTILE_SLACK = 1e-10  # DADApy rounds probabilities to 10 digits before taking quantiles.
_START_FRACTIONS = np.arange(1, 20) / 20.0  # DADApy's grid of d0 / L.


class BIDResult(NamedTuple):
    """Result of a BID fit. Fields are scalars, or ``[R]`` arrays for a batch of fits.

    Attributes:
      d0: the Binary Intrinsic Dimension, ``d(0)`` of the fitted ``d(r) = d0 + d1 r``. NaN when no fit
        could be made (too few bins).
      d1: slope of ``d(r)``.
      kl: ``KL(P_emp || P_model)`` at the optimum, over the fitted bins.
      converged: bool; False means the numbers must not be trusted (flat or multimodal KL, too few bins).
      r_min: smallest fitted distance.
      r_max: largest fitted distance.
      n_bins: number of non-empty distance bins fitted.
      n_iter: L-BFGS iterations of the winning start.
    """

    d0: jax.Array
    d1: jax.Array
    kl: jax.Array
    converged: jax.Array
    r_min: jax.Array
    r_max: jax.Array
    n_bins: jax.Array
    n_iter: jax.Array


class BIDJackknife(NamedTuple):
    """BID with jackknife error bars: ``R`` fits on random subsamples of ``n`` of the ``N`` points.

    Attributes:
      d0: mean of ``d0`` over the converged subsamples (NaN if none converged).
      d0_std: standard deviation of ``d0`` over the converged subsamples.
      d1: mean of ``d1`` over the converged subsamples.
      d1_std: standard deviation of ``d1``.
      n_converged: how many of the ``R`` fits converged.
      fits: the ``R`` individual fits, a :class:`BIDResult` of ``[R]`` arrays.
    """

    d0: float
    d0_std: float
    d1: float
    d1_std: float
    n_converged: int
    fits: BIDResult


class BIDProfile(NamedTuple):
    """BID per layer. All fields ``[n_layers]`` arrays.

    Attributes:
      relative_depth: depth of each layer in ``[0, 1]``.
      n_bits: bits per representation (L) of each layer.
      d0: BID (jackknife mean, or the single fit), NaN where the fit failed.
      d0_std: jackknife standard deviation (NaN without jackknife).
      d1: slope (mean).
      n_converged: converged fits per layer (of ``repeats``, or of 1).
    """

    relative_depth: np.ndarray
    n_bits: np.ndarray
    d0: np.ndarray
    d0_std: np.ndarray
    d1: np.ndarray
    n_converged: np.ndarray

    @property
    def bid_fraction(self) -> np.ndarray:
        """``d0 / n_bits``, the BID as a fraction of the number of bits (paper Fig. 9)."""
        return self.d0 / self.n_bits


# ----------------------------------------------------------------------------------------------------------
# Streaming Hamming histogram


def _check_words(words: Any, n_bits: Any, fn: str) -> tuple[np.ndarray, int]:
    """Validate packed words against ``n_bits``; return them as a host ``(N, W)`` uint32 array."""
    if isinstance(n_bits, bool) or not isinstance(n_bits, (int, np.integer)):
        raise TypeError(f"{fn}: n_bits must be an int, got {type(n_bits).__name__}.")
    n_bits = int(n_bits)
    if n_bits < 1:
        raise ValueError(f"{fn}: n_bits must be positive, got {n_bits}.")
    dtype = getattr(words, "dtype", None)
    if dtype is None:
        words = np.asarray(words)
        dtype = words.dtype
    if dtype != np.uint32:
        raise TypeError(
            f"{fn}: words must be packed bits, uint32 as pack_bits makes them, got dtype {dtype}. "
            "BID is defined on binary data: use pack_bits(binarize(x))."
        )
    words = np.asarray(words)
    if words.ndim != 2:
        raise ValueError(f"{fn}: words must have shape [N, W], got shape {words.shape}.")
    if words.shape[1] != n_words(n_bits):
        raise ValueError(
            f"{fn}: words has {words.shape[1]} words per point but n_bits={n_bits} needs {n_words(n_bits)}."
        )
    tail = n_bits % WORD_BITS
    if tail and words.shape[0] and np.any(words[:, -1] >> np.uint32(tail)):
        raise ValueError(
            f"{fn}: words has set bits beyond n_bits={n_bits} (padding must be zero): n_bits does not "
            "match the packed data."
        )
    if words.shape[0] < 2:
        raise ValueError(f"{fn}: words needs at least 2 points to have a distance, got {words.shape[0]}.")
    return words, n_bits


@functools.partial(jax.jit, static_argnames=("n_bins", "tile"))
def _row_block_counts(wt: jax.Array, members: jax.Array, i0: jax.Array, *, n_bins: int, tile: int) -> jax.Array:
    """Distance counts of pairs (i, j), i in rows ``[i0, i0 + tile)``, j > i, for each subsample.

    Args:
      wt: ``[W, N_pad]`` uint32 packed words, word-major (points along the fast axis).
      members: ``[R, N_pad]`` int32 0/1 membership of each point in each of R subsamples.
      i0: first row of the block, a multiple of ``tile``.

    Returns:
      ``[R, n_bins]`` int32 counts. Memory O(W * tile + R * tile**2): never an N x N matrix.
    """
    n_w, n_pad = wt.shape
    xi = lax.dynamic_slice_in_dim(wt, i0, tile, axis=1)
    mi = lax.dynamic_slice_in_dim(members, i0, tile, axis=1)
    rows = i0 + jnp.arange(tile)

    def column_tile(t, counts):
        j0 = t * tile
        xj = lax.dynamic_slice_in_dim(wt, j0, tile, axis=1)
        mj = lax.dynamic_slice_in_dim(members, j0, tile, axis=1)

        def add_word(w, acc):
            return acc + lax.population_count(xi[w][:, None] ^ xj[w][None, :]).astype(jnp.int32)

        dist = lax.fori_loop(0, n_w, add_word, jnp.zeros((tile, tile), jnp.int32)).ravel()
        upper = (j0 + jnp.arange(tile))[None, :] > rows[:, None]
        weights = (mi[:, :, None] * mj[:, None, :] * upper[None]).reshape(mi.shape[0], -1)
        return counts + jax.vmap(lambda wr: jnp.bincount(dist, weights=wr, length=n_bins))(weights)

    init = jnp.zeros((members.shape[0], n_bins), jnp.int32)
    return lax.fori_loop(i0 // tile, n_pad // tile, column_tile, init)


def _shard_row_counts(i0s: jax.Array, wt: jax.Array, members: jax.Array, *, n_bins: int, tile: int) -> jax.Array:
    """One device's row block of :func:`_row_block_counts` (its first row in ``i0s[0]``) -> ``[1, R, n_bins]``."""
    return _row_block_counts(wt, members, i0s[0], n_bins=n_bins, tile=tile)[None]


def _sharded_pair_histograms(wt: np.ndarray, mem: np.ndarray, n_bins: int, tile: int, mesh) -> np.ndarray:
    """:func:`_pair_histograms`'s loop on a mesh: every device counts its own row block; exact int64 sum here."""
    from ii_jax import parallel as par

    d = par.n_shards(mesh)
    n_pad = wt.shape[1]
    call = par.row_sharded(_shard_row_counts, mesh, sharded=(True, False, False), out_axes=(0,), n_bins=n_bins,
                           tile=tile)
    wt_d, mem_d = par.replicate(mesh, wt), par.replicate(mesh, mem)
    total = np.zeros((mem.shape[0], n_bins), np.int64)
    pending = None
    for s0 in list(range(0, n_pad, d * tile)) + [None]:  # one step in flight; rows past the end count nothing
        launched = None
        if s0 is not None:
            i0s = (s0 + tile * np.arange(d)).astype(np.int32)
            launched = call(par.shard_rows(mesh, i0s, 0, d), wt_d, mem_d)[0]
        if pending is not None:
            total += par.to_host(pending).astype(np.int64).sum(axis=0)
        pending = launched
    return total


def _pair_histograms(words: np.ndarray, n_bits: int, members: np.ndarray, tile: int, mesh=None) -> np.ndarray:
    """Host driver: ``[R, n_bits + 1]`` int64 counts, one row block (one jitted call) at a time; on a mesh
    (default: all devices when JAX sees more than one, see :mod:`ii_jax.parallel`) one row block per device."""
    n, n_w = words.shape
    n_pad = -(-n // tile) * tile
    wt = np.zeros((n_w, n_pad), np.uint32)
    wt[:, :n] = words.T
    n_rows = members.shape[0] if members.shape[0] == 1 else -(-members.shape[0] // 4) * 4  # fewer shapes
    mem = np.zeros((n_rows, n_pad), np.int32)
    mem[: members.shape[0], :n] = members
    n_bins = -(-(n_bits + 1) // 1024) * 1024  # a few static lengths, not one compilation per L
    from ii_jax import parallel as par

    mesh = par.resolve_mesh(mesh)
    if mesh is not None:
        return _sharded_pair_histograms(wt, mem, n_bins, tile, mesh)[: members.shape[0], : n_bits + 1]
    wt_d, mem_d = jnp.asarray(wt), jnp.asarray(mem)
    total = np.zeros((n_rows, n_bins), np.int64)
    pending = None
    for i0 in range(0, n_pad, tile):  # exact int64 totals on the host; one block in flight while we add.
        block = _row_block_counts(wt_d, mem_d, i0, n_bins=n_bins, tile=tile)
        if pending is not None:
            total += np.asarray(pending)
        pending = block
    total += np.asarray(pending)
    return total[: members.shape[0], : n_bits + 1]


def hamming_histogram(words: jax.typing.ArrayLike, n_bits: int, *, block_size: int | None = None) -> np.ndarray:
    """Histogram of the Hamming distances between all pairs of points, streamed in row blocks.

    Each unordered pair ``i < j`` is counted once. XOR + popcount on packed words, one block of
    ``block_size`` rows against column tiles at a time: memory O(N * W + block_size**2), never N x N.

    Args:
      words: ``[N, W]`` uint32 packed bits (:func:`ii_jax.pack_bits`), ``W = ceil(n_bits / 32)``.
      n_bits: number of bits L per point.
      block_size: rows (and columns) per tile; default 128.

    Returns:
      ``[n_bits + 1]`` int64 NumPy array: ``counts[r]`` = number of pairs at distance ``r``; sums to
      ``N (N - 1) / 2``. (NumPy int64 because the counts pass 2**31 at N ~ 65,000, and JAX without x64
      has no int64.)

    Examples:
      >>> import numpy as np
      >>> from ii_jax import pack_bits, hamming_histogram
      >>> bits = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]], dtype=bool)
      >>> hamming_histogram(pack_bits(bits), 4)
      array([0, 1, 1, 1, 0])
    """
    words, n_bits = _check_words(words, n_bits, "hamming_histogram")
    tile = _tile(block_size)
    members = np.ones((1, words.shape[0]), np.int32)
    return _pair_histograms(words, n_bits, members, tile)[0]


def subsample_histograms(
    words: jax.typing.ArrayLike, n_bits: int, members: jax.typing.ArrayLike, *, block_size: int | None = None
) -> np.ndarray:
    """Hamming histograms of R subsamples of the points in one pass over the pairs.

    Every distance is computed once and added to the histogram of each subsample that holds both points,
    so R jackknife subsamples cost one distance pass, not R.

    Args:
      words: ``[N, W]`` uint32 packed bits.
      n_bits: bits per point.
      members: ``[R, N]`` bool: ``members[s, i]`` when point ``i`` belongs to subsample ``s``.
      block_size: rows per tile (default 128).

    Returns:
      ``[R, n_bits + 1]`` int64 counts.

    Examples:
      >>> import numpy as np
      >>> from ii_jax import pack_bits, subsample_histograms
      >>> bits = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 1]], dtype=bool)
      >>> subsample_histograms(pack_bits(bits), 3, np.array([[1, 1, 0], [0, 1, 1]], dtype=bool))
      array([[0, 1, 0, 0],
             [0, 0, 1, 0]])
    """
    words, n_bits = _check_words(words, n_bits, "subsample_histograms")
    members = np.asarray(members)
    if members.ndim != 2 or members.shape[1] != words.shape[0]:
        raise ValueError(
            f"subsample_histograms: members must have shape [R, N] with N={words.shape[0]}, got {members.shape}."
        )
    if members.dtype != bool and not np.all((members == 0) | (members == 1)):
        raise ValueError("subsample_histograms: members must be bool or 0/1.")
    return _pair_histograms(words, n_bits, members.astype(np.int32), _tile(block_size))


def _tile(block_size: int | None) -> int:
    if block_size is None:
        return _TILE
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}.")
    return int(block_size)


# ----------------------------------------------------------------------------------------------------------
# The model, in float32 without cancellation


def _stirling_remainder(x):
    """``S(x) = gammaln(x + 1) - x log x + x`` for ``x >= 0``, accurate to ~1e-6 in float32.

    Asymptotic series for ``x >= 8``; below, ``gammaln`` directly (no cancellation at that size).
    """
    big = x >= 8.0
    xb = jnp.where(big, x, 8.0)
    inv = 1.0 / xb
    inv2 = inv * inv
    series = 0.5 * jnp.log(2.0 * np.pi * xb) + inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
    xs = jnp.where(big, 1.0, jnp.maximum(x, 0.0))
    return jnp.where(big, series, gammaln(xs + 1.0) - xlogy(xs, xs) + xs)


def _stirling_remainder_grad(x):
    """``S'(x) = digamma(x + 1) - log x`` for ``x > 0``."""
    big = x >= 8.0
    xb = jnp.where(big, x, 8.0)
    inv = 1.0 / xb
    inv2 = inv * inv
    series = inv * (0.5 - inv * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 / 240))))
    xs = jnp.where(big, 1.0, x)
    return jnp.where(big, series, digamma(xs + 1.0) - jnp.log(xs))


def _n_kl_half(d, r):
    """``d * KL(Bernoulli(r/d) || Bernoulli(1/2)) = r log(2r/d) + (d - r) log(2(d - r)/d)``, for 0 <= r < d.

    Also returns ``log(2 (d - r) / d)``, which the derivative in ``d`` needs.
    """
    u = (2.0 * r - d) / d
    near = jnp.abs(u) < 0.25
    un = jnp.where(near, u, 0.0)
    u2 = un * un
    series = 0.0  # sum_k u^(2k) / (2k (2k - 1)), to u^16: relative error < 1e-9 for |u| < 0.25.
    for k in range(8, 0, -1):
        series = series * u2 + 1.0 / (2 * k * (2 * k - 1))
    series = d * u2 * series
    uf = jnp.where(near, 0.5, u)
    has_r = r > 0
    log_gap = jnp.log1p(-u)
    far = jnp.where(has_r, r * jnp.log1p(jnp.where(has_r, uf, 0.0)), 0.0) + (d - r) * log_gap
    return jnp.where(near, series, far), log_gap


@jax.custom_jvp
def _log_model(d, r, s_r):
    """Unnormalised ``log[C(d, r) 2^-d]`` for ``d > r``; ``s_r = S(r)`` is data, computed once outside.

    Differentiable in ``d`` only (``r`` and ``s_r`` are data), with the derivative
    ``digamma(d + 1) - digamma(d - r + 1) - log 2`` written through ``S'`` to stay exact in float32.
    """
    kl_term, _ = _n_kl_half(d, r)
    s = _stirling_remainder(jnp.stack([d, d - r]))
    return -kl_term + s[0] - s_r - s[1]


@_log_model.defjvp
def _log_model_jvp(primals, tangents):
    d, r, s_r = primals
    d_dot = tangents[0]
    kl_term, log_gap = _n_kl_half(d, r)
    s = _stirling_remainder(jnp.stack([d, d - r]))
    ds = _stirling_remainder_grad(jnp.stack([d, d - r]))
    return -kl_term + s[0] - s_r - s[1], (ds[0] - ds[1] - log_gap) * d_dot


def _kl(phi, r, s_r, p, mask, r_lo, r_hi, p_log_p):
    """KL(P_emp || P_model) over the masked bins. ``phi = log(d(r) - r)`` at ``r_lo`` and ``r_hi``.

    ``p_log_p = sum(p log p)``, a constant of the data.
    """
    gap = jnp.exp(phi)
    t = (r - r_lo) / (r_hi - r_lo)
    rs = jnp.where(mask, r, r_lo)
    gaps = jnp.where(mask, gap[0] + (gap[1] - gap[0]) * t, gap[0])
    logq = _log_model(rs + gaps, rs, s_r)
    log_z = logsumexp(jnp.where(mask, logq, -jnp.inf))
    return p_log_p - jnp.sum(jnp.where(mask, p * (logq - log_z), 0.0))


def _phi_to_d(phi, r_lo, r_hi):
    gap = jnp.exp(phi)
    d1 = 1.0 + (gap[1] - gap[0]) / (r_hi - r_lo)
    return gap[0] - (d1 - 1.0) * r_lo, d1


def _lbfgs(fun, phi0, max_iter):
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(fun)

    def step(carry):
        phi, state, _ = carry
        value, grad = value_and_grad(phi, state=state)
        updates, state = opt.update(grad, state, phi, value=value, grad=grad, value_fn=fun)
        return optax.apply_updates(phi, updates), state, phi

    def keep_going(carry):
        phi, state, previous = carry
        count = optax.tree.get(state, "count")
        grad_norm = optax.tree.norm(optax.tree.get(state, "grad"))
        # Steps of a few float32 ulps (phi ~ 1..12, ulp <= 1e-6) are noise, not progress: stop there. The
        # Newton check after the loop decides whether this point is an optimum.
        moved = jnp.max(jnp.abs(phi - previous)) > _MIN_STEP
        return (count == 0) | ((count < max_iter) & (grad_norm > 1e-7) & moved & jnp.all(jnp.isfinite(phi)))

    phi, state, _ = lax.while_loop(keep_going, step, (phi0, opt.init(phi0), phi0 + 1.0))
    return phi, optax.tree.get(state, "count")


def _fit_one(r, s_r, p, mask, r_lo, r_hi, p_log_p, candidates, *, n_starts, max_iter):
    fun = functools.partial(_kl, r=r, s_r=s_r, p=p, mask=mask, r_lo=r_lo, r_hi=r_hi, p_log_p=p_log_p)
    first = jax.vmap(fun)(candidates)
    first = jnp.where(jnp.isfinite(first), first, jnp.inf)
    _, best_starts = lax.top_k(-first, n_starts)
    phis, iters = jax.vmap(lambda phi0: _lbfgs(fun, phi0, max_iter))(candidates[best_starts])
    # One batched gradient pass: at each end point, and at +-h around each (central-difference Hessian).
    h = 1e-2
    offsets = jnp.array([[0.0, 0.0], [h, 0.0], [-h, 0.0], [0.0, h], [0.0, -h]])
    values, grads = jax.vmap(jax.vmap(jax.value_and_grad(fun)))(phis[:, None, :] + offsets[None])
    final = jnp.where(jnp.isfinite(values[:, 0]), values[:, 0], jnp.inf)
    best = jnp.argmin(final)
    phi, kl, grad, g = phis[best], values[best, 0], grads[best, 0], grads[best]
    hess = jnp.stack([g[1] - g[2], g[3] - g[4]]) / (2 * h)
    converged = _converged(kl, grad, hess, iters[best], max_iter) & (jnp.sum(mask) >= 3)
    d0, d1 = _phi_to_d(phi, r_lo, r_hi)
    return d0, d1, kl, converged, iters[best]


def _converged(kl, grad, hess, n_iter, max_iter):
    """Optimum reached: finite KL, L-BFGS stopped by itself, Hessian positive definite, Newton step small."""
    hess = 0.5 * (hess + hess.T)
    det = hess[0, 0] * hess[1, 1] - hess[0, 1] * hess[1, 0]
    newton = jnp.stack([hess[1, 1] * grad[0] - hess[0, 1] * grad[1], hess[0, 0] * grad[1] - hess[1, 0] * grad[0]]) / det
    positive = (hess[0, 0] > 0) & (det > 0)
    settled = (jnp.max(jnp.abs(newton)) < _STEP_TOL) & (n_iter < max_iter)
    return jnp.isfinite(kl) & jnp.all(jnp.isfinite(grad)) & positive & settled


@functools.partial(jax.jit, static_argnames=("n_starts", "max_iter"))
def _fit_batch(r, s_r, p, mask, r_lo, r_hi, p_log_p, candidates, *, n_starts, max_iter):
    """Fit ``B`` histograms at once. r, s_r, p, mask: ``[B, M]``; r_lo, r_hi, p_log_p: ``[B]``;
    candidates ``[B, C, 2]``."""
    fit = functools.partial(_fit_one, n_starts=n_starts, max_iter=max_iter)
    return jax.vmap(fit)(r, s_r, p, mask, r_lo, r_hi, p_log_p, candidates)


# ----------------------------------------------------------------------------------------------------------
# Float64 polish: the float32 fit stops where the KL's float32 resolution (~3e-7) hides the rest of the descent
# (d0 off by ~2e-4 relative); a few damped Newton steps on the same objective in float64 reach the optimum.

_POLISH_ITER = 30


def _kl64(phi, r, p, mask, r_lo, r_hi):
    """:func:`_kl` in float64 with plain ``gammaln`` (exact enough in 64 bits), without the constant ``Σ p log p``."""
    gap = jnp.exp(phi)
    t = (r - r_lo) / (r_hi - r_lo)
    rs = jnp.where(mask, r, r_lo)
    d = rs + jnp.where(mask, gap[0] + (gap[1] - gap[0]) * t, gap[0])
    logq = gammaln(d + 1.0) - gammaln(rs + 1.0) - gammaln(d - rs + 1.0) - d * jnp.log(2.0)
    log_z = logsumexp(jnp.where(mask, logq, -jnp.inf))
    return -jnp.sum(jnp.where(mask, p * (logq - log_z), 0.0))


@jax.jit
def _kl64_derivatives(phi, r, p, mask, r_lo, r_hi):
    """Value, gradient and Hessian of :func:`_kl64` for a batch: phi ``[B, 2]``; r, p, mask ``[B, M]``."""
    def one(ph, *data):
        f = functools.partial(_kl64, r=data[0], p=data[1], mask=data[2], r_lo=data[3], r_hi=data[4])
        return f(ph), jax.grad(f)(ph), jax.hessian(f)(ph)

    return jax.vmap(one)(phi, r, p, mask, r_lo, r_hi)


def _polish(phi: np.ndarray, windows: Sequence[_Window], ok: np.ndarray) -> np.ndarray:
    """Damped Newton steps in float64 (scoped x64) from the float32 optimum ``phi`` ``[B, 2]``; rows where
    ``ok`` is False are left alone. A step is taken only when it lowers the float64 KL."""
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return phi
    size = _bucket(max(len(windows[b].r) for b in rows))
    r = np.zeros((rows.size, size))
    pp = np.zeros_like(r)
    mask = np.zeros(r.shape, bool)
    for i, b in enumerate(rows):
        m = len(windows[b].r)
        r[i, :m], r[i, m:], pp[i, :m], mask[i, :m] = windows[b].r, windows[b].r[0], windows[b].p, True
    lo, hi = r[:, 0].copy(), np.array([windows[b].r[-1] for b in rows])
    x = np.asarray(phi, np.float64)[rows]
    with _x64_scope():
        data = [jnp.asarray(a) for a in (r, pp, mask, lo, hi)]

        def derivs(ph):
            return (np.array(v, np.float64) for v in _kl64_derivatives(jnp.asarray(ph), *data))

        val, grad, hess = derivs(x)
        active = np.isfinite(val)
        for _ in range(_POLISH_ITER):
            if not active.any():
                break
            step = np.zeros_like(x)
            for i in np.flatnonzero(active):
                h, g = hess[i], grad[i]
                pd = h[0, 0] > 0 and np.linalg.det(h) > 0
                step[i] = -np.linalg.solve(h, g) if pd else -g
            damp = np.ones(len(x))
            for _ in range(20):  # halve the steps that do not lower the KL
                trial = x + damp[:, None] * step
                v_new, g_new, h_new = derivs(trial)
                better = active & np.isfinite(v_new) & (v_new <= val)
                take = better | ~active
                if take.all():
                    break
                damp = np.where(take, damp, 0.5 * damp)
            accept = active & better
            x[accept], val[accept], grad[accept], hess[accept] = (trial[accept], v_new[accept], g_new[accept],
                                                                  h_new[accept])
            # done: no decrease found, or the step no longer moves phi beyond float64 noise
            active &= accept & (np.max(np.abs(damp[:, None] * step), axis=1) > 1e-13)
    out = np.array(phi, np.float64)
    out[rows] = x
    return out


# ----------------------------------------------------------------------------------------------------------
# Host side: quantile window, starts, batching


def _check_alphas(alpha_min: float, alpha_max: float, fn: str) -> tuple[float, float]:
    alpha_min, alpha_max = float(alpha_min), float(alpha_max)
    if not 0.0 <= alpha_min < alpha_max <= 1.0:
        raise ValueError(f"{fn}: need 0 <= alpha_min < alpha_max <= 1, got alpha_min={alpha_min}, alpha_max={alpha_max}.")
    return alpha_min, alpha_max


class _Window(NamedTuple):
    r: np.ndarray  # fitted distances (non-empty bins), float64
    p: np.ndarray  # their empirical probabilities, normalised over the window
    mean: float  # mean distance over all pairs


def _window(counts: np.ndarray, alpha_min: float, alpha_max: float) -> _Window:
    occupied = np.flatnonzero(counts)
    if occupied.size == 0:
        return _Window(np.zeros(0), np.zeros(0), np.nan)
    total = counts.sum(dtype=np.float64)
    cdf = np.cumsum(counts[occupied] / total)

    def quantile_index(alpha):
        below = np.flatnonzero(cdf <= alpha + _QUANTILE_SLACK)
        return int(below[-1]) if below.size else 0

    lo = 0 if alpha_min == 0.0 else quantile_index(alpha_min)
    hi = quantile_index(alpha_max)
    r = occupied[lo : hi + 1].astype(np.float64)
    p = counts[occupied[lo : hi + 1]].astype(np.float64)
    mean = float(np.dot(np.arange(counts.size, dtype=np.float64), counts) / total)
    return _Window(r, p / p.sum(), mean)


def _bucket(m: int) -> int:
    """Static window length: 512, then powers of 4, so a process compiles the fit only a few times.

    The fit's compile time (optax L-BFGS with a zoom line search, ~250 XLA fusions: ~10 s of CPU) dwarfs
    its run time (~0.1 s), so shapes come from a short list: windows padded to 512, 2048, 8192, ... bins,
    and every batch, a single fit included, in chunks of ``_CHUNK``: one compilation per process.
    """
    size = 512
    while size < m:
        size *= 4
    return size


def _candidates(win: _Window, n_bits: int, key: jax.Array | None, n_random: int) -> np.ndarray:
    """Starting points ``[C, 2]`` in phi: DADApy's grid, then ``n_random`` random ones (NaN without a key).

    Invalid starts (``d(r) <= r`` somewhere in the range) are NaN and never chosen.
    """
    r_lo, r_hi = win.r[0], win.r[-1]
    d0 = np.concatenate([[r_hi], n_bits * _START_FRACTIONS])
    d1 = np.concatenate([[1.0], 2.0 - n_bits * _START_FRACTIONS / win.mean])
    gaps = np.stack([d0 + (d1 - 1.0) * r_lo, d0 + (d1 - 1.0) * r_hi], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(gaps > 0, np.log(np.where(gaps > 0, gaps, 1.0)), np.nan)
    extra = np.full((n_random, 2), np.nan)  # same shape with or without a key: one compiled fit
    if key is not None:
        scale = np.log(max(2.0 * win.mean, 2.0))  # log-uniform gaps between 1 and 2 * mean distance
        extra = np.asarray(jax.random.uniform(key, (n_random, 2), dtype=jnp.float32), np.float64) * scale
    return np.concatenate([phi, extra])


def _fit_windows(
    windows: Sequence[_Window], n_bits: int, key: jax.Array | None, *, n_starts: int = 4
) -> BIDResult:
    """Fit a batch of windows; windows with fewer than 3 bins come back NaN and not converged."""
    n_random = 8
    keys = [None] * len(windows) if key is None else list(jax.random.split(key, len(windows)))
    usable = np.array([len(w.r) >= 3 for w in windows])
    size = _bucket(max(len(w.r) for w in windows))
    n_cand = 1 + _START_FRACTIONS.size + n_random
    chunk = _CHUNK
    n_rows = -(-len(windows) // chunk) * chunk
    rr = np.zeros((n_rows, size), np.float32)
    pp = np.zeros_like(rr)
    mm = np.zeros(rr.shape, bool)
    lo = np.zeros(n_rows, np.float32)
    hi = np.ones(n_rows, np.float32)
    cand = np.full((n_rows, n_cand, 2), np.nan, np.float32)
    for b, w in enumerate(windows):
        if usable[b]:
            m = len(w.r)
            rr[b, :m], rr[b, m:] = w.r, w.r[0]
            pp[b, :m] = w.p
            mm[b, :m] = True
            lo[b], hi[b] = w.r[0], w.r[-1]
            cand[b] = _candidates(w, n_bits, keys[b], n_random)
    if usable.any():  # padding rows repeat a real problem, so the vmapped loops stop together
        first = int(np.flatnonzero(usable)[0])
        pad = np.concatenate([np.flatnonzero(~usable), np.arange(len(windows), n_rows)])
        rr[pad], pp[pad], mm[pad], lo[pad], hi[pad], cand[pad] = rr[first], pp[first], mm[first], lo[first], hi[first], cand[first]
    s_r = np.asarray(_stirling_remainder(jnp.asarray(rr)))
    p_log_p = np.sum(pp * np.log(np.where(pp > 0, pp, 1.0)), axis=1, dtype=np.float64).astype(np.float32)
    outs = []
    for c in range(0, n_rows, chunk):
        part = slice(c, c + chunk)
        outs.append(
            _fit_batch(
                rr[part], s_r[part], pp[part], mm[part], lo[part], hi[part], p_log_p[part], cand[part],
                n_starts=n_starts, max_iter=_MAX_ITER,
            )
        )
    d0, d1, kl, conv, iters = (np.concatenate([np.asarray(o[i]) for o in outs])[: len(windows)] for i in range(5))
    d0, d1, kl = _polished(windows, d0, d1, kl, conv & usable)
    nan = np.float32(np.nan)
    return BIDResult(
        d0=jnp.asarray(np.where(usable, d0, nan)),
        d1=jnp.asarray(np.where(usable, d1, nan)),
        kl=jnp.asarray(np.where(usable, kl, nan)),
        converged=jnp.asarray(conv & usable),
        r_min=jnp.asarray([w.r[0] if len(w.r) else np.nan for w in windows], jnp.float32),
        r_max=jnp.asarray([w.r[-1] if len(w.r) else np.nan for w in windows], jnp.float32),
        n_bins=jnp.asarray([len(w.r) for w in windows], jnp.int32),
        n_iter=jnp.asarray(np.where(usable, iters, 0)),
    )


def _polished(windows, d0, d1, kl, ok):
    """``(d0, d1, kl)`` of the converged fits ``ok`` after the float64 polish (:func:`_polish`)."""
    if not ok.any():
        return d0, d1, kl
    lo = np.array([w.r[0] if len(w.r) else 0.0 for w in windows])
    hi = np.array([w.r[-1] if len(w.r) else 1.0 for w in windows])
    a, b = np.asarray(d0, np.float64), np.asarray(d1, np.float64)
    gaps = np.stack([a + (b - 1.0) * lo, a + (b - 1.0) * hi], axis=-1)
    ok = ok & np.all(gaps > 0, axis=1)
    phi = _polish(np.log(np.where(gaps > 0, gaps, 1.0)), windows, ok)
    g = np.exp(phi)
    slope = 1.0 + (g[:, 1] - g[:, 0]) / (hi - lo)
    new_d0, new_d1 = g[:, 0] - (slope - 1.0) * lo, slope
    with _x64_scope():
        kl64 = np.array([float(_kl64(jnp.asarray(phi[i]), jnp.asarray(w.r), jnp.asarray(w.p), jnp.ones(len(w.r), bool),
                                     w.r[0], w.r[-1])) + float(np.sum(w.p * np.log(w.p))) if ok[i] else 0.0
                         for i, w in enumerate(windows)])
    return (np.where(ok, new_d0, d0).astype(np.float32), np.where(ok, new_d1, d1).astype(np.float32),
            np.where(ok, kl64, kl).astype(np.float32))


def _first(result: BIDResult) -> BIDResult:
    return BIDResult(*(field[0] for field in result))


def bid_from_histogram(
    counts: jax.typing.ArrayLike,
    *,
    alpha_min: float = 0.0,
    alpha_max: float = 0.2,
    key: jax.Array | None = None,
) -> BIDResult:
    """Fit the BID to a histogram of Hamming distances.

    Args:
      counts: ``[L + 1]`` non-negative counts of pairs at each distance (as :func:`hamming_histogram`
        returns), or ``[R, L + 1]`` for R histograms fitted at once (vmapped; then too few bins give a NaN,
        not-converged row instead of an error).
      alpha_min: lower quantile of the fitted range (probability mass).
      alpha_max: upper quantile of the fitted range.
      key: optional PRNG key: adds 8 random starts to the deterministic grid. None: deterministic.

    Returns:
      :class:`BIDResult` (scalars, or ``[R]`` arrays for a batch). A single fit that does not converge
      also emits a ``RuntimeWarning``.

    Raises:
      ValueError: bad alphas, negative counts, or (single histogram) fewer than 3 non-empty bins in range.

    Examples:
      >>> import numpy as np
      >>> from scipy.stats import binom
      >>> from ii_jax import bid_from_histogram
      >>> counts = np.round(1e6 * binom.pmf(np.arange(501), 500, 0.5)).astype(np.int64)
      >>> res = bid_from_histogram(counts, alpha_max=0.5)
      >>> print(f"{float(res.d0):.0f} {bool(res.converged)}")
      500 True
    """
    counts = np.asarray(counts)
    alpha_min, alpha_max = _check_alphas(alpha_min, alpha_max, "bid_from_histogram")
    if counts.ndim not in (1, 2) or counts.shape[-1] < 2:
        raise ValueError(f"bid_from_histogram: counts must have shape [L + 1] or [R, L + 1], got {counts.shape}.")
    if not np.issubdtype(counts.dtype, np.number) or np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("bid_from_histogram: counts must be finite and non-negative.")
    batch = counts if counts.ndim == 2 else counts[None]
    n_bits = batch.shape[-1] - 1
    windows = [_window(c, alpha_min, alpha_max) for c in batch]
    if counts.ndim == 1 and len(windows[0].r) < 3:
        raise ValueError(
            f"bid_from_histogram: only {len(windows[0].r)} non-empty distance bins between the quantiles "
            f"alpha_min={alpha_min} and alpha_max={alpha_max}; need at least 3 to fit d0 and d1. "
            "Raise alpha_max, or use more points or more bits (L too small for this quantile range)."
        )
    result = _fit_windows(windows, n_bits, key)
    if counts.ndim == 2:
        return result
    result = _first(result)
    if not bool(result.converged):
        warnings.warn(
            f"bid: the KL fit did not converge (kl={float(result.kl):.3g}, {int(result.n_iter)} iterations); "
            "d0 and d1 are not reliable (result.converged is False).",
            RuntimeWarning,
            stacklevel=3,
        )
    return result


def bid_from_bits(
    words: jax.typing.ArrayLike,
    n_bits: int,
    *,
    alpha_min: float = 0.0,
    alpha_max: float = 0.2,
    key: jax.Array | None = None,
) -> BIDResult:
    """Binary Intrinsic Dimension of N binary vectors.

    The histogram of the N(N-1)/2 Hamming distances is streamed (:func:`hamming_histogram`), then
    ``d0`` and ``d1`` of ``P(r) ∝ C(d0 + d1 r, r) 2^-(d0 + d1 r)`` are fitted by KL minimisation.

    Args:
      words: ``[N, W]`` uint32 packed bits, as :func:`ii_jax.pack_bits` makes them.
      n_bits: bits per point L (``W = ceil(L / 32)``).
      alpha_min: lower quantile of the fitted distance range (0: from the smallest distance).
      alpha_max: upper quantile (DADApy's default 0.2; the paper's Fig. 9 used 0.15 and 0.4).
      key: optional PRNG key for 8 extra random starts; None keeps the fit deterministic.

    Returns:
      :class:`BIDResult` of scalars; check ``converged`` before using ``d0``.

    Raises:
      TypeError: words are not packed uint32 bits (e.g. float activations).
      ValueError: shapes do not match ``n_bits``, bad alphas, or too few distinct distances in range.

    Examples:
      >>> import jax
      >>> from ii_jax import bid_from_bits, pack_bits
      >>> bits = jax.random.bernoulli(jax.random.key(0), 0.5, (400, 256))
      >>> res = bid_from_bits(pack_bits(bits), 256)
      >>> print(bool(res.converged), 0.9 < float(res.d0) / 256 < 1.1)
      True True
    """
    words, n_bits = _check_words(words, n_bits, "bid")
    alpha_min, alpha_max = _check_alphas(alpha_min, alpha_max, "bid")
    counts = hamming_histogram(words, n_bits)
    return bid_from_histogram(counts, alpha_min=alpha_min, alpha_max=alpha_max, key=key)


def _summarise(fits: BIDResult) -> BIDJackknife:
    conv = np.asarray(fits.converged)
    d0 = np.asarray(fits.d0, np.float64)[conv]
    d1 = np.asarray(fits.d1, np.float64)[conv]
    n = int(conv.sum())
    mean = lambda a: float(a.mean()) if n else float("nan")  # noqa: E731
    std = lambda a: float(replica_std(a))  # noqa: E731  (ddof=1, NaN below two fits: the one rule)
    return BIDJackknife(mean(d0), std(d0), mean(d1), std(d1), n, fits)


@_renamed_kwargs(n_samples="n_sub", n_reps="repeats")
def bid_jackknife(
    words: jax.typing.ArrayLike,
    n_bits: int,
    *,
    key: jax.Array,
    n_sub: int | None = None,
    repeats: int = 10,
    alpha_min: float = 0.0,
    alpha_max: float = 0.2,
) -> BIDJackknife:
    """BID with jackknife error bars: ``repeats`` random subsamples of ``n_sub`` points, fitted at once.

    The R histograms come from one pass over the pairs (:func:`subsample_histograms`) and the R fits run
    as one ``jax.vmap``-ed optimisation. Mean and standard deviation are over the converged fits.

    Args:
      words: ``[N, W]`` uint32 packed bits.
      n_bits: bits per point.
      key: PRNG key choosing the subsamples.
      n_sub: points per subsample (default ``0.4 N``, the paper's 2,000 of 5,000).
      repeats: number of subsamples R (paper: 10).
      alpha_min: lower quantile of the fitted range.
      alpha_max: upper quantile.

    Returns:
      :class:`BIDJackknife`.

    Examples:
      >>> import jax
      >>> from ii_jax import bid_jackknife, pack_bits
      >>> bits = jax.random.bernoulli(jax.random.key(1), 0.5, (300, 128))
      >>> jk = bid_jackknife(pack_bits(bits), 128, key=jax.random.key(2), n_sub=200, repeats=4)
      >>> print(jk.n_converged, jk.d0_std < 0.1 * jk.d0)
      4 True
    """
    words, n_bits = _check_words(words, n_bits, "bid_jackknife")
    alpha_min, alpha_max = _check_alphas(alpha_min, alpha_max, "bid_jackknife")
    members = _jackknife_members(key, words.shape[0], n_sub, repeats, "bid_jackknife")
    counts = subsample_histograms(words, n_bits, members)
    return _summarise(bid_from_histogram(counts, alpha_min=alpha_min, alpha_max=alpha_max))


def _jackknife_members(key, n: int, n_sub: int | None, repeats: int, fn: str) -> np.ndarray:
    if key is None:
        raise ValueError(f"{fn}: key is required to draw the subsamples.")
    if n_sub is None:
        n_sub = max(2, int(round(0.4 * n)))
    if not 2 <= int(n_sub) <= n:
        raise ValueError(f"{fn}: n_sub must be between 2 and N={n}, got {n_sub}.")
    if int(repeats) < 1:
        raise ValueError(f"{fn}: repeats must be at least 1, got {repeats}.")
    keys = jax.random.split(key, int(repeats))
    picks = jax.vmap(lambda k: jax.random.permutation(k, n)[: int(n_sub)])(keys)
    members = np.zeros((int(repeats), n), bool)
    np.put_along_axis(members, np.asarray(picks), True, axis=1)
    return members


# ----------------------------------------------------------------------------------------------------------
# Per-layer profiles (paper Supp. H, Fig. 9)


@_renamed_kwargs(n_samples="n_sub", n_reps="repeats")
def bid_profile(
    layers: Sequence[jax.typing.ArrayLike],
    n_bits: int | Sequence[int],
    relative_depth: Sequence[float],
    *,
    alpha_min: float = 0.0,
    alpha_max: float = 0.2,
    key: jax.Array | None = None,
    n_sub: int | None = None,
    repeats: int = 10,
) -> BIDProfile:
    """BID of each layer's packed representation, against relative depth.

    Failed fits (too few bins, no convergence: paper Fig. 9's missing points) come back as NaN, never as a
    number.

    Args:
      layers: sequence of ``[N, W_l]`` uint32 packed arrays, one per layer.
      n_bits: bits per point, one int for all layers or one per layer.
      relative_depth: ``[n_layers]`` depths in ``[0, 1]``.
      alpha_min: lower quantile of the fitted range.
      alpha_max: upper quantile.
      key: None: one fit per layer on all points; a PRNG key: jackknife (``repeats`` subsamples of
        ``n_sub``) per layer, mean and standard deviation.
      n_sub: jackknife subsample size (default ``0.4 N``).
      repeats: jackknife repetitions.

    Returns:
      :class:`BIDProfile`.

    Examples:
      >>> import jax
      >>> from ii_jax import bid_profile, pack_bits
      >>> k1, k2 = jax.random.split(jax.random.key(0))
      >>> free = jax.random.bernoulli(k1, 0.5, (300, 64))
      >>> layers = [pack_bits(jax.random.bernoulli(k2, 0.5, (300, 256))), pack_bits(jax.numpy.tile(free, 4))]
      >>> prof = bid_profile(layers, 256, [0.0, 1.0])
      >>> print((prof.bid_fraction > 0.5).tolist())
      [True, False]
    """
    if len(layers) == 0:
        raise ValueError("bid_profile: layers is empty.")
    bits = [int(n_bits)] * len(layers) if np.ndim(n_bits) == 0 else [int(b) for b in n_bits]
    depth = np.asarray(relative_depth, np.float64)
    if len(bits) != len(layers) or depth.shape != (len(layers),):
        raise ValueError(
            f"bid_profile: need one n_bits and one relative_depth per layer ({len(layers)}), "
            f"got {len(bits)} and {depth.shape}."
        )
    d0 = np.full(len(layers), np.nan)
    d0_std = np.full(len(layers), np.nan)
    d1 = np.full(len(layers), np.nan)
    n_conv = np.zeros(len(layers), np.int64)
    keys = [None] * len(layers) if key is None else list(jax.random.split(key, len(layers)))
    for i, (words, nb) in enumerate(zip(layers, bits)):
        words, nb = _check_words(words, nb, "bid_profile")
        if keys[i] is None:
            counts = hamming_histogram(words, nb)
            fit = _first(bid_from_histogram(counts[None], alpha_min=alpha_min, alpha_max=alpha_max))
            if bool(fit.converged):
                d0[i], d1[i], n_conv[i] = float(fit.d0), float(fit.d1), 1
        else:
            members = _jackknife_members(keys[i], words.shape[0], n_sub, repeats, "bid_profile")
            counts = subsample_histograms(words, nb, members)
            jk = _summarise(bid_from_histogram(counts, alpha_min=alpha_min, alpha_max=alpha_max))
            d0[i], d0_std[i], d1[i], n_conv[i] = jk.d0, jk.d0_std, jk.d1, jk.n_converged
    return BIDProfile(depth, np.asarray(bits, np.float64), d0, d0_std, d1, n_conv)


def _token_window(bits: np.ndarray, n_tokens: int, skip_last: int, n_bits_token: int) -> tuple[np.ndarray, int]:
    """Concatenate the last ``n_tokens`` tokens (after dropping ``skip_last``) of ``[N, T, W]`` packed bits."""
    n, t, w = bits.shape
    if n_tokens + skip_last > t:
        raise ValueError(
            f"bid_profile_store: {n_tokens} tokens after skipping {skip_last} need {n_tokens + skip_last} "
            f"stored tokens, the store has {t}."
        )
    window = np.asarray(bits[:, t - skip_last - n_tokens : t - skip_last, :])
    if n_bits_token % WORD_BITS == 0:
        return np.ascontiguousarray(window.reshape(n, n_tokens * w)), n_tokens * n_bits_token
    from ii_jax.binary import pack_bits_np  # padding bits sit between tokens: unpack and repack

    unpacked = np.unpackbits(window.view(np.uint8), axis=-1, bitorder="little")[..., :n_bits_token]
    return pack_bits_np(unpacked.reshape(n, -1)), n_tokens * n_bits_token


@_renamed_kwargs(n_samples="n_sub", n_reps="repeats")
def bid_profile_store(
    store: Any,
    *,
    tokens: Sequence[int] = (10, 20),
    skip_last: int = 0,
    layers: Sequence[int] | None = None,
    alpha_min: float = 0.0,
    alpha_max: float = 0.2,
    key: jax.Array | None = None,
    n_sub: int | None = None,
    repeats: int = 10,
    include_embedding: bool = False,
) -> dict[int, BIDProfile]:
    """BID profile of a shard store for windows of the last k tokens (paper Fig. 9: k = 10 and 20).

    Args:
      store: a path to a shard store, or an object with ``.layers``, ``.relative_depth`` (per layer),
        ``.n_bits`` (bits per token) and ``.bits(layer) -> [N, T, W]`` uint32, as
        ``ii_jax.shards.open_store`` returns.
      tokens: window sizes k; each window concatenates the last k stored tokens.
      skip_last: stored tokens dropped from the end first (2 drops final punctuation in text).
      layers: layer indices to use (default: every stored layer but the store's ``embedding_layer``).
      alpha_min: lower quantile.
      alpha_max: upper quantile.
      key: PRNG key for jackknife error bars (None: one fit per layer).
      n_sub: jackknife subsample size.
      repeats: jackknife repetitions.
      include_embedding: also fit the embedding layer (default ``False``, as the paper's layer analyses).

    Returns:
      ``{k: BIDProfile}``.

    Examples:
      >>> import numpy as np
      >>> from ii_jax import bid_profile_store, pack_bits
      >>> class Store:  # the shard-store interface, in memory
      ...     layers, relative_depth, n_bits = [0, 1], [0.0, 1.0], 64
      ...     def bits(self, layer):
      ...         rng = np.random.default_rng(layer)
      ...         return np.asarray(pack_bits(rng.random((200, 3, 64)) < 0.5))
      >>> prof = bid_profile_store(Store(), tokens=(2,))
      >>> print(prof[2].n_bits.tolist(), np.isfinite(prof[2].d0).all())
      [128.0, 128.0] True
    """
    if isinstance(store, (str, bytes)) or hasattr(store, "__fspath__"):
        from ii_jax.shards import open_store  # the shard reader lives in its own module

        store = open_store(store)
    all_layers = list(store.layers)
    depth_of = dict(zip(all_layers, np.asarray(store.relative_depth, np.float64)))
    emb = getattr(store, "embedding_layer", None)
    chosen = [x for x in all_layers if include_embedding or x != emb] if layers is None else list(layers)
    missing = [layer for layer in chosen if layer not in depth_of]
    if missing:
        raise ValueError(f"bid_profile_store: layers {missing} are not in the store (it has {all_layers}).")
    n_bits_token = int(store.n_bits)
    keys = {k: None for k in tokens} if key is None else dict(zip(tokens, jax.random.split(key, len(tokens))))
    profiles = {}
    for k in tokens:
        if int(k) < 1:
            raise ValueError(f"bid_profile_store: token windows must be >= 1, got {k}.")
        packed, bits = zip(*(_token_window(store.bits(layer), int(k), int(skip_last), n_bits_token) for layer in chosen))
        profiles[int(k)] = bid_profile(
            list(packed), list(bits), [depth_of[layer] for layer in chosen], alpha_min=alpha_min,
            alpha_max=alpha_max, key=keys[k], n_sub=n_sub, repeats=repeats,
        )
    return profiles


def plot_bid_profile(profiles: BIDProfile | dict[Any, BIDProfile], *, ax: Any = None, label: str = "n_tokens"):
    """Plot BID / L against relative depth, with a ±1 std band where jackknife errors exist.

    Args:
      profiles: one :class:`BIDProfile` or ``{key: BIDProfile}`` (e.g. from :func:`bid_profile_store`).
      ax: matplotlib axes to draw on (default: a new figure).
      label: legend title for the dict keys.

    Returns:
      the matplotlib ``Axes``.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.bid import BIDProfile, plot_bid_profile
      >>> prof = BIDProfile(np.array([0.0, 0.5, 1.0]), np.full(3, 100.0), np.array([40.0, np.nan, 60.0]),
      ...                   np.array([2.0, np.nan, 3.0]), np.zeros(3), np.array([10, 0, 10]))
      >>> ax = plot_bid_profile({10: prof})
      >>> ax.get_ylabel()
      'BID / L'
    """
    import matplotlib.pyplot as plt

    if isinstance(profiles, BIDProfile):
        profiles = {None: profiles}
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for name, prof in profiles.items():
        order = np.argsort(prof.relative_depth)
        x, y = prof.relative_depth[order], prof.bid_fraction[order]
        (line,) = ax.plot(x, y, marker="o", ms=3, label=None if name is None else f"{label}={name}")
        err = (prof.d0_std / prof.n_bits)[order]
        if np.any(np.isfinite(err)):
            ax.fill_between(x, y - err, y + err, color=line.get_color(), alpha=0.25, linewidth=0)
    ax.set_xlabel("relative depth")
    ax.set_ylabel("BID / L")
    if any(name is not None for name in profiles):
        ax.legend()
    return ax


# ----------------------------------------------------------------------------------------------------------
# The old name. ``ii_jax.bid`` used to be this module's ``bid`` function re-exported over the module's own name,
# so ``import ii_jax.bid as m`` gave the function. Now ``ii_jax.bid`` is the module; calling it (or the function
# ``ii_jax.bid.bid``) still works for one release, with a DeprecationWarning.


def bid(*args, **kwargs) -> BIDResult:
    """Deprecated alias of :func:`bid_from_bits`."""
    warnings.warn("ii_jax.bid(...) is deprecated: use ii_jax.bid_from_bits(...) (ii_jax.bid is now the module)",
                  DeprecationWarning, stacklevel=2)
    return bid_from_bits(*args, **kwargs)


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        warnings.warn("ii_jax.bid(...) is deprecated: use ii_jax.bid_from_bits(...) (ii_jax.bid is now the module)",
                      DeprecationWarning, stacklevel=2)
        return bid_from_bits(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
