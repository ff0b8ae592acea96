"""Vision forward passes: preprocessing, DINOv2 all tokens, ImageGPT and CLIP vision code paths."""
from __future__ import annotations

import json

import numpy as np
import pytest

from extract_helpers import loaded

torch = pytest.importorskip("torch")
from extract import datasets as D  # noqa: E402
from extract.vision import imagegpt_ids, n_tokens, preprocess_images, vision_states  # noqa: E402

FROG = "/usr/share/tuxpaint/stamps/animals/amphibians/frog-1.png"


def _stamps(k=3):
    return [D.ImageItem(path=s["path"]) for s in D.read_stamps()[:k]]


def test_preprocess_resize_crop_normalise():
    settings = loaded("dinov2-small").preprocess
    x = preprocess_images([D.ImageItem(pixels=np.full((300, 400, 3), 255, np.uint8)), FROG], settings)
    assert x.shape == (2, 3, 224, 224) and x.dtype == np.float32
    expect = (1 - np.array(settings["mean"])) / np.array(settings["std"])
    np.testing.assert_allclose(x[0, :, 100, 100], expect, rtol=1e-5)


def test_dinov2_all_tokens_and_last_window():
    model = loaded("dinov2-small")
    imgs = _stamps(3)
    assert n_tokens(model) == 257
    full = vision_states(model, imgs, [0, 1, 2], batch_size=3)
    assert full.shape == (3, 13, 257, 384)
    last = vision_states(model, imgs, [2, 0], window=16, batch_size=1)
    np.testing.assert_allclose(last, full[[2, 0], :, -16:], atol=1e-4)
    with torch.inference_mode():
        ref = model.module(pixel_values=torch.from_numpy(preprocess_images(imgs[:1], model.preprocess)))
        normed = model.module.layernorm(torch.from_numpy(full[0, -1])).numpy()
    # hidden state L is the last block's output; the model's output adds the final LayerNorm
    np.testing.assert_allclose(normed, ref.last_hidden_state[0].numpy(), atol=1e-4)


def test_unreadable_image_names_the_item(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG but not really")
    with pytest.raises(ValueError, match=r"item 'x': .*bad\.png: cannot read the image"):
        vision_states(loaded("dinov2-small"), [D.ImageItem(path=str(bad))], [0], ids=["x"])


def test_imagegpt_code_path(tmp_path):
    from transformers import ImageGPTConfig, ImageGPTModel

    from extract.models import load_model

    torch.manual_seed(0)
    clusters = np.random.default_rng(0).uniform(-1, 1, size=(16, 3)).round(3)
    clusters[0] = [1.0, 1.0, 1.0]  # white
    ImageGPTModel(ImageGPTConfig(vocab_size=17, n_positions=64, n_embd=32, n_layer=2, n_head=4)).save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"clusters": clusters.tolist(), "resample": 2}))
    model = load_model(str(tmp_path), modality="image")
    assert model.kind == "vision" and n_tokens(model) == 64
    ids = imagegpt_ids([D.ImageItem(pixels=np.full((20, 20, 3), 255, np.uint8))], model.preprocess)
    assert ids.shape == (1, 64) and (ids == 0).all()
    states = vision_states(model, _stamps(2), [0, 1], window=10, batch_size=2)
    assert states.shape == (2, 3, 10, 32) and np.isfinite(states).all()


def test_clip_vision_tower(tmp_path):
    from extract.models import load_model
    from test_extract_text import _tiny_clip

    model = load_model(_tiny_clip(tmp_path), modality="image")
    assert type(model.module).__name__ == "CLIPVisionModel" and n_tokens(model) == 17
    states = vision_states(model, _stamps(2), [0, 1])
    assert states.shape == (2, 3, 17, 32)
