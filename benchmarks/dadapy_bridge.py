"""Call DADApy (the reference implementation) from the project's own environment.

DADApy 0.3.4 pins jax==0.4.30 and numpy<2, so it lives in its own virtual
environment, ``.venv-dadapy/`` (``make dadapy-venv``), and is reached only through a
subprocess running ``benchmarks/dadapy_runner.py``. This module imports only the
standard library and numpy; it is safe to import where DADApy is absent.

Usage (not a doctest: it needs the DADApy environment)::

    from benchmarks.dadapy_bridge import dadapy_available, run_dadapy
    if dadapy_available():
        res = run_dadapy("ii", {"x": x, "y": y})
        res["ii_xy"], res["ii_xy_iijax_norm"]

``run_dadapy("ii", {"x": ..., "y": ...}, k=1)`` returns Δ(x→y), Δ(y→x) in DADApy's
normalisation (2/N², keys ``ii_xy``/``ii_yx``) and in ii-jax's (2/(N(N-1)),
``*_iijax_norm``); ``run_dadapy("bid", {"bits": ...})`` returns ``d0``, ``d1``,
``logKL`` and the fitted histogram; ``run_dadapy("dii", {"x": ..., "y": ...}, kwargs=json.dumps({...}))`` trains
DADApy's ``DiffImbalance`` and returns its training curve (``imbs``, ``weights``) and final DII. See the runner's
docstring for every key.

The interpreter is ``$II_JAX_DADAPY_PYTHON`` if set, else ``<repo>/.venv-dadapy/bin/python``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "dadapy_runner.py"
VENV = REPO_ROOT / ".venv-dadapy"
STAMP = VENV / ".installed"

#: option names the runner accepts, per mode (passed as ``--name value``)
_OPTIONS = {
    "ii": {"k", "metric"},
    "bid": {"alphamin", "alphamax", "seed", "delta", "nsteps"},
    "dii": {"kwargs", "x64"},
}
_REQUIRED = {"ii": ("x", "y"), "bid": ("bits",), "dii": ("x", "y")}


class DadapyError(RuntimeError):
    """DADApy could not be run, or the runner failed."""


def dadapy_python() -> Path:
    """Path of the interpreter that has DADApy installed."""
    env = os.environ.get("II_JAX_DADAPY_PYTHON")
    if env:
        return Path(env)
    return VENV / "bin" / "python"


def dadapy_available() -> bool:
    """True when the DADApy environment exists (``make dadapy-venv`` has completed).

    Cheap: checks files only, starts no interpreter.
    """
    py = dadapy_python()
    if os.environ.get("II_JAX_DADAPY_PYTHON"):
        return py.exists()
    return py.exists() and STAMP.exists()


def _has_key(arrays: dict, key: str) -> bool:
    return key in arrays or f"{key}_packbits" in arrays


def _limit_data(max_bytes: int):
    """A ``preexec_fn`` capping the child's data segment (``RLIMIT_DATA``: malloc and private mappings), so a run
    too large for the machine fails with an allocation error instead of waking the OOM killer."""
    def limit():
        import resource

        resource.setrlimit(resource.RLIMIT_DATA, (max_bytes, max_bytes))

    return limit


def run_dadapy(mode: str, arrays: dict, timeout: float | None = None, max_memory: int | None = None,
               **options) -> dict:
    """Run DADApy on ``arrays`` in its own environment and return its JSON result.

    Args:
        mode: ``"ii"`` or ``"dii"`` (need ``x`` and ``y``), or ``"bid"`` (needs ``bits``, 0/1).
            Any array may be given packed as ``K_packbits`` + ``K_nbits`` instead.
        arrays: name -> array; written to a temporary ``.npz``.
        timeout: seconds before the subprocess is killed (``None``: no limit).
        max_memory: bytes of data segment the subprocess may use (``RLIMIT_DATA``; ``None``: no limit).
        **options: runner options: ``k``, ``metric`` for ii; ``alphamin``,
            ``alphamax``, ``seed``, ``delta``, ``nsteps`` for bid; ``kwargs`` (a JSON string of
            ``DiffImbalance`` arguments) and ``x64`` (1: float64) for dii.

    Raises:
        DadapyError: environment missing, bad arguments, timeout, or runner failure
            (the message carries the tail of its stderr).
    """
    if mode not in _OPTIONS:
        raise DadapyError(f"mode must be one of {sorted(_OPTIONS)}, got {mode!r}")
    missing = [k for k in _REQUIRED[mode] if not _has_key(arrays, k)]
    if missing:
        raise DadapyError(f"mode {mode!r} needs arrays {missing}; got {sorted(arrays)}")
    unknown = set(options) - _OPTIONS[mode]
    if unknown:
        raise DadapyError(f"unknown options for {mode!r}: {sorted(unknown)}")
    py = dadapy_python()
    if not py.exists():
        raise DadapyError(
            f"DADApy environment not found at {py}; run `make dadapy-venv` "
            "(or set II_JAX_DADAPY_PYTHON)"
        )

    with tempfile.TemporaryDirectory(prefix="dadapy-") as tmp:
        inp = Path(tmp) / "in.npz"
        out = Path(tmp) / "out.json"
        np.savez(inp, **{k: np.asarray(v) for k, v in arrays.items()})
        cmd = [str(py), "-I", str(RUNNER), mode, str(inp), str(out)]
        for name, value in sorted(options.items()):
            cmd += [f"--{name}", str(value)]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp,
                preexec_fn=None if max_memory is None else _limit_data(int(max_memory)),
            )
        except subprocess.TimeoutExpired as e:
            raise DadapyError(f"DADApy {mode} timed out after {timeout} s") from e
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout or "")[-3000:]
            raise DadapyError(f"DADApy {mode} failed (exit {proc.returncode}):\n{tail}")
        return json.loads(out.read_text())


if __name__ == "__main__":  # tiny smoke check: python benchmarks/dadapy_bridge.py
    if not dadapy_available():
        print("DADApy environment missing: run `make dadapy-venv`")
        sys.exit(1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 5))
    res = run_dadapy("ii", {"x": x, "y": x[:, :2]})
    print(f"ii: {res['ii_xy']:.4f} {res['ii_yx']:.4f} ({res['time_s']:.2f} s)")
