"""Library versions, as recorded in a store's manifest and in written results (NumPy only, imports nothing heavy).

Examples:
  >>> from ii_jax.store.versions import ii_jax_version, library_versions
  >>> ii_jax_version() == library_versions()["version"]
  True
"""
from __future__ import annotations

from importlib import metadata

__all__ = ["ii_jax_version", "installed_version", "library_versions", "MANIFEST_LIBRARIES"]

# The distributions whose versions a store's manifest records (``library``).
MANIFEST_LIBRARIES = ("ii-jax", "torch", "transformers", "numpy")


def ii_jax_version() -> str:
    """``ii_jax.__version__`` (the package being run, which may differ from an installed distribution)."""
    from ii_jax import __version__

    return __version__


def installed_version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or ``None`` when it is not installed (nothing imported)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def library_versions() -> dict:
    """The manifest's ``library`` record.

    Returns:
      ``{"name": "ii-jax", <each of MANIFEST_LIBRARIES>: version or None when not installed,
      "version": ii_jax_version()}``.
    """
    out: dict = {"name": "ii-jax"}
    for dist in MANIFEST_LIBRARIES:
        out[dist] = installed_version(dist)
    out["version"] = ii_jax_version()
    return out
