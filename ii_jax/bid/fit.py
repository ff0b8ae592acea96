"""The BID fit: quantile window, DADApy starts, batched optax L-BFGS in float32, float64 polish, convergence."""
from __future__ import annotations

import functools
import warnings
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jax.scipy.special import gammaln, logsumexp

from ii_jax.distances import x64_scope
from ii_jax.bid.results import BIDResult
from ii_jax.bid.histogram import _check_words, hamming_histogram
from ii_jax.bid.model import _kl, _stirling_remainder

__all__ = ["bid_from_histogram", "bid_from_bits"]

_MAX_ITER = 200
_CHUNK = 4  # fits per vmapped call, single fits included: batches are padded to a multiple of it.
_STEP_TOL = 1e-3
_MIN_STEP = 1e-5  # L-BFGS stops when an iteration moves phi by less than this
_QUANTILE_SLACK = 1e-10  # DADApy rounds probabilities to 10 digits before taking quantiles.
_START_FRACTIONS = np.arange(1, 20) / 20.0  # DADApy's grid of d0 / L.


def _phi_to_d(phi, r_lo, r_hi):
    gap = jnp.exp(phi)
    d1 = 1.0 + (gap[1] - gap[0]) / (r_hi - r_lo)
    return gap[0] - (d1 - 1.0) * r_lo, d1


def _lbfgs(fun, phi0, max_iter):
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(fun)

    def step(carry):
        phi, state, _ = carry
        value, grad = value_and_grad(phi, state=state)
        updates, state = opt.update(grad, state, phi, value=value, grad=grad, value_fn=fun)
        return optax.apply_updates(phi, updates), state, phi

    def keep_going(carry):
        phi, state, previous = carry
        count = optax.tree.get(state, "count")
        grad_norm = optax.tree.norm(optax.tree.get(state, "grad"))
        # Steps of a few float32 ulps (phi ~ 1..12, ulp <= 1e-6) are noise, not progress: stop there. The
        # Newton check after the loop decides whether this point is an optimum.
        moved = jnp.max(jnp.abs(phi - previous)) > _MIN_STEP
        return (count == 0) | ((count < max_iter) & (grad_norm > 1e-7) & moved & jnp.all(jnp.isfinite(phi)))

    phi, state, _ = lax.while_loop(keep_going, step, (phi0, opt.init(phi0), phi0 + 1.0))
    return phi, optax.tree.get(state, "count")


def _fit_one(r, s_r, p, mask, r_lo, r_hi, p_log_p, candidates, *, n_starts, max_iter):
    fun = functools.partial(_kl, r=r, s_r=s_r, p=p, mask=mask, r_lo=r_lo, r_hi=r_hi, p_log_p=p_log_p)
    first = jax.vmap(fun)(candidates)
    first = jnp.where(jnp.isfinite(first), first, jnp.inf)
    _, best_starts = lax.top_k(-first, n_starts)
    phis, iters = jax.vmap(lambda phi0: _lbfgs(fun, phi0, max_iter))(candidates[best_starts])
    # One batched gradient pass: at each end point, and at +-h around each (central-difference Hessian).
    h = 1e-2
    offsets = jnp.array([[0.0, 0.0], [h, 0.0], [-h, 0.0], [0.0, h], [0.0, -h]])
    values, grads = jax.vmap(jax.vmap(jax.value_and_grad(fun)))(phis[:, None, :] + offsets[None])
    final = jnp.where(jnp.isfinite(values[:, 0]), values[:, 0], jnp.inf)
    best = jnp.argmin(final)
    phi, kl, grad, g = phis[best], values[best, 0], grads[best, 0], grads[best]
    hess = jnp.stack([g[1] - g[2], g[3] - g[4]]) / (2 * h)
    converged = _converged(kl, grad, hess, iters[best], max_iter) & (jnp.sum(mask) >= 3)
    d0, d1 = _phi_to_d(phi, r_lo, r_hi)
    return d0, d1, kl, converged, iters[best]


def _converged(kl, grad, hess, n_iter, max_iter):
    """Optimum reached: finite KL, L-BFGS stopped by itself, Hessian positive definite, Newton step small."""
    hess = 0.5 * (hess + hess.T)
    det = hess[0, 0] * hess[1, 1] - hess[0, 1] * hess[1, 0]
    newton = jnp.stack([hess[1, 1] * grad[0] - hess[0, 1] * grad[1], hess[0, 0] * grad[1] - hess[1, 0] * grad[0]]) / det
    positive = (hess[0, 0] > 0) & (det > 0)
    settled = (jnp.max(jnp.abs(newton)) < _STEP_TOL) & (n_iter < max_iter)
    return jnp.isfinite(kl) & jnp.all(jnp.isfinite(grad)) & positive & settled


@functools.partial(jax.jit, static_argnames=("n_starts", "max_iter"))
def _fit_batch(r, s_r, p, mask, r_lo, r_hi, p_log_p, candidates, *, n_starts, max_iter):
    """Fit ``B`` histograms at once. r, s_r, p, mask: ``[B, M]``; r_lo, r_hi, p_log_p: ``[B]``;
    candidates ``[B, C, 2]``.
    """
    fit = functools.partial(_fit_one, n_starts=n_starts, max_iter=max_iter)
    return jax.vmap(fit)(r, s_r, p, mask, r_lo, r_hi, p_log_p, candidates)


# ----------------------------------------------------------------------------------------------------------
# Float64 polish: the float32 fit stops where the KL's float32 resolution (~3e-7) hides the rest of the descent
# (d0 off by ~2e-4 relative); a few damped Newton steps on the same objective in float64 reach the optimum.

_POLISH_ITER = 30


def _kl64(phi, r, p, mask, r_lo, r_hi):
    """:func:`_kl` in float64 with plain ``gammaln`` (exact enough in 64 bits), without the constant ``Σ p log p``."""
    gap = jnp.exp(phi)
    t = (r - r_lo) / (r_hi - r_lo)
    rs = jnp.where(mask, r, r_lo)
    d = rs + jnp.where(mask, gap[0] + (gap[1] - gap[0]) * t, gap[0])
    logq = gammaln(d + 1.0) - gammaln(rs + 1.0) - gammaln(d - rs + 1.0) - d * jnp.log(2.0)
    log_z = logsumexp(jnp.where(mask, logq, -jnp.inf))
    return -jnp.sum(jnp.where(mask, p * (logq - log_z), 0.0))


@jax.jit
def _kl64_derivatives(phi, r, p, mask, r_lo, r_hi):
    """Value, gradient and Hessian of :func:`_kl64` for a batch: phi ``[B, 2]``; r, p, mask ``[B, M]``."""
    def one(ph, *data):
        f = functools.partial(_kl64, r=data[0], p=data[1], mask=data[2], r_lo=data[3], r_hi=data[4])
        return f(ph), jax.grad(f)(ph), jax.hessian(f)(ph)

    return jax.vmap(one)(phi, r, p, mask, r_lo, r_hi)


def _polish(phi: np.ndarray, windows: Sequence[_Window], ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Damped Newton steps in float64 (scoped x64) from the float32 optimum ``phi`` ``[B, 2]``; rows where
    ``ok`` is False are left alone. A step is taken only when it lowers the float64 KL.

    Returns ``(phi, kl)``: the polished ``phi`` and, per row, the float64 :func:`_kl64` there (NaN where not
    polished), from the same batched, jitted evaluation as the steps (one compilation per bucketed shape, not one
    per window).
    """
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return phi, np.full(len(phi), np.nan)
    size = _bucket(max(len(windows[b].r) for b in rows))
    r = np.zeros((rows.size, size))
    pp = np.zeros_like(r)
    mask = np.zeros(r.shape, bool)
    for i, b in enumerate(rows):
        m = len(windows[b].r)
        r[i, :m], r[i, m:], pp[i, :m], mask[i, :m] = windows[b].r, windows[b].r[0], windows[b].p, True
    lo, hi = r[:, 0].copy(), np.array([windows[b].r[-1] for b in rows])
    x = np.asarray(phi, np.float64)[rows]
    with x64_scope():
        data = [jnp.asarray(a) for a in (r, pp, mask, lo, hi)]

        def derivs(ph):
            return (np.array(v, np.float64) for v in _kl64_derivatives(jnp.asarray(ph), *data))

        val, grad, hess = derivs(x)
        active = np.isfinite(val)
        for _ in range(_POLISH_ITER):
            if not active.any():
                break
            step = np.zeros_like(x)
            for i in np.flatnonzero(active):
                h, g = hess[i], grad[i]
                pd = h[0, 0] > 0 and np.linalg.det(h) > 0
                step[i] = -np.linalg.solve(h, g) if pd else -g
            damp = np.ones(len(x))
            for _ in range(20):  # halve the steps that do not lower the KL
                trial = x + damp[:, None] * step
                v_new, g_new, h_new = derivs(trial)
                better = active & np.isfinite(v_new) & (v_new <= val)
                take = better | ~active
                if take.all():
                    break
                damp = np.where(take, damp, 0.5 * damp)
            accept = active & better
            x[accept], val[accept], grad[accept], hess[accept] = (trial[accept], v_new[accept], g_new[accept],
                                                                  h_new[accept])
            # done: no decrease found, or the step no longer moves phi beyond float64 noise
            active &= accept & (np.max(np.abs(damp[:, None] * step), axis=1) > 1e-13)
    out = np.array(phi, np.float64)
    out[rows] = x
    kl = np.full(len(out), np.nan)
    kl[rows] = val
    return out, kl


# ----------------------------------------------------------------------------------------------------------
# Host side: quantile window, starts, batching


def _check_alphas(alpha_min: float, alpha_max: float, fn: str) -> tuple[float, float]:
    alpha_min, alpha_max = float(alpha_min), float(alpha_max)
    if not 0.0 <= alpha_min < alpha_max <= 1.0:
        raise ValueError(f"{fn}: need 0 <= alpha_min < alpha_max <= 1, got alpha_min={alpha_min}, alpha_max={alpha_max}.")
    return alpha_min, alpha_max


class _Window(NamedTuple):
    r: np.ndarray  # fitted distances (non-empty bins), float64
    p: np.ndarray  # their empirical probabilities, normalised over the window
    mean: float  # mean distance over all pairs


def _window(counts: np.ndarray, alpha_min: float, alpha_max: float) -> _Window:
    occupied = np.flatnonzero(counts)
    if occupied.size == 0:
        return _Window(np.zeros(0), np.zeros(0), np.nan)
    total = counts.sum(dtype=np.float64)
    cdf = np.cumsum(counts[occupied] / total)

    def quantile_index(alpha):
        below = np.flatnonzero(cdf <= alpha + _QUANTILE_SLACK)
        return int(below[-1]) if below.size else 0

    lo = 0 if alpha_min == 0.0 else quantile_index(alpha_min)
    hi = quantile_index(alpha_max)
    r = occupied[lo : hi + 1].astype(np.float64)
    p = counts[occupied[lo : hi + 1]].astype(np.float64)
    mean = float(np.dot(np.arange(counts.size, dtype=np.float64), counts) / total)
    return _Window(r, p / p.sum(), mean)


def _bucket(m: int) -> int:
    """Static window length: 512, then powers of 4, so a process compiles the fit only a few times.

    The fit's compile time (optax L-BFGS with a zoom line search, ~250 XLA fusions: ~10 s of CPU) dwarfs
    its run time (~0.1 s), so shapes come from a short list: windows padded to 512, 2048, 8192, ... bins,
    and every batch, a single fit included, in chunks of ``_CHUNK``: one compilation per process.
    """
    size = 512
    while size < m:
        size *= 4
    return size


def _candidates(win: _Window, n_bits: int, key: jax.Array | None, n_random: int) -> np.ndarray:
    """Starting points ``[C, 2]`` in phi: DADApy's grid, then ``n_random`` random ones (NaN without a key).

    Invalid starts (``d(r) <= r`` somewhere in the range) are NaN and never chosen.
    """
    r_lo, r_hi = win.r[0], win.r[-1]
    d0 = np.concatenate([[r_hi], n_bits * _START_FRACTIONS])
    d1 = np.concatenate([[1.0], 2.0 - n_bits * _START_FRACTIONS / win.mean])
    gaps = np.stack([d0 + (d1 - 1.0) * r_lo, d0 + (d1 - 1.0) * r_hi], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(gaps > 0, np.log(np.where(gaps > 0, gaps, 1.0)), np.nan)
    extra = np.full((n_random, 2), np.nan)  # same shape with or without a key: one compiled fit
    if key is not None:
        scale = np.log(max(2.0 * win.mean, 2.0))  # log-uniform gaps between 1 and 2 * mean distance
        extra = np.asarray(jax.random.uniform(key, (n_random, 2), dtype=jnp.float32), np.float64) * scale
    return np.concatenate([phi, extra])


def _fit_windows(
    windows: Sequence[_Window], n_bits: int, key: jax.Array | None, *, n_starts: int = 4
) -> BIDResult:
    """Fit a batch of windows; windows with fewer than 3 bins come back NaN and not converged."""
    n_random = 8
    keys = [None] * len(windows) if key is None else list(jax.random.split(key, len(windows)))
    usable = np.array([len(w.r) >= 3 for w in windows])
    size = _bucket(max(len(w.r) for w in windows))
    n_cand = 1 + _START_FRACTIONS.size + n_random
    chunk = _CHUNK
    n_rows = -(-len(windows) // chunk) * chunk
    rr = np.zeros((n_rows, size), np.float32)
    pp = np.zeros_like(rr)
    mm = np.zeros(rr.shape, bool)
    lo = np.zeros(n_rows, np.float32)
    hi = np.ones(n_rows, np.float32)
    cand = np.full((n_rows, n_cand, 2), np.nan, np.float32)
    for b, w in enumerate(windows):
        if usable[b]:
            m = len(w.r)
            rr[b, :m], rr[b, m:] = w.r, w.r[0]
            pp[b, :m] = w.p
            mm[b, :m] = True
            lo[b], hi[b] = w.r[0], w.r[-1]
            cand[b] = _candidates(w, n_bits, keys[b], n_random)
    if usable.any():  # padding rows repeat a real problem, so the vmapped loops stop together
        first = int(np.flatnonzero(usable)[0])
        pad = np.concatenate([np.flatnonzero(~usable), np.arange(len(windows), n_rows)])
        rr[pad], pp[pad], mm[pad], lo[pad], hi[pad], cand[pad] = rr[first], pp[first], mm[first], lo[first], hi[first], cand[first]
    s_r = np.asarray(_stirling_remainder(jnp.asarray(rr)))
    p_log_p = np.sum(pp * np.log(np.where(pp > 0, pp, 1.0)), axis=1, dtype=np.float64).astype(np.float32)
    outs = []
    for c in range(0, n_rows, chunk):
        part = slice(c, c + chunk)
        outs.append(
            _fit_batch(
                rr[part], s_r[part], pp[part], mm[part], lo[part], hi[part], p_log_p[part], cand[part],
                n_starts=n_starts, max_iter=_MAX_ITER,
            )
        )
    d0, d1, kl, conv, iters = (np.concatenate([np.asarray(o[i]) for o in outs])[: len(windows)] for i in range(5))
    d0, d1, kl = _polished(windows, d0, d1, kl, conv & usable)
    nan = np.float32(np.nan)
    return BIDResult(
        d0=jnp.asarray(np.where(usable, d0, nan)),
        d1=jnp.asarray(np.where(usable, d1, nan)),
        kl=jnp.asarray(np.where(usable, kl, nan)),
        converged=jnp.asarray(conv & usable),
        r_min=jnp.asarray([w.r[0] if len(w.r) else np.nan for w in windows], jnp.float32),
        r_max=jnp.asarray([w.r[-1] if len(w.r) else np.nan for w in windows], jnp.float32),
        n_bins=jnp.asarray([len(w.r) for w in windows], jnp.int32),
        n_iter=jnp.asarray(np.where(usable, iters, 0)),
    )


def _polished(windows, d0, d1, kl, ok):
    """``(d0, d1, kl)`` of the converged fits ``ok`` after the float64 polish (:func:`_polish`)."""
    if not ok.any():
        return d0, d1, kl
    lo = np.array([w.r[0] if len(w.r) else 0.0 for w in windows])
    hi = np.array([w.r[-1] if len(w.r) else 1.0 for w in windows])
    a, b = np.asarray(d0, np.float64), np.asarray(d1, np.float64)
    gaps = np.stack([a + (b - 1.0) * lo, a + (b - 1.0) * hi], axis=-1)
    ok = ok & np.all(gaps > 0, axis=1)
    phi, kl_polished = _polish(np.log(np.where(gaps > 0, gaps, 1.0)), windows, ok)
    g = np.exp(phi)
    slope = 1.0 + (g[:, 1] - g[:, 0]) / (hi - lo)
    new_d0, new_d1 = g[:, 0] - (slope - 1.0) * lo, slope
    kl64 = np.array([kl_polished[i] + float(np.sum(w.p * np.log(w.p))) if ok[i] else 0.0
                     for i, w in enumerate(windows)])
    return (np.where(ok, new_d0, d0).astype(np.float32), np.where(ok, new_d1, d1).astype(np.float32),
            np.where(ok, kl64, kl).astype(np.float32))


def _first(result: BIDResult) -> BIDResult:
    return BIDResult(*(field[0] for field in result))


def bid_from_histogram(
    counts: jax.typing.ArrayLike,
    *,
    alpha_min: float = 0.0,
    alpha_max: float = 0.2,
    key: jax.Array | None = None,
) -> BIDResult:
    """Fit the BID to a histogram of Hamming distances.

    Args:
      counts: ``[L + 1]`` non-negative counts of pairs at each distance (as :func:`hamming_histogram`
        returns), or ``[R, L + 1]`` for R histograms fitted at once (vmapped; then too few bins give a NaN,
        not-converged row instead of an error).
      alpha_min: lower quantile of the fitted range (probability mass).
      alpha_max: upper quantile of the fitted range.
      key: optional PRNG key: adds 8 random starts to the deterministic grid. None: deterministic.

    Returns:
      :class:`BIDResult` (scalars, or ``[R]`` arrays for a batch). A single fit that does not converge
      also emits a ``RuntimeWarning``.

    Raises:
      ValueError: bad alphas, negative counts, or (single histogram) fewer than 3 non-empty bins in range.

    Examples:
      >>> import numpy as np
      >>> from scipy.stats import binom
      >>> from ii_jax import bid_from_histogram
      >>> counts = np.round(1e6 * binom.pmf(np.arange(501), 500, 0.5)).astype(np.int64)
      >>> res = bid_from_histogram(counts, alpha_max=0.5)
      >>> print(f"{float(res.d0):.0f} {bool(res.converged)}")
      500 True
    """
    counts = np.asarray(counts)
    alpha_min, alpha_max = _check_alphas(alpha_min, alpha_max, "bid_from_histogram")
    if counts.ndim not in (1, 2) or counts.shape[-1] < 2:
        raise ValueError(f"bid_from_histogram: counts must have shape [L + 1] or [R, L + 1], got {counts.shape}.")
    if not np.issubdtype(counts.dtype, np.number) or np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("bid_from_histogram: counts must be finite and non-negative.")
    batch = counts if counts.ndim == 2 else counts[None]
    n_bits = batch.shape[-1] - 1
    windows = [_window(c, alpha_min, alpha_max) for c in batch]
    if counts.ndim == 1 and len(windows[0].r) < 3:
        raise ValueError(
            f"bid_from_histogram: only {len(windows[0].r)} non-empty distance bins between the quantiles "
            f"alpha_min={alpha_min} and alpha_max={alpha_max}; need at least 3 to fit d0 and d1. "
            "Raise alpha_max, or use more points or more bits (L too small for this quantile range)."
        )
    result = _fit_windows(windows, n_bits, key)
    if counts.ndim == 2:
        return result
    result = _first(result)
    if not bool(result.converged):
        warnings.warn(
            f"bid: the KL fit did not converge (kl={float(result.kl):.3g}, {int(result.n_iter)} iterations); "
            "d0 and d1 are not reliable (result.converged is False).",
            RuntimeWarning,
            stacklevel=3,
        )
    return result


def bid_from_bits(
    words: jax.typing.ArrayLike,
    n_bits: int,
    *,
    alpha_min: float = 0.0,
    alpha_max: float = 0.2,
    key: jax.Array | None = None,
) -> BIDResult:
    """Binary Intrinsic Dimension of N binary vectors.

    The histogram of the N(N-1)/2 Hamming distances is streamed (:func:`hamming_histogram`), then
    ``d0`` and ``d1`` of ``P(r) ∝ C(d0 + d1 r, r) 2^-(d0 + d1 r)`` are fitted by KL minimisation.

    Args:
      words: ``[N, W]`` uint32 packed bits, as :func:`ii_jax.pack_bits` makes them.
      n_bits: bits per point L (``W = ceil(L / 32)``).
      alpha_min: lower quantile of the fitted distance range (0: from the smallest distance).
      alpha_max: upper quantile (DADApy's default 0.2; the paper's Fig. 9 used 0.15 and 0.4).
      key: optional PRNG key for 8 extra random starts; None keeps the fit deterministic.

    Returns:
      :class:`BIDResult` of scalars; check ``converged`` before using ``d0``.

    Raises:
      TypeError: words are not packed uint32 bits (e.g. float activations).
      ValueError: shapes do not match ``n_bits``, bad alphas, or too few distinct distances in range.

    Examples:
      >>> import jax
      >>> from ii_jax import bid_from_bits, pack_bits
      >>> bits = jax.random.bernoulli(jax.random.key(0), 0.5, (400, 256))
      >>> res = bid_from_bits(pack_bits(bits), 256)
      >>> print(bool(res.converged), 0.9 < float(res.d0) / 256 < 1.1)
      True True
    """
    words, n_bits = _check_words(words, n_bits, "bid")
    alpha_min, alpha_max = _check_alphas(alpha_min, alpha_max, "bid")
    counts = hamming_histogram(words, n_bits)
    return bid_from_histogram(counts, alpha_min=alpha_min, alpha_max=alpha_max, key=key)
