"""Shared helpers for the extraction tests (imported by tests/test_extract_*.py)."""
from __future__ import annotations

import functools

from extract import assets


@functools.lru_cache(maxsize=None)
def built(name: str) -> str:
    """Folder of built-in model ``name``, built into the cache once (``$II_JAX_CACHE`` or ~/.cache/ii-jax)."""
    return str(assets.build_asset(name))


@functools.lru_cache(maxsize=None)
def loaded(name: str, modality: str | None = None):
    """A model loaded once per test session."""
    from extract.models import load_model

    built(name)
    return load_model(name, modality=modality)
