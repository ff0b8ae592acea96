"""Atomic file writing, checksums and the cache directory.

The atomic writes and SHA-256 checksums are the shard store's (:mod:`ii_jax.store.files`, documented there),
re-exported here so that every writer of the extraction layer uses the one copy. Only :func:`cache_dir`, where
built assets live, belongs to this layer.
"""
from __future__ import annotations

import os
from pathlib import Path

from ii_jax.store.files import atomic_path
from ii_jax.store.files import atomic_save_npy
from ii_jax.store.files import atomic_write_bytes
from ii_jax.store.files import atomic_write_json
from ii_jax.store.files import sha256_file

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_save_npy",
    "cache_dir",
    "sha256_file",
]


def cache_dir() -> Path:
    """The cache for built assets: ``$II_JAX_CACHE``, else ``~/.cache/ii-jax``."""
    env = os.environ.get("II_JAX_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ii-jax"
