"""The Hamming kernel registry: one name per kernel, what it needs, where it runs, and the default per backend.

A kernel is a :class:`HammingKernel`. Traceable kernels carry a ``tile(xb, yt) -> int32 [B, M]`` on words of
``word_bits`` (32 or 64: a 64-bit kernel gets two packed ``uint32`` words per ``uint64``, inside a scoped x64
context); host kernels (the native CPU kernel) carry ``host_tiles(a, b)`` instead and name the traceable kernel
that stands in for them inside ``jit``/``shard_map`` (``traced``). A new kernel is one :func:`register_kernel`
call, e.g. a GPU kernel::

    register_kernel(HammingKernel("my_gpu", word_bits=32, tile=my_tile, backends=("gpu",)), default_on=("gpu",))
"""
from __future__ import annotations

import functools
import warnings
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from ii_jax.distances import kernels as _k

__all__ = ["HammingKernel", "register_kernel", "get_kernel", "kernel_names", "default_kernel", "check_kernel",
           "native_available", "KERNELS"]


class HammingKernel(NamedTuple):
    """One Hamming kernel.

    Attributes:
      name: the ``kernel=`` name.
      word_bits: 32 or 64, the word size ``tile`` takes (64 needs the scoped x64 context).
      tile: traceable ``(xb [B, Wk], yt [Wk, M]) -> int32 [B, M]``, or ``None`` for a host kernel.
      host_tiles: for a host kernel, ``(a, b_or_None) -> tile function`` (see :mod:`ii_jax.distances.tiling`).
      traced: for a host kernel, the traceable kernel used where a traced one is needed (device meshes).
      backends: backends it runs on (``None``: any).
      max_bits: exact only below this many bits (``None``: any).
      available: ``() -> bool``, whether it can run here (e.g. the native library is built).
      fallback: the kernel used, with one warning, where it is asked for but not available.
    """

    name: str
    word_bits: int = 32
    tile: Callable | None = None
    host_tiles: Callable | None = None
    traced: str | None = None
    backends: tuple[str, ...] | None = None
    max_bits: int | None = None
    available: Callable[[], bool] = lambda: True
    fallback: str | None = None


_REGISTRY: dict[str, HammingKernel] = {}
_DEFAULTS: dict[str, list[str]] = {"cpu": [], "gpu": [], "tpu": [], "*": []}  # preference order per backend


def register_kernel(kernel: HammingKernel, *, default_on: tuple[str, ...] = ()) -> HammingKernel:
    """Add ``kernel`` to the registry; ``default_on``: backends on which it becomes the preferred default
    (ahead of those registered before it) when it is available.
    """
    if not isinstance(kernel, HammingKernel):
        raise TypeError(f"register_kernel expects a HammingKernel, got {type(kernel).__name__}.")
    if (kernel.tile is None) == (kernel.host_tiles is None):
        raise ValueError(f"kernel {kernel.name!r}: give exactly one of tile (traceable) and host_tiles (host).")
    if kernel.word_bits not in (32, 64):
        raise ValueError(f"kernel {kernel.name!r}: word_bits must be 32 or 64, got {kernel.word_bits}.")
    _REGISTRY[kernel.name] = kernel
    for backend in default_on:
        prefs = _DEFAULTS.setdefault(backend, [])
        if kernel.name in prefs:
            prefs.remove(kernel.name)
        prefs.insert(0, kernel.name)
    global KERNELS
    KERNELS = kernel_names()
    return kernel


def kernel_names() -> tuple[str, ...]:
    """Every registered kernel name."""
    return tuple(_REGISTRY)


def get_kernel(name: str) -> HammingKernel:
    """The registered kernel ``name`` (``ValueError`` listing the names otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"kernel must be one of {kernel_names()}, got {name!r}.") from None


def _backend() -> str:
    return jax.default_backend()


def _usable(k: HammingKernel, backend: str) -> bool:
    return (k.backends is None or backend in k.backends) and k.available()


def default_kernel() -> str:
    """The preferred available kernel of the current backend: ``"native"`` on CPU where it is built, else
    ``"popcount"``; ``"matmul"`` (±1 int8, int32 accumulation) on accelerators.
    """
    backend = _backend()
    for name in _DEFAULTS.get(backend, []) + _DEFAULTS["*"]:
        if _usable(_REGISTRY[name], backend):
            return name
    raise RuntimeError(f"no Hamming kernel is registered for backend {backend!r}.")


def check_kernel(kernel: str | None, n_bits: int | None = None) -> str:
    """The kernel to use (default by backend), validated. A kernel that cannot run here becomes its fallback
    (with one warning); a kernel exact only below ``max_bits`` refuses more bits.
    """
    name = kernel or default_kernel()
    k = get_kernel(name)
    if not _usable(k, _backend()):
        _warn_unavailable(name)
        name = k.fallback if k.fallback and _backend() == "cpu" else default_kernel()
        k = get_kernel(name)
    if k.max_bits is not None and n_bits is not None and n_bits >= k.max_bits:
        raise ValueError(f"kernel={name!r} is exact only below 2^{k.max_bits.bit_length() - 1} bits, got {n_bits} "
                         f"bits; use 'matmul'.")
    return name


@functools.lru_cache(maxsize=None)
def _warn_unavailable(name: str) -> None:
    hint = " Build it with `make setup` or `python -m ii_jax._native`." if name == "native" else ""
    warnings.warn(f"kernel={name!r} is not available here (not built, or not a CPU backend); using the pure-JAX "
                  f"kernel.{hint}", RuntimeWarning, stacklevel=4)


def native_available() -> bool:
    """Whether the native CPU kernel (``ii_jax/_native``, XLA FFI) can run: built, loadable, JAX on CPU."""
    if jax.default_backend() != "cpu":
        return False
    from ii_jax import _native

    return _native.available()


def _native_tiles(a, b=None):
    from ii_jax.distances.tiling import NativeTiles

    return NativeTiles(a, b)


# The built-in kernels. "native" is the C++ kernel behind XLA's FFI (CPU only, :mod:`ii_jax._native`); the others
# are pure JAX: the fallback where the native one is absent, its test oracle, and the route on GPUs.
register_kernel(HammingKernel("matmul", tile=_k.hamming_matmul_tile), default_on=("gpu", "tpu", "*"))
register_kernel(HammingKernel("matmul_bf16", tile=functools.partial(_k.hamming_matmul_tile, dtype=jnp.bfloat16),
                              max_bits=_k.BF16_EXACT_BITS))
register_kernel(HammingKernel("popcount32", tile=_k.hamming_tile))
register_kernel(HammingKernel("popcount", word_bits=64, tile=_k.hamming_tile64), default_on=("cpu",))
register_kernel(HammingKernel("native", host_tiles=_native_tiles, traced="popcount", backends=("cpu",),
                              available=native_available, fallback="popcount"), default_on=("cpu",))
KERNELS = ("native", "popcount", "popcount32", "matmul", "matmul_bf16")  # the built-in names, in doc order
