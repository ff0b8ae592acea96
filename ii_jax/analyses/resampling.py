"""One pair of spaces: Δ (both directions), jackknife or bootstrap error bars and the permutation null, by one route.

Every analysis that compares two spaces goes through :func:`_delta_stats` on a pair of ``[N, N]`` distance
matrices (from :class:`~ii_jax.analyses.cache.TokenDistances` or :func:`ii_jax.imbalance.distance_matrix`): Δ on all
points, then the resampling re-ranks inside the same matrices (:mod:`ii_jax.resample`) and the permutation null
ranks each matrix once and gathers per permutation (:mod:`ii_jax.null`). When the two matrices would not fit
``max_cache_bytes``, :func:`_pair_stats` streams Δ over row blocks from the features instead, each jackknife subset
gets its own small matrices, and the null keeps :data:`STREAMED_NULL_PERMUTATIONS` permutations, each one streamed
pass of the engine.

``null=`` of every analysis: ``False`` (none), ``True`` (:data:`NULL_PERMUTATIONS` permutations) or a number of
permutations (at least :data:`MIN_NULL_PERMUTATIONS`, so that the 2.5 % / 97.5 % band means something).
"""
from __future__ import annotations

import hashlib
from typing import NamedTuple

import jax
import numpy as np

from ii_jax import distances as _dist
from ii_jax import imbalance as _imb
from ii_jax import null as _null
from ii_jax import resample as _rs

__all__ = ["default_jackknife", "Jackknife"]

_CACHE_BYTES = 2**31
_ONE_BLOCK_ROWS = 8192  # below this N the native row-statistics kernel takes all rows in one call

default_jackknife = _rs.default_jackknife  # one definition (ii_jax.resample), re-exported here
Jackknife = _rs.Jackknife


#: Permutations of the null for ``null=True`` (on cached matrices each costs one gather: :mod:`ii_jax.null`).
NULL_PERMUTATIONS = 200
#: The fewest permutations ``null=`` accepts.
MIN_NULL_PERMUTATIONS = 50
#: Permutations of the null on the streamed route (matrices too large to cache): each is one more streamed pass of
#: the engine over permuted features, so only a few, whatever ``null=`` asks. Its band is then the range of a few
#: values and its p-value is at least ``1 / (STREAMED_NULL_PERMUTATIONS + 1)``.
STREAMED_NULL_PERMUTATIONS = 3


class _PairStats(NamedTuple):
    value: np.ndarray  # [2]
    std: np.ndarray  # [2] (NaN: not computed)
    null: np.ndarray  # [2] the permutation mean (NaN: not computed)
    null_band: np.ndarray  # [2, 2] per direction the null's (2.5 %, 97.5 %) quantiles (NaN: not computed)
    null_p: np.ndarray  # [2] the p-value of "Δ lies below the null" (NaN: not computed)


def _with_null(value, std, nd: _null.NullDistribution | None) -> _PairStats:
    if nd is None:
        return _PairStats(value, std, np.full(2, np.nan), np.full((2, 2), np.nan), np.full(2, np.nan))
    return _PairStats(value, std, nd.mean, nd.quantiles, nd.p_below)


def _null_permutations(null) -> int:
    """The permutations a ``null=`` argument asks for (0: none)."""
    if null is None or null is False:
        return 0
    if null is True:
        return NULL_PERMUTATIONS
    if isinstance(null, (int, np.integer)) and null >= MIN_NULL_PERMUTATIONS:
        return int(null)
    raise ValueError(f"null must be False, True ({NULL_PERMUTATIONS} permutations) or a number of permutations "
                     f">= {MIN_NULL_PERMUTATIONS}, got {null!r}.")


def _null_count(n: int, permutations: int, max_cache_bytes: int = _CACHE_BYTES) -> int | None:
    """The permutations a null over ``n`` points gets (for the results' ``params``; ``None``: no null)."""
    if not permutations:
        return None
    return permutations if _fits(n, max_cache_bytes) else STREAMED_NULL_PERMUTATIONS


def _stacked(stats) -> tuple[np.ndarray, ...]:
    """Per-layer :class:`_PairStats` as ``(values [L, 2], std [L, 2], null [L, 2], null_band [L, 2, 2],
    null_p [L, 2])``.
    """
    return tuple(np.array([getattr(st, f) for st in stats], np.float64).reshape((len(stats),) + shape)
                 for f, shape in zip(_PairStats._fields, ((2,), (2,), (2,), (2, 2), (2,)), strict=True))


def _null_key(key, names=()):
    """``key`` with the sources' names folded in (a stable hash), so that the nulls of different sources never
    share their permutations, even when their analyses are given the same key.
    """
    if not names:
        return key
    digest = hashlib.sha256("\0".join(str(n) for n in names).encode()).digest()
    return jax.random.fold_in(key, int.from_bytes(digest[:4], "little") >> 1)


def _resolve_jackknife(n: int, jackknife) -> _rs.Jackknife | None:
    return _rs.as_jackknife(jackknife, n)


def _jack_param(n, jackknife):
    j = _resolve_jackknife(n, jackknife)
    return None if j is None else {"repeats": j.repeats, "n_sub": j.n_sub, "error_bar": j.error_bar}


def _fits(n: int, max_cache_bytes: int = _CACHE_BYTES) -> bool:
    """Whether the two ``int32``/``float32`` ``[N, N]`` matrices of a pair of spaces fit ``max_cache_bytes``."""
    return 2 * n * n * 4 <= max_cache_bytes


def _block_rows(n: int) -> int | None:
    """Rows per call of the row statistics: all of them where the native kernel runs on one CPU device (the
    statistics are per row, so the result is the same integers; it saves the per-block padding and dispatch),
    else the engine's default.
    """
    if n <= _ONE_BLOCK_ROWS and jax.device_count() == 1 and _dist.native_available():
        return n
    return None


def _delta(dx, dy, *, k: int, ties: str) -> np.ndarray:
    """Δ(X→Y), Δ(Y→X) ``[2]`` from two ``[N, N]`` distance matrices."""
    n = int(np.shape(dx)[0])
    return np.array(_imb.imbalance_from_distances(dx, dy, k=k, ties=ties, block_size=_block_rows(n)))


def _delta_stats(dx, dy, *, key, k: int, ties: str, jackknife=None, bootstrap=None, null=False,
                 null_names=()) -> _PairStats:
    """Δ of one pair of spaces from their distance matrices, with optional jackknife or bootstrap error bars (the
    standard error at N by :func:`ii_jax.resample.standard_error`, unless the jackknife says ``"subset"``) and the
    permutation null (:func:`ii_jax.null.permutation_null_from_distances`; ``null``: see the module docstring).

    The null's key is split from ``key`` and then has ``null_names`` (the sources' names) folded in.
    """
    n = int(np.shape(dx)[0])
    nan = np.full(2, np.nan)
    k_jack, k_null = jax.random.split(key)
    jack = _resolve_jackknife(n, jackknife)
    permutations = _null_permutations(null)
    value = _delta(dx, dy, k=k, ties=ties)
    std = nan
    if jack is not None:
        std = _rs.resample_from_distances(dx, dy, n_sub=jack.n_sub, repeats=jack.repeats, key=k_jack, k=k,
                                          ties=ties, error_bar=jack.error_bar).std
    elif bootstrap is not None:
        repeats, n_sub = bootstrap
        std = _rs.resample_from_distances(dx, dy, n_sub=n_sub, repeats=repeats, key=k_jack, replace=True, k=k,
                                          ties=ties).std
    nd = None
    if permutations:
        nd = _null.permutation_null_from_distances(dx, dy, permutations=permutations, key=_null_key(k_null, null_names),
                                                   k=k, ties=ties, observed=value)
    return _with_null(value, std, nd)


def _pair_stats(x, y, metric: str, *, key, k: int, ties: str, jackknife=None, bootstrap=None, null=False,
                null_names=(), max_cache_bytes: int = _CACHE_BYTES) -> _PairStats:
    """Δ of one pair of spaces given as features (both directions), with optional jackknife or bootstrap std and
    permutation null: :func:`_delta_stats` on their distance matrices, or a streamed pass when those do not fit.
    """
    n = int(np.shape(x)[0])
    if _fits(n, max_cache_bytes):
        return _delta_stats(_imb.distance_matrix(x, metric=metric), _imb.distance_matrix(y, metric=metric), key=key,
                            k=k, ties=ties, jackknife=jackknife, bootstrap=bootstrap, null=null,
                            null_names=null_names)
    return _streamed_stats(x, y, metric, key=key, k=k, ties=ties, jackknife=jackknife, bootstrap=bootstrap,
                           null=null, null_names=null_names, max_cache_bytes=max_cache_bytes)


def _streamed_stats(x, y, metric: str, *, key, k: int, ties: str, jackknife=None, bootstrap=None, null=False,
                    null_names=(), max_cache_bytes: int = _CACHE_BYTES) -> _PairStats:
    """Too large to cache: stream Δ; the jackknife works on subsets small enough to cache.

    The null here is *not* the full permutation null: whatever ``null`` asks, it keeps
    :data:`STREAMED_NULL_PERMUTATIONS` permutations (:func:`ii_jax.null.draw_permutations` of the same key as on
    the cached route), each one more streamed pass of the engine over Y's permuted features. Its mean is unbiased,
    but its band is the range of those few values and its p-value can be no smaller than 1/4.
    """
    n = int(np.shape(x)[0])
    nan = np.full(2, np.nan)
    k_jack, k_null = jax.random.split(key)
    jack = _resolve_jackknife(n, jackknife)
    permutations = _null_permutations(null)
    value = np.array(_imb.information_imbalance(x, y, metric=metric, k=k, ties=ties, max_cache_bytes=0))
    std = nan
    if jack is not None:
        vals = []
        for s in _rs.replica_subsets(jack, n, k_jack):
            vals.append(_pair_stats(np.asarray(x)[s], np.asarray(y)[s], metric, key=k_jack, k=k, ties=ties,
                                    max_cache_bytes=max_cache_bytes).value)
        std = _rs.standard_error(vals, n=n, n_sub=jack.n_sub, error_bar=jack.error_bar)
    elif bootstrap is not None:
        raise ValueError(f"bootstrap errors need both [N, N] distance matrices in memory; N={n} is too large "
                         f"for max_cache_bytes={max_cache_bytes}.")
    nd = None
    if permutations:
        perms = _null.draw_permutations(_null_key(k_null, null_names), n, STREAMED_NULL_PERMUTATIONS)
        vals = [_imb.information_imbalance(x, np.asarray(y)[p], metric=metric, k=k, ties=ties, max_cache_bytes=0)
                for p in perms]
        nd = _null.null_from_values(vals, n=n, observed=value, expected=n / (n - 1) if ties == "average" else None)
    return _with_null(value, std, nd)
