"""analyses.token_weights: DII token weights find the planted tokens; the held-out Δ against the brute force."""
import jax
import numpy as np
import pytest

import reference as ref
from ii_jax import resample
from ii_jax.analyses import ArrayStore, token_weights
from ii_jax.binary import unpack_bits


def _stores(n=80, tokens=5, words=2, seed=0):
    """Layer 0: B unrelated to A. Layer 1: B's last token is A's token 3 before the last with 10 % of its bits
    flipped, and B's other tokens are noise: only A's token at offset 3 carries what B holds."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**32, size=(2, n, tokens, words), dtype=np.uint32)
    b = rng.integers(0, 2**32, size=(2, n, tokens, words), dtype=np.uint32)
    flips = (rng.random((n, words, 32)) < 0.1) * (1 << np.arange(32, dtype=np.uint64))
    b[1, :, tokens - 1] = a[1, :, tokens - 1 - 3] ^ flips.sum(axis=2).astype(np.uint32)
    return ArrayStore(a, name="a"), ArrayStore(b, name="b")


def test_token_weights_find_the_planted_token_and_beat_equal_weights_on_held_out_items():
    a, b = _stores()
    tw = token_weights(a, b, tokens=5, repeats=3, epochs=60, key=jax.random.key(1), progress=False)
    assert tw.weights.shape == (2, 2, 3, 5) and tw.mean.shape == tw.spread.shape == (2, 2, 5)
    assert list(tw.offsets) == [4, 3, 2, 1, 0]
    np.testing.assert_allclose(tw.weights.sum(axis=-1), 5.0, rtol=1e-9)  # shares: mean 1
    # layer 1, A→B: the token 3 before the last (index 1 in the window) carries B's information
    assert int(tw.mean[1, 0].argmax()) == 1 and tw.mean[1, 0, 1] > 2.0 > np.delete(tw.mean[1, 0], 1).max()
    assert np.all(tw.delta_learned[1, 0] < tw.delta_uniform[1, 0])
    # B→A: B's last token is the one that knows about A
    assert int(tw.mean[1, 1].argmax()) == 4
    # layer 0: nothing to find, Δ near the uninformative 1 either way
    assert np.all(np.abs(tw.delta_uniform[0] - 1.0) < 0.3)
    assert tw.params["repeats"] == 3 and tw.n == 80 and tw.n_sub == 40


def test_held_out_imbalance_is_the_brute_force_one():
    a, b = _stores(n=40)
    key = jax.random.key(2)
    tw = token_weights(a, b, tokens=3, layers=[1], repeats=2, epochs=5, key=key, progress=False)
    halves = resample.draw_subsets(key, 40, 20, 2)  # the same halves: the one subset drawer
    bits = {s: np.asarray(unpack_bits(src.bits(1)[:, -3:], 64)) for s, src in (("a", a), ("b", b))}
    for r, train in enumerate(halves):
        test = np.setdiff1d(np.arange(40), train)
        da = ref.hamming_matrix(bits["a"][test].reshape(len(test), -1))
        db = ref.hamming_matrix(bits["b"][test].reshape(len(test), -1))
        assert tw.delta_uniform[0, 0, r] == pytest.approx(ref.imbalance(da, db), abs=1e-12)
        assert tw.delta_uniform[0, 1, r] == pytest.approx(ref.imbalance(db, da), abs=1e-12)
        share = tw.weights[0, 0, r]  # shares are proportional to w²: the learnt distance up to a scale
        dw = sum(share[j] * ref.hamming_matrix(bits["a"][test, j]) for j in range(3))
        assert tw.delta_learned[0, 0, r] == pytest.approx(ref.imbalance(dw, db), abs=1e-9)


def test_token_weights_refuse_bad_settings():
    a, b = _stores(n=30)
    with pytest.raises(ValueError, match="repeats"):
        token_weights(a, b, tokens=3, repeats=1)
    with pytest.raises(ValueError, match="n_sub"):
        token_weights(a, b, tokens=3, n_sub=25)
    with pytest.raises(ValueError, match="stored"):
        token_weights(a, b, tokens=6)
    with pytest.raises(ValueError, match="tokens must be"):
        token_weights(a, b, tokens=1)
    with pytest.raises(ValueError, match="not paired"):
        token_weights(a, ArrayStore(np.zeros((2, 31, 5, 2), np.uint32)), tokens=3)


def _write_store(path, ids, states):
    from extract import writer

    n_layers, tokens, hidden = states.shape[1:]
    header = {"model": {"id": "fake"}, "dataset": {"spec": "fake", "side": path.name}, "embedding_layer": 0,
              "relative_depth": [i / (n_layers - 1) for i in range(n_layers)], "library": {"name": "ii-jax"}}
    return writer.write_store(path, header=header, item_ids=list(ids), chunks=[np.arange(len(ids))],
                              compute=lambda idx: states[idx], layers=range(n_layers), tokens=tokens, hidden=hidden,
                              token_counts=[tokens] * len(ids))


def test_token_weights_subcommand_writes_its_table_json_and_figure(tmp_path, capsys):
    import json

    from ii_jax import cli

    rng = np.random.default_rng(3)
    ids = [f"v{i}" for i in range(80)]
    shared = rng.normal(size=(80, 32))
    sa = rng.normal(size=(80, 3, 4, 32)).astype(np.float32)
    sb = rng.normal(size=(80, 3, 4, 32)).astype(np.float32)
    sa[:, 1, 1] += 3 * shared  # layer 1: A's token 2 before the last and B's last token share a signal
    sb[:, 1, 3] += 3 * shared
    _write_store(tmp_path / "a", ids, sa)
    _write_store(tmp_path / "b", ids, sb)
    out = tmp_path / "out"
    code = cli.main(["token-weights", str(tmp_path / "a"), str(tmp_path / "b"), "--tokens", "4", "--repeats", "2",
                     "--epochs", "40", "--out", str(out), "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "top a" in text and "wrote" in text
    doc = json.loads((out / "token_weights.json").read_text())
    assert (out / "token_weights.png").exists()
    mean = np.array(doc["result"]["mean"] if "result" in doc else doc["mean"])
    assert mean.shape == (2, 2, 4) and int(mean[0, 0].argmax()) == 1  # layers 1, 2 (the embedding left out)
