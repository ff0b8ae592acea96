"""Error bars and the null for the Information Imbalance: jackknife, bootstrap, shuffled pairing.

All three reuse the distance work: the two ``[N, N]`` distance matrices are built once (from symmetric tiles)
and every subsample, resample or shuffle only re-ranks inside them, never recomputing features or distances.

* **Jackknife** (the paper's "subsampling 2000 samples out of 5000, five times"): ``repeats`` random subsets of
  ``n_sub`` distinct points; Δ is recomputed *within* each subset (neighbours and ranks among its points).
* **Bootstrap** (the paper's "100 replicas of 200 samples"): ``repeats`` draws of ``n_sub`` points *with
  replacement* from the per-point contributions of the full set (the standard error of a mean over ``n_sub``
  points). Resampling points into the distance matrix instead would make duplicates each other's nearest
  neighbour at distance 0 and bias Δ towards 0, so it is not done.
* **Shuffled null**: the pairing of one side is permuted; Δ must come out ≈ 1 in both directions.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from ii_jax import imbalance as _imb

__all__ = ["Estimate", "Jackknife", "default_jackknife", "as_jackknife", "replica_std", "jackknife", "bootstrap",
           "shuffled_null", "resample_from_distances"]


class Jackknife(NamedTuple):
    """Jackknife sizes: ``repeats`` random subsets of ``n_sub`` distinct points (the paper: 5 subsets of 2000 of
    5000). Accepted, as a plain ``(repeats, n_sub)`` pair too, by every ``jackknife=`` argument of ii-jax.

    Examples:
      >>> from ii_jax.resample import Jackknife
      >>> Jackknife(repeats=5, n_sub=2000) == (5, 2000)
      True
    """

    repeats: int
    n_sub: int


def default_jackknife(n: int) -> Jackknife:
    """The paper's jackknife (5 subsets of 2000 out of 5000 points), scaled down for small N:
    ``Jackknife(repeats=5, n_sub=min(2000, 0.4 N))``.

    Examples:
      >>> from ii_jax.resample import default_jackknife
      >>> default_jackknife(5000), default_jackknife(1000)
      (Jackknife(repeats=5, n_sub=2000), Jackknife(repeats=5, n_sub=400))
    """
    return Jackknife(5, int(min(2000, max(3, int(0.4 * n)))))


def as_jackknife(spec, n: int) -> Jackknife | None:
    """A ``jackknife=`` argument as a validated :class:`Jackknife` for ``n`` points, or ``None`` for none.

    ``spec``: ``None``/``False`` (none), ``"auto"``/``True`` (:func:`default_jackknife`), a :class:`Jackknife`,
    a ``(repeats, n_sub)`` pair, or a ``{"repeats": ..., "n_sub": ...}`` mapping (as written in a report).
    """
    if spec is None or spec is False:
        return None
    if spec is True or (isinstance(spec, str) and spec == "auto"):
        return default_jackknife(n)
    try:
        if isinstance(spec, dict):
            spec = (spec["repeats"], spec["n_sub"])
        repeats, n_sub = spec
        if any(isinstance(v, bool) or not float(v).is_integer() for v in (repeats, n_sub)):
            raise ValueError
        repeats, n_sub = int(repeats), int(n_sub)
    except (TypeError, ValueError, KeyError):
        raise ValueError(f"jackknife must be None, 'auto', Jackknife(repeats, n_sub) or a (repeats, n_sub) pair of "
                         f"integers, got {spec!r}.") from None
    if repeats < 1 or n_sub < 3:
        raise ValueError(f"jackknife needs repeats >= 1 and n_sub >= 3, got Jackknife(repeats={repeats}, "
                         f"n_sub={n_sub}).")
    if n_sub > n:
        raise ValueError(f"N={n} points is too small for a jackknife of {n_sub} points per subset; use at most {n} "
                         f"(e.g. {default_jackknife(n)}).")
    return Jackknife(repeats, n_sub)


def replica_std(values, axis: int = 0) -> np.ndarray:
    """The one error-bar rule of ii-jax: the sample standard deviation (``ddof=1``) over replicas (jackknife
    subsets, bootstrap resamples, pairings), NaN with fewer than two replicas. Used by the Imbalance's resampling,
    the analyses and BID alike.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.resample import replica_std
      >>> float(replica_std([1.0, 2.0, 3.0])), bool(np.isnan(replica_std([1.0])))
      (1.0, True)
    """
    v = np.asarray(values, np.float64)
    if v.shape[axis] < 2:
        return np.full(np.delete(v.shape, axis), np.nan) if v.ndim > 1 else np.float64(np.nan)
    return v.std(axis=axis, ddof=1)


class Estimate(NamedTuple):
    """Resampled Imbalance.

    Attributes:
      mean: float64 ``[2]``: (Δ(X→Y), Δ(Y→X)) averaged over the replicas.
      std: float64 ``[2]``: their standard deviation, the error bar (:func:`replica_std`: ``ddof=1``, NaN for a
        single replica).
      values: float64 ``[R, 2]``: every replica.
    """

    mean: np.ndarray
    std: np.ndarray
    values: np.ndarray


def _estimate(values) -> Estimate:
    v = np.asarray(values, np.float64).reshape(-1, 2)
    return Estimate(v.mean(axis=0), replica_std(v, axis=0), v)


def _check_resampling(n: int, n_sub: int, repeats: int, key, *, replace: bool, k: int) -> None:
    if key is None:
        raise ValueError("key is required: pass key=jax.random.key(seed) so the resampling is reproducible.")
    if not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1, got {repeats!r}.")
    if not isinstance(n_sub, (int, np.integer)) or n_sub < 1:
        raise ValueError(f"n_sub must be an integer >= 1, got {n_sub!r}.")
    if not replace and not k + 2 <= n_sub <= n:
        raise ValueError(f"n_sub must lie in [k + 2, N] = [{k + 2}, {n}] for a jackknife over N={n} points, "
                         f"got n_sub={n_sub}.")


def _check_ties(ties: str) -> None:
    if ties == "random":
        raise ValueError("ties='random' is not supported for resampling; use 'average' or 'min'.")


def _seed(key) -> np.random.Generator:
    """A NumPy generator seeded from a JAX key (host-side index draws)."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().astype(np.uint64))


def resample_from_distances(dx, dy, *, n_sub: int, repeats: int, key, replace: bool = False, k: int = 1,
                            ties: str = "average") -> Estimate:
    """Jackknife (``replace=False``) or bootstrap (``replace=True``) from two ``[N, N]`` distance matrices.

    Args:
      dx, dy: ``[N, N]`` distances (NumPy arrays; only their row order matters).
      n_sub: points per replica. repeats: number of replicas. key: PRNG key.
      replace: ``False`` for the jackknife, ``True`` for the bootstrap over per-point contributions.
      k, ties: as :func:`ii_jax.information_imbalance` (``ties="random"`` is not supported here).

    Returns:
      :class:`Estimate`.

    Examples:
      >>> import jax, numpy as np
      >>> from ii_jax.resample import resample_from_distances
      >>> x = np.random.default_rng(0).normal(size=(120, 3))
      >>> d = ((x[:, None] - x[None]) ** 2).sum(-1)
      >>> e = ((x[:, None, :1] - x[None, :, :1]) ** 2).sum(-1)
      >>> est = resample_from_distances(d, e, n_sub=60, repeats=5, key=jax.random.key(0))
      >>> bool(est.mean[0] < est.mean[1])  # the full space predicts its projection, not the reverse
      True
    """
    _check_ties(ties)
    dx, dy = np.asarray(dx), np.asarray(dy)
    n = dx.shape[0]
    _check_resampling(n, n_sub, repeats, key, replace=replace, k=k)
    rng = _seed(key)
    if replace:
        points = _imb.pointwise_imbalance(dx, dy, k=k, ties=ties)  # [2, N]
        draws = [points[:, rng.integers(0, n, size=n_sub)].mean(axis=1) for _ in range(repeats)]
        return _estimate(draws)
    vals = []
    for _ in range(repeats):
        s = np.sort(rng.choice(n, size=n_sub, replace=False))
        sub = np.ix_(s, s)
        vals.append(tuple(_imb.imbalance_from_distances(dx[sub], dy[sub], k=k, ties=ties)))
    return _estimate(vals)


def _matrices(x, y, metric: str):
    return _imb.distance_matrix(x, metric=metric), _imb.distance_matrix(y, metric=metric)


def jackknife(x, y, *, n_sub: int, repeats: int = 5, key, metric: str = "hamming", k: int = 1,
              ties: str = "average") -> Estimate:
    """Jackknife error bars: ``repeats`` random subsets of ``n_sub`` distinct points, Δ recomputed in each.

    Args:
      x, y: the two spaces as for :func:`ii_jax.information_imbalance`.
      n_sub: points per subset (the paper: 2000 of 5000). repeats: subsets (the paper: 5). key: PRNG key.

    Returns:
      :class:`Estimate`.

    Examples:
      >>> import jax
      >>> from ii_jax import binarize, pack_bits
      >>> from ii_jax.resample import jackknife
      >>> a = jax.random.normal(jax.random.key(1), (300, 128))
      >>> x, y = pack_bits(binarize(a)), pack_bits(binarize(a[:, :64]))
      >>> est = jackknife(x, y, n_sub=150, repeats=4, key=jax.random.key(2))
      >>> est.values.shape, bool((est.std > 0).all())
      ((4, 2), True)
    """
    _check_ties(ties)
    _check_resampling(np.shape(x)[0], n_sub, repeats, key, replace=False, k=k)  # before the distance work
    dx, dy = _matrices(x, y, metric)
    return resample_from_distances(dx, dy, n_sub=n_sub, repeats=repeats, key=key, k=k, ties=ties)


def bootstrap(x, y, *, n_sub: int = 200, repeats: int = 100, key, metric: str = "hamming", k: int = 1,
              ties: str = "average") -> Estimate:
    """Bootstrap error bars over per-point contributions (the paper: 100 replicas of 200 samples).

    Returns:
      :class:`Estimate`.
    """
    _check_resampling(np.shape(x)[0], n_sub, repeats, key, replace=True, k=k)
    dx, dy = _matrices(x, y, metric)
    return resample_from_distances(dx, dy, n_sub=n_sub, repeats=repeats, key=key, replace=True, k=k, ties=ties)


def shuffled_null_from_distances(dx, dy, *, repeats: int = 1, key, k: int = 1, ties: str = "average") -> Estimate:
    """The null from distance matrices: permute the points of Y against those of X ``repeats`` times."""
    dx, dy = np.asarray(dx), np.asarray(dy)
    _check_resampling(dx.shape[0], dx.shape[0], repeats, key, replace=True, k=k)
    rng = _seed(key)
    vals = []
    for _ in range(repeats):
        p = rng.permutation(dx.shape[0])
        vals.append(tuple(_imb.imbalance_from_distances(dx, dy[np.ix_(p, p)], k=k, ties=ties)))
    return _estimate(vals)


def shuffled_null(x, y, *, repeats: int = 1, key, metric: str = "hamming", k: int = 1,
                  ties: str = "average") -> Estimate:
    """Δ with the pairing destroyed (one side permuted): ≈ 1 in both directions when nothing else links them.

    Examples:
      >>> import jax
      >>> from ii_jax import binarize, pack_bits
      >>> from ii_jax.resample import shuffled_null
      >>> a = jax.random.normal(jax.random.key(1), (300, 128))
      >>> x = pack_bits(binarize(a))
      >>> est = shuffled_null(x, x, repeats=3, key=jax.random.key(0))
      >>> bool(abs(est.mean[0] - 1) < 0.1)
      True
    """
    _check_resampling(np.shape(x)[0], 1, repeats, key, replace=True, k=k)
    dx, dy = _matrices(x, y, metric)
    return shuffled_null_from_distances(dx, dy, repeats=repeats, key=key, k=k, ties=ties)
