"""The SGLang route: a fake SGLang server (``/generate`` with ``return_hidden_states``), a fake offline engine
that runs the tiny HF model, and the refusals (prefix cache, no hidden states, wrong width, no server,
no SGLang installed). SGLang itself is not needed."""
from __future__ import annotations

import http.server
import json
import threading

import numpy as np
import pytest

pytest.importorskip("torch")
from extract import cli  # noqa: E402
from extract import sglang as S  # noqa: E402
from extract.assets import MissingPackageError  # noqa: E402
from extract.merge import merge_stores  # noqa: E402
from extract.pipeline import ExtractConfig, extract_side  # noqa: E402
from ii_jax import store as shard_store  # noqa: E402
from ii_jax.binary import pack_bits_np  # noqa: E402
from test_extract_shards import build_tiny_causal, write_pairs  # noqa: E402

E = 40  # the tiny model's hidden size


def fake_state(token: int, pos: int, width: int = E) -> np.ndarray:
    """What the fake server returns for ``token`` at ``pos``: seeded noise, exact in float32 and JSON."""
    return np.random.default_rng(1000 * pos + token).standard_normal(width).astype(np.float32)


class FakeSGLang(http.server.BaseHTTPRequestHandler):
    """Answers like ``sglang.launch_server --enable-return-hidden-states``: a list of results, each with
    ``meta_info.hidden_states[0]`` = the prefill's ``[prompt_len, E]`` states."""

    mode = "ok"
    requests: list = []

    def log_message(self, *args):
        pass

    def _send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/get_server_info":
            self._send(200, {"version": "0.0.fake", "dtype": "bfloat16", "tp_size": 16, "model_path": "fake"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(req)
        if self.path != "/generate":
            return self._send(404, {"error": "not found"})
        if self.mode == "error":
            return self._send(400, {"error": "bad request: something"})
        out = []
        for ids in req["input_ids"]:
            rows = [fake_state(t, p).tolist() for p, t in enumerate(ids)]
            if self.mode == "cached":
                rows = rows[3:]  # a radix-cache hit: only the new tokens are prefilled
            meta = {"prompt_tokens": len(ids), "completion_tokens": 1, "id": "x"}
            if self.mode != "no_states" and req.get("return_hidden_states"):
                meta["hidden_states"] = [rows]
            out.append({"text": " the", "output_ids": [4], "meta_info": meta})
        self._send(200, out)


@pytest.fixture
def server():
    FakeSGLang.mode = "ok"
    FakeSGLang.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeSGLang)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return build_tiny_causal(root / "model"), write_pairs(root / "pairs.tsv")


def _args(model, data, out, url, *extra):
    return ["extract", "--model", str(model), "--dataset", f"tsv:{data}", "--side", "en", "--out", str(out),
            "--no-progress", "-n", "12", "--tokens", "4", "--min-tokens", "6", "--batch-size", "5", "--chunk-size", "4", "--floats",
            "--sglang", url, *extra]


def test_server_route_writes_the_last_layer(tmp_path, tiny, server):
    from transformers import AutoTokenizer

    model, data = tiny
    assert cli.main(_args(model, data, tmp_path / "s", server)) == 0
    store = shard_store.open_store(tmp_path / "s")
    m = store.manifest
    assert store.layers == [0, 3] and store.relative_depth == [0.0, 1.0] and m["embedding_layer"] == 0
    assert m["model"]["backend"]["layers_returned"] == [3]
    # layer 0 is looked up here in the checkpoint's embedding matrix: exactly the HF route's layer 0
    hf = shard_store.open_store(extract_side(ExtractConfig(model=str(model), dataset=f"tsv:{data}", side="en",
                                                      out=str(tmp_path / "hf"), n=12, window=4, min_tokens=6, batch_size=5,
                                                      chunk_size=4, floats=True, dtype="float32"), log=lambda m: None,
                                        progress_bar=False))
    assert hf.item_ids == store.item_ids
    np.testing.assert_array_equal(np.asarray(store.floats(0)), np.asarray(hf.floats(0)))
    np.testing.assert_array_equal(np.asarray(store.bits(0)), np.asarray(hf.bits(0)))
    assert m["model"]["class"] == "sglang-http" and m["model"]["dtype"] == "bfloat16"
    assert m["model"]["backend"]["version"] == "0.0.fake" and "url" not in m["model"]["backend"]
    req = FakeSGLang.requests[0]
    assert req["return_hidden_states"] is True and req["sampling_params"]["max_new_tokens"] == 1
    assert 1 <= len(req["input_ids"]) <= 5
    # the stored tokens are the window: the last 4 content tokens before the 2 dropped ones
    tok = AutoTokenizer.from_pretrained(model)
    ds = {row.split("\t")[0]: row.split("\t")[1] for row in data.read_text().splitlines()[1:]}
    floats, bits = np.asarray(store.floats(3)), np.asarray(store.bits(3))
    for r, item in enumerate(store.item_ids):
        ids = tok(ds[item])["input_ids"]  # [BOS] words [EOS]
        content = list(range(1, len(ids) - 1))
        window = content[-6:-2]
        expect = np.stack([fake_state(ids[p], p) for p in window])
        np.testing.assert_array_equal(floats[r], expect.astype(np.float16))
        np.testing.assert_array_equal(bits[r], pack_bits_np(expect > 0))
        assert store.token_counts[r] == len(content)
    # prompts end at the last window token (causal attention: later tokens cannot change it)
    assert all(len(ids) <= max(store.token_counts) - 1 for r in FakeSGLang.requests for ids in r["input_ids"])


def test_server_route_shards_and_merges(tmp_path, tiny, server):
    model, data = tiny
    assert cli.main(_args(model, data, tmp_path / "full", server)) == 0
    for i in range(2):
        assert cli.main(_args(model, data, tmp_path / f"p{i}", server, "--shard", f"{i}/2")) == 0
    merge_stores(tmp_path / "m", [tmp_path / "p1", tmp_path / "p0"], log=lambda m: None)
    for p in (tmp_path / "full").iterdir():
        assert p.read_bytes() == (tmp_path / "m" / p.name).read_bytes(), p.name


def test_server_refusals(tmp_path, tiny, server, capsys):
    model, data = tiny
    FakeSGLang.mode = "cached"
    assert cli.main(_args(model, data, tmp_path / "a", server)) == 2
    assert "--disable-radix-cache" in capsys.readouterr().err
    FakeSGLang.mode = "no_states"
    assert cli.main(_args(model, data, tmp_path / "b", server)) == 2
    assert "--enable-return-hidden-states" in capsys.readouterr().err
    FakeSGLang.mode = "error"
    assert cli.main(_args(model, data, tmp_path / "c", server)) == 2
    assert "answered HTTP 400" in capsys.readouterr().err
    FakeSGLang.mode = "ok"
    assert cli.main(_args(model, data, tmp_path / "d", server, "--sglang-layers", "all")) == 2
    err = capsys.readouterr().err
    assert "width 40" in err and "need 160" in err
    assert cli.main(_args(model, data, tmp_path / "e", "http://127.0.0.1:9", "--sglang-timeout", "5")) == 2
    assert "cannot reach the SGLang server" in capsys.readouterr().err
    assert cli.main(_args(model, data, tmp_path / "f", "localhost:30000")) == 2
    assert "must start with http://" in capsys.readouterr().err
    assert cli.main(_args(model, data, tmp_path / "g", server, "--sglang-engine-args", "{}")) == 2
    assert "applies to --sglang engine only" in capsys.readouterr().err
    assert cli.main(_args(model, data, tmp_path / "h", server, "--device-map", "auto")) == 2
    assert "drop --device-map" in capsys.readouterr().err


class FakeEngine:
    """Duck-typed ``sglang.Engine`` that runs the tiny HF model one prompt at a time and returns, like a
    patched model, all hidden states (embedding layer first) concatenated along the last axis."""

    def __init__(self, folder):
        import torch
        from transformers import AutoModel

        self.model = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()
        self.calls = []

    def generate(self, *, input_ids, sampling_params, return_hidden_states):
        import torch

        self.calls.append((len(input_ids), dict(sampling_params), return_hidden_states))
        out = []
        for ids in input_ids:
            with torch.inference_mode():
                res = self.model(input_ids=torch.tensor([ids]), output_hidden_states=True, use_cache=False)
            full = torch.cat(res.hidden_states, dim=-1)[0]  # [S, (L+1) * E]
            out.append({"meta_info": {"hidden_states": [full.tolist()], "prompt_tokens": len(ids)}})
        return out


def test_engine_route_matches_the_hugging_face_route(tmp_path, tiny):
    model, data = tiny
    common = dict(model=str(model), dataset=f"tsv:{data}", side="en", n=12, window=4, min_tokens=6, batch_size=4, chunk_size=4,
                  floats=True)
    hf = shard_store.open_store(extract_side(ExtractConfig(out=str(tmp_path / "hf"), dtype="float32", **common),
                                             log=lambda m: None,
                                        progress_bar=False))
    engine = FakeEngine(model)
    backend = S.EngineBackend(engine, layers="all")
    sg = shard_store.open_store(extract_side(ExtractConfig(out=str(tmp_path / "sg"), **common), log=lambda m: None,
                                        progress_bar=False, backend=backend))
    assert engine.calls[0][1:] == ({"max_new_tokens": 1, "temperature": 0.0}, True)
    assert sg.layers == hf.layers == [0, 1, 2, 3] and sg.item_ids == hf.item_ids and sg.embedding_layer == 0
    assert sg.manifest["model"]["class"] == "sglang-engine"
    np.testing.assert_array_equal(sg.token_counts, hf.token_counts)
    for layer in hf.layers:
        a, b = np.asarray(sg.floats(layer), np.float32), np.asarray(hf.floats(layer), np.float32)
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)  # unpadded single prompts vs padded batches
        np.testing.assert_array_equal(np.asarray(sg.bits(layer)), np.asarray(hf.bits(layer)))
    # a chosen subset of layers, in the order the patched model concatenates them
    two = S.EngineBackend(FakeEngine(model), layers="3,1")
    engine2 = two.engine
    engine2.generate = lambda **kw: [{"meta_info": {"hidden_states": [np.concatenate(
        [np.asarray(r["meta_info"]["hidden_states"][0])[:, 3 * E:4 * E],
         np.asarray(r["meta_info"]["hidden_states"][0])[:, 1 * E:2 * E]], axis=1)]}}
        for r in FakeEngine.generate(engine2, **kw)]
    sub = shard_store.open_store(extract_side(ExtractConfig(out=str(tmp_path / "sub"), **common), log=lambda m: None,
                                         progress_bar=False, backend=two))
    assert sub.layers == [0, 3, 1] and sub.embedding_layer == 0
    np.testing.assert_array_equal(np.asarray(sub.floats(0)), np.asarray(hf.floats(0)))  # looked up here
    np.testing.assert_array_equal(np.asarray(sub.bits(1)), np.asarray(sg.bits(1)))
    np.testing.assert_array_equal(np.asarray(sub.bits(3)), np.asarray(sg.bits(3)))


def test_parse_layers_and_prefill_checks():
    assert S.parse_layers(None, 61) == [61] and S.parse_layers("all", 2) == [0, 1, 2]
    assert S.parse_layers("0,10-12,61", 61) == [0, 10, 11, 12, 61] and S.parse_layers([2, 0], 3) == [2, 0]
    for bad, msg in (("62", "outside 0..61"), ("1,1", "repeat"), ("x", "expected 'last'"), ([], "no layers")):
        with pytest.raises(ValueError, match=msg):
            S.parse_layers(bad, 61)
    one = {"meta_info": {"hidden_states": [[0.5, -1.0]]}}  # a one-token prompt comes back as a vector
    assert S.prefill_states(one, 1).shape == (1, 2)
    with pytest.raises(ValueError, match="no meta_info"):
        S.prefill_states({"text": "x"}, 1)
    with pytest.raises(ValueError, match="1 of the 3 prompt tokens"):
        S.prefill_states(one, 3, name="'v1'")
    with pytest.raises(TypeError, match="sglang.Engine"):
        S.EngineBackend(object())
    from transformers import BertConfig

    with pytest.raises(ValueError, match=r"--sglang-layers 0,"):
        S.EmbeddingLookup("/nowhere", BertConfig(), name="bert-x")


def test_sglang_missing_is_a_clear_error(tmp_path, tiny, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_sglang(name, *args, **kwargs):
        if name == "sglang" or name.startswith("sglang."):
            raise ImportError("No module named 'sglang'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sglang)
    with pytest.raises(MissingPackageError, match=r'pip install "sglang\[all\]"'):
        S.import_sglang()
    model, data = tiny
    assert cli.main(_args(model, data, tmp_path / "x", "engine", "--sglang-engine-args", '{"tp_size": 16}')) == 3
    assert 'pip install "sglang[all]"' in capsys.readouterr().err
    assert cli.main(_args(model, data, tmp_path / "y", "engine", "--sglang-engine-args", "[1]")) == 2
    assert "JSON object" in capsys.readouterr().err
