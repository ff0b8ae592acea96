"""Atomic file writing and SHA-256 checksums (NumPy only).

Every file that ii-jax writes for later reading (shard layers, manifests, converted model folders, results,
checkpoints) is first written to a temporary file in the same folder and then moved into place with
:func:`os.replace`, which is atomic on POSIX file systems. A process killed at any moment therefore leaves
either the old state or the complete new file, never half a file. On a write error (a full disk, say) the
temporary file is removed and the error is raised again with the name of the file that could not be written.

Examples:
  >>> import pathlib, tempfile
  >>> from ii_jax.store.files import atomic_write_json, sha256_file
  >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.json"
  >>> atomic_write_json(path, {"b": 1, "a": 2})
  >>> path.read_text().splitlines()  # indented, keys sorted
  ['{', ' "a": 2,', ' "b": 1', '}']
  >>> len(sha256_file(path))
  64
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_save_npy",
    "sha256_file",
]

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path`` atomically.

    The temporary file is fsynced before the rename. If the body raises, the temporary file is removed
    and an ``OSError`` is re-raised with ``path`` named in its message.

    Args:
      path: the final file.
      suffix: the temporary file's suffix (``".tmp"``; a writer that picks its format by extension, such as
        matplotlib's ``savefig``, needs e.g. ``".tmp.png"``). The name always starts with ``.`` + ``path.name``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(err.errno, f"could not write {path}: {err.strerror or err}") from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted UTF-8 JSON to ``path`` atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode())


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray) -> str:
    """Save ``array`` as a ``.npy`` file atomically and return the file's SHA-256.

    The checksum is computed while writing, so the file is not read back.
    """
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256()

    class _Hashing(io.RawIOBase):
        def __init__(self, fh):
            self._fh = fh

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:
            digest.update(b)
            return self._fh.write(b)

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.lib.format.write_array(_Hashing(fh), array, allow_pickle=False)
    return digest.hexdigest()
