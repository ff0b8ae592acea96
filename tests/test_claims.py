"""Each claim function of ii_jax.analyses.claims on synthetic results: one case that holds, one that does not."""
import jax
import numpy as np
import pytest

from ii_jax import binarize, pack_bits
from ii_jax.analyses import ArrayStore, ImagePairs, Profile, SemanticLayers, TokenDistance, layer_profile, window_sweep
from ii_jax.analyses import claims as C
from ii_jax.resample import VERDICTS
from ii_jax.synthetic import Curves

N, T, D = 200, 4, 64
JK = (20, 80)
KEY = jax.random.key(0)


def _layers(shared, scales, rng, *, floats=False):
    """One side: per layer, the shared signal plus independent noise of the given scale."""
    xs = [shared + s * rng.normal(size=shared.shape) for s in scales]
    bits = [pack_bits(binarize(x)) for x in xs]
    return ArrayStore(bits, floats=xs if floats else None, item_ids=[str(i) for i in range(len(shared))])


def _pair(scales, seed=0, floats=False):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(N, T, D))
    return _layers(shared, scales, rng, floats=floats), _layers(shared, scales, rng, floats=floats)


def _profile(a, b, **kw):
    return layer_profile(a, b, tokens=T, jackknife=JK, progress=False, key=KEY, **kw)


def _check_row(row, verdict):
    assert row.verdict in VERDICTS
    assert row.verdict == verdict, row
    assert row.claim and row.where and row.rule and isinstance(row.numbers, dict)


@pytest.mark.parametrize(("scales", "verdict"), [((3.0, 0.3, 3.0), "holds"), ((3.0, 1.0, 0.2), "does not hold")])
def test_inner_minimum(scales, verdict):
    a, b = _pair(scales)
    _check_row(C.inner_minimum(_profile(a, b), a, b, jackknife=JK, key=KEY, name="m"), verdict)


@pytest.mark.parametrize(("small", "large", "verdict"), [(1.5, 0.3, "holds"), (0.3, 1.5, "does not hold")])
def test_larger_model_lower(small, large, verdict):
    sa, sb = _pair((3.0, small), seed=1)
    la, lb = _pair((3.0, large), seed=2)
    row = C.larger_model_lower((_profile(sa, sb), sa, sb), (_profile(la, lb), la, lb), jackknife=JK, key=KEY)
    _check_row(row, verdict)


def _languages(noise, seed=3):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(N, T, D))
    return {x: _layers(shared, (3.0, s), rng) for x, s in noise.items()}


def _pairs(src, keys):
    return {p: (_profile(src[p[0]], src[p[1]]), src[p[0]], src[p[1]]) for p in keys}


@pytest.mark.parametrize(("en", "verdict"), [(0.2, "holds"), (6.0, "does not hold")])
def test_english_pairs_lower(en, verdict):
    src = _languages({"en": en, "es": 0.5, "it": 0.5, "fr": 0.5})
    keys = [("en", "es"), ("en", "it"), ("es", "it"), ("it", "fr")]
    _check_row(C.english_pairs_lower(_pairs(src, keys), jackknife=JK, key=KEY), verdict)


def _projection(full_is_english, seed=4):
    """en: items around 10 pairs of complementary centres; X: the same bits folded (complemented when the first bit
    is set), so a centre and its complement look alike in X. en predicts X; X does not predict en."""
    rng = np.random.default_rng(seed)
    half = rng.random((10, 1, D)) < 0.5
    centres = np.concatenate([half, ~half])
    bits = centres[np.arange(N) % 20] ^ (rng.random((N, T, D)) < 0.05)
    folded = bits ^ bits[..., :1]
    ids = [str(i) for i in range(N)]
    full, part = (ArrayStore([pack_bits(b)] * 2, item_ids=ids) for b in (bits, folded))
    return {"en": full, "es": part} if full_is_english else {"en": part, "es": full}


@pytest.mark.parametrize(("full_is_english", "verdict"), [(True, "holds"), (False, "does not hold")])
def test_english_more_predictive(full_is_english, verdict):
    src = _projection(full_is_english)
    _check_row(C.english_more_predictive(_pairs(src, [("en", "es")]), jackknife=JK, key=KEY), verdict)


def _tokens_store(informative_last, seed=5):
    """8 tokens; the last ``informative_last`` are noisy copies of the shared signal, the rest are constant (True)
    or independent noise on each side (False)."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(N, 1, D))
    sides = []
    for _ in range(2):
        x = shared + 0.45 * rng.normal(size=(N, 8, D))
        if informative_last:
            x[:, :-2] = 1.0  # constant: adds nothing, removes nothing
        else:
            x[:, :-1] = rng.normal(size=(N, 7, D))  # only the last token is shared; the others are noise
        sides.append(ArrayStore([pack_bits(binarize(x))], item_ids=[str(i) for i in range(N)]))
    return sides


@pytest.mark.parametrize(("informative", "verdict"), [(True, "holds"), (False, "does not hold")])
def test_more_tokens_saturate(informative, verdict):
    a, b = _tokens_store(informative)
    sw = window_sweep(a, b, windows=[1, 2, 4, 8], progress=False)
    _check_row(C.more_tokens_saturate(sw, a, b, jackknife=JK, key=KEY), verdict)


def _td(level, asym, std=0.01):
    layers = np.arange(1, len(level) + 1)
    back = np.array(level)[:, None] + np.linspace(0, 0.1, 5)[None]
    return TokenDistance(layers, layers / len(layers), np.arange(1, 6), back, back - np.array(asym)[:, None],
                         np.array(asym, float), np.full(len(level), std), 100, {})


SEM = SemanticLayers(3, 0.5, 0.3, (2, 4), (0.33, 0.67), 0.05)


@pytest.mark.parametrize(("scales", "verdict"), [((2.0, 0.3, 2.0), "holds"), ((0.3, 2.0, 2.0), "does not hold")])
def test_token_distance_semantic(scales, verdict):
    """Tokens of an item share one signal; the layer with the least per-token noise has the slowest-growing curve."""
    from ii_jax.analyses import token_distance

    rng = np.random.default_rng(8)
    shared = np.repeat(rng.normal(size=(N, 1, D)), T, axis=1)
    src = _layers(shared, scales, rng)
    td = token_distance(src, tau_max=T - 1, jackknife=JK, key=KEY, progress=False)
    sem = SemanticLayers(int(td.layers[1]), float(td.relative_depth[1]), 0.3, (int(td.layers[1]),) * 2,
                         (float(td.relative_depth[1]),) * 2, 0.05)
    _check_row(C.token_distance_semantic(td, sem, src, jackknife=JK, key=KEY), verdict)
    assert C.token_distance_semantic(td, sem).verdict == "inconclusive"  # no source: no error bar


@pytest.mark.parametrize(("asym", "verdict"), [(0.05, "holds"), (-0.05, "does not hold"), (0.01, "inconclusive")])
def test_causal_asymmetry(asym, verdict):
    td = _td([0.5] * 6, [0.0, 0.0, asym, 0.0, 0.0, 0.0])
    _check_row(C.causal_asymmetry(td, SEM, others={"es": td}), verdict)


@pytest.mark.parametrize(("positive", "verdict"), [(False, "holds"), (True, "does not hold")])
def test_binary_close_to_float(positive, verdict):
    rng = np.random.default_rng(6)
    shared = rng.normal(size=(N, T, 256))
    sides = []
    for _ in range(2):
        x = shared + 0.2 * rng.normal(size=shared.shape)
        if positive:  # every activation > 0: the sign bits are all 1 and carry nothing; the floats do
            x = np.exp(x)
        sides.append(ArrayStore([pack_bits(binarize(x))], floats=[x], item_ids=[str(i) for i in range(N)]))
    a, b = sides
    row = C.binary_close_to_float(_profile(a, b), _profile(a, b, representation="float"), a, b, jackknife=JK,
                                  key=KEY, tolerance=0.25)
    _check_row(row, verdict)


@pytest.mark.parametrize(("scales", "verdict"), [((1.2, 0.05, 1.2), "holds"), ((0.05, 1.2, 0.05), "does not hold")])
def test_mean_lowers_edges(scales, verdict):
    rng = np.random.default_rng(7)
    shared = rng.normal(size=(N, 1, D))
    a, b = (_layers(np.repeat(shared, T, axis=1), scales, rng, floats=True) for _ in range(2))
    row = C.mean_lowers_edges(_profile(a, b), _profile(a, b, representation="mean"), a, b, jackknife=JK, key=KEY)
    _check_row(row, verdict)


def _prof(values, std=0.01, null=1.0, n=200):
    v = np.array(values, float)[:, None].repeat(2, 1)
    lay = np.arange(1, len(v) + 1)
    return Profile(lay, lay / len(lay), v, np.full_like(v, std), np.full_like(v, null),
                   np.stack([v * 0 + null - 0.1, v * 0 + null + 0.1], axis=-1), np.full_like(v, 0.5), n, {})


def test_overlap_tracks_delta():
    from ii_jax import baselines
    from ii_jax.analyses.cache import layer_distances

    a, b = _pair((3.0, 0.3, 1.0, 2.0), seed=9)
    prof = _profile(a, b)
    ov = np.array([float(baselines.mutual_knn_from_distances(layer_distances(a, int(la), tokens=T),
                                                             layer_distances(b, int(la), tokens=T), k=10))
                   for la in prof.layers])
    row = C.overlap_tracks_delta(prof, ov, a, b, jackknife=JK, key=KEY)
    _check_row(row, "holds")
    assert row.numbers["rho"] == pytest.approx(-1.0)
    assert C.overlap_tracks_delta(prof, ov).verdict == "inconclusive"  # no sources: no error bar


@pytest.mark.parametrize(("null", "verdict"), [(1.0, "holds"), (0.7, "does not hold")])
def test_shuffled_null(null, verdict):
    _check_row(C.shuffled_null({"a": _prof([0.5, 0.4], null=null)}), verdict)
    _check_row(C.shuffled_null({"a": _prof([0.5, 0.4], null=null), "pairs": _pairs_result([0.5, 0.4])}), verdict)
    assert C.shuffled_null({}).verdict == "not run"


def test_shuffled_null_of_real_profiles_holds_and_a_shifted_one_fails():
    """200 true permutations per layer centre on N/(N−1): the rule holds; moved by 6 of their standard errors, not."""
    a, b = _pair((3.0, 0.3, 1.0))
    prof = layer_profile(a, b, tokens=T, jackknife=None, progress=False, key=KEY)
    assert prof.params["null_permutations"] == 200
    _check_row(C.shuffled_null({"p": prof}), "holds")
    se = (prof.null_band[..., 1] - prof.null_band[..., 0]) / 3.92 / np.sqrt(200)
    _check_row(C.shuffled_null({"p": prof._replace(null=prof.null - 6 * se)}), "does not hold")


def _pairs_result(mean, std=0.01):
    mean = np.array(mean, float)
    lay = np.arange(1, len(mean) + 1)
    vals = np.repeat(mean[None, :, None], 2, axis=2)
    band = np.stack([np.full(vals.shape[1:], 0.9), np.full(vals.shape[1:], 1.1)], axis=-1)
    return ImagePairs(lay, lay / len(lay), vals, mean, np.full_like(mean, std), np.ones_like(mean), band,
                      np.full(vals.shape[1:], 0.5), 50, {})


@pytest.mark.parametrize(("scales", "verdict"), [((3.0, 2.0, 1.0, 0.3), "holds"), ((3.0, 0.3, 2.0, 3.0), "does not hold")])
def test_vision_minimum_late(scales, verdict):
    a, b = _pair(scales, seed=10)
    prof = _profile(a, b)
    assert prof.relative_depth[-1] >= 0.75 > prof.relative_depth[0]
    _check_row(C.vision_minimum_late(prof, a, b, name="x", jackknife=JK, key=KEY), verdict)


@pytest.mark.parametrize(("pairs_min", "verdict"), [(2, "holds"), (0, "does not hold")])
def test_caption_at_image_semantic(pairs_min, verdict):
    from ii_jax.analyses import cross_modal

    rng = np.random.default_rng(11)
    shared = rng.normal(size=(N, T, D))
    text = _layers(shared, (0.3,), rng)
    image = _layers(shared, (3.0, 1.0, 0.3, 1.0), rng)
    cross = cross_modal(text, image, text_layer=0, text_tokens=T, image_tokens=T, bootstrap=None, progress=False)
    pairs = _pairs_result([0.4 if i == pairs_min else 0.8 for i in range(4)])._replace(layers=cross.layers)
    _check_row(C.caption_at_image_semantic(cross, pairs, text, image, jackknife=JK, key=KEY), verdict)


def _curves(xy, yx, cka, x=None, std=0.01):
    xy, yx, cka = (np.array(v, float) for v in (xy, yx, cka))
    s = np.full_like(xy, std)
    return Curves(np.arange(1, len(xy) + 1) if x is None else np.array(x), xy, s, yx, s, cka, s)


@pytest.mark.parametrize(("yx", "verdict"), [((0.9, 0.6, 0.3), "holds"), ((0.5, 0.4, 0.3), "does not hold")])
def test_synthetic_rank(yx, verdict):
    _check_row(C.synthetic_rank(_curves((0.6, 0.4, 0.3), yx, (0.2, 0.5, 0.9))), verdict)


@pytest.mark.parametrize(("cka", "verdict"), [((0.96, 0.99, 1.0), "holds"), ((0.5, 0.7, 1.0), "does not hold")])
def test_synthetic_power(cka, verdict):
    row = C.synthetic_power(_curves((0.6, 0.4, 0.1), (0.6, 0.4, 0.1), cka, x=(0.01, 0.1, 1.0)), p=1000)
    _check_row(row, verdict)


def test_not_run_and_table():
    row = C.not_run("overlap", "baselines were not run")
    assert row.verdict == "not run" and "not run" in row.note
    header, rows = C.claims_table([row])
    assert len(rows) == 1 and len(rows[0]) == len(header)
    assert set(C.CLAIMS) >= {r for r in C.CLAIMS}  # every id has its claim, place and rule
    with pytest.raises(KeyError):
        C.not_run("no such claim", "")


@pytest.mark.parametrize("representation", ["concat", "last", "mean"])
@pytest.mark.parametrize("drop_last", [0, 1])
def test_a_half_reads_the_same_distances_as_the_full_matrix_restricted_to_it(representation, drop_last):
    """A cross-fitting half's matrices (computed from its own items for Hamming) equal the full matrices' entries
    between its items."""
    from ii_jax.analyses.cache import layer_distances

    a, b = _pair((1.0, 0.5), floats=True)
    idx, _ = C.halves(N, KEY)
    params = {"tokens": 3, "representation": representation, "drop_last": drop_last}
    got = C._mats(a, b, 1, params, idx=idx)
    for src, d in zip((a, b), got, strict=True):
        full = np.asarray(layer_distances(src, 1, representation=representation, tokens=3, drop_last=drop_last))
        np.testing.assert_array_equal(d, full[np.ix_(idx, idx)])
