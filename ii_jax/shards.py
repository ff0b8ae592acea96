"""Deprecated alias of :mod:`ii_jax.store` (the shard-store reader), kept for one release.

Import from :mod:`ii_jax.store` instead (``from ii_jax.store import open_store``); this module only re-exports.
The store's layout and manifest fields are documented in :mod:`ii_jax.store.schema`.
"""
# TODO(next release): remove this alias.
from ii_jax.store.reader import Store
from ii_jax.store.reader import check_paired
from ii_jax.store.reader import open_store
from ii_jax.store.schema import FORMAT
from ii_jax.store.schema import FORMAT_VERSION

__all__ = ["Store", "open_store", "check_paired", "FORMAT", "FORMAT_VERSION"]
