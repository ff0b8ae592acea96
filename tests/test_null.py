"""The permutation null (ii_jax.null) against independent oracles: tests/reference.py's brute-force Δ on every
permuted pairing, the engine on the true pairing, the mean over all N! pairings, and p-values on true nulls."""
import itertools

import jax
import numpy as np
import pytest

import reference as ref
from ii_jax import imbalance_from_distances
from ii_jax import null as nl


def _seeded(key):
    """The NumPy generator the null documents: seeded from the key's data."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().astype(np.uint64))


def _tied_spaces(rng, n=14):
    """Heavy ties: Hamming distances over 5 bits (0..5), and an asymmetric integer matrix in 0..2 partly linked."""
    bits = rng.integers(0, 2, size=(n, 5))
    dx = ref.hamming_matrix(bits)
    dy = np.minimum(ref.hamming_matrix(bits[:, :3]) + rng.integers(0, 2, size=(n, n)), 2)
    return dx, dy


@pytest.fixture(params=["count", "sort"])
def route(request, monkeypatch):
    """Integer matrices by counting (the default) or by the sort every other matrix takes."""
    monkeypatch.setattr(nl, "_COUNT", request.param == "count")
    return request.param


@pytest.mark.parametrize("ties", ["average", "min"])
@pytest.mark.parametrize("k", [1, 3])
def test_every_permutation_is_the_brute_force_imbalance_of_the_permuted_pairing(rng, k, ties, route):
    dx, dy = _tied_spaces(rng)
    key = jax.random.key(7)
    nd = nl.permutation_null_from_distances(dx, dy, permutations=12, key=key, k=k, ties=ties)
    gen = _seeded(key)
    perms = np.stack([gen.permutation(len(dx)) for _ in range(12)])
    np.testing.assert_array_equal(nl.draw_permutations(key, len(dx), 12), perms)
    want = [[ref.imbalance(dx, dy[p][:, p], k=k, ties=ties), ref.imbalance(dy[p][:, p], dx, k=k, ties=ties)]
            for p in perms]
    assert nd.values.shape == (12, 2) and nd.values.dtype == np.float64
    np.testing.assert_allclose(nd.values, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(nd.observed, [ref.imbalance(dx, dy, k=k, ties=ties), ref.imbalance(dy, dx, k=k,
                                                                                                  ties=ties)],
                               rtol=0, atol=1e-12)
    assert (nd.n, nd.permutations) == (len(dx), 12)


@pytest.mark.parametrize("ties", ["average", "min"])
def test_weights_and_ranks_are_those_of_the_reference(rng, ties, route):
    dx, dy = _tied_spaces(rng)
    for k in (1, 3):
        rows, cols, w = nl.neighbour_weights(dx, k=k)
        dense = np.zeros(dx.shape)
        dense[rows, cols] = w
        np.testing.assert_allclose(dense, [ref._row_weights(dx[i], i, k) for i in range(len(dx))], atol=1e-15)
        assert len(rows) >= len(dx) * k and (np.diff(rows) >= 0).all()
    r = nl.mid_ranks(dy, ties=ties)
    want = [[0.0 if i == j else ref._rank(dy[i], i, j, ties) for j in range(len(dy))] for i in range(len(dy))]
    np.testing.assert_array_equal(r, want)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.float32, np.float64])
def test_the_identity_pairing_is_the_engines_imbalance(rng, dtype):
    a = rng.normal(size=(80, 24))
    dx = ref.hamming_matrix(a > 0).astype(dtype)
    dy = ref.hamming_matrix((a[:, :10] + 0.5 * rng.normal(size=(80, 10))) > 0).astype(dtype)
    if dtype == np.float32:
        dx, dy = dx / 7, np.sqrt(dy)  # non-integer values, still with ties
    for k, ties in ((1, "average"), (3, "average"), (2, "min")):
        nd = nl.permutation_null_from_distances(dx, dy, permutations=3, key=jax.random.key(0), k=k, ties=ties)
        np.testing.assert_allclose(nd.observed, imbalance_from_distances(dx, dy, k=k, ties=ties), rtol=0, atol=1e-12)
    # JAX arrays go in as they are
    nd = nl.permutation_null_from_distances(jax.numpy.asarray(dx), jax.numpy.asarray(dy), permutations=3,
                                            key=jax.random.key(0))
    np.testing.assert_array_equal(nd.values, nl.permutation_null_from_distances(dx, dy, permutations=3,
                                                                                key=jax.random.key(0)).values)


@pytest.mark.parametrize("ties", ["average", "min"])
def test_expected_is_the_mean_over_all_pairings(rng, ties):
    n = 6
    dx, dy = _tied_spaces(rng, n)
    nd = nl.permutation_null_from_distances(dx, dy, permutations=1, key=jax.random.key(0), k=2, ties=ties)
    every = [[ref.imbalance(dx, dy[p][:, p], k=2, ties=ties), ref.imbalance(dy[p][:, p], dx, k=2, ties=ties)]
             for p in map(list, itertools.permutations(range(n)))]
    np.testing.assert_allclose(nd.expected, np.mean(every, axis=0), rtol=0, atol=1e-12)
    if ties == "average":
        np.testing.assert_allclose(nd.expected, n / (n - 1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("k", [1, 3])
def test_the_permutation_mean_is_within_a_few_standard_errors_of_n_over_n_minus_1(rng, k):
    n, perms = 30, 4000
    dx, dy = _tied_spaces(rng, n)
    nd = nl.permutation_null_from_distances(dx, dy, permutations=perms, key=jax.random.key(1), k=k)
    se = nd.std / np.sqrt(perms)
    assert (se > 0).all()
    assert (np.abs(nd.mean - n / (n - 1)) < 4 * se).all(), (nd.mean, se)
    lo, hi = nd.quantiles.T
    assert (lo < nd.mean).all() and (nd.mean < hi).all()
    np.testing.assert_allclose(nd.quantiles, np.quantile(nd.values, [0.025, 0.975], axis=0).T)


def test_p_below_is_small_for_linked_spaces(rng):
    x = rng.normal(size=(60, 3))
    d = ref.sq_euclidean_matrix(x)
    nd = nl.permutation_null_from_distances(d, d ** 0.5 + 1, permutations=199, key=jax.random.key(2))
    np.testing.assert_allclose(nd.p_below, 1 / 200)
    np.testing.assert_allclose(nd.observed, 2 / 59)  # the same neighbourhoods: a perfect predictor


def test_p_below_is_about_uniform_under_a_true_null():
    rng = np.random.default_rng(11)
    ps = []
    for s in range(100):
        x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
        nd = nl.permutation_null_from_distances(ref.sq_euclidean_matrix(x), ref.sq_euclidean_matrix(y),
                                                permutations=99, key=jax.random.key(s))
        ps.append(nd.p_below)
    ps = np.array(ps)
    assert ((ps > 0) & (ps <= 1)).all()
    assert (np.mean(ps <= 0.05, axis=0) <= 0.1).all(), np.mean(ps <= 0.05, axis=0)
    assert (np.abs(ps.mean(axis=0) - 0.5) < 0.1).all(), ps.mean(axis=0)


def test_blocks_chunks_and_routes_do_not_change_the_result(rng, monkeypatch):
    dx, dy = _tied_spaces(rng, 25)
    dy = dy * 10**12 + dx  # int64 beyond the counting's range: sorted, next to a counted dx
    want = nl.permutation_null_from_distances(dx, dy, permutations=30, key=jax.random.key(3), k=3)
    monkeypatch.setattr(nl, "_BLOCK_ELEMENTS", 50)  # two rows per block
    monkeypatch.setattr(nl, "_GATHER_ELEMENTS", 200)  # a few permutations per chunk
    for count in (True, False):
        monkeypatch.setattr(nl, "_COUNT", count)
        got = nl.permutation_null_from_distances(dx, dy, permutations=30, key=jax.random.key(3), k=3)
        for a, b in zip(want, got, strict=True):
            np.testing.assert_array_equal(a, b)
    # wide unsigned values are never wrapped: uint64 above 2^63 next to small ones
    big = dx.astype(np.uint64) + np.uint64(2**63 - 2)
    np.testing.assert_array_equal(nl.mid_ranks(big), nl.mid_ranks(dx))


def test_from_features_and_the_resample_wrappers(rng):
    from ii_jax import pack_bits, shuffled_null
    from ii_jax.resample import shuffled_null_from_distances

    a = rng.normal(size=(50, 64))
    bx, by = a > 0, (a[:, :32] + rng.normal(size=(50, 32))) > 0
    dx, dy = ref.hamming_matrix(bx), ref.hamming_matrix(by)
    key = jax.random.key(4)
    want = nl.permutation_null_from_distances(dx, dy, permutations=20, key=key, k=2)
    for got in (nl.permutation_null(pack_bits(bx), pack_bits(by), permutations=20, key=key, k=2),
                shuffled_null(pack_bits(bx), pack_bits(by), permutations=20, key=key, k=2),
                shuffled_null_from_distances(dx, dy, permutations=20, key=key, k=2)):
        assert isinstance(got, nl.NullDistribution)
        for u, v in zip(want, got, strict=True):
            np.testing.assert_allclose(u, v, rtol=0, atol=1e-12)


def test_null_from_values():
    nd = nl.null_from_values([[1.0, 0.9], [1.1, 1.0]], n=10)
    assert np.isnan(nd.p_below).all() and np.isnan(nd.observed).all() and np.isnan(nd.expected).all()
    nd = nl.null_from_values([[1.0, 0.9]], n=10, observed=[1.0, 0.5], expected=10 / 9)
    np.testing.assert_array_equal(nd.p_below, [1.0, 0.5])
    assert np.isnan(nd.std).all() and nd.expected.tolist() == [10 / 9, 10 / 9]
    with pytest.raises(ValueError, match="at least one permutation"):
        nl.null_from_values(np.zeros((0, 2)), n=10)


def test_bad_input(rng):
    dx, dy = _tied_spaces(rng, 10)
    key = jax.random.key(0)
    run = nl.permutation_null_from_distances
    with pytest.raises(ValueError, match=r"square \[N, N\]"):
        run(dx[:, :5], dy, key=key)
    with pytest.raises(ValueError, match="same N points"):
        run(dx, dy[:9, :9], key=key)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        run(dx, dy, key=key, k=0)
    with pytest.raises(ValueError, match=r"k must be smaller than N-1=9"):
        run(dx, dy, key=key, k=9)
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="permutations must be an integer >= 1"):
            run(dx, dy, key=key, permutations=bad)
    with pytest.raises(ValueError, match="ties='random' is not supported for resampling"):
        run(dx, dy, key=key, ties="random")
    with pytest.raises(ValueError, match="ties must be one of"):
        run(dx, dy, key=key, ties="max")
    with pytest.raises(ValueError, match="key is required"):
        run(dx, dy, key=None)
    with pytest.raises(ValueError, match="NaN or Inf"):
        run(np.where(np.eye(10) > 0, np.nan, dx.astype(float)), dy, key=key)
    with pytest.raises(TypeError, match="real-valued"):
        run(dx.astype(complex), dy, key=key)
    with pytest.raises(ValueError, match="need at least N=3"):
        run(dx[:2, :2], dy[:2, :2], key=key)
    with pytest.raises(ValueError, match="same N points"):
        nl.permutation_null(np.zeros((10, 2), np.uint32), np.zeros((9, 2), np.uint32), key=key)
    with pytest.raises(ValueError, match="permutations must be"):
        nl.draw_permutations(key, 10, 0)
