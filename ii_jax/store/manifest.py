"""Building, reading and validating a store's ``manifest.json`` (schema in :mod:`ii_jax.store.schema`). NumPy only.

Examples:
  >>> from ii_jax.store.manifest import build_manifest, validate_manifest
  >>> m = build_manifest(header={"model": {}, "dataset": {}, "embedding_layer": None, "relative_depth": []},
  ...                    item_ids=["a", "b"], token_counts=[3, 4], layers=[], tokens=2, hidden=40,
  ...                    store_floats=False, files={}, plan_sha256="0" * 64)
  >>> m["format"], m["n_words"], m["bits"]["shape"]
  ('ii-jax-shards', 2, [2, 2, 2])
  >>> validate_manifest(".", m)  # no layers, so no files to look for
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ii_jax.store import schema
from ii_jax.store.bits import n_words

__all__ = ["build_manifest", "read_manifest", "validate_manifest"]


def build_manifest(*, header: dict, item_ids: Sequence[str], token_counts: Sequence[int], layers: Sequence[int],
                   tokens: int, hidden: int, store_floats: bool, files: dict, plan_sha256: str) -> dict:
    """The ``manifest.json`` of a finished store.

    Args:
      header: the extraction's own fields (``model``, ``dataset``, ``window``, ``embedding_layer``,
        ``relative_depth``, ``library``, ``labels``, ...), copied as they are.
      item_ids: ``[N]`` pair ids, in row order.
      token_counts: ``[N]`` real tokens per item.
      layers: stored layer indices.
      tokens: ``T``, tokens stored per item.
      hidden: ``E``, bits (hidden size) per token.
      store_floats: whether float16 files are stored.
      files: file name -> ``{"sha256", "kind", "dtype", "shape", "layer", ...}``.
      plan_sha256: the writer's resume identity.

    Returns:
      The manifest as a dict (the header's fields, then the schema's, which win).
    """
    n, w = len(item_ids), n_words(hidden)
    manifest = dict(header)
    manifest.update({
        "format": schema.FORMAT,
        "format_version": schema.FORMAT_VERSION,
        "n_items": n,
        "item_ids": list(item_ids),
        "token_counts": [int(c) for c in token_counts],
        "tokens_stored": int(tokens),
        "hidden_size": int(hidden),
        "n_words": int(w),
        "layers": [int(x) for x in layers],
        "bits": {"dtype": schema.BITS_DTYPE, "shape": [n, int(tokens), int(w)], "bit_order": schema.BIT_ORDER,
                 "rule": schema.BIT_RULE, "padding": schema.BIT_PADDING, "file_pattern": schema.BITS_FILE_PATTERN},
        "floats": ({"dtype": schema.FLOATS_DTYPE, "shape": [n, int(tokens), int(hidden)], "clip": schema.FLOAT16_MAX,
                    "file_pattern": schema.FLOATS_FILE_PATTERN} if store_floats else None),
        "files": files,
        "plan_sha256": plan_sha256,
    })
    return manifest


def read_manifest(path: str | os.PathLike) -> dict:
    """Read and validate the manifest of the store in folder ``path``.

    Raises:
      ValueError: if there is no manifest (saying so when an unfinished extraction is there), it is not JSON,
        or :func:`validate_manifest` refuses it; the message names the file.
    """
    path = Path(path)
    mpath = path / schema.MANIFEST_FILE
    if not mpath.exists():
        partial = (" (an unfinished extraction: run it again to resume)" if (path / schema.PARTIAL_DIR).exists()
                   else "")
        raise ValueError(f"{mpath}: no manifest, so {path} is not a complete shard store{partial}.")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{mpath}: not valid JSON ({err}).") from err
    if not isinstance(manifest, dict):
        raise ValueError(f"{mpath}: not an ii-jax shard manifest.")
    validate_manifest(path, manifest)
    return manifest


def validate_manifest(path: str | os.PathLike, m: dict) -> None:
    """Check manifest ``m`` of the store in folder ``path`` against the schema and the files on disk.

    Checks the required fields, format and version, the counts (items, ids, token counts, words, depths), the
    bit layout, and that every layer's files are listed, present and not shorter than their data.

    Raises:
      ValueError: naming the manifest or the file that does not match.
    """
    path = Path(path)
    mpath = path / schema.MANIFEST_FILE
    missing = [k for k in schema.REQUIRED_FIELDS if k not in m]
    if missing:
        raise ValueError(f"{mpath}: not an ii-jax shard manifest (missing {', '.join(missing)}).")
    if m["format"] != schema.FORMAT:
        raise ValueError(f"{mpath}: format is {m['format']!r}, expected {schema.FORMAT!r}.")
    if int(m["format_version"]) > schema.FORMAT_VERSION:
        raise ValueError(f"{mpath}: format version {m['format_version']} is newer than this reader "
                         f"({schema.FORMAT_VERSION}); upgrade ii-jax.")
    n, t, e, w = int(m["n_items"]), int(m["tokens_stored"]), int(m["hidden_size"]), int(m["n_words"])
    if len(m["item_ids"]) != n or len(m["token_counts"]) != n:
        raise ValueError(f"{mpath}: n_items is {n} but it lists {len(m['item_ids'])} item ids and "
                         f"{len(m['token_counts'])} token counts.")
    if len(set(m["item_ids"])) != n:
        raise ValueError(f"{mpath}: item ids are not unique.")
    if w != n_words(e):
        raise ValueError(f"{mpath}: n_words {w} does not hold hidden_size {e} bits.")
    bits = m["bits"]
    if (bits.get("dtype") != schema.BITS_DTYPE or bits.get("bit_order") != schema.BIT_ORDER
            or list(bits.get("shape", [])) != [n, t, w]):
        raise ValueError(f"{mpath}: bits must be {schema.BITS_DTYPE} {schema.BIT_ORDER} of shape {[n, t, w]}, "
                         f"got {bits}.")
    if len(m["relative_depth"]) != len(m["layers"]):
        raise ValueError(f"{mpath}: {len(m['layers'])} layers but {len(m['relative_depth'])} relative depths.")
    if m["embedding_layer"] is not None and m["embedding_layer"] not in m["layers"]:
        raise ValueError(f"{mpath}: embedding_layer {m['embedding_layer']} is not among the stored layers.")
    for layer in m["layers"]:
        names = [schema.layer_file(layer)] + ([schema.float_file(layer)] if m.get("floats") else [])
        for name in names:
            if name not in m["files"]:
                raise ValueError(f"{mpath}: layer {layer} has no entry for {name}.")
            if not (path / name).exists():
                raise ValueError(f"{path / name}: missing from the shard store (listed in its manifest).")
            size = (path / name).stat().st_size
            entry = m["files"][name]
            itemsize = np.dtype(entry["dtype"]).itemsize
            payload = int(np.prod(entry["shape"])) * itemsize
            if size < payload:
                raise ValueError(f"{path / name}: truncated ({size} bytes for {payload} bytes of data).")
