"""Filter and sample: token counts of text sides under a tokenizer, the token filter as text, and
:func:`select_pairs` (the filter, then a seeded subsample of N that keeps the dataset's order).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from extract.datasets.base import PairDataset


def content_token_counts(texts: Sequence[str], tokenizer, *, prefix: str = "", batch: int = 1024) -> np.ndarray:
    """Number of non-special tokens of each text under ``tokenizer`` (``[N]`` int)."""
    counts = np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(texts), batch):
        chunk = [prefix + t for t in texts[start:start + batch]]
        enc = tokenizer(chunk, add_special_tokens=True, return_special_tokens_mask=True, truncation=False)
        for k, mask in enumerate(enc["special_tokens_mask"]):
            counts[start + k] = len(mask) - int(sum(mask))
    return counts


def token_bounds(lo: int | None, hi: int | None) -> str:
    """A token filter as text: ``"40-80"``, ``">= 40"`` or ``"<= 80"``."""
    return f"{lo}-{hi}" if lo is not None and hi is not None else (f">= {lo}" if lo is not None else f"<= {hi}")


def select_pairs(ds: PairDataset, *, tokenizer=None, min_tokens: int | None = None, max_tokens: int | None = None,
                 n: int | None = None, seed: int = 0, prefix: str = "",
                 log: Callable[[str], None] | None = None) -> PairDataset:
    """Keep pairs whose text sides both have ``min_tokens..max_tokens`` tokens, then a seeded subsample of ``n``.

    Tokens are counted without special tokens, under ``tokenizer`` (pass the tokenizer of the model that
    will read the texts). The subsample keeps the dataset's order.

    Raises:
      ValueError: if fewer than ``n`` pairs pass the filter.
    """
    keep = np.ones(len(ds), dtype=bool)
    if tokenizer is not None and (min_tokens is not None or max_tokens is not None):
        for s, mod in enumerate(ds.modalities):
            if mod != "text":
                continue
            counts = content_token_counts(ds.items[s], tokenizer, prefix=prefix)
            if min_tokens is not None:
                keep &= counts >= min_tokens
            if max_tokens is not None:
                keep &= counts <= max_tokens
    idx = np.flatnonzero(keep)
    if log and tokenizer is not None and (min_tokens is not None or max_tokens is not None):
        log(f"{ds.name}: {len(idx)} of {len(ds)} pairs have {token_bounds(min_tokens, max_tokens)} tokens on every "
            "text side")
    if n is not None:
        if n > len(idx):
            raise ValueError(f"{ds.name}: asked for {n} pairs but only {len(idx)} of {len(ds)} pass the token filter "
                             f"({min_tokens}-{max_tokens or 'any'} tokens); lower -n or widen the filter.")
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(idx, size=n, replace=False))
    return ds.subset(idx)
