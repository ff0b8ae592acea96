"""Per-layer token states of vision models: DINOv2 / ViT / CLIP's vision tower, and ImageGPT.

Preprocessing is done by hand with PIL and numpy (the transformers image processors for these models
want torchvision): resize (shortest edge, bicubic by default), centre crop, scale to [0, 1], normalise by
the model's mean/std. Transparent images are flattened onto white first. ImageGPT instead resizes to its
grid (e.g. 32 x 32), scales to [-1, 1] and maps each pixel to its nearest colour cluster id.

Token layout: ViT-like models return ``[CLS, patch_1, ..., patch_P]`` (patches in raster order) at every
layer; all of them are kept unless ``window`` asks for the last k tokens. ImageGPT returns one token per
pixel of its grid, in raster order. Index 0 of the layer axis is the embedding layer; index L is the last
block's output as transformers returns it in ``hidden_states`` (for DINOv2/ViT/CLIP that is *before* the
final LayerNorm of ``last_hidden_state``; for Gemma/Llama text models the last entry is after the final
norm).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from extract.datasets import ImageItem, load_image

__all__ = ["preprocess_images", "imagegpt_ids", "vision_states", "n_tokens"]


def _resize_crop(img, settings: dict):
    from PIL import Image

    resample = Image.Resampling(settings.get("resample", 3))
    if settings.get("shortest_edge"):
        se = settings["shortest_edge"]
        w, h = img.size
        scale = se / min(w, h)
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), resample)
    elif settings.get("size"):
        h, w = settings["size"]
        img = img.resize((w, h), resample)
    if settings.get("crop"):
        ch, cw = settings["crop"]
        w, h = img.size
        left, top = int(round((w - cw) / 2)), int(round((h - ch) / 2))
        img = img.crop((left, top, left + cw, top + ch))
    return img


def preprocess_images(images: Sequence[ImageItem | str], settings: dict, *, ids: Sequence[str] | None = None
                      ) -> np.ndarray:
    """Images -> float32 ``[B, 3, H, W]`` pixel values, normalised with ``settings["mean"/"std"]``.

    Raises:
      ValueError: naming the file (or item id) of an image that cannot be read.
    """
    out = []
    mean = np.asarray(settings["mean"], np.float32)[:, None, None]
    std = np.asarray(settings["std"], np.float32)[:, None, None]
    for k, item in enumerate(images):
        try:
            img = load_image(item)
        except ValueError as err:
            raise ValueError(f"item {ids[k]!r}: {err}" if ids is not None else str(err)) from err
        arr = np.asarray(_resize_crop(img, settings), np.float32).transpose(2, 0, 1) / 255.0
        out.append((arr - mean) / std)
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        raise ValueError(f"preprocessed images differ in shape {sorted(shapes)}; set a crop size.")
    return np.stack(out)


def imagegpt_ids(images: Sequence[ImageItem | str], settings: dict, *, ids: Sequence[str] | None = None
                 ) -> np.ndarray:
    """Images -> int64 ``[B, H * W]`` colour-cluster ids (ImageGPT's input)."""
    clusters = np.asarray(settings["clusters"], np.float32)  # [C, 3] in [-1, 1]
    rows = []
    for k, item in enumerate(images):
        try:
            img = load_image(item)
        except ValueError as err:
            raise ValueError(f"item {ids[k]!r}: {err}" if ids is not None else str(err)) from err
        arr = np.asarray(_resize_crop(img, {**settings, "crop": None}), np.float32) / 127.5 - 1.0
        px = arr.reshape(-1, 3)
        d = (px ** 2).sum(1, keepdims=True) - 2 * px @ clusters.T + (clusters ** 2).sum(1)[None]
        rows.append(np.argmin(d, axis=1))
    return np.stack(rows).astype(np.int64)


def n_tokens(loaded) -> int:
    """Tokens per image that the model produces at every layer."""
    cfg = loaded.config
    if cfg.model_type == "imagegpt":
        return int(cfg.n_positions)
    s = loaded.preprocess
    if s.get("crop"):
        h, w = s["crop"]
    elif s.get("size"):
        h, w = s["size"]
    else:
        h = w = s["shortest_edge"]
    p = cfg.patch_size
    return (h // p) * (w // p) + 1 + int(getattr(cfg, "num_register_tokens", 0) or 0)


def vision_states(loaded, images: Sequence[ImageItem | str], indices: Sequence[int], *, window: int | None = None,
                  batch_size: int = 16, ids: Sequence[str] | None = None) -> np.ndarray:
    """Hidden states of the images ``indices``: float32 ``[n, L + 1, T, E]``.

    ``T`` is every token (``window=None``) or the last ``window`` tokens of each layer's sequence.
    """
    import torch

    indices = np.asarray(indices, dtype=np.int64)
    total = n_tokens(loaded)
    t = total if window is None else int(window)
    if not 1 <= t <= total:
        raise ValueError(f"window {window} must be between 1 and the model's {total} tokens per image.")
    out = np.empty((len(indices), loaded.n_layers + 1, t, loaded.hidden_size), np.float32)
    is_igpt = loaded.config.model_type == "imagegpt"
    with torch.inference_mode():
        for start in range(0, len(indices), batch_size):
            batch = indices[start:start + batch_size]
            items = [images[i] for i in batch]
            names = [ids[i] for i in batch] if ids is not None else None
            if is_igpt:
                x = torch.from_numpy(imagegpt_ids(items, loaded.preprocess, ids=names))
                res = loaded.module(input_ids=x, output_hidden_states=True, use_cache=False)
            else:
                x = torch.from_numpy(preprocess_images(items, loaded.preprocess, ids=names))
                x = x.to(getattr(torch, getattr(loaded, "dtype", "float32")))
                res = loaded.module(pixel_values=x, output_hidden_states=True)
            hidden = torch.stack(res.hidden_states, dim=1)  # [B, L+1, S, E]
            if hidden.shape[2] != total:
                raise ValueError(f"model produced {hidden.shape[2]} tokens per image, expected {total}.")
            out[start:start + len(batch)] = hidden[:, :, total - t:, :].float().numpy()
    return out
