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
    assert np.isnan(est.std).all()  # no spread to scale to N: no error bar
    np.testing.assert_allclose(jackknife(x, y, n_sub=120, repeats=3, key=jax.random.key(0), error_bar="subset").std,
                               0, atol=1e-12)
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
    # fewer samples per replica: a larger spread, rescaled to the same standard error at N (within its noise)
    assert np.all(small.values.std(0) > est.values.std(0))
    np.testing.assert_allclose(small.std, est.std, rtol=0.2)
    points = pointwise_imbalance(ref.hamming_matrix(bx), ref.hamming_matrix(by))
    np.testing.assert_allclose(est.std, points.std(1) / np.sqrt(120), rtol=0.15)  # the SE of a mean of N points


def test_shuffled_null_is_about_one(spaces):
    bx, by = spaces
    x, y = pack_bits(bx), pack_bits(by)
    assert max(information_imbalance(x, y)) < 0.6
    nd = shuffled_null(x, y, permutations=50, key=jax.random.key(4))
    assert np.all(np.abs(nd.mean - nd.expected) < 4 * nd.std / np.sqrt(50))
    np.testing.assert_allclose(nd.p_below, 1 / 51)  # the true pairing lies below every permutation


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


# ---------------------------------------------------------------------------------------------------------------
# Paired differences: the same jackknife subsets for every Δ, checked against an independent NumPy computation

def _np_paired(pairs, subsets, stat):
    """Brute force: reference Δ of every pair on every subset, then the statistic and its standard error at N
    (the ddof=1 std over subsets times the delete-d jackknife's sqrt(m / (N - m)))."""
    reps = []
    for s in subsets:
        sub = np.ix_(s, s)
        v = np.array([[ref.imbalance(dx[sub], dy[sub]), ref.imbalance(dy[sub], dx[sub])] for dx, dy in pairs])
        reps.append(stat(v))
    full = np.array([[ref.imbalance(dx, dy), ref.imbalance(dy, dx)] for dx, dy in pairs])
    n, m = pairs[0][0].shape[0], len(subsets[0])
    return stat(full), np.std(reps, ddof=1) * np.sqrt(m / (n - m)), np.array(reps)


@pytest.fixture
def four_spaces(rng):
    a = rng.normal(size=(40, 24))
    xa, ya = a > 0, (a[:, :16] + 0.4 * rng.normal(size=(40, 16))) > 0
    xb, yb = a > 0, (a[:, :6] + 0.4 * rng.normal(size=(40, 6))) > 0
    return [(ref.hamming_matrix(x), ref.hamming_matrix(y)) for x, y in ((xa, ya), (xb, yb))]


def test_jackknife_subsets_are_those_of_resample_from_distances(four_spaces):
    from ii_jax.resample import jackknife_subsets

    (dx, dy), _ = four_spaces
    key = jax.random.key(3)
    subsets = jackknife_subsets(40, (4, 15), key)
    est = resample_from_distances(dx, dy, n_sub=15, repeats=4, key=key)
    want = [[ref.imbalance(dx[np.ix_(s, s)], dy[np.ix_(s, s)]), ref.imbalance(dy[np.ix_(s, s)], dx[np.ix_(s, s)])]
            for s in subsets]
    np.testing.assert_allclose(est.values, want, atol=1e-12)


def test_paired_difference_matches_numpy_on_shared_subsets(four_spaces):
    from ii_jax.resample import jackknife_subsets, paired_difference

    (dxa, dya), (dxb, dyb) = four_spaces
    key = jax.random.key(7)
    for direction, col in (("x_to_y", lambda v: v[:, 0]), ("y_to_x", lambda v: v[:, 1]),
                           ("mean", lambda v: v.mean(1))):
        r = paired_difference(dxa, dya, dxb, dyb, jackknife=(5, 16), key=key, direction=direction)
        subsets = jackknife_subsets(40, (5, 16), key)
        value, std, reps = _np_paired(four_spaces, subsets, lambda v, c=col: c(v)[0] - c(v)[1])
        np.testing.assert_allclose(r.value, value, atol=1e-12)
        np.testing.assert_allclose(r.std, std, atol=1e-12)
        np.testing.assert_allclose(r.replicas, reps, atol=1e-12)
        np.testing.assert_allclose(r.part_replicas[:, 0] - r.part_replicas[:, 1], reps, atol=1e-12)
        assert r.z == pytest.approx(value / std)
        assert r.parts.shape == (2,) and r.a - r.b == pytest.approx(r.difference)


def test_paired_std_is_not_the_unpaired_one(four_spaces):
    """Shared subsets: the same space against itself differs by exactly 0 on every subset (unpaired it would not)."""
    from ii_jax.resample import paired_difference

    (dxa, dya), _ = four_spaces
    r = paired_difference(dxa, dya, dxa, dya, jackknife=(4, 20), key=jax.random.key(0))
    assert r.value == 0 and r.std == 0 and np.isnan(r.z)
    assert np.std(r.part_replicas[:, 0]) > 0  # the Δ's themselves do vary over the subsets


def test_direction_difference_matches_numpy(four_spaces):
    from ii_jax.resample import direction_difference, jackknife_subsets

    (dx, dy), _ = four_spaces
    key = jax.random.key(2)
    r = direction_difference(dx, dy, jackknife=(5, 16), key=key)
    value, std, _ = _np_paired([(dx, dy)], jackknife_subsets(40, (5, 16), key), lambda v: v[0, 0] - v[0, 1])
    np.testing.assert_allclose([r.value, r.std], [value, std], atol=1e-12)


def test_paired_statistic_reads_several_statistics_from_one_pass(four_spaces):
    """A sequence of statistics gives each the NumPy oracle's value, error bar and replicas on the shared subsets;
    a matrix shared by several pairs (one object, gathered once per subset) gives what separate copies give."""
    from ii_jax.resample import jackknife_subsets, paired_statistic

    (dxa, dya), (dxb, dyb) = four_spaces
    shared = [(dxa, dya), (dxa, dyb)]  # dxa is one object in both pairs
    copies = [(dxa, dya), (dxa.copy(), dyb)]
    stats = [lambda v: v[0, 0] - v[1, 0], lambda v: v[:, 1].mean(), lambda v: v[1, 0]]
    key, jk = jax.random.key(5), (4, 18)
    many = paired_statistic(shared, stats, jackknife=jk, key=key)
    assert isinstance(many, list) and len(many) == 3
    subsets = jackknife_subsets(40, jk, key)
    for r, f in zip(many, stats, strict=True):
        value, std, reps = _np_paired(copies, subsets, f)
        np.testing.assert_allclose([r.value, r.std], [value, std], atol=1e-12)
        np.testing.assert_allclose(r.replicas, reps, atol=1e-12)
        one = paired_statistic(copies, f, jackknife=jk, key=key)
        np.testing.assert_array_equal(one.replicas, r.replicas)
    with pytest.raises(TypeError, match="non-empty sequence"):
        paired_statistic(shared, [], jackknife=jk, key=key)


def test_paired_statistic_validates(four_spaces):
    from ii_jax.resample import paired_statistic

    (dx, dy), _ = four_spaces
    with pytest.raises(ValueError, match="same N"):
        paired_statistic([(dx, dy), (dx[:30, :30], dy[:30, :30])], lambda v: 0.0, jackknife=(3, 10),
                         key=jax.random.key(0))
    with pytest.raises(ValueError, match="too small"):
        paired_statistic([(dx, dy)], lambda v: 0.0, jackknife=(3, 100), key=jax.random.key(0))
    with pytest.raises(ValueError, match="key is required"):
        paired_statistic([(dx, dy)], lambda v: 0.0, jackknife=(3, 10), key=None)


def test_verdicts():
    from ii_jax.resample import equivalence_verdict, verdict

    assert verdict((-0.1, 0.01)) == "holds"
    assert verdict((0.1, 0.01)) == "does not hold"
    assert verdict((0.1, 0.01), expect="positive") == "holds"
    assert verdict((0.01, 0.01)) == "inconclusive"
    assert verdict((0.1, float("nan"))) == "inconclusive"
    assert verdict((-0.1, 0.0)) == "holds"  # an exact difference with no spread
    assert equivalence_verdict((0.0, 0.01), tolerance=0.05) == "holds"
    assert equivalence_verdict((0.1, 0.01), tolerance=0.05) == "does not hold"
    assert equivalence_verdict((0.04, 0.01), tolerance=0.05) == "inconclusive"
    with pytest.raises(ValueError, match="expect"):
        verdict((0.0, 1.0), expect="down")


# ----------------------------------------------------------------------------------------------------------------
# The one subset drawer (resample.draw_subsets) and the draws each caller made before it existed


def _old_numpy_subsets(key, n, n_sub, repeats):
    """resample.jackknife_subsets / resample_from_distances / the analyses, as they drew before draw_subsets."""
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().astype(np.uint64))
    return np.stack([np.sort(rng.choice(n, size=n_sub, replace=False)) for _ in range(repeats)])


def _old_jax_picks(key, n, n_sub, repeats):
    """bid.profile._jackknife_members and synthetic._subsamples, as they drew before draw_subsets (unsorted)."""
    keys = jax.random.split(key, int(repeats))
    return np.asarray(jax.vmap(lambda k: jax.random.permutation(k, n)[: int(n_sub)])(keys))


@pytest.mark.parametrize(("seed", "n", "n_sub", "repeats"), [(0, 10, 4, 3), (5, 200, 80, 6), (11, 57, 57, 2)])
def test_draw_subsets_reproduces_every_old_drawer(seed, n, n_sub, repeats):
    import ii_jax.bid as bidmod
    from ii_jax import synthetic
    from ii_jax.resample import draw_subsets, jackknife_subsets, subset_members

    key = jax.random.key(seed)
    numpy_stream = draw_subsets(key, n, n_sub, repeats)
    np.testing.assert_array_equal(numpy_stream, _old_numpy_subsets(key, n, n_sub, repeats))
    assert numpy_stream.dtype == np.int64
    np.testing.assert_array_equal(jackknife_subsets(n, (repeats, n_sub), key), numpy_stream)
    jax_stream = draw_subsets(key, n, n_sub, repeats, stream="jax")
    picks = _old_jax_picks(key, n, n_sub, repeats)
    np.testing.assert_array_equal(jax_stream, np.sort(picks, axis=1))
    assert jax_stream.dtype == picks.dtype
    if n_sub >= 4:
        np.testing.assert_array_equal(synthetic._subsamples(key, n, n_sub, repeats, "t"), np.sort(picks, axis=1))
    old_members = np.zeros((repeats, n), bool)
    np.put_along_axis(old_members, picks, True, axis=1)
    np.testing.assert_array_equal(bidmod.profile._jackknife_members(key, n, n_sub, repeats, "t"), old_members)
    np.testing.assert_array_equal(subset_members(jax_stream, n), old_members)
    for s in (numpy_stream, jax_stream):  # sorted, distinct points
        assert ((s[:, 1:] > s[:, :-1]).all()) and s.min() >= 0 and s.max() < n
    if n_sub < n:  # the two streams are different draws: each caller keeps its own
        assert not np.array_equal(numpy_stream, jax_stream)


def test_draw_subsets_validates():
    from ii_jax.resample import draw_subsets

    with pytest.raises(ValueError, match="key is required"):
        draw_subsets(None, 10, 4, 2)
    with pytest.raises(ValueError, match="stream must be one of"):
        draw_subsets(jax.random.key(0), 10, 4, 2, stream="torch")


# ----------------------------------------------------------------------------------------------------------------
# Sub-matrices gathered on the device or on the host: the same values, every route


def _routes(monkeypatch, device: bool):
    import ii_jax.resample as rs

    for use in rs._HOST_GATHER:
        monkeypatch.setitem(rs._HOST_GATHER, use, () if device else (jax.default_backend(),))


@pytest.mark.parametrize("dtype", [np.int32, np.float32, np.float64, np.uint8])
def test_device_and_host_gathers_give_identical_resampling(four_spaces, monkeypatch, dtype):
    import ii_jax.resample as rs

    (dxa, dya), (dxb, dyb) = (tuple(np.asarray(m, dtype) for m in pair) for pair in four_spaces)
    key = jax.random.key(4)
    s = rs.draw_subsets(key, 40, 15, 1)[0]
    for device in (False, True):
        full, sub = rs._gatherer([dxa, dya], on_device=device)
        for got, m in zip(sub(s), (dxa, dya), strict=True):
            np.testing.assert_array_equal(np.asarray(got), m[np.ix_(s, s)])
        # float64 without x64 would be narrowed on the device: it stays on the host (exact ranks there)
        narrowed = dtype == np.float64 and not jax.config.jax_enable_x64
        assert isinstance(full[0], jax.Array) == (device and not narrowed)
    results = []
    for device in (False, True):
        _routes(monkeypatch, device)
        results.append([
            rs.resample_from_distances(dxa, dya, n_sub=15, repeats=4, key=key).values,
            rs.paired_difference(dxa, dya, dxb, dyb, jackknife=(4, 16), key=key).part_replicas,
        ])
    for host, dev in zip(*results, strict=True):
        np.testing.assert_array_equal(dev, host)


def test_resampling_takes_device_arrays(four_spaces, monkeypatch):
    import jax.numpy as jnp

    import ii_jax.resample as rs

    (dx, dy), _ = four_spaces
    key = jax.random.key(5)
    want = rs.resample_from_distances(dx, dy, n_sub=15, repeats=3, key=key).values
    for device in (False, True):
        _routes(monkeypatch, device)
        got = rs.resample_from_distances(jnp.asarray(dx), jnp.asarray(dy), n_sub=15, repeats=3, key=key).values
        np.testing.assert_array_equal(got, want)
        r = rs.direction_difference(jnp.asarray(dx), jnp.asarray(dy), jackknife=(3, 15), key=key)
        np.testing.assert_array_equal(r.part_replicas, rs.direction_difference(dx, dy, jackknife=(3, 15),
                                                                              key=key).part_replicas)


# ----------------------------------------------------------------------------------------------------------------
# The error-bar rule at N, t tests and Holm


def test_standard_error_of_a_mean_over_subsets_is_its_se_at_n(rng):
    """For a sample mean the delete-d jackknife is exact in expectation: the rescaled spread of subset means is
    the textbook standard error s / sqrt(N), whatever the subset size; and so are random halves."""
    from ii_jax.resample import Jackknife, draw_subsets, replica_subsets, standard_error

    x = rng.exponential(size=500)
    want = x.std(ddof=1) / np.sqrt(len(x))
    halves = replica_subsets(Jackknife(4000, 250, "halves"), len(x), jax.random.key(1))
    assert float(standard_error([x[s].mean() for s in halves], n=500, n_sub=250)) == pytest.approx(want, rel=0.05)
    for m in (100, 200, 400):
        subs = draw_subsets(jax.random.key(m), len(x), m, 4000)
        se = float(standard_error(x[subs].mean(1), n=len(x), n_sub=m, error_bar="delete_d"))
        assert se == pytest.approx(want, rel=0.05), m
        raw = float(standard_error(x[subs].mean(1), n=len(x), n_sub=m, error_bar="subset"))
        assert raw == pytest.approx(want * np.sqrt((len(x) - m) / m), rel=0.05)
    boot = np.array([x[rng.integers(0, 500, 50)].mean() for _ in range(4000)])
    assert float(standard_error(boot, n=500, n_sub=50, replace=True)) == pytest.approx(want, rel=0.05)


def test_jackknife_specs():
    from ii_jax.resample import Jackknife, as_jackknife

    assert as_jackknife("auto", 600) == Jackknife(30, 300, "halves")
    assert as_jackknife("paper", 5000) == Jackknife(5, 2000, "subset")
    assert as_jackknife((5, 100), 600) == Jackknife(5, 100, "delete_d")
    assert as_jackknife((5, 100, "halves"), 601) == Jackknife(5, 300, "halves")  # halves: n_sub is N // 2
    assert as_jackknife({"repeats": 5, "n_sub": 100, "error_bar": "subset"}, 600).error_bar == "subset"
    with pytest.raises(ValueError, match="error_bar"):
        as_jackknife((5, 100, "sideways"), 600)


def test_t_p_values_and_quantiles_against_known_values():
    from ii_jax.resample import t_p_value, t_quantile

    # Student's t tables: t_{0.975, 4} = 2.776, t_{0.975, 29} = 2.045; the normal's 1.96
    assert float(t_quantile(0.95, 4)) == pytest.approx(2.776, abs=1e-3)
    assert float(t_p_value(2.776, 4)) == pytest.approx(0.05, abs=1e-3)
    assert float(t_p_value(1.959964, np.inf)) == pytest.approx(0.05, abs=1e-5)
    assert float(t_p_value(-3.0, 10, alternative="less")) == pytest.approx(float(t_p_value(3.0, 10)) / 2)


def test_holm_matches_its_definition(rng):
    from ii_jax.resample import holm

    for _ in range(20):
        p = rng.uniform(0, 0.1, size=rng.integers(1, 8))
        order = np.argsort(p)
        m = len(p)
        want = np.empty(m)
        running = 0.0
        for rank, i in enumerate(order):  # step-down: max over the earlier adjusted values
            running = max(running, min(1.0, (m - rank) * p[i]))
            want[i] = running
        np.testing.assert_allclose(holm(p), want)


def test_sign_and_equivalence_tests():
    from ii_jax.resample import decide, equivalence_test, sign_test

    p_holds, p_fails = sign_test((-0.05, 0.01, 29))
    assert p_holds < 1e-4 and p_fails > 0.99
    assert sign_test((0.05, 0.01), expect="positive")[0] < 1e-5
    assert decide(*equivalence_test((0.0, 0.01, 29), tolerance=0.05)) == "holds"
    assert decide(*equivalence_test((0.2, 0.01, 29), tolerance=0.05)) == "does not hold"
    assert decide(*equivalence_test((0.05, 0.01, 29), tolerance=0.05)) == "inconclusive"
    # TOST: the larger one-sided p-value; at d = 0 both tails are equal
    p, _ = equivalence_test((0.0, 0.02, 1000), tolerance=0.04)
    assert p == pytest.approx(0.0228, abs=2e-3)  # P(Z > 2)
