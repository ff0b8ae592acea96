"""The BID log-model ``log C(d, r) - d log 2`` in float32 without cancellation (Stirling remainders) and its KL."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma, gammaln, logsumexp, xlogy

__all__ = []


# ----------------------------------------------------------------------------------------------------------
# The model, in float32 without cancellation


def _stirling_remainder(x):
    """``S(x) = gammaln(x + 1) - x log x + x`` for ``x >= 0``, accurate to ~1e-6 in float32.

    Asymptotic series for ``x >= 8``; below, ``gammaln`` directly (no cancellation at that size).
    """
    big = x >= 8.0
    xb = jnp.where(big, x, 8.0)
    inv = 1.0 / xb
    inv2 = inv * inv
    series = 0.5 * jnp.log(2.0 * np.pi * xb) + inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
    xs = jnp.where(big, 1.0, jnp.maximum(x, 0.0))
    return jnp.where(big, series, gammaln(xs + 1.0) - xlogy(xs, xs) + xs)


def _stirling_remainder_grad(x):
    """``S'(x) = digamma(x + 1) - log x`` for ``x > 0``."""
    big = x >= 8.0
    xb = jnp.where(big, x, 8.0)
    inv = 1.0 / xb
    inv2 = inv * inv
    series = inv * (0.5 - inv * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 / 240))))
    xs = jnp.where(big, 1.0, x)
    return jnp.where(big, series, digamma(xs + 1.0) - jnp.log(xs))


def _n_kl_half(d, r):
    """``d * KL(Bernoulli(r/d) || Bernoulli(1/2)) = r log(2r/d) + (d - r) log(2(d - r)/d)``, for 0 <= r < d.

    Also returns ``log(2 (d - r) / d)``, which the derivative in ``d`` needs.
    """
    u = (2.0 * r - d) / d
    near = jnp.abs(u) < 0.25
    un = jnp.where(near, u, 0.0)
    u2 = un * un
    series = 0.0  # sum_k u^(2k) / (2k (2k - 1)), to u^16: relative error < 1e-9 for |u| < 0.25.
    for k in range(8, 0, -1):
        series = series * u2 + 1.0 / (2 * k * (2 * k - 1))
    series = d * u2 * series
    uf = jnp.where(near, 0.5, u)
    has_r = r > 0
    log_gap = jnp.log1p(-u)
    far = jnp.where(has_r, r * jnp.log1p(jnp.where(has_r, uf, 0.0)), 0.0) + (d - r) * log_gap
    return jnp.where(near, series, far), log_gap


@jax.custom_jvp
def _log_model(d, r, s_r):
    """Unnormalised ``log[C(d, r) 2^-d]`` for ``d > r``; ``s_r = S(r)`` is data, computed once outside.

    Differentiable in ``d`` only (``r`` and ``s_r`` are data), with the derivative
    ``digamma(d + 1) - digamma(d - r + 1) - log 2`` written through ``S'`` to stay exact in float32.
    """
    kl_term, _ = _n_kl_half(d, r)
    s = _stirling_remainder(jnp.stack([d, d - r]))
    return -kl_term + s[0] - s_r - s[1]


@_log_model.defjvp
def _log_model_jvp(primals, tangents):
    d, r, s_r = primals
    d_dot = tangents[0]
    kl_term, log_gap = _n_kl_half(d, r)
    s = _stirling_remainder(jnp.stack([d, d - r]))
    ds = _stirling_remainder_grad(jnp.stack([d, d - r]))
    return -kl_term + s[0] - s_r - s[1], (ds[0] - ds[1] - log_gap) * d_dot


def _kl(phi, r, s_r, p, mask, r_lo, r_hi, p_log_p):
    """KL(P_emp || P_model) over the masked bins. ``phi = log(d(r) - r)`` at ``r_lo`` and ``r_hi``.

    ``p_log_p = sum(p log p)``, a constant of the data.
    """
    gap = jnp.exp(phi)
    t = (r - r_lo) / (r_hi - r_lo)
    rs = jnp.where(mask, r, r_lo)
    gaps = jnp.where(mask, gap[0] + (gap[1] - gap[0]) * t, gap[0])
    logq = _log_model(rs + gaps, rs, s_r)
    log_z = logsumexp(jnp.where(mask, logq, -jnp.inf))
    return p_log_p - jnp.sum(jnp.where(mask, p * (logq - log_z), 0.0))
