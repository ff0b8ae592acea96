"""A few-second measure of a model's extraction speed on this machine: what ``ii-jax study`` plans its sizes from.

:func:`probe_speed` loads the model in the dtype asked for, runs ``n`` items of the dataset's side once to warm up
and then times them again (forward passes with every hidden state, gathering the window): items per second at the
threads given, and the load time.
"""
from __future__ import annotations

import time

import numpy as np

__all__ = ["probe_speed"]


def probe_speed(model: str, *, dataset: str = "bible:en@web-es", side: str = "en", n: int = 32, batch_size: int = 16,
                dtype: str = "auto", cache=None, window: int = 20) -> dict:
    """Items per second of extracting ``n`` items of ``dataset:side`` through ``model``.

    Returns:
      ``{"model", "dtype", "items", "items_per_s", "load_s", "threads"}``.
    """
    import torch

    from extract import datasets as D
    from extract.models import load_model

    if n < 1 or batch_size < 1:
        raise ValueError(f"n and batch_size must be at least 1, got n={n}, batch_size={batch_size}.")
    pairs = D.load_pairs(dataset, cache=cache)
    modality, items = pairs.side(side)
    t0 = time.perf_counter()
    loaded = load_model(model, modality=modality, cache=cache, dtype=dtype)
    load_s = time.perf_counter() - t0
    if loaded.kind == "vision":
        from extract.vision import vision_states

        pick = np.arange(min(len(items), n))

        def run(idx):
            return vision_states(loaded, items, idx, window=1, batch_size=batch_size)
    else:
        from extract.text import batches_by_length, text_states, tokenize_texts

        counts = D.content_token_counts(items, loaded.tokenizer)
        pool = np.flatnonzero((counts >= 40) & (counts <= 80))
        if len(pool) == 0:
            raise ValueError(f"{dataset}:{side}: no item of 40-80 tokens under {model}'s tokenizer to time.")
        pick = np.random.default_rng(0).choice(pool, min(len(pool), n), replace=False)
        tok = tokenize_texts([items[i] for i in pick], loaded.tokenizer, window=window, drop_last=2)
        # batched as an extraction batches them: sorted by length, so a batch carries little padding
        by_length = np.concatenate(batches_by_length([len(s) for s in tok.input_ids], len(pick)))

        def run(idx):
            return text_states(loaded, tok, by_length[idx], batch_size=batch_size)
    timed = np.arange(len(pick) - min(n, len(pick)), len(pick))
    # Warm-up on the very batches then timed: the first pass over a batch shape pays one-time costs (allocations,
    # the bfloat16 kernels oneDNN builds per shape) that a long extraction pays once per shape, not per batch.
    run(timed)
    t0 = time.perf_counter()
    run(timed)
    dt = time.perf_counter() - t0
    return {"model": model, "dtype": loaded.dtype, "items": len(timed), "items_per_s": len(timed) / dt,
            "load_s": load_s, "threads": torch.get_num_threads()}
