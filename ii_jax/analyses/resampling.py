"""One pair of spaces: Δ (both directions), jackknife or bootstrap error bars and the shuffled null, by one route.

Every analysis that compares two spaces goes through :func:`_delta_stats` on a pair of ``[N, N]`` distance
matrices (from :class:`~ii_jax.analyses.cache.TokenDistances` or :func:`ii_jax.imbalance.distance_matrix`): Δ on all
points, then the resampling re-ranks inside the same matrices (:mod:`ii_jax.resample`). When the two matrices would
not fit ``max_cache_bytes``, :func:`_pair_stats` streams Δ over row blocks from the features instead, and each
jackknife subset gets its own small matrices.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from ii_jax import distances as _dist
from ii_jax import imbalance as _imb
from ii_jax import resample as _rs

__all__ = ["default_jackknife", "Jackknife"]

_CACHE_BYTES = 2**31
_ONE_BLOCK_ROWS = 8192  # below this N the native row-statistics kernel takes all rows in one call

default_jackknife = _rs.default_jackknife  # one definition (ii_jax.resample), re-exported here
Jackknife = _rs.Jackknife


class _PairStats(NamedTuple):
    value: np.ndarray  # [2]
    std: np.ndarray  # [2] (NaN: not computed)
    null: np.ndarray  # [2] (NaN: not computed)


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


def _delta_stats(dx, dy, *, key, k: int, ties: str, jackknife=None, bootstrap=None,
                 null: bool = False) -> _PairStats:
    """Δ of one pair of spaces from their distance matrices, with optional jackknife or bootstrap error bars (the
    standard error at N by :func:`ii_jax.resample.standard_error`, unless the jackknife says ``"subset"``) and null.
    """
    n = int(np.shape(dx)[0])
    nan = np.full(2, np.nan)
    k_jack, k_null = jax.random.split(key)
    jack = _resolve_jackknife(n, jackknife)
    value = _delta(dx, dy, k=k, ties=ties)
    std = nan
    if jack is not None:
        std = _rs.resample_from_distances(dx, dy, n_sub=jack.n_sub, repeats=jack.repeats, key=k_jack, k=k,
                                          ties=ties, error_bar=jack.error_bar).std
    elif bootstrap is not None:
        repeats, n_sub = bootstrap
        std = _rs.resample_from_distances(dx, dy, n_sub=n_sub, repeats=repeats, key=k_jack, replace=True, k=k,
                                          ties=ties).std
    nul = _rs.shuffled_null_from_distances(dx, dy, key=k_null, k=k, ties=ties).mean if null else nan
    return _PairStats(value, std, nul)


def _pair_stats(x, y, metric: str, *, key, k: int, ties: str, jackknife=None, bootstrap=None, null: bool = False,
                max_cache_bytes: int = _CACHE_BYTES) -> _PairStats:
    """Δ of one pair of spaces given as features (both directions), with optional jackknife or bootstrap std and
    shuffled null: :func:`_delta_stats` on their distance matrices, or a streamed pass when those do not fit.
    """
    n = int(np.shape(x)[0])
    if _fits(n, max_cache_bytes):
        return _delta_stats(_imb.distance_matrix(x, metric=metric), _imb.distance_matrix(y, metric=metric), key=key,
                            k=k, ties=ties, jackknife=jackknife, bootstrap=bootstrap, null=null)
    return _streamed_stats(x, y, metric, key=key, k=k, ties=ties, jackknife=jackknife, bootstrap=bootstrap,
                           null=null, max_cache_bytes=max_cache_bytes)


def _streamed_stats(x, y, metric: str, *, key, k: int, ties: str, jackknife=None, bootstrap=None,
                    null: bool = False, max_cache_bytes: int = _CACHE_BYTES) -> _PairStats:
    """Too large to cache: stream Δ; the jackknife works on subsets small enough to cache."""
    n = int(np.shape(x)[0])
    nan = np.full(2, np.nan)
    k_jack, k_null = jax.random.split(key)
    jack = _resolve_jackknife(n, jackknife)
    value = np.array(_imb.information_imbalance(x, y, metric=metric, k=k, ties=ties, max_cache_bytes=0))
    std = nan
    if jack is not None:
        vals = []
        for s in _rs.draw_subsets(k_jack, n, jack.n_sub, jack.repeats):
            vals.append(_pair_stats(np.asarray(x)[s], np.asarray(y)[s], metric, key=k_jack, k=k, ties=ties,
                                    max_cache_bytes=max_cache_bytes).value)
        std = _rs.standard_error(vals, n=n, n_sub=jack.n_sub, error_bar=jack.error_bar)
    elif bootstrap is not None:
        raise ValueError(f"bootstrap errors need both [N, N] distance matrices in memory; N={n} is too large "
                         f"for max_cache_bytes={max_cache_bytes}.")
    nul = nan
    if null:
        p = _rs._seed(k_null).permutation(n)
        nul = np.array(_imb.information_imbalance(x, np.asarray(y)[p], metric=metric, k=k, ties=ties,
                                                  max_cache_bytes=0))
    return _PairStats(value, std, nul)
