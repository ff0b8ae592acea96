"""The token filter's defaults: one filter for every side of a dataset, 40-80 tokens.

Runs tiny randomly initialised models built here (a word-level causal LM, a 2-layer DINOv2), so no asset
has to be built: with a word-level tokenizer, a caption of w words has w content tokens.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
from extract import cli  # noqa: E402
from extract import pipeline as P  # noqa: E402
from extract.pipeline import ExtractConfig, extract_side  # noqa: E402
from ii_jax import store as shard_store  # noqa: E402
from test_extract_shards import WORDS, build_tiny_causal  # noqa: E402

# caption lengths in words (= content tokens): around both edges of 40-80 and of the old 42-80
LENGTHS = [12, 38, 39, 40, 41, 42, 43, 60, 79, 80, 81, 95, 40, 41, 55, 70]


def build_tiny_dinov2(folder: Path) -> Path:
    """A random 2-layer DINOv2 reading 28x28 images (4 patches + CLS)."""
    import json

    import torch
    from transformers import Dinov2Config, Dinov2Model

    folder = Path(folder)
    if (folder / "config.json").exists():
        return folder
    torch.manual_seed(0)
    cfg = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=28, patch_size=14, architectures=["Dinov2Model"])
    Dinov2Model(cfg).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_resize": True, "size": {"height": 28, "width": 28}, "do_center_crop": False,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}))
    return folder


@pytest.fixture(scope="module")
def captioned(tmp_path_factory):
    """An ``images:`` folder: 16 small PNGs with captions of :data:`LENGTHS` words; the two tiny models."""
    from PIL import Image

    root = tmp_path_factory.mktemp("captioned")
    data = root / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i, n in enumerate(LENGTHS):
        Image.fromarray(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)).save(data / f"img{i:02d}.png")
        lines.append(f"img{i:02d}.png\t{' '.join(rng.choice(WORDS, size=n))}")
    (data / "captions.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"images:{data}", build_tiny_causal(root / "lm"), build_tiny_dinov2(root / "vit")


def _quiet(_msg):
    pass


def test_default_filter_is_40_to_80_on_every_side():
    assert (P.DEFAULT_MIN_TOKENS, P.DEFAULT_MAX_TOKENS) == (40, 80)
    cfg = ExtractConfig(model="m", dataset="d", side="s", out="o")
    assert P.token_filter(cfg.min_tokens, cfg.max_tokens) == (40, 80)
    parser = cli.argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["extract", "--model", "m", "--dataset", "d", "--side", "s", "--out", "o"])
    assert P.token_filter(args.min_tokens, args.max_tokens) == (40, 80)
    assert P.token_filter(0, 0) == (None, None) and P.token_filter(3, None) == (3, None)
    with pytest.raises(ValueError, match="--min-tokens 50 is above --max-tokens 45"):
        P.token_filter(50, 45)


def test_text_and_image_sides_keep_the_same_pairs_by_default(tmp_path, captioned):
    dataset, lm, vit = captioned
    text = shard_store.open_store(extract_side(ExtractConfig(model=str(lm), dataset=dataset, side="caption",
                                                        out=str(tmp_path / "t"), batch_size=4),
                                          log=_quiet, progress_bar=False))
    image = shard_store.open_store(extract_side(ExtractConfig(model=str(vit), dataset=dataset, side="image",
                                                         out=str(tmp_path / "i"), filter_model=str(lm),
                                                         batch_size=4), log=_quiet, progress_bar=False))
    shard_store.check_paired(text, image)
    keep = [f"img{i:02d}.png" for i, n in enumerate(LENGTHS) if 40 <= n <= 80]
    assert text.item_ids == image.item_ids == keep  # 40..80 words, not 42..80 (text) and 1..80 (image)
    for store in (text, image):
        f = store.manifest["dataset"]["filter"]
        assert (f["min_tokens"], f["max_tokens"], f["defaults"]) == (40, 80, True)
    # the default window is the most every kept item holds: 40 tokens, the final 2 dropped
    assert text.manifest["window"]["tokens"] == 38 and text.manifest["window"]["drop_last"] == 2
    assert int(np.min(text.token_counts)) == 40


def test_image_side_without_a_filter_tokenizer_is_refused(tmp_path, captioned):
    dataset, _, vit = captioned
    cfg = ExtractConfig(model=str(vit), dataset=dataset, side="image", out=str(tmp_path / "i"))
    with pytest.raises(ValueError, match="pass --filter-model MODEL .* so that both sides keep the same pairs"):
        extract_side(cfg, log=_quiet, progress_bar=False)
    everything = ExtractConfig(model=str(vit), dataset=dataset, side="image", out=str(tmp_path / "all"),
                               min_tokens=0, max_tokens=0, batch_size=8)
    assert len(shard_store.open_store(extract_side(everything, log=_quiet, progress_bar=False))) == len(LENGTHS)


def test_window_longer_than_the_filter_allows_is_refused(tmp_path, captioned):
    dataset, lm, _ = captioned
    cfg = ExtractConfig(model=str(lm), dataset=dataset, side="caption", out=str(tmp_path / "t"), window=40)
    with pytest.raises(ValueError, match="--tokens 40 with --drop-last 2 needs items of at least 42 tokens, but the "
                                         "token filter keeps items from 40: pass --min-tokens 42"):
        extract_side(cfg, log=_quiet, progress_bar=False)
    ok = ExtractConfig(model=str(lm), dataset=dataset, side="caption", out=str(tmp_path / "t2"), window=40,
                       min_tokens=42, batch_size=8)
    store = shard_store.open_store(extract_side(ok, log=_quiet, progress_bar=False))
    assert store.item_ids == [f"img{i:02d}.png" for i, n in enumerate(LENGTHS) if 42 <= n <= 80]
