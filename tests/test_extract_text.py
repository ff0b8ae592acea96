"""Text forward passes: token windows, padding, causal truncation, encoder/causal/CLIP-text models."""
from __future__ import annotations

import numpy as np
import pytest

from extract_helpers import built, loaded

torch = pytest.importorskip("torch")
from extract.text import batches_by_length, text_states, tokenize_texts  # noqa: E402

TEXTS = [
    "The river ran quietly past the mill, where the old miller counted sacks of flour by lamplight.",
    "A short one, but long enough for a window of tokens.",
    "Children played in the square until the bells of the cathedral rang out across the whole town at dusk.",
    "She wrote letters every week to her brother, who lived far away across the ocean in a cold country.",
    "Rain again.  Then wind, and then the long grey silence of a winter afternoon in the hills.",
]


def test_window_is_last_content_tokens_before_the_dropped_ones():
    tok = loaded("minilm-l6").tokenizer
    res = tokenize_texts(TEXTS, tok, window=5, drop_last=2)
    for text, ids, pos, count in zip(TEXTS, res.input_ids, res.window_positions, res.content_counts, strict=False):
        plain = tok(text, add_special_tokens=False)["input_ids"]
        assert count == len(plain) and ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
        assert [ids[p] for p in pos] == plain[-7:-2]
    zero_drop = tokenize_texts(TEXTS, tok, window=3, drop_last=0)
    for ids, pos, text in zip(zero_drop.input_ids, zero_drop.window_positions, TEXTS, strict=False):
        assert [ids[p] for p in pos] == tok(text, add_special_tokens=False)["input_ids"][-3:]


def test_short_and_empty_items_are_errors_naming_the_item():
    tok = loaded("minilm-l6").tokenizer
    with pytest.raises(ValueError, match=r"item 'b' has 3 tokens, fewer than the window of 40 plus 2 dropped"):
        tokenize_texts(["long enough " * 30, "far too short"], tok, ids=["a", "b"])
    with pytest.raises(ValueError, match=r"item 'e': the text is empty"):
        tokenize_texts(["   "], tok, ids=["e"])
    with pytest.raises(ValueError, match="more than the model's maximum 512"):
        tokenize_texts(["word " * 600], tok, window=4, ids=["x"], max_length=512)


def test_batches_sorted_by_length():
    batches = batches_by_length([5, 2, 9, 2, 7], 2)
    assert [b.tolist() for b in batches] == [[1, 3], [0, 4], [2]]


@pytest.mark.parametrize("name", ["minilm-l6", "smollm2-135m", "e5-small-multilingual"])
def test_padded_batches_equal_single_items(name):
    model = loaded(name)
    tok = tokenize_texts(TEXTS, model.tokenizer, window=6, drop_last=2)
    order = np.concatenate(batches_by_length([len(s) for s in tok.input_ids], 10))
    batched = text_states(model, tok, order, batch_size=5)
    single = text_states(model, tok, order, batch_size=1)
    assert batched.shape == (5, model.n_layers + 1, 6, model.hidden_size)
    np.testing.assert_allclose(batched, single, atol=2e-4, rtol=1e-4)
    agree = ((batched > 0) == (single > 0)).mean()
    assert agree > 0.9999


def test_causal_truncation_is_exact():
    model = loaded("smollm2-135m")
    tok = tokenize_texts(TEXTS[:2], model.tokenizer, window=4, drop_last=2)
    got = text_states(model, tok, [0, 1], batch_size=2)
    for row, (ids, pos) in enumerate(zip(tok.input_ids, tok.window_positions, strict=False)):
        with torch.inference_mode():
            full = model.module(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
        ref = torch.stack(full, 1)[0][:, torch.from_numpy(pos)].numpy()
        np.testing.assert_allclose(got[row], ref, atol=2e-4, rtol=1e-4)


def test_gemma3_states_shape():
    model = loaded("gemma3-270m")
    assert model.kind == "causal" and type(model.module).__name__ == "Gemma3TextModel"  # no vocabulary head
    tok = tokenize_texts(TEXTS[:2], model.tokenizer, window=8, drop_last=2)
    assert model.tokenizer.bos_token_id == tok.input_ids[0][0]
    states = text_states(model, tok, [1, 0], batch_size=2)
    assert states.shape == (2, 19, 8, 640) and np.isfinite(states).all()


def _tiny_clip(tmp_path):
    from transformers import AutoTokenizer, CLIPConfig, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=30522, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, pad_token_id=0, bos_token_id=101,
                         eos_token_id=102),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=32, patch_size=8),
        projection_dim=16)
    CLIPModel(cfg).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(built("minilm-l6")).save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(
        '{"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}, "do_center_crop": true,'
        ' "image_mean": [0.481, 0.458, 0.408], "image_std": [0.269, 0.261, 0.276], "resample": 3}')
    return str(tmp_path)


def test_clip_text_tower(tmp_path):
    from extract.models import load_model

    path = _tiny_clip(tmp_path)
    model = load_model(path, modality="text")
    assert model.kind == "encoder" and type(model.module).__name__ == "CLIPTextModel"
    tok = tokenize_texts(TEXTS, model.tokenizer, window=5, drop_last=2)
    states = text_states(model, tok, range(5), batch_size=3)
    assert states.shape == (5, 3, 5, 32)
    np.testing.assert_allclose(states, text_states(model, tok, range(5), batch_size=1), atol=1e-5)
    with pytest.raises(ValueError, match="is CLIP: say which tower"):
        load_model(path)


def test_model_modality_mismatch():
    from extract.models import load_model

    with pytest.raises(ValueError, match="reads images, but the side to extract holds text"):
        load_model("dinov2-small", modality="text")
    with pytest.raises(ValueError, match="reads text, but the side to extract holds images"):
        load_model("minilm-l6", modality="image")
