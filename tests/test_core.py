"""The traceable core (:mod:`ii_jax.core`).

Under ``jax.jit`` and ``jax.vmap`` it gives the host API's values exactly: its integer row statistics, finished on
the host, are the host's value bit for bit; with x64 enabled (a scoped context, never global) its own float64
value is too; in float32 it is that value rounded. Hamming (with ties everywhere) and the float metrics, every ties
mode, against the brute-force reference (``tests/reference.py``). Queries against candidates and the rows/columns
split against their own brute-force reference and the authors' normalisation; ``shard_map`` on four devices runs
in a subprocess (``tests/parallel_helper.py core``).
"""
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import rankdata

import parallel_helper as helper
import reference as ref
from ii_jax import (core, float_distances, imbalance_from_distances, information_imbalance, pack_bits,
                    pointwise_imbalance)
from ii_jax.core import delta_from_stats, pointwise_from_stats
from ii_jax.core import stats as core_stats
from ii_jax.distances import x64_scope

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = jax.random.key(7)


@pytest.fixture
def x64():
    """64-bit types inside the test only (a scoped context, never a global flip)."""
    with x64_scope():
        yield


def _bits(rng, n, d):
    return rng.random((n, d)) < 0.5


def _hamming_pair(rng, n=45, dx=7, dy=10):
    """Few bits: ties everywhere, so the counting and the exact sort path both run."""
    bx, by = _bits(rng, n, dx), _bits(rng, n, dy)
    return bx, by, np.asarray(pack_bits(bx)), np.asarray(pack_bits(by))


def _reference(dx, dy, k, ties, n):
    if ties == "random":
        px, py = (np.asarray(p) for p in core_stats.priorities(n, "random", KEY))
        return ref.imbalance_ordered(dx, dy, px, py, k), ref.imbalance_ordered(dy, dx, py, px, k)
    return ref.imbalance(dx, dy, k, ties), ref.imbalance(dy, dx, k, ties)


# ----------------------------------------------------------------------------------------------------------------
# One sample: the host API's values. Each test compiles one program per case (compilation dominates here).

FLOAT = jnp.result_type(float)  # float32, or float64 where the whole run has x64 enabled


def _grid(names: str, values: list, fast: list) -> pytest.MarkDecorator:
    """``parametrize`` over ``values``; those not in ``fast`` are marked slow (every one runs in the full suite, a
    subset that still covers every option in ``make test``)."""
    return pytest.mark.parametrize(names, [v if v in fast else pytest.param(*v, marks=pytest.mark.slow)
                                           for v in values])


def _stats_and_values(fn_stats, fn_values, **opts):
    """One jitted program giving the statistics and the values (one compilation per case)."""
    return jax.jit(lambda a, b, key: (fn_stats(a, b, key=key, **opts), fn_values(a, b, key=key, **opts)))


@_grid("k, ties", [(k, t) for k in (1, 3) for t in ("average", "min", "random")],
       fast=[(1, "average"), (3, "min"), (3, "random")])
def test_jit_hamming_equals_the_host_and_the_reference(rng, k, ties):
    n = 40
    bx, by, x, y = _hamming_pair(rng, n=n)
    host = information_imbalance(x, y, k=k, ties=ties, key=KEY)
    st, got = _stats_and_values(core.row_stats, core.imbalance, k=k, ties=ties)(x, y, KEY)
    assert st.dtype == jnp.int32 and st.shape == (2, 5, n)
    assert tuple(delta_from_stats(np.asarray(st), k=k, m=n - 1)) == tuple(host)  # the same integers, bit for bit
    assert got.dtype == FLOAT and got.shape == (2,)
    np.testing.assert_allclose(np.asarray(got), np.asarray(host, FLOAT), rtol=2e-7)  # the host value, rounded
    want = _reference(ref.hamming_matrix(bx), ref.hamming_matrix(by), k, ties, n)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=1e-6)


@pytest.mark.parametrize("ties", ["average", "min", "random"])
def test_vmap_over_layers_in_float64_equals_the_host_bit_for_bit(rng, x64, ties):
    n, layers = 40, 3
    bits = rng.random((layers, n, 48)) < 0.5
    xs = np.asarray(pack_bits(bits))
    ys = np.asarray(pack_bits(bits[..., :20]))  # [L, N, 1]: few bits, ties
    host = [information_imbalance(xs[i], ys[i], k=2, ties=ties, key=KEY) for i in range(layers)]
    per_layer = jax.jit(jax.vmap(lambda a, b: (core.row_stats(a, b, k=2, ties=ties, key=KEY),
                                               core.imbalance(a, b, k=2, ties=ties, key=KEY))))
    stats, vals = per_layer(xs, ys)  # one program for every layer
    assert stats.shape == (layers, 2, 5, n) and vals.shape == (layers, 2) and vals.dtype == jnp.float64
    assert [tuple(v) for v in np.asarray(vals)] == [tuple(h) for h in host]
    assert [tuple(v) for v in delta_from_stats(np.asarray(stats), k=2, m=n - 1)] == [tuple(h) for h in host]


def test_vmap_in_float32_gives_the_host_statistics(rng):
    n, layers = 40, 3
    bits = rng.random((layers, n, 48)) < 0.5
    xs, ys = np.asarray(pack_bits(bits)), np.asarray(pack_bits(bits[..., :20]))
    stats, vals = jax.vmap(lambda a, b: (core.row_stats(a, b, k=3), core.imbalance(a, b, k=3)))(xs, ys)
    host = [information_imbalance(xs[i], ys[i], k=3) for i in range(layers)]
    assert [tuple(v) for v in delta_from_stats(np.asarray(stats), k=3, m=n - 1)] == [tuple(h) for h in host]
    np.testing.assert_allclose(np.asarray(vals), np.asarray(host, FLOAT), rtol=2e-7)


@_grid("metric, ties", [(m, t) for m in ("euclidean", "sqeuclidean", "cosine") for t in ("average", "min", "random")],
       fast=[("euclidean", "average"), ("sqeuclidean", "min"), ("cosine", "random")])
def test_float_metrics_under_jit_and_vmap_equal_the_host_and_the_reference(rng, metric, ties):
    n, k = 40, 3
    x = rng.normal(size=(2, n, 8)).astype(np.float32)  # two "layers"
    y = (np.tanh(x[..., :3]) + 0.3 * rng.normal(size=(2, n, 3))).astype(np.float32)
    f = jax.jit(jax.vmap(lambda a, b: (core.row_stats(a, b, metric=metric, k=k, ties=ties, key=KEY),
                                       core.imbalance(a, b, metric=metric, k=k, ties=ties, key=KEY))))
    stats, vals = f(x, y)
    for layer in range(2):
        host = information_imbalance(x[layer], y[layer], metric=metric, k=k, ties=ties, key=KEY)
        assert tuple(delta_from_stats(np.asarray(stats[layer]), k=k, m=n - 1)) == tuple(host)
    dx, dy = (np.asarray(float_distances(a[0], metric=metric), np.float64) for a in (x, y))
    np.testing.assert_allclose(np.asarray(vals[0], np.float64), _reference(dx, dy, k, ties, n), rtol=1e-5)


def test_float_metrics_with_exact_ties(rng):
    n = 40  # small integers: squared distances exact in float32, ties everywhere
    x = rng.integers(0, 3, size=(n, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=(n, 2)).astype(np.float32)
    dx, dy = ref.sq_euclidean_matrix(x), ref.sq_euclidean_matrix(y)
    for k in (1, 3):
        st = core.row_stats(x, y, metric="euclidean", k=k)
        got = delta_from_stats(np.asarray(st), k=k, m=n - 1)
        assert tuple(got) == tuple(information_imbalance(x, y, metric="euclidean", k=k))
        np.testing.assert_allclose(got, (ref.imbalance(dx, dy, k), ref.imbalance(dy, dx, k)), atol=1e-12)


@_grid("dtype, ties", [(d, t) for d in (np.int32, np.float32) for t in ("average", "min", "random")],
       fast=[(np.int32, "average"), (np.float32, "min"), (np.int32, "random")])
def test_from_distances_and_pointwise_equal_the_host(rng, dtype, ties):
    n, k = 40, 2
    dx = ref.hamming_matrix(_bits(rng, n, 6)).astype(dtype)
    dy = ref.hamming_matrix(_bits(rng, n, 8)).astype(dtype)
    st, points = _stats_and_values(core.row_stats_from_distances, core.pointwise_from_distances, k=k,
                                   ties=ties)(dx, dy, KEY)
    st = np.asarray(st)
    assert tuple(delta_from_stats(st, k=k, m=n - 1)) == tuple(imbalance_from_distances(dx, dy, k=k, ties=ties,
                                                                                        key=KEY))
    host_points = pointwise_imbalance(dx, dy, k=k, ties=ties, key=KEY)
    np.testing.assert_array_equal(pointwise_from_stats(st, k=k, m=n - 1), host_points)
    assert points.shape == (2, n)
    np.testing.assert_allclose(np.asarray(points), host_points, rtol=2e-7)
    np.testing.assert_allclose(np.asarray(points, np.float64).mean(axis=1), _reference(dx, dy, k, ties, n),
                               rtol=1e-6)


def test_pointwise_from_features_in_float64_equals_the_host(rng, x64):
    n = 40
    bx, by, x, y = _hamming_pair(rng, n=n)
    got = jax.jit(lambda a, b: core.pointwise(a, b, k=2))(x, y)
    want = pointwise_imbalance(ref.hamming_matrix(bx), ref.hamming_matrix(by), k=2)
    assert got.dtype == jnp.float64
    np.testing.assert_array_equal(np.asarray(got), want)
    np.testing.assert_allclose(np.asarray(got).mean(axis=1), information_imbalance(x, y, k=2), rtol=1e-14)


@pytest.mark.parametrize("kernel", ["popcount32", "matmul", "native", "popcount"])
def test_every_kernel_gives_the_same_statistics(rng, kernel):
    _, _, x, y = _hamming_pair(rng, n=29, dx=40, dy=70)  # widths that are not multiples of the word groups
    want = np.asarray(core.row_stats(x, y, k=2, kernel="popcount32"))
    np.testing.assert_array_equal(np.asarray(core.row_stats(x, y, k=2, kernel=kernel, block_size=8)), want)


# ----------------------------------------------------------------------------------------------------------------
# Queries against candidates, and the rows/columns split


@pytest.mark.parametrize("ties", ["average", "min"])
@pytest.mark.parametrize("k", [1, 3])
def test_queries_against_candidates_match_the_rectangular_reference(rng, ties, k):
    bq, bc = _bits(rng, 17, 7), _bits(rng, 30, 7)  # ties everywhere
    cq, cc = _bits(rng, 17, 9), _bits(rng, 30, 9)
    xq, xc, yq, yc = (np.asarray(pack_bits(b)) for b in (bq, bc, cq, cc))
    dx, dy = ref.hamming_matrix(bq, bc), ref.hamming_matrix(cq, cc)
    want = ref.imbalance_rectangular(dx, dy, k, ties), ref.imbalance_rectangular(dy, dx, k, ties)
    st, got = jax.jit(lambda a, b, c, d: (core.row_stats(a, b, candidates=(c, d), k=k, ties=ties),
                                          core.imbalance(a, b, candidates=(c, d), k=k, ties=ties)))(xq, yq, xc, yc)
    assert st.shape == (2, 5, 17)
    np.testing.assert_allclose(delta_from_stats(np.asarray(st), k=k, m=30), want, atol=1e-12)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=1e-6)
    if k == 1:
        from_d = core.row_stats_from_distances(dx.astype(np.int32), dy.astype(np.int32), rectangular=True,
                                               k=k, ties=ties)
        np.testing.assert_array_equal(np.asarray(from_d), np.asarray(st))


def test_rectangular_normalisation_perfect_and_uninformative():
    rng = np.random.default_rng(5)
    q, m = 200, 300
    xq, xc = rng.normal(size=(q, 4)).astype(np.float32), rng.normal(size=(m, 4)).astype(np.float32)
    perfect = core.imbalance(xq, 2 * xq, candidates=(xc, 2 * xc), metric="euclidean")  # a scaled copy: same order
    np.testing.assert_allclose(np.asarray(perfect), [2 / m, 2 / m], rtol=1e-6)
    noise = core.imbalance(xq, rng.normal(size=(q, 4)).astype(np.float32),
                           candidates=(xc, rng.normal(size=(m, 4)).astype(np.float32)), metric="euclidean")
    assert np.all(np.abs(np.asarray(noise) - (m + 1) / m) < 0.15)  # uninformative: about (M + 1) / M


@pytest.mark.parametrize("ties", ["average", "min", "random"])
def test_queries_that_are_candidates_are_rows_of_one_sample(rng, ties):
    _, _, x, y = _hamming_pair(rng, n=40)
    whole = np.asarray(core.row_stats(x, y, k=2, ties=ties, key=KEY))
    parts = []
    for rows in (np.arange(0, 20), np.arange(20, 40)):  # e.g. two devices' shares of the rows (one compilation)
        st = core.row_stats(x[rows], y[rows], candidates=(x, y), query_ids=rows, k=2, ties=ties, key=KEY)
        np.testing.assert_array_equal(np.asarray(st), whole[:, :, rows])
        parts.append(np.asarray(st))
    merged = delta_from_stats(np.concatenate(parts, axis=-1), k=2, m=39)
    assert tuple(merged) == tuple(information_imbalance(x, y, k=2, ties=ties, key=KEY))
    if ties != "random":  # the brute-force reference of a share, from distances
        rows = np.arange(20, 40)
        dx, dy = ref.hamming_matrix(_unpack(x)), ref.hamming_matrix(_unpack(y))
        want = (ref.imbalance_rectangular(dx[rows], dy[rows], 2, ties, self_cols=rows),
                ref.imbalance_rectangular(dy[rows], dx[rows], 2, ties, self_cols=rows))
        st = core.row_stats_from_distances(dx[rows].astype(np.int32), dy[rows].astype(np.int32), rectangular=True,
                                           query_ids=rows, k=2, ties=ties)
        np.testing.assert_allclose(delta_from_stats(np.asarray(st), k=2, m=39), want, atol=1e-12)


def _unpack(words):
    return np.unpackbits(np.asarray(words).view(np.uint8), axis=1, bitorder="little").astype(bool)


def test_split_is_the_rectangular_value_of_its_halves(rng):
    n = 41
    bx, by, x, y = _hamming_pair(rng, n=n)
    key = jax.random.key(3)
    rows, cols = core.split_rows_columns(jax.random.split(key)[0], n)  # the split split=True draws
    rows, cols = np.asarray(rows), np.asarray(cols)
    assert len(rows) == n // 2 and len(cols) == n - n // 2 and not set(rows) & set(cols)
    dx, dy = ref.hamming_matrix(bx), ref.hamming_matrix(by)
    sx, sy = dx[np.ix_(rows, cols)], dy[np.ix_(rows, cols)]
    want = ref.imbalance_rectangular(sx, sy, 1), ref.imbalance_rectangular(sy, sx, 1)
    got = jax.jit(lambda a, b, kk: core.imbalance(a, b, split=True, key=kk))(x, y, key)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=1e-6)
    got_d = core.imbalance_from_distances(dx.astype(np.int32), dy.astype(np.int32), split=True, key=key)
    np.testing.assert_array_equal(np.asarray(got_d), np.asarray(got))


def test_split_matches_the_authors_normalisation_without_ties():
    # The authors' geometry.py: min ranks over the M columns, neighbour = rank 1, 2 mean(rank - 1) / (M - 2).
    rng = np.random.default_rng(11)
    n = 120
    x = rng.normal(size=(n, 5)).astype(np.float32)
    y = (x[:, :2] + 0.5 * rng.normal(size=(n, 2))).astype(np.float32)
    key = jax.random.key(1)
    got = np.asarray(core.imbalance(x, y, metric="euclidean", split=True, key=key), np.float64)
    rows, cols = (np.asarray(a) for a in core.split_rows_columns(jax.random.split(key)[0], n))
    dx = np.asarray(float_distances(x[rows], x[cols]), np.float64)
    dy = np.asarray(float_distances(y[rows], y[cols]), np.float64)
    m = len(cols)

    def authors(da, db):
        ra, rb = rankdata(da, method="min", axis=1), rankdata(db, method="min", axis=1)
        rel = np.where(ra <= 1, rb - 1, -1)
        return 2.0 * rel[rel != -1].mean() / (m - 2)

    np.testing.assert_allclose((m * got - 2) / (m - 2), [authors(dx, dy), authors(dy, dx)], rtol=1e-5)


# ----------------------------------------------------------------------------------------------------------------
# Bad input: one clear line each, at trace time


def test_bad_input(rng):
    _, _, x, y = _hamming_pair(rng, n=20)
    f = rng.normal(size=(20, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="smaller than N-1=19"):
        core.imbalance(x, y, k=19)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        core.imbalance(x, y, k=0)
    with pytest.raises(ValueError, match="ties must be one of"):
        core.imbalance(x, y, ties="max")
    with pytest.raises(ValueError, match="needs a PRNG key"):
        core.imbalance(x, y, ties="random")
    with pytest.raises(ValueError, match="metric must be one of"):
        core.imbalance(f, f, metric="manhattan")
    with pytest.raises(TypeError, match="packed uint32 words"):
        core.imbalance(f, f)
    with pytest.raises(TypeError, match="must be a float array"):
        core.imbalance(x, y, metric="cosine")
    with pytest.raises(ValueError, match="same points"):
        core.imbalance(x, y[:10])
    with pytest.raises(ValueError, match="same width"):
        core.imbalance(x, y, candidates=(np.zeros((20, 3), np.uint32), y))
    with pytest.raises(TypeError, match="candidates must be a pair"):
        core.imbalance(x, y, candidates=x)
    with pytest.raises(ValueError, match="smaller than the 5 candidates"):
        core.imbalance(x, y, candidates=(x[:5], y[:5]), k=5)
    with pytest.raises(ValueError, match="query_ids must be integers"):
        core.imbalance(x, y, candidates=(x, y), query_ids=np.arange(3))
    with pytest.raises(ValueError, match="pass candidates too"):
        core.imbalance(x, y, query_ids=np.arange(20))
    with pytest.raises(ValueError, match="split=True draws the split from a PRNG key"):
        core.imbalance(x, y, split=True)
    with pytest.raises(ValueError, match="neither candidates"):
        core.imbalance(x, y, split=True, key=KEY, candidates=(x, y))
    d = np.zeros((6, 8), np.int32)
    with pytest.raises(ValueError, match="must be square"):
        core.imbalance_from_distances(d, d)
    with pytest.raises(ValueError, match="same shape"):
        core.imbalance_from_distances(d, d[:, :7], rectangular=True)
    with pytest.raises(ValueError, match="exact int32 sums"):
        core.imbalance_from_distances(np.zeros((1, 1 << 19), np.int32), np.zeros((1, 1 << 19), np.int32),
                                      rectangular=True)


# ----------------------------------------------------------------------------------------------------------------
# shard_map on four devices (a subprocess: the device count is fixed when JAX starts)


def test_shard_map_on_four_devices_equals_the_host():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env.update(JAX_PLATFORMS="cpu", PYTHONPATH=os.path.dirname(HERE),
               XLA_FLAGS="--xla_force_host_platform_device_count=4")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "parallel_helper.py"), "core"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    want = helper.core_host_results()  # meanwhile, in this process: the host API on one device
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    res = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    got = json.loads(res[-1][len("RESULT "):])
    assert got["device_count"] == 4
    assert set(got["results"]) == set(want)
    for name, value in want.items():
        assert got["results"][name] == value, name
