"""Layer profiles (paper Fig. 2), the semantic layers, cross-model matrices and representation comparisons."""
from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import numpy as np

from ii_jax.analyses._util import _key, _progress
from ii_jax.analyses.cache import layer_distances
from ii_jax.analyses.resampling import (_delta, _delta_stats, _fits, _jack_param, _null_count, _null_permutations,
                                       _pair_stats, _resolve_jackknife, _stacked)
from ii_jax.analyses.sources import (REPRESENTATIONS, _check_paired, _depth, _layers, _name, as_source,
                                     features)

__all__ = ["Profile", "SemanticLayers", "CrossModel", "layer_profile", "semantic_layers", "cross_model",
           "compare_representations"]


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
      values: ``[L, 2]`` (Δ(A→B), Δ(B→A)) on all N points. std: ``[L, 2]`` error bars: the standard error at N
        (``params["jackknife"]["error_bar"]`` ``"halves"`` or ``"delete_d"``) or the paper's spread at the subset
        size (``"subset"``);
        NaN: none.
      null: ``[L, 2]`` the permutation null's mean: Δ with the pairing shuffled, ≈ N/(N−1) (NaN: not computed).
      null_band: ``[L, 2, 2]`` per layer and direction, the null's 2.5 % and 97.5 % quantiles (NaN: not computed).
      null_p: ``[L, 2]`` the permutation p-value of "Δ lies below the null": ``(1 + #{Δ_perm <= Δ}) / (P + 1)``
        (NaN: not computed). See :mod:`ii_jax.null`.
      n: N. params: the settings used (``null_permutations``: P).
    """

    layers: np.ndarray
    relative_depth: np.ndarray
    values: np.ndarray
    std: np.ndarray
    null: np.ndarray
    null_band: np.ndarray
    null_p: np.ndarray
    n: int
    params: dict


def layer_profile(a, b, *, tokens: int = 20, representation: str = "concat", layers: Sequence[int] | None = None,
                  jackknife="auto", null: bool | int = True, k: int = 1, ties: str = "average", key=None,
                  drop_last: int = 0, progress: bool | None = None, include_embedding: bool = False) -> Profile:
    """Δ(A_l→B_l) and Δ(B_l→A_l) for every layer ``l`` of two paired sources (paper Fig. 2).

    Args:
      a, b: paired sources (same items, same order; stores are checked by item id), e.g. the English and Spanish
        sides of one model.
      tokens: the last ``tokens`` tokens are concatenated (paper: 20). representation: see the module docstring.
      layers: layer indices (default: every stored layer but the embedding layer).
      include_embedding: also analyse the embedding layer (default ``False``: left out, as in the paper §3.1;
        ignored when ``layers`` is given). Relative depth keeps 0 for the embeddings either way.
      jackknife: ``"auto"`` (30 random splits into halves), ``"paper"`` (5 subsets of ``min(2000, 0.4 N)``, the raw
        spread), a :class:`~ii_jax.resample.Jackknife` or a ``(repeats, n_sub)`` pair, or ``None``. Error bars:
        :func:`~ii_jax.resample.standard_error`, the standard error of Δ at N (for ``"paper"``: the spread at the
        subset size, as the paper reports it).
      null: also compute the permutation null per layer (≈ N/(N−1)): ``True`` (200 permutations) or a number of
        permutations (>= 50). Its key has the two sources' names folded in, so profiles of different sources
        never share their permutations, even with the same ``key``.
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
    permutations = _null_permutations(null)
    key = _key(key)
    cached = _fits(len(a))
    stats = []
    for layer in _progress(lays, "layer profile", progress):
        opts = dict(key=jax.random.fold_in(key, layer), k=k, ties=ties, jackknife=jackknife, null=null,
                    null_names=(_name(a), _name(b)))
        win = dict(representation=representation, tokens=tokens, drop_last=drop_last)
        if cached:  # the route window_sweep takes: the layer's distance cache, then Δ and resampling on it
            st = _delta_stats(layer_distances(a, layer, **win), layer_distances(b, layer, **win), **opts)
        else:
            x, metric = features(a, layer, **win)
            y, _ = features(b, layer, **win)
            st = _pair_stats(x, y, metric, **opts)
        stats.append(st)
    params = dict(analysis="layer_profile", a=_name(a), b=_name(b), tokens=tokens, representation=representation,
                  k=k, ties=ties, jackknife=_jack_param(len(a), jackknife), null=bool(permutations),
                  null_permutations=_null_count(len(a), permutations), drop_last=drop_last,
                  include_embedding=include_embedding, embedding_layer=getattr(a, "embedding_layer", None))
    return Profile(np.array(lays), _depth(a, lays), *_stacked(stats), len(a), params)


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
      >>> nan = np.full((6, 2), np.nan)
      >>> p = Profile(np.arange(6), np.arange(6) / 5, v, nan, nan, nan[..., None].repeat(2, 2), nan, 100, {})
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
        return [layer_distances(src, layer, representation=representation, tokens=tokens)
                for layer in _progress(lays, f"distances {name}", progress)]

    da, db = mats(a, la, "A"), mats(b, lb, "B")
    vals = np.zeros((len(la), len(lb), 2))
    jobs = [(i, j) for i in range(len(la)) for j in range(len(lb))]
    for i, j in _progress(jobs, "cross-model", progress):
        vals[i, j] = _delta(da[i], db[j], k=k, ties=ties)
    params = dict(analysis="cross_model", a=_name(a), b=_name(b), tokens=tokens, representation=representation,
                  k=k, ties=ties)
    return CrossModel(np.array(la), np.array(lb), _depth(a, la), _depth(b, lb), vals, n, params)


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
