"""Deprecated alias of :mod:`ii_jax.store.pairing` (disjoint same-class pairs), kept for one release.

Import from :mod:`ii_jax.store` instead (``from ii_jax.store import same_class_pairs``); this module only re-exports.
"""
# TODO(next release): remove this alias.
from ii_jax.store.pairing import same_class_pairs

__all__ = ["same_class_pairs"]
