import jax
import numpy as np
import pytest

import reference as ref
from ii_jax import bootstrap, imbalance_from_distances, information_imbalance, jackknife, pack_bits, shuffled_null
from ii_jax.imbalance import distance_matrix, pointwise_imbalance
from ii_jax.resample import resample_from_distances


@pytest.fixture
def spaces(rng):
    a = rng.normal(size=(120, 64))
    bx = a > 0
    by = (a[:, :40] + 0.5 * rng.normal(size=(120, 40))) > 0
    return bx, by


def test_distance_matrix_matches_reference(spaces):
    bx, _ = spaces
    np.testing.assert_array_equal(distance_matrix(pack_bits(bx)), ref.hamming_matrix(bx))


def test_pointwise_mean_is_the_imbalance(spaces):
    bx, by = spaces
    dx, dy = ref.hamming_matrix(bx), ref.hamming_matrix(by)
    for k in (1, 3):
        p = pointwise_imbalance(dx, dy, k=k)
        assert p.shape == (2, 120)
        np.testing.assert_allclose(p.mean(1), imbalance_from_distances(dx, dy, k=k), rtol=0, atol=1e-12)


def test_jackknife_recomputes_within_subsets(spaces):
    bx, by = spaces
    x, y = pack_bits(bx), pack_bits(by)
    full = information_imbalance(x, y)
    # Subsets of all N points are the full set: every replica equals the full value, and the spread is zero.
    est = jackknife(x, y, n_sub=120, repeats=3, key=jax.random.key(0))
    np.testing.assert_allclose(est.values, np.tile(full, (3, 1)), atol=1e-12)
    np.testing.assert_allclose(est.std, 0, atol=1e-12)
    # Proper subsets: each replica is Δ of *some* subset, so it matches the reference on that subset.
    dx, dy = ref.hamming_matrix(bx), ref.hamming_matrix(by)
    est = resample_from_distances(dx, dy, n_sub=60, repeats=4, key=jax.random.key(1))
    rng = np.random.default_rng(np.asarray(jax.random.key_data(jax.random.key(1))).ravel().astype(np.uint64))
    for v in est.values:
        s = np.sort(rng.choice(120, size=60, replace=False))
        np.testing.assert_allclose(v, [ref.imbalance(dx[np.ix_(s, s)], dy[np.ix_(s, s)]),
                                       ref.imbalance(dy[np.ix_(s, s)], dx[np.ix_(s, s)])], atol=1e-9)
    assert (est.std > 0).all()
    same = jackknife(x, y, n_sub=60, repeats=4, key=jax.random.key(1))
    np.testing.assert_array_equal(same.values, est.values)


def test_bootstrap_centres_on_the_full_value(spaces):
    bx, by = spaces
    x, y = pack_bits(bx), pack_bits(by)
    full = np.array(information_imbalance(x, y))
    est = bootstrap(x, y, n_sub=120, repeats=400, key=jax.random.key(3))
    assert np.all(np.abs(est.mean - full) < 4 * est.std / np.sqrt(400) + 1e-12)
    small = bootstrap(x, y, n_sub=30, repeats=400, key=jax.random.key(3))
    assert np.all(small.std > est.std)  # fewer samples per replica, larger error


def test_shuffled_null_is_about_one(spaces):
    bx, by = spaces
    x, y = pack_bits(bx), pack_bits(by)
    assert max(information_imbalance(x, y)) < 0.6
    est = shuffled_null(x, y, repeats=5, key=jax.random.key(4))
    assert np.all(np.abs(est.mean - 1) < 0.15)


def test_bad_resampling_input(spaces):
    bx, by = spaces
    x, y = pack_bits(bx), pack_bits(by)
    with pytest.raises(ValueError, match="key is required"):
        jackknife(x, y, n_sub=50, key=None)
    with pytest.raises(ValueError, match=r"n_sub must lie in \[k \+ 2, N\] = \[3, 120\]"):
        jackknife(x, y, n_sub=500, key=jax.random.key(0))
    with pytest.raises(ValueError, match="repeats must be"):
        bootstrap(x, y, repeats=0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="not supported for resampling"):
        jackknife(x, y, n_sub=50, key=jax.random.key(0), ties="random")
