"""The study's analyses (arXiv 2505.17101) on shard stores or arrays: layer profiles, cross-model matrices,
token-window sweeps, token distance and causal asymmetry, same-class image pairs, image–caption profiles.

Every analysis takes *sources*: a shard store (a folder path or an opened :class:`ii_jax.shards.Store`) or an
:class:`ArrayStore` built from arrays a user already has (``bits[l]`` packed ``uint32`` ``[N, T, W]`` per layer,
optionally ``floats[l]`` ``[N, T, E]``). Per layer, each side is summarised into one vector per item by a
*representation*:

==========  ===================================================================================  ==========
name        vector per item                                                                      metric
==========  ===================================================================================  ==========
``concat``  the packed sign bits of the last ``tokens`` tokens, concatenated (the paper's default)  Hamming
``last``    the sign bits of the last token                                                      Hamming
``mean``    the mean activation of the last ``tokens`` tokens, clipped and L2-normalised          Euclidean
``float``   the float activations of the last ``tokens`` tokens, concatenated, clip+normalised   Euclidean
==========  ===================================================================================  ==========

(``mean`` and ``float`` need a store extracted with floats.) The two ``[N, N]`` distance matrices of a layer
are computed once; Δ on all points, the jackknife or bootstrap and the shuffled null all re-rank inside them
(:mod:`ii_jax.resample`). When they would not fit ``max_cache_bytes``, Δ streams over row blocks instead and
each jackknife subset gets its own small matrices.

Directions: every result holds ``[..., 2]`` = (Δ(A→B), Δ(B→A)) for sources ``a``, ``b`` in call order.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import jax
import numpy as np

from ii_jax import baselines as _bl
from ii_jax import imbalance as _imb
from ii_jax import resample as _rs
from ii_jax import windows as _win
from ii_jax.pairing import same_class_pairs

__all__ = [
    "ArrayStore", "as_source", "features", "REPRESENTATIONS", "default_jackknife", "Jackknife", "same_class_pairs",
    "Profile", "SemanticLayers", "CrossModel", "WindowSweep", "TokenDistance", "ImagePairs",
    "layer_profile", "semantic_layers", "cross_model", "window_sweep", "token_distance", "image_pairs",
    "cross_modal", "compare_representations",
]

REPRESENTATIONS = ("concat", "last", "mean", "float")
_CACHE_BYTES = 2**31


# ----------------------------------------------------------------------------------------------------------------
# Sources

@dataclasses.dataclass
class ArrayStore:
    """Per-layer arrays standing in for a shard store.

    Args:
      bits: a sequence of packed ``uint32`` ``[N, T, W]`` arrays, one per layer (or one ``[L, N, T, W]`` array).
      floats: optional float ``[N, T, E]`` arrays, one per layer (for the ``mean`` and ``float`` representations).
      layers: layer indices (default ``0 .. L-1``). relative_depth: per layer (default ``layer / max(layer)``).
      item_ids: optional N ids, checked against the other side's. labels: optional N class labels.
      name: shown in messages and reports.
      embedding_layer: the index in ``layers`` of the embedding layer, left out of every layer analysis by default
        (as a shard store's manifest says); ``None`` (default): the arrays hold no embedding layer.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore
      >>> s = ArrayStore(np.zeros((3, 10, 4, 2), np.uint32))  # 3 layers, 10 items, 4 tokens, 2 words
      >>> s.layers, s.relative_depth, s.tokens
      ([0, 1, 2], [0.0, 0.5, 1.0], 4)
    """

    bits: Sequence[Any]
    floats: Sequence[Any] | None = None
    layers: Sequence[int] | None = None
    relative_depth: Sequence[float] | None = None
    item_ids: Sequence[str] | None = None
    labels: Sequence[Any] | None = None
    name: str = "arrays"
    embedding_layer: int | None = None

    def __post_init__(self):
        self.bits = list(self.bits)
        if not self.bits:
            raise ValueError("ArrayStore needs at least one layer of bits.")
        shapes = {np.shape(b) for b in self.bits}
        if len(shapes) != 1 or len(next(iter(shapes))) != 3:
            raise ValueError(f"ArrayStore bits must be [N, T, W] arrays of one shape, got shapes {sorted(shapes)}.")
        if self.floats is not None:
            self.floats = list(self.floats)
            if len(self.floats) != len(self.bits):
                raise ValueError(f"ArrayStore has {len(self.bits)} layers of bits but {len(self.floats)} of floats.")
        n_layers = len(self.bits)
        self.layers = list(range(n_layers)) if self.layers is None else [int(x) for x in self.layers]
        if len(self.layers) != n_layers:
            raise ValueError(f"ArrayStore: {len(self.layers)} layer indices for {n_layers} layers.")
        if self.relative_depth is None:
            top = max(max(self.layers), 1)
            self.relative_depth = [x / top for x in self.layers]
        self.relative_depth = [float(x) for x in self.relative_depth]
        n = np.shape(self.bits[0])[0]
        for field in ("item_ids", "labels"):
            v = getattr(self, field)
            if v is not None and len(v) != n:
                raise ValueError(f"ArrayStore: {len(v)} {field} for {n} items.")
        if self.item_ids is not None:
            self.item_ids = [str(x) for x in self.item_ids]
        if self.embedding_layer is not None and int(self.embedding_layer) not in self.layers:
            raise ValueError(f"ArrayStore: embedding_layer {self.embedding_layer} is not among the layers {self.layers}.")
        self.path = self.name

    @property
    def tokens(self) -> int:
        return int(np.shape(self.bits[0])[1])

    @property
    def has_floats(self) -> bool:
        return self.floats is not None

    def __len__(self) -> int:
        return int(np.shape(self.bits[0])[0])

    def _index(self, layer: int) -> int:
        if layer not in self.layers:
            raise ValueError(f"{self.name}: layer {layer} is not stored; stored layers are {self.layers}.")
        return self.layers.index(layer)

    def bits_of(self, layer: int):
        return self.bits[self._index(layer)]

    def floats_of(self, layer: int):
        if self.floats is None:
            raise ValueError(f"{self.name}: no float activations (pass floats=... for 'mean'/'float').")
        return self.floats[self._index(layer)]


def as_source(src):
    """A folder path, an opened :class:`~ii_jax.shards.Store` or an :class:`ArrayStore` -> something with
    ``layers``, ``relative_depth``, ``tokens``, ``item_ids`` and per-layer bits/floats."""
    if isinstance(src, ArrayStore):
        return src
    if isinstance(src, (str, os.PathLike)):
        from ii_jax.shards import open_store

        return open_store(src)
    if hasattr(src, "manifest") and hasattr(src, "bits"):
        return src
    raise TypeError(f"expected a shard store folder, a Store or an ArrayStore, got {type(src).__name__}.")


def _bits(src, layer):
    return src.bits_of(layer) if isinstance(src, ArrayStore) else src.bits(layer)


def _floats(src, layer):
    return src.floats_of(layer) if isinstance(src, ArrayStore) else src.floats(layer)


def _labels(src):
    if isinstance(src, ArrayStore):
        return src.labels
    return src.manifest.get("labels")


def _name(src) -> str:
    return str(getattr(src, "path", "source"))


def _check_paired(a, b) -> None:
    ia, ib = getattr(a, "item_ids", None), getattr(b, "item_ids", None)
    if ia is not None and ib is not None:
        from ii_jax.shards import check_paired

        check_paired(a, b)
    elif len(a) != len(b):
        raise ValueError(f"sources are not paired: {_name(a)} has {len(a)} items and {_name(b)} has {len(b)}.")


def _layers(src, layers, include_embedding: bool = False) -> list[int]:
    """The layers an analysis runs over: ``layers`` as given, else every stored layer but the embedding layer
    (paper §3.1: "for every layer in the network, excluding the embedding layer") unless ``include_embedding``."""
    if layers is None:
        emb = getattr(src, "embedding_layer", None)
        out = [x for x in src.layers if include_embedding or emb is None or x != emb]
        if not out:
            raise ValueError(f"{_name(src)}: no layer to analyse: the only stored layer is the embedding layer "
                             f"{emb} (pass include_embedding=True to use it).")
        return out
    out = [int(x) for x in layers]
    missing = [x for x in out if x not in src.layers]
    if missing:
        raise ValueError(f"{_name(src)}: layer(s) {missing} do not exist; stored layers are "
                         f"{src.layers[0]}..{src.layers[-1]}.")
    return out


def _depth(src, layers) -> np.ndarray:
    return np.array([src.relative_depth[src.layers.index(x)] for x in layers], np.float64)


def features(src, layer: int, *, representation: str = "concat", tokens: int = 20, skip_last: int = 0):
    """One layer of a source as one vector per item.

    Args:
      src: a source (see :func:`as_source`). layer: a stored layer index.
      representation: one of :data:`REPRESENTATIONS`. tokens: window length (ignored by ``last``).
      skip_last: stored tokens dropped from the end first (for the token-distance analyses).

    Returns:
      ``(x, metric)``: ``uint32`` ``[N, tokens * W]`` with ``"hamming"``, or float32 ``[N, F]`` with
      ``"euclidean"``.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore, features
      >>> s = ArrayStore([np.arange(24, dtype=np.uint32).reshape(2, 4, 3)])
      >>> x, metric = features(s, 0, tokens=2)
      >>> x.shape, metric
      ((2, 6), 'hamming')
    """
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}.")
    if isinstance(skip_last, bool) or not isinstance(skip_last, (int, np.integer)) or skip_last < 0:
        raise ValueError(f"skip_last must be an integer >= 0, got {skip_last!r}.")
    src = as_source(src)
    t = src.tokens
    if skip_last >= t:
        raise ValueError(f"skip_last={skip_last} leaves no token of the {t} stored per item.")
    if representation in ("concat", "last"):
        bits = _bits(src, layer)[:, : t - skip_last, :]
        return _win.last_tokens(bits, 1 if representation == "last" else tokens), "hamming"
    floats = _floats(src, layer)[:, : t - skip_last, :]
    if representation == "mean":
        return _bl.clip_and_normalize(_win.mean_tokens(floats, tokens)), "euclidean"
    return _win.float_window(floats, tokens), "euclidean"


default_jackknife = _rs.default_jackknife  # one definition (ii_jax.resample), re-exported here
Jackknife = _rs.Jackknife


# ----------------------------------------------------------------------------------------------------------------
# One pair of spaces: Δ, error bars and the null from one pair of distance matrices

class _PairStats(NamedTuple):
    value: np.ndarray  # [2]
    std: np.ndarray  # [2] (NaN: not computed)
    null: np.ndarray  # [2] (NaN: not computed)


def _resolve_jackknife(n: int, jackknife) -> _rs.Jackknife | None:
    return _rs.as_jackknife(jackknife, n)


def _pair_stats(x, y, metric: str, *, key, k: int, ties: str, jackknife=None, bootstrap=None, null: bool = False,
                max_cache_bytes: int = _CACHE_BYTES) -> _PairStats:
    """Δ of one pair of spaces (both directions), with optional jackknife or bootstrap std and shuffled null."""
    n = int(np.shape(x)[0])
    nan = np.full(2, np.nan)
    k_jack, k_null = jax.random.split(key)
    jack = _resolve_jackknife(n, jackknife)
    if 2 * n * n * 4 <= max_cache_bytes:
        dx = _imb.distance_matrix(x, metric=metric)
        dy = _imb.distance_matrix(y, metric=metric)
        value = np.array(_imb.imbalance_from_distances(dx, dy, k=k, ties=ties))
        std = nan
        if jack is not None:
            std = _rs.resample_from_distances(dx, dy, n_sub=jack.n_sub, repeats=jack.repeats, key=k_jack, k=k,
                                              ties=ties).std
        elif bootstrap is not None:
            repeats, n_sub = bootstrap
            std = _rs.resample_from_distances(dx, dy, n_sub=n_sub, repeats=repeats, key=k_jack, replace=True, k=k,
                                              ties=ties).std
        nul = _rs.shuffled_null_from_distances(dx, dy, key=k_null, k=k, ties=ties).mean if null else nan
        return _PairStats(value, std, nul)
    # Too large to cache: stream Δ; the jackknife works on subsets small enough to cache.
    value = np.array(_imb.information_imbalance(x, y, metric=metric, k=k, ties=ties, max_cache_bytes=0))
    std = nan
    if jack is not None:
        rng = _rs._seed(k_jack)
        vals = []
        for _ in range(jack.repeats):
            s = np.sort(rng.choice(n, size=jack.n_sub, replace=False))
            vals.append(_pair_stats(np.asarray(x)[s], np.asarray(y)[s], metric, key=k_jack, k=k, ties=ties,
                                    max_cache_bytes=max_cache_bytes).value)
        std = _rs.replica_std(vals, axis=0)
    elif bootstrap is not None:
        raise ValueError(f"bootstrap errors need both [N, N] distance matrices in memory; N={n} is too large "
                         f"for max_cache_bytes={max_cache_bytes}.")
    nul = nan
    if null:
        p = _rs._seed(k_null).permutation(n)
        nul = np.array(_imb.information_imbalance(x, np.asarray(y)[p], metric=metric, k=k, ties=ties,
                                                  max_cache_bytes=0))
    return _PairStats(value, std, nul)


def _progress(iterable, desc: str, progress: bool | None, total: int | None = None):
    if progress is False:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, disable=None if progress is None else not progress)


# ----------------------------------------------------------------------------------------------------------------
# 1. Layer profile (Fig. 2) and semantic layers

class SemanticLayers(NamedTuple):
    """The semantic region of a profile.

    Attributes:
      layer: the layer where the mean of the two directions is smallest. relative_depth: its depth.
      value: that minimum (mean of both directions).
      region: ``(first, last)`` layer of the contiguous run around ``layer`` whose mean Δ stays within
        ``tolerance`` of the minimum. region_depth: the same as relative depths. tolerance: the tolerance used.
    """

    layer: int
    relative_depth: float
    value: float
    region: tuple[int, int]
    region_depth: tuple[float, float]
    tolerance: float


class Profile(NamedTuple):
    """Δ per layer in both directions.

    Attributes:
      layers: ``[L]`` layer indices (of ``b`` for :func:`cross_modal`). relative_depth: ``[L]``.
      values: ``[L, 2]`` (Δ(A→B), Δ(B→A)) on all N points. std: ``[L, 2]`` error bars (NaN: none).
      null: ``[L, 2]`` the shuffled-pairing null (NaN: not computed). n: N. params: the settings used.
    """

    layers: np.ndarray
    relative_depth: np.ndarray
    values: np.ndarray
    std: np.ndarray
    null: np.ndarray
    n: int
    params: dict


def _key(key, seed: int = 0):
    return jax.random.key(seed) if key is None else key


def layer_profile(a, b, *, tokens: int = 20, representation: str = "concat", layers: Sequence[int] | None = None,
                  jackknife="auto", null: bool = True, k: int = 1, ties: str = "average", key=None,
                  skip_last: int = 0, progress: bool | None = None, include_embedding: bool = False) -> Profile:
    """Δ(A_l→B_l) and Δ(B_l→A_l) for every layer ``l`` of two paired sources (paper Fig. 2).

    Args:
      a, b: paired sources (same items, same order; stores are checked by item id), e.g. the English and Spanish
        sides of one model.
      tokens: the last ``tokens`` tokens are concatenated (paper: 20). representation: see the module docstring.
      layers: layer indices (default: every stored layer but the embedding layer).
      include_embedding: also analyse the embedding layer (default ``False``: left out, as in the paper §3.1;
        ignored when ``layers`` is given). Relative depth keeps 0 for the embeddings either way.
      jackknife: ``"auto"`` (5 subsets of ``min(2000, 0.4 N)``), a :class:`~ii_jax.resample.Jackknife` or a
        ``(repeats, n_sub)`` pair, or ``None``. Error bars: :func:`~ii_jax.resample.replica_std` (``ddof=1``).
      null: also compute the shuffled-pairing null per layer (≈ 1).
      k, ties: as :func:`ii_jax.information_imbalance`. key: PRNG key (default ``jax.random.key(0)``).

    Returns:
      :class:`Profile`.

    Examples:
      >>> import numpy as np
      >>> from ii_jax import binarize, pack_bits
      >>> from ii_jax.analyses import ArrayStore, layer_profile
      >>> rng = np.random.default_rng(0)
      >>> shared = rng.normal(size=(100, 4, 64))
      >>> mix = lambda w: [pack_bits(binarize(w * shared + rng.normal(size=shared.shape))) for _ in range(1)]
      >>> a = ArrayStore(mix(0.0) + mix(3.0)); b = ArrayStore(mix(0.0) + mix(3.0))
      >>> p = layer_profile(a, b, tokens=4, jackknife=(3, 50), progress=False)
      >>> bool(p.values[1].max() < 0.5 < p.values[0].min()), p.values.shape
      (True, (2, 2))
    """
    a, b = as_source(a), as_source(b)
    _check_paired(a, b)
    lays = _layers(a, layers, include_embedding)
    _layers(b, lays)
    _resolve_jackknife(len(a), jackknife)  # refuse a bad request before any distance work
    key = _key(key)
    vals, stds, nulls = [], [], []
    for layer in _progress(lays, "layer profile", progress):
        x, metric = features(a, layer, representation=representation, tokens=tokens, skip_last=skip_last)
        y, _ = features(b, layer, representation=representation, tokens=tokens, skip_last=skip_last)
        st = _pair_stats(x, y, metric, key=jax.random.fold_in(key, layer), k=k, ties=ties, jackknife=jackknife,
                         null=null)
        vals.append(st.value), stds.append(st.std), nulls.append(st.null)
    params = dict(analysis="layer_profile", a=_name(a), b=_name(b), tokens=tokens, representation=representation,
                  k=k, ties=ties, jackknife=_jack_param(len(a), jackknife), null=null, skip_last=skip_last,
                  include_embedding=include_embedding, embedding_layer=getattr(a, "embedding_layer", None))
    return Profile(np.array(lays), _depth(a, lays), np.array(vals), np.array(stds), np.array(nulls), len(a), params)


def _jack_param(n, jackknife):
    j = _resolve_jackknife(n, jackknife)
    return None if j is None else {"repeats": j.repeats, "n_sub": j.n_sub}


def semantic_layers(profile: Profile, *, tolerance: float = 0.05, direction: str = "mean",
                    include_embedding: bool = False) -> SemanticLayers:
    """The semantic layer (argmin of Δ) and the region around it where Δ stays within ``tolerance`` of the minimum.

    Args:
      profile: a :class:`Profile`. tolerance: absolute tolerance on Δ.
      direction: ``"mean"`` of both directions (default), ``"a_to_b"`` or ``"b_to_a"``.
      include_embedding: let the embedding layer be the semantic layer. By default it is skipped when the
        profile holds it (a profile made with ``include_embedding=True``; ``params["embedding_layer"]``).

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import Profile, semantic_layers
      >>> v = np.array([0.9, 0.5, 0.32, 0.3, 0.34, 0.6])[:, None].repeat(2, 1)
      >>> p = Profile(np.arange(6), np.arange(6) / 5, v, v * np.nan, v * np.nan, 100, {})
      >>> s = semantic_layers(p)
      >>> s.layer, s.region
      (3, (2, 4))
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}.")
    pick = {"mean": lambda v: v.mean(axis=1), "a_to_b": lambda v: v[:, 0], "b_to_a": lambda v: v[:, 1]}
    if direction not in pick:
        raise ValueError(f"direction must be one of {tuple(pick)}, got {direction!r}.")
    v = pick[direction](np.asarray(profile.values, np.float64))
    emb = (profile.params or {}).get("embedding_layer")
    lay, dep = np.asarray(profile.layers), np.asarray(profile.relative_depth)
    if not include_embedding and emb is not None and emb in lay and len(lay) > 1:
        keep = lay != emb
        v, lay, dep = v[keep], lay[keep], dep[keep]
    i = int(np.nanargmin(v))
    lo = hi = i
    while lo > 0 and v[lo - 1] <= v[i] + tolerance:
        lo -= 1
    while hi < len(v) - 1 and v[hi + 1] <= v[i] + tolerance:
        hi += 1
    return SemanticLayers(int(lay[i]), float(dep[i]), float(v[i]), (int(lay[lo]), int(lay[hi])),
                          (float(dep[lo]), float(dep[hi])), float(tolerance))


# ----------------------------------------------------------------------------------------------------------------
# 2. Cross-model matrix

class CrossModel(NamedTuple):
    """Δ between every layer of one source and every layer of another on the same inputs.

    Attributes:
      layers_a, layers_b: ``[La]``, ``[Lb]``. depth_a, depth_b: relative depths. values: ``[La, Lb, 2]``
      (Δ(A_i→B_j), Δ(B_j→A_i)). n: N. params: settings.
    """

    layers_a: np.ndarray
    layers_b: np.ndarray
    depth_a: np.ndarray
    depth_b: np.ndarray
    values: np.ndarray
    n: int
    params: dict


def cross_model(a, b, *, tokens: int = 20, representation: str = "concat", layers_a=None, layers_b=None, k: int = 1,
                ties: str = "average", progress: bool | None = None, max_cache_bytes: int = 2**32,
                include_embedding: bool = False) -> CrossModel:
    """Δ between every layer of ``a`` and every layer of ``b`` (e.g. two models on the same sentences).

    Each layer's distance matrix is computed once and reused against every layer of the other side. The
    embedding layers are left out unless ``include_embedding`` (or explicit ``layers_a``/``layers_b``).

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore, cross_model
      >>> bits = np.random.default_rng(0).integers(0, 2**32, size=(3, 40, 2, 4), dtype=np.uint32)
      >>> m = cross_model(ArrayStore(bits), ArrayStore(bits[:2]), tokens=2, progress=False)
      >>> m.values.shape, bool(m.values[1, 1, 0] < 0.1)  # a layer against itself: near-perfect
      ((3, 2, 2), True)
    """
    a, b = as_source(a), as_source(b)
    _check_paired(a, b)
    la, lb = _layers(a, layers_a, include_embedding), _layers(b, layers_b, include_embedding)
    n = len(a)
    if n * n * 4 * (len(la) + len(lb)) > max_cache_bytes:
        raise ValueError(f"cross_model caches one [N, N] matrix per layer: N={n} with {len(la)} + {len(lb)} layers "
                         f"needs {n * n * 4 * (len(la) + len(lb)) / 2**30:.1f} GiB > max_cache_bytes; pass fewer "
                         f"layers or raise max_cache_bytes.")

    def mats(src, lays, name):
        out = []
        for layer in _progress(lays, f"distances {name}", progress):
            x, metric = features(src, layer, representation=representation, tokens=tokens)
            out.append(_imb.distance_matrix(x, metric=metric))
        return out

    da, db = mats(a, la, "A"), mats(b, lb, "B")
    vals = np.zeros((len(la), len(lb), 2))
    jobs = [(i, j) for i in range(len(la)) for j in range(len(lb))]
    for i, j in _progress(jobs, "cross-model", progress):
        vals[i, j] = _imb.imbalance_from_distances(da[i], db[j], k=k, ties=ties)
    params = dict(analysis="cross_model", a=_name(a), b=_name(b), tokens=tokens, representation=representation,
                  k=k, ties=ties)
    return CrossModel(np.array(la), np.array(lb), _depth(a, la), _depth(b, lb), vals, n, params)


# ----------------------------------------------------------------------------------------------------------------
# 3. Window sweep (Fig. 3a)

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
    jobs = [(wi, li) for wi in range(len(windows)) for li in range(len(lays))]
    for wi, li in _progress(jobs, "window sweep", progress):
        x, metric = features(a, lays[li], tokens=windows[wi])
        y, _ = features(b, lays[li], tokens=windows[wi])
        vals[wi, li] = _imb.information_imbalance(x, y, metric=metric, k=k, ties=ties, progress=False)
    lay = np.array(lays)
    params = dict(analysis="window_sweep", a=_name(a), b=_name(b), k=k, ties=ties,
                  include_embedding=include_embedding)
    return WindowSweep(np.array(windows), lay, _depth(a, lays), vals, vals.min(axis=1), lay[vals.argmin(axis=1)],
                       len(a), params)


# ----------------------------------------------------------------------------------------------------------------
# 4. Token distance and causal asymmetry (Fig. 3b-c, 10, 11)

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
        bits = _bits(src, lays[li])
        d_last = _imb.distance_matrix(_win.token_at(bits, 0))
        d_tau = [_imb.distance_matrix(_win.token_at(bits, t)) for t in range(1, tau_max + 1)]
        for ti, d in enumerate(d_tau):
            back[li, ti], fwd[li, ti] = _imb.imbalance_from_distances(d_last, d, k=k, ties=ties)
        if jack is not None:
            rng = _rs._seed(jax.random.fold_in(key, lays[li]))
            reps = []
            for _ in range(jack.repeats):
                s = np.ix_(*(2 * [np.sort(rng.choice(n, size=jack.n_sub, replace=False))]))
                r = np.array([_imb.imbalance_from_distances(d_last[s], d[s], k=k, ties=ties) for d in d_tau])
                reps.append(np.mean(r[:, 0] - r[:, 1]))
            a_std[li] = _rs.replica_std(reps)
    params = dict(analysis="token_distance", source=_name(src), tau_max=tau_max, k=k, ties=ties,
                  jackknife=_jack_param(n, jackknife), include_embedding=include_embedding)
    return TokenDistance(np.array(lays), _depth(src, lays), np.arange(1, tau_max + 1), back, fwd,
                         (back - fwd).mean(axis=1), a_std, n, params)


# ----------------------------------------------------------------------------------------------------------------
# 5. Same-class image pairs (Fig. 4a)

class ImagePairs(NamedTuple):
    """Δ between the two images of same-class pairs, per layer, over replications of the pairing.

    Attributes:
      layers, relative_depth: ``[L]``. values: ``[R, L, 2]`` both directions per replication.
      mean: ``[L]`` the mean of the two directions, averaged over replications. std: ``[L]`` its std over
      replications. null: ``[L]`` the same with the pairing shuffled, mostly different classes (≈ 1; NaN: not computed).
      n_pairs: pairs per replication.
    """

    layers: np.ndarray
    relative_depth: np.ndarray
    values: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    null: np.ndarray
    n_pairs: int
    params: dict


def image_pairs(src, *, labels: Sequence | None = None, replications: int = 5, n_pairs: int | None = None,
                tokens: int = 200, representation: str = "concat", layers=None, null: bool = True, k: int = 1,
                ties: str = "average", seed: int = 0, progress: bool | None = None,
                include_embedding: bool = False) -> ImagePairs:
    """Δ between same-class image pairs (paper Fig. 4a): pairs drawn without repetition, ``replications`` times.

    Args:
      src: one image source holding every image, with class labels (a store's ``labels``, or ``labels=``).
      replications: independent pairings R (paper: 5). n_pairs: pairs per replication (default: all the
        disjoint same-class pairs one pairing yields; paper: 2500). tokens: last tokens (image default 200,
        capped at the stored tokens).
      null: also compute the null with the pairs' second images shuffled (so almost all pairs are of different
        classes): ≈ 1.
      include_embedding: also analyse the patch-embedding layer (default ``False``, as the text analyses).

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore, image_pairs
      >>> rng = np.random.default_rng(0)
      >>> labels = np.repeat(np.arange(20), 6)
      >>> centres = rng.integers(0, 2**32, size=(20, 1, 8), dtype=np.uint32)
      >>> noise = rng.integers(0, 2**32, size=(120, 1, 8), dtype=np.uint32) & rng.integers(0, 2**32, size=(120, 1, 8), dtype=np.uint32) & np.uint32(0x01010101)
      >>> s = ArrayStore([centres[labels] ^ noise], labels=labels)
      >>> r = image_pairs(s, replications=3, progress=False)
      >>> bool(r.mean[0] < 0.5 < r.null[0]), r.n_pairs
      (True, 60)
    """
    src = as_source(src)
    labels = _labels(src) if labels is None else labels
    if labels is None:
        raise ValueError(f"{_name(src)}: image pairs need class labels (the store has none; pass labels=).")
    if len(labels) != len(src):
        raise ValueError(f"{len(labels)} labels for {len(src)} items.")
    if isinstance(replications, bool) or not isinstance(replications, (int, np.integer)) or replications < 1:
        raise ValueError(f"replications must be an integer >= 1, got {replications!r}.")
    lays = _layers(src, layers, include_embedding)
    tokens = min(tokens, src.tokens)
    pairings = []
    for r in range(replications):
        p = same_class_pairs(labels, seed=seed + r)
        if n_pairs is not None:
            if n_pairs > len(p):
                raise ValueError(f"n_pairs={n_pairs} but only {len(p)} disjoint same-class pairs exist.")
            p = p[np.sort(np.random.default_rng(seed + r).choice(len(p), size=n_pairs, replace=False))]
        pairings.append(p)
    m = len(pairings[0])
    if m < k + 2:
        raise ValueError(f"only {m} same-class pairs: too few for k={k} (need at least {k + 2}).")
    vals = np.zeros((replications, len(lays), 2))
    nul = np.full(len(lays), np.nan)
    key = jax.random.key(seed)
    for li in _progress(range(len(lays)), "image pairs", progress):
        x, metric = features(src, lays[li], representation=representation, tokens=tokens)
        x = np.asarray(x)
        for r, p in enumerate(pairings):
            st = _pair_stats(x[p[:, 0]], x[p[:, 1]], metric, key=jax.random.fold_in(key, r), k=k, ties=ties,
                             null=null and r == 0)
            vals[r, li] = st.value
            if null and r == 0:
                nul[li] = st.null.mean()
    both = vals.mean(axis=2)
    std = _rs.replica_std(both, axis=0)
    params = dict(analysis="image_pairs", source=_name(src), replications=replications, tokens=tokens,
                  representation=representation, k=k, ties=ties, seed=seed, include_embedding=include_embedding)
    return ImagePairs(np.array(lays), _depth(src, lays), vals, both.mean(axis=0), std, nul, m, params)


# ----------------------------------------------------------------------------------------------------------------
# 6. Image-caption cross-modal profile (Fig. 4b)

def cross_modal(text, image, *, text_layer: int, text_tokens: int = 20, image_tokens: int = 200,
                text_representation: str = "concat", image_representation: str = "concat", layers=None,
                bootstrap=(100, 200), null: bool = True, k: int = 1, ties: str = "average", key=None,
                progress: bool | None = None, include_embedding: bool = False) -> Profile:
    """One text layer against every image layer, both directions, bootstrap errors (paper Fig. 4b).

    Args:
      text, image: paired sources (captions and their images). text_layer: the fixed text layer (e.g. the text
        model's semantic layer from :func:`semantic_layers`).
      text_tokens, image_tokens: windows (image capped at the stored tokens).
      bootstrap: ``(repeats, n_sub)`` (paper: 100 × 200; ``n_sub`` capped at N), or ``None``.
      include_embedding: also the image model's embedding layer (default ``False``).

    Returns:
      :class:`Profile` over the image layers, ``values[:, 0]`` = Δ(text→image), ``values[:, 1]`` = Δ(image→text).
    """
    text, image = as_source(text), as_source(image)
    _check_paired(text, image)
    _layers(text, [text_layer])
    lays = _layers(image, layers, include_embedding)
    key = _key(key)
    n = len(text)
    if bootstrap is not None:
        repeats, n_sub = (int(v) for v in bootstrap)
        bootstrap = (repeats, min(n_sub, n))
    x, metric_x = features(text, text_layer, representation=text_representation, tokens=text_tokens)
    dx = _imb.distance_matrix(x, metric=metric_x)
    vals, stds, nulls = [], [], []
    for layer in _progress(lays, "cross-modal", progress):
        y, metric_y = features(image, layer, representation=image_representation, tokens=min(image_tokens,
                                                                                              image.tokens))
        dy = _imb.distance_matrix(y, metric=metric_y)
        kk = jax.random.fold_in(key, layer)
        k_b, k_n = jax.random.split(kk)
        vals.append(np.array(_imb.imbalance_from_distances(dx, dy, k=k, ties=ties)))
        stds.append(np.full(2, np.nan) if bootstrap is None else _rs.resample_from_distances(
            dx, dy, n_sub=bootstrap[1], repeats=bootstrap[0], key=k_b, replace=True, k=k, ties=ties).std)
        nulls.append(_rs.shuffled_null_from_distances(dx, dy, key=k_n, k=k, ties=ties).mean if null
                     else np.full(2, np.nan))
    params = dict(analysis="cross_modal", text=_name(text), image=_name(image), text_layer=text_layer,
                  text_tokens=text_tokens, image_tokens=min(image_tokens, image.tokens),
                  text_representation=text_representation, image_representation=image_representation,
                  bootstrap=None if bootstrap is None else {"repeats": bootstrap[0], "n_sub": bootstrap[1]},
                  k=k, ties=ties, include_embedding=include_embedding,
                  embedding_layer=getattr(image, "embedding_layer", None))
    return Profile(np.array(lays), _depth(image, lays), np.array(vals), np.array(stds), np.array(nulls), n, params)


# ----------------------------------------------------------------------------------------------------------------
# 7-8. Binary vs float, mean-token and last-token summaries (Supp. D, G, K)

def compare_representations(a, b, *, representations: Sequence[str] = ("concat", "float"), tokens: int = 20,
                            **kwargs) -> dict[str, Profile]:
    """The same layer profile under several representations, e.g. sign/Hamming vs clip+normalise/L2 (Supp. G) or
    concatenation vs the mean token or the last token (Supp. D, K). ``kwargs`` go to :func:`layer_profile`.

    Returns:
      ``{representation: Profile}``.
    """
    bad = [r for r in representations if r not in REPRESENTATIONS]
    if bad or not representations:
        raise ValueError(f"representations must be a non-empty subset of {REPRESENTATIONS}, got {list(representations)}.")
    return {r: layer_profile(a, b, tokens=tokens, representation=r, **kwargs) for r in representations}


# ----------------------------------------------------------------------------------------------------------------
# Serialisation

def to_json(result) -> dict:
    """A result (NamedTuple of arrays) as JSON-ready Python values; NaN becomes ``None``."""
    def conv(v):
        if isinstance(v, np.ndarray):
            return conv(v.tolist())
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, (float, np.floating)):
            return None if not np.isfinite(v) else float(v)
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, Path):
            return str(v)
        return v

    if hasattr(result, "_asdict"):
        return {name: to_json(v) for name, v in result._asdict().items()}
    if isinstance(result, dict):
        return {str(k): to_json(v) for k, v in result.items()}
    return conv(result)
