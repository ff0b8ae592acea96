"""Loading models for extraction: built-in names, local folders or hub ids -> a torch module and its inputs.

The loader decides what a model is from its config: vision towers (DINOv2, ViT, ImageGPT, CLIP's vision
tower) read images; everything else reads text, as an encoder (BERT, XLM-R, CLIP's text tower) or a causal
LM. Causal LMs are loaded as their *base* model (``AutoModel``), so the vocabulary head is never computed.

``device_map`` (e.g. ``"auto"``, ``"balanced"``, ``"cuda:0"`` or a dict) is passed to ``from_pretrained``:
accelerate then places a model that fits one node over its GPUs (and CPU/disk if it must). The forward
passes keep their CPU inputs and outputs: inputs are moved to the device of the input embeddings and the
hidden states come back to the CPU, so the rest of the extraction does not change.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from extract import assets
from extract.dtypes import resolve_dtype, torch_dtype

__all__ = ["LoadedModel", "load_model", "model_revision", "VISION_TYPES"]

VISION_TYPES = {"dinov2", "vit", "imagegpt", "clip_vision_model", "dinov2_with_registers", "deit", "beit"}
CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


@dataclasses.dataclass
class LoadedModel:
    """A model ready for forward passes.

    Attributes:
      name: what the user asked for (built-in name, path or hub id).
      source: the folder or hub id it was loaded from.
      kind: ``"causal"``, ``"encoder"`` or ``"vision"``.
      module: the torch module (eval mode).
      tokenizer: for text models, else ``None``.
      config: the model's (tower's) config.
      preprocess: for vision models, the preprocessing settings (dict), else ``None``.
      dtype: the floating-point type of the weights and forward passes (``"float32"``, ``"bfloat16"``,
        ``"float16"``; see :mod:`extract.dtypes`).
    """

    name: str
    source: str
    kind: str
    module: object
    tokenizer: object | None
    config: object
    preprocess: dict | None = None
    dtype: str = "float32"

    @property
    def n_layers(self) -> int:
        """Transformer layers (the hidden states are ``n_layers + 1``: embeddings first)."""
        return int(self.config.num_hidden_layers) if hasattr(self.config, "num_hidden_layers") else int(self.config.n_layer)

    @property
    def hidden_size(self) -> int:
        """Width of the hidden states (bits per token once binarised)."""
        return int(getattr(self.config, "hidden_size", None) or self.config.n_embd)


def model_revision(loaded: LoadedModel) -> str | None:
    """An identifier of the exact weights: the built folder's checksum digest, or the hub commit."""
    src = Path(loaded.source)
    sums = src / assets.CHECKSUM_FILE
    if sums.exists():
        import hashlib

        return "sha256:" + hashlib.sha256(sums.read_bytes()).hexdigest()
    return getattr(loaded.config, "_commit_hash", None)


def _is_causal(config) -> bool:
    archs = getattr(config, "architectures", None) or []
    return any(a.endswith(CAUSAL_SUFFIXES) for a in archs) or bool(getattr(config, "is_decoder", False))


def load_model(name: str, *, modality: str | None = None, cache: str | os.PathLike | None = None,
               build: bool = True, device_map: str | dict | None = None, dtype: str = "float32"):
    """Load ``name`` for extraction.

    Args:
      name: a built-in name (see :mod:`extract.assets`), a local model folder or a hub id.
      modality: ``"text"`` or ``"image"`` to pick a tower of a two-tower model (CLIP); otherwise checked
        against the model.
      device_map: passed to ``from_pretrained`` (needs accelerate); ``None`` loads on the CPU.
      dtype: ``"float32"`` (default), ``"bfloat16"``, ``"float16"``, or ``"auto"``: bfloat16 where the device
        multiplies it natively (a CUDA GPU with bfloat16, a CPU with AMX or AVX-512 BF16), else float32
        (:func:`extract.dtypes.resolve_dtype`).

    Raises:
      ValueError: if ``name`` is neither built-in nor loadable, or does not read ``modality``, or ``dtype``
        is not a dtype name.
    """
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    transformers.logging.set_verbosity_error()  # load reports about unused pooler weights are noise here

    if device_map is not None and not isinstance(device_map, (str, dict)):
        raise TypeError(f"device_map must be a string such as 'auto' or a dict, got {type(device_map).__name__}.")
    placement = {"device_map": device_map} if device_map is not None else {}
    on_gpu = device_map is not None and torch.cuda.is_available() and device_map != "cpu"
    dtype = resolve_dtype(dtype, device="cuda" if on_gpu else "cpu")
    weights = torch_dtype(dtype)
    source = assets.resolve_model(name, cache=cache, build=build)
    # Read at call time (huggingface_hub reads HF_HUB_OFFLINE only at import): without a hub, setting it
    # turns a minute of connection retries into an immediate error.
    local = os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("", "0", "false", "no")
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=local)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"model {name!r} is neither a built-in ({', '.join(assets.ASSETS)}) nor loadable by transformers "
            f"as a hub id or local folder: {str(err).splitlines()[0]}") from err
    mtype = config.model_type
    module = None
    if mtype == "clip":
        if modality not in ("text", "image"):
            raise ValueError(f"model {name!r} is CLIP: say which tower to run (text or image).")
        from transformers import CLIPTextModel, CLIPVisionModel

        cls = CLIPVisionModel if modality == "image" else CLIPTextModel
        module = cls.from_pretrained(source, dtype=weights, local_files_only=local, **placement)
        config = module.config
        mtype = config.model_type
    kind = "vision" if mtype in VISION_TYPES else ("causal" if _is_causal(config) else "encoder")
    if modality == "image" and kind != "vision":
        raise ValueError(f"model {name!r} ({mtype}) reads text, but the side to extract holds images.")
    if modality == "text" and kind == "vision":
        raise ValueError(f"model {name!r} ({mtype}) reads images, but the side to extract holds text.")
    if module is None:
        kwargs = {}
        if mtype in ("bert", "roberta", "xlm-roberta"):
            kwargs["add_pooling_layer"] = False
        module = AutoModel.from_pretrained(source, dtype=weights, local_files_only=local, **placement, **kwargs)
    module.eval()
    if device_map is not None:
        _cpu_io(module)
    tokenizer = None
    preprocess = None
    if kind == "vision":
        preprocess = _vision_preprocess(source, config, local=local)
    else:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
        tokenizer.padding_side = "right"
    return LoadedModel(name, str(source), kind, module, tokenizer, config, preprocess, dtype)


def _cpu_io(module) -> None:
    """Let a model placed by ``device_map`` take CPU inputs and return CPU hidden states."""
    import torch

    try:
        first = module.get_input_embeddings().weight.device
    except (AttributeError, NotImplementedError):
        first = next(module.parameters()).device
    if first.type in ("cpu", "meta"):
        return

    def move(x, device):
        if isinstance(x, torch.Tensor):
            return x.to(device)
        if isinstance(x, (tuple, list)):
            return type(x)(move(v, device) for v in x)
        return x

    def before(_mod, args, kwargs):
        return move(tuple(args), first), {k: move(v, first) for k, v in kwargs.items()}

    def after(_mod, _args, _kwargs, output):
        for key in ("hidden_states", "last_hidden_state"):
            if getattr(output, key, None) is not None:
                output[key] = move(output[key], "cpu")
        return output

    module.register_forward_pre_hook(before, with_kwargs=True)
    module.register_forward_hook(after, with_kwargs=True)


def _vision_preprocess(source: str, config, *, local: bool = False) -> dict:
    """Resize/crop/normalise settings from ``preprocessor_config.json`` (with ImageNet defaults)."""
    import json

    settings = {"shortest_edge": None, "crop": None, "size": None, "mean": [0.485, 0.456, 0.406],
                "std": [0.229, 0.224, 0.225], "resample": 3, "clusters": None}
    path = Path(source) / "preprocessor_config.json"
    raw = {}
    if path.exists():
        raw = json.loads(path.read_text())
    elif not local and not Path(source).exists():
        try:
            from huggingface_hub import hf_hub_download

            raw = json.loads(Path(hf_hub_download(source, "preprocessor_config.json")).read_text())
        except Exception:  # noqa: BLE001 - no processor config: defaults from the model config
            raw = {}
    size = raw.get("size")
    if isinstance(size, dict) and "shortest_edge" in size:
        settings["shortest_edge"] = int(size["shortest_edge"])
    elif isinstance(size, dict) and "height" in size:
        settings["size"] = (int(size["height"]), int(size["width"]))
    elif isinstance(size, int):
        settings["shortest_edge"] = size
    crop = raw.get("crop_size")
    if raw.get("do_center_crop", crop is not None) and crop:
        settings["crop"] = (int(crop["height"]), int(crop["width"])) if isinstance(crop, dict) else (crop, crop)
    if raw.get("image_mean"):
        settings["mean"], settings["std"] = list(raw["image_mean"]), list(raw["image_std"])
    settings["resample"] = int(raw.get("resample", 3))
    if config.model_type == "imagegpt":
        side = int(round((config.n_positions) ** 0.5))
        settings.update(size=(side, side), shortest_edge=None, crop=None, clusters=raw.get("clusters"))
        if settings["clusters"] is None:
            raise ValueError(f"{source}: an ImageGPT model needs the colour clusters of its preprocessor_config.json.")
    if settings["shortest_edge"] is None and settings["size"] is None:
        image = int(getattr(config, "image_size", 224))
        image = 224 if config.model_type in ("dinov2",) else image
        settings["size"] = (image, image)
    return settings
