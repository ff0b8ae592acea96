r"""Hidden states from an SGLang engine or server, for models that need a cluster, written to a shard store.

SGLang (https://github.com/sgl-project/sglang) serves models sharded over many GPUs and nodes. Asked with
``return_hidden_states=True`` (the engine or server started with ``enable_return_hidden_states``), each
``/generate`` result carries ``meta_info["hidden_states"]``: element 0 is the prefill, a ``[prompt_len, E]``
list of per-token vectors (a plain ``[E]`` vector for a one-token prompt), followed by one ``[E]`` vector per
generated token but the last. This module sends each item's token ids (tokenised here with the model's own
Hugging Face tokenizer, exactly as :mod:`extract.text` does, so the window is the same), asks for one new
token (``max_new_tokens=1``, greedy), keeps the prefill rows at the window positions and hands
``[n, L, T, E]`` arrays to :func:`extract.writer.write_store` through :func:`extract.pipeline.extract_side`
(so the token filter, subsample, ``--shard`` and resuming work as for the Hugging Face route).

Which layers SGLang returns
  Stock SGLang returns **one** state per token: the hidden state the logits are computed from, i.e. the
  last layer *after the final norm* -- the same array as Hugging Face's ``hidden_states[-1]`` (SGLang's own
  test compares the two). The store therefore holds that layer, index ``L`` (``n_layers``, relative depth
  1.0), and the embedding layer 0, which the store format requires and which is computed here, without
  SGLang, by looking the window's token ids up in the checkpoint's embedding matrix (only that tensor is read
  from the safetensors files; Gemma's ``sqrt(E)`` scale applied) -- for the decoder families where
  Hugging Face's ``hidden_states[0]`` is exactly that lookup (Llama, Mistral, Mixtral, Qwen2/3 and their MoE
  variants, DeepSeek-V2/V3, Phi-3, Gemma 1-3). Per-layer profiles need a model-specific patch: in the model's
  ``forward`` (for DeepSeek-V3, ``DeepseekV2Model.forward`` in ``sglang/srt/models/deepseek_v2.py``) collect
  the residual stream after the chosen decoder layers -- with SGLang's fused add-RMSNorm the residual
  stream after a layer is ``hidden_states + residual``, not ``hidden_states`` alone -- and return them
  concatenated along the last axis in place of the final state. Tell this module which layers the returned
  vector holds (``layers=[...]``, CLI ``--sglang-layers``); a returned width of ``len(layers) * E`` is split
  into those layers, anything else is refused; if they do not include 0, layer 0 is still computed here.
  SGLang's speculative-decoding capture of auxiliary layers (EAGLE-3) is not exposed through
  ``return_hidden_states`` and is not used.

Prefix cache
  With the radix (prefix) cache on, a prompt that shares a prefix with an earlier one is prefilled only
  for its new tokens, and fewer rows come back. Every response is checked: a prefill with fewer rows
  than the prompt is refused with a message to start SGLang with ``--disable-radix-cache``.

Determinism
  GPU kernels under dynamic batching are not bitwise reproducible, so a resumed or sharded SGLang run is
  byte-identical to an uninterrupted one only if SGLang runs deterministically (its deterministic-inference
  mode, ``--enable-deterministic-inference``, with a supported attention backend); the sign bits of states
  far from zero do not change either way.

The study's DeepSeek-V3 run (671B parameters, 16 H100s)
  DeepSeek-V3 has 61 decoder layers (the first 3 dense, the rest mixture-of-experts; the multi-token-
  prediction module is not part of the forward pass) and hidden size 7,168, so each token stores 224 uint32
  words per layer. Its FP8 weights (~700 GB) do not fit one 8-GPU H100 node, so SGLang runs it with tensor
  parallelism 16 over two nodes::

      # node 0 (and the same on node 1 with --node-rank 1)
      python -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V3 --tp 16 --nnodes 2 --node-rank 0 \\
          --dist-init-addr NODE0:5000 --trust-remote-code --enable-return-hidden-states --disable-radix-cache
      # any host that reaches node 0 (the tokenizer and config are read from --model)
      ii-jax extract --model deepseek-ai/DeepSeek-V3 --sglang http://NODE0:30000 --dataset bible:en-es \\
          --side en --out ds3-en -n 5000 --tokens 40

  With stock SGLang this gives layer 61 (after the final norm) and the embedding layer 0 (read from the
  checkpoint's ``model.embed_tokens.weight``, 129,280 x 7,168 bf16; not the MTP module's copy). A full
  layer profile (embedding + 61 layers) needs the patch described above with ``--sglang-layers all``
  (or a list of the layers to profile); return them through
  the offline engine (``--sglang engine``, same launch arguments as engine keyword arguments) rather than
  the HTTP server: as JSON each item's 62 x ~50 x 7,168 floats are several hundred megabytes. Extraction
  of many items can be fanned out with ``--shard i/n`` against one server (or several servers, one per
  shard) and joined with ``ii-jax merge``.

SGLang itself is imported only for the offline engine, and only when one is started here (it needs CUDA
GPUs: ``pip install "sglang[all]"``); the HTTP client uses the standard library alone.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Sequence

import numpy as np

__all__ = ["INSTALL_HINT", "HTTPBackend", "EngineBackend", "SGLangBackend", "EmbeddingLookup", "parse_layers",
           "prefill_states", "import_sglang", "extract_sglang"]

INSTALL_HINT = ('SGLang is not installed: on a machine with CUDA GPUs run `pip install "sglang[all]"` (see '
                "https://docs.sglang.ai/get_started/install.html), or serve the model with SGLang elsewhere and "
                "pass its URL (--sglang http://HOST:PORT).")
SERVER_HINT = "start the engine/server with enable_return_hidden_states (--enable-return-hidden-states)"


def import_sglang():
    """Import SGLang, or raise :class:`extract.assets.MissingPackageError` saying how to install it."""
    from extract.assets import MissingPackageError

    try:
        import sglang
    except ImportError as err:
        raise MissingPackageError(f"{INSTALL_HINT} ({err})") from err
    return sglang


def parse_layers(spec, n_layers: int) -> list[int]:
    """Layers the returned vectors hold: ``"last"`` (default: ``[n_layers]``), ``"all"`` (``0..n_layers``),
    or a list / comma list of indices and ranges (``"0,10-20,61"``), in the order they are concatenated.
    """
    if spec is None or spec == "last":
        return [int(n_layers)]
    if spec == "all":
        return list(range(int(n_layers) + 1))
    if isinstance(spec, str):
        out = []
        for part in spec.split(","):
            part = part.strip()
            try:
                if "-" in part:
                    a, b = part.split("-")
                    out.extend(range(int(a), int(b) + 1))
                else:
                    out.append(int(part))
            except ValueError:
                raise ValueError(f"--sglang-layers {spec!r}: expected 'last', 'all' or indices such as "
                                 "'0,10-20,61'.") from None
    else:
        out = [int(x) for x in spec]
    if not out:
        raise ValueError("no layers given.")
    bad = [x for x in out if not 0 <= x <= n_layers]
    if bad:
        raise ValueError(f"layers {bad} are outside 0..{n_layers} (0 = embedding layer, {n_layers} = last).")
    if len(set(out)) != len(out):
        raise ValueError(f"layers {out} repeat an index.")
    return out


def prefill_states(output: dict, n_tokens: int, *, name: str = "") -> np.ndarray:
    """The prefill hidden states ``float32 [n_tokens, width]`` of one SGLang ``generate`` result.

    Raises:
      ValueError: no hidden states in the result, or fewer rows than prompt tokens (prefix cache).
    """
    if not isinstance(output, dict) or not isinstance(output.get("meta_info"), dict):
        raise ValueError(f"item {name}: the SGLang result has no meta_info: {str(output)[:200]}")
    states = output["meta_info"].get("hidden_states")
    if not states:
        raise ValueError(f"item {name}: SGLang returned no hidden states; {SERVER_HINT} and request "
                         "return_hidden_states.")
    first = states[0]
    if hasattr(first, "detach"):  # a torch tensor from an in-process engine
        first = first.detach().float().cpu().numpy()
    arr = np.asarray(first, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise ValueError(f"item {name}: SGLang's prefill hidden states have shape {arr.shape}, expected "
                         "[prompt tokens, width].")
    if len(arr) != n_tokens:
        raise ValueError(f"item {name}: SGLang returned hidden states for {len(arr)} of the {n_tokens} prompt "
                         "tokens; the prefix (radix) cache skips tokens it has seen: start SGLang with "
                         "--disable-radix-cache (disable_radix_cache=True).")
    return arr


_SAMPLING = {"max_new_tokens": 1, "temperature": 0.0}
_PLAIN_EMBEDDING = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "deepseek_v2",
                    "deepseek_v3", "phi3"}
_SCALED_EMBEDDING = {"gemma", "gemma2", "gemma3", "gemma3_text"}
_EMBED_KEYS = ("model.embed_tokens.weight", "embed_tokens.weight", "model.language_model.embed_tokens.weight",
               "language_model.model.embed_tokens.weight")


class EmbeddingLookup:
    """Layer 0 (Hugging Face's ``hidden_states[0]``) of a decoder LM from its checkpoint's embedding matrix.

    Only the embedding tensor is read, row by row as tokens appear, from the model folder's safetensors
    files (or the hub, when online). Raises ``ValueError`` for model types whose layer 0 is not a plain
    (or, for Gemma, ``sqrt(E)``-scaled) lookup, and when the weights cannot be found.
    """

    def __init__(self, source: str, config, *, name: str = ""):
        from pathlib import Path

        mtype = config.model_type
        if mtype not in _PLAIN_EMBEDDING | _SCALED_EMBEDDING:
            raise ValueError(
                f"model {name or source!r} ({mtype}): the embedding layer (layer 0, which a store needs) is computed "
                f"here only for {', '.join(sorted(_PLAIN_EMBEDDING | _SCALED_EMBEDDING))}; for this model return "
                "layer 0 from a patched SGLang model as well (--sglang-layers 0,...).")
        self.hidden = int(config.hidden_size)
        self.scale = np.float32(self.hidden ** 0.5) if mtype in _SCALED_EMBEDDING else None
        folder = Path(source)
        index, single = folder / "model.safetensors.index.json", folder / "model.safetensors"
        fetch = None
        if not folder.is_dir():
            fetch = self._hub(source)
            index, single = fetch("model.safetensors.index.json"), None
            if index is None:
                single = fetch("model.safetensors")
        if index is not None and Path(index).exists():
            weight_map = json.loads(Path(index).read_text())["weight_map"]
            key = self._key(weight_map, name or source)
            path = (Path(index).parent / weight_map[key]) if fetch is None else fetch(weight_map[key])
        elif single is not None and Path(single).exists():
            from safetensors import safe_open

            with safe_open(str(single), framework="pt") as fh:
                key = self._key({k: None for k in fh.keys()}, name or source)
            path = single
        else:
            raise ValueError(f"model {name or source!r}: no safetensors checkpoint to read the embedding layer from "
                             "(give --model the local model folder SGLang serves).")
        if path is None or not Path(path).exists():
            raise ValueError(f"model {name or source!r}: cannot read {key} for the embedding layer.")
        self.path, self.key = str(path), key
        self._rows: dict[int, np.ndarray] = {}

    @staticmethod
    def _hub(repo: str):
        def fetch(filename):
            try:
                from huggingface_hub import hf_hub_download

                local = os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("", "0", "false", "no")
                return hf_hub_download(repo, filename, local_files_only=local)
            except Exception:  # noqa: BLE001 - not on the hub / offline: reported by the caller
                return None
        return fetch

    @staticmethod
    def _key(keys, name: str) -> str:
        for k in _EMBED_KEYS:
            if k in keys:
                return k
        found = [k for k in keys if k.endswith("embed_tokens.weight") and ".layers." not in k]
        if not found:
            raise ValueError(f"model {name!r}: no embed_tokens weight in its checkpoint for the embedding layer.")
        return found[0]

    def __call__(self, ids: Sequence[int]) -> np.ndarray:
        """``float32 [len(ids), E]``."""
        need = sorted({int(t) for t in ids} - set(self._rows))
        if need:
            from safetensors import safe_open

            with safe_open(self.path, framework="pt") as fh:
                table = fh.get_slice(self.key)
                for t in need:
                    row = table[t:t + 1].float().numpy()[0]
                    self._rows[t] = row * self.scale if self.scale is not None else row
        return np.stack([self._rows[int(t)] for t in ids]).astype(np.float32)


class SGLangBackend:
    """What :func:`extract.pipeline.extract_side` needs from a backend; subclasses implement :meth:`generate`."""

    name = "sglang"

    def __init__(self, *, layers=None):
        self.layers_spec = layers
        self.info: dict = {}
        self.returned: list[int] | None = None  # the layers SGLang's vectors hold, in their order
        self.embeddings: EmbeddingLookup | None = None  # layer 0 computed here when SGLang does not return it

    def generate(self, input_ids: list[list[int]]) -> list[dict]:  # pragma: no cover - abstract
        """Hidden states of every sequence of token ids: one dict per sequence."""
        raise NotImplementedError

    def describe(self) -> dict:
        """The engine's identity for the manifest."""
        out = {"engine": "sglang", **self.info, "layers_returned": self.returned,
               "state": "residual stream; the last layer after the final norm"}
        if self.embeddings is not None:
            out["embedding_layer"] = f"looked up here in {self.embeddings.key}"
        return out

    def load(self, name: str, *, cache=None):
        """Tokenizer and config of ``name`` (no weights): a :class:`extract.models.LoadedModel` without module."""
        from transformers import AutoConfig, AutoTokenizer

        from extract import assets
        from extract.models import LoadedModel

        source = assets.resolve_model(name, cache=cache)
        local = os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("", "0", "false", "no")
        try:
            config = AutoConfig.from_pretrained(source, local_files_only=local, trust_remote_code=False)
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
        except (OSError, ValueError) as err:
            raise ValueError(f"model {name!r}: the SGLang route reads its tokenizer and config with transformers, "
                             f"which failed: {str(err).splitlines()[0]}") from err
        config = getattr(config, "text_config", None) or config
        tokenizer.padding_side = "right"
        loaded = LoadedModel(name, str(source), "causal", None, tokenizer, config, None)
        self.returned = parse_layers(self.layers_spec, loaded.n_layers)
        if 0 not in self.returned:
            self.embeddings = EmbeddingLookup(str(source), config, name=name)
        return loaded

    def layers(self, loaded) -> list[int]:
        """The stored layers: 0 (computed here if SGLang does not return it), then the returned ones."""
        if self.returned is None:
            self.returned = parse_layers(self.layers_spec, loaded.n_layers)
        return ([0] if 0 not in self.returned else []) + list(self.returned)

    def states(self, loaded, tokenized, indices: Sequence[int], *, layers: Sequence[int], batch_size: int = 16,
               ids: Sequence[str] | None = None) -> np.ndarray:
        """``float32 [n, len(layers), T, E]`` at the window positions of ``indices`` (same contract as
        :func:`extract.text.text_states`). Prompts end at each item's last window token: under causal
        attention the later tokens cannot change the window.
        """
        indices = np.asarray(indices, dtype=np.int64)
        returned = list(self.returned if self.returned is not None else layers)
        local0 = 0 not in returned
        if list(layers) != ([0] if local0 else []) + returned:
            raise ValueError(f"layers {list(layers)} do not match what this backend stores ({self.layers(loaded)}).")
        if local0 and self.embeddings is None:
            self.embeddings = EmbeddingLookup(loaded.source, loaded.config, name=loaded.name)
        e, k = loaded.hidden_size, len(returned)
        window = tokenized.window_positions.shape[1]
        out = np.empty((len(indices), len(layers), window, e), np.float32)
        for start in range(0, len(indices), batch_size):
            batch = indices[start:start + batch_size]
            seqs = [list(map(int, tokenized.input_ids[i][: int(tokenized.window_positions[i, -1]) + 1]))
                    for i in batch]
            results = self.generate(seqs)
            if not isinstance(results, list) or len(results) != len(seqs):
                raise ValueError(f"SGLang returned {len(results) if isinstance(results, list) else 'no list of'} "
                                 f"results for {len(seqs)} prompts.")
            for r, (i, seq, res) in enumerate(zip(batch, seqs, results, strict=False)):
                name = repr(ids[i]) if ids is not None else f"#{int(i)}"
                arr = prefill_states(res, len(seq), name=name)
                if arr.shape[1] != k * e:
                    raise ValueError(
                        f"item {name}: SGLang returned vectors of width {arr.shape[1]}, but {k} layer(s) "
                        f"{returned[:4]}{'...' if k > 4 else ''} of hidden size {e} need {k * e}; stock "
                        "SGLang returns only the last layer (use the default --sglang-layers last), more "
                        "layers need a patched model (see extract/sglang.py).")
                pos = tokenized.window_positions[i]
                arr = arr.reshape(len(seq), k, e)[pos]  # [T, k, E]
                out[start + r, int(local0):] = np.moveaxis(arr, 1, 0)
                if local0:
                    out[start + r, 0] = self.embeddings([seq[p] for p in pos])
        return out


class HTTPBackend(SGLangBackend):
    """An SGLang server's native ``/generate`` endpoint (``python -m sglang.launch_server ...
    --enable-return-hidden-states --disable-radix-cache``).
    """

    name = "sglang-http"

    def __init__(self, url: str, *, layers=None, timeout: float = 600.0):
        super().__init__(layers=layers)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"SGLang server URL {url!r} must start with http:// or https://.")
        self.url = url.rstrip("/").removesuffix("/generate")
        self.timeout = timeout
        self.info = {}  # the URL is not recorded: parts of one plan may use different servers
        server = self._get("/get_server_info") or self._get("/server_info") or {}
        model = self._get("/get_model_info") or {}
        for key, value in (("version", server.get("version")), ("model_path", model.get("model_path") or
                                                                 server.get("model_path")),
                           ("dtype", server.get("dtype")), ("tp_size", server.get("tp_size")),
                           ("quantization", server.get("quantization"))):
            if value is not None:
                self.info[key] = value

    def _get(self, path: str) -> dict | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=min(self.timeout, 30)) as resp:
                data = json.loads(resp.read())
            return data if isinstance(data, dict) else None
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def generate(self, input_ids: list[list[int]]) -> list[dict]:
        """Hidden states from the SGLang server, one request per batch."""
        body = json.dumps({"input_ids": input_ids, "sampling_params": dict(_SAMPLING),
                           "return_hidden_states": True}).encode()
        req = urllib.request.Request(self.url + "/generate", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as err:
            detail = err.read()[:300].decode(errors="replace")
            raise OSError(f"SGLang server {self.url}/generate answered HTTP {err.code}: {detail}") from err
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise OSError(f"cannot reach the SGLang server at {self.url} ({reason}); is it running?") from err
        try:
            data = json.loads(payload)
        except ValueError as err:
            raise ValueError(f"SGLang server {self.url}/generate did not answer JSON: {payload[:200]!r}") from err
        return data if isinstance(data, list) else [data]


class EngineBackend(SGLangBackend):
    """An offline ``sglang.Engine`` in this process (pass one, or start one with :meth:`start`)."""

    name = "sglang-engine"

    def __init__(self, engine, *, layers=None):
        super().__init__(layers=layers)
        if not hasattr(engine, "generate"):
            raise TypeError(f"expected an sglang.Engine (with .generate), got {type(engine).__name__}.")
        self.engine = engine
        self.info = {"offline": True}
        try:
            import sglang

            self.info["version"] = getattr(sglang, "__version__", None)
        except ImportError:
            pass
        args = getattr(engine, "server_args", None)
        for key in ("model_path", "dtype", "tp_size", "quantization"):
            if getattr(args, key, None) is not None:
                self.info[key] = getattr(args, key)

    @classmethod
    def start(cls, model_path: str, *, layers=None, **engine_args) -> "EngineBackend":
        """Start ``sglang.Engine(model_path=..., enable_return_hidden_states=True, disable_radix_cache=True,
        **engine_args)`` (e.g. ``tp_size=16, nnodes=2, node_rank=0, dist_init_addr="host:5000"``).
        """
        sgl = import_sglang()
        kwargs = {"enable_return_hidden_states": True, "disable_radix_cache": True, **engine_args}
        return cls(sgl.Engine(model_path=model_path, **kwargs), layers=layers)

    def generate(self, input_ids: list[list[int]]) -> list[dict]:
        """Hidden states from the in-process SGLang engine."""
        res = self.engine.generate(input_ids=input_ids, sampling_params=dict(_SAMPLING), return_hidden_states=True)
        return res if isinstance(res, list) else [res]

    def shutdown(self) -> None:
        """Stop the in-process engine."""
        if hasattr(self.engine, "shutdown"):
            self.engine.shutdown()


def extract_sglang(cfg, backend: SGLangBackend, **kwargs):
    """:func:`extract.pipeline.extract_side` with the forward passes done by SGLang (text sides only)."""
    from extract.pipeline import extract_side

    return extract_side(cfg, backend=backend, **kwargs)
