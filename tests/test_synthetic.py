"""Synthetic Fig. 1 experiments: the data, the Gram bookkeeping, and the shapes the paper reports."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ii_jax import cka
from ii_jax import information_imbalance
from ii_jax import synthetic


def test_rank_pair_has_the_requested_rank():
    for r in (1, 3, 10):
        x, y = synthetic.rank_pair(jax.random.key(r), 200, rank=r, sigma=0.0)
        assert x.shape == y.shape == (200, 10)
        assert np.linalg.matrix_rank(np.asarray(y, np.float64), tol=1e-3) == r
    with pytest.raises(ValueError, match=r"rank must be an int in \[1, dim=10\]"):
        synthetic.rank_pair(jax.random.key(0), 50, rank=11)
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        synthetic.rank_pair(jax.random.key(0), 50, rank=1, sigma=-1.0)


def test_partial_view_is_a_prefix():
    x, y = synthetic.partial_view(jax.random.key(0), 20, p=300, fraction=0.1)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x)[:, :30])
    _, y = synthetic.partial_view(jax.random.key(0), 20, p=300, fraction=1e-6)
    assert y.shape == (20, 1)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        synthetic.partial_view(jax.random.key(0), 20, p=300, fraction=0.0)


def power_data(key, n, p, chunk):
    """The data power_experiment draws, rebuilt independently (component chunks from fold_in)."""
    kd, _ = jax.random.split(key)
    blocks = [jax.random.normal(jax.random.fold_in(kd, s // chunk), (n, min(chunk, p - s)), dtype=jnp.float32)
              for s in range(0, p, chunk)]
    return np.asarray(jnp.concatenate(blocks, axis=1))


def test_power_experiment_grams_match_direct_computation():
    key = jax.random.key(4)
    n, p, chunk, fractions = 100, 50, 16, (0.1, 0.33, 0.9, 1.0)  # prefixes end inside and at chunk edges
    c = synthetic.power_experiment(key, n=n, p=p, fractions=fractions, repeats=1, n_sub=n, chunk=chunk)
    x = power_data(key, n, p, chunk)
    for i, f in enumerate(fractions):
        y = x[:, : max(1, round(f * p))]
        ref = information_imbalance(x, y, metric="sqeuclidean")
        np.testing.assert_allclose([c.ii_xy[i], c.ii_yx[i]], [ref.x_to_y, ref.y_to_x], atol=1e-6)
        np.testing.assert_allclose(c.cka[i], float(cka(x, y)), rtol=1e-4)
    assert np.isnan(c.ii_xy_std).all() and c.x.tolist() == list(fractions)  # one replica: no error bar


def test_imbalance_jackknife_subsamples():
    x, y = synthetic.rank_pair(jax.random.key(0), 200, rank=2)
    jk = synthetic.imbalance_jackknife(x, y, key=jax.random.key(1), repeats=4, n_sub=100)
    assert jk.values.shape == (4, 2) and jk.x_to_y_std > 0
    assert jk.x_to_y_std == pytest.approx(np.std(jk.values[:, 0], ddof=1), rel=1e-12)  # ddof=1 everywhere
    idx = synthetic._subsamples(jax.random.key(1), 200, 100, 4, "t")
    ref = information_imbalance(np.asarray(x)[idx[2]], np.asarray(y)[idx[2]], metric="sqeuclidean")
    np.testing.assert_allclose(jk.values[2], [ref.x_to_y, ref.y_to_x], atol=1e-6)
    with pytest.raises(ValueError, match="n_sub must be between 4 and n=200"):
        synthetic.imbalance_jackknife(x, y, key=jax.random.key(1), n_sub=201)


def test_rank_experiment_shows_direction_and_rank():
    c = synthetic.rank_experiment(jax.random.key(0), n=200, dim=10, repeats=3)
    assert c.x.tolist() == list(range(1, 11))
    assert np.all(c.ii_xy[:5] < c.ii_yx[:5])  # Y = B X + eps loses information at low rank: X predicts Y better
    assert c.ii_yx[0] > 0.7 and c.ii_xy[0] < 0.6
    assert c.ii_xy[-1] < c.ii_xy[0] and c.ii_yx[-1] < c.ii_yx[0] - 0.4  # both fall with the rank
    assert c.cka[-1] > c.cka[0]  # CKA tracks the overall alignment, with no direction
    assert np.all(c.ii_xy_std > 0)


def test_power_experiment_cka_saturates_where_ii_resolves():
    fr = (0.01, 0.05, 0.2, 1.0)
    small = synthetic.power_experiment(jax.random.key(1), n=200, p=200, fractions=fr, repeats=2)
    large = synthetic.power_experiment(jax.random.key(1), n=200, p=20000, fractions=fr, repeats=2)
    assert np.all(np.diff(large.ii_xy) < 0) and np.all(np.diff(small.ii_xy) < 0)
    assert large.cka[1] > 0.9  # 5% of 20,000 components: the biased CKA is already near 1 ...
    assert large.ii_xy[1] > 0.3  # ... while Delta is far from its value at f = 1 (2/(n-1))
    assert small.cka[1] < 0.6  # with few components CKA still resolves f
    assert large.ii_xy[-1] == pytest.approx(2 / 99, abs=1e-6)


def test_plots():
    import matplotlib

    matplotlib.use("Agg")
    z = np.zeros(3)
    c = synthetic.Curves(np.array([0.1, 0.5, 1.0]), z + 0.4, z, z + 0.6, z + 0.01, z + 0.9, z)
    assert len(synthetic.plot_rank_experiment(c).get_lines()) == 3
    assert len(synthetic.plot_power_experiment({1000: c, 100000: c}).get_lines()) == 4
