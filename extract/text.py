"""Per-layer token states of text models.

For each text the model sees its full tokenisation (with its special tokens); the stored *window* is
defined on the content tokens only (special tokens such as ``<bos>``, ``[CLS]``, ``[SEP]``, ``</s>``
excluded): the final ``drop_last`` content tokens are dropped (the paper drops 2, usually punctuation),
and the last ``window`` of the remaining ones are kept, in order. A text with fewer than
``window + drop_last`` content tokens is an error naming the item, never padded.

Batches are formed from texts sorted by length, padded on the *right* with an attention mask, so the
real tokens keep positions ``0..n-1`` and (in causal models) never see padding; the window is gathered
at the real token positions. Causal models are run only up to the last window token: later tokens cannot
change earlier states under causal attention, so this is exact and saves the dropped tokens' work. All hidden
states are returned: index 0 is the embedding layer.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

__all__ = ["TokenizedTexts", "tokenize_texts", "text_states", "batches_by_length"]


@dataclasses.dataclass(frozen=True)
class TokenizedTexts:
    """Token ids and window positions of N texts.

    Attributes:
      input_ids: N lists of token ids (special tokens included).
      window_positions: ``[N, T]`` int positions (into each item's ids) of the stored tokens.
      content_counts: ``[N]`` number of content (non-special) tokens of each item.
    """

    input_ids: list[list[int]]
    window_positions: np.ndarray
    content_counts: np.ndarray


def tokenize_texts(texts: Sequence[str], tokenizer, *, window: int = 40, drop_last: int = 2, prefix: str = "",
                   ids: Sequence[str] | None = None, max_length: int | None = None) -> TokenizedTexts:
    """Tokenise and locate each text's window of ``window`` content tokens ending ``drop_last`` before the end.

    Raises:
      ValueError: naming the first item that is empty or shorter than ``window + drop_last`` content tokens,
        or longer than the model's maximum length.
    """
    if window < 1 or drop_last < 0:
        raise ValueError(f"window must be >= 1 and drop_last >= 0, got window={window}, drop_last={drop_last}.")
    need = window + drop_last
    all_ids, positions, counts = [], np.zeros((len(texts), window), np.int64), np.zeros(len(texts), np.int64)
    for i, text in enumerate(texts):
        name = repr(ids[i]) if ids is not None else f"#{i}"
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"item {name}: the text is empty.")
        enc = tokenizer(prefix + text, add_special_tokens=True, return_special_tokens_mask=True, truncation=False)
        special = np.asarray(enc["special_tokens_mask"], dtype=bool)
        content = np.flatnonzero(~special)
        if len(content) < need:
            raise ValueError(f"item {name} has {len(content)} tokens, fewer than the window of {window} plus "
                             f"{drop_last} dropped final tokens; filter such items (--min-tokens {need}) or use a "
                             f"smaller window: {text[:60]!r}")
        if max_length is not None and len(enc["input_ids"]) > max_length:
            raise ValueError(f"item {name} has {len(enc['input_ids'])} tokens, more than the model's maximum "
                             f"{max_length}; filter it with --max-tokens.")
        all_ids.append(list(enc["input_ids"]))
        positions[i] = content[len(content) - need: len(content) - drop_last]
        counts[i] = len(content)
    return TokenizedTexts(all_ids, positions, counts)


def batches_by_length(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Index batches of items sorted by length (stable: ties keep their order)."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[k:k + batch_size] for k in range(0, len(order), batch_size)]


def _max_length(loaded) -> int | None:
    n = getattr(loaded.config, "max_position_embeddings", None)
    return int(n) if n and n < 10**6 else None


def text_states(loaded, tokenized: TokenizedTexts, indices: Sequence[int], *, batch_size: int = 16
                ) -> np.ndarray:
    """Hidden states at the window positions for the items ``indices``, batched in the given order.

    Args:
      loaded: a :class:`extract.models.LoadedModel` of kind ``"causal"`` or ``"encoder"``.
      tokenized: from :func:`tokenize_texts`.
      indices: items to run, in the order to batch them (sort by length for speed).

    Returns:
      float32 ``[n, L + 1, T, E]``: every hidden state (embedding layer first) at each item's window.
    """
    import torch

    indices = np.asarray(indices, dtype=np.int64)
    tok = loaded.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    n_states, window = loaded.n_layers + 1, tokenized.window_positions.shape[1]
    out = np.empty((len(indices), n_states, window, loaded.hidden_size), np.float32)
    with torch.inference_mode():
        for start in range(0, len(indices), batch_size):
            batch = indices[start:start + batch_size]
            seqs = [tokenized.input_ids[i] for i in batch]
            if loaded.kind == "causal":
                # Causal attention: tokens after the window cannot change it, so they are not run.
                seqs = [s[: int(tokenized.window_positions[i, -1]) + 1] for s, i in zip(seqs, batch, strict=False)]
            width = max(len(s) for s in seqs)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, s in enumerate(seqs):
                ids[r, :len(s)] = torch.tensor(s)
                mask[r, :len(s)] = 1
            res = loaded.module(input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False) \
                if loaded.kind == "causal" else loaded.module(input_ids=ids, attention_mask=mask,
                                                             output_hidden_states=True)
            hidden = torch.stack(res.hidden_states, dim=1)  # [B, L+1, S, E]
            pos = torch.from_numpy(tokenized.window_positions[batch])  # [B, T]
            gather = pos[:, None, :, None].expand(-1, n_states, -1, hidden.shape[-1])
            out[start:start + len(batch)] = torch.gather(hidden, 2, gather).float().numpy()
    return out
