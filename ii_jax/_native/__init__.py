"""The native CPU kernels behind XLA's FFI, built at install time, loaded lazily.

``hamming.cc``: Hamming distances between packed rows (the ``"native"`` kernel of :mod:`ii_jax.distances`).
``stats.cc``: the Information Imbalance's per-row statistics (neighbours, ranks by counting) for a block of
distance rows, the same integers as the pure-JAX path of :mod:`ii_jax.imbalance` (which stays the fallback).
``window_stats.cc``: the token-window sweep fused: both spaces' row statistics for nested windows of last tokens
from the packed bits, one popcount pass for all windows (:func:`window_stats`). The popcount micro-kernels
(``popcount.h``), the row statistics (``row_stats.h``) and the thread pool (``threads.h``) are shared by the
three.

``make setup`` (or ``python -m ii_jax._native``) compiles both into ``_hamming.so`` beside this file with
the system C++ compiler and the XLA FFI headers that ship with jaxlib (``jax.ffi.include_dir()``). Nothing here is
imported by ``import ii_jax``; :func:`available` loads the library and registers its FFI target on first use, and
answers ``False`` (the pure-JAX kernels take over) when the library is missing, fails to load, or is switched off
with ``II_JAX_NATIVE=0``. ``II_JAX_NATIVE_ISA=scalar|avx2|avx512`` caps the instruction set (tests, benchmarks);
the library itself never runs an instruction the CPU lacks.
"""
from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
import sys

import numpy as np

__all__ = ["available", "isa", "hamming", "block_stats", "subset_available", "subset_stats", "window_stats", "build",
           "library_path"]

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = [os.path.join(HERE, f) for f in ("hamming.cc", "stats.cc", "window_stats.cc")]
TARGET = "ii_jax_hamming"
STATS_TARGET = "ii_jax_block_stats"
SUBSET_TARGET = "ii_jax_subset_stats"
WINDOW_TARGET = "ii_jax_window_stats"
ISAS = ("scalar", "avx2", "avx512")


def library_path() -> str:
    """Where the built library lives (``II_JAX_NATIVE_LIB`` overrides it)."""
    return os.environ.get("II_JAX_NATIVE_LIB") or os.path.join(HERE, "_hamming.so")


def _requested_isa() -> int:
    name = os.environ.get("II_JAX_NATIVE_ISA", "").strip().lower()
    if not name:
        return -1
    if name not in ISAS:
        raise ValueError(f"II_JAX_NATIVE_ISA must be one of {ISAS}, got {name!r}.")
    return ISAS.index(name)


@functools.lru_cache(maxsize=None)
def _load(path: str):
    """The loaded library with its FFI target registered, or None."""
    if not os.path.exists(path):
        return None
    try:
        lib = ctypes.cdll.LoadLibrary(path)
        import jax

        jax.ffi.register_ffi_target(TARGET, jax.ffi.pycapsule(lib.IiJaxHamming), platform="cpu")
        jax.ffi.register_ffi_target(STATS_TARGET, jax.ffi.pycapsule(lib.IiJaxBlockStats), platform="cpu")
        if hasattr(lib, "IiJaxWindowStats"):  # a build older than window_stats.cc lacks it: the rest still runs
            jax.ffi.register_ffi_target(WINDOW_TARGET, jax.ffi.pycapsule(lib.IiJaxWindowStats), platform="cpu")
        if hasattr(lib, "IiJaxSubsetStats"):  # likewise for an older stats.cc
            jax.ffi.register_ffi_target(SUBSET_TARGET, jax.ffi.pycapsule(lib.IiJaxSubsetStats), platform="cpu")
    except (OSError, AttributeError, RuntimeError, ValueError) as e:  # stale or foreign build: fall back
        print(f"ii_jax: native Hamming kernel not used ({path}: {e})", file=sys.stderr)
        return None
    lib.ii_jax_hamming_isa.restype = ctypes.c_int
    lib.ii_jax_hamming_isa.argtypes = [ctypes.c_int]
    return lib


def available() -> bool:
    """Whether the native kernel can run here: library built and loadable, not disabled, JAX's CPU backend."""
    if os.environ.get("II_JAX_NATIVE", "1").strip() in ("0", "false", "no", "off"):
        return False
    return _load(library_path()) is not None


def isa() -> str:
    """The popcount the native kernel uses on this CPU: ``"avx512"``, ``"avx2"`` or ``"scalar"``."""
    lib = _load(library_path())
    if lib is None:
        raise RuntimeError("the native Hamming kernel is not built (run `make setup` or `python -m ii_jax._native`).")
    return ISAS[lib.ii_jax_hamming_isa(_requested_isa())]


@functools.partial(__import__("jax").jit, static_argnames=("rows", "cols", "symmetric", "threads", "isa"))
def _call(a, b, offsets, *, rows, cols, symmetric, threads, isa):
    import jax
    import jax.numpy as jnp

    call = jax.ffi.ffi_call(TARGET, jax.ShapeDtypeStruct((rows, cols), jnp.int32), vmap_method="sequential")
    return call(a, b, offsets, symmetric=np.int64(symmetric), threads=np.int64(threads), isa=np.int64(isa))


def hamming(a, b, i0=0, j0=0, *, rows: int, cols: int, symmetric: bool = False, threads: int = 0):
    """Hamming distances of rows ``a[i0:i0+rows]`` against ``b[j0:j0+cols]`` by the native kernel.

    Args:
      a: ``uint32`` ``[N, W]`` packed rows (a CPU ``jax.Array``, or anything ``jnp.asarray`` takes).
      b: ``uint32`` ``[M, W]``.
      i0, j0: first row of ``a`` and of ``b`` (traced: one compilation serves every offset).
      rows, cols: the block's shape (static). Rows of ``a`` past ``N`` and of ``b`` past ``M`` give 0.
      symmetric: ``a`` is ``b`` and the block is the whole ``[N, N]`` matrix: upper tiles computed, then mirrored.
      threads: threads the kernel runs on (``<= 0``: every core).

    Returns:
      ``int32`` ``[rows, cols]``.
    """
    import jax.numpy as jnp

    if not available():
        raise RuntimeError("the native Hamming kernel is not available here.")
    offsets = jnp.stack([jnp.asarray(i0, jnp.int32), jnp.asarray(j0, jnp.int32)])
    return _call(a, b, offsets, rows=int(rows), cols=int(cols), symmetric=bool(symmetric), threads=int(threads),
                 isa=_requested_isa())


@functools.partial(__import__("jax").jit, static_argnames=("n_valid", "k", "average", "threads"))
def _stats_call(dx, dy, row_ids, *, n_valid, k, average, threads):
    import jax
    import jax.numpy as jnp

    call = jax.ffi.ffi_call(STATS_TARGET, jax.ShapeDtypeStruct((2, 5, dx.shape[0]), jnp.int32),
                            vmap_method="sequential")
    return call(dx, dy, row_ids, n_valid=np.int64(n_valid), k=np.int64(k), average=np.int64(average),
                threads=np.int64(threads))


def _stats_apply(ties: str, dx, dy, *others) -> bool:
    """Whether the row-statistics kernels take these operands: ties ``"average"``/``"min"``, ``dx`` and ``dy`` of
    one dtype, int32 or float32, and no JAX array on an accelerator.
    """
    import jax

    if ties not in ("average", "min"):
        return False
    if dx.dtype != dy.dtype or np.dtype(dx.dtype) not in (np.dtype(np.int32), np.dtype(np.float32)):
        return False
    return not any(isinstance(d, jax.Array) and d.platform() != "cpu" for d in (dx, dy, *others))


def block_stats(dx, dy, row_ids, *, n_valid: int, k: int, ties: str, threads: int = 0):
    """Both directions' row statistics for one block of distance rows, or None where the native kernel does not
    apply (not available, ``ties="random"``, a dtype other than int32/float32, or arrays not on the CPU).

    Args:
      dx, dy: ``[B, M]`` distance rows (``int32`` or ``float32``, one dtype), row ``b`` belonging to point
        ``row_ids[b]``; columns ``>= n_valid`` are padding.
      row_ids: ``int32`` ``[B]``.
      n_valid, k, ties: as in :mod:`ii_jax.imbalance` (``"average"`` or ``"min"``).

    Returns:
      ``int32`` ``[2, 5, B]``, the statistics :func:`ii_jax.imbalance._block_stats` returns (X→Y, then Y→X).
    """
    import jax.numpy as jnp

    if not _stats_apply(ties, dx, dy, row_ids) or not available():
        return None
    return _stats_call(dx, dy, jnp.asarray(row_ids, jnp.int32), n_valid=int(n_valid), k=int(k),
                       average=ties == "average", threads=int(threads))


@functools.partial(__import__("jax").jit, static_argnames=("k", "average", "threads"))
def _subset_call(dx, dy, idx, *, k, average, threads):
    import jax
    import jax.numpy as jnp

    call = jax.ffi.ffi_call(SUBSET_TARGET, jax.ShapeDtypeStruct((2, 5, idx.shape[0]), jnp.int32),
                            vmap_method="sequential")
    return call(dx, dy, idx, k=np.int64(k), average=np.int64(average), threads=np.int64(threads))


def subset_available() -> bool:
    """Whether :func:`subset_stats` runs here (the library is available and was built with it)."""
    return available() and hasattr(_load(library_path()), "IiJaxSubsetStats")


def subset_stats(dx, dy, idx, *, k: int, ties: str, threads: int = 0):
    """Both directions' row statistics of the sub-matrices ``dx[idx][:, idx]`` and ``dy[idx][:, idx]``, read in
    place from the whole matrices (a jackknife subset: no sub-matrix is written out), or None where the native
    kernel does not apply (as :func:`block_stats`, or a library built before this kernel).

    Args:
      dx, dy: ``[N, N]`` distances on the host (``int32`` or ``float32``, one dtype).
      idx: ``[M]`` distinct point indices in ``[0, N)``: the subset, in the order of its rows and columns.
      k, ties: as in :mod:`ii_jax.imbalance` (``"average"`` or ``"min"``).

    Returns:
      ``int32`` ``[2, 5, M]``: the statistics :func:`block_stats` gives for all rows of the sub-matrices.
    """
    import jax.numpy as jnp

    if not _stats_apply(ties, dx, dy) or not subset_available():
        return None
    return _subset_call(dx, dy, jnp.asarray(idx, jnp.int32), k=int(k), average=ties == "average",
                        threads=int(threads))


@functools.partial(__import__("jax").jit, static_argnames=("n_windows", "k", "average", "threads", "isa"))
def _window_call(x, y, xb, yb, *, n_windows, k, average, threads, isa):
    import jax
    import jax.numpy as jnp

    call = jax.ffi.ffi_call(WINDOW_TARGET, jax.ShapeDtypeStruct((n_windows, 2, 5, x.shape[0]), jnp.int32),
                            vmap_method="sequential")
    return call(x, y, xb, yb, k=np.int64(k), average=np.int64(average), threads=np.int64(threads),
                isa=np.int64(isa))


def window_stats(x, y, x_bounds, y_bounds, *, k: int, ties: str, threads: int = 0):
    """Both spaces' row statistics for nested windows of last tokens, in one popcount pass; None where the native
    kernel does not apply (not available or built before ``window_stats.cc``, ``ties="random"``).

    Args:
      x: ``uint32`` ``[N, WX]`` packed words of each item's tokens in order. y: ``uint32`` ``[N, WY]``.
      x_bounds: ``int32`` ``[K + 1]`` strictly decreasing word offsets within ``[0, WX]``: window ``q`` is words
        ``x_bounds[q + 1] .. x_bounds[0] - 1`` of every row. y_bounds: the same for ``y``.
      k, ties: as in :mod:`ii_jax.imbalance` (``"average"`` or ``"min"``).

    Returns:
      ``int32`` ``[K, 2, 5, N]``: for window ``q`` the statistics :func:`block_stats` gives for all rows of that
      window's two ``[N, N]`` Hamming distance matrices (X→Y, then Y→X).

    The kernel holds every window's two matrices as scratch (``K x 2 x N x N``, uint16 where the largest window has
    at most 65535 bits, else int32); a scratch of up to 512 MiB is kept in the library for the next call.
    """
    if ties not in ("average", "min") or not available() or not hasattr(_load(library_path()), "IiJaxWindowStats"):
        return None
    xb, yb = np.asarray(x_bounds, np.int32), np.asarray(y_bounds, np.int32)
    if xb.shape != yb.shape or xb.ndim != 1 or len(xb) < 2:
        raise ValueError(f"x_bounds and y_bounds must be [K + 1] with K >= 1, got {xb.shape} and {yb.shape}.")
    return _window_call(x, y, xb, yb, n_windows=len(xb) - 1, k=int(k), average=ties == "average",
                        threads=int(threads), isa=_requested_isa())


def build(out: str | None = None, *, quiet: bool = False) -> str | None:
    """Compile the kernels (``hamming.cc``, ``stats.cc``, ``window_stats.cc``) into the shared library.

    Returns its path, or None (and one line on stderr) if the build fails.

    Uses ``$CXX`` (default ``c++``/``g++``) with ``-O3 -std=c++17`` and no ``-m`` flags (the kernels pick their
    instruction set at run time), and the FFI headers from ``jax.ffi.include_dir()``.
    """
    out = out or library_path()
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    why = None
    if cxx is None:
        why = "no C++ compiler found"
    else:
        try:
            import jax

            include = jax.ffi.include_dir()
        except (ImportError, AttributeError) as e:
            why = f"no XLA FFI headers ({e})"
    if why is None:
        tmp = out + ".tmp"
        cmd = [cxx, "-O3", "-std=c++17", "-shared", "-fPIC", "-pthread", f"-I{include}", *SOURCES, "-o", tmp]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as e:  # the compiler named by $CXX does not run
            p = subprocess.CompletedProcess(cmd, 127, "", str(e))
        if p.returncode == 0:
            os.replace(tmp, out)
            _load.cache_clear()
            if not quiet:
                print(f"ii_jax: built the native Hamming kernel: {out}")
            return out
        lines = p.stderr.strip().splitlines()
        why = next((ln for ln in lines if "error" in ln), lines[-1] if lines else f"{cxx} exited {p.returncode}")
    print(f"ii_jax: native Hamming kernel not built ({why}); the pure-JAX kernels are used.", file=sys.stderr)
    return None
