"""Token-window sweeps (paper Fig. 3a): Δ per layer as a function of the number of last tokens concatenated."""
from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import numpy as np

from ii_jax import distances as _dist
from ii_jax.analyses._util import _progress
from ii_jax.analyses.cache import TokenDistances
from ii_jax.analyses.resampling import _CACHE_BYTES, _delta, _fits, _pair_stats
from ii_jax.analyses.sources import _check_paired, _depth, _layers, _name, as_source, features
from ii_jax.core import delta_from_stats

__all__ = ["WindowSweep", "default_windows", "window_sweep"]


class WindowSweep(NamedTuple):
    """Δ per layer for each window of last tokens, and its minimum over layers.

    Attributes:
      windows: ``[K]`` tokens concatenated. layers, relative_depth: ``[L]``. values: ``[K, L, 2]``.
      minimum: ``[K, 2]`` min over layers per direction. argmin: ``[K, 2]`` the layer of that minimum.
    """

    windows: np.ndarray
    layers: np.ndarray
    relative_depth: np.ndarray
    values: np.ndarray
    minimum: np.ndarray
    argmin: np.ndarray
    n: int
    params: dict


def default_windows(tokens: int) -> list[int]:
    """1, 2, 5, 10, 20, 40, ... up to ``tokens`` (and ``tokens`` itself)."""
    out = [w for w in (1, 2, 3, 5, 10, 15, 20, 30, 40, 60, 80, 100, 150, 200) if w <= tokens]
    return out + ([tokens] if tokens not in out else [])


def window_sweep(a, b, *, windows: Sequence[int] | None = None, layers=None, k: int = 1, ties: str = "average",
                 progress: bool | None = None, include_embedding: bool = False) -> WindowSweep:
    """Minimum Δ over layers as a function of the number of last tokens concatenated (paper Fig. 3a).

    Args:
      windows: token windows (default :func:`default_windows` of the stored tokens).
      layers: layer indices (default: every stored layer but the embedding layer).
      include_embedding: also sweep the embedding layer (so it may be the minimum); default ``False``.

    Per layer the windows are a running sum of per-token distances: each window adds the tokens it has beyond the
    previous one, and no distance is computed twice. On CPU with the native kernels built, one fused call per layer
    (:func:`ii_jax._native.window_stats`) runs the popcount once over the largest window, storing each window's
    tiles as it passes them, and takes every window's statistics from those; elsewhere the running sum is over
    per-token ``[N, N]`` blocks (:class:`~ii_jax.analyses.cache.TokenDistances`). Either way Δ at window ``w`` is the
    value :func:`~ii_jax.analyses.layer_profile` gives with ``tokens=w``, bit for bit (the same integer statistics).

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore, window_sweep
      >>> bits = np.random.default_rng(0).integers(0, 2**32, size=(2, 50, 4, 1), dtype=np.uint32)
      >>> s = window_sweep(ArrayStore(bits), ArrayStore(bits), windows=[1, 4], progress=False)
      >>> s.minimum.shape, s.values.shape
      ((2, 2), (2, 2, 2))
    """
    a, b = as_source(a), as_source(b)
    _check_paired(a, b)
    lays = _layers(a, layers, include_embedding)
    _layers(b, lays)
    windows = default_windows(min(a.tokens, b.tokens)) if windows is None else [int(w) for w in windows]
    if not windows:
        raise ValueError("windows must list at least one token window.")
    vals = np.zeros((len(windows), len(lays), 2))
    rows = {w: [i for i, v in enumerate(windows) if v == w] for w in windows}
    if _fits(len(a)) and _fused(ties):  # per layer: one native pass over the largest window
        sizes = sorted(rows)
        for li in _progress(range(len(lays)), "window sweep", progress):
            for w, v in zip(sizes, _fused_layer(a.bits(lays[li]), b.bits(lays[li]), sizes, k=k, ties=ties),
                            strict=True):
                vals[rows[w], li] = v
    elif _fits(len(a)):  # per layer: a running sum over tokens, Δ at each window, then the layer is dropped
        for li in _progress(range(len(lays)), "window sweep", progress):
            da, db = TokenDistances(a, lays[li]), TokenDistances(b, lays[li])
            for (w, dx), (_, dy) in zip(da.windows(windows), db.windows(windows), strict=False):
                vals[rows[w], li] = _delta(dx, dy, k=k, ties=ties)
    else:  # too large to cache: each window streamed from its features, as layer_profile does
        jobs = [(wi, li) for wi in range(len(windows)) for li in range(len(lays))]
        for wi, li in _progress(jobs, "window sweep", progress):
            x, metric = features(a, lays[li], tokens=windows[wi])
            y, _ = features(b, lays[li], tokens=windows[wi])
            vals[wi, li] = _pair_stats(x, y, metric, key=jax.random.key(0), k=k, ties=ties).value
    lay = np.array(lays)
    params = dict(analysis="window_sweep", a=_name(a), b=_name(b), k=k, ties=ties,
                  include_embedding=include_embedding)
    return WindowSweep(np.array(windows), lay, _depth(a, lays), vals, vals.min(axis=1), lay[vals.argmin(axis=1)],
                       len(a), params)


def _fused(ties: str) -> bool:
    """Whether the fused native sweep runs here: native kernels on the CPU backend, ties it implements."""
    return ties in ("average", "min") and _dist.native_available()


def _fused_layer(bits_a, bits_b, sizes: list[int], *, k: int, ties: str,
                 max_scratch_bytes: int = _CACHE_BYTES) -> list[np.ndarray]:
    """Δ ``[2]`` for each window of ``sizes`` (increasing) of one layer of two sources, by the fused native kernel.

    ``bits_*``: ``uint32`` ``[N, T, W]``. The kernel keeps ``K`` windows' two ``[N, N]`` matrices as scratch, so the
    windows go in groups within ``max_scratch_bytes``; a later group runs its popcount again from the last token.
    """
    from ii_jax import _native

    n = int(np.shape(bits_a)[0])
    flat, ends = [], []
    for bits in (bits_a, bits_b):
        _, t, w = np.shape(bits)
        if sizes[-1] > t:
            raise ValueError(f"a window of {sizes[-1]} tokens is longer than the {t} tokens stored per item.")
        flat.append(np.ascontiguousarray(bits).reshape(n, t * w))
        ends.append((t, w))
    per_window = 2 * 4 * n * n
    group = max(1, int(max_scratch_bytes // per_window))
    out = []
    for g0 in range(0, len(sizes), group):
        part = sizes[g0:g0 + group]
        bounds = [[t * w] + [(t - s) * w for s in part] for t, w in ends]
        st = np.asarray(_native.window_stats(flat[0], flat[1], bounds[0], bounds[1], k=k, ties=ties))
        out += list(delta_from_stats(st.astype(np.int64), k=k, m=n - 1))  # [K, 2]: each window's Δ
    return out
