"""BID result types: NamedTuples (jax Array scalars or ``[R]`` arrays for fits, NumPy arrays for profiles)."""
from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

__all__ = ["BIDResult", "BIDJackknife", "BIDProfile"]


class BIDResult(NamedTuple):
    """Result of a BID fit. Fields are scalars, or ``[R]`` arrays for a batch of fits.

    Attributes:
      d0: the Binary Intrinsic Dimension, ``d(0)`` of the fitted ``d(r) = d0 + d1 r``. NaN when no fit
        could be made (too few bins).
      d1: slope of ``d(r)``.
      kl: ``KL(P_emp || P_model)`` at the optimum, over the fitted bins.
      converged: bool; False means the numbers must not be trusted (flat or multimodal KL, too few bins).
      r_min: smallest fitted distance.
      r_max: largest fitted distance.
      n_bins: number of non-empty distance bins fitted.
      n_iter: L-BFGS iterations of the winning start.
    """

    d0: jax.Array
    d1: jax.Array
    kl: jax.Array
    converged: jax.Array
    r_min: jax.Array
    r_max: jax.Array
    n_bins: jax.Array
    n_iter: jax.Array


class BIDJackknife(NamedTuple):
    """BID with jackknife error bars: ``R`` fits on random subsamples of ``n`` of the ``N`` points.

    Attributes:
      d0: mean of ``d0`` over the converged subsamples (NaN if none converged).
      d0_std: the standard error of ``d0`` at N: its spread over the converged subsamples rescaled by
        :func:`ii_jax.resample.standard_error`.
      d1: mean of ``d1`` over the converged subsamples.
      d1_std: the same for ``d1``.
      n_converged: how many of the ``R`` fits converged.
      fits: the ``R`` individual fits, a :class:`BIDResult` of ``[R]`` arrays.
    """

    d0: float
    d0_std: float
    d1: float
    d1_std: float
    n_converged: int
    fits: BIDResult


class BIDProfile(NamedTuple):
    """BID per layer. All fields ``[n_layers]`` arrays.

    Attributes:
      relative_depth: depth of each layer in ``[0, 1]``.
      n_bits: bits per representation (L) of each layer.
      d0: BID (jackknife mean, or the single fit), NaN where the fit failed.
      d0_std: jackknife standard error at N (NaN without jackknife).
      d1: slope (mean).
      n_converged: converged fits per layer (of ``repeats``, or of 1).
    """

    relative_depth: np.ndarray
    n_bits: np.ndarray
    d0: np.ndarray
    d0_std: np.ndarray
    d1: np.ndarray
    n_converged: np.ndarray

    @property
    def bid_fraction(self) -> np.ndarray:
        """``d0 / n_bits``, the BID as a fraction of the number of bits (paper Fig. 9)."""
        return self.d0 / self.n_bits
