"""The shard store: the one contract between ``extract`` (writes) and the engine (reads). NumPy only.

DESIGN §4. No module of this package imports jax, torch or matplotlib, directly or through ``ii_jax``'s
(lazy) top level, so the extraction layer can depend on it alone. Modules, one job each:

* :mod:`ii_jax.store.schema` - format name and version, file names, manifest fields (documented there).
* :mod:`ii_jax.store.manifest` - building, reading and validating ``manifest.json``.
* :mod:`ii_jax.store.reader` - :class:`Store`, :func:`open_store`, :func:`check_paired` (memory-mapped).
* :mod:`ii_jax.store.bits` - host-side bit packing in the store's layout (:func:`pack_bits_np`).
* :mod:`ii_jax.store.pairing` - disjoint same-class pairs, the one pairing of writer and engine.
* :mod:`ii_jax.store.files` - atomic writes and SHA-256 checksums.
* :mod:`ii_jax.store.versions` - the library versions recorded in manifests and results.

Examples:
  >>> import ii_jax.store as store
  >>> store.FORMAT, store.FORMAT_VERSION, store.layer_file(0)
  ('ii-jax-shards', 1, 'layer_000.npy')
"""
from ii_jax.store.bits import WORD_BITS
from ii_jax.store.bits import n_words
from ii_jax.store.bits import pack_bits_np
from ii_jax.store.files import atomic_path
from ii_jax.store.files import atomic_save_npy
from ii_jax.store.files import atomic_write_bytes
from ii_jax.store.files import atomic_write_json
from ii_jax.store.files import atomic_write_text
from ii_jax.store.files import sha256_file
from ii_jax.store.manifest import build_manifest
from ii_jax.store.manifest import read_manifest
from ii_jax.store.manifest import validate_manifest
from ii_jax.store.pairing import same_class_pairs
from ii_jax.store.reader import Store
from ii_jax.store.reader import check_paired
from ii_jax.store.reader import open_store
from ii_jax.store.schema import FLOAT16_MAX
from ii_jax.store.schema import FORMAT
from ii_jax.store.schema import FORMAT_VERSION
from ii_jax.store.schema import MANIFEST_FILE
from ii_jax.store.schema import PARTIAL_DIR
from ii_jax.store.schema import float_file
from ii_jax.store.schema import layer_file
from ii_jax.store.versions import ii_jax_version
from ii_jax.store.versions import library_versions

__all__ = [
    "WORD_BITS",
    "n_words",
    "pack_bits_np",
    "atomic_path",
    "atomic_save_npy",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "sha256_file",
    "build_manifest",
    "read_manifest",
    "validate_manifest",
    "same_class_pairs",
    "Store",
    "check_paired",
    "open_store",
    "FLOAT16_MAX",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "PARTIAL_DIR",
    "float_file",
    "layer_file",
    "ii_jax_version",
    "library_versions",
]
