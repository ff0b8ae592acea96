"""Extraction at scale: ``--shard i/n`` + ``ii-jax merge`` (byte-identical to an unsharded run), faults
(a host that dies mid-run, missing / duplicate / foreign parts, other library versions), ``--device-map``.

Everything runs a tiny randomly initialised causal LM (Llama, 3 layers, hidden 40 so the last word has
padding bits) with a word-level tokenizer built here, so no asset has to be built.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
from extract import cli  # noqa: E402
from extract import pipeline as P  # noqa: E402
from extract import text as T  # noqa: E402
from extract.merge import merge_stores, parse_shard  # noqa: E402
from extract.pipeline import ExtractConfig, extract_side  # noqa: E402
from extract.writer import StoreExistsError  # noqa: E402
from ii_jax import store as shard_store  # noqa: E402
from ii_jax.cli import main as ii_jax_main  # noqa: E402

WORDS = ("the a of and to in is was for on with as by at from his her they we you it be this that have not are "
         "but or an one all were when there can said which she do their if will up other about out many then them "
         "these so some would make like him into time has look two more write go see number no way could people "
         "my than first water been call who oil its now find long down day did get come made may part").split()


def build_tiny_causal(folder: Path, *, hidden: int = 40, layers: int = 3, seed: int = 0) -> Path:
    """A random Llama causal LM with a word-level tokenizer (``[BOS] words [EOS]``) saved as a HF folder."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = Path(folder)
    if (folder / "config.json").exists():
        return folder
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[BOS]", "[EOS]", *WORDS])}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.post_processor = processors.TemplateProcessing(single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 2),
                                                                                                ("[EOS]", 3)])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]",
                                  eos_token="[EOS]")
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=hidden, intermediate_size=64, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, pad_token_id=0,
                      bos_token_id=2, eos_token_id=3, architectures=["LlamaForCausalLM"])
    torch.manual_seed(seed)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def write_pairs(path: Path, n: int = 30, seed: int = 0) -> Path:
    """``n`` random word-sequence pairs of 4..22 words as a TSV (id, en, es)."""
    rng = np.random.default_rng(seed)
    rows = ["id\ten\tes"]
    for i in range(n):
        a = " ".join(rng.choice(WORDS, size=rng.integers(4, 23)))
        b = " ".join(rng.choice(WORDS, size=rng.integers(4, 23)))
        rows.append(f"p{i:03d}\t{a}\t{b}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return build_tiny_causal(root / "model"), write_pairs(root / "pairs.tsv")


def _cfg(model, data, out, **kw):
    base = dict(model=str(model), dataset=f"tsv:{data}", side="en", out=str(out), n=20, window=4, min_tokens=6,
                batch_size=3, chunk_size=4, floats=True)
    base.update(kw)
    return ExtractConfig(**base)


def _quiet(_msg):
    pass


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _cli(model, data, out, *extra):
    return ["extract", "--model", str(model), "--dataset", f"tsv:{data}", "--side", "en", "--out", str(out),
            "--no-progress", "-n", "20", "--tokens", "4", "--min-tokens", "6", "--batch-size", "3", "--chunk-size", "4", "--floats", *extra]


def test_parse_shard():
    assert parse_shard("0/3") == (0, 3) and parse_shard(" 2/3 ") == (2, 3) and parse_shard((1, 2)) == (1, 2)
    for bad, msg in (("3/3", "0 <= index < count"), ("-1/3", "0 <= index"), ("1/0", "at least 1"),
                     ("1", "INDEX/COUNT"), ("a/b", "integers"), ("1/2/3", "INDEX/COUNT")):
        with pytest.raises(ValueError, match=msg):
            parse_shard(bad)
    with pytest.raises(TypeError):
        parse_shard(3)


def test_three_shards_merge_to_the_unsharded_store(tmp_path, tiny, capsys):
    model, data = tiny
    ref = extract_side(_cfg(model, data, tmp_path / "ref"), log=_quiet, progress_bar=False)
    parts = []
    for i in range(3):
        out = tmp_path / f"part{i}"
        if i == 1:  # one part through the command line, the others through the API
            assert cli.main(_cli(model, data, out, "--shard", "1/3")) == 0
        else:
            extract_side(_cfg(model, data, out, shard=f"{i}/3"), log=_quiet, progress_bar=False)
        parts.append(out)
    stores = [shard_store.open_store(p) for p in parts]
    full = shard_store.open_store(ref)
    ids = [set(s.item_ids) for s in stores]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert set().union(*ids) == set(full.item_ids) and all(len(s) > 0 for s in stores)
    for s in stores:  # every part is a valid store whose rows keep the unsharded order
        s.verify()
        rows = [full.item_ids.index(x) for x in s.item_ids]
        assert rows == sorted(rows)
        np.testing.assert_array_equal(np.asarray(s.bits(2)), np.asarray(full.bits(2))[rows])
        assert s.manifest["shard"]["count"] == 3 and s.manifest["shard"]["plan_sha256"] == full.manifest["plan_sha256"]
    # merge via `ii-jax merge`, parts in any order
    capsys.readouterr()
    assert ii_jax_main(["merge", str(tmp_path / "merged"), str(parts[2]), str(parts[0]), str(parts[1])]) == 0
    merged = tmp_path / "merged"
    a, b = _files(ref), _files(merged)
    assert sorted(a) == sorted(b) and len(a) == 1 + 2 * 4
    for name in a:  # layer files and the manifest are byte-identical
        assert a[name] == b[name], name
    assert shard_store.open_store(merged).verify() is None
    # the unsharded command finds the merged folder complete; merging again is a no-op
    extract_side(_cfg(model, data, merged), log=_quiet, progress_bar=False)
    assert merge_stores(merged, parts, log=_quiet) == merged
    assert _files(merged) == b


def test_more_shards_than_chunks_writes_empty_parts(tmp_path, tiny):
    model, data = tiny
    ref = extract_side(_cfg(model, data, tmp_path / "ref", n=6, chunk_size=4, floats=False), log=_quiet,
                       progress_bar=False)
    parts = [extract_side(_cfg(model, data, tmp_path / f"p{i}", n=6, chunk_size=4, floats=False, shard=(i, 4)),
                          log=_quiet, progress_bar=False) for i in range(4)]
    assert [len(shard_store.open_store(p)) for p in parts] == [4, 2, 0, 0]
    merge_stores(tmp_path / "m", parts, log=_quiet)
    assert _files(ref) == _files(tmp_path / "m")


@pytest.fixture(scope="module")
def three_parts(tmp_path_factory, tiny):
    model, data = tiny
    root = tmp_path_factory.mktemp("parts")
    return [extract_side(_cfg(model, data, root / f"part{i}", shard=f"{i}/3"), log=_quiet, progress_bar=False)
            for i in range(3)]


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_merge_refuses_missing_duplicate_and_foreign_parts(tmp_path, tiny, three_parts, capsys):
    model, data = tiny
    p0, p1, p2 = three_parts
    with pytest.raises(ValueError, match=r"missing shard indices 1 of 3"):
        merge_stores(tmp_path / "m", [p0, p2])
    with pytest.raises(ValueError, match=r"missing shard indices 0, 2 of 3"):
        merge_stores(tmp_path / "m", [p1])
    assert cli.main(["merge", str(tmp_path / "m"), str(p2)]) == 2
    assert "missing shard indices 0, 1 of 3" in capsys.readouterr().err
    dup = _copy(p1, tmp_path / "dup")
    with pytest.raises(ValueError, match=r"shard 1/3 is given twice"):
        merge_stores(tmp_path / "m", [p0, p1, dup, p2])
    # a part from a host with another torch version
    other = _copy(p1, tmp_path / "other")
    m = json.loads((other / "manifest.json").read_text())
    m["library"]["torch"] = "0.0.1-other-host"
    (other / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match=r"different extractions.*library\.torch: .*0\.0\.1-other-host"):
        merge_stores(tmp_path / "m", [p0, other, p2])
    # a part of another subsample (seed), extracted for real
    seed = extract_side(_cfg(model, data, tmp_path / "seed", shard="1/3", seed=7), log=_quiet, progress_bar=False)
    with pytest.raises(ValueError, match=r"dataset\.seed: 0 .* vs 7"):
        merge_stores(tmp_path / "m", [p0, seed, p2])
    # parts of another shard count
    four = extract_side(_cfg(model, data, tmp_path / "four", shard="1/4"), log=_quiet, progress_bar=False)
    with pytest.raises(ValueError, match=r"shard\.count: 3 .* vs 4"):
        merge_stores(tmp_path / "m", [p0, four, p2])
    # an unsharded store, an unfinished part, the output among the parts, a damaged part
    full = extract_side(_cfg(model, data, tmp_path / "full"), log=_quiet, progress_bar=False)
    with pytest.raises(ValueError, match="extracted without --shard"):
        merge_stores(tmp_path / "m", [p0, full, p2])
    with pytest.raises(ValueError, match="one of the parts"):
        merge_stores(p0, [p0, p1, p2])
    bad = _copy(p2, tmp_path / "bad")
    arr = np.load(bad / "layer_002.npy")
    arr.flat[0] ^= 1
    np.save(bad / "layer_002.npy", arr)
    with pytest.raises(ValueError, match="checksum mismatch"):
        merge_stores(tmp_path / "m", [p0, p1, bad])
    with pytest.raises(ValueError, match="no such part"):
        merge_stores(tmp_path / "m", [p0, p1, tmp_path / "nowhere"])
    assert not (tmp_path / "m" / "manifest.json").exists()
    # OUT holding the unsharded store of the same plan is already complete; a different store is protected
    before = _files(full)
    assert merge_stores(full, [p0, p1, p2]) == full and _files(full) == before
    with pytest.raises(StoreExistsError, match="already holds a different store"):
        merge_stores(four, [p0, p1, p2])
    assert merge_stores(four, [p0, p1, p2], overwrite=True) == four
    assert _files(four) == before


def test_host_dies_mid_run_then_resumes(tmp_path, tiny, three_parts, monkeypatch):
    model, data = tiny
    real = T.text_states
    calls = []

    def dies_on_third_chunk(loaded, tok, idx, **kw):
        calls.append(len(idx))
        if len(calls) == 3:
            raise RuntimeError("host lost")
        return real(loaded, tok, idx, **kw)

    monkeypatch.setattr(T, "text_states", dies_on_third_chunk)
    out = tmp_path / "part1"
    with pytest.raises(RuntimeError, match="host lost"):  # the run fails loudly
        extract_side(_cfg(model, data, out, shard="1/3", chunk_size=2), log=_quiet, progress_bar=False)
    assert not (out / "manifest.json").exists() and len(list((out / ".partial").glob("chunk_*.json"))) == 2
    with pytest.raises(ValueError, match=r"unfinished extraction of shard 1/3"):
        merge_stores(tmp_path / "m", [three_parts[0], out, three_parts[2]])
    # the rerun resumes: only the chunks not yet written are computed
    calls.clear()
    monkeypatch.setattr(T, "text_states", lambda loaded, tok, idx, **kw: (calls.append(len(idx)),
                                                                            real(loaded, tok, idx, **kw))[1])
    extract_side(_cfg(model, data, out, shard="1/3", chunk_size=2), log=_quiet, progress_bar=False)
    n_chunks = len(shard_store.open_store(out).manifest["shard"]["chunk_ids"])
    assert len(calls) == n_chunks - 2
    monkeypatch.setattr(T, "text_states", real)
    again = extract_side(_cfg(model, data, tmp_path / "clean", shard="1/3", chunk_size=2), log=_quiet,
                         progress_bar=False)
    assert _files(out) == _files(again)


def test_resume_on_a_host_with_other_library_versions_is_refused(tmp_path, tiny, monkeypatch):
    model, data = tiny
    out = tmp_path / "part"
    real = T.text_states
    monkeypatch.setattr(T, "text_states", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        extract_side(_cfg(model, data, out, shard="0/2"), log=_quiet, progress_bar=False)
    monkeypatch.setattr(T, "text_states", real)
    versions = P.library_versions()
    monkeypatch.setattr(P, "library_versions", lambda: {**versions, "transformers": "0.0-other"})
    with pytest.raises(StoreExistsError, match=r"header\.library\.transformers"):
        extract_side(_cfg(model, data, out, shard="0/2"), log=_quiet, progress_bar=False)


def test_shard_cli_errors(tmp_path, tiny, capsys):
    model, data = tiny
    assert cli.main(_cli(model, data, tmp_path / "o", "--shard", "3/3")) == 2
    assert "0 <= index < count" in capsys.readouterr().err
    assert cli.main(_cli(model, data, tmp_path / "o", "--shard", "one/two")) == 2
    assert "INDEX and COUNT must be integers" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert cli.main(["merge", str(tmp_path / "m"), str(tmp_path / "nothing")]) == 2
    assert "no such part" in capsys.readouterr().err


def test_device_map_reaches_from_pretrained(tmp_path, tiny, monkeypatch, capsys):
    import transformers

    model, data = tiny
    seen = []
    real = transformers.AutoModel.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        seen.append(kwargs.get("device_map", "<none>"))
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", classmethod(spy))
    ref = extract_side(_cfg(model, data, tmp_path / "ref", n=6), log=_quiet, progress_bar=False)
    assert cli.main(_cli(model, data, tmp_path / "auto", "-n", "6", "--device-map", "auto")) == 0
    assert seen == ["<none>", "auto"]
    store = shard_store.open_store(tmp_path / "auto")
    assert store.manifest["model"]["device_map"] == "auto"
    # accelerate places the tiny model on the CPU here: the same states as without a device map
    for layer in store.layers:
        np.testing.assert_array_equal(np.asarray(store.bits(layer)), np.asarray(shard_store.open_store(ref).bits(layer)))
    assert cli.main(_cli(model, data, tmp_path / "bad", "--device-map", "{not json")) == 2
    assert "--device-map" in capsys.readouterr().err


def test_dtype_is_recorded_and_parts_of_two_dtypes_are_not_merged(tmp_path, tiny, capsys):
    model, data = tiny
    parts = [extract_side(_cfg(model, data, tmp_path / f"p{i}", shard=f"{i}/2", dtype=dt), log=_quiet,
                          progress_bar=False) for i, dt in enumerate(("float32", "bfloat16"))]
    dtypes = [json.loads((p / "manifest.json").read_text())["model"]["dtype"] for p in parts]
    assert dtypes == ["float32", "bfloat16"]
    with pytest.raises(ValueError, match=r"different extractions.*model\.dtype: 'float32' .* vs 'bfloat16'"):
        merge_stores(tmp_path / "m", parts)
    # resuming a store in another dtype is refused like any other change of plan
    with pytest.raises(StoreExistsError):
        extract_side(_cfg(model, data, parts[1], shard="1/2", dtype="float32"), log=_quiet, progress_bar=False)
    with pytest.raises(SystemExit) as exit_:
        cli.main(_cli(model, data, tmp_path / "x", "--dtype", "float64"))
    assert exit_.value.code == 2
    assert "invalid choice: 'float64'" in capsys.readouterr().err


def test_a_bfloat16_store_keeps_most_float32_sign_bits(tmp_path, tiny):
    model, data = tiny
    a, b = (extract_side(_cfg(model, data, tmp_path / dt, dtype=dt), log=_quiet, progress_bar=False)
            for dt in ("float32", "bfloat16"))
    sa, sb = shard_store.open_store(a), shard_store.open_store(b)
    assert sa.item_ids == sb.item_ids
    for layer in sa.layers:
        xa, xb = np.asarray(sa.bits(layer)), np.asarray(sb.bits(layer))
        differ = np.unpackbits(np.bitwise_xor(xa, xb).view(np.uint8)).mean()
        assert differ < 0.05, (layer, differ)  # bf16 rounds activations, flipping only near-zero signs
    if sa.layers[-1] != sa.embedding_layer:  # the deepest layer is not bit-identical (the run really was bf16)
        assert np.any(np.asarray(sa.bits(sa.layers[-1])) != np.asarray(sb.bits(sb.layers[-1])))


def test_probe_times_a_model_and_names_an_empty_pool(tmp_path, tiny, capsys):
    from extract.probe import probe_speed

    model, data = tiny
    with pytest.raises(ValueError, match="no item of 40-80 tokens"):  # the tiny pairs hold 4-22 words
        probe_speed(str(model), dataset=f"tsv:{data}", n=4, batch_size=2)
    assert cli.main(["probe", "--model", str(model), "--dataset", f"tsv:{data}", "-n", "4"]) == 2
    assert "no item of 40-80 tokens" in capsys.readouterr().err


def test_an_extraction_told_to_take_every_core_writes_the_same_store(tmp_path, tiny, monkeypatch):
    import os

    import torch

    model, data = tiny
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        ref = extract_side(_cfg(model, data, tmp_path / "ref"), log=_quiet, progress_bar=False)
        assert torch.get_num_threads() == 1
        wake = tmp_path / "wake"
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
        said = []
        missing = extract_side(_cfg(model, data, tmp_path / "missing", all_cores_when=str(wake)), log=said.append,
                               progress_bar=False)
        assert torch.get_num_threads() == 1 and not any("threads" in m for m in said)  # no file: nothing changes
        wake.touch()
        woken = extract_side(_cfg(model, data, tmp_path / "woken", all_cores_when=str(wake)), log=said.append,
                             progress_bar=False)
        assert torch.get_num_threads() == 3
        assert sum("1 -> 3 threads" in m for m in said) == 1
        assert _files(ref) == _files(missing)
        # More threads may sum in another order: the float states can move in their last bits, the signs did not
        a, b = shard_store.open_store(ref), shard_store.open_store(woken)
        for la in a.layers:
            np.testing.assert_array_equal(np.asarray(a.bits(la)), np.asarray(b.bits(la)))
            np.testing.assert_allclose(np.asarray(a.floats(la), np.float32), np.asarray(b.floats(la), np.float32),
                                       rtol=1e-2, atol=1e-3)
    finally:
        torch.set_num_threads(before)


def test_by_batch_forms_the_same_batches_and_opens_the_gate_before_each():
    calls, gates = [], []
    out = P._by_batch(lambda b: (calls.append(list(b)), np.asarray(b)[:, None] * 2)[1], np.arange(7), 3,
                      lambda: gates.append(len(calls)))
    assert calls == [[0, 1, 2], [3, 4, 5], [6]] and gates == [0, 1, 2]
    np.testing.assert_array_equal(out, np.arange(7)[:, None] * 2)
    assert P._by_batch(lambda b: np.asarray(b), np.arange(2), 3, lambda: gates.append(-1)).tolist() == [0, 1]
    assert gates[-1] == -1
