"""The study's analyses against the brute-force reference, on synthetic shard stores and arrays; bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

import reference as ref
from extract import writer
from ii_jax import analyses, binary, cli, information_imbalance
from ii_jax.analyses import ArrayStore

N, L, T, E = 60, 4, 6, 40


def _states(seed, shared, strength):
    """[N, L, T, E] float states: layer l mixes the shared signal with weight strength[l] into fresh noise."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(N, L, T, E))
    return (np.asarray(strength)[None, :, None, None] * shared[:, None] + noise).astype(np.float32)


def _store(path, states, side, ids=None, labels=None):
    n, n_layers, t, e = states.shape
    ids = ids or [f"item-{i}" for i in range(n)]
    header = {"model": {"id": "fake"}, "dataset": {"spec": "fake", "side": side}, "embedding_layer": 0,
              "relative_depth": [i / (n_layers - 1) for i in range(n_layers)], "library": {"name": "ii-jax"},
              "labels": labels}
    return writer.write_store(path, header=header, item_ids=ids, chunks=[np.arange(n)],
                              compute=lambda idx: states[idx], layers=range(n_layers), tokens=t, hidden=e,
                              token_counts=[t] * n, store_floats=True)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two paired stores whose layer 2 shares most of its signal (the 'semantic layer')."""
    root = tmp_path_factory.mktemp("stores")
    shared = np.random.default_rng(1).normal(size=(N, T, E))
    strength = [0.0, 1.0, 4.0, 1.5]
    a = _store(root / "a", _states(2, shared, strength), "en")
    b = _store(root / "b", _states(3, shared, strength), "es")
    return analyses.as_source(a), analyses.as_source(b), root


def _ref_imbalance(x, y):
    dx, dy = ref.hamming_matrix(binary.unpack_bits(x, x.shape[1] * 32)), ref.hamming_matrix(
        binary.unpack_bits(y, y.shape[1] * 32))
    return ref.imbalance(dx, dy), ref.imbalance(dy, dx)


def test_layer_profile_matches_reference_and_finds_the_semantic_layer(pair):
    a, b, _ = pair
    p = analyses.layer_profile(a, b, tokens=3, jackknife=(4, 30), progress=False, include_embedding=True)
    for i, layer in enumerate(p.layers):
        x = np.asarray(a.bits(layer))[:, -3:].reshape(N, -1)
        y = np.asarray(b.bits(layer))[:, -3:].reshape(N, -1)
        np.testing.assert_allclose(p.values[i], _ref_imbalance(x, y), atol=1e-9)
    assert p.values.shape == p.std.shape == p.null.shape == p.null_p.shape == (L, 2)
    assert p.null_band.shape == (L, 2, 2) and p.params["null_permutations"] == 200
    assert (p.std > 0).all() and np.isfinite(p.std).all()
    np.testing.assert_allclose(p.null, N / (N - 1), atol=0.05)  # 200 shuffled pairings: no information
    assert (p.null_band[..., 0] < p.null).all() and (p.null < p.null_band[..., 1]).all()
    assert (p.null_p[2] < 0.01).all() and (p.null_p[0] > 0.01).all()  # the shared layer lies below its null
    sem = analyses.semantic_layers(p)
    assert sem.layer == 2 and sem.region[0] <= 2 <= sem.region[1]
    assert p.values[0].min() > 0.6 and p.values[2].max() < 0.4


def test_embedding_layer_is_left_out_by_default_everywhere(pair, tmp_path):
    """Paper §3.1: every layer analysis runs "excluding the embedding layer" (the store's embedding_layer, 0)."""
    a, b, _ = pair
    quick = dict(progress=False)
    runs = {
        "layer_profile": lambda **kw: analyses.layer_profile(a, b, tokens=2, jackknife=None, null=False, **quick, **kw).layers,
        "window_sweep": lambda **kw: analyses.window_sweep(a, b, windows=[1, 2], **quick, **kw).layers,
        "token_distance": lambda **kw: analyses.token_distance(a, tau_max=2, **quick, **kw).layers,
        "cross_model": lambda layers=None, **kw: analyses.cross_model(a, b, tokens=2, layers_a=layers, **quick,
                                                                      **kw).layers_a,
        "cross_modal": lambda **kw: analyses.cross_modal(a, b, text_layer=2, text_tokens=2, image_tokens=2,
                                                         bootstrap=None, null=False, **quick, **kw).layers,
        "image_pairs": lambda **kw: analyses.image_pairs(ArrayStore([np.asarray(a.bits(l)) for l in a.layers],
                                                                    labels=np.arange(N) // 6, embedding_layer=0),
                                                         replications=1, tokens=2, null=False, **quick, **kw).layers,
    }
    for name, run in runs.items():
        assert list(run()) == [1, 2, 3], name
        assert list(run(include_embedding=True)) == [0, 1, 2, 3], name
        assert list(run(layers=[0, 2])) == [0, 2], name  # explicit layers are taken as given
    from ii_jax import bid_profile_store

    assert len(bid_profile_store(a, tokens=(2,))[2].d0) == L - 1
    assert len(bid_profile_store(a, tokens=(2,), include_embedding=True)[2].d0) == L
    # a profile that holds the embedding layer: it is never the semantic layer unless asked
    p = analyses.Profile(np.arange(4), np.arange(4) / 3, np.array([[0.1, 0.1], [0.5, 0.5], [0.3, 0.3], [0.6, 0.6]]),
                         np.full((4, 2), np.nan), np.full((4, 2), np.nan), np.full((4, 2, 2), np.nan),
                         np.full((4, 2), np.nan), 50, {"embedding_layer": 0})
    assert analyses.semantic_layers(p).layer == 2
    assert analyses.semantic_layers(p, include_embedding=True).layer == 0
    # arrays without an embedding layer keep every layer
    assert list(analyses.layer_profile(ArrayStore([np.asarray(a.bits(l)) for l in a.layers]),
                                       ArrayStore([np.asarray(b.bits(l)) for l in b.layers]), tokens=2,
                                       jackknife=None, null=False, progress=False).layers) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="not among the layers"):
        ArrayStore([np.asarray(a.bits(0))], embedding_layer=3)


def test_default_jackknife_is_accepted_as_jackknife(pair):
    """default_jackknife(N) passed as jackknife= runs 30 random splits into halves, like "auto"."""
    a, b, _ = pair
    jk = analyses.default_jackknife(N)
    assert (jk.repeats, jk.n_sub) == (30, 30) and jk == analyses.Jackknife(30, 30, "halves")
    kw = dict(tokens=2, null=False, progress=False, layers=[2])
    auto = analyses.layer_profile(a, b, jackknife="auto", **kw)
    given = analyses.layer_profile(a, b, jackknife=jk, **kw)
    assert given.params["jackknife"] == auto.params["jackknife"] == {"repeats": 30, "n_sub": 30, "error_bar": "halves"}
    np.testing.assert_array_equal(given.std, auto.std)
    with pytest.raises(ValueError, match="too small for a jackknife of 61 points"):
        analyses.layer_profile(a, b, jackknife=(5, 61), **kw)
    with pytest.raises(ValueError, match="pair of integers"):
        analyses.layer_profile(a, b, jackknife=(5, 2.5), **kw)


def test_profile_is_the_same_from_arrays(pair):
    a, b, _ = pair
    arr_a = ArrayStore([np.asarray(a.bits(l)) for l in a.layers], embedding_layer=0)
    arr_b = ArrayStore([np.asarray(b.bits(l)) for l in b.layers], embedding_layer=0)
    kw = dict(tokens=2, jackknife=None, null=False, progress=False)
    np.testing.assert_array_equal(analyses.layer_profile(a, b, **kw).values,
                                  analyses.layer_profile(arr_a, arr_b, **kw).values)


def test_array_store_reads_like_a_shard_store(pair):
    """An ArrayStore copied from a shard store answers the store's accessors with the same arrays, so BID (which
    reads ``bits(layer)`` and ``n_bits``) gives the same profile from either."""
    from ii_jax import bid_profile_store

    a, _, _ = pair
    arr = ArrayStore([np.asarray(a.bits(l)) for l in a.layers], layers=a.layers, relative_depth=a.relative_depth,
                     embedding_layer=a.embedding_layer, n_bits=a.n_bits)
    assert (arr.layers, arr.tokens, arr.n_bits, len(arr)) == (a.layers, a.tokens, a.n_bits, len(a))
    for la in a.layers:
        np.testing.assert_array_equal(arr.bits(la), np.asarray(a.bits(la)))
    with pytest.raises(ValueError, match="layer 99 is not stored"):
        arr.bits(99)
    with pytest.raises(ValueError, match="no float activations"):
        arr.floats(a.layers[0])
    ours, theirs = (bid_profile_store(s, tokens=(2,))[2] for s in (arr, a))
    np.testing.assert_array_equal(ours.d0, theirs.d0)
    np.testing.assert_array_equal(ours.n_bits, theirs.n_bits)


def test_representations(pair):
    a, b, _ = pair
    res = analyses.compare_representations(a, b, representations=("concat", "last", "mean", "float"), tokens=3,
                                           jackknife=None, null=False, progress=False, include_embedding=True)
    layer = 2
    fa, fb = np.asarray(a.floats(layer), np.float32), np.asarray(b.floats(layer), np.float32)
    xa = ref.clip_and_normalize(fa[:, -3:].mean(1), 0.0005, 0.95)
    xb = ref.clip_and_normalize(fb[:, -3:].mean(1), 0.0005, 0.95)
    want = ref.imbalance(ref.sq_euclidean_matrix(xa), ref.sq_euclidean_matrix(xb))
    assert res["mean"].values[layer, 0] == pytest.approx(want, abs=1e-9)
    last = information_imbalance(np.asarray(a.bits(layer))[:, -1], np.asarray(b.bits(layer))[:, -1])
    np.testing.assert_allclose(res["last"].values[layer], last, atol=1e-12)
    for r in res.values():  # every summary sees the shared layer as the most informative
        assert int(np.argmin(r.values[:, 0])) == 2


def test_window_sweep_minimum_is_the_min_over_layers(pair):
    a, b, _ = pair
    s = analyses.window_sweep(a, b, windows=[1, 3, T], progress=False, include_embedding=True)
    assert s.values.shape == (3, L, 2)
    np.testing.assert_array_equal(s.minimum, s.values.min(axis=1))
    p = analyses.layer_profile(a, b, tokens=3, jackknife=None, null=False, progress=False, include_embedding=True)
    np.testing.assert_allclose(s.values[1], p.values, atol=1e-12)
    assert (s.argmin == 2).all()  # every window finds the shared layer


def test_token_distance_matches_reference_and_asymmetry_definition(pair):
    a, _, _ = pair
    td = analyses.token_distance(a, tau_max=3, jackknife=(3, 30), progress=False, include_embedding=True)
    bits = np.asarray(a.bits(1))
    for tau in (1, 3):
        want = _ref_imbalance(bits[:, -1], bits[:, -1 - tau])
        np.testing.assert_allclose((td.backward[1, tau - 1], td.forward[1, tau - 1]), want, atol=1e-9)
    np.testing.assert_allclose(td.asymmetry, (td.backward - td.forward).mean(axis=1))
    assert np.isfinite(td.asymmetry_std).all()
    with pytest.raises(ValueError, match="tau_max"):
        analyses.token_distance(a, tau_max=T)


def test_image_pairs_are_disjoint_same_class_and_informative(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(15), 4)
    centre = rng.normal(size=(15, 1, T, E))
    states = (0.8 * centre[labels] + rng.normal(size=(N, 2, T, E))).astype(np.float32)
    src = analyses.as_source(_store(tmp_path / "img", states, "image", labels=[f"c{c}" for c in labels]))
    for seed in range(3):
        p = analyses.same_class_pairs(src.manifest["labels"], seed=seed)
        assert len(np.unique(p)) == p.size  # without repetition
        assert all(labels[i] == labels[j] for i, j in p)
    r = analyses.image_pairs(src, replications=3, tokens=2, progress=False, include_embedding=True)
    assert r.n_pairs == 30 and r.values.shape == (3, 2, 2)
    assert (r.mean < 0.6).all() and (r.std > 0).all() and (r.null > 0.75).all()
    assert r.null_band.shape == (2, 2, 2) and (r.null_p < 0.05).all()  # same-class pairs lie below the null
    assert not np.array_equal(r.null_band[0], r.null_band[1])  # every layer draws its own permutations
    x = np.asarray(src.bits(1))[:, -2:].reshape(N, -1)
    p = analyses.same_class_pairs(src.manifest["labels"], seed=0)
    np.testing.assert_allclose(r.values[0, 1], _ref_imbalance(x[p[:, 0]], x[p[:, 1]]), atol=1e-9)
    with pytest.raises(ValueError, match="labels"):
        analyses.image_pairs(ArrayStore([np.asarray(src.bits(0))]))


def test_cross_modal_and_cross_model(pair):
    a, b, _ = pair
    cm = analyses.cross_modal(a, b, text_layer=2, text_tokens=2, image_tokens=3, bootstrap=(10, 40), progress=False,
                              include_embedding=True)
    x = np.asarray(a.bits(2))[:, -2:].reshape(N, -1)
    for i, layer in enumerate(cm.layers):
        y = np.asarray(b.bits(layer))[:, -3:].reshape(N, -1)
        np.testing.assert_allclose(cm.values[i], _ref_imbalance(x, y), atol=1e-9)
    assert (cm.std > 0).all() and cm.params["text_layer"] == 2
    assert cm.null_band.shape == (L, 2, 2) and cm.null_p.shape == (L, 2) and np.isfinite(cm.null_p).all()
    m = analyses.cross_model(a, b, tokens=2, progress=False, include_embedding=True)
    assert m.values.shape == (L, L, 2)
    p = analyses.layer_profile(a, b, tokens=2, jackknife=None, null=False, progress=False, include_embedding=True)
    np.testing.assert_allclose(np.diagonal(m.values, axis1=0, axis2=1).T, p.values, atol=1e-12)


def test_bad_input_is_refused_clearly(pair, tmp_path):
    a, b, root = pair
    shared = np.zeros((N, T, E))
    other = analyses.as_source(_store(tmp_path / "c", _states(4, shared, [1] * L), "es",
                                      ids=[f"item-{i}" for i in range(N - 3)] + ["x", "y", "z"]))
    with pytest.raises(ValueError, match="3 of 60 item ids differ"):
        analyses.layer_profile(a, other)
    with pytest.raises(ValueError, match="longer than the 6 tokens"):
        analyses.layer_profile(a, b, tokens=7)
    with pytest.raises(ValueError, match=r"layer\(s\) \[9\] do not exist"):
        analyses.layer_profile(a, b, layers=[9])
    with pytest.raises(ValueError, match="too small for a jackknife of 100"):
        analyses.layer_profile(a, b, jackknife=(5, 100))
    with pytest.raises(ValueError, match="representation"):
        analyses.layer_profile(a, b, representation="median")
    with pytest.raises(TypeError, match="shard store"):
        analyses.layer_profile(np.zeros((3, 3)), b)


def test_cli_writes_json_and_png_and_fails_in_one_line(pair, capsys):
    a, b, root = pair
    out = root / "out"
    rc = cli.main(["profile", str(a.path), str(b.path), "--tokens", "3", "--jackknife", "3", "30", "--out", str(out),
                   "--no-progress"])
    assert rc == 0
    doc = json.loads((out / "profile.json").read_text())
    assert doc["analysis"] == "profile" and doc["params"]["tokens"] == 3 and doc["library"]["ii-jax"]
    assert doc["extra"]["semantic"]["layer"] == 2
    assert (out / "profile.png").stat().st_size > 1000
    capsys.readouterr()
    for argv in (["window-sweep", str(a.path), str(b.path), "--windows", "1", "2"],
                 ["token-distance", str(a.path), "--tau-max", "2"],
                 ["cross-modal", str(a.path), str(b.path), "--text-layer", "2", "--text-tokens", "2", "--bootstrap", "5", "30"],
                 ["cross-model", str(a.path), str(b.path), "--tokens", "2"],
                 ["compare", str(a.path), str(b.path), "--tokens", "3", "--no-jackknife", "--representations", "concat", "mean"]):
        assert cli.main(argv + ["--out", str(out), "--no-progress", "--json"]) == 0, argv
        printed = json.loads(capsys.readouterr().out)
        assert printed["result"], argv
    assert cli.main(["cross-modal", str(a.path), str(b.path), "--text-layer", str(out / "profile.json"),
                     "--text-tokens", "2", "--bootstrap", "5", "30", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"]["text_layer"] == 2  # the profile's semantic layer
    assert cli.main(["profile", str(a.path), str(b.path), "--tokens", "99", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "longer than the 6 tokens" in err[0]
    assert cli.main(["profile", str(root / "missing"), str(b.path), "--out", str(out)]) == 2
    assert "no manifest" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------------------------
# The per-(layer, token) distance cache and the one route to Δ

def test_cache_sums_of_tokens_are_the_concatenations_hamming_matrix(pair):
    from ii_jax.analyses.cache import TokenDistances

    a, _, _ = pair
    bits = np.asarray(a.bits(2))
    cache = TokenDistances(a, 2)
    for k in (1, 2, T):  # NumPy reference: Hamming matrix of the unpacked concatenation of the last k tokens
        want = ref.hamming_matrix(binary.unpack_bits(bits[:, -k:].reshape(N, -1), k * bits.shape[2] * 32))
        np.testing.assert_array_equal(cache.window(k), want)
        np.testing.assert_array_equal(sum(cache.token(o) for o in range(k)), want)  # from the per-token blocks
    for k, d in cache.windows([4, 1, 2]):  # the running sum, in increasing order
        np.testing.assert_array_equal(d, cache.window(k))
    np.testing.assert_array_equal(cache.window(2, drop_last=1), cache.token(1) + cache.token(2))
    with pytest.raises(ValueError, match="longer than"):
        list(cache.windows([T + 1]))


def test_window_sweep_equals_layer_profile_per_window_exactly(pair):
    a, b, _ = pair
    windows = [1, 2, 4, T]
    s = analyses.window_sweep(a, b, windows=windows, progress=False, include_embedding=True)
    for wi, w in enumerate(windows):
        p = analyses.layer_profile(a, b, tokens=w, jackknife=None, null=False, progress=False, include_embedding=True)
        np.testing.assert_array_equal(s.values[wi], p.values)  # the same matrices, the same route: bit for bit
    i = list(s.layers).index(2)  # and one window against the brute-force reference
    x = np.asarray(a.bits(2))[:, -2:].reshape(N, -1)
    y = np.asarray(b.bits(2))[:, -2:].reshape(N, -1)
    np.testing.assert_allclose(s.values[1, i], _ref_imbalance(x, y), atol=1e-9)


@pytest.mark.skipif(not __import__("ii_jax").distances.native_available(), reason="native kernels not built")
def test_window_sweep_fused_equals_the_running_sum_route(pair, monkeypatch):
    """The fused native sweep (one popcount pass per layer) and the per-token running sums give the same Δ, bit
    for bit, with windows unsorted and repeated, in window groups of any size, for k > 1 and ties="min" too."""
    from ii_jax.analyses import sweep

    a, b, _ = pair
    windows = [4, 1, T, 2, 4]
    for kw in ({}, {"k": 3}, {"ties": "min"}):
        fused = analyses.window_sweep(a, b, windows=windows, progress=False, **kw)
        with monkeypatch.context() as m:
            m.setattr(sweep, "_fused", lambda ties: False)
            summed = analyses.window_sweep(a, b, windows=windows, progress=False, **kw)
        np.testing.assert_array_equal(fused.values, summed.values)
        np.testing.assert_array_equal(fused.values[0], fused.values[4])
    # windows in groups of one (a small scratch budget): each group runs again from the last token, same values
    layer = int(fused.layers[0])
    sizes = sorted(set(windows))
    one = sweep._fused_layer(a.bits(layer), b.bits(layer), sizes, k=1, ties="average", max_scratch_bytes=1)
    every = sweep._fused_layer(a.bits(layer), b.bits(layer), sizes, k=1, ties="average")
    np.testing.assert_array_equal(np.array(one), np.array(every))
    with pytest.raises(ValueError, match="longer than"):
        sweep._fused_layer(a.bits(layer), b.bits(layer), [T + 1], k=1, ties="average")


def test_token_distance_unchanged_through_the_cache(pair):
    a, _, _ = pair
    td = analyses.token_distance(a, tau_max=3, progress=False, include_embedding=True)
    for li, layer in enumerate(td.layers):
        bits = np.asarray(a.bits(layer))
        for tau in (1, 2, 3):
            want = information_imbalance(bits[:, -1], bits[:, -1 - tau])
            np.testing.assert_allclose((td.backward[li, tau - 1], td.forward[li, tau - 1]), want, atol=1e-12)


def test_profiles_of_different_sources_draw_their_own_permutations(pair, monkeypatch):
    import jax

    from ii_jax import null as nl

    a, b, _ = pair
    calls = []
    real = nl.permutation_null_from_distances

    def spy(dx, dy, **kw):
        calls.append((kw["key"], real(dx, dy, **kw)))
        return calls[-1][1]

    monkeypatch.setattr(nl, "permutation_null_from_distances", spy)
    copy = {s: ArrayStore([np.asarray(s.bits(l)) for l in s.layers], name=f"copy of {s.path}") for s in (a, b)}
    kw = dict(tokens=2, jackknife=None, key=jax.random.key(5), layers=[1, 2], progress=False)
    p1 = analyses.layer_profile(a, b, **kw)
    p2 = analyses.layer_profile(copy[a], copy[b], **kw)  # the same data under other names, the same key
    again = analyses.layer_profile(a, b, **kw)
    assert len(calls) == 6
    np.testing.assert_array_equal(p2.values, p1.values)
    np.testing.assert_array_equal(again.null, p1.null)  # reproducible
    perms = [nl.draw_permutations(key, N, 200) for key, _ in calls]
    for l in range(2):
        np.testing.assert_array_equal(perms[4 + l], perms[l])
        assert (perms[2 + l] == perms[l]).mean() < 0.05  # other draws: as many fixed points as chance gives
        u, v = calls[l][1].values, calls[2 + l][1].values
        assert all(abs(np.corrcoef(u[:, d], v[:, d])[0, 1]) < 0.3 for d in range(2))  # the same would give 1
    assert not (perms[0] == perms[1]).all()  # and every layer its own
    assert not np.array_equal(p2.null, p1.null)


def test_the_streamed_null_keeps_the_first_permutations_of_the_cached_one(rng):
    import jax

    from ii_jax import null as nl
    from ii_jax.analyses import resampling as rs

    a = rng.normal(size=(50, 64))
    xbits, ybits = a > 0, (a[:, :32] + rng.normal(size=(50, 32))) > 0
    bx, by = binary.pack_bits(xbits), binary.pack_bits(ybits)
    key, names = jax.random.key(3), ("a", "b")
    streamed = rs._pair_stats(bx, by, "hamming", key=key, k=1, ties="average", null=True, null_names=names,
                              max_cache_bytes=0)
    cached = rs._pair_stats(bx, by, "hamming", key=key, k=1, ties="average", null=True, null_names=names)
    np.testing.assert_allclose(streamed.value, cached.value, atol=1e-12)
    full = nl.permutation_null_from_distances(ref.hamming_matrix(xbits), ref.hamming_matrix(ybits),
                                              key=rs._null_key(jax.random.split(key)[1], names))
    np.testing.assert_allclose(cached.null, full.mean, atol=1e-12)
    np.testing.assert_allclose(cached.null_band, full.quantiles, atol=1e-12)
    first = full.values[:rs.STREAMED_NULL_PERMUTATIONS]
    np.testing.assert_allclose(streamed.null, first.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(streamed.null_band, np.quantile(first, [0.025, 0.975], axis=0).T, atol=1e-12)
    np.testing.assert_allclose(streamed.null_p, (1 + (first <= streamed.value).sum(0)) / (len(first) + 1))
    np.testing.assert_allclose(cached.null_p, full.p_below, atol=1e-12)
    for bad in (10, 1.5, "yes"):
        with pytest.raises(ValueError, match="null must be False, True"):
            rs._pair_stats(bx, by, "hamming", key=key, k=1, ties="average", null=bad)


def test_image_pairs_and_pairing_sources_refuse_missing_or_misfit_labels():
    from ii_jax.analyses import pairing_sources

    bits = [np.zeros((12, 1, 2), np.uint32)]
    for fn in (analyses.image_pairs, pairing_sources):
        with pytest.raises(ValueError, match="need class labels"):
            fn(ArrayStore(bits))
        with pytest.raises(ValueError, match="11 labels for 12 items"):
            fn(ArrayStore(bits), labels=np.arange(11))
    a, b = pairing_sources(ArrayStore(bits, labels=np.repeat(np.arange(3), 4)))
    assert len(a) == len(b) == 6
