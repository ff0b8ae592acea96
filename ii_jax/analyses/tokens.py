"""Token distance and causal asymmetry (paper Fig. 3b-c, 10, 11): Δ between the last token and earlier ones."""
from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from ii_jax import resample as _rs
from ii_jax.analyses._util import _key, _progress
from ii_jax.analyses.cache import TokenDistances
from ii_jax.analyses.resampling import _delta, _jack_param, _resolve_jackknife
from ii_jax.analyses.sources import _depth, _layers, _name, as_source

__all__ = ["TokenDistance", "token_distance"]


class TokenDistance(NamedTuple):
    """Δ between the last token T and the token T−τ of the same items, per layer.

    Attributes:
      layers, relative_depth: ``[L]``. taus: ``[τmax]``.
      backward: ``[L, τmax]`` Δ(T→T−τ). forward: ``[L, τmax]`` Δ(T−τ→T).
      asymmetry: ``[L]`` A = mean over τ of Δ(T→T−τ) − Δ(T−τ→T) (positive: the earlier token predicts the last
      one better than the reverse). asymmetry_std: ``[L]`` jackknife std of A (NaN: none).
    """

    layers: np.ndarray
    relative_depth: np.ndarray
    taus: np.ndarray
    backward: np.ndarray
    forward: np.ndarray
    asymmetry: np.ndarray
    asymmetry_std: np.ndarray
    n: int
    params: dict


def token_distance(src, *, tau_max: int = 10, layers=None, k: int = 1, ties: str = "average", jackknife=None,
                   key=None, progress: bool | None = None, include_embedding: bool = False) -> TokenDistance:
    """Δ(T→T−τ) and Δ(T−τ→T) for τ = 1..τmax at each layer, and the causal asymmetry A (paper Fig. 3b–c, 10).

    Layers: every stored layer but the embedding layer, unless ``include_embedding`` or ``layers``.

    Single tokens' sign bits and Hamming distances. With ``jackknife`` (``"auto"`` or ``(repeats, n_sub)``) the
    asymmetry gets an error bar: A recomputed on each subset of points.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore, token_distance
      >>> bits = np.random.default_rng(0).integers(0, 2**32, size=(1, 60, 5, 2), dtype=np.uint32)
      >>> t = token_distance(ArrayStore(bits), tau_max=3, progress=False)
      >>> t.backward.shape, t.asymmetry.shape
      ((1, 3), (1,))
    """
    src = as_source(src)
    lays = _layers(src, layers, include_embedding)
    if isinstance(tau_max, bool) or not isinstance(tau_max, (int, np.integer)) or not 1 <= tau_max < src.tokens:
        raise ValueError(f"tau_max must be an integer in [1, {src.tokens - 1}] ({src.tokens} tokens stored per "
                         f"item), got {tau_max!r}.")
    n = len(src)
    jack = _resolve_jackknife(n, jackknife)
    key = _key(key)
    back = np.zeros((len(lays), tau_max))
    fwd = np.zeros((len(lays), tau_max))
    a_std = np.full(len(lays), np.nan)
    for li in _progress(range(len(lays)), "token distance", progress):
        cache = TokenDistances(src, lays[li])  # per-token blocks: each computed once, shared by every τ
        d_last = cache.token(0)
        d_tau = [cache.token(t) for t in range(1, tau_max + 1)]
        for ti, d in enumerate(d_tau):
            back[li, ti], fwd[li, ti] = _delta(d_last, d, k=k, ties=ties)
        if jack is not None:
            reps = []
            _, gather = _rs._gatherer([d_last, *d_tau])  # where the sub-matrices are gathered: as the resampling
            for sub in _rs.replica_subsets(jack, n, jax.random.fold_in(key, lays[li])):
                last, *taus = gather(sub)
                r = np.array([_delta(last, d, k=k, ties=ties) for d in taus])
                reps.append(np.mean(r[:, 0] - r[:, 1]))
            a_std[li] = _rs.standard_error(reps, n=n, n_sub=jack.n_sub, error_bar=jack.error_bar)
    params = dict(analysis="token_distance", source=_name(src), tau_max=tau_max, k=k, ties=ties,
                  jackknife=_jack_param(n, jackknife), include_embedding=include_embedding)
    return TokenDistance(np.array(lays), _depth(src, lays), np.arange(1, tau_max + 1), back, fwd,
                         (back - fwd).mean(axis=1), a_std, n, params)
