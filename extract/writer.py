"""Write a shard store (DESIGN §4) atomically and resumably.

Work is split into fixed *chunks* of items (a plan written once to ``.partial/plan.json``). Each finished
chunk is saved under ``.partial/`` as packed bits ``[L, n, T, W]`` (and float16 ``[L, n, T, E]``) plus a
small JSON record, each file written atomically; a record exists only once its arrays are complete.
When every chunk is done, one ``layer_XXX.npy`` per layer (and ``layer_XXX.f16.npy``) is assembled in
item order, each atomically, then ``manifest.json`` (with the SHA-256 of every file) is written last, and
``.partial/`` is removed. A killed run, started again with the same arguments, reuses the finished chunks
and computes exactly the same batches for the rest, so its files are identical to an uninterrupted run's.
The store's schema (file names, manifest fields, bit layout) and the manifest itself come from
:mod:`ii_jax.store`, the one definition of the contract; this module keeps the resumable write loop.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ii_jax.store.bits import n_words, pack_bits_np
from ii_jax.store.files import atomic_save_npy, atomic_write_json, sha256_file
from ii_jax.store.manifest import build_manifest
from ii_jax.store.schema import FLOAT16_MAX, LAYER_GLOB, MANIFEST_FILE, PARTIAL_DIR, float_file, layer_file

__all__ = ["write_store", "FLOAT16_MAX", "layer_file", "float_file", "StoreExistsError", "make_plan", "plan_digest",
           "build_manifest", "first_difference", "describe_difference"]


class StoreExistsError(ValueError):
    """The output folder holds a different extraction."""


def make_plan(*, header: dict, item_ids: Sequence[str], chunks: Sequence[Sequence[int]], layers: Sequence[int],
              tokens: int, hidden: int, store_floats: bool) -> dict:
    """The plan of one store: what it holds and how it is computed; its digest is the store's resume identity."""
    return {"header": header, "item_ids": list(item_ids), "chunks": [list(map(int, c)) for c in chunks],
            "layers": list(map(int, layers)), "tokens": int(tokens), "hidden": int(hidden),
            "store_floats": bool(store_floats)}


def plan_digest(plan: dict) -> str:
    """SHA-256 of a plan (``plan_sha256`` in the manifest)."""
    import hashlib

    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()


def first_difference(a, b, path: str = "") -> tuple[str, object, object] | None:
    """The first (dotted) field where two JSON-like values differ, with both values; ``None`` if equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                return sub, a.get(key, "<absent>"), b.get(key, "<absent>")
            d = first_difference(a[key], b[key], sub)
            if d is not None:
                return d
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{path} (length)", len(a), len(b)
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d is not None:
                return d
        return None
    return None if a == b else (path, a, b)


def describe_difference(d: tuple[str, object, object] | None, there: str = "there", here: str = "now") -> str:
    """``"field: A (there) vs B (now)"`` for a :func:`first_difference` result (values shortened)."""
    if d is None:
        return ""

    def show(v):
        r = repr(v)
        return r if len(r) <= 80 else r[:77] + "..."

    field, x, y = d
    return f"{field}: {show(x)} ({there}) vs {show(y)} ({here})"


def _clean_tmp(folder: Path) -> None:
    if folder.is_dir():
        for p in folder.glob(".*.tmp"):
            p.unlink(missing_ok=True)


def _chunk_done(partial: Path, k: int, store_floats: bool) -> dict | None:
    rec = partial / f"chunk_{k:05d}.json"
    if not rec.exists():
        return None
    info = json.loads(rec.read_text())
    for key in ("bits",) + (("floats",) if store_floats else ()):
        f = partial / info[key]["file"]
        if not f.exists() or sha256_file(f) != info[key]["sha256"]:
            return None  # a damaged chunk is recomputed
    return info


def write_store(out: str | os.PathLike, *, header: dict, item_ids: Sequence[str], chunks: Sequence[Sequence[int]],
                compute: Callable[[np.ndarray], np.ndarray], layers: Sequence[int], tokens: int, hidden: int,
                token_counts: Sequence[int], store_floats: bool = False, overwrite: bool = False,
                progress: Callable[[int], None] | None = None, log: Callable[[str], None] | None = None) -> Path:
    """Compute and write one shard store.

    Args:
      out: the store's folder.
      header: manifest fields describing the extraction (model, dataset, window, ...); a resumed run must
        pass the same header, ids and chunks.
      item_ids: ``[N]`` pair ids, in store order.
      chunks: a partition of ``range(N)``; each chunk is computed by one call of ``compute``, in its order.
      compute: ``indices [n] -> float32 [n, L, T, E]`` hidden states, ``L = len(layers)``.
      layers: layer indices of the second axis (0 = embedding layer).
      tokens, hidden: ``T`` and ``E``.
      token_counts: ``[N]`` real tokens per item (recorded in the manifest).
      store_floats: also store float16 ``[N, T, E]`` per layer (clipped to the float16 range).
      overwrite: discard an existing store or unfinished run with a different plan in ``out``.
      progress: called with the number of items of each finished chunk.

    Returns:
      The store's folder.

    Raises:
      StoreExistsError: if ``out`` holds a different extraction and ``overwrite`` is false.
    """
    out = Path(out)
    n = len(item_ids)
    flat = np.sort(np.concatenate([np.asarray(c, np.int64) for c in chunks])) if chunks else np.zeros(0, np.int64)
    if not np.array_equal(flat, np.arange(n)):
        raise ValueError("write_store: chunks must partition range(N) exactly.")
    if len(token_counts) != n:
        raise ValueError(f"write_store: {len(token_counts)} token counts for {n} items.")
    plan = make_plan(header=header, item_ids=item_ids, chunks=chunks, layers=layers, tokens=tokens, hidden=hidden,
                     store_floats=store_floats)
    manifest_path = out / MANIFEST_FILE
    partial = out / PARTIAL_DIR
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old.get("plan_sha256") == plan_digest(plan) and not overwrite:
            if log:
                log(f"{out}: already complete, nothing to do")
            return out
        if not overwrite:
            new = json.loads(json.dumps(header))
            diff = first_difference({k: old.get(k, "<absent>") for k in new}, new)
            diff = f"; first difference {describe_difference(diff, 'stored', 'this run')}" if diff else ""
            raise StoreExistsError(f"{out} already holds a different extraction ({manifest_path}{diff}); "
                                   "pass overwrite (--overwrite) or choose another output folder.")
        _remove_store(out)
    plan_path = partial / "plan.json"
    if plan_path.exists():
        old_plan, new_plan = json.loads(plan_path.read_text()), json.loads(json.dumps(plan))
        if old_plan != new_plan:
            if not overwrite:
                diff = describe_difference(first_difference(old_plan, new_plan), "unfinished run", "this run")
                raise StoreExistsError(f"{out} holds an unfinished extraction with other settings ({plan_path}; "
                                       f"first difference {diff}); resume it with the same settings and library "
                                       "versions, or pass overwrite (--overwrite) or choose another output folder.")
            shutil.rmtree(partial)
    out.mkdir(parents=True, exist_ok=True)
    partial.mkdir(exist_ok=True)
    _clean_tmp(out)
    _clean_tmp(partial)
    if not plan_path.exists():
        atomic_write_json(plan_path, plan)

    w = n_words(hidden)
    infos = []
    for k, chunk in enumerate(chunks):
        idx = np.asarray(chunk, np.int64)
        info = _chunk_done(partial, k, store_floats)
        if info is None:
            states = compute(idx)
            expect = (len(idx), len(layers), tokens, hidden)
            if states.shape != expect:
                raise ValueError(f"compute returned states of shape {states.shape}, expected {expect}.")
            states = np.moveaxis(states, 1, 0)  # [L, n, T, E]
            info = {"chunk": k, "n": len(idx)}
            bits = pack_bits_np(states > 0)  # [L, n, T, W]
            if store_floats:
                f16 = np.clip(states, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)
                info["clipped"] = [int(c) for c in (np.abs(states) > FLOAT16_MAX).sum(axis=(1, 2, 3))]
                name = f"chunk_{k:05d}.f16.npy"
                info["floats"] = {"file": name, "sha256": atomic_save_npy(partial / name, f16)}
            name = f"chunk_{k:05d}.bits.npy"
            info["bits"] = {"file": name, "sha256": atomic_save_npy(partial / name, bits)}
            atomic_write_json(partial / f"chunk_{k:05d}.json", info)
        if progress:
            progress(len(idx))
        infos.append(info)

    files = {}
    clipped = np.zeros(len(layers), np.int64)
    for info in infos:
        if "clipped" in info:
            clipped += np.asarray(info["clipped"])
    for j, layer in enumerate(layers):
        files[layer_file(layer)] = _assemble(out / layer_file(layer), partial, infos, chunks, "bits", j,
                                             (n, tokens, w), np.uint32)
        files[layer_file(layer)]["layer"] = int(layer)
        if store_floats:
            files[float_file(layer)] = _assemble(out / float_file(layer), partial, infos, chunks, "floats", j,
                                                 (n, tokens, hidden), np.float16)
            files[float_file(layer)].update(layer=int(layer), clipped=int(clipped[j]))
    manifest = build_manifest(header=header, item_ids=item_ids, token_counts=token_counts, layers=layers,
                              tokens=tokens, hidden=hidden, store_floats=store_floats, files=files,
                              plan_sha256=plan_digest(plan))
    atomic_write_json(manifest_path, manifest)
    shutil.rmtree(partial, ignore_errors=True)
    if log:
        log(f"wrote {out}: {n} items, {len(layers)} layers, {tokens} tokens x {hidden} bits")
    return out


def _assemble(path: Path, partial: Path, infos, chunks, key: str, j: int, shape, dtype) -> dict:
    arr = np.empty(shape, dtype)
    for info, chunk in zip(infos, chunks, strict=False):
        part = np.load(partial / info[key]["file"], mmap_mode="r")
        arr[np.asarray(chunk, np.int64)] = part[j]
    return {"sha256": atomic_save_npy(path, arr), "kind": key, "dtype": np.dtype(dtype).name,
            "shape": list(shape)}


def _remove_store(out: Path) -> None:
    for p in list(out.glob(LAYER_GLOB)) + [out / MANIFEST_FILE]:
        p.unlink(missing_ok=True)
    shutil.rmtree(out / PARTIAL_DIR, ignore_errors=True)
