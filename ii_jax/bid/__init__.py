r"""Binary Intrinsic Dimension (BID) of sign-binarised representations.

N binary vectors of L bits give N(N-1)/2 Hamming distances. For L independent fair bits the distance
``r`` between two points follows ``P0(r) = C(L, r) / 2**L``. The BID ansatz replaces L by a dimension
that may drift with the distance, ``d(r) = d0 + d1 * r``:

.. math::

   P(r) \propto \binom{d(r)}{r} \, 2^{-d(r)}, \qquad r_{min} \le r \le r_{max},

normalised over the fitted range. ``r_min`` and ``r_max`` are the ``alpha_min`` and ``alpha_max``
quantiles of the empirical distance distribution (probability mass, not fractions of L). ``d0`` (the BID)
and ``d1`` minimise ``KL(P_emp || P_model)``, found with optax L-BFGS on JAX gradients from several starts.

Conventions shared with DADApy 0.3.4's ``dadapy.hamming.BID`` (so that the numbers can be compared):
the histogram counts each unordered pair once; the fitted bins are the distances that occur in the data
(empty bins inside the range are neither fitted nor part of the model's normalisation); ``r_max`` is the
largest occurring distance whose cumulative probability is at most ``alpha_max`` (``r_min`` likewise, and
the smallest occurring distance when ``alpha_min == 0``); starts follow DADApy's grid
``d0 = L * {0.05, ..., 0.95}``, ``d1 = 2 - d0 / mean(r)`` plus ``(r_max, 1)``.

Numerics (float32, no x64). ``log C(d, r) - d log 2`` is of order one where the data lie, but
``gammaln(d + 1)`` is of order ``d log d``; the difference of three float32 ``gammaln`` values loses
~1e-3 absolute at ``d ~ 2000`` and ~3e-2 at ``d ~ 1e5``, more than the KL being minimised. The model is
therefore evaluated as ``-[r log(2r/d) + (d-r) log(2(d-r)/d)] + S(d) - S(r) - S(d-r)`` with the Stirling
remainder ``S(x) = gammaln(x+1) - x log x + x`` (asymptotic series for ``x >= 8``, a shifted recurrence
below) and a power series for the first bracket near ``r = d/2``: float32 error ~1e-6 to 1e-5. The float32
L-BFGS stops where the KL's float32 resolution (~3e-7) hides the rest of the descent, so every converged fit
ends with a few damped Newton steps on the same objective in float64, inside a *scoped* x64 context (never a
global flip): fitted ``d0`` agrees with an independent float64 SciPy fit to 1e-5 relative (tests/test_bid.py).
The public functions are host-side (NumPy windows and batching around jitted kernels): call them on arrays,
not inside a caller's ``jit``; only the model and KL of :mod:`~ii_jax.bid.model` are float32-traceable.

The fit is parametrised by ``phi = log(d(r) - r)`` at the two ends of the range, which keeps ``d(r) > r``
(the model's support) and removes the strong ``d0``-``d1`` correlation of the raw parameters.
Convergence means a finite KL, L-BFGS stopped before its iteration limit, a positive definite Hessian
(central differences of the gradient) and a Newton step below ``1e-3`` in ``phi`` (the fitted
``d(r) - r`` settled to 0.1%). It says the optimum was found, not that the model fits: check ``kl``.

References:
  Acevedo, Rodriguez, Laio, "Unsupervised detection of semantic correlations in big data",
  Communications Physics 8:202 (2025), https://arxiv.org/abs/2411.02126

Layout (one module per concern): :mod:`~ii_jax.bid.histogram` (the streamed pair histogram),
:mod:`~ii_jax.bid.model` (the log-model, Stirling remainders, the KL), :mod:`~ii_jax.bid.fit` (window, starts,
L-BFGS, float64 polish, convergence; :func:`bid_from_histogram`, :func:`bid_from_bits`), :mod:`~ii_jax.bid.profile`
(jackknife draws, :func:`bid_jackknife`, :func:`bid_profile`, :func:`bid_profile_store` and its token windows),
:mod:`~ii_jax.bid.results` (the result types). The plot is :func:`ii_jax.plots.plot_bid_profile` (re-exported here).
Result style: NamedTuples; a fit (:class:`BIDResult`) holds jax Arrays, as the jitted fit returns them, and the
per-layer :class:`BIDProfile` NumPy arrays, as the analyses' results do.
"""
from __future__ import annotations

from ii_jax.bid import fit, histogram, model, profile, results
from ii_jax.bid.fit import bid_from_bits
from ii_jax.bid.fit import bid_from_histogram
from ii_jax.bid.histogram import hamming_histogram
from ii_jax.bid.histogram import subsample_histograms
from ii_jax.bid.profile import bid_jackknife
from ii_jax.bid.profile import bid_profile
from ii_jax.bid.profile import bid_profile_store
from ii_jax.bid.results import BIDJackknife
from ii_jax.bid.results import BIDProfile
from ii_jax.bid.results import BIDResult
from ii_jax.plots import plot_bid_profile

__all__ = [
    "BIDResult",
    "BIDJackknife",
    "BIDProfile",
    "hamming_histogram",
    "subsample_histograms",
    "bid_from_bits",
    "bid_from_histogram",
    "bid_jackknife",
    "bid_profile",
    "bid_profile_store",
    "plot_bid_profile",
]
