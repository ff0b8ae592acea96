"""The floating-point type of the forward passes: ``--dtype auto|float32|bfloat16|float16``.

``auto`` picks bfloat16 where the hardware multiplies bfloat16 matrices natively, float32 elsewhere:

- a CUDA GPU that supports bfloat16 (Ampere and later);
- a CPU whose flags name a native bfloat16 dot product: ``amx_bf16`` (Intel AMX) or ``avx512_bf16`` (Intel Cooper
  Lake and later, AMD Zen 4 and later).

The decision never depends on the model. The hidden states are converted to float32 before the sign is taken, so
the stores hold the same kind of bits whatever the dtype; the bits of a bfloat16 run differ from a float32 run's in
a small fraction of positions (those whose activation is near zero), which ``benchmarks/bench_extract.py --dtype``
measures as a difference of Δ per layer. The dtype a store was extracted in is recorded in its manifest
(``model.dtype``); stores of different dtypes are never merged into one.
"""
from __future__ import annotations

from pathlib import Path

from ii_jax.store.versions import cpu_info

__all__ = ["DTYPES", "NATIVE_BF16_FLAGS", "cpu_flags", "resolve_dtype", "torch_dtype"]

DTYPES = ("auto", "float32", "bfloat16", "float16")
#: CPU flags (``/proc/cpuinfo``) of a native bfloat16 dot product.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The flags of the first CPU listed in ``cpuinfo`` (empty where the file is absent, e.g. not Linux)."""
    return cpu_info(cpuinfo)["flags"]


def resolve_dtype(dtype: str = "auto", *, device: str = "cpu", flags: frozenset[str] | None = None,
                  cuda_bf16: bool | None = None) -> str:
    """The dtype name a run uses: ``dtype`` itself, or what ``auto`` picks on ``device``.

    Args:
      dtype: one of :data:`DTYPES`.
      device: ``"cpu"`` or ``"cuda"`` (where the model's weights are).
      flags: the CPU flags (default: read from ``/proc/cpuinfo``).
      cuda_bf16: whether the GPU supports bfloat16 (default: asked of torch).

    Raises:
      ValueError: if ``dtype`` is not one of :data:`DTYPES`.

    Examples:
      >>> resolve_dtype("auto", flags=frozenset({"avx2", "amx_bf16"}))
      'bfloat16'
      >>> resolve_dtype("auto", flags=frozenset({"avx2", "avx512f"}))
      'float32'
      >>> resolve_dtype("float16")
      'float16'
    """
    if dtype not in DTYPES:
        raise ValueError(f"--dtype {dtype!r}: expected one of {', '.join(DTYPES)}.")
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        if cuda_bf16 is None:
            import torch

            cuda_bf16 = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        return "bfloat16" if cuda_bf16 else "float32"
    flags = cpu_flags() if flags is None else flags
    return "bfloat16" if any(f in flags for f in NATIVE_BF16_FLAGS) else "float32"


def torch_dtype(name: str):
    """The torch dtype of a resolved dtype name (``"bfloat16"`` -> ``torch.bfloat16``)."""
    import torch

    if name not in DTYPES[1:]:
        raise ValueError(f"dtype {name!r}: expected one of {', '.join(DTYPES[1:])} (resolve 'auto' first).")
    return getattr(torch, name)
