"""The native CPU kernels (ii_jax/_native, XLA FFI) against the brute-force references and the pure-JAX path."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import reference as ref
from ii_jax import _native, distances, hamming_distances, information_imbalance, pack_bits
from ii_jax import imbalance as imb
from ii_jax.core import delta_from_stats
from ii_jax.core import stats as core_stats

needs_native = pytest.mark.skipif(not distances.native_available(),
                                  reason="native kernels not built (make setup / python -m ii_jax._native)")
# every instruction set this CPU runs, forced in turn (II_JAX_NATIVE_ISA caps it)
ISAS = list(_native.ISAS[: _native.ISAS.index(_native.isa()) + 1]) if distances.native_available() else []


def _words(rng, n, w, ties=False):
    """Random packed rows; with ``ties``, every row is one of a handful (distances repeat everywhere)."""
    if ties:
        base = rng.integers(0, 2**32, size=(3, w), dtype=np.uint32)
        return base[rng.integers(0, 3, size=n)]
    return rng.integers(0, 2**32, size=(n, w), dtype=np.uint32)


def _bits(words):
    return np.unpackbits(words.view(np.uint8), axis=1, bitorder="little")


def _hamming(a, b=None):
    """Brute force: tests/reference.py on the unpacked bits for short rows, popcount of the XOR-ed words for long."""
    b = a if b is None else b
    if a.shape[1] <= 64:
        return ref.hamming_matrix(_bits(a), _bits(b))
    return np.bitwise_count(a[:, None, :] ^ b[None, :, :]).sum(-1, dtype=np.int64)


@pytest.fixture
def pure_jax(monkeypatch):
    """Everything on the pure-JAX path, as if the native library were absent."""
    monkeypatch.setattr(_native, "available", lambda: False)


@needs_native
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize(("n", "w"), [(1, 1), (2, 3), (3, 17), (65, 1), (70, 33), (130, 1025), (90, 2049)])
@pytest.mark.parametrize("ties", [False, True])
def test_native_hamming_matches_reference(rng, monkeypatch, isa, n, w, ties):
    monkeypatch.setenv("II_JAX_NATIVE_ISA", isa)
    a = _words(rng, n, w, ties)
    want = _hamming(a)
    np.testing.assert_array_equal(np.asarray(_native.hamming(a, a, rows=n, cols=n, symmetric=True)), want)
    # an offset block running past the last rows: those come back 0
    b = _words(rng, n + 5, w)
    got = np.asarray(_native.hamming(a, b, 1, 2, rows=n + 2, cols=n + 4))
    full = np.zeros((n + 2, n + 4), np.int64)
    full[: n - 1, : n + 3] = _hamming(a, b)[1:, 2:]
    np.testing.assert_array_equal(got, full)


@needs_native
def test_native_isa_is_capped_not_raised(monkeypatch):
    monkeypatch.setenv("II_JAX_NATIVE_ISA", "scalar")
    assert _native.isa() == "scalar"
    monkeypatch.setenv("II_JAX_NATIVE_ISA", "avx9")
    with pytest.raises(ValueError, match="II_JAX_NATIVE_ISA"):
        _native.isa()


@needs_native
@pytest.mark.parametrize("n", [1, 2, 3, 100])
def test_hamming_distances_native_equals_popcount(rng, n):
    a, b = _words(rng, n, 9, ties=True), _words(rng, n + 3, 9)
    assert distances.default_kernel() == "native"
    for args in ((a,), (a, b)):
        got = hamming_distances(*args, kernel="native")
        np.testing.assert_array_equal(np.asarray(got), np.asarray(hamming_distances(*args, kernel="popcount")))
        assert got.dtype == np.int32 and got.shape == (n, args[-1].shape[0])


@needs_native
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("ties", ["average", "min", "random"])
@pytest.mark.parametrize("cache", [0, 2**31])
def test_information_imbalance_native_equals_pure_jax(rng, monkeypatch, k, ties, cache):
    import jax

    n = 70  # not a multiple of the tiles or the row blocks; few bits: ties everywhere
    x, y = pack_bits(rng.random((n, 7)) < 0.5), pack_bits(rng.random((n, 40)) < 0.5)
    opts = dict(k=k, ties=ties, key=jax.random.key(1), block_size=16, max_cache_bytes=cache)
    got = information_imbalance(x, y, kernel="native", **opts)
    monkeypatch.setattr(_native, "available", lambda: False)
    assert distances.default_kernel() == "popcount"
    assert got == information_imbalance(x, y, kernel="popcount", **opts)


@needs_native
@pytest.mark.parametrize("dtype", [np.int32, np.float32])
@pytest.mark.parametrize("ties", ["average", "min"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_native_block_stats_equal_jax_fast_and_exact(rng, dtype, ties, k):
    n, block = 50, 16
    levels = 4 if dtype == np.int32 else 1000  # int: huge tie groups (the JAX exact path); float: few ties
    dx = rng.integers(0, levels, size=(n, n)).astype(dtype)
    dy = rng.integers(0, levels, size=(n, n)).astype(dtype)
    px, py = core_stats.priorities(n, ties, None)
    for i0 in range(0, n, block):
        ids = np.arange(i0, i0 + block, dtype=np.int32)
        rx, ry = (np.pad(d[i0:i0 + block], ((0, max(0, i0 + block - n)), (0, 0))) for d in (dx, dy))
        got = np.asarray(_native.block_stats(rx, ry, ids, n_valid=n, k=k, ties=ties))
        for n_cand in (core_stats.n_candidates(n - 1, k), k):  # k: every tied row through the exact count
            want = np.asarray(core_stats.block_stats(rx, ry, ids, px, py, n_valid=n, k=k, ties=ties, n_cand=n_cand))
            valid = min(block, n - i0)
            np.testing.assert_array_equal(got[:, :, :valid], want[:, :, :valid])


@needs_native
@pytest.mark.parametrize("k", [1, 5])
def test_native_from_distances_matches_reference(rng, k):
    n = 40
    dx = ref.hamming_matrix(rng.random((n, 5)) < 0.5)
    dy = ref.hamming_matrix(rng.random((n, 6)) < 0.5)
    got = imb.imbalance_from_distances(dx, dy, k=k)
    want = ref.imbalance(dx, dy, k), ref.imbalance(dy, dx, k)
    assert abs(got[0] - want[0]) < 1e-9 and abs(got[1] - want[1]) < 1e-9


@needs_native
@pytest.mark.parametrize("dtype", [np.int32, np.float32, np.int64])
@pytest.mark.parametrize("ties", ["average", "min"])
def test_host_matrices_go_to_the_native_kernel_in_row_blocks_as_they_are(rng, monkeypatch, dtype, ties):
    """Host matrices reach the native kernel as views of their rows (the last block shorter, nothing padded), and
    the Imbalance is the reference's, for a block size that does not divide N."""
    n = 40
    dx = ref.hamming_matrix(rng.random((n, 5)) < 0.5).astype(dtype)
    dy = ref.hamming_matrix(rng.random((n, 6)) < 0.5).astype(dtype)
    seen, real = [], _native.block_stats
    monkeypatch.setattr(_native, "block_stats", lambda a, b, ids, **kw: (seen.append((type(a), a.shape, ids[0])),
                                                                          real(a, b, ids, **kw))[1])
    got = imb.imbalance_from_distances(dx, dy, ties=ties, block_size=16)
    want = ref.imbalance(dx, dy, 1, ties), ref.imbalance(dy, dx, 1, ties)
    assert abs(got[0] - want[0]) < 1e-9 and abs(got[1] - want[1]) < 1e-9
    assert [(t, sh, int(i)) for t, sh, i in seen] == [(np.ndarray, (16, n), 0), (np.ndarray, (16, n), 16),
                                                       (np.ndarray, (8, n), 32)]
    jax_got = imb.imbalance_from_distances(__import__("jax").numpy.asarray(dx), dy, ties=ties, block_size=16)
    assert tuple(jax_got) == tuple(got)


@needs_native
@pytest.mark.parametrize("dtype", [np.int32, np.float32])
@pytest.mark.parametrize("ties", ["average", "min"])
@pytest.mark.parametrize("k", [1, 3])
def test_native_subset_stats_equal_block_stats_of_the_gathered_sub_matrices(rng, dtype, ties, k):
    n = 60
    dx = ref.hamming_matrix(rng.random((n, 6)) < 0.5).astype(dtype)  # few bits: ties everywhere
    dy = ref.hamming_matrix(rng.random((n, 9)) < 0.5).astype(dtype)
    idx = rng.permutation(n)[:23]  # any order: the sub-matrix's rows and columns follow it
    got = np.asarray(_native.subset_stats(dx, dy, idx, k=k, ties=ties))
    sx, sy = dx[np.ix_(idx, idx)], dy[np.ix_(idx, idx)]
    want = np.asarray(_native.block_stats(sx, sy, np.arange(len(idx), dtype=np.int32), n_valid=len(idx), k=k,
                                          ties=ties))
    np.testing.assert_array_equal(got, want)
    d = imb._subset_imbalance(*imb._subset_matrices([dx, dy], ties), idx, k=k, ties=ties)
    assert abs(d[0] - ref.imbalance(sx, sy, k, ties)) < 1e-9 and abs(d[1] - ref.imbalance(sy, sx, k, ties)) < 1e-9


@needs_native
def test_native_subset_stats_refuse_bad_operands():
    import jax

    d = np.zeros((8, 8), np.int32)
    with pytest.raises(jax.errors.JaxRuntimeError, match="out of range"):
        np.asarray(_native.subset_stats(d, d, np.array([0, 1, 2, 9]), k=1, ties="average"))
    with pytest.raises(jax.errors.JaxRuntimeError, match="1 <= k < M - 1"):
        np.asarray(_native.subset_stats(d, d, np.array([0, 1, 2]), k=2, ties="average"))
    assert _native.subset_stats(d, d.astype(np.float32), np.arange(4), k=1, ties="average") is None
    assert _native.subset_stats(d, d, np.arange(4), k=1, ties="random") is None


@needs_native
def test_jackknife_replicas_are_the_same_with_and_without_the_subset_kernel(rng, monkeypatch):
    import jax

    from ii_jax import resample

    n = 90
    dx = ref.hamming_matrix(rng.random((n, 8)) < 0.5)
    dy = ref.hamming_matrix(rng.random((n, 12)) < 0.5).astype(np.float32)  # a pair of two dtypes: gathered
    dz = ref.hamming_matrix(rng.random((n, 12)) < 0.5)
    pairs = [(dx, dz), (dx, dy)]
    key = jax.random.key(3)
    calls, real = [], _native.subset_stats
    monkeypatch.setattr(_native, "subset_stats", lambda *a, **kw: (calls.append(a[2].shape), real(*a, **kw))[1])
    native = resample.paired_statistic(pairs, lambda v: v[0, 0] - v[1, 0], jackknife=(4, 40), key=key)
    one = resample.resample_from_distances(dx, dz, repeats=4, n_sub=40, key=key)
    # 4 subsets: the int32 pair read in place, the int32-float32 one tried, then gathered; 4 more for one pair
    assert calls == [(40,)] * 12
    monkeypatch.setattr(_native, "subset_available", lambda: False)
    gathered = resample.paired_statistic(pairs, lambda v: v[0, 0] - v[1, 0], jackknife=(4, 40), key=key)
    np.testing.assert_array_equal(native.part_replicas, gathered.part_replicas)
    np.testing.assert_array_equal(one.values, resample.resample_from_distances(dx, dz, repeats=4, n_sub=40,
                                                                               key=key).values)


def _window_bounds(tokens, words, sizes, drop_last=0):
    end = (tokens - drop_last) * words
    return [end] + [end - s * words for s in sizes]


@needs_native
@pytest.mark.parametrize("isa", ISAS)
# (70, 2, 1100, 3): the largest window has 70400 bits, past uint16: the int32 scratch; the others use uint16
@pytest.mark.parametrize(("n", "tx", "wx", "wy"), [(3, 2, 1, 1), (9, 4, 3, 5), (70, 5, 20, 7), (130, 3, 33, 2),
                                                   (70, 2, 1100, 3)])
@pytest.mark.parametrize("ties", [False, True])
def test_native_window_stats_equal_block_stats_of_each_window(rng, monkeypatch, isa, n, tx, wx, wy, ties):
    """Every window's statistics equal the row statistics of its brute-force [N, N] Hamming matrices."""
    monkeypatch.setenv("II_JAX_NATIVE_ISA", isa)
    x = _words(rng, n, tx * wx, ties)
    y = _words(rng, n, tx * wy, ties)
    sizes = [1, tx] if tx > 1 else [1]
    drop = 1 if tx > 2 else 0
    sizes = [s for s in sizes if s <= tx - drop]
    for k, mode in [(1, "average"), (1, "min"), (min(2, n - 2), "average")]:
        got = np.asarray(_native.window_stats(x, y, _window_bounds(tx, wx, sizes, drop),
                                              _window_bounds(tx, wy, sizes, drop), k=k, ties=mode))
        assert got.shape == (len(sizes), 2, 5, n)
        for q, s in enumerate(sizes):
            cols_x = slice((tx - drop - s) * wx, (tx - drop) * wx)
            cols_y = slice((tx - drop - s) * wy, (tx - drop) * wy)
            dx = _hamming(x[:, cols_x]).astype(np.int32)
            dy = _hamming(y[:, cols_y]).astype(np.int32)
            want = np.asarray(_native.block_stats(dx, dy, np.arange(n, dtype=np.int32), n_valid=n, k=k, ties=mode))
            np.testing.assert_array_equal(got[q], want, err_msg=f"window {s}, k={k}, ties={mode}")


@needs_native
def test_native_window_stats_imbalance_matches_reference(rng):
    """Through the exact float64 finish, a window's Δ is the brute-force reference's (independent oracle)."""
    n, t, w = 40, 6, 2
    x, y = _words(rng, n, t * w), _words(rng, n, t * w)
    st = np.asarray(_native.window_stats(x, y, _window_bounds(t, w, [2, 5]), _window_bounds(t, w, [2, 5]), k=1,
                                         ties="average"))
    for q, s in enumerate([2, 5]):
        dx, dy = _hamming(x[:, (t - s) * w:]), _hamming(y[:, (t - s) * w:])
        got = delta_from_stats(st[q], k=1, m=n - 1)
        assert abs(got[0] - ref.imbalance(dx, dy, 1)) < 1e-12
        assert abs(got[1] - ref.imbalance(dy, dx, 1)) < 1e-12


@needs_native
def test_native_window_stats_rejects_bad_bounds(rng):
    x = _words(rng, 10, 8)
    with pytest.raises(ValueError, match="K >= 1"):
        _native.window_stats(x, x, [8], [8], k=1, ties="average")
    for bad in ([8, 8], [9, 4], [8, 4, 6], [8, -1]):  # not strictly decreasing, past the row, below 0
        with pytest.raises(Exception, match="bounds must decrease strictly"):
            np.asarray(_native.window_stats(x, x, bad, [8] + [0] * (len(bad) - 1), k=1, ties="average"))
    assert _native.window_stats(x, x, [8, 0], [8, 0], k=1, ties="random") is None


def test_fallback_when_the_library_is_missing(rng, monkeypatch):
    monkeypatch.setenv("II_JAX_NATIVE_LIB", "/nonexistent/_hamming.so")
    assert not _native.available() and not distances.native_available()
    assert distances.default_kernel() == "popcount"
    distances.registry._warn_unavailable.cache_clear()
    with pytest.warns(RuntimeWarning, match="not available"):
        assert distances.check_kernel("native") == "popcount"
    x, y = pack_bits(rng.random((30, 12)) < 0.5), pack_bits(rng.random((30, 5)) < 0.5)
    assert information_imbalance(x, y, kernel="native") == information_imbalance(x, y, kernel="popcount")
    assert _native.block_stats(np.zeros((4, 30), np.int32), np.zeros((4, 30), np.int32), np.arange(4),
                               n_valid=30, k=1, ties="average") is None
    with pytest.raises(RuntimeError, match="not available"):
        _native.hamming(x, x, rows=30, cols=30)


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("II_JAX_NATIVE", "0")
    assert not _native.available() and distances.default_kernel() == "popcount"


def test_build_without_a_compiler_warns_and_returns_none(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-c++"))
    assert _native.build(str(tmp_path / "x.so")) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not built" in err[0]


def test_bad_input_is_rejected():
    with pytest.raises(TypeError, match="uint32"):
        hamming_distances(np.zeros((3, 2), np.float32), kernel="native")
    with pytest.raises(ValueError, match="shape"):
        hamming_distances(np.zeros(3, np.uint32), kernel="native")
    with pytest.raises(ValueError, match="same number of words"):
        hamming_distances(np.zeros((3, 2), np.uint32), np.zeros((3, 3), np.uint32), kernel="native")
    with pytest.raises(ValueError, match="kernel must be one of"):
        hamming_distances(np.zeros((3, 2), np.uint32), kernel="nativ")


@needs_native
def test_native_ffi_rejects_mismatched_operands():
    with pytest.raises(Exception, match="same number of words"):
        np.asarray(_native.hamming(np.zeros((3, 2), np.uint32), np.zeros((3, 3), np.uint32), rows=3, cols=3))
    with pytest.raises(Exception, match="whole"):
        np.asarray(_native.hamming(np.zeros((3, 2), np.uint32), np.zeros((3, 2), np.uint32), rows=2, cols=3,
                                   symmetric=True))


def _has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return " avx2" in f.read()
    except OSError:
        return False


@pytest.mark.skipif(shutil.which("cc") is None or not _has_avx2(), reason="no C compiler or no AVX2")
def test_benchmark_reference_c_kernel_is_right(rng, tmp_path):
    """benchmarks/hamming_ref.c (the bench's distance-only yardstick) computes the right matrix."""
    src = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "hamming_ref.c")
    exe = tmp_path / "ref"
    p = subprocess.run(["cc", "-O3", "-mavx2", "-mpopcnt", "-fopenmp", src, "-o", str(exe)], capture_output=True)
    if p.returncode != 0:
        pytest.skip(f"reference kernel does not build here: {p.stderr.decode()[-200:]}")
    n, w = 70, 130  # not whole tiles, more than one 4096-bit chunk
    a = _words(rng, n, w)
    a.tofile(tmp_path / "x.bin")
    a.tofile(tmp_path / "y.bin")
    out = tmp_path / "d.bin"
    subprocess.run([str(exe), str(tmp_path / "x.bin"), str(tmp_path / "y.bin"), str(n), str(w), "1", str(out)],
                   check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="2"))
    np.testing.assert_array_equal(np.fromfile(out, np.int32).reshape(n, n), ref.hamming_matrix(_bits(a)))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
