"""Image sides: reading an :class:`~extract.datasets.base.ImageItem` as RGB (:func:`load_image`), same-class
pairs, and the image datasets: a folder with ``captions.tsv`` (``images:``), the Tux Paint photo stamps
(``stamps:``) and Fashion-MNIST (``fashion-mnist``).
"""
from __future__ import annotations

import gzip
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from extract.datasets.base import ImageItem, MissingDataError, PairDataset, _norm_space, _split_pair
from ii_jax.store.pairing import same_class_pairs as _same_class_pairs

STAMPS_DIR = Path("/usr/share/tuxpaint/stamps")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def load_image(item: ImageItem | str, *, background: tuple[int, int, int] = (255, 255, 255)):
    """An RGB ``PIL.Image``; transparency is flattened onto ``background``.

    Raises:
      ValueError: naming the file when it cannot be read as an image.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(item, str):
        item = ImageItem(path=item)
    if item.path is not None:
        try:
            with Image.open(item.path) as im:
                im.load()
                img = im.copy()
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise ValueError(f"{item.path}: cannot read the image ({err}).") from err
    elif isinstance(item.pixels, Image.Image):
        img = item.pixels
    elif item.pixels is not None:
        arr = np.asarray(item.pixels)
        if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
            raise ValueError(f"in-memory image must be uint8 [H, W] or [H, W, C], got {arr.dtype} {arr.shape}.")
        img = Image.fromarray(arr)
    else:
        raise ValueError("an ImageItem needs a path or pixels.")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, background + (255,))
        flat.alpha_composite(rgba)
        return flat.convert("RGB")
    return img.convert("RGB")


def same_class_pairs(labels: Sequence, *, seed: int = 0) -> list[tuple[int, int]]:
    """Disjoint same-label index pairs, as :func:`ii_jax.store.pairing.same_class_pairs` (here a list of tuples)."""
    return [(int(i), int(j)) for i, j in _same_class_pairs(labels, seed=seed)]


def load_image_folder(folder: str | os.PathLike) -> PairDataset:
    """Image-caption pairs from a folder holding images and ``captions.tsv`` (``file<TAB>caption``)."""
    folder = Path(folder)
    cap = folder / "captions.tsv"
    if not cap.exists():
        raise FileNotFoundError(f"{cap}: an image folder needs a captions.tsv (file<TAB>caption per line).")
    ids, images, captions = [], [], []
    for n, line in enumerate(cap.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"{cap}: line {n} has no tab between file name and caption.")
        fname, caption = line.split("\t", 1)
        ids.append(fname)
        images.append(ImageItem(path=str(folder / fname)))
        captions.append(caption.strip())
    return PairDataset(f"images:{folder}", ("image", "caption"), ("image", "text"), ids, (images, captions))


def read_stamps(root: Path | None = None) -> list[dict]:
    """Photographic Tux Paint stamps: ``{"path", "id", "category", "captions": {lang: text}}``.

    Dropped: the ``symbols`` category, anything under a ``cartoon`` folder, ``*_mirror.png`` copies,
    stamps marked ``colorable``/``tintable`` (line art) and stamps without a caption file.
    """
    root = Path(root) if root is not None else STAMPS_DIR
    if not root.is_dir():
        raise MissingDataError(f"stamps: {root} is missing; install it with: "
                               "apt-get install tuxpaint-stamps-default  (or: make data)")
    out = []
    for png in sorted(root.rglob("*.png")):
        rel = png.relative_to(root)
        parts = rel.parts
        if parts[0] == "symbols" or "cartoon" in parts[:-1] or png.stem.endswith("_mirror"):
            continue
        dat = png.with_suffix(".dat")
        if dat.exists() and re.search(r"\b(colorable|tintable)\b", dat.read_text(errors="replace")):
            continue
        txt = png.with_suffix(".txt")
        if not txt.exists():
            continue
        out.append({"path": str(png), "id": rel.with_suffix("").as_posix(), "category": parts[0],
                    "captions": _parse_caption_file(txt)})
    return out


def _parse_caption_file(path: Path) -> dict[str, str]:
    caps = {}
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
        if n == 0 and "=" not in line.split(" ")[0]:
            caps["en"] = _norm_space(line)
            continue
        m = re.match(r"^([A-Za-z_@]+)\.utf8=(.*)$", line)
        if m and _norm_space(m.group(2)):
            caps.setdefault(m.group(1), _norm_space(m.group(2)))
    return caps


def load_stamps(kind: str, *, seed: int = 0) -> PairDataset:
    """``image-LANG``, ``LANG-LANG`` or ``image-image`` pairs of Tux Paint photo stamps."""
    stamps = read_stamps()
    a, b = _split_pair("stamps", kind)  # rejects image-image (equal sides): see load_stamps_image_pairs
    if a == "image" or b == "image":
        lang = b if a == "image" else a
        keep = [s for s in stamps if lang in s["captions"]]
        if not keep:
            raise ValueError(f"stamps: no captions in language {lang!r}.")
        imgs = [ImageItem(path=s["path"]) for s in keep]
        caps = [s["captions"][lang] for s in keep]
        items, mods = ((imgs, caps), ("image", "text")) if a == "image" else ((caps, imgs), ("text", "image"))
        return PairDataset(f"stamps:{kind}", (a, b), mods, [s["id"] for s in keep], items,
                           [s["category"] for s in keep])
    keep = [s for s in stamps if a in s["captions"] and b in s["captions"]]
    if not keep:
        raise ValueError(f"stamps: no stamp has captions in both {a!r} and {b!r}.")
    return PairDataset(f"stamps:{kind}", (a, b), ("text", "text"), [s["id"] for s in keep],
                       ([s["captions"][a] for s in keep], [s["captions"][b] for s in keep]),
                       [s["category"] for s in keep])


def load_stamps_image_pairs(*, seed: int = 0) -> PairDataset:
    """``stamps:image-image``: disjoint pairs of two different photos of one category (seeded)."""
    stamps = read_stamps()
    pairs = same_class_pairs([s["category"] for s in stamps], seed=seed)
    ids = [f"{stamps[i]['id']}|{stamps[j]['id']}" for i, j in pairs]
    return PairDataset("stamps:image-image", ("a", "b"), ("image", "image"), ids,
                       ([ImageItem(path=stamps[i]["path"]) for i, _ in pairs],
                        [ImageItem(path=stamps[j]["path"]) for _, j in pairs]),
                       [stamps[i]["category"] for i, _ in pairs])


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    magic = int.from_bytes(data[:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(split: str = "train", *, seed: int = 0) -> PairDataset:
    """Same-class pairs of Fashion-MNIST images (``train``: 60,000 images, ``test``: 10,000)."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"fashion-mnist: split must be 'train' or 'test', got {split!r}.")
    img_path, lab_path = FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz", FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz"
    if not img_path.exists() or not lab_path.exists():
        raise MissingDataError(f"fashion-mnist: {img_path} is missing; install it with: "
                               "apt-get install dataset-fashion-mnist  (or: make data)")
    images, labels = _read_idx(img_path), _read_idx(lab_path)
    pairs = same_class_pairs(labels, seed=seed)
    ids = [f"{split}-{i}|{split}-{j}" for i, j in pairs]
    return PairDataset(f"fashion-mnist:{split}", ("a", "b"), ("image", "image"), ids,
                       ([ImageItem(pixels=images[i]) for i, _ in pairs], [ImageItem(pixels=images[j]) for _, j in pairs]),
                       [int(labels[i]) for i, _ in pairs])
