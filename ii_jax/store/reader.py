"""Reading a shard store by memory map: :class:`Store`, :func:`open_store`, :func:`check_paired`. NumPy only.

:func:`open_store` validates the manifest (:func:`ii_jax.store.manifest.validate_manifest`) and every file's
shape and dtype; each file's SHA-256 is checked the first time it is read (``verify=True``). Anything that does
not match raises ``ValueError`` naming the file. :func:`check_paired` refuses two stores whose item ids differ.
The layout and the manifest's fields are in :mod:`ii_jax.store.schema`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ii_jax.store.files import sha256_file
from ii_jax.store.manifest import read_manifest
from ii_jax.store.schema import MANIFEST_FILE, float_file, layer_file

__all__ = ["Store", "open_store", "check_paired"]


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
        """Wrap an already validated ``manifest`` of the store in ``path`` (use :func:`open_store`)."""
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
        """The folder, model, dataset, side and sizes."""
        m = self.manifest
        return (f"Store({str(self.path)!r}, model={m['model'].get('id')!r}, dataset={m['dataset'].get('spec')!r}, "
                f"side={m['dataset'].get('side')!r}, N={len(self.item_ids)}, layers={len(self.layers)}, "
                f"T={self.tokens}, E={self.n_bits})")

    def __len__(self) -> int:
        """N, the number of items."""
        return len(self.item_ids)

    @property
    def has_floats(self) -> bool:
        """Whether the store holds float16 activations beside the bits."""
        return bool(self.manifest.get("floats"))

    @property
    def labels(self) -> list | None:
        """The class label of each item (image datasets; the manifest's ``labels``), or ``None``."""
        return self.manifest.get("labels")

    def _file(self, layer: int, kind: str) -> str:
        if layer not in self.layers:
            raise ValueError(f"{self.path}: layer {layer} is not stored; stored layers are "
                             f"{self.layers[0]}..{self.layers[-1]}.")
        return layer_file(layer) if kind == "bits" else float_file(layer)

    def _open(self, name: str) -> np.memmap:
        path = self.path / name
        entry = self.manifest["files"].get(name)
        if entry is None:
            raise ValueError(f"{path}: not listed in the manifest {self.path / MANIFEST_FILE}.")
        if not path.exists():
            raise ValueError(f"{path}: missing from the shard store (listed in its manifest).")
        if self._verify and name not in self._checked:
            if sha256_file(path) != entry["sha256"]:
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
                if not path.exists() or sha256_file(path) != self.manifest["files"][name]["sha256"]:
                    raise ValueError(f"{path}: missing or checksum mismatch.")


def open_store(path: str | os.PathLike, *, verify: bool = True) -> Store:
    """Open and validate a shard store.

    Args:
      path: the store's folder.
      verify: check each file's SHA-256 the first time it is read (``Store.verify()`` checks all at once).

    Returns:
      The :class:`Store`; its ``bits(layer)`` are ``uint32`` memmaps ``[N, T, W]``.

    Raises:
      ValueError: if the folder is not a complete store, or its manifest or files do not match; the
        message names the file.
    """
    path = Path(path)
    return Store(path, read_manifest(path), verify=verify)


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
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    i = diff[0]
    raise ValueError(f"stores are not paired: {len(diff)} of {len(a)} item ids differ between {store_a.path} and "
                     f"{store_b.path} (first at row {i}: {a[i]!r} vs {b[i]!r}).")
