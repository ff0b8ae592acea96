"""``--dtype``: what ``auto`` picks from the CPU's flags and the GPU, and names it refuses."""
import pytest

from extract.dtypes import DTYPES, cpu_flags, resolve_dtype


def test_auto_follows_native_bf16_flags_not_the_model(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(info) >= {"avx512_bf16", "avx2"}
    assert resolve_dtype("auto", flags=cpu_flags(info)) == "bfloat16"
    assert resolve_dtype("auto", flags=frozenset({"amx_bf16"})) == "bfloat16"
    assert resolve_dtype("auto", flags=frozenset({"avx2", "avx512f", "avx512bw"})) == "float32"
    assert resolve_dtype("auto", flags=frozenset()) == "float32"
    assert cpu_flags(tmp_path / "absent") == frozenset()


def test_auto_on_gpus_and_explicit_names():
    assert resolve_dtype("auto", device="cuda", cuda_bf16=True) == "bfloat16"
    assert resolve_dtype("auto", device="cuda:1", cuda_bf16=False) == "float32"
    for name in DTYPES[1:]:
        assert resolve_dtype(name, flags=frozenset({"amx_bf16"})) == name
    with pytest.raises(ValueError, match="--dtype 'float64': expected one of auto, float32, bfloat16, float16"):
        resolve_dtype("float64")
