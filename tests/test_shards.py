"""The shard store: writer (extract.writer) and reader (ii_jax.store) agree, refuse damage, resume exactly."""
from __future__ import annotations

import errno
import json

import numpy as np
import pytest

from extract import atomic, writer
from ii_jax import binary
from ii_jax import store as shard_store

N, L, T, E = 12, 3, 5, 70  # E not a multiple of 32: exercises the zero padding


def _states(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, L, T, E)).astype(np.float32)


def _write(out, states, *, floats=True, chunk=4, ids=None, compute_log=None, fail_after=None, **kw):
    ids = ids or [f"item-{i}" for i in range(N)]
    order = np.arange(N)[::-1]  # store order differs from compute order, as with length sorting
    chunks = [order[k:k + chunk] for k in range(0, N, chunk)]
    calls = []

    def compute(idx):
        if fail_after is not None and len(calls) >= fail_after:
            raise KeyboardInterrupt("simulated kill")
        calls.append(list(idx))
        if compute_log is not None:
            compute_log.append(list(idx))
        return states[idx]

    header = {"model": {"id": "fake"}, "dataset": {"spec": "fake", "side": "a"}, "embedding_layer": 0,
              "relative_depth": [i / (L - 1) for i in range(L)], "library": {"name": "ii-jax"}}
    return writer.write_store(out, header=header, item_ids=ids, chunks=chunks, compute=compute, layers=range(L),
                              tokens=T, hidden=E, token_counts=[T + i for i in range(N)], store_floats=floats, **kw)


def test_roundtrip_bits_floats_and_metadata(tmp_path):
    states = _states()
    _write(tmp_path / "s", states)
    store = shard_store.open_store(tmp_path / "s")
    assert store.layers == [0, 1, 2]
    assert store.relative_depth == [0.0, 0.5, 1.0]
    assert store.item_ids == [f"item-{i}" for i in range(N)]
    assert store.n_bits == E and store.tokens == T and store.embedding_layer == 0
    np.testing.assert_array_equal(store.token_counts, np.arange(N) + T)
    for layer in store.layers:
        bits = store.bits(layer)
        assert bits.dtype == np.uint32 and bits.shape == (N, T, 3)
        np.testing.assert_array_equal(bits, binary.pack_bits_np(states[:, layer] > 0))
        np.testing.assert_array_equal(store.floats(layer), states[:, layer].astype(np.float16))
    assert not list((tmp_path / "s").glob(".partial"))


def test_bit_layout_matches_the_jax_engine(tmp_path):
    states = _states(1)
    _write(tmp_path / "s", states, floats=False)
    store = shard_store.open_store(tmp_path / "s")
    unpacked = np.asarray(binary.unpack_bits(np.asarray(store.bits(2)), E))
    np.testing.assert_array_equal(unpacked, states[:, 2] > 0)
    # zero counts as negative, padding bits are zero
    assert int(np.asarray(store.bits(2))[..., -1].max()) < 2 ** (E - 64)


def test_bits_only_store_refuses_floats(tmp_path):
    _write(tmp_path / "s", _states(), floats=False)
    store = shard_store.open_store(tmp_path / "s")
    with pytest.raises(ValueError, match="only packed bits"):
        store.floats(0)
    with pytest.raises(ValueError, match="layer 7 is not stored"):
        store.bits(7)


def test_corrupted_layer_file_is_refused_by_name(tmp_path):
    _write(tmp_path / "s", _states())
    path = tmp_path / "s" / "layer_001.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    store = shard_store.open_store(tmp_path / "s")
    store.bits(0)  # intact files still read
    with pytest.raises(ValueError, match=r"layer_001\.npy: checksum mismatch"):
        store.bits(1)
    with pytest.raises(ValueError, match=r"layer_001\.npy"):
        shard_store.open_store(tmp_path / "s").verify()


def test_truncated_and_missing_files_are_refused(tmp_path):
    _write(tmp_path / "s", _states())
    path = tmp_path / "s" / "layer_002.f16.npy"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"layer_002\.f16\.npy: truncated"):
        shard_store.open_store(tmp_path / "s")
    path.unlink()
    with pytest.raises(ValueError, match=r"layer_002\.f16\.npy: missing"):
        shard_store.open_store(tmp_path / "s")


def test_mismatched_manifest_is_refused(tmp_path):
    _write(tmp_path / "s", _states())
    mpath = tmp_path / "s" / "manifest.json"
    m = json.loads(mpath.read_text())
    m["files"]["layer_000.npy"]["shape"] = [N, T, 2]
    mpath.write_text(json.dumps(m))
    store = shard_store.open_store(tmp_path / "s", verify=False)
    with pytest.raises(ValueError, match=r"layer_000\.npy: holds uint32 \[12, 5, 3\], but the manifest says"):
        store.bits(0)
    m["n_words"] = 5
    mpath.write_text(json.dumps(m))
    with pytest.raises(ValueError, match="manifest.json: n_words 5 does not hold hidden_size 70"):
        shard_store.open_store(tmp_path / "s")
    m["format"] = "something-else"
    mpath.write_text(json.dumps(m))
    with pytest.raises(ValueError, match="manifest.json: format is 'something-else'"):
        shard_store.open_store(tmp_path / "s")
    mpath.write_text("{not json")
    with pytest.raises(ValueError, match="manifest.json: not valid JSON"):
        shard_store.open_store(tmp_path / "s")


def test_check_paired(tmp_path):
    states = _states()
    _write(tmp_path / "a", states)
    _write(tmp_path / "b", states)
    ids = [f"item-{i}" for i in range(N)]
    ids[3], ids[5] = "other-3", "other-5"
    _write(tmp_path / "c", states, ids=ids)
    a, b, c = (shard_store.open_store(tmp_path / x) for x in "abc")
    shard_store.check_paired(a, b)
    with pytest.raises(ValueError, match=r"2 of 12 item ids differ .* row 3: 'item-3' vs 'other-3'"):
        shard_store.check_paired(a, c)


def test_check_paired_different_lengths(tmp_path):
    _write(tmp_path / "a", _states())
    store = shard_store.open_store(tmp_path / "a")
    short = shard_store.Store(store.path, {**store.manifest, "item_ids": store.item_ids[:10]}, verify=False)
    with pytest.raises(ValueError, match="has 12 items and .* has 10; 2 item ids differ"):
        shard_store.check_paired(store, short)


def test_interrupted_write_resumes_with_identical_files(tmp_path):
    states = _states(2)
    _write(tmp_path / "ref", states)
    with pytest.raises(KeyboardInterrupt):
        _write(tmp_path / "run", states, fail_after=2)
    with pytest.raises(ValueError, match="no manifest.*unfinished extraction"):
        shard_store.open_store(tmp_path / "run")
    log = []
    _write(tmp_path / "run", states, compute_log=log)
    assert len(log) == 1  # only the unfinished chunk is recomputed
    ref_files = sorted(p.name for p in (tmp_path / "ref").iterdir())
    assert ref_files == sorted(p.name for p in (tmp_path / "run").iterdir())
    for name in ref_files:
        assert (tmp_path / "ref" / name).read_bytes() == (tmp_path / "run" / name).read_bytes(), name
    log.clear()
    _write(tmp_path / "run", states, compute_log=log)  # complete: nothing to do
    assert log == []


def test_other_extraction_in_folder_is_not_overwritten(tmp_path):
    _write(tmp_path / "s", _states())
    with pytest.raises(writer.StoreExistsError, match="already holds a different extraction"):
        _write(tmp_path / "s", _states(), chunk=5)
    _write(tmp_path / "s", _states(3), chunk=5, overwrite=True)
    np.testing.assert_array_equal(shard_store.open_store(tmp_path / "s").floats(1), _states(3)[:, 1].astype(np.float16))


def test_full_disk_leaves_no_corrupt_shard(tmp_path, monkeypatch):
    states = _states()
    real = np.lib.format.write_array

    def failing(fp, array, *args, **kwargs):
        if array.shape == (N, T, 3):  # assembling a layer file
            fp.write(b"\x93NUMPY partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(OSError, match=r"could not write .*layer_000\.npy: No space left on device"):
        _write(tmp_path / "s", states)
    folder = tmp_path / "s"
    assert not list(folder.glob("layer_*")) and not (folder / "manifest.json").exists()
    assert not list(folder.glob(".*.tmp"))
    monkeypatch.setattr(np.lib.format, "write_array", real)
    _write(tmp_path / "s", states)  # resumes from the finished chunks
    np.testing.assert_array_equal(shard_store.open_store(folder).bits(0), binary.pack_bits_np(states[:, 0] > 0))


def test_float16_overflow_is_clipped_and_counted(tmp_path):
    states = _states()
    states[0, 1, 0, 0] = 1e6
    states[1, 1, 0, 0] = -1e6
    _write(tmp_path / "s", states)
    store = shard_store.open_store(tmp_path / "s")
    f = np.asarray(store.floats(1))
    assert np.isfinite(f).all() and f[0, 0, 0] == np.float16(65504) and f[1, 0, 0] == np.float16(-65504)
    assert store.manifest["files"]["layer_001.f16.npy"]["clipped"] == 2
    assert store.manifest["files"]["layer_000.f16.npy"]["clipped"] == 0


def test_chunks_must_partition_items(tmp_path):
    with pytest.raises(ValueError, match="partition range"):
        writer.write_store(tmp_path / "s", header={}, item_ids=["a", "b"], chunks=[[0]], compute=None, layers=[0],
                           tokens=1, hidden=1, token_counts=[1, 1])


def test_atomic_save_checksum_matches_file(tmp_path):
    arr = np.arange(10, dtype=np.uint32)
    digest = atomic.atomic_save_npy(tmp_path / "x.npy", arr)
    assert digest == atomic.sha256_file(tmp_path / "x.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), arr)


def test_store_without_an_embedding_layer_opens(tmp_path):
    """A store of last-layer-only states (e.g. stock SGLang) records embedding_layer None."""
    out = _write(tmp_path / "s", _states())
    mpath = out / "manifest.json"
    m = json.loads(mpath.read_text())
    m["embedding_layer"] = None
    mpath.write_text(json.dumps(m))
    store = shard_store.open_store(out)
    assert store.embedding_layer is None and store.bits(1).shape == (N, T, 3)
