"""Library versions and the CPU, as recorded in a store's manifest and in written results (NumPy only, imports
nothing heavy).

Examples:
  >>> from ii_jax.store.versions import ii_jax_version, library_versions
  >>> ii_jax_version() == library_versions()["version"]
  True
"""
from __future__ import annotations

from importlib import metadata

__all__ = ["ii_jax_version", "installed_version", "library_versions", "cpu_info", "MANIFEST_LIBRARIES"]

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


def cpu_info(cpuinfo="/proc/cpuinfo") -> dict:
    """The first CPU listed in ``cpuinfo``: ``{"model": its model name or None, "flags": frozenset of its flags}``
    (``None`` and an empty set where the file is absent, e.g. not Linux).

    Examples:
      >>> info = cpu_info("/nonexistent")
      >>> info["model"] is None, info["flags"] == frozenset()
      (True, True)
    """
    model, flags = None, None
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key in ("flags", "Features") and flags is None:
                    flags = frozenset(value.split())
                if model is not None and flags is not None:
                    break
    except OSError:
        pass
    return {"model": model, "flags": flags or frozenset()}
