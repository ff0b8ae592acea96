"""One extraction: a model, one side of a paired dataset -> a shard store.

:func:`extract_side` ties the pieces together: load the dataset, filter pairs by token count and draw a
seeded subsample, load the model, tokenise (text) and plan length-sorted chunks, then hand the forward
passes to :func:`extract.writer.write_store`. Both sides of a dataset extracted with the same dataset,
filter and seed arguments hold the same item ids in the same order; :func:`ii_jax.store.check_paired`
verifies that before any comparison.

``shard="i/n"`` (0-based) computes and writes only part ``i`` of ``n`` of that plan (see
:mod:`extract.merge`; ``ii-jax merge`` joins the parts). ``device_map`` (e.g. ``"auto"``) is passed to
``from_pretrained``, so accelerate spreads a model that fits one node over its GPUs.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from extract import datasets as ds_mod
from extract.dtypes import resolve_dtype
from extract.writer import write_store
from ii_jax.store.versions import library_versions  # the manifest's `library` record (re-exported)

__all__ = ["ExtractConfig", "extract_side", "library_versions", "write_extraction", "token_filter",
           "DEFAULT_MIN_TOKENS", "DEFAULT_MAX_TOKENS"]

# The paper's item filter (arXiv 2505.17101, §3): texts of 40 to 80 tokens, the final 2 dropped. One filter
# for every side of a dataset, so that the two sides of a pair select the same items by default.
DEFAULT_MIN_TOKENS = 40
DEFAULT_MAX_TOKENS = 80


@dataclasses.dataclass
class ExtractConfig:
    """Settings of one extraction (the CLI's options).

    Attributes:
      model: built-in name, local folder or hub id.
      dataset: dataset spec (see :mod:`extract.datasets`).
      side: which side of the pairs to run.
      out: the store's folder.
      n: pairs to keep (seeded subsample after filtering); ``None`` keeps all.
      window: tokens stored per item (text default ``min_tokens - drop_last``: 38 with the default filter,
        the most every kept item holds; vision default: all tokens).
      drop_last: final content tokens dropped before the window (text only; default 2).
      min_tokens, max_tokens: the token filter, the same on every side whatever its modality: a pair is kept
        when each of its text sides has ``min_tokens..max_tokens`` content tokens under the filter's
        tokenizer. Default 40..80 (:data:`DEFAULT_MIN_TOKENS`, :data:`DEFAULT_MAX_TOKENS`), the paper's
        filter for Bible verses; ``0`` disables a bound (``max_tokens=None`` too). A text side needs
        ``min_tokens >= window + drop_last``, so every kept item holds its window (never padded).
      filter_model: tokenizer used by the filter (default: ``model``). An image side of a dataset with a
        text side needs it (the text side's model) unless both bounds are 0, so that both sides keep the
        same pairs.
      seed: subsample and image-pairing seed.
      batch_size, chunk_size: items per forward pass and per resumable chunk.
      floats: also store float16 states.
      prefix: text prepended to every text (e.g. ``"passage: "`` for e5), counted in the tokens.
      shard: ``"i/n"`` (0-based, ``0 <= i < n``): write only part ``i`` of ``n`` (see :mod:`extract.merge`).
      device_map: passed to ``from_pretrained`` (``"auto"``: accelerate places the model over the GPUs);
        recorded in the manifest's ``model.device_map``.
      dtype: the forward passes' floating-point type: ``"auto"`` (default: bfloat16 where the CPU or GPU
        multiplies it natively, else float32; see :mod:`extract.dtypes`), ``"float32"``, ``"bfloat16"`` or
        ``"float16"``. Recorded in the manifest (``model.dtype``); a store is resumed or merged only with parts
        of its own dtype. The SGLang route takes the server's dtype (``auto`` only).
      ids: a JSON file from ``ii-jax select`` (``{"ids": [...]}``) or a text file of one pair id a line: only these
        pairs are kept (in the dataset's order), before the token filter and ``n``. Every id must exist. Used to
        give every store of a study the same items (see :func:`select_common`).
      all_cores_when: a file path: from the first forward batch after this file exists, torch runs on every core
        this process may use (the demo and the study create it when the extraction running beside this one has
        ended, so its cores are not left idle). ``None``: the thread count never changes.
    """

    model: str
    dataset: str
    side: str
    out: str
    n: int | None = None
    window: int | None = None
    drop_last: int = 2
    min_tokens: int | None = None
    max_tokens: int | None = 80  # DEFAULT_MAX_TOKENS
    filter_model: str | None = None
    seed: int = 0
    batch_size: int = 16
    chunk_size: int = 256
    floats: bool = False
    prefix: str = ""
    overwrite: bool = False
    cache: str | None = None
    shard: str | tuple | None = None
    device_map: str | None = None
    ids: str | None = None
    dtype: str = "auto"
    all_cores_when: str | None = None


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def extract_side(cfg: ExtractConfig, *, log: Callable[[str], None] = _log, progress_bar: bool = True,
                 backend=None) -> Path:
    """Run one extraction; returns the store's folder. Re-running after an interruption resumes it.

    ``backend``: an :class:`extract.sglang.SGLangBackend` to compute the states with SGLang instead of a
    local torch model (text sides only; only its tokenizer and config are loaded here).
    """
    from extract.merge import parse_shard
    from extract.models import load_model, model_revision

    if cfg.shard is not None:
        parse_shard(cfg.shard)  # bad input fails before any work
    resolve_dtype(cfg.dtype)  # likewise
    if backend is not None and cfg.dtype != "auto":
        raise ValueError(f"--dtype {cfg.dtype}: the SGLang route computes in the server's dtype; leave --dtype auto "
                         f"and set the server's own dtype.")
    pairs = ds_mod.load_pairs(cfg.dataset, seed=cfg.seed, cache=cfg.cache)
    if cfg.ids:
        pairs = restrict_ids(pairs, read_ids(cfg.ids))
    modality, _ = pairs.side(cfg.side)
    has_text = "text" in pairs.modalities
    min_tokens, max_tokens = token_filter(cfg.min_tokens, cfg.max_tokens)
    if modality == "text":
        cfg = dataclasses.replace(cfg, window=_text_window(cfg, min_tokens))
    elif has_text and not cfg.filter_model and (min_tokens is not None or max_tokens is not None):
        raise ValueError(
            f"{cfg.dataset}: side {cfg.side!r} holds images and its pairs are filtered by the token count of "
            f"their text side ({ds_mod.token_bounds(min_tokens, max_tokens)} tokens), which needs a tokenizer: pass "
            f"--filter-model MODEL (the text side's model) so that both sides keep the same pairs, or "
            f"--min-tokens 0 --max-tokens 0 to keep every pair.")
    t0 = time.perf_counter()
    if backend is None:
        loaded = load_model(cfg.model, modality=modality, cache=cfg.cache, dtype=cfg.dtype,
                            **({"device_map": cfg.device_map} if cfg.device_map is not None else {}))
    else:
        if modality != "text":
            raise ValueError(f"{cfg.dataset}: side {cfg.side!r} holds images; the SGLang route reads text only.")
        if cfg.device_map is not None:
            raise ValueError("device_map places a local model; SGLang places its own (drop --device-map).")
        loaded = backend.load(cfg.model, cache=cfg.cache)
    log(f"loaded {cfg.model} ({loaded.kind}, {loaded.n_layers} layers, hidden {loaded.hidden_size}"
        f"{', ' + loaded.dtype if backend is None else ''}) "
        f"in {time.perf_counter() - t0:.1f} s")
    filter_tok = None
    filter_name = None
    if has_text:
        if cfg.filter_model and cfg.filter_model != cfg.model:
            from transformers import AutoTokenizer

            from extract.assets import resolve_model

            filter_tok = AutoTokenizer.from_pretrained(resolve_model(cfg.filter_model, cache=cfg.cache))
            filter_name = cfg.filter_model
        elif loaded.tokenizer is not None:
            filter_tok, filter_name = loaded.tokenizer, cfg.model
    pairs = ds_mod.select_pairs(pairs, tokenizer=filter_tok, min_tokens=min_tokens if filter_tok else None,
                                max_tokens=max_tokens if filter_tok else None, n=cfg.n, seed=cfg.seed,
                                prefix=cfg.prefix, log=log)
    if len(pairs) == 0:
        raise ValueError(f"{cfg.dataset}: no pairs left to extract after filtering.")
    _, items = pairs.side(cfg.side)
    layers = list(range(loaded.n_layers + 1)) if backend is None else backend.layers(loaded)
    header = {
        "model": {"id": cfg.model, "source": loaded.source, "revision": model_revision(loaded),
                  "kind": loaded.kind, "class": type(loaded.module).__name__ if backend is None else backend.name,
                  "model_type": loaded.config.model_type,
                  "dtype": loaded.dtype if backend is None else backend.info.get("dtype"),
                  "n_layers": loaded.n_layers},
        "dataset": {"spec": cfg.dataset, "side": cfg.side, "sides": list(pairs.sides), "modality": modality,
                    "seed": cfg.seed, "n": cfg.n, **({"ids": str(cfg.ids)} if cfg.ids else {}),
                    "filter": {"tokenizer": filter_name, "min_tokens": min_tokens if filter_tok else None,
                               "max_tokens": max_tokens if filter_tok else None, "prefix": cfg.prefix,
                               "defaults": cfg.min_tokens is None and cfg.max_tokens == DEFAULT_MAX_TOKENS},
                    **({"info": pairs.info} if pairs.info else {})},
        "embedding_layer": 0 if 0 in layers else None,
        "relative_depth": [layer / loaded.n_layers for layer in layers],
        "library": library_versions(),
        "labels": pairs.labels,
    }
    if cfg.device_map is not None:
        header["model"]["device_map"] = cfg.device_map
    if backend is not None:
        header["model"]["backend"] = backend.describe()
    gate = _cores_gate(cfg.all_cores_when, log=lambda m: log(f"{cfg.dataset}:{cfg.side}: {m}"))
    if modality == "text":
        from extract.text import batches_by_length, text_states, tokenize_texts

        max_len = getattr(loaded.config, "max_position_embeddings", None)
        tok = tokenize_texts(items, loaded.tokenizer, window=cfg.window, drop_last=cfg.drop_last, prefix=cfg.prefix,
                             ids=pairs.ids, max_length=max_len if max_len and max_len < 10**6 else None)
        order = np.concatenate(batches_by_length([len(s) for s in tok.input_ids], len(pairs)))
        counts = tok.content_counts
        tokens = cfg.window
        header["window"] = {"tokens": cfg.window, "drop_last": cfg.drop_last, "position": "last",
                            "counts": "content tokens (special tokens excluded)", "layout": "text"}

        def compute(idx):
            if backend is not None:
                return backend.states(loaded, tok, idx, layers=layers, batch_size=cfg.batch_size, ids=pairs.ids)
            return _by_batch(lambda b: text_states(loaded, tok, b, batch_size=cfg.batch_size), idx,
                             cfg.batch_size, gate)
    else:
        from extract.vision import n_tokens, vision_states

        total = n_tokens(loaded)
        tokens = total if cfg.window is None else cfg.window
        order = np.arange(len(pairs))
        counts = np.full(len(pairs), total, np.int64)
        layout = "pixels (raster order)" if loaded.config.model_type == "imagegpt" else "cls+patches (raster order)"
        header["window"] = {"tokens": tokens, "drop_last": 0, "position": "last", "counts": "tokens per image",
                            "layout": layout, "preprocess": {k: v for k, v in loaded.preprocess.items()
                                                             if k != "clusters"}}

        def compute(idx):
            return _by_batch(lambda b: vision_states(loaded, items, b, window=tokens, batch_size=cfg.batch_size,
                                                     ids=pairs.ids), idx, cfg.batch_size, gate)
    chunks = [order[k:k + cfg.chunk_size] for k in range(0, len(order), cfg.chunk_size)]
    return write_extraction(cfg, header=header, item_ids=pairs.ids, chunks=chunks, compute=compute, layers=layers,
                            tokens=tokens, hidden=loaded.hidden_size, token_counts=counts, log=log,
                            progress_bar=progress_bar, desc=f"{cfg.model} {cfg.dataset}:{cfg.side}")


def _cores_gate(path, *, log: Callable[[str], None] = _log) -> Callable[[], None]:
    """A function to call before each forward batch: the first call after the file ``path`` exists sets torch's
    threads to every core this process may use (never fewer than it has). ``path=None``: it does nothing.
    """
    if path is None:
        return lambda: None
    opened = []

    def gate():
        if opened or not os.path.exists(path):
            return
        import torch

        opened.append(True)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if cores > torch.get_num_threads():
            log(f"the extraction beside this one has ended: {torch.get_num_threads()} -> {cores} threads")
            torch.set_num_threads(cores)
    return gate


def _by_batch(compute: Callable[[np.ndarray], np.ndarray], idx, batch_size: int, gate: Callable[[], None]
              ) -> np.ndarray:
    """``compute(idx)`` as consecutive slices of ``batch_size`` items (the batches ``compute`` itself would form),
    with ``gate()`` called before each.
    """
    idx = np.asarray(idx)
    if len(idx) <= batch_size:
        gate()
        return compute(idx)
    parts = []
    for start in range(0, len(idx), batch_size):
        gate()
        parts.append(compute(idx[start:start + batch_size]))
    return np.concatenate(parts)


def token_filter(min_tokens: int | None = None, max_tokens: int | None = DEFAULT_MAX_TOKENS
                 ) -> tuple[int | None, int | None]:
    """The filter's bounds from the options: ``None`` for the lower bound is :data:`DEFAULT_MIN_TOKENS`;
    ``0`` (or ``None`` for the upper bound) is no bound. The result does not depend on the side or its
    modality, so every side of a dataset selects the same pairs.
    """
    lo = DEFAULT_MIN_TOKENS if min_tokens is None else (int(min_tokens) or None)
    hi = int(max_tokens) if max_tokens else None
    if (lo is not None and lo < 0) or (hi is not None and hi < 0):
        raise ValueError(f"token filter bounds must be >= 0, got --min-tokens {min_tokens} --max-tokens {max_tokens}.")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"token filter: --min-tokens {lo} is above --max-tokens {hi}; no item can pass.")
    return lo, hi


def _text_window(cfg: ExtractConfig, min_tokens: int | None) -> int:
    """The text window: ``cfg.window``, else the most tokens every kept item holds; refuses a window that
    the filter lets items fall short of (they would be an error or padding later).
    """
    floor = min_tokens or 0
    window = cfg.window if cfg.window is not None else floor - cfg.drop_last
    if cfg.window is None and window < 1:
        raise ValueError(f"the token filter keeps items from {floor} tokens, too few to hold a window after "
                         f"dropping {cfg.drop_last}; give --tokens (and --min-tokens >= tokens + drop-last).")
    need = window + cfg.drop_last
    if need > floor:
        raise ValueError(f"--tokens {window} with --drop-last {cfg.drop_last} needs items of at least {need} tokens, "
                         f"but the token filter keeps items from {floor}: pass --min-tokens {need} (the same on "
                         f"every side of the pair, so that they select the same items) or fewer --tokens.")
    return window


def write_extraction(cfg: ExtractConfig, *, header: dict, item_ids, chunks, compute, layers, tokens: int,
                     hidden: int, token_counts, log: Callable[[str], None] = _log, progress_bar: bool = True,
                     desc: str = "") -> Path:
    """Write the full plan (or, with ``cfg.shard``, its part) to ``cfg.out`` with a progress bar."""
    kwargs = dict(header=header, item_ids=list(item_ids), chunks=chunks, compute=compute, token_counts=token_counts)
    if cfg.shard is not None:
        from extract.merge import parse_shard, shard_part

        index, count = parse_shard(cfg.shard)
        kwargs = shard_part(**kwargs, layers=layers, tokens=tokens, hidden=hidden, store_floats=cfg.floats,
                            index=index, count=count,
                            extra={"chunk_size": cfg.chunk_size, "batch_size": cfg.batch_size})
        log(f"shard {index}/{count}: {len(kwargs['item_ids'])} of {len(item_ids)} items "
            f"({len(kwargs['chunks'])} of {len(chunks)} chunks)")
        if not kwargs["item_ids"]:
            log(f"note: shard {index}/{count} is empty ({len(chunks)} chunks for {count} shards); "
                "it is written as an empty part so that the merge finds every shard")
        desc = f"{desc} [{index}/{count}]"
    bar = None
    if progress_bar:
        from tqdm import tqdm

        bar = tqdm(total=len(kwargs["item_ids"]), unit="item", desc=desc, file=sys.stderr, dynamic_ncols=True)
    try:
        path = write_store(cfg.out, layers=layers, tokens=tokens, hidden=hidden, store_floats=cfg.floats,
                           overwrite=cfg.overwrite, progress=bar.update if bar else None, log=log, **kwargs)
    finally:
        if bar:
            bar.close()
    return path


def read_ids(path) -> list[str]:
    """Pair ids from a ``select`` JSON file (``{"ids": [...]}``) or a text file (one id a line)."""
    import json

    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        return [str(i) for i in json.loads(text)["ids"]]
    return [line.strip() for line in text.splitlines() if line.strip()]


def restrict_ids(pairs, ids) -> "ds_mod.PairDataset":
    """The pairs whose id is in ``ids``, in the dataset's order; an id the dataset lacks is an error."""
    want = set(ids)
    pos = [i for i, x in enumerate(pairs.ids) if x in want]
    if len(pos) != len(want):
        have = set(pairs.ids)
        missing = [x for x in ids if x not in have]
        raise ValueError(f"{pairs.name}: {len(missing)} of the {len(want)} requested ids are not in the dataset "
                         f"(first: {missing[0]!r}).")
    return pairs.subset(pos)


def select_common(datasets: Sequence[tuple[str, Sequence[str]]], *, n: int | None = None, seed: int = 0,
                  min_tokens: int | None = None, max_tokens: int | None = DEFAULT_MAX_TOKENS, cache=None,
                  log: Callable[[str], None] = _log) -> dict:
    """The pair ids that pass the token filter in *every* dataset under *every* listed tokenizer, then a seeded
    subsample of ``n`` (in the first dataset's order): one item set for all the stores of a study.

    Args:
      datasets: ``[(spec, [model, ...]), ...]``: each dataset with the models whose tokenizers must all find
        ``min_tokens..max_tokens`` content tokens on each of its text sides.

    Returns:
      ``{"ids": [...], "passed": {spec: count}, "common": count, "params": {...}}``.
    """
    from transformers import AutoTokenizer

    from extract.assets import resolve_model

    lo, hi = token_filter(min_tokens, max_tokens)
    toks: dict[str, Any] = {}
    common = None
    order: list[str] = []
    passed = {}
    for spec, models in datasets:
        ds = ds_mod.load_pairs(spec, seed=seed, cache=cache)
        keep = set(ds.ids)
        for m in models:
            if m not in toks:
                toks[m] = AutoTokenizer.from_pretrained(resolve_model(m, cache=cache))
            sel = ds_mod.select_pairs(ds, tokenizer=toks[m], min_tokens=lo, max_tokens=hi)
            keep &= set(sel.ids)
        passed[spec] = len(keep)
        log(f"select: {spec}: {len(keep)} of {len(ds)} pairs pass {ds_mod.token_bounds(lo, hi)} tokens under {', '.join(models)}")
        if common is None:
            order = list(ds.ids)
            common = keep
        else:
            common &= keep
    ids = [x for x in order if x in (common or set())]
    log(f"select: {len(ids)} pairs pass in every dataset")
    if n is not None:
        if n > len(ids):
            raise ValueError(f"select: asked for {n} common pairs but only {len(ids)} pass the filter in every dataset "
                             f"({passed}); lower -n or drop a dataset.")
        rng = np.random.default_rng(seed)
        ids = [ids[i] for i in np.sort(rng.choice(len(ids), size=n, replace=False))]
    return {"ids": ids, "passed": passed, "common": len(common or ()),
            "params": {"datasets": [[s, list(m)] for s, m in datasets], "n": n, "seed": seed, "min_tokens": lo,
                       "max_tokens": hi}}
