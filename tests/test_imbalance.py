"""The engine against the brute-force reference, invariances, limits, and bad input."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from ii_jax import (float_distances, hamming_distances, imbalance_from_distances, information_imbalance,
                    pack_bits)
from ii_jax.core import stats as core_stats

TOL = 1e-9


def _binary(rng, n, d):
    return rng.random((n, d)) < 0.5


def _close(got, want):
    assert abs(got[0] - want[0]) < TOL and abs(got[1] - want[1]) < TOL, (got, want)


@pytest.mark.parametrize("ties", ["average", "min"])
@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("n_cand", [None, "k"])  # "k": every tied row takes the exact sort path
@pytest.mark.parametrize("kernel", ["popcount", "popcount32", "matmul"])
@pytest.mark.parametrize("cache", [0, 2**31])
def test_hamming_matches_reference_with_many_ties(rng, ties, k, n_cand, kernel, cache):
    n, dx_bits, dy_bits = 45, 7, 10  # few bits: ties everywhere
    bx, by = _binary(rng, n, dx_bits), _binary(rng, n, dy_bits)
    dx, dy = ref.hamming_matrix(bx), ref.hamming_matrix(by)
    want = ref.imbalance(dx, dy, k, ties), ref.imbalance(dy, dx, k, ties)
    nc = k if n_cand == "k" else None
    _close(information_imbalance(pack_bits(bx), pack_bits(by), k=k, ties=ties, kernel=kernel, _n_cand=nc,
                                 block_size=16, max_cache_bytes=cache), want)
    _close(imbalance_from_distances(dx, dy, k=k, ties=ties, _n_cand=nc, block_size=16), want)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("n_cand", [None, "k"])
def test_random_ties_match_ordered_reference(rng, k, n_cand):
    n = 40
    bx, by = _binary(rng, n, 6), _binary(rng, n, 9)
    dx, dy = ref.hamming_matrix(bx), ref.hamming_matrix(by)
    key = jax.random.key(7)
    px, py = (np.asarray(p) for p in core_stats.priorities(n, "random", key))
    want = ref.imbalance_ordered(dx, dy, px, py, k), ref.imbalance_ordered(dy, dx, py, px, k)
    nc = k if n_cand == "k" else None
    _close(information_imbalance(pack_bits(bx), pack_bits(by), k=k, ties="random", key=key, _n_cand=nc), want)
    _close(imbalance_from_distances(dx, dy, k=k, ties="random", key=key, _n_cand=nc), want)


@pytest.mark.parametrize("k", [1, 2])
def test_average_is_the_exact_expectation_over_tie_breaking(k):
    # Tiny N: enumerate every tie-breaking order in both spaces.
    rng = np.random.default_rng(3)
    bx, by = _binary(rng, 5, 3), _binary(rng, 5, 3)
    dx, dy = ref.hamming_matrix(bx), ref.hamming_matrix(by)
    want = ref.imbalance_all_orderings(dx, dy, k), ref.imbalance_all_orderings(dy, dx, k)
    _close(imbalance_from_distances(dx, dy, k=k), want)


def test_random_ties_average_out(rng):
    n = 30
    bx, by = _binary(rng, n, 4), _binary(rng, n, 5)
    x, y = pack_bits(bx), pack_bits(by)
    avg = information_imbalance(x, y)
    draws = np.array([information_imbalance(x, y, ties="random", key=jax.random.key(s)) for s in range(300)])
    se = draws.std(0) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(0) - np.array(avg)) < 5 * se + 1e-12)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
@pytest.mark.parametrize("ties", ["average", "min"])
def test_float_metrics_match_reference_on_same_distances(rng, metric, ties):
    n = 60
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = (np.tanh(x[:, :3]) + 0.3 * rng.normal(size=(n, 3))).astype(np.float32)
    dx = np.asarray(float_distances(x, metric=metric), np.float64)
    dy = np.asarray(float_distances(y, metric=metric), np.float64)
    for k in (1, 4):
        want = ref.imbalance(dx, dy, k, ties), ref.imbalance(dy, dx, k, ties)
        _close(imbalance_from_distances(dx, dy, k=k, ties=ties), want)
        got = information_imbalance(x, y, metric=metric, k=k, ties=ties, block_size=16, max_cache_bytes=0)
        # The fused pass computes the same float32 distances; order-flips would show as differences of 1/N^2.
        assert abs(got[0] - want[0]) < 1e-5 and abs(got[1] - want[1]) < 1e-5


def test_float_with_exact_ties(rng):
    # Small integers: squared Euclidean distances are exact in float32, so the fused pass must match to 1e-9.
    n = 50
    x = rng.integers(0, 3, size=(n, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=(n, 2)).astype(np.float32)
    dx, dy = ref.sq_euclidean_matrix(x), ref.sq_euclidean_matrix(y)
    for k in (1, 3):
        want = ref.imbalance(dx, dy, k), ref.imbalance(dy, dx, k)
        _close(information_imbalance(x, y, metric="euclidean", k=k), want)
        _close(information_imbalance(x, y, metric="sqeuclidean", k=k, _n_cand=k, max_cache_bytes=0), want)


def test_distance_matrices_match_numpy(rng):
    b = _binary(rng, 37, 70)
    c = _binary(rng, 11, 70)
    np.testing.assert_array_equal(hamming_distances(pack_bits(b), block_size=8), ref.hamming_matrix(b))
    np.testing.assert_array_equal(hamming_distances(pack_bits(b), pack_bits(c)), ref.hamming_matrix(b, c))
    np.testing.assert_array_equal(hamming_distances(pack_bits(b), kernel="matmul"), ref.hamming_matrix(b))
    np.testing.assert_array_equal(hamming_distances(pack_bits(b), kernel="popcount32"), ref.hamming_matrix(b))
    np.testing.assert_array_equal(hamming_distances(pack_bits(b[:, :64]), block_size=5), ref.hamming_matrix(b[:, :64]))
    x = rng.normal(size=(23, 5)).astype(np.float32)
    np.testing.assert_allclose(float_distances(x, metric="sqeuclidean", block_size=8), ref.sq_euclidean_matrix(x),
                               rtol=1e-4, atol=1e-4)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(float_distances(x, metric="cosine"), 1 - xn @ xn.T, atol=1e-5)


# Shapes drawn from small sets so compiled kernels are reused across examples.
@settings(max_examples=30, deadline=None)
@given(n=st.sampled_from([3, 4, 9, 33]), wx=st.sampled_from([1, 3]), wy=st.just(2),
       block=st.sampled_from([1, 4, 64]), k=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_property_shapes_and_blocks(n, wx, wy, block, k, seed):
    k = min(k, n - 2)
    rng = np.random.default_rng(seed)
    bx, by = rng.random((n, 32 * wx)) < 0.5, rng.random((n, 32 * wy)) < 0.5
    x, y = pack_bits(bx), pack_bits(by)
    got = information_imbalance(x, y, k=k, block_size=block)
    want = information_imbalance(x, y, k=k, block_size=n, max_cache_bytes=0)
    assert got == want
    # Joint permutation of the points changes nothing (ties are shared, not broken by index).
    perm = rng.permutation(n)
    perm_got = information_imbalance(x[perm], y[perm], k=k, block_size=block)
    assert abs(perm_got[0] - got[0]) < TOL and abs(perm_got[1] - got[1]) < TOL
    for v in got:
        assert 0.0 < v <= n / (n - 1) * (1 + 1e-12) + 1.0


def test_self_imbalance_is_minimal_and_independent_is_one(rng):
    n = 300
    x = rng.normal(size=(n, 20)).astype(np.float32)
    r = information_imbalance(x, x, metric="euclidean")
    assert r.x_to_y == pytest.approx(2 / (n - 1), abs=1e-12) and r.y_to_x == pytest.approx(2 / (n - 1), abs=1e-12)
    bits = rng.random((n, 2048)) < 0.5
    w = pack_bits(bits)
    r = information_imbalance(w, w)
    # With ties at the nearest distance, the |S| tied neighbours share the mid-rank (|S| + 1) / 2.
    d = ref.hamming_matrix(bits)
    np.fill_diagonal(d, d.max() + 1)
    s = (d == d.min(axis=1, keepdims=True)).sum(1)
    assert r.x_to_y == pytest.approx(2 / (n - 1) * np.mean((s + 1) / 2), abs=1e-12)
    indep = information_imbalance(w, pack_bits(rng.random((n, 2048)) < 0.5))
    assert abs(indep.x_to_y - 1) < 0.1 and abs(indep.y_to_x - 1) < 0.1


def test_asymmetry_direction(rng):
    # X holds all of Y's information plus more: X predicts Y better than Y predicts X.
    n = 400
    a = rng.normal(size=(n, 4)).astype(np.float32)
    r = information_imbalance(a, a[:, :1], metric="euclidean")
    assert r.x_to_y < 0.3 < r.y_to_x


def test_float64_distances_keep_their_order():
    # Two distances that collide in float32 must stay distinct.
    base = np.array([[0, 1, 2, 3], [1, 0, 1 + 1e-12, 2], [2, 1 + 1e-12, 0, 1], [3, 2, 1, 0]], np.float64)
    want = ref.imbalance(base, base.T.copy()), ref.imbalance(base.T.copy(), base)
    _close(imbalance_from_distances(base, base.T.copy()), want)


# -------------------------------------------------------------------------------------------------- bad input

def test_bad_input_messages(rng):
    w = pack_bits(_binary(rng, 10, 40))
    f = rng.normal(size=(10, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="same N points"):
        information_imbalance(w, w[:9])
    with pytest.raises(ValueError, match="at least N=3"):
        information_imbalance(w[:2], w[:2])
    with pytest.raises(ValueError, match="k must be smaller than N-1=9"):
        information_imbalance(w, w, k=9)
    with pytest.raises(ValueError, match="k must be an integer"):
        information_imbalance(w, w, k=0)
    with pytest.raises(TypeError, match="metric='hamming' expects packed uint32"):
        information_imbalance(f, f)
    with pytest.raises(TypeError, match="float array for a float metric"):
        information_imbalance(w, w, metric="euclidean")
    bad = f.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="x contains NaN or Inf"):
        information_imbalance(bad, f, metric="cosine")
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="y contains NaN or Inf"):
        information_imbalance(f, bad, metric="euclidean")
    with pytest.raises(ValueError, match="metric must be one of"):
        information_imbalance(f, f, metric="manhattan")
    with pytest.raises(ValueError, match="ties must be one of"):
        information_imbalance(w, w, ties="first")
    with pytest.raises(ValueError, match="needs a PRNG key"):
        information_imbalance(w, w, ties="random")
    with pytest.raises(ValueError, match="kernel must be"):
        information_imbalance(w, w, kernel="gpu")
    with pytest.raises(ValueError, match="square"):
        imbalance_from_distances(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="same N points"):
        imbalance_from_distances(np.zeros((4, 4)), np.zeros((5, 5)))
    with pytest.raises(ValueError, match="dy contains NaN"):
        imbalance_from_distances(np.zeros((4, 4)), np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="must have shape"):
        information_imbalance(jnp.zeros((5,), jnp.uint32), jnp.zeros((5,), jnp.uint32))


# ----------------------------------------------------------------------------------------------------------------
# Δ depends only on the order within each row: any order-preserving map of each row, in any accepted dtype.

_INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
_FLOAT_DTYPES = [np.float16, np.float32, np.float64]


def _row_tables(data, dtype, n_rows: int, n_values: int) -> np.ndarray:
    """Per row, ``n_values`` strictly increasing values representable exactly in ``dtype``, often at its limits."""
    if np.issubdtype(dtype, np.integer):
        lo, hi = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    else:  # integers a float16 holds exactly, or wide floats
        lo, hi = (-2048, 2048) if dtype == np.float16 else (-2.0**100, 2.0**100)
    rows = []
    for _ in range(n_rows):
        if np.issubdtype(dtype, np.integer) or dtype == np.float16:
            vals = data.draw(st.lists(st.integers(lo, hi), min_size=n_values, max_size=n_values, unique=True))
            if data.draw(st.booleans()):  # the extremes: where a sentinel or a subtraction would go wrong
                vals[:2] = [lo, hi] if n_values >= 2 else vals[:2]
                vals = list(dict.fromkeys(vals))
                while len(vals) < n_values:
                    vals.append(data.draw(st.integers(lo, hi).filter(lambda v, s=set(vals): v not in s)))
        else:
            vals = data.draw(st.lists(st.floats(lo, hi, allow_nan=False, width=32 if dtype == np.float32 else 64),
                                      min_size=n_values, max_size=n_values, unique=True))
        rows.append(sorted(vals))
    return np.array(rows, dtype=object)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(_INT_DTYPES + _FLOAT_DTYPES), k=st.sampled_from([1, 2]),
       ties=st.sampled_from(["average", "min"]), n=st.sampled_from([6, 9]))  # few shapes: few compilations
def test_imbalance_invariant_to_order_preserving_maps_of_each_row(data, dtype, k, ties, n):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    v = 4  # distances 0..3: ties everywhere
    dx, dy = rng.integers(0, v, size=(n, n)), rng.integers(0, v, size=(n, n))
    want = ref.imbalance(dx, dy, k, ties), ref.imbalance(dy, dx, k, ties)
    tx, ty = _row_tables(data, dtype, n, v), _row_tables(data, dtype, n, v)
    # Python ints/floats through an object array: exact (a plain np.array would guess float64 for big uint64).
    mx = np.array([[tx[i][dx[i, j]] for j in range(n)] for i in range(n)], dtype=object).astype(dtype)
    my = np.array([[ty[i][dy[i, j]] for j in range(n)] for i in range(n)], dtype=object).astype(dtype)
    _close(imbalance_from_distances(mx, my, k=k, ties=ties), want)
    _close(imbalance_from_distances(mx, dy.astype(np.int32), k=k, ties=ties), want)  # mixed dtypes


@pytest.mark.parametrize("shift_dtype", [np.int32, np.float32])
def test_shifted_integer_distances_keep_delta(shift_dtype):
    """The overflow case of the fast tie kernel: int32 distances shifted below zero (and uint32 above 2^31)."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 8, size=(60, 5))
    b = a[:, :2] + rng.integers(0, 3, size=(60, 2))
    dx, dy = ref.sq_euclidean_matrix(a).astype(np.int32), ref.sq_euclidean_matrix(b).astype(np.int32)
    want = ref.imbalance(dx, dy), ref.imbalance(dy, dx)
    _close(imbalance_from_distances((dx - 1000).astype(shift_dtype), (dy - 1000).astype(shift_dtype)), want)
    _close(imbalance_from_distances(dx.astype(np.uint32) + np.uint32(2**31), dy.astype(np.uint32) + np.uint32(2**31)),
           want)
    _close(imbalance_from_distances(jnp.asarray(dx - 1000), jnp.asarray(dy - 1000)), want)
