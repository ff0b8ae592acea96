"""BID with jackknife error bars and per-layer profiles on arrays and shard stores (paper Supp. H, Fig. 9)."""
from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np

from ii_jax.binary import WORD_BITS
from ii_jax.resample import draw_subsets, standard_error, subset_members
from ii_jax.bid.results import BIDJackknife, BIDProfile, BIDResult
from ii_jax.bid.histogram import _check_words, hamming_histogram, subsample_histograms
from ii_jax.bid.fit import _check_alphas, _first, bid_from_histogram

__all__ = ["bid_jackknife", "bid_profile", "bid_profile_store"]


def _summarise(fits: BIDResult, members: np.ndarray) -> BIDJackknife:
    """The jackknife's mean BID and its standard error at N (:func:`ii_jax.resample.standard_error`, the one rule,
    ``"delete_d"``: the spread over the converged subsets rescaled by √(m / (N − m)); BID is fitted to the histogram
    of all pair distances, a smooth statistic of the points, for which the delete-d jackknife is the right scale).
    """
    conv = np.asarray(fits.converged)
    d0 = np.asarray(fits.d0, np.float64)[conv]
    d1 = np.asarray(fits.d1, np.float64)[conv]
    n = int(conv.sum())
    total, m = int(members.shape[1]), int(members[0].sum())
    mean = lambda a: float(a.mean()) if n else float("nan")  # noqa: E731
    std = lambda a: float(standard_error(a, n=total, n_sub=m, error_bar="delete_d"))  # noqa: E731
    return BIDJackknife(mean(d0), std(d0), mean(d1), std(d1), n, fits)


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
    return _summarise(bid_from_histogram(counts, alpha_min=alpha_min, alpha_max=alpha_max), members)


def _jackknife_members(key, n: int, n_sub: int | None, repeats: int, fn: str) -> np.ndarray:
    """The BID jackknife's ``[repeats, n]`` bool membership: :func:`ii_jax.resample.draw_subsets` (JAX stream),
    ``n_sub`` defaulting to ``0.4 n``.
    """
    if key is None:
        raise ValueError(f"{fn}: key is required to draw the subsamples.")
    if n_sub is None:
        n_sub = max(2, int(round(0.4 * n)))
    if not 2 <= int(n_sub) <= n:
        raise ValueError(f"{fn}: n_sub must be between 2 and N={n}, got {n_sub}.")
    if int(repeats) < 1:
        raise ValueError(f"{fn}: repeats must be at least 1, got {repeats}.")
    return subset_members(draw_subsets(key, n, n_sub, repeats, stream="jax"), n)


# ----------------------------------------------------------------------------------------------------------
# Per-layer profiles (paper Supp. H, Fig. 9)


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
    for i, (words, nb) in enumerate(zip(layers, bits, strict=False)):
        words, nb = _check_words(words, nb, "bid_profile")
        if keys[i] is None:
            counts = hamming_histogram(words, nb)
            fit = _first(bid_from_histogram(counts[None], alpha_min=alpha_min, alpha_max=alpha_max))
            if bool(fit.converged):
                d0[i], d1[i], n_conv[i] = float(fit.d0), float(fit.d1), 1
        else:
            members = _jackknife_members(keys[i], words.shape[0], n_sub, repeats, "bid_profile")
            counts = subsample_histograms(words, nb, members)
            jk = _summarise(bid_from_histogram(counts, alpha_min=alpha_min, alpha_max=alpha_max), members)
            d0[i], d0_std[i], d1[i], n_conv[i] = jk.d0, jk.d0_std, jk.d1, jk.n_converged
    return BIDProfile(depth, np.asarray(bits, np.float64), d0, d0_std, d1, n_conv)


def _token_window(bits: np.ndarray, tokens: int, drop_last: int, n_bits_token: int) -> tuple[np.ndarray, int]:
    """Concatenate the last ``tokens`` tokens (after dropping ``drop_last``) of ``[N, T, W]`` packed bits."""
    n, t, w = bits.shape
    if tokens + drop_last > t:
        raise ValueError(
            f"bid_profile_store: {tokens} tokens after skipping {drop_last} need {tokens + drop_last} "
            f"stored tokens, the store has {t}."
        )
    window = np.asarray(bits[:, t - drop_last - tokens : t - drop_last, :])
    if n_bits_token % WORD_BITS == 0:
        return np.ascontiguousarray(window.reshape(n, tokens * w)), tokens * n_bits_token
    from ii_jax.binary import pack_bits_np  # padding bits sit between tokens: unpack and repack

    unpacked = np.unpackbits(window.view(np.uint8), axis=-1, bitorder="little")[..., :n_bits_token]
    return pack_bits_np(unpacked.reshape(n, -1)), tokens * n_bits_token


def bid_profile_store(
    store: Any,
    *,
    tokens: Sequence[int] = (10, 20),
    drop_last: int = 0,
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
        ``ii_jax.store.open_store`` returns.
      tokens: window sizes k; each window concatenates the last k stored tokens.
      drop_last: stored tokens dropped from the end first (2 drops final punctuation in text).
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
        from ii_jax.store import open_store  # the shard reader lives in its own module

        store = open_store(store)
    all_layers = list(store.layers)
    depth_of = dict(zip(all_layers, np.asarray(store.relative_depth, np.float64), strict=False))
    emb = getattr(store, "embedding_layer", None)
    chosen = [x for x in all_layers if include_embedding or x != emb] if layers is None else list(layers)
    missing = [layer for layer in chosen if layer not in depth_of]
    if missing:
        raise ValueError(f"bid_profile_store: layers {missing} are not in the store (it has {all_layers}).")
    n_bits_token = int(store.n_bits)
    keys = {k: None for k in tokens} if key is None else dict(zip(tokens, jax.random.split(key, len(tokens)), strict=False))
    profiles = {}
    for k in tokens:
        if int(k) < 1:
            raise ValueError(f"bid_profile_store: token windows must be >= 1, got {k}.")
        packed, bits = zip(*(_token_window(store.bits(layer), int(k), int(drop_last), n_bits_token) for layer in chosen), strict=False)
        profiles[int(k)] = bid_profile(
            list(packed), list(bits), [depth_of[layer] for layer in chosen], alpha_min=alpha_min,
            alpha_max=alpha_max, key=keys[k], n_sub=n_sub, repeats=repeats,
        )
    return profiles
