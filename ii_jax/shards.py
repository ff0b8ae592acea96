"""The shard store: what ``extract`` writes and the engine reads (DESIGN §4). NumPy only, no torch.

A store is one folder per (model, dataset, side)::

    manifest.json          the schema below; written last, so a folder without it is not a store
    layer_000.npy          packed sign bits of layer 0 (the embedding layer), uint32 [N, T, W]
    layer_000.f16.npy      optional float16 activations of layer 0, [N, T, E]
    layer_001.npy ...      one file (or two) per layer

``N`` items (pairs), ``T`` stored tokens per item, ``E`` hidden size (bits), ``W = ceil(E / 32)`` words.
Bit ``e`` of token ``t`` of item ``i`` is ``activation > 0`` and sits in word ``e // 32`` at position
``e % 32`` (least significant bit first; padding bits zero), exactly as :func:`ii_jax.binary.pack_bits`.

``manifest.json`` fields:

=====================  ====================================================================================
``format``             ``"ii-jax-shards"``; ``format_version``: ``1``
``model``              ``id`` (as asked), ``source`` (folder or hub id), ``revision`` (``sha256:`` of a built
                       folder's checksums, or the hub commit), ``kind`` (causal/encoder/vision), ``class``,
                       ``model_type``, ``dtype`` of the forward pass, ``n_layers``
``dataset``            ``spec``, ``side``, ``sides``, ``modality``, ``seed``, ``n``, ``filter`` (tokenizer,
                       ``min_tokens``, ``max_tokens``, ``prefix``)
``n_items``            N; ``item_ids``: the N pair ids, in row order (both sides of a pair share them)
``token_counts``       real tokens per item (text: content tokens without special tokens; images: tokens)
``tokens_stored``      T; ``window``: how they were chosen (``tokens``, ``drop_last``, ``position`` "last",
                       ``layout``: "text", "cls+patches (raster order)" or "pixels (raster order)")
``layers``             layer indices stored (0 .. L); ``embedding_layer``: the index of the embedding layer
                       (0); ``relative_depth``: ``layer / L`` for each stored layer
``hidden_size``        E (bits per token); ``n_words``: W
``bits``               ``dtype`` "uint32", ``shape`` [N, T, W], ``bit_order`` "lsb-first", ``rule``
                       "activation > 0", ``padding`` "zero", ``file_pattern``
``floats``             ``null``, or ``dtype`` "float16", ``shape`` [N, T, E], ``clip`` (values beyond the
                       float16 range are clipped; per-file counts in ``files``), ``file_pattern``
``files``              file name -> ``sha256``, ``kind`` ("bits"/"floats"), ``layer``, ``dtype``, ``shape``
``library``            versions of ii-jax, torch, transformers, numpy that wrote the store
``labels``             optional class label per item (image datasets); ``plan_sha256``: resume identity
=====================  ====================================================================================

:func:`open_store` validates the manifest and every file's shape and dtype; each file's SHA-256 is checked
the first time it is read (``verify=True``). Anything that does not match raises ``ValueError`` naming
the file. :func:`check_paired` refuses two stores whose item ids differ.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

__all__ = ["Store", "open_store", "check_paired", "FORMAT", "FORMAT_VERSION"]

FORMAT = "ii-jax-shards"
FORMAT_VERSION = 1
_REQUIRED = ("format", "format_version", "model", "dataset", "n_items", "item_ids", "token_counts", "tokens_stored",
             "layers", "embedding_layer", "relative_depth", "hidden_size", "n_words", "bits", "files")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Store:
    """A validated, memory-mapped shard store. Create with :func:`open_store`.

    Attributes:
      path: the store's folder.
      manifest: the parsed ``manifest.json``.
      layers: stored layer indices (0 = embedding layer).
      relative_depth: ``layer / L`` per stored layer.
      item_ids: the N pair ids, in row order.
      n_bits: hidden size E (bits per token).
      tokens: T, tokens stored per item.
      token_counts: ``[N]`` real tokens per item.
    """

    def __init__(self, path: Path, manifest: dict, *, verify: bool):
        self.path = path
        self.manifest = manifest
        self._verify = verify
        self._checked: set[str] = set()
        self.layers: list[int] = [int(x) for x in manifest["layers"]]
        self.relative_depth: list[float] = [float(x) for x in manifest["relative_depth"]]
        self.item_ids: list[str] = [str(x) for x in manifest["item_ids"]]
        self.n_bits: int = int(manifest["hidden_size"])
        self.tokens: int = int(manifest["tokens_stored"])
        self.token_counts = np.asarray(manifest["token_counts"], dtype=np.int64)
        emb = manifest["embedding_layer"]
        self.embedding_layer: int | None = None if emb is None else int(emb)  # None: no embedding layer stored

    def __repr__(self) -> str:
        m = self.manifest
        return (f"Store({str(self.path)!r}, model={m['model'].get('id')!r}, dataset={m['dataset'].get('spec')!r}, "
                f"side={m['dataset'].get('side')!r}, N={len(self.item_ids)}, layers={len(self.layers)}, "
                f"T={self.tokens}, E={self.n_bits})")

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def has_floats(self) -> bool:
        return bool(self.manifest.get("floats"))

    def _file(self, layer: int, kind: str) -> str:
        if layer not in self.layers:
            raise ValueError(f"{self.path}: layer {layer} is not stored; stored layers are "
                             f"{self.layers[0]}..{self.layers[-1]}.")
        return f"layer_{layer:03d}.npy" if kind == "bits" else f"layer_{layer:03d}.f16.npy"

    def _open(self, name: str) -> np.memmap:
        path = self.path / name
        entry = self.manifest["files"].get(name)
        if entry is None:
            raise ValueError(f"{path}: not listed in the manifest {self.path / 'manifest.json'}.")
        if not path.exists():
            raise ValueError(f"{path}: missing from the shard store (listed in its manifest).")
        if self._verify and name not in self._checked:
            if _sha256(path) != entry["sha256"]:
                raise ValueError(f"{path}: checksum mismatch; the file is corrupted or was changed after writing.")
            self._checked.add(name)
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{path}: not a readable .npy file ({err}).") from err
        if list(arr.shape) != list(entry["shape"]) or arr.dtype.name != entry["dtype"]:
            raise ValueError(f"{path}: holds {arr.dtype.name} {list(arr.shape)}, but the manifest says "
                             f"{entry['dtype']} {entry['shape']}.")
        return arr

    def bits(self, layer: int) -> np.memmap:
        """Packed sign bits of ``layer``: read-only ``uint32`` memmap ``[N, T, W]``."""
        return self._open(self._file(layer, "bits"))

    def floats(self, layer: int) -> np.memmap:
        """float16 activations of ``layer``: read-only memmap ``[N, T, E]``.

        Raises:
          ValueError: if the store was written without floats.
        """
        if not self.has_floats:
            raise ValueError(f"{self.path}: this store holds only packed bits (extract with --floats for floats).")
        return self._open(self._file(layer, "floats"))

    def verify(self) -> None:
        """Check the SHA-256 of every file now (raises ``ValueError`` naming the first bad file)."""
        for name in self.manifest["files"]:
            self._checked.discard(name)
            if self._verify:
                self._open(name)
            else:
                path = self.path / name
                if not path.exists() or _sha256(path) != self.manifest["files"][name]["sha256"]:
                    raise ValueError(f"{path}: missing or checksum mismatch.")


def _validate(path: Path, m: dict) -> None:
    mpath = path / "manifest.json"
    missing = [k for k in _REQUIRED if k not in m]
    if missing:
        raise ValueError(f"{mpath}: not an ii-jax shard manifest (missing {', '.join(missing)}).")
    if m["format"] != FORMAT:
        raise ValueError(f"{mpath}: format is {m['format']!r}, expected {FORMAT!r}.")
    if int(m["format_version"]) > FORMAT_VERSION:
        raise ValueError(f"{mpath}: format version {m['format_version']} is newer than this reader "
                         f"({FORMAT_VERSION}); upgrade ii-jax.")
    n, t, e, w = int(m["n_items"]), int(m["tokens_stored"]), int(m["hidden_size"]), int(m["n_words"])
    if len(m["item_ids"]) != n or len(m["token_counts"]) != n:
        raise ValueError(f"{mpath}: n_items is {n} but it lists {len(m['item_ids'])} item ids and "
                         f"{len(m['token_counts'])} token counts.")
    if len(set(m["item_ids"])) != n:
        raise ValueError(f"{mpath}: item ids are not unique.")
    if w != -(-e // 32):
        raise ValueError(f"{mpath}: n_words {w} does not hold hidden_size {e} bits.")
    bits = m["bits"]
    if bits.get("dtype") != "uint32" or bits.get("bit_order") != "lsb-first" or list(bits.get("shape", [])) != [n, t, w]:
        raise ValueError(f"{mpath}: bits must be uint32 lsb-first of shape {[n, t, w]}, got {bits}.")
    if len(m["relative_depth"]) != len(m["layers"]):
        raise ValueError(f"{mpath}: {len(m['layers'])} layers but {len(m['relative_depth'])} relative depths.")
    if m["embedding_layer"] is not None and m["embedding_layer"] not in m["layers"]:
        raise ValueError(f"{mpath}: embedding_layer {m['embedding_layer']} is not among the stored layers.")
    for layer in m["layers"]:
        names = [f"layer_{layer:03d}.npy"] + ([f"layer_{layer:03d}.f16.npy"] if m.get("floats") else [])
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


def open_store(path: str | os.PathLike, *, verify: bool = True) -> Store:
    """Open and validate a shard store.

    Args:
      path: the store's folder.
      verify: check each file's SHA-256 the first time it is read (``Store.verify()`` checks all at once).

    Raises:
      ValueError: if the folder is not a complete store, or its manifest or files do not match; the
        message names the file.
    """
    path = Path(path)
    mpath = path / "manifest.json"
    if not mpath.exists():
        partial = " (an unfinished extraction: run it again to resume)" if (path / ".partial").exists() else ""
        raise ValueError(f"{mpath}: no manifest, so {path} is not a complete shard store{partial}.")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{mpath}: not valid JSON ({err}).") from err
    if not isinstance(manifest, dict):
        raise ValueError(f"{mpath}: not an ii-jax shard manifest.")
    _validate(path, manifest)
    return Store(path, manifest, verify=verify)


def check_paired(store_a: Store, store_b: Store) -> None:
    """Refuse two stores that do not hold the same items in the same order.

    Raises:
      ValueError: saying how many item ids differ (and the first that does).
    """
    a, b = store_a.item_ids, store_b.item_ids
    if a == b:
        return
    if len(a) != len(b):
        common = len(set(a) & set(b))
        raise ValueError(f"stores are not paired: {store_a.path} has {len(a)} items and {store_b.path} has {len(b)}; "
                         f"{max(len(a), len(b)) - common} item ids differ.")
    diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    i = diff[0]
    raise ValueError(f"stores are not paired: {len(diff)} of {len(a)} item ids differ between {store_a.path} and "
                     f"{store_b.path} (first at row {i}: {a[i]!r} vs {b[i]!r}).")
