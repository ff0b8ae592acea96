"""Error bars and the null for the Information Imbalance: jackknife, bootstrap, shuffled pairing.

All three reuse the distance work: the two ``[N, N]`` distance matrices are built once (from symmetric tiles)
and every subsample, resample or shuffle only re-ranks inside them, never recomputing features or distances.

* **Jackknife** (the paper's "subsampling 2000 samples out of 5000, five times"): ``repeats`` random subsets of
  ``n_sub`` distinct points; Δ is recomputed *within* each subset (neighbours and ranks among its points).
* **Bootstrap** (the paper's "100 replicas of 200 samples"): ``repeats`` draws of ``n_sub`` points *with
  replacement* from the per-point contributions of the full set (the standard error of a mean over ``n_sub``
  points). Resampling points into the distance matrix instead would make duplicates each other's nearest
  neighbour at distance 0 and bias Δ towards 0, so it is not done.
* **Shuffled null**: the pairing of one side is permuted, ``permutations`` times; Δ must come out ≈ N/(N−1) in
  both directions (:mod:`ii_jax.null`: every permutation is one gather from the two ranked matrices).
* **Paired differences** (for claims such as "layer A predicts better than layer B", "the larger model reaches a
  lower minimum", "Δ(X→Y) < Δ(Y→X)"): both Δ's are recomputed on the *same* jackknife subsets, and the error bar
  of their difference is :func:`replica_std` of the per-subset differences (:func:`paired_difference`,
  :func:`direction_difference`, and :func:`paired_statistic` for any function of several Δ's). Correlated
  fluctuations cancel, so the paired error bar is usually much smaller than the two separate ones combined.
  :func:`verdict` turns a difference into "holds" / "does not hold" / "inconclusive" by a stated rule.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ii_jax import imbalance as _imb

__all__ = ["Estimate", "Jackknife", "ERROR_BARS", "DEFAULT_REPEATS", "default_jackknife", "paper_jackknife",
           "as_jackknife", "replica_std", "standard_error", "t_quantile", "t_p_value", "holm", "jackknife",
           "bootstrap", "shuffled_null", "resample_from_distances", "jackknife_subsets", "draw_subsets",
           "subset_members", "SUBSET_STREAMS", "PairedDifference", "paired_statistic", "paired_difference",
           "direction_difference", "ALPHA", "sign_test", "decide", "verdict", "equivalence_test",
           "equivalence_verdict", "VERDICTS"]


#: How a jackknife's replicas become an error bar (:func:`standard_error`).
ERROR_BARS = ("halves", "delete_d", "subset")


class Jackknife(NamedTuple):
    """Jackknife sizes and the error bar they give: ``repeats`` random subsets of ``n_sub`` distinct points.

    Accepted, as a plain ``(repeats, n_sub)`` pair too, by every ``jackknife=`` argument of ii-jax.

    Attributes:
      repeats: subsets (or splits) drawn. n_sub: points per subset.
      error_bar: how the replicas become an error bar (:func:`standard_error`):

        * ``"halves"`` (the default jackknife): each replica splits the N points at random into two halves and
          computes the statistic on both; the standard error at N is √(mean((T_A − T_B)²) / 4). ``n_sub`` is
          ``N // 2``.
        * ``"delete_d"`` (the default of a plain ``(repeats, n_sub)`` pair): the spread over subsets rescaled by the
          delete-d jackknife's √(n_sub / (N − n_sub)).
        * ``"subset"``: the raw standard deviation over the subsets, the spread of Δ at ``n_sub`` points (the
          paper's convention, "std of 5 subsets of 2000 of 5000": :func:`paper_jackknife`).

    Examples:
      >>> from ii_jax.resample import Jackknife
      >>> Jackknife(repeats=30, n_sub=2000) == (30, 2000, "delete_d")
      True
    """

    repeats: int
    n_sub: int
    error_bar: str = "delete_d"


#: Splits of the default jackknife: enough that the error bar is itself stable (its relative uncertainty measured
#: about 13 % on synthetic data, ``benchmarks/bench_calibration.py``), cheap because every replica re-ranks inside
#: the same distance matrices.
DEFAULT_REPEATS = 30


def default_jackknife(n: int) -> Jackknife:
    """The default jackknife for ``n`` points: 30 random splits into two halves, the standard error at N.

    ``Jackknife(repeats=30, n_sub=N // 2, error_bar="halves")`` (:func:`standard_error`).

    Examples:
      >>> from ii_jax.resample import default_jackknife
      >>> default_jackknife(5000)
      Jackknife(repeats=30, n_sub=2500, error_bar='halves')
    """
    return Jackknife(DEFAULT_REPEATS, max(3, int(n) // 2), "halves")


def paper_jackknife(n: int) -> Jackknife:
    """The paper's convention: the standard deviation over 5 subsets of ``min(2000, 0.4 N)`` points, reported
    as it is (the spread of Δ at the subset size, not its standard error at N). Selected by ``jackknife="paper"``.

    Examples:
      >>> from ii_jax.resample import paper_jackknife
      >>> paper_jackknife(5000)
      Jackknife(repeats=5, n_sub=2000, error_bar='subset')
    """
    return Jackknife(5, int(min(2000, max(3, int(0.4 * n)))), "subset")


def as_jackknife(spec, n: int) -> Jackknife | None:
    """A ``jackknife=`` argument as a validated :class:`Jackknife` for ``n`` points, or ``None`` for none.

    ``spec``: ``None``/``False`` (none), ``"auto"``/``True`` (:func:`default_jackknife`), ``"paper"``
    (:func:`paper_jackknife`), a :class:`Jackknife`, a ``(repeats, n_sub)`` pair or ``(repeats, n_sub,
    error_bar)`` triple, or a ``{"repeats": ..., "n_sub": ..., "error_bar": ...}`` mapping (as written in a report).
    """
    if spec is None or spec is False:
        return None
    if spec is True or (isinstance(spec, str) and spec == "auto"):
        return default_jackknife(n)
    if isinstance(spec, str) and spec == "paper":
        return paper_jackknife(n)
    try:
        if isinstance(spec, dict):
            spec = (spec["repeats"], spec["n_sub"], spec.get("error_bar", "delete_d"))
        if isinstance(spec, str) or len(spec) not in (2, 3):
            raise ValueError
        repeats, n_sub = spec[0], spec[1]
        error_bar = spec[2] if len(spec) == 3 else "delete_d"
        if any(isinstance(v, bool) or not float(v).is_integer() for v in (repeats, n_sub)):
            raise ValueError
        repeats, n_sub = int(repeats), int(n_sub)
    except (TypeError, ValueError, KeyError):
        raise ValueError(f"jackknife must be None, 'auto', 'paper', Jackknife(repeats, n_sub) or a (repeats, n_sub) "
                         f"pair of integers, got {spec!r}.") from None
    if error_bar not in ERROR_BARS:
        raise ValueError(f"jackknife error_bar must be one of {ERROR_BARS}, got {error_bar!r}.")
    if repeats < 1 or n_sub < 3:
        raise ValueError(f"jackknife needs repeats >= 1 and n_sub >= 3, got Jackknife(repeats={repeats}, "
                         f"n_sub={n_sub}).")
    if n_sub > n:
        raise ValueError(f"N={n} points is too small for a jackknife of {n_sub} points per subset; use at most {n} "
                         f"(e.g. {default_jackknife(n)}).")
    if error_bar == "halves":
        n_sub = n // 2
    return Jackknife(repeats, n_sub, error_bar)


def replica_std(values, axis: int = 0) -> np.ndarray:
    """The sample standard deviation (``ddof=1``) over replicas, NaN with fewer than two replicas: the raw spread
    that :func:`standard_error` turns into an error bar.

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


def standard_error(replicas, *, n: int, n_sub: int, error_bar: str = "halves", replace: bool = False,
                   axis: int = 0) -> np.ndarray:
    r"""The one error-bar rule of ii-jax: the standard error, at ``n`` points, of a statistic recomputed on
    replicas. Used by the Imbalance's resampling, the analyses, BID and the claims.

    * ``"halves"`` (the default jackknife): the replicas come in pairs, the statistic on the two halves of one
      random split of the N points (:func:`replica_subsets`: ``[A_1, B_1, A_2, B_2, ...]``). Two disjoint halves are
      two independent samples of N/2 points, so E[(T_A − T_B)²] = 2 Var(T at N/2) exactly; the standard error at N
      is :math:`\sqrt{\overline{(T_A - T_B)^2} / 4}`, taking Var(T) ∝ 1/N from N/2 to N. Measured on synthetic
      data with known truth it is within about 10 % of the true spread of Δ (``benchmarks/bench_calibration.py``).
    * ``"delete_d"``: subsets of m of N drawn without replacement, the delete-d jackknife,
      :math:`\sqrt{m / (N - m)}\; \mathrm{sd}_R`. Exact for a mean, but it overstates the error of Δ by about 10–30 %
      (Δ is a nearest-neighbour statistic: each subset gets new neighbours, which the finite-population factor
      does not expect).
    * draws *with* replacement of ``n_sub`` per-point contributions (the bootstrap of a mean, ``replace=True``):
      :math:`\sqrt{m / N}\; \mathrm{sd}_R`.
    * ``"subset"``: :math:`\mathrm{sd}_R` as it is (the paper's convention: the spread at the subset size).

    :math:`\mathrm{sd}_R` is the spread over the replicas (:func:`replica_std`, ``ddof=1``).

    Args:
      replicas: ``[R, ...]`` the statistic on each replica (along ``axis``; ``[2 R, ...]`` for ``"halves"``).
      n: points of the full sample. n_sub: points per replica.
      error_bar: one of :data:`ERROR_BARS`. replace: the replicas were drawn with replacement.

    Returns:
      float64 array (NaN without enough replicas, and for subsets of all N points, which have no spread to
      scale).

    Examples:
      >>> from ii_jax.resample import standard_error
      >>> round(float(standard_error([0.50, 0.52, 0.54], n=1000, n_sub=200, error_bar="delete_d")), 4)
      0.01
      >>> round(float(standard_error([0.50, 0.52, 0.54], n=1000, n_sub=200, error_bar="subset")), 4)
      0.02
      >>> round(float(standard_error([0.50, 0.54, 0.52, 0.52], n=1000, n_sub=500)), 4)  # two splits
      0.0141
    """
    if error_bar not in ERROR_BARS:
        raise ValueError(f"error_bar must be one of {ERROR_BARS}, got {error_bar!r}.")
    if error_bar == "halves" and not replace:
        v = np.moveaxis(np.asarray(replicas, np.float64), axis, 0)
        if v.shape[0] < 2 or v.shape[0] % 2:
            raise ValueError(f"'halves' replicas come in pairs (both halves of each split), got {v.shape[0]}.")
        return np.sqrt(((v[0::2] - v[1::2]) ** 2).mean(axis=0) / 4)
    sd = replica_std(replicas, axis=axis)
    if error_bar == "subset":
        return sd
    n, m = int(n), int(n_sub)
    if replace:
        return sd * np.sqrt(m / n)
    if m >= n:  # every subset is the whole sample: no spread to scale
        return np.full(np.shape(sd), np.nan) if np.ndim(sd) else np.float64(np.nan)
    return sd * np.sqrt(m / (n - m))


def replica_subsets(jackknife: Jackknife, n: int, key) -> list[np.ndarray]:
    """The point sets every replica of ``jackknife`` is computed on, in the order :func:`standard_error` reads them:
    ``[A_1, B_1, ..., A_R, B_R]`` (each split's two halves; B holds one point more for odd N) for ``"halves"``,
    else the R subsets of :func:`draw_subsets` (NumPy stream). Each set is sorted.

    Examples:
      >>> import jax
      >>> from ii_jax.resample import Jackknife, replica_subsets
      >>> s = replica_subsets(Jackknife(2, 5, "halves"), 11, jax.random.key(0))
      >>> [len(x) for x in s], sorted(set(s[0]) | set(s[1])) == list(range(11))
      ([5, 6, 5, 6], True)
    """
    subsets = draw_subsets(key, n, jackknife.n_sub, jackknife.repeats)
    if jackknife.error_bar != "halves":
        return list(subsets)
    out = []
    for s in subsets:
        rest = np.ones(n, bool)
        rest[s] = False
        out += [s, np.flatnonzero(rest)]
    return out


def t_quantile(level: float, dof) -> np.ndarray:
    """The two-sided critical value of Student's t: ``t`` with ``P(|T_dof| <= t) = level`` (normal for ``inf``).

    Examples:
      >>> from ii_jax.resample import t_quantile
      >>> round(float(t_quantile(0.95, 29)), 3), round(float(t_quantile(0.95, float("inf"))), 3)
      (2.045, 1.96)
    """
    from scipy import stats

    return np.asarray(stats.t.ppf(0.5 + level / 2, dof), np.float64)


def t_p_value(z, dof, *, alternative: str = "two-sided") -> np.ndarray:
    """The p-value of a t statistic ``z = value / SE`` with ``dof`` degrees of freedom (R − 1 for R replicas).

    Args:
      alternative: ``"two-sided"``, ``"greater"`` (the value is above 0) or ``"less"``.

    Examples:
      >>> from ii_jax.resample import t_p_value
      >>> round(float(t_p_value(2.045, 29)), 3), round(float(t_p_value(2.045, 29, alternative="greater")), 3)
      (0.05, 0.025)
    """
    from scipy import stats

    z = np.asarray(z, np.float64)
    if alternative == "two-sided":
        p = 2 * stats.t.sf(np.abs(z), dof)
    elif alternative == "greater":
        p = stats.t.sf(z, dof)
    elif alternative == "less":
        p = stats.t.cdf(z, dof)
    else:
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}.")
    return np.where(np.isnan(z), np.nan, np.minimum(p, 1.0))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (family-wise error ≤ α when adjusted p ≤ α).

    NaN entries (tests not run) are left out of the family and stay NaN.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.resample import holm
      >>> holm([0.01, 0.04, 0.03, np.nan]).round(3).tolist()
      [0.03, 0.06, 0.06, nan]
    """
    p = np.asarray(p_values, np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not len(ok):
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


class Estimate(NamedTuple):
    """Resampled Imbalance.

    Attributes:
      mean: float64 ``[2]``: (Δ(X→Y), Δ(Y→X)) averaged over the replicas (Δ at ``n_sub`` points).
      std: float64 ``[2]``: the error bar: :func:`standard_error` of the replicas, the standard error of Δ at N
        unless ``error_bar == "subset"`` (NaN for a single replica).
      values: float64 ``[R, 2]``: every replica (``[2 R, 2]``, both halves of each split, for ``"halves"``).
      dof: degrees of freedom of the error bar, ``R − 1`` for R subsets or splits (for t intervals and p-values).
      error_bar: one of :data:`ERROR_BARS`.
    """

    mean: np.ndarray
    std: np.ndarray
    values: np.ndarray
    dof: int = 0
    error_bar: str = "halves"

    def interval(self, center=None, level: float = 0.95) -> np.ndarray:
        """``[2, 2]`` t intervals (rows: directions; columns: low, high) ``center ± t_{R−1} · std`` around
        ``center`` (default: the replicas' mean; pass Δ on all N points to centre the interval on it).

        Examples:
          >>> import numpy as np
          >>> from ii_jax.resample import Estimate
          >>> e = Estimate(np.array([0.5, 0.6]), np.array([0.01, 0.02]), np.zeros((30, 2)), 29)
          >>> e.interval().round(3).tolist()
          [[0.48, 0.52], [0.559, 0.641]]
        """
        c = np.asarray(self.mean if center is None else center, np.float64)
        h = float(t_quantile(level, self.dof)) * np.asarray(self.std, np.float64)
        return np.stack([c - h, c + h], axis=-1)


def _estimate(values, *, n: int, n_sub: int, replace: bool = False, error_bar: str = "halves") -> Estimate:
    v = np.asarray(values, np.float64).reshape(-1, 2)
    se = standard_error(v, n=n, n_sub=n_sub, replace=replace, error_bar=error_bar)
    splits = len(v) // 2 if error_bar == "halves" and not replace else len(v)
    return Estimate(v.mean(axis=0), se, v, splits - 1, error_bar)


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


#: The random streams of :func:`draw_subsets`.
SUBSET_STREAMS = ("numpy", "jax")


def draw_subsets(key, n: int, n_sub: int, repeats: int, *, stream: str = "numpy") -> np.ndarray:
    """The one subset drawer of ii-jax: ``repeats`` random subsets of ``n_sub`` distinct points of ``range(n)``,
    ``[repeats, n_sub]``, each row sorted. Callers validate ``n_sub`` and ``repeats`` by their own rules and adapt
    the form (:func:`subset_members` for a membership mask).

    Two random streams, each kept so that results already recorded keep their subsets:

    * ``"numpy"`` (default; the Imbalance's jackknife, paired statistics and the analyses): a NumPy generator
      seeded from the key's data, then ``rng.choice(n, n_sub, replace=False)`` for each subset in turn; int64.
    * ``"jax"`` (the BID jackknife and the synthetic experiments): ``jax.random.split(key, repeats)``, then the
      first ``n_sub`` points of ``jax.random.permutation(k, n)`` for each key ``k``; int32 (int64 under
      ``JAX_ENABLE_X64``, as JAX gives them).

    The two streams give different subsets for the same key.

    Examples:
      >>> import jax
      >>> from ii_jax.resample import draw_subsets
      >>> s = draw_subsets(jax.random.key(0), 10, 4, 3)
      >>> s.shape, bool((s[:, 1:] > s[:, :-1]).all()), draw_subsets(jax.random.key(0), 10, 4, 3, stream="jax").shape
      ((3, 4), True, (3, 4))
    """
    if key is None:
        raise ValueError("key is required: pass key=jax.random.key(seed) so the subsets are reproducible.")
    n, n_sub, repeats = int(n), int(n_sub), int(repeats)
    if stream == "numpy":
        rng = _seed(key)
        return np.stack([np.sort(rng.choice(n, size=n_sub, replace=False)) for _ in range(repeats)])
    if stream == "jax":
        keys = jax.random.split(key, repeats)
        picks = jax.vmap(lambda k: jax.random.permutation(k, n)[:n_sub])(keys)
        return np.sort(np.asarray(picks), axis=1)
    raise ValueError(f"stream must be one of {SUBSET_STREAMS}, got {stream!r}.")


def subset_members(subsets, n: int) -> np.ndarray:
    """Subsets ``[R, n_sub]`` of point indices as a bool membership mask ``[R, n]``.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.resample import subset_members
      >>> subset_members(np.array([[0, 2], [1, 2]]), 3).astype(int)
      array([[1, 0, 1],
             [0, 1, 1]])
    """
    subsets = np.asarray(subsets)
    members = np.zeros((subsets.shape[0], int(n)), bool)
    np.put_along_axis(members, subsets, True, axis=1)
    return members


# ----------------------------------------------------------------------------------------------------------------
# Sub-matrices d[s][:, s] of the [N, N] distance matrices, gathered where the data live

#: Per use, the backends on which the sub-matrices are gathered on the host (NumPy fancy indexing, each one then
#: sent to the kernels) instead of on the device (the matrices uploaded once, one jitted gather per draw). Measured
#: on CPU by ``benchmarks/bench_resample.py`` (N=1000, 5 subsets of 400, int32, native row statistics): for the
#: jackknife subsets device/host is 1.06-1.28 (both gathers cost the same there, and the row statistics take a
#: NumPy sub-matrix in faster than a device one).
_HOST_GATHER = {"subsets": ("cpu",)}


@jax.jit
def _take_square(d: jax.Array, idx: jax.Array) -> jax.Array:
    """``d[idx][:, idx]`` on the device."""
    return jnp.take(jnp.take(d, idx, axis=0), idx, axis=1)


def _device_exact(d) -> bool:
    """Whether JAX holds ``d``'s dtype as it is (no int64/float64 narrowed without x64), so a device copy keeps
    exactly the same values.
    """
    return isinstance(d, jax.Array) or jax.dtypes.canonicalize_dtype(np.asarray(d).dtype) == np.asarray(d).dtype


def _gatherer(mats, *, use: str = "subsets", on_device: bool | None = None):
    """``(full, sub)`` for a list of ``[N, N]`` matrices: ``full`` the matrices as the kernels will read them, and
    ``sub(idx)`` -> ``[m[idx][:, idx] for m in full]``, the same values either way (``sub(idx, which)``: only the
    matrices at the positions ``which``).

    On the device (``on_device``; default: unless :data:`_HOST_GATHER` names this backend for ``use``) the
    matrices are uploaded once and every sub-matrix is a jitted gather there; on the host they stay NumPy arrays,
    fancy-indexed per draw. Matrices of a dtype JAX would narrow (int64/float64 without x64) stay on the host,
    where the Imbalance turns them into exact ranks.
    """
    if on_device is None:
        on_device = jax.default_backend() not in _HOST_GATHER[use]
    on_device = on_device and all(_device_exact(m) for m in mats)
    if not on_device:
        host = [np.asarray(m) for m in mats]
        return host, lambda idx, which=None: [host[i][np.ix_(idx, idx)] for i in which or range(len(host))]
    dev = [m if isinstance(m, jax.Array) else jnp.asarray(m) for m in mats]

    def sub(idx, which=None):
        idx = jnp.asarray(idx, jnp.int32)
        return [_take_square(dev[i], idx) for i in which or range(len(dev))]

    return dev, sub


def _replica_deltas(mats, *, k: int, ties: str):
    """``(whole, deltas)`` for many subsets of the points of the ``[N, N]`` matrices ``mats``: ``whole`` the
    matrices as the kernels read them, ``deltas(idx, pairs)`` the Δ's (both directions) of each pair ``(i, j)`` of
    matrices restricted to the points ``idx``. On the CPU the native kernel reads each subset's rows and columns in
    place from the whole matrices (no sub-matrix is written out); elsewhere the sub-matrices are gathered
    (:func:`_gatherer`) and handed to :func:`~ii_jax.imbalance.imbalance_from_distances`. The same values either
    way.
    """
    native = _imb._subset_matrices(mats, ties)
    full, sub = _gatherer(mats)  # on the CPU (where the native kernel runs) this only wraps the host arrays

    def deltas(idx, pairs):
        out, gathered = [], None
        for i, j in pairs:
            d = None if native is None else _imb._subset_imbalance(native[i], native[j], idx, k=k, ties=ties)
            if d is None:  # no native kernel, or a pair of two dtypes: the sub-matrices gathered
                gathered = sub(idx) if gathered is None else gathered
                d = _imb.imbalance_from_distances(gathered[i], gathered[j], k=k, ties=ties)
            out.append(tuple(d))
        return out

    return (full if native is None else native), deltas


def resample_from_distances(dx, dy, *, key, repeats: int = DEFAULT_REPEATS, n_sub: int | None = None,
                            replace: bool = False, k: int = 1, ties: str = "average",
                            error_bar: str | None = None) -> Estimate:
    """Jackknife (``replace=False``) or bootstrap (``replace=True``) from two ``[N, N]`` distance matrices.

    Args:
      dx, dy: ``[N, N]`` distances (NumPy arrays; only their row order matters).
      key: PRNG key. repeats: splits or subsets (default 30).
      n_sub: points per subset (``None``: the two halves of random splits); for the bootstrap, draws per replica.
      replace: ``False`` for the jackknife, ``True`` for the bootstrap over per-point contributions.
      k, ties: as :func:`ii_jax.information_imbalance` (``ties="random"`` is not supported here).
      error_bar: :func:`standard_error`'s rule (default: ``"halves"`` without ``n_sub``, ``"delete_d"`` with it).

    Returns:
      :class:`Estimate`.

    Examples:
      >>> import jax, numpy as np
      >>> from ii_jax.resample import resample_from_distances
      >>> x = np.random.default_rng(0).normal(size=(120, 3))
      >>> d = ((x[:, None] - x[None]) ** 2).sum(-1)
      >>> e = ((x[:, None, :1] - x[None, :, :1]) ** 2).sum(-1)
      >>> est = resample_from_distances(d, e, repeats=5, key=jax.random.key(0))
      >>> bool(est.mean[0] < est.mean[1]), est.values.shape  # the full space predicts its projection, not the reverse
      (True, (10, 2))
    """
    _check_ties(ties)
    n = np.shape(dx)[0]
    if error_bar is None:
        error_bar = "halves" if n_sub is None and not replace else "delete_d"
    if n_sub is None:
        n_sub = n // 2
    _check_resampling(n, n_sub, repeats, key, replace=replace, k=k)
    if replace:
        rng = _seed(key)
        points = _imb.pointwise_imbalance(np.asarray(dx), np.asarray(dy), k=k, ties=ties)  # [2, N]
        draws = [points[:, rng.integers(0, n, size=n_sub)].mean(axis=1) for _ in range(repeats)]
        return _estimate(draws, n=n, n_sub=n_sub, replace=True, error_bar=error_bar)
    jack = as_jackknife((repeats, n_sub, error_bar), n)
    _, deltas = _replica_deltas([dx, dy], k=k, ties=ties)
    vals = [deltas(s, [(0, 1)])[0] for s in replica_subsets(jack, n, key)]
    return _estimate(vals, n=n, n_sub=jack.n_sub, error_bar=error_bar)


def _matrices(x, y, metric: str):
    return _imb.distance_matrix(x, metric=metric), _imb.distance_matrix(y, metric=metric)


def jackknife(x, y, *, key, repeats: int = DEFAULT_REPEATS, n_sub: int | None = None, metric: str = "hamming",
              k: int = 1, ties: str = "average", error_bar: str | None = None) -> Estimate:
    """Jackknife error bars, Δ recomputed within every replica: by default ``repeats`` random splits into two
    halves, the standard error of Δ at N (:func:`standard_error`, ``"halves"``).

    Args:
      x, y: the two spaces as for :func:`ii_jax.information_imbalance`.
      key: PRNG key. repeats: splits or subsets (default 30; the paper: 5).
      n_sub: points per subset instead of halves (the paper: 2000 of 5000). error_bar: the rule
        (:data:`ERROR_BARS`; default ``"halves"``, or ``"delete_d"`` when ``n_sub`` is given; ``"subset"``: the
        paper's raw spread at ``n_sub``).

    Returns:
      :class:`Estimate`.

    Examples:
      >>> import jax
      >>> from ii_jax import binarize, pack_bits
      >>> from ii_jax.resample import jackknife
      >>> a = jax.random.normal(jax.random.key(1), (300, 128))
      >>> x, y = pack_bits(binarize(a)), pack_bits(binarize(a[:, :64]))
      >>> est = jackknife(x, y, repeats=4, key=jax.random.key(2))
      >>> est.values.shape, bool((est.std > 0).all())  # both halves of 4 splits
      ((8, 2), True)
    """
    _check_ties(ties)
    n = np.shape(x)[0]
    _check_resampling(n, n // 2 if n_sub is None else n_sub, repeats, key, replace=False, k=k)  # before the work
    dx, dy = _matrices(x, y, metric)
    return resample_from_distances(dx, dy, n_sub=n_sub, repeats=repeats, key=key, k=k, ties=ties,
                                   error_bar=error_bar)


def bootstrap(x, y, *, n_sub: int = 200, repeats: int = 100, key, metric: str = "hamming", k: int = 1,
              ties: str = "average") -> Estimate:
    """Bootstrap error bars over per-point contributions (the paper: 100 replicas of 200 samples).

    The spread of the mean of ``n_sub`` resampled contributions is rescaled to the standard error at N
    (:func:`standard_error`). The contributions of different points are not independent (a point is also the
    neighbour of others), which this ignores; the jackknife does not.

    Returns:
      :class:`Estimate`.
    """
    _check_resampling(np.shape(x)[0], n_sub, repeats, key, replace=True, k=k)
    dx, dy = _matrices(x, y, metric)
    return resample_from_distances(dx, dy, n_sub=n_sub, repeats=repeats, key=key, replace=True, k=k, ties=ties)


def shuffled_null_from_distances(dx, dy, *, permutations: int = 200, key, k: int = 1, ties: str = "average"):
    """The null from distance matrices: the points of Y permuted against those of X ``permutations`` times.

    The same as :func:`ii_jax.null.permutation_null_from_distances` (one sort per matrix, then one gather per
    permutation).

    Returns:
      :class:`~ii_jax.null.NullDistribution`: ``values [P, 2]``, ``mean [2]``, ``quantiles [2, 2]``, ``p_below [2]``.
    """
    from ii_jax import null as _null

    return _null.permutation_null_from_distances(dx, dy, permutations=permutations, key=key, k=k, ties=ties)


def shuffled_null(x, y, *, permutations: int = 200, key, metric: str = "hamming", k: int = 1, ties: str = "average"):
    """Δ with the pairing destroyed (one side permuted, ``permutations`` times): ≈ N/(N−1) in both directions when
    nothing else links the two spaces. The same as :func:`ii_jax.null.permutation_null`.

    Returns:
      :class:`~ii_jax.null.NullDistribution` (``mean``, ``quantiles``, ``p_below`` of the true pairing, ...).

    Examples:
      >>> import jax
      >>> from ii_jax import binarize, pack_bits
      >>> from ii_jax.resample import shuffled_null
      >>> a = jax.random.normal(jax.random.key(1), (300, 128))
      >>> x = pack_bits(binarize(a))
      >>> nd = shuffled_null(x, x, permutations=50, key=jax.random.key(0))
      >>> bool(abs(nd.mean[0] - 1) < 0.1), nd.p_below.tolist()  # x against itself: far below the null
      (True, [0.0196078431372549, 0.0196078431372549])
    """
    from ii_jax import null as _null

    return _null.permutation_null(x, y, permutations=permutations, key=key, metric=metric, k=k, ties=ties)


# ----------------------------------------------------------------------------------------------------------------
# Paired differences: several Δ's on the same jackknife subsets

#: The verdicts of :func:`verdict` and :func:`equivalence_verdict` (and ``"not run"`` for a claim without inputs).
VERDICTS = ("holds", "does not hold", "inconclusive", "not run")

_DIRECTIONS = ("x_to_y", "y_to_x", "mean")


class PairedDifference(NamedTuple):
    """A statistic of several Δ's on the same points, with its paired jackknife error bar.

    Attributes:
      value: the statistic on all N points (for :func:`paired_difference`: ``a - b``; for
        :func:`direction_difference`: Δ(X→Y) − Δ(Y→X)).
      std: its standard error at N: :func:`standard_error` of the statistic over the *same* jackknife subsets for
        every Δ (the raw spread at ``n_sub`` for a ``"subset"`` jackknife).
      z: ``value / std`` (``inf`` with the sign of ``value`` when ``std == 0`` and ``value != 0``; NaN for 0/0).
      parts: ``[P]`` the Δ's the statistic combines, on all points (``(a, b)`` for a paired difference).
      replicas: ``[R]`` the statistic on each subset (``[2 R]``: both halves of each split, for ``"halves"``).
      part_replicas: ``[R, P]`` every Δ on each subset (``[2 R, P]``).
      n: N. jackknife: the :class:`Jackknife` used.
    """

    value: float
    std: float
    z: float
    parts: np.ndarray
    replicas: np.ndarray
    part_replicas: np.ndarray
    n: int
    jackknife: Jackknife

    @property
    def difference(self) -> float:
        """The same as ``value`` (read as a difference)."""
        return self.value

    @property
    def a(self) -> float:
        """The first Δ (``parts[0]``)."""
        return float(self.parts[0])

    @property
    def b(self) -> float:
        """The second Δ (``parts[1]``; NaN when there is only one)."""
        return float(self.parts[1]) if len(self.parts) > 1 else float("nan")

    @property
    def dof(self) -> int:
        """Degrees of freedom of the error bar: subsets (or splits) − 1."""
        return max(int(self.jackknife.repeats) - 1, 0)

    def p_value(self, alternative: str = "two-sided") -> float:
        """The t-test p-value of ``value`` against 0 with :attr:`dof` degrees of freedom (:func:`t_p_value`)."""
        return float(t_p_value(self.z, self.dof, alternative=alternative))

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """The ``level`` t interval ``value ± t_{R−1} · std``."""
        h = float(t_quantile(level, self.dof)) * self.std
        return self.value - h, self.value + h


def jackknife_subsets(n: int, jackknife, key) -> list[np.ndarray]:
    """The point sets of the jackknife's replicas (:func:`replica_subsets`), drawn from ``key`` exactly as
    :func:`resample_from_distances` draws them: the same key gives the same sets there and here.

    Examples:
      >>> import jax
      >>> from ii_jax.resample import jackknife_subsets
      >>> s = jackknife_subsets(10, (3, 4), jax.random.key(0))
      >>> len(s), s[0].shape, bool((s[0][1:] > s[0][:-1]).all())
      (3, (4,), True)
    """
    if key is None:
        raise ValueError("key is required: pass key=jax.random.key(seed) so the subsets are reproducible.")
    jack = as_jackknife(jackknife, n)
    if jack is None:
        raise ValueError("a paired error bar needs a jackknife; got jackknife=None.")
    return replica_subsets(jack, n, key)


def _z(value: float, std: float) -> float:
    if np.isfinite(std) and std > 0:
        return float(value / std)
    if value == 0 or not np.isfinite(value) or not np.isfinite(std):
        return float("nan")
    return float(np.copysign(np.inf, value))


def _pick(v: np.ndarray, direction: str) -> float:
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be one of {_DIRECTIONS}, got {direction!r}.")
    return float(v[0] if direction == "x_to_y" else v[1] if direction == "y_to_x" else v.mean())


def paired_statistic(pairs, statistic, *, jackknife="auto", key, k: int = 1, ties: str = "average",
                     full=None):
    """Any function of several Δ's over the same N points, with a paired jackknife error bar.

    Args:
      pairs: a sequence of P ``(dx, dy)`` pairs of ``[N, N]`` distance matrices, every one over the same N points
        in the same order (e.g. two layers, two models or two language pairs on the same items). A matrix that
        appears in several pairs (the same object) is gathered once per subset.
      statistic: ``f(delta) -> float`` where ``delta`` is float64 ``[P, 2]``: (Δ(X_p→Y_p), Δ(Y_p→X_p)) per pair;
        or a sequence of such functions, all read from one pass of the jackknife (the Δ's of every subset are
        computed once).
      jackknife: ``"auto"`` (:func:`default_jackknife`), ``"paper"``, a :class:`Jackknife` or ``(repeats, n_sub)``.
      key: PRNG key; the subsets are :func:`jackknife_subsets` of it, *shared by every pair*.
      k, ties: as :func:`ii_jax.information_imbalance` (``"random"`` is not supported).
      full: optional ``[P, 2]`` Δ's on all points already computed (saves one pass per pair).

    Returns:
      :class:`PairedDifference` (a list of them, one per function, where ``statistic`` is a sequence); ``parts``
      holds ``statistic``'s input flattened to ``[2 P]``.

    Examples:
      >>> import jax, numpy as np
      >>> from ii_jax.resample import paired_statistic
      >>> x = np.random.default_rng(0).normal(size=(200, 4))
      >>> d = lambda a: ((a[:, None] - a[None]) ** 2).sum(-1)
      >>> pairs = [(d(x), d(x[:, :3])), (d(x), d(x[:, :1]))]
      >>> gap, mean = paired_statistic(pairs, [lambda v: v[0, 0] - v[1, 0], lambda v: v[:, 0].mean()],
      ...                              jackknife=(5, 80), key=jax.random.key(0))
      >>> bool(gap.z < -2), bool(0 < mean.value < 1)
      (True, True)
    """
    _check_ties(ties)
    single = callable(statistic)
    stats = [statistic] if single else list(statistic)
    if not stats or not all(callable(f) for f in stats):
        raise TypeError("statistic must be a function of the [P, 2] Δ's, or a non-empty sequence of them.")
    pairs = [tuple(d if isinstance(d, jax.Array) else np.asarray(d) for d in pair) for pair in pairs]
    if not pairs:
        raise ValueError("paired_statistic needs at least one (dx, dy) pair of distance matrices.")
    n = pairs[0][0].shape[0]
    for p, (dx, dy) in enumerate(pairs):
        if dx.shape != (n, n) or dy.shape != (n, n):
            raise ValueError(f"every distance matrix must be [N, N] with the same N={n} (the same points); pair {p} "
                             f"has shapes {dx.shape} and {dy.shape}.")
    jack = as_jackknife(jackknife, n)
    subsets = jackknife_subsets(n, jack, key)
    if not k + 2 <= jack.n_sub:
        raise ValueError(f"n_sub must be at least k + 2 = {k + 2}, got {jack.n_sub}.")
    slot: dict[int, int] = {}  # id(matrix) -> its position among the distinct matrices
    distinct = []
    for m in (m for pair in pairs for m in pair):
        if id(m) not in slot:
            slot[id(m)] = len(distinct)
            distinct.append(m)
    where = [(slot[id(dx)], slot[id(dy)]) for dx, dy in pairs]
    whole, deltas = _replica_deltas(distinct, k=k, ties=ties)
    if full is None:
        full = [_imb.imbalance_from_distances(whole[i], whole[j], k=k, ties=ties) for i, j in where]
    full = np.asarray(full, np.float64).reshape(len(pairs), 2)
    reps = np.zeros((len(subsets), len(pairs), 2))
    for r, s in enumerate(subsets):
        reps[r] = deltas(s, where)
    out = []
    for f in stats:
        value = float(f(full))
        replicas = np.array([float(f(v)) for v in reps])
        std = float(standard_error(replicas, n=n, n_sub=jack.n_sub, error_bar=jack.error_bar))
        out.append(PairedDifference(value, std, _z(value, std), full.ravel(), replicas,
                                    reps.reshape(len(subsets), -1), n, jack))
    return out[0] if single else out


def paired_difference(dx_a, dy_a, dx_b, dy_b, *, jackknife="auto", key, k: int = 1, ties: str = "average",
                      direction: str = "x_to_y") -> PairedDifference:
    r"""Δ_a − Δ_b for two pairs of spaces over the same N points, the error bar over shared jackknife subsets.

    .. math::
       d = \Delta(X_a \to Y_a) - \Delta(X_b \to Y_b), \qquad
       \sigma_d = \mathrm{SE}_N\big(\Delta_s(X_a \to Y_a) - \Delta_s(X_b \to Y_b)\big)_{s}

    where Δ_s is Δ recomputed within replica s (by default both halves of 30 random splits), the *same* points for
    both, and SE_N is :func:`standard_error`.

    Args:
      dx_a, dy_a: ``[N, N]`` distances of the first pair of spaces (e.g. layer 3 of English and Spanish).
      dx_b, dy_b: ``[N, N]`` distances of the second pair, over the same points in the same order.
      jackknife, key, k, ties: as :func:`paired_statistic`.
      direction: ``"x_to_y"`` (default), ``"y_to_x"`` or ``"mean"`` of both directions, for both pairs.

    Returns:
      :class:`PairedDifference`: ``parts = (Δ_a, Δ_b)``, ``value = Δ_a − Δ_b``, ``z = value / std``;
      ``part_replicas[:, 0]``, ``[:, 1]`` the per-subset Δ_a, Δ_b.

    Examples:
      >>> import jax, numpy as np
      >>> from ii_jax.resample import paired_difference
      >>> x = np.random.default_rng(0).normal(size=(200, 4))
      >>> d = lambda a: ((a[:, None] - a[None]) ** 2).sum(-1)
      >>> r = paired_difference(d(x), d(x[:, :3]), d(x), d(x[:, :1]), jackknife=(5, 80), key=jax.random.key(0))
      >>> bool(r.difference < 0), bool(r.z < -2)  # 3 of 4 coordinates are predicted better than 1 of 4
      (True, True)
    """
    _pick(np.zeros(2), direction)
    r = paired_statistic([(dx_a, dy_a), (dx_b, dy_b)], lambda v: _pick(v[0], direction) - _pick(v[1], direction),
                         jackknife=jackknife, key=key, k=k, ties=ties)
    parts = r.parts.reshape(2, 2)
    reps = r.part_replicas.reshape(-1, 2, 2)
    pick = {"x_to_y": lambda v: v[..., 0], "y_to_x": lambda v: v[..., 1], "mean": lambda v: v.mean(-1)}[direction]
    return r._replace(parts=pick(parts), part_replicas=pick(reps))


def direction_difference(dx, dy, *, jackknife="auto", key, k: int = 1, ties: str = "average") -> PairedDifference:
    """Δ(X→Y) − Δ(Y→X) of one pair of spaces, the error bar over jackknife subsets (both directions of a subset
    come from the same points). Negative: X predicts Y better than Y predicts X.

    Returns:
      :class:`PairedDifference`: ``parts = (Δ(X→Y), Δ(Y→X))``.

    Examples:
      >>> import jax, numpy as np
      >>> from ii_jax.resample import direction_difference
      >>> x = np.random.default_rng(0).normal(size=(200, 4))
      >>> d = lambda a: ((a[:, None] - a[None]) ** 2).sum(-1)
      >>> r = direction_difference(d(x), d(x[:, :1]), jackknife=(5, 80), key=jax.random.key(0))
      >>> bool(r.z < -2)  # the full space predicts its projection, not the reverse
      True
    """
    return paired_statistic([(dx, dy)], lambda v: v[0, 0] - v[0, 1], jackknife=jackknife, key=key, k=k, ties=ties)


#: The default significance level of every verdict.
ALPHA = 0.05


def _value_se_dof(diff, dof):
    if isinstance(diff, PairedDifference):
        return diff.value, diff.std, diff.dof if dof is None else dof
    value, std = float(diff[0]), float(diff[1])
    if dof is None:
        dof = int(diff[2]) if len(diff) > 2 else np.inf
    return value, std, dof


def sign_test(diff, *, expect: str = "negative", dof=None) -> tuple[float, float]:
    """One-sided t-test p-values ``(p_holds, p_fails)`` for a claimed sign of a difference.

    ``p_holds`` tests "the difference has the predicted sign" (small: evidence for the claim), ``p_fails`` the
    opposite sign (small: evidence against it).

    Args:
      diff: a :class:`PairedDifference`, or ``(value, std)`` / ``(value, std, dof)``.
      expect: ``"negative"`` or ``"positive"``. dof: degrees of freedom (default: the replicas' R − 1; ``inf``, a
        normal test, for a bare pair).
    """
    if expect not in ("negative", "positive"):
        raise ValueError(f"expect must be 'negative' or 'positive', got {expect!r}.")
    value, std, dof = _value_se_dof(diff, dof)
    z = _z(value, std)
    if not np.isfinite(value) or np.isnan(z):
        return float("nan"), float("nan")
    less, greater = float(t_p_value(z, dof, alternative="less")), float(t_p_value(z, dof, alternative="greater"))
    return (less, greater) if expect == "negative" else (greater, less)


def decide(p_holds: float, p_fails: float, *, alpha: float = ALPHA) -> str:
    """The verdict from the two p-values of a claim (each already adjusted where a family is tested).

    ``"holds"`` when ``p_holds <= alpha``, ``"does not hold"`` when ``p_fails <= alpha``, ``"inconclusive"``
    otherwise (and when neither was computed).

    Examples:
      >>> from ii_jax.resample import decide
      >>> decide(0.001, 0.9), decide(0.9, 0.01), decide(0.2, 0.3)
      ('holds', 'does not hold', 'inconclusive')
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}.")
    if np.isfinite(p_holds) and p_holds <= alpha:
        return "holds"
    if np.isfinite(p_fails) and p_fails <= alpha:
        return "does not hold"
    return "inconclusive"


def verdict(diff, *, expect: str = "negative", alpha: float = ALPHA, dof=None) -> str:
    """The decision rule for a claimed sign of a difference: a two-sided t-test at level ``alpha``.

    ``"holds"`` when the difference has the predicted sign and the two-sided p-value (t with R − 1 degrees of
    freedom) is at most ``alpha``; ``"does not hold"`` for the opposite sign at the same level; ``"inconclusive"``
    otherwise, and without an error bar.

    Args:
      diff: a :class:`PairedDifference`, or ``(value, std)`` (a normal test) / ``(value, std, dof)``.
      expect: the sign the claim predicts: ``"negative"`` (e.g. Δ_a < Δ_b for ``a − b``) or ``"positive"``.
      alpha: the level (default 0.05). dof: overrides the degrees of freedom.

    Examples:
      >>> from ii_jax.resample import verdict
      >>> verdict((-0.05, 0.01)), verdict((0.05, 0.01)), verdict((-0.01, 0.01)), verdict((0.05, 0.01), expect="positive")
      ('holds', 'does not hold', 'inconclusive', 'holds')
    """
    p_holds, p_fails = sign_test(diff, expect=expect, dof=dof)
    return decide(2 * p_holds, 2 * p_fails, alpha=alpha)


def equivalence_test(diff, *, tolerance: float, dof=None) -> tuple[float, float]:
    """Two one-sided tests for ``|d| < tolerance``: ``(p_holds, p_fails)``.

    ``p_holds`` is the TOST p-value (the larger of the two one-sided p-values of d > −tolerance and
    d < +tolerance: small when the whole interval lies inside ±tolerance); ``p_fails`` the p-value of
    ``|d| > tolerance`` (the smaller one-sided p-value of d > +tolerance or d < −tolerance, doubled).
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}.")
    value, std, dof = _value_se_dof(diff, dof)
    if not np.isfinite(value):
        return float("nan"), float("nan")
    std = std if np.isfinite(std) else np.inf
    if std == 0:
        inside = abs(value) < tolerance
        return (0.0, 1.0) if inside else (1.0, 0.0 if abs(value) > tolerance else 1.0)
    lo = float(t_p_value((value + tolerance) / std, dof, alternative="greater"))  # d > -tol
    hi = float(t_p_value((value - tolerance) / std, dof, alternative="less"))  # d < +tol
    above = float(t_p_value((value - tolerance) / std, dof, alternative="greater"))  # d > +tol
    below = float(t_p_value((value + tolerance) / std, dof, alternative="less"))  # d < -tol
    return max(lo, hi), min(1.0, 2 * min(above, below))


def equivalence_verdict(diff, *, tolerance: float, alpha: float = ALPHA, dof=None) -> str:
    """The decision rule for a claimed equality ("A ≈ B") within ``tolerance``: two one-sided tests.

    ``"holds"`` when the TOST p-value is at most ``alpha`` (the whole 1 − 2α t interval inside ±tolerance);
    ``"does not hold"`` when the difference lies outside ±tolerance at level ``alpha``; ``"inconclusive"``
    otherwise (:func:`equivalence_test`).

    Examples:
      >>> from ii_jax.resample import equivalence_verdict
      >>> [equivalence_verdict(d, tolerance=0.05) for d in ((0.01, 0.01), (0.2, 0.01), (0.05, 0.01))]
      ['holds', 'does not hold', 'inconclusive']
    """
    return decide(*equivalence_test(diff, tolerance=tolerance, dof=dof), alpha=alpha)
