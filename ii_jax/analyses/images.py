"""Images: same-class image pairs (paper Fig. 4a) and the image-caption cross-modal profile (Fig. 4b)."""
from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import numpy as np

from ii_jax import resample as _rs
from ii_jax.analyses._util import _key, _progress
from ii_jax.analyses.cache import layer_distances
from ii_jax.analyses.profile import Profile
from ii_jax.analyses.resampling import (_delta_stats, _jack_param, _null_count, _null_permutations, _pair_stats,
                                       _stacked)
from ii_jax.analyses.sources import (ArrayStore, _check_paired, _depth, _layers, _name, as_source,
                                     features)
from ii_jax.store import same_class_pairs

__all__ = ["ImagePairs", "image_pairs", "pairing_sources", "cross_modal"]


class ImagePairs(NamedTuple):
    """Δ between the two images of same-class pairs, per layer, over replications of the pairing.

    Attributes:
      layers, relative_depth: ``[L]``. values: ``[R, L, 2]`` both directions per replication.
      mean: ``[L]`` the mean of the two directions, averaged over replications.
      std: ``[L]`` the spread of one pairing's Δ over the replications (how much the choice of pairs moves Δ; not
        the images' sampling error, which :func:`ii_jax.analyses.claims.vision_minimum_late` takes from a
        jackknife over the pairs).
      null: ``[L]`` the same with the pairing shuffled, mostly different classes: the permutation null's mean over
        both directions, of the first replication (≈ 1; NaN: not computed).
      null_band: ``[L, 2, 2]`` per layer and direction, the null's 2.5 % and 97.5 % quantiles (first replication).
      null_p: ``[L, 2]`` the p-value of "Δ of the first replication lies below the null" (:mod:`ii_jax.null`).
      n_pairs: pairs per replication.
    """

    layers: np.ndarray
    relative_depth: np.ndarray
    values: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    null: np.ndarray
    null_band: np.ndarray
    null_p: np.ndarray
    n_pairs: int
    params: dict


def _pair_labels(src, labels):
    """The class labels that pair ``src``'s images: ``labels`` or the store's, one per item."""
    labels = getattr(src, "labels", None) if labels is None else labels
    if labels is None:
        raise ValueError(f"{_name(src)}: image pairs need class labels (the store has none; pass labels=).")
    if len(labels) != len(src):
        raise ValueError(f"{len(labels)} labels for {len(src)} items.")
    return labels


def image_pairs(src, *, labels: Sequence | None = None, replications: int = 5, n_pairs: int | None = None,
                tokens: int = 200, representation: str = "concat", layers=None, null: bool | int = True, k: int = 1,
                ties: str = "average", seed: int = 0, progress: bool | None = None,
                include_embedding: bool = False) -> ImagePairs:
    """Δ between same-class image pairs (paper Fig. 4a): pairs drawn without repetition, ``replications`` times.

    Args:
      src: one image source holding every image, with class labels (a store's ``labels``, or ``labels=``).
      replications: independent pairings R (paper: 5). n_pairs: pairs per replication (default: all the
        disjoint same-class pairs one pairing yields; paper: 2500). tokens: last tokens (image default 200,
        capped at the stored tokens).
      null: also compute the permutation null with the pairs' second images shuffled (so almost all pairs are of
        different classes): ≈ 1. ``True`` (200 permutations) or a number of permutations (>= 50); drawn afresh
        for every layer.
      include_embedding: also analyse the patch-embedding layer (default ``False``, as the text analyses).

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore, image_pairs
      >>> rng = np.random.default_rng(0)
      >>> labels = np.repeat(np.arange(20), 6)
      >>> centres = rng.integers(0, 2**32, size=(20, 1, 8), dtype=np.uint32)
      >>> draw = lambda: rng.integers(0, 2**32, size=(120, 1, 8), dtype=np.uint32)
      >>> noise = draw() & draw() & np.uint32(0x01010101)
      >>> s = ArrayStore([centres[labels] ^ noise], labels=labels)
      >>> r = image_pairs(s, replications=3, progress=False)
      >>> bool(r.mean[0] < 0.5 < r.null[0]), r.n_pairs
      (True, 60)
    """
    src = as_source(src)
    labels = _pair_labels(src, labels)
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
    _null_permutations(null)
    m = len(pairings[0])
    if m < k + 2:
        raise ValueError(f"only {m} same-class pairs: too few for k={k} (need at least {k + 2}).")
    vals = np.zeros((replications, len(lays), 2))
    nul, band, p_below = np.full(len(lays), np.nan), np.full((len(lays), 2, 2), np.nan), np.full((len(lays), 2), np.nan)
    key = jax.random.key(seed)
    for li in _progress(range(len(lays)), "image pairs", progress):
        x, metric = features(src, lays[li], representation=representation, tokens=tokens)
        x = np.asarray(x)
        for r, p in enumerate(pairings):
            st = _pair_stats(x[p[:, 0]], x[p[:, 1]], metric, key=jax.random.fold_in(key, r), k=k, ties=ties,
                             null=null if r == 0 else False, null_names=(_name(src), lays[li]))
            vals[r, li] = st.value
            if null and r == 0:
                nul[li], band[li], p_below[li] = st.null.mean(), st.null_band, st.null_p
    both = vals.mean(axis=2)
    std = _rs.replica_std(both, axis=0)
    params = dict(analysis="image_pairs", source=_name(src), replications=replications, tokens=tokens,
                  representation=representation, k=k, ties=ties, seed=seed, include_embedding=include_embedding,
                  null_permutations=_null_count(m, _null_permutations(null)))
    return ImagePairs(np.array(lays), _depth(src, lays), vals, both.mean(axis=0), std, nul, band, p_below, m, params)


def pairing_sources(src, *, labels: Sequence | None = None, seed: int = 0) -> tuple[ArrayStore, ArrayStore]:
    """The two images of every same-class pair of one pairing (the one :func:`image_pairs` draws first with the same
    ``seed``) as two paired in-memory sources: item i of both is pair i. A layer profile of the two is the pairs'
    profile with jackknife error bars over the pairs.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import ArrayStore, pairing_sources
      >>> s = ArrayStore([np.zeros((12, 1, 2), np.uint32)], labels=np.repeat(np.arange(3), 4))
      >>> a, b = pairing_sources(s)
      >>> len(a), len(b)
      (6, 6)
    """
    src = as_source(src)
    p = same_class_pairs(_pair_labels(src, labels), seed=seed)
    ids = [str(i) for i in range(len(p))]
    lays = list(src.layers)
    emb = getattr(src, "embedding_layer", None)
    return tuple(ArrayStore([np.asarray(src.bits(la))[p[:, j]] for la in lays], layers=lays,
                            relative_depth=src.relative_depth, item_ids=ids, name=f"{_name(src)}[pair side {j}]",
                            embedding_layer=emb) for j in (0, 1))


# ----------------------------------------------------------------------------------------------------------------
# 6. Image-caption cross-modal profile (Fig. 4b)

def cross_modal(text, image, *, text_layer: int, text_tokens: int = 20, image_tokens: int = 200,
                text_representation: str = "concat", image_representation: str = "concat", layers=None,
                bootstrap=(100, 200), null: bool | int = True, k: int = 1, ties: str = "average", key=None,
                progress: bool | None = None, include_embedding: bool = False, jackknife=None) -> Profile:
    """One text layer against every image layer, both directions, bootstrap or jackknife errors (paper Fig. 4b).

    Args:
      text, image: paired sources (captions and their images). text_layer: the fixed text layer (e.g. the text
        model's semantic layer from :func:`semantic_layers`).
      text_tokens, image_tokens: windows (image capped at the stored tokens).
      bootstrap: ``(repeats, n_sub)`` (paper: 100 × 200; ``n_sub`` capped at N), or ``None``; rescaled to the
        standard error at N (:func:`ii_jax.resample.standard_error`).
      jackknife: instead of the bootstrap, a jackknife (``"auto"``, ``"paper"``, ``(repeats, n_sub)``).
      null: the permutation null per layer, as :func:`~ii_jax.analyses.layer_profile` (the sources' names folded
        into its key).
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
    if jackknife is not None:
        bootstrap = None
    permutations = _null_permutations(null)
    if bootstrap is not None:
        repeats, n_sub = (int(v) for v in bootstrap)
        bootstrap = (repeats, min(n_sub, n))
    dx = layer_distances(text, text_layer, representation=text_representation, tokens=text_tokens)
    stats = []
    for layer in _progress(lays, "cross-modal", progress):
        dy = layer_distances(image, layer, representation=image_representation,
                             tokens=min(image_tokens, image.tokens))
        stats.append(_delta_stats(dx, dy, key=jax.random.fold_in(key, layer), k=k, ties=ties, bootstrap=bootstrap,
                                  jackknife=jackknife, null=null, null_names=(_name(text), _name(image))))
    params = dict(analysis="cross_modal", text=_name(text), image=_name(image), text_layer=text_layer,
                  text_tokens=text_tokens, image_tokens=min(image_tokens, image.tokens),
                  text_representation=text_representation, image_representation=image_representation,
                  bootstrap=None if bootstrap is None else {"repeats": bootstrap[0], "n_sub": bootstrap[1]},
                  jackknife=_jack_param(n, jackknife),
                  k=k, ties=ties, include_embedding=include_embedding,
                  embedding_layer=getattr(image, "embedding_layer", None), null_permutations=permutations or None)
    return Profile(np.array(lays), _depth(image, lays), *_stacked(stats), n, params)
