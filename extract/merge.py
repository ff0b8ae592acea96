"""Extraction in parallel over data shards: ``ii-jax extract --shard i/n`` and ``ii-jax merge``.

A *plan* is what an unsharded extraction would compute: the selected pairs (after the token filter and the
seeded subsample, so every shard agrees on the full item list), the length-sorted chunks of ``--chunk-size``
items, the layers, the window. ``--shard i/n`` (**0-based**: ``0 <= i < n``) takes the chunks ``k`` with
``k % n == i`` (round-robin, so short and long texts spread evenly over the shards) and writes them as a
complete, valid shard store of their own, rows in the order of the unsharded run. Its manifest has a
``shard`` record::

    "shard": {"index": i, "count": n, "plan_sha256": <digest of the full plan>,
              "item_ids_sha256": <SHA-256 of the full item id list>, "n_items_total": N,
              "n_chunks_total": K, "chunk_size": ..., "batch_size": ...,
              "chunk_ids": [chunks of this part], "chunks": [[full-plan row of each item], ...]}

and its ``labels`` (if any) are those of its rows. Each part computes exactly the batches the unsharded
run computes for the same chunks, so :func:`merge_stores` can join the parts into a store whose layer
files *and manifest* are byte-identical to an unsharded extraction's (same ``plan_sha256``, so re-running
the unsharded command on the merged folder finds it complete). A shard that gets no chunk (more shards
than chunks) is written as a valid empty store, so a fixed scheduler array always works.

Any scheduler can fan the parts out: a SLURM array (``--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``),
Ray tasks, or a shell loop. A part whose host dies mid-run is resumed by running the same command again
(it reuses its finished chunks); :func:`merge_stores` refuses unfinished or missing parts, parts from
different plans (naming the first differing field: model revision, dataset, filter, seed, window, library
versions, ...), and parts that do not cover every item exactly once.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from extract.writer import describe_difference, first_difference, make_plan, plan_digest
from ii_jax.store.bits import n_words
from ii_jax.store.files import atomic_save_npy, atomic_write_json
from ii_jax.store.manifest import build_manifest
from ii_jax.store.reader import open_store
from ii_jax.store.schema import LAYER_GLOB, MANIFEST_FILE, PARTIAL_DIR, float_file, layer_file

__all__ = ["parse_shard", "shard_part", "merge_stores"]

# Manifest fields that differ between the parts of one plan (everything else must agree).
_PER_PART = ("n_items", "item_ids", "token_counts", "labels", "bits", "files", "plan_sha256")
_PER_PART_SHARD = ("index", "chunk_ids", "chunks")


def parse_shard(spec) -> tuple[int, int]:
    """``"i/n"`` (0-based, ``0 <= i < n``) or ``(i, n)`` -> ``(i, n)``.

    Raises:
      ValueError: if ``spec`` is not of that form.
    """
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        i, n = spec
    elif isinstance(spec, str):
        parts = spec.strip().split("/")
        if len(parts) != 2:
            raise ValueError(f"--shard {spec!r}: expected INDEX/COUNT, e.g. 0/4 (0-based: 0 <= INDEX < COUNT).")
        try:
            i, n = int(parts[0]), int(parts[1])
        except ValueError:
            raise ValueError(f"--shard {spec!r}: INDEX and COUNT must be integers, e.g. 0/4.") from None
    else:
        raise TypeError(f"shard must be 'INDEX/COUNT' or (index, count), got {type(spec).__name__}.")
    if isinstance(i, bool) or isinstance(n, bool) or not isinstance(i, (int, np.integer)) \
            or not isinstance(n, (int, np.integer)):
        raise TypeError(f"shard index and count must be integers, got {i!r}/{n!r}.")
    if n < 1:
        raise ValueError(f"--shard {i}/{n}: the shard count must be at least 1.")
    if not 0 <= i < n:
        raise ValueError(f"--shard {i}/{n}: the index is 0-based and must satisfy 0 <= index < count "
                         f"(0..{n - 1}).")
    return int(i), int(n)


def _ids_digest(item_ids: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(item_ids)).encode()).hexdigest()


def shard_part(*, header: dict, item_ids: Sequence[str], chunks: Sequence[Sequence[int]], layers: Sequence[int],
               tokens: int, hidden: int, store_floats: bool, token_counts: Sequence[int],
               compute: Callable[[np.ndarray], np.ndarray], index: int, count: int,
               extra: dict | None = None) -> dict:
    """The :func:`extract.writer.write_store` arguments of part ``index`` of ``count`` of a full plan.

    Args:
      header, item_ids, chunks, layers, tokens, hidden, store_floats, token_counts, compute: the full plan,
        exactly as an unsharded run would pass them to ``write_store``.
      index, count: the shard (0-based).
      extra: more fields for the ``shard`` record (e.g. ``chunk_size``, ``batch_size``); they must agree
        between parts.

    Returns:
      ``header``, ``item_ids``, ``chunks``, ``token_counts`` and ``compute`` of the part.
    """
    index, count = parse_shard((index, count))
    n = len(item_ids)
    full = make_plan(header=header, item_ids=item_ids, chunks=chunks, layers=layers, tokens=tokens, hidden=hidden,
                     store_floats=store_floats)
    mine = [k for k in range(len(chunks)) if k % count == index]
    rows = (np.sort(np.concatenate([np.asarray(chunks[k], np.int64) for k in mine])) if mine
            else np.zeros(0, np.int64))
    local = np.full(n, -1, np.int64)
    local[rows] = np.arange(len(rows))
    part_header = dict(header)
    labels = header.get("labels")
    if labels is not None:
        part_header["labels"] = [labels[r] for r in rows]
    part_header["shard"] = {
        "index": index, "count": count, "plan_sha256": plan_digest(full), "item_ids_sha256": _ids_digest(item_ids),
        "n_items_total": n, "n_chunks_total": len(chunks), **(extra or {}),
        "chunk_ids": mine, "chunks": [[int(x) for x in chunks[k]] for k in mine],
    }

    def part_compute(idx):
        return compute(rows[np.asarray(idx, np.int64)])

    return {"header": part_header, "item_ids": [item_ids[r] for r in rows],
            "chunks": [local[np.asarray(chunks[k], np.int64)] for k in mine],
            "token_counts": np.asarray(token_counts, np.int64)[rows], "compute": part_compute}


def _open_part(path: Path):
    mpath = path / MANIFEST_FILE
    if not mpath.exists():
        plan = path / PARTIAL_DIR / "plan.json"
        if plan.exists():
            try:
                shard = json.loads(plan.read_text()).get("header", {}).get("shard") or {}
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                shard = {}
            which = f" of shard {shard['index']}/{shard['count']}" if "index" in shard else ""
            raise ValueError(f"{path}: an unfinished extraction{which} (its host stopped before it finished); "
                             "run the same extract command again to resume it, then merge.")
        if not path.exists():
            raise ValueError(f"{path}: no such part (folder missing).")
        raise ValueError(f"{path}: not a shard store (no manifest.json).")
    store = open_store(path, verify=True)
    if "shard" not in store.manifest:
        raise ValueError(f"{path}: not a part of a sharded extraction (extracted without --shard); "
                         "there is nothing to merge.")
    return store


def _plan_key(m: dict) -> dict:
    key = {k: v for k, v in m.items() if k not in _PER_PART}
    key["floats"] = bool(m.get("floats"))
    key["shard"] = {k: v for k, v in m["shard"].items() if k not in _PER_PART_SHARD}
    return key


def merge_stores(out: str | os.PathLike, parts: Sequence[str | os.PathLike], *, overwrite: bool = False,
                 log: Callable[[str], None] | None = None) -> Path:
    """Join the parts of a sharded extraction into one store, as an unsharded run would have written it.

    Every part's files are checked against their SHA-256 while reading. The merged layer files are written
    atomically with fresh checksums, the manifest last.

    Args:
      out: the merged store's folder (not one of the parts).
      parts: the part folders, in any order.
      overwrite: replace a different store in ``out``.

    Returns:
      ``out``.

    Raises:
      ValueError: a part is unfinished, missing, given twice, not a shard, damaged, or from another plan
        (the message names the differing field); shard indices are missing (named); ``out`` holds a
        different store.
    """
    from extract.writer import StoreExistsError

    out = Path(out)
    if not parts:
        raise ValueError("merge: no parts given.")
    paths = [Path(p) for p in parts]
    for p in paths:
        if p.resolve() == out.resolve():
            raise ValueError(f"merge: the output {out} is one of the parts; choose another output folder.")
    stores = [_open_part(p) for p in paths]
    ref = stores[0]
    ref_key = _plan_key(ref.manifest)
    for s in stores[1:]:
        d = first_difference(ref_key, _plan_key(s.manifest))
        if d is not None:
            raise ValueError(f"parts come from different extractions and cannot be merged: "
                             f"{describe_difference(d, str(ref.path), str(s.path))}. Extract every part with "
                             "the same model revision, dataset, filter, seed, window, chunk and batch size and "
                             "library versions.")
    info = ref.manifest["shard"]
    count, n, n_chunks = int(info["count"]), int(info["n_items_total"]), int(info["n_chunks_total"])
    by_index: dict[int, object] = {}
    for s in stores:
        i = int(s.manifest["shard"]["index"])
        if i in by_index:
            raise ValueError(f"shard {i}/{count} is given twice: {by_index[i].path} and {s.path}.")
        by_index[i] = s
    missing = sorted(set(range(count)) - set(by_index))
    if missing:
        raise ValueError(f"missing shard indices {', '.join(map(str, missing))} of {count} (0-based; "
                         f"have {', '.join(map(str, sorted(by_index)))}): extract them with "
                         f"--shard {missing[0]}/{count} ... and merge all {count} parts.")

    item_ids: list = [None] * n
    counts = np.full(n, -1, np.int64)
    full_labels = [None] * n if ref.manifest.get("labels") is not None else None
    chunks: list = [None] * n_chunks
    owner = np.full(n, -1, np.int64)
    for i in sorted(by_index):
        s = by_index[i]
        sh = s.manifest["shard"]
        rows = (np.sort(np.concatenate([np.asarray(c, np.int64) for c in sh["chunks"]])) if sh["chunks"]
                else np.zeros(0, np.int64))
        if len(rows) != len(s) or (len(rows) and (rows[0] < 0 or rows[-1] >= n)):
            raise ValueError(f"{s.path}: its shard record does not match its {len(s)} rows.")
        dup = rows[owner[rows] >= 0] if len(rows) else rows
        if len(np.unique(rows)) != len(rows) or len(dup):
            first = int(dup[0]) if len(dup) else int(rows[np.flatnonzero(np.diff(rows) == 0)[0]])
            raise ValueError(f"items are covered more than once: row {first} of the plan is in {s.path}"
                             + (f" and {by_index[int(owner[first])].path}" if owner[first] >= 0 else "") + ".")
        owner[rows] = i
        for k, c in zip(sh["chunk_ids"], sh["chunks"], strict=False):
            if not 0 <= int(k) < n_chunks or chunks[int(k)] is not None:
                raise ValueError(f"{s.path}: chunk {k} is out of range or covered by another part.")
            chunks[int(k)] = [int(x) for x in c]
        for r, row in enumerate(rows):
            item_ids[row] = s.item_ids[r]
        counts[rows] = s.token_counts
        if full_labels is not None:
            for r, row in enumerate(rows):
                full_labels[row] = s.manifest["labels"][r]
    uncovered = np.flatnonzero(owner < 0)
    if len(uncovered) or any(c is None for c in chunks):
        raise ValueError(f"the parts do not cover every item: {len(uncovered)} of {n} items (first: row "
                         f"{int(uncovered[0]) if len(uncovered) else '?'}) are in no part.")

    header = {k: v for k, v in ref.manifest.items()
              if k not in _PER_PART and k not in ("shard", "format", "format_version", "tokens_stored",
                                                  "hidden_size", "n_words", "layers", "floats")}
    if "labels" in ref.manifest:
        header["labels"] = full_labels
    layers, tokens, hidden = ref.layers, ref.tokens, ref.n_bits
    store_floats = ref.has_floats
    plan = make_plan(header=header, item_ids=item_ids, chunks=chunks, layers=layers, tokens=tokens, hidden=hidden,
                     store_floats=store_floats)
    digest = plan_digest(plan)
    if digest != info["plan_sha256"] or _ids_digest(item_ids) != info["item_ids_sha256"]:
        raise ValueError("the merged parts do not reproduce the plan they were extracted from (plan_sha256 "
                         f"{digest[:12]}... vs {info['plan_sha256'][:12]}...); a part was changed after writing.")

    mpath = out / MANIFEST_FILE
    if mpath.exists():
        try:
            old = json.loads(mpath.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            old = {}
        if old.get("plan_sha256") == digest and not overwrite:
            if log:
                log(f"{out}: already holds this merged store, nothing to do")
            return out
        if not overwrite:
            raise StoreExistsError(f"{out} already holds a different store ({mpath}); pass overwrite "
                                   "(--overwrite) or choose another output folder.")
    if (out / PARTIAL_DIR).exists() and not overwrite:
        raise StoreExistsError(f"{out} holds an unfinished extraction; pass overwrite (--overwrite) or choose "
                               "another output folder.")
    if overwrite:
        for p in list(out.glob(LAYER_GLOB)) + [mpath]:
            p.unlink(missing_ok=True)
        shutil.rmtree(out / PARTIAL_DIR, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    for p in out.glob(".*.tmp"):
        p.unlink(missing_ok=True)

    order = [by_index[i] for i in sorted(by_index)]
    part_rows = [np.flatnonzero(owner == i) for i in sorted(by_index)]
    w = n_words(hidden)
    files = {}
    for layer in layers:
        kinds = [("bits", layer_file(layer), (n, tokens, w), np.uint32)]
        if store_floats:
            kinds.append(("floats", float_file(layer), (n, tokens, hidden), np.float16))
        for kind, name, shape, dtype in kinds:
            arr = np.empty(shape, dtype)
            clipped = 0
            for s, rows in zip(order, part_rows, strict=False):
                arr[rows] = s.bits(layer) if kind == "bits" else s.floats(layer)
                clipped += int(s.manifest["files"][name].get("clipped", 0))
            files[name] = {"sha256": atomic_save_npy(out / name, arr), "kind": kind, "dtype": np.dtype(dtype).name,
                           "shape": list(shape), "layer": int(layer)}
            if kind == "floats":
                files[name]["clipped"] = clipped
    manifest = build_manifest(header=header, item_ids=item_ids, token_counts=counts, layers=layers, tokens=tokens,
                              hidden=hidden, store_floats=store_floats, files=files, plan_sha256=digest)
    atomic_write_json(mpath, manifest)
    if log:
        log(f"merged {count} parts into {out}: {n} items, {len(layers)} layers")
    return out
