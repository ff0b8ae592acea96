"""Synthetic Gaussian experiments of the paper's Fig. 1: rank construction and statistical power.

* **Rank construction** (Fig. 1 left). ``X ~ N(0, I_D)``, ``Y = B_r X + eps`` with ``B_r = U_r V_r``,
  ``U_r ~ N(0, 1)^{D x r}``, ``V_r ~ N(0, 1)^{r x D}`` of rank ``r = 1..D`` (``D = 10``) and
  ``eps ~ N(0, sigma^2 I)``. Each rank gets its own pair. Expected: ``Δ(X→Y) < Δ(Y→X)`` (Y loses
  information, X keeps it), both falling with ``r``; CKA symmetric, so it cannot show the direction.
* **Statistical power** (Fig. 1 right). A Gaussian vector of ``p`` components against the same vector
  restricted to a fraction ``f`` of them. Expected: for ``p = 10^5`` the (biased) CKA saturates near 1 already
  at small ``f``, while Δ still resolves ``f``.

Error bars are jackknife: ``repeats`` random subsamples of ``n_sub`` of the ``n`` points (mean and
standard deviation). Each experiment computes the ``n x n`` Gram matrices once; every subsample's squared
distances and CKA come from sub-blocks of them, so resampling costs no new feature products. In the power
experiment the Gram of each prefix of components is accumulated from the previous one, so all fractions
together cost one Gram of the full vector.
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ii_jax.baselines import cka_from_grams
from ii_jax.resample import draw_subsets, replica_std

__all__ = [
    "Curves",
    "rank_pair",
    "rank_pairs",
    "partial_view",
    "imbalance_jackknife",
    "rank_experiment",
    "power_experiment",
    "plot_rank_experiment",
    "plot_power_experiment",
]

DEFAULT_FRACTIONS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


class Curves(NamedTuple):
    """Δ(X→Y), Δ(Y→X) and CKA against a control parameter, with jackknife standard deviations.

    Attributes:
      x: ``[T]`` the control parameter (rank r, or fraction f of components).
      ii_xy: ``[T]`` mean Δ(X→Y).
      ii_xy_std: ``[T]`` its jackknife standard deviation.
      ii_yx: ``[T]`` mean Δ(Y→X).
      ii_yx_std: ``[T]``.
      cka: ``[T]`` mean linear CKA.
      cka_std: ``[T]``.
    """

    x: np.ndarray
    ii_xy: np.ndarray
    ii_xy_std: np.ndarray
    ii_yx: np.ndarray
    ii_yx_std: np.ndarray
    cka: np.ndarray
    cka_std: np.ndarray


class ImbalanceJackknife(NamedTuple):
    """Jackknife mean and standard deviation of both directions (and the R values behind them)."""

    x_to_y: float
    x_to_y_std: float
    y_to_x: float
    y_to_x_std: float
    values: np.ndarray  # [R, 2]


def _check_n(fn: str, n: int, minimum: int = 4) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{fn}: n must be an int >= {minimum}, got {n!r}.")
    return int(n)


@functools.partial(jax.jit, static_argnames=("n", "dim"))
def _rank_pair(key, sigma, rank, *, n, dim):
    kx, ku, kv, ke = jax.random.split(key, 4)
    x = jax.random.normal(kx, (n, dim), dtype=jnp.float32)
    keep = jnp.arange(dim) < rank  # U_r = the first r columns of a D x D Gaussian: one compiled shape
    u = jnp.where(keep[None, :], jax.random.normal(ku, (dim, dim), dtype=jnp.float32), 0.0)
    v = jnp.where(keep[:, None], jax.random.normal(kv, (dim, dim), dtype=jnp.float32), 0.0)
    return x, x @ (u @ v).T + sigma * jax.random.normal(ke, (n, dim), dtype=jnp.float32)


def rank_pair(key: jax.Array, n: int, *, rank: int, dim: int = 10, sigma: float = 1.0) -> tuple[jax.Array, jax.Array]:
    """One pair of the rank construction: ``X ~ N(0, I)``, ``Y = U V X + eps`` with ``rank(U V) = rank``.

    Args:
      key: PRNG key.
      n: number of points.
      rank: rank r of ``B = U V``, ``1 <= rank <= dim``.
      dim: dimension D of X and Y.
      sigma: noise standard deviation (``B X`` has per-component variance ``r D``).

    Returns:
      ``(x, y)``, both ``[n, dim]`` float32.

    Examples:
      >>> import jax, numpy as np
      >>> from ii_jax.synthetic import rank_pair
      >>> x, y = rank_pair(jax.random.key(0), 200, rank=2, sigma=0.0)
      >>> int(np.linalg.matrix_rank(np.asarray(y)))
      2
    """
    n = _check_n("rank_pair", n, 2)
    if not isinstance(rank, (int, np.integer)) or not 1 <= rank <= dim:
        raise ValueError(f"rank_pair: rank must be an int in [1, dim={dim}], got {rank!r}.")
    if sigma < 0:
        raise ValueError(f"rank_pair: sigma must be >= 0, got {sigma}.")
    return _rank_pair(key, jnp.float32(sigma), jnp.int32(rank), n=n, dim=int(dim))


def rank_pairs(key: jax.Array, n: int, *, dim: int = 10, sigma: float = 1.0) -> tuple[jax.Array, jax.Array]:
    """All ranks ``r = 1..dim`` of the construction, each from its own key.

    Args:
      key: PRNG key.
      n: points per pair.
      dim: dimension D.
      sigma: noise standard deviation.

    Returns:
      ``(x, y)``, both ``[dim, n, dim]``: ``x[r - 1], y[r - 1]`` is the pair of rank ``r``.

    Examples:
      >>> import jax
      >>> from ii_jax.synthetic import rank_pairs
      >>> x, y = rank_pairs(jax.random.key(0), 100, dim=4)
      >>> x.shape, y.shape
      ((4, 100, 4), (4, 100, 4))
    """
    keys = jax.random.split(key, dim)
    pairs = [rank_pair(k, n, rank=r, dim=dim, sigma=sigma) for r, k in zip(range(1, dim + 1), keys, strict=False)]
    return jnp.stack([p[0] for p in pairs]), jnp.stack([p[1] for p in pairs])


def partial_view(key: jax.Array, n: int, *, p: int, fraction: float) -> tuple[jax.Array, jax.Array]:
    """A Gaussian vector of ``p`` components and the same vector restricted to a fraction of them.

    Args:
      key: PRNG key.
      n: number of points.
      p: components of the full vector.
      fraction: kept fraction ``f``; the view has ``max(1, round(f p))`` components (the first ones: the
        components are exchangeable).

    Returns:
      ``(x, y)``: ``x`` ``[n, p]``, ``y = x[:, :m]``.

    Examples:
      >>> import jax
      >>> from ii_jax.synthetic import partial_view
      >>> x, y = partial_view(jax.random.key(0), 10, p=1000, fraction=0.05)
      >>> x.shape, y.shape
      ((10, 1000), (10, 50))
    """
    n = _check_n("partial_view", n, 2)
    m = _n_kept(p, fraction, "partial_view")
    x = jax.random.normal(key, (n, int(p)), dtype=jnp.float32)
    return x, x[:, :m]


def _n_kept(p: int, fraction: float, fn: str) -> int:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
        raise ValueError(f"{fn}: p must be a positive int, got {p!r}.")
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"{fn}: fraction must be in (0, 1], got {fraction}.")
    return max(1, int(round(float(fraction) * int(p))))


# ----------------------------------------------------------------------------------------------------------
# Jackknife on Gram matrices


def _subsamples(key: jax.Array, n: int, n_sub: int | None, repeats: int, fn: str) -> np.ndarray:
    """The jackknife subsamples, sorted indices ``[repeats, n_sub]``: :func:`ii_jax.resample.draw_subsets` (JAX
    stream), ``n_sub`` defaulting to ``n // 2``.
    """
    if n_sub is None:
        n_sub = n // 2
    if not 4 <= int(n_sub) <= n:
        raise ValueError(f"{fn}: n_sub must be between 4 and n={n}, got {n_sub}.")
    if int(repeats) < 1:
        raise ValueError(f"{fn}: repeats must be >= 1, got {repeats}.")
    return draw_subsets(key, n, n_sub, repeats, stream="jax")


@jax.jit
def _sq_dist_from_gram(g):
    d = jnp.diagonal(g)
    return jnp.maximum(d[:, None] + d[None, :] - 2.0 * g, 0.0)


@functools.partial(jax.jit, static_argnames=("debiased",))
def _cka_reps(gx, gy, idx, *, debiased):
    sub = jax.vmap(lambda i: (gx[i][:, i], gy[i][:, i]))(idx)
    return jax.vmap(functools.partial(cka_from_grams, debiased=debiased))(*sub)


def _gram(a: jax.Array) -> jax.Array:
    return jnp.matmul(a, a.T, precision=lax.Precision.HIGHEST)


def _jackknife_from_grams(gx, gy, idx: np.ndarray, debiased: bool) -> tuple[np.ndarray, np.ndarray]:
    """``[R, 2]`` Δ values and ``[R]`` CKA values for the subsamples ``idx`` ``[R, n]``."""
    from ii_jax import imbalance_from_distances  # the core engine

    dx, dy = np.asarray(_sq_dist_from_gram(gx)), np.asarray(_sq_dist_from_gram(gy))
    ii = np.array([tuple(imbalance_from_distances(dx[np.ix_(i, i)], dy[np.ix_(i, i)])) for i in idx])
    return ii, np.asarray(_cka_reps(gx, gy, jnp.asarray(idx), debiased=debiased))


def imbalance_jackknife(
    x: jax.typing.ArrayLike,
    y: jax.typing.ArrayLike,
    *,
    key: jax.Array,
    repeats: int = 10,
    n_sub: int | None = None,
) -> ImbalanceJackknife:
    """Euclidean Information Imbalance, both directions, with jackknife error bars.

    The squared distances of all ``n`` points are computed once (from the Gram matrices); each repetition
    takes the sub-block of a random subsample of ``n_sub`` points and runs
    :func:`ii_jax.imbalance_from_distances` on it.

    Args:
      x: ``[n, Dx]`` float features.
      y: ``[n, Dy]`` float features of the same points.
      key: PRNG key for the subsamples.
      repeats: repetitions R.
      n_sub: points per subsample (default ``n // 2``).

    Returns:
      :class:`ImbalanceJackknife`.

    Examples:
      >>> import jax
      >>> from ii_jax.synthetic import imbalance_jackknife, rank_pair
      >>> x, y = rank_pair(jax.random.key(0), 200, rank=1)
      >>> jk = imbalance_jackknife(x, y, key=jax.random.key(1), repeats=3)
      >>> bool(jk.x_to_y < jk.y_to_x)
      True
    """
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"imbalance_jackknife: x and y must be [n, D] with the same n, got {x.shape} and {y.shape}.")
    idx = _subsamples(key, x.shape[0], n_sub, repeats, "imbalance_jackknife")
    ii, _ = _jackknife_from_grams(_gram(x), _gram(y), idx, False)
    return ImbalanceJackknife(float(ii[:, 0].mean()), float(replica_std(ii[:, 0])), float(ii[:, 1].mean()),
                              float(replica_std(ii[:, 1])), ii)


def _curves(x_values, ii_list, cka_list) -> Curves:
    ii = np.stack(ii_list)  # [T, R, 2]
    ck = np.stack(cka_list)  # [T, R]
    return Curves(
        np.asarray(x_values, np.float64),
        ii[..., 0].mean(1), replica_std(ii[..., 0], 1), ii[..., 1].mean(1), replica_std(ii[..., 1], 1), ck.mean(1),
        replica_std(ck, 1),
    )


def rank_experiment(
    key: jax.Array,
    *,
    n: int = 1000,
    dim: int = 10,
    sigma: float = 1.0,
    repeats: int = 10,
    n_sub: int | None = None,
    debiased: bool = False,
) -> Curves:
    """Fig. 1 (left): Δ(X→Y), Δ(Y→X) and CKA of the rank construction for ``r = 1..dim``.

    Args:
      key: PRNG key (data and subsamples).
      n: points per pair.
      dim: dimension D (paper: 10).
      sigma: noise standard deviation.
      repeats: jackknife repetitions (paper: 10).
      n_sub: points per jackknife subsample (default ``n // 2``).
      debiased: report the debiased CKA instead of the biased one.

    Returns:
      :class:`Curves` with ``x`` the ranks ``1..dim``.

    Examples:
      >>> import jax
      >>> from ii_jax.synthetic import rank_experiment
      >>> c = rank_experiment(jax.random.key(0), n=200, dim=4, repeats=2)
      >>> bool(c.ii_xy[0] < c.ii_yx[0]), bool(c.ii_yx[-1] < c.ii_yx[0])
      (True, True)
    """
    n = _check_n("rank_experiment", n)
    kd, ks = jax.random.split(key)
    xs, ys = rank_pairs(kd, n, dim=dim, sigma=sigma)
    idx = _subsamples(ks, n, n_sub, repeats, "rank_experiment")
    ii_list, cka_list = [], []
    for x, y in zip(xs, ys, strict=False):
        ii, ck = _jackknife_from_grams(_gram(x), _gram(y), idx, debiased)
        ii_list.append(ii)
        cka_list.append(ck)
    return _curves(np.arange(1, dim + 1), ii_list, cka_list)


@jax.jit
def _add_gram(g, cols):
    return g + _gram(cols)


def power_experiment(
    key: jax.Array,
    *,
    n: int = 1000,
    p: int = 1000,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    repeats: int = 10,
    n_sub: int | None = None,
    debiased: bool = False,
    chunk: int = 4096,
) -> Curves:
    """Fig. 1 (right): Δ and CKA between a ``p``-component Gaussian vector and its first ``f p`` components.

    X is the full vector, Y the restricted one, so Δ(X→Y) asks how well the full neighbourhoods predict
    those of the partial view. The Gram of each prefix is accumulated from the previous one in chunks of
    ``chunk`` components: memory ``n x chunk`` for the features (never ``n x p``) and ``n x n`` for the Grams.

    Args:
      key: PRNG key.
      n: number of points.
      p: components of the full vector (paper: 10^3 and 10^5).
      fractions: kept fractions, in ``(0, 1]``.
      repeats: jackknife repetitions.
      n_sub: points per subsample (default ``n // 2``).
      debiased: debiased CKA instead of the biased one (the paper's Fig. 1 uses the biased one).
      chunk: components generated and multiplied at a time.

    Returns:
      :class:`Curves` with ``x`` the fractions (sorted).

    Examples:
      >>> import jax
      >>> from ii_jax.synthetic import power_experiment
      >>> c = power_experiment(jax.random.key(0), n=200, p=200, fractions=(0.05, 0.5), repeats=2)
      >>> bool(c.ii_xy[0] > c.ii_xy[1]), bool(c.cka[0] < c.cka[1])
      (True, True)
    """
    n = _check_n("power_experiment", n)
    fr = sorted(float(f) for f in fractions)
    kept = [_n_kept(p, f, "power_experiment") for f in fr]
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"power_experiment: chunk must be a positive int, got {chunk!r}.")
    kd, ks = jax.random.split(key)
    idx = _subsamples(ks, n, n_sub, repeats, "power_experiment")
    # Component j of every point comes from fold_in(kd, j // chunk), so the data do not depend on fractions.
    grams = {}
    g = jnp.zeros((n, n), jnp.float32)
    targets = sorted(set(kept))
    for start in range(0, int(p), chunk):
        block = jax.random.normal(jax.random.fold_in(kd, start // chunk), (n, min(chunk, int(p) - start)),
                                  dtype=jnp.float32)
        end, pos = start + block.shape[1], start
        for m in (m for m in targets if start < m <= end):  # prefixes that end inside this chunk
            g = _add_gram(g, block[:, pos - start : m - start])
            grams[m], pos = g, m
        if pos < end:
            g = _add_gram(g, block[:, pos - start :])
    ii_list, cka_list = [], []
    for m in kept:
        ii, ck = _jackknife_from_grams(g, grams[m], idx, debiased)  # X: all p components, Y: the first m
        ii_list.append(ii)
        cka_list.append(ck)
    return _curves(fr, ii_list, cka_list)


# ----------------------------------------------------------------------------------------------------------
# Plots


def _band(ax, x, mean, std, **kw):
    (line,) = ax.plot(x, mean, marker="o", ms=3, **kw)
    ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.25, linewidth=0)
    return line


def plot_rank_experiment(curves: Curves, *, ax: Any = None):
    """Fig. 1 (left): Δ(X→Y), Δ(Y→X) and CKA against the rank of ``B_r``.

    Args:
      curves: from :func:`rank_experiment`.
      ax: matplotlib axes (default: a new figure).

    Returns:
      the ``Axes``.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.synthetic import Curves, plot_rank_experiment
      >>> z = np.zeros(3)
      >>> ax = plot_rank_experiment(Curves(np.arange(1.0, 4.0), z + 0.3, z, z + 0.6, z, z + 0.5, z))
      >>> ax.get_xlabel()
      'rank r of $B_r$'
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    _band(ax, curves.x, curves.ii_xy, curves.ii_xy_std, label=r"$\Delta(X \to Y)$")
    _band(ax, curves.x, curves.ii_yx, curves.ii_yx_std, label=r"$\Delta(Y \to X)$")
    _band(ax, curves.x, curves.cka, curves.cka_std, label="CKA", linestyle="--")
    ax.set_xlabel("rank r of $B_r$")
    ax.set_ylabel("value")
    ax.legend()
    return ax


def plot_power_experiment(curves: Curves | dict[Any, Curves], *, ax: Any = None):
    """Fig. 1 (right): Δ(X→Y) and CKA against the fraction of observed components, one colour per ``p``.

    Args:
      curves: one :class:`Curves` or ``{p: Curves}`` from :func:`power_experiment`.
      ax: matplotlib axes (default: a new figure).

    Returns:
      the ``Axes`` (log-scaled fraction axis).

    Examples:
      >>> import numpy as np
      >>> from ii_jax.synthetic import Curves, plot_power_experiment
      >>> z = np.zeros(2)
      >>> ax = plot_power_experiment({1000: Curves(np.array([0.1, 1.0]), z + 0.5, z, z + 0.5, z, z + 0.9, z)})
      >>> ax.get_xscale()
      'log'
    """
    import matplotlib.pyplot as plt

    if isinstance(curves, Curves):
        curves = {None: curves}
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for p, c in curves.items():
        tag = "" if p is None else f", p={p:.0e}" if p >= 1e4 else f", p={p}"
        line = _band(ax, c.x, c.ii_xy, c.ii_xy_std, label=r"$\Delta$" + tag)
        _band(ax, c.x, c.cka, c.cka_std, label="CKA" + tag, linestyle="--", color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("fraction f of components observed")
    ax.set_ylabel("value")
    ax.legend()
    return ax
