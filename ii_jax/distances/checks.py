"""Validation of distance inputs: packed words and float features (host arrays stay on the host)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["as_array", "check_words", "check_floats"]


def as_array(a) -> jax.Array | np.ndarray:
    """``a`` as an array without copying: host arrays (and memory maps) stay on the host, device arrays stay put."""
    return a if isinstance(a, (np.ndarray, jax.Array)) else np.asarray(a)


def check_words(name: str, a) -> jax.Array | np.ndarray:
    """Validate packed words. Host arrays (and memory maps) stay on the host: the kernels lay them out themselves,
    so no device copy of the whole input is made here.
    """
    a = as_array(a)
    if a.dtype != jnp.uint32:
        raise TypeError(f"{name} must be packed uint32 words of shape [N, W] (use pack_bits(binarize(x))), "
                        f"got dtype {a.dtype}.")
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape [N, W], got shape {a.shape}.")
    return a


def check_floats(name: str, a) -> jax.Array:
    """Validate float features ``[N, D]`` (finite) and return them as float32."""
    a = jnp.asarray(a)
    if not jnp.issubdtype(a.dtype, jnp.floating):
        hint = " (packed words go with metric='hamming')" if a.dtype == jnp.uint32 else ""
        raise TypeError(f"{name} must be a float array for a float metric, got dtype {a.dtype}{hint}.")
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape [N, D], got shape {a.shape}.")
    if not bool(jnp.all(jnp.isfinite(a))):
        raise ValueError(f"{name} contains NaN or Inf; distances would be meaningless.")
    return a.astype(jnp.float32) if a.dtype != jnp.float32 else a
