"""Many devices and many hosts: the device mesh, row-sharded execution, multi-host start-up, resumable runs.

The engine's expensive loops all walk over *row blocks* of a query side against a whole other side. With more
than one device, each step hands one block of rows to every device of a one-dimensional
:class:`jax.sharding.Mesh` (axis ``"rows"``), under ``jax.jit(jax.shard_map(...))``: the query rows are sharded,
the other side is replicated, and the per-row results are gathered back (``lax.all_gather`` inside the program,
so every process of a multi-host run holds them). Rows are padded to a whole number of blocks per device, never
dropped; padded rows are cut off on the host. Per-row statistics are exact integers, so the result is identical,
bit for bit, to a single-device run.

Nothing changes at the call site: :func:`resolve_mesh` picks a mesh over :func:`jax.devices` whenever JAX sees
more than one device (``mesh=False`` forces the single-device path, a :class:`~jax.sharding.Mesh` chooses the
devices). Multi-host runs start with :func:`initialize` (JAX's own ``jax.distributed`` runtime: gloo collectives
on CPU, NCCL on GPU), which also refuses processes that run different library versions. Every process then makes
the same call on the same data (e.g. memory-mapped from the same shard store); each computes its own rows.

Long runs can write their finished row blocks to a ``checkpoint`` folder (:class:`RowCheckpoint`); a run that
dies (a host lost mid-run makes the others fail loudly: JAX's coordination service aborts them) resumes from the
blocks already written when it is started again.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Callable, Sequence

import jax
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from ii_jax.store.files import atomic_path
from ii_jax.store.versions import ii_jax_version

__all__ = ["AXIS", "default_mesh", "resolve_mesh", "initialize", "library_versions", "check_same_versions",
           "row_sharded", "shard_rows", "replicate", "to_host", "RowCheckpoint", "data_digest"]

AXIS = "rows"
_VERSION_BYTES = 512


# ----------------------------------------------------------------------------------------------------------------
# Meshes


def default_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-dimensional mesh, axis ``"rows"``, over ``devices`` (default: every device of every process)."""
    devs = list(jax.devices() if devices is None else devices)
    if not devs:
        raise ValueError("devices must name at least one device.")
    return Mesh(np.array(devs, dtype=object), (AXIS,))


def resolve_mesh(mesh) -> Mesh | None:
    """The mesh a routine runs on, or ``None`` for the plain single-device path.

    Args:
      mesh: ``None`` (default): a mesh over all devices when JAX sees more than one, else ``None``; ``False``:
        ``None`` (single device); ``True``: a mesh over all devices even if there is only one; a
        :class:`~jax.sharding.Mesh` with one axis named ``"rows"``: that mesh.
    """
    if mesh is None:
        return default_mesh() if jax.device_count() > 1 else None
    if mesh is False:
        return None
    if mesh is True:
        return default_mesh()
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be None, True, False or a jax.sharding.Mesh, got {type(mesh).__name__}.")
    if tuple(mesh.axis_names) != (AXIS,):
        raise ValueError(f"mesh must have the single axis {AXIS!r} (see ii_jax.parallel.default_mesh), "
                         f"got axes {tuple(mesh.axis_names)}.")
    return mesh


def n_shards(mesh: Mesh) -> int:
    return int(mesh.devices.size)


# ----------------------------------------------------------------------------------------------------------------
# Global arrays from host data. Every process holds the same host data (or a memory map of it); the callbacks
# only read the rows of this process's devices.


def shard_rows(mesh: Mesh, host, i0: int, rows: int) -> jax.Array:
    """Rows ``host[i0 : i0 + rows]`` (zero-padded past the end) as a global array sharded over the mesh.

    ``host`` may be a NumPy array or a memory map: each device's rows are read (and copied) on their own.
    """
    n = host.shape[0]
    shape = (rows,) + tuple(host.shape[1:])

    def piece(index):
        sl = index[0]
        a, b = i0 + (sl.start or 0), i0 + (rows if sl.stop is None else sl.stop)
        out = np.zeros((b - a,) + shape[1:], host.dtype)
        if a < n:
            out[: min(b, n) - a] = host[a:min(b, n)]
        return out

    return jax.make_array_from_callback(shape, NamedSharding(mesh, P(AXIS)), piece)


def replicate(mesh: Mesh, host) -> jax.Array:
    """``host`` copied to every device of the mesh (a global, fully replicated array)."""
    host = np.asarray(host)
    return jax.make_array_from_callback(host.shape, NamedSharding(mesh, P()), lambda index: host[index])


def to_host(a: jax.Array) -> np.ndarray:
    """A fully replicated global array as a host NumPy array (read from this process's first copy)."""
    if a.is_fully_addressable:
        return np.asarray(a)
    return np.asarray(a.addressable_data(0))


@functools.lru_cache(maxsize=None)
def _compiled(fn: Callable, mesh: Mesh, sharded: tuple[bool, ...], out_axes: tuple[int, ...], static: tuple):
    kwargs = dict(static)

    def body(*args):
        outs = fn(*args, **kwargs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        return tuple(lax.all_gather(o, AXIS, axis=ax % o.ndim, tiled=True) for o, ax in zip(outs, out_axes, strict=False))

    in_specs = tuple(P(AXIS) if s else P() for s in sharded)
    mapped = jax.shard_map(body, mesh=mesh, in_specs=in_specs, out_specs=tuple(P() for _ in out_axes),
                           check_vma=False)
    return jax.jit(mapped)


def row_sharded(fn: Callable, mesh: Mesh, *, sharded: Sequence[bool], out_axes: Sequence[int], **static):
    """``fn`` run on every device of ``mesh`` at once, under ``jax.jit(jax.shard_map(...))``.

    Args:
      fn: a module-level function ``fn(*arrays, **static) -> array or tuple of arrays``, written for *one*
        device's block (it sees local shapes).
      mesh: a mesh from :func:`resolve_mesh`.
      sharded: per positional argument, ``True`` if its leading (row) axis is split over the devices, ``False`` if
        every device gets all of it.
      out_axes: per output, the axis along which the devices' pieces are concatenated (all-gathered); the result
        is replicated on every device, so every process can read it with :func:`to_host`.
      static: hashable keyword arguments passed to ``fn`` (part of the compilation key).

    Returns:
      A jitted callable on global arrays (see :func:`shard_rows`, :func:`replicate`), compiled once per
      ``(fn, mesh, sharded, out_axes, static)`` and input shapes.
    """
    return _compiled(fn, mesh, tuple(bool(s) for s in sharded), tuple(int(a) for a in out_axes),
                     tuple(sorted(static.items())))


# ----------------------------------------------------------------------------------------------------------------
# Multi-host start-up


def library_versions() -> dict:
    """The versions every process of a run must share: ii-jax, jax, jaxlib, numpy and the Python minor version."""
    import jaxlib

    return {"ii_jax": ii_jax_version(), "jax": jax.__version__,
            "jaxlib": jaxlib.__version__, "numpy": np.__version__,
            "python": ".".join(platform.python_version_tuple()[:2])}


def _encode(obj) -> np.ndarray:
    raw = json.dumps(obj, sort_keys=True).encode()
    if len(raw) > _VERSION_BYTES:
        raw = hashlib.sha256(raw).hexdigest().encode()
    buf = np.zeros(_VERSION_BYTES, np.int32)
    buf[: len(raw)] = np.frombuffer(raw, np.uint8)
    return buf


def _decode(buf: np.ndarray):
    raw = bytes(np.asarray(buf, np.int64).astype(np.uint8)).rstrip(b"\0")
    try:
        return json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode(errors="replace")


def _allgather_host(buf: np.ndarray) -> np.ndarray:
    """``[P, ...]``: every process's ``buf`` (a collective: every process must call it)."""
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(buf, tiled=False))


def check_same_versions(versions: dict | None = None) -> None:
    """Refuse to go on unless every process runs the same :func:`library_versions` (a collective).

    Raises:
      RuntimeError: on every process, listing each process's versions, when any differ.
    """
    mine = library_versions() if versions is None else versions
    if jax.process_count() == 1:
        return
    everyone = [_decode(b) for b in _allgather_host(_encode(mine))]
    if any(v != everyone[0] for v in everyone):
        lines = "; ".join(f"process {i}: {v}" for i, v in enumerate(everyone))
        raise RuntimeError(f"ii-jax refuses to run: the processes of this multi-host run use different library "
                           f"versions ({lines}). Install the same ii-jax, jax, jaxlib and numpy on every host.")


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}.") from None


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, local_device_ids: int | Sequence[int] | None = None,
               check_versions: bool = True, **kwargs) -> None:
    """Start a multi-host run with ``jax.distributed.initialize``, then check that all processes match.

    Call it once per process, before any other JAX work. Arguments left ``None`` come from the environment:
    ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0), ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``; if
    those are unset too, JAX detects the cluster itself (SLURM ``srun``, Open MPI, Kubernetes, Cloud TPU).
    Afterwards ``jax.devices()`` lists the devices of every process, and the engine's routines shard their rows
    over all of them.

    Args:
      coordinator_address, num_processes, process_id, local_device_ids: as ``jax.distributed.initialize``.
      check_versions: refuse (``RuntimeError`` on every process) when the processes run different versions of
        ii-jax, jax, jaxlib or numpy.
      kwargs: passed on to ``jax.distributed.initialize`` (e.g. ``heartbeat_timeout_seconds``, after which a dead
        process makes the others fail, and ``initialization_timeout``).

    Raises:
      ValueError: for a malformed environment variable or process id.
      RuntimeError: on a version mismatch across processes.
    """
    coordinator_address = coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS") or None
    num_processes = num_processes if num_processes is not None else _env_int("JAX_NUM_PROCESSES")
    process_id = process_id if process_id is not None else _env_int("JAX_PROCESS_ID")
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"num_processes must be >= 1, got {num_processes}.")
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must lie in [0, {num_processes}), got {process_id}.")
    jax.distributed.initialize(coordinator_address, num_processes, process_id, local_device_ids=local_device_ids,
                               **kwargs)
    if check_versions:
        check_same_versions()


# ----------------------------------------------------------------------------------------------------------------
# Resumable runs


def data_digest(*arrays, block_rows: int = 4096) -> str:
    """SHA-256 over the shapes, dtypes and bytes of host arrays (memory maps are read in row blocks)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype.str}{tuple(a.shape)}".encode())
        for i0 in range(0, max(a.shape[0], 1), block_rows):
            h.update(np.ascontiguousarray(a[i0:i0 + block_rows]).tobytes())
    return h.hexdigest()


def check_same_data(digest: str) -> None:
    """Refuse a multi-host run whose processes were given different data (a collective)."""
    if jax.process_count() == 1:
        return
    everyone = [_decode(b) for b in _allgather_host(_encode(digest))]
    if any(d != everyone[0] for d in everyone):
        bad = [i for i, d in enumerate(everyone) if d != everyone[0]]
        raise ValueError(f"every process must pass the same x and y to a multi-host run; processes {bad} hold "
                         f"different data than process 0.")


class RowCheckpoint:
    """Finished row blocks of a run, one ``.npy`` per block in a folder, written atomically by process 0.

    ``identity`` (the problem: sizes, options and a digest of the data) is stored in ``run.json``; a folder
    written for another problem is refused. On a resumed run, the rows already written are loaded (by process 0,
    then broadcast, so all processes skip the same blocks).

    Args:
      path: the folder (created if missing).
      identity: JSON-able description of the problem.
      shape: shape of the per-row statistics, rows last: ``(..., N)``.
    """

    def __init__(self, path, identity: dict, shape: tuple[int, ...]):
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        self.stats = np.zeros(self.shape, np.int64)
        self.done = np.zeros(self.shape[-1], bool)
        self._writer = jax.process_index() == 0
        if self._writer:
            self._load(identity)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            done, stats = multihost_utils.broadcast_one_to_all((self.done, self.stats.astype(np.int32)))
            self.done, self.stats = np.array(done, bool), np.array(stats, np.int64)

    def _load(self, identity: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        meta = self.path / "run.json"
        want = json.loads(json.dumps(identity, sort_keys=True))
        if meta.exists():
            have = json.loads(meta.read_text())
            if have != want:
                diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
                raise ValueError(f"checkpoint {self.path} was written for another problem (differs in "
                                 f"{', '.join(diff)}); use a new folder or delete this one.")
        else:
            _atomic_write(meta, lambda f: f.write(json.dumps(want, sort_keys=True, indent=1).encode()))
        for f in sorted(self.path.glob("rows_*.npy")):
            try:
                i0, i1 = (int(s) for s in f.stem.split("_")[1:3])
                block = np.load(f, allow_pickle=False)
            except (ValueError, OSError) as err:
                raise ValueError(f"checkpoint {f}: unreadable ({err}); delete it to recompute those rows.") from err
            if block.shape != self.shape[:-1] + (i1 - i0,) or not 0 <= i0 < i1 <= self.shape[-1]:
                raise ValueError(f"checkpoint {f}: holds shape {block.shape}, expected rows {i0}..{i1} of "
                                 f"{self.shape}; delete it to recompute those rows.")
            self.stats[..., i0:i1] = block
            self.done[i0:i1] = True

    def covered(self, i0: int, i1: int) -> bool:
        """Whether rows ``i0:i1`` are already in the checkpoint."""
        return bool(self.done[i0:i1].all())

    def save(self, i0: int, i1: int, stats: np.ndarray) -> None:
        """Record rows ``i0..i1`` (``stats``: ``[..., i1 - i0]``); process 0 writes them to disk."""
        self.stats[..., i0:i1] = stats
        self.done[i0:i1] = True
        if self._writer:
            _atomic_write(self.path / f"rows_{i0:09d}_{i1:09d}.npy", lambda f: np.save(f, np.asarray(stats)))


def _atomic_write(path: Path, write) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # the store's one atomic write (fsync + rename)
        write(f)
