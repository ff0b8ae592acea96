"""Linear CKA (biased and debiased) and mutual k-NN overlap, against direct NumPy versions of the formulas."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import ortho_group

import reference as ref
from ii_jax import cka
from ii_jax import mutual_knn
from ii_jax.baselines import clip_and_normalize
from ii_jax.baselines import mutual_knn_from_distances

# ---------------------------------------------------------------------------------------------------------
# NumPy references of the published formulas (float64)


def hsic0(k, l):
    """Biased HSIC, Gretton et al. 2005: tr(K H L H) / (n - 1)^2."""
    n = k.shape[0]
    h = np.eye(n) - 1.0 / n
    return np.trace(k @ h @ l @ h) / (n - 1) ** 2


def hsic1(k, l):
    """Unbiased HSIC, Song et al. 2012 (eq. 5), on kernels with the diagonal set to zero."""
    n = k.shape[0]
    kt, lt = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))
    one = np.ones(n)
    term = np.trace(kt @ lt) + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * one @ kt @ lt @ one
    return term / (n * (n - 3))


def cka_ref(x, y, debiased):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    k, l = x @ x.T, y @ y.T
    h = hsic1 if debiased else hsic0
    return h(k, l) / np.sqrt(h(k, k) * h(l, l))


def knn_sets(sim, k):
    """platonic-rep's compute_nearest_neighbors: argsort of similarities, self excluded (no ties here)."""
    sim = sim.copy()
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1)[:, :k]


def mutual_knn_ref(x, y, k, preprocess, quantiles=(0.0005, 0.95)):
    def prep(a):
        a = np.asarray(a, np.float64)
        if preprocess:  # platonic-rep's remove_outliers(exact=True) for one quantile, the paper's two otherwise
            lo, hi = (None, quantiles) if np.ndim(quantiles) == 0 else quantiles
            return ref.clip_and_normalize(a, lo, hi)
        return a

    def sim(a):
        a = prep(a)
        return a @ a.T if preprocess else -((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)

    nx, ny = knn_sets(sim(x), k), knn_sets(sim(y), k)
    return np.mean([len(set(a) & set(b)) / k for a, b in zip(nx, ny, strict=False)])


def tie_weights_ref(d, k):
    """Expected k-NN membership under random tie-breaking, by enumeration of the tie group (DESIGN §3)."""
    n = d.shape[0]
    w = np.zeros((n, n))
    for i in range(n):
        others = np.array([j for j in range(n) if j != i])
        kth = np.sort(d[i, others])[k - 1]
        closer = others[d[i, others] < kth]
        tied = others[d[i, others] == kth]
        w[i, closer] = 1.0
        w[i, tied] = (k - len(closer)) / len(tied)
    return w


# ---------------------------------------------------------------------------------------------------------
# CKA


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize(("n", "dx", "dy", "block"), [(60, 5, 7, 1024), (40, 90, 70, 16), (50, 3, 200, 7)])
def test_cka_matches_published_formula(n, dx, dy, block, debiased, rng):
    x = rng.normal(size=(n, dx))
    y = x[:, :1] * rng.normal(size=(1, dy)) + rng.normal(size=(n, dy))  # related, not identical
    got = cka(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), debiased=debiased, block_size=block)
    np.testing.assert_allclose(float(got), cka_ref(x, y, debiased), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_invariances(debiased, rng):
    x = rng.normal(size=(80, 12)).astype(np.float32)
    y = np.tanh(x @ rng.normal(size=(12, 9))).astype(np.float32)
    base = float(cka(x, y, debiased=debiased))
    q = ortho_group.rvs(12, random_state=1).astype(np.float32)
    np.testing.assert_allclose(float(cka(x @ q, y, debiased=debiased)), base, rtol=1e-4)
    np.testing.assert_allclose(float(cka(5.0 * x + 3.0, 0.1 * y, debiased=debiased)), base, rtol=1e-4)
    np.testing.assert_allclose(float(cka(y, x, debiased=debiased)), base, rtol=1e-5)
    np.testing.assert_allclose(float(cka(x, x, debiased=debiased)), 1.0, rtol=1e-5)


def test_debiased_cka_removes_high_dimensional_bias(rng):
    x = rng.normal(size=(50, 3000)).astype(np.float32)
    y = rng.normal(size=(50, 3000)).astype(np.float32)  # independent
    assert float(cka(x, y)) > 0.9  # the biased estimator saturates when D >> N
    assert abs(float(cka(x, y, debiased=True))) < 0.05


def test_cka_jit_and_vmap(rng):
    xs = jnp.asarray(rng.normal(size=(3, 30, 4)), jnp.float32)
    ys = jnp.asarray(rng.normal(size=(3, 30, 6)), jnp.float32)
    batched = jax.vmap(lambda a, b: cka(a, b, debiased=True))(xs, ys)
    jitted = jax.jit(lambda a, b: cka(a, b))(xs[0], ys[0])
    np.testing.assert_allclose(np.asarray(batched), [cka_ref(a, b, True) for a, b in zip(xs, ys, strict=False)], rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(float(jitted), cka_ref(xs[0], ys[0], False), rtol=1e-4)


def test_cka_bad_input():
    x = np.zeros((10, 3), np.float32)
    with pytest.raises(ValueError, match="same number of rows"):
        cka(x, x[:5])
    with pytest.raises(ValueError, match=r"y must have shape \[N, D\]"):
        cka(x, x[:, 0])
    with pytest.raises(TypeError, match="x must be a float array"):
        cka(x.astype(np.int32), x)
    with pytest.raises(ValueError, match="at least 4 items"):
        cka(x[:3], x[:3], debiased=True)
    with pytest.raises(ValueError, match="block_size"):
        cka(x, x, block_size=0)


# ---------------------------------------------------------------------------------------------------------
# Mutual k-NN


@pytest.mark.parametrize(("preprocess", "quantiles"), [(True, (0.0005, 0.95)), (True, 0.95), (False, None)])
@pytest.mark.parametrize(("k", "block"), [(1, 512), (5, 16), (10, 33)])
def test_mutual_knn_matches_platonic_reference(k, block, preprocess, quantiles, rng):
    x = rng.standard_t(3, size=(120, 10))  # heavy tails: the clipping matters
    y = x[:, :6] + 0.5 * rng.normal(size=(120, 6))
    kw = {} if quantiles is None else {"quantiles": quantiles}
    got = mutual_knn(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), k=k, preprocess=preprocess,
                     block_size=block, **kw)
    np.testing.assert_allclose(float(got), mutual_knn_ref(x, y, k, preprocess, **kw), atol=1e-6)


def test_mutual_knn_ties_are_shared_and_order_free(rng):
    base = rng.normal(size=(15, 4)).astype(np.float32)
    x = np.concatenate([base, base[:5]])  # exact duplicates: tied neighbours
    y = x + 0.01 * rng.normal(size=x.shape).astype(np.float32)
    dx = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    dy = np.sqrt(((y[:, None] - y[None]) ** 2).sum(-1))
    k = 3
    expected = np.mean((tie_weights_ref(dx, k) * tie_weights_ref(dy, k)).sum(1) / k)
    np.testing.assert_allclose(float(mutual_knn_from_distances(dx, dy, k=k)), expected, rtol=1e-6)
    perm = rng.permutation(len(x))
    np.testing.assert_allclose(
        float(mutual_knn_from_distances(dx[perm][:, perm], dy[perm][:, perm], k=k)), expected, rtol=1e-6
    )
    np.testing.assert_allclose(float(mutual_knn(x, y, k=k, preprocess=False)), expected, rtol=1e-5)


def test_mutual_knn_invariances(rng):
    x = rng.normal(size=(100, 8)).astype(np.float32)
    y = (x @ rng.normal(size=(8, 8)) + 0.3 * rng.normal(size=(100, 8))).astype(np.float32)
    dx = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    dy = np.sqrt(((y[:, None] - y[None]) ** 2).sum(-1))
    base = float(mutual_knn_from_distances(dx, dy, k=7))
    # any increasing transform of the distances leaves the neighbourhoods unchanged
    assert float(mutual_knn_from_distances(np.exp(dx) + dx**3, np.log1p(dy), k=7)) == pytest.approx(base, abs=1e-7)
    assert float(mutual_knn_from_distances(dy, dx, k=7)) == pytest.approx(base, abs=1e-7)
    q = ortho_group.rvs(8, random_state=2).astype(np.float32)
    assert float(mutual_knn(x @ q * 3.0 + 1.0, y, k=7, preprocess=False)) == pytest.approx(base, abs=1e-6)
    assert float(mutual_knn(x, x, k=7)) == pytest.approx(1.0)
    unrelated = float(mutual_knn(x, rng.normal(size=(100, 8)).astype(np.float32), k=7))
    assert unrelated < 0.25


@pytest.mark.parametrize("quantiles", [(0.0005, 0.95), (0.05, 0.95), (0.0, 1.0), 0.95, 0.5, 1.0])
def test_clip_and_normalize_matches_reference_on_heavy_tails(quantiles):
    """The one clip-and-normalise against explicit loops (tests/reference.py), on heavy-tailed rows where a
    global threshold and platonic-rep's mean of per-row thresholds differ."""
    rng = np.random.default_rng(5)
    x = rng.standard_t(df=1.5, size=(40, 64)).astype(np.float32) * rng.uniform(0.1, 10, size=(40, 1)).astype(np.float32)
    x[3] = 0.0  # a zero row stays zero
    lo, hi = (None, quantiles) if np.ndim(quantiles) == 0 else quantiles
    want = ref.clip_and_normalize(x, lo, hi)
    got = clip_and_normalize(jnp.asarray(x), quantiles=quantiles)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-7)


def test_clip_and_normalize_default_is_the_papers_quantiles():
    rng = np.random.default_rng(6)
    x = rng.standard_t(df=2, size=(30, 50))
    np.testing.assert_allclose(clip_and_normalize(x), ref.clip_and_normalize(x, 0.0005, 0.95), rtol=2e-6, atol=2e-7)
    # platonic-rep's exact=False threshold (mean of per-row quantiles) is a different function on such rows
    t = np.mean(np.quantile(np.abs(x), 0.95, axis=1))
    c = np.clip(x, -t, t)
    assert np.abs(clip_and_normalize(x, quantiles=0.95) - c / np.linalg.norm(c, axis=1, keepdims=True)).max() > 1e-3


def test_clip_and_normalize_bad_input():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"symmetric quantile must be in \(0, 1\]"):
        clip_and_normalize(x, quantiles=0.0)
    with pytest.raises(ValueError, match=r"need 0 <= lo < hi <= 1"):
        clip_and_normalize(x, quantiles=(0.9, 0.1))
    with pytest.raises(TypeError, match="float \\[N, D\\]"):
        clip_and_normalize(np.ones((3, 4), np.int32))


def test_mutual_knn_and_cka_use_the_one_clip_and_normalize():
    rng = np.random.default_rng(7)
    x = rng.standard_t(df=2, size=(60, 12)).astype(np.float32)
    y = x[:, :6] + 0.3 * rng.normal(size=(60, 6)).astype(np.float32)
    cx, cy = ref.clip_and_normalize(x, 0.0005, 0.95), ref.clip_and_normalize(y, 0.0005, 0.95)
    assert float(mutual_knn(x, y, k=5)) == pytest.approx(float(mutual_knn(cx.astype(np.float32), cy.astype(np.float32),
                                                                          k=5, preprocess=False)), abs=1e-6)
    assert float(cka(x, y, preprocess=True)) == pytest.approx(float(cka(cx, cy)), rel=1e-4)


def test_mutual_knn_bad_input():
    x = np.zeros((10, 3), np.float32)
    with pytest.raises(ValueError, match=r"k must be an int with 1 <= k <= N - 2 = 8"):
        mutual_knn(x, x, k=9)
    with pytest.raises(ValueError, match="same number of rows"):
        mutual_knn(x, x[:4])
    with pytest.raises(ValueError, match=r"must both be \[N, N\]"):
        mutual_knn_from_distances(np.zeros((4, 4)), np.zeros((4, 5)), k=1)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_from_grams_matches_features_and_subsamples(debiased, rng):
    from ii_jax.baselines import cka_from_grams

    x = rng.normal(size=(70, 6)).astype(np.float32)
    y = (x[:, :2] @ rng.normal(size=(2, 9)) + rng.normal(size=(70, 9))).astype(np.float32)
    gx, gy = x @ x.T, y @ y.T
    np.testing.assert_allclose(float(cka_from_grams(gx, gy, debiased=debiased)), cka_ref(x, y, debiased), rtol=2e-4)
    idx = rng.permutation(70)[:40]  # a subsample's Gram is a sub-block of the full Gram
    np.testing.assert_allclose(
        float(cka_from_grams(gx[np.ix_(idx, idx)], gy[np.ix_(idx, idx)], debiased=debiased)),
        cka_ref(x[idx], y[idx], debiased), rtol=2e-4,
    )
