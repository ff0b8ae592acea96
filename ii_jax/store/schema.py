"""The shard-store schema (DESIGN §4): format name and version, file names, manifest fields. NumPy only.

A store is one folder per (model, dataset, side)::

    manifest.json          the schema below; written last, so a folder without it is not a store
    layer_000.npy          packed sign bits of layer 0 (the embedding layer), uint32 [N, T, W]
    layer_000.f16.npy      optional float16 activations of layer 0, [N, T, E]
    layer_001.npy ...      one file (or two) per layer
    .partial/              only while an extraction is unfinished (its plan and finished chunks)

``N`` items (pairs), ``T`` stored tokens per item, ``E`` hidden size (bits), ``W = ceil(E / 32)`` words.
Bit ``e`` of token ``t`` of item ``i`` is ``activation > 0`` and sits in word ``e // 32`` at position
``e % 32`` (least significant bit first; padding bits zero), exactly as :func:`ii_jax.binary.pack_bits`
(on device) and :func:`ii_jax.store.bits.pack_bits_np` (on the host).

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

Every name here is the one definition of that part of the contract: the writer (``extract.writer``) and the
reader (:mod:`ii_jax.store.reader`) both take it from this module.

Examples:
  >>> from ii_jax.store import schema
  >>> schema.layer_file(3), schema.float_file(3)
  ('layer_003.npy', 'layer_003.f16.npy')
"""
from __future__ import annotations

import numpy as np

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST_FILE", "PARTIAL_DIR", "BITS_FILE_PATTERN", "FLOATS_FILE_PATTERN",
           "LAYER_GLOB", "BITS_DTYPE", "FLOATS_DTYPE", "BIT_ORDER", "BIT_RULE", "BIT_PADDING", "FLOAT16_MAX",
           "REQUIRED_FIELDS", "layer_file", "float_file"]

FORMAT = "ii-jax-shards"
FORMAT_VERSION = 1

MANIFEST_FILE = "manifest.json"
PARTIAL_DIR = ".partial"  # an unfinished extraction's plan and chunks
BITS_FILE_PATTERN = "layer_{layer:03d}.npy"
FLOATS_FILE_PATTERN = "layer_{layer:03d}.f16.npy"
LAYER_GLOB = "layer_*.npy"  # matches both kinds of layer file

BITS_DTYPE = "uint32"
FLOATS_DTYPE = "float16"
BIT_ORDER = "lsb-first"
BIT_RULE = "activation > 0"
BIT_PADDING = "zero"
FLOAT16_MAX = float(np.finfo(np.float16).max)  # floats beyond it are clipped (and counted per file)

# Fields a reader needs; a manifest without any of them is refused.
REQUIRED_FIELDS = ("format", "format_version", "model", "dataset", "n_items", "item_ids", "token_counts",
                   "tokens_stored", "layers", "embedding_layer", "relative_depth", "hidden_size", "n_words", "bits",
                   "files")


def layer_file(layer: int) -> str:
    """File name of ``layer``'s packed bits: ``layer_XXX.npy``."""
    return BITS_FILE_PATTERN.format(layer=int(layer))


def float_file(layer: int) -> str:
    """File name of ``layer``'s float16 activations: ``layer_XXX.f16.npy``."""
    return FLOATS_FILE_PATTERN.format(layer=int(layer))
