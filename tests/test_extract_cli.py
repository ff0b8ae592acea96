"""The extract command end to end: both sides paired, vision, bad input, and kill-and-resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from extract_helpers import built

pytest.importorskip("torch")
from extract import cli  # noqa: E402
from extract import datasets as D  # noqa: E402
from extract.datasets import images as D_images  # noqa: E402
from ii_jax import store as shard_store  # noqa: E402
from ii_jax.cli import main as ii_jax_main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pairs_tsv(tmp_path_factory):
    """48 English-Spanish Bible verse pairs as a local TSV."""
    ds = D.load_pairs("bible:en-es")
    path = tmp_path_factory.mktemp("data") / "pairs.tsv"
    rows = ["id\ten\tes"] + [f"{i}\t{a}\t{b}" for i, a, b in zip(ds.ids[1000:1048], ds.items[0][1000:1048],
                                                                   ds.items[1][1000:1048], strict=False)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _args(model, dataset, side, out, *extra):
    return ["extract", "--model", model, "--dataset", dataset, "--side", side, "--out", str(out), "--no-progress",
            *extra]


def test_both_sides_are_paired(tmp_path, pairs_tsv):
    built("minilm-l6")
    common = ["-n", "12", "--tokens", "6", "--min-tokens", "8", "--batch-size", "4", "--chunk-size", "5", "--floats"]
    assert cli.main(_args("minilm-l6", f"tsv:{pairs_tsv}", "en", tmp_path / "en", *common)) == 0
    assert ii_jax_main(_args("minilm-l6", f"tsv:{pairs_tsv}", "es", tmp_path / "es", *common)) == 0  # via ii-jax
    en, es = shard_store.open_store(tmp_path / "en"), shard_store.open_store(tmp_path / "es")
    shard_store.check_paired(en, es)
    assert len(en) == 12 and en.layers == list(range(7)) and en.relative_depth[-1] == 1.0
    assert en.manifest["dataset"]["side"] == "en" and es.manifest["dataset"]["side"] == "es"
    assert en.manifest["model"]["revision"].startswith("sha256:")
    assert (en.token_counts >= 8).all() and (en.token_counts <= 80).all()
    np.testing.assert_array_equal(
        np.asarray(en.bits(3)),
        __import__("ii_jax.binary", fromlist=["x"]).pack_bits_np(np.asarray(en.floats(3)) > 0))
    # a different subsample is refused before any comparison
    assert cli.main(_args("minilm-l6", f"tsv:{pairs_tsv}", "es", tmp_path / "es2", *common, "--seed", "5")) == 0
    with pytest.raises(ValueError, match="item ids differ"):
        shard_store.check_paired(en, shard_store.open_store(tmp_path / "es2"))


def test_vision_extraction(tmp_path):
    built("dinov2-small")
    out = tmp_path / "fm"
    assert cli.main(_args("dinov2-small", "fashion-mnist:test", "b", out, "-n", "6", "--tokens", "5")) == 0
    store = shard_store.open_store(out)
    assert store.bits(12).shape == (6, 5, 12) and store.manifest["window"]["layout"].startswith("cls+patches")
    assert store.manifest["labels"] is not None and len(store.manifest["labels"]) == 6


def test_bad_input_exit_codes(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\ten\tes\n1\tHello there my friend.\tHola amigo.\n2\tOnly English here.\n")
    assert cli.main(_args("minilm-l6", f"tsv:{bad}", "en", tmp_path / "o1")) == 2
    assert "the sides differ in length" in capsys.readouterr().err
    short = tmp_path / "short.tsv"
    short.write_text("id\ten\tes\nv1\tHi.\tHola.\n")
    # a short item is filtered (default 40-80 tokens), and a filter below the window is refused: never padded
    assert cli.main(_args("minilm-l6", f"tsv:{short}", "en", tmp_path / "o2")) == 2
    assert "no pairs left to extract after filtering" in capsys.readouterr().err
    assert cli.main(_args("minilm-l6", f"tsv:{short}", "en", tmp_path / "o2", "--tokens", "4", "--min-tokens", "0")) == 2
    assert "--tokens 4 with --drop-last 2 needs items of at least 6 tokens" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists() or not list((tmp_path / "o2").glob("layer_*"))
    monkeypatch.setattr(D_images, "STAMPS_DIR", tmp_path / "none")  # read in extract.datasets.images
    assert cli.main(_args("dinov2-small", "stamps:image-en", "image", tmp_path / "o3")) == 3
    assert "apt-get install tuxpaint-stamps-default" in capsys.readouterr().err
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli.main(_args("no-such-model-xyz", f"tsv:{short}", "en", tmp_path / "o4")) == 2
    assert "neither a built-in" in capsys.readouterr().err


def test_output_folder_with_other_extraction_is_protected(tmp_path, pairs_tsv, capsys):
    args = ["-n", "4", "--tokens", "4", "--min-tokens", "6", "--batch-size", "4"]
    assert cli.main(_args("minilm-l6", f"tsv:{pairs_tsv}", "en", tmp_path / "s", *args)) == 0
    assert cli.main(_args("minilm-l6", f"tsv:{pairs_tsv}", "es", tmp_path / "s", *args)) == 2
    assert "already holds a different extraction" in capsys.readouterr().err
    assert cli.main(_args("minilm-l6", f"tsv:{pairs_tsv}", "es", tmp_path / "s", *args, "--overwrite")) == 0
    assert shard_store.open_store(tmp_path / "s").manifest["dataset"]["side"] == "es"


def _run(out, dataset, *, wait=True):
    cmd = [sys.executable, "-m", "extract.cli", *_args("minilm-l6", dataset, "en", out, "-n", "40", "--tokens", "8",
                                                       "--min-tokens", "10", "--batch-size", "2", "--chunk-size", "4", "--floats",
                                                       "--threads", "1")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if wait:
        return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_killed_extraction_resumes_to_identical_files(tmp_path, pairs_tsv):
    built("minilm-l6")
    dataset = f"tsv:{pairs_tsv}"
    ref = _run(tmp_path / "ref", dataset)
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "killed"
    proc = _run(out, dataset, wait=False)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if len(list((out / ".partial").glob("chunk_*.json"))) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list((out / ".partial").glob("chunk_*.json")))
    assert 3 <= done < 10 and not (out / "manifest.json").exists()
    with pytest.raises(ValueError, match="unfinished extraction"):
        shard_store.open_store(out)
    again = _run(out, dataset)
    assert again.returncode == 0, again.stderr
    names = sorted(p.name for p in (tmp_path / "ref").iterdir())
    assert names == sorted(p.name for p in out.iterdir())
    assert len(names) == 1 + 2 * 7
    for name in names:
        assert (tmp_path / "ref" / name).read_bytes() == (out / name).read_bytes(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_items"] == 40 and shard_store.open_store(out).verify() is None
