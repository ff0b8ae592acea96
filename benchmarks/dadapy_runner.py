"""Run DADApy 0.3.4 as an isolated oracle for ii-jax.

This script runs *inside* ``.venv-dadapy`` (``make dadapy-venv``), never in the
project's own environment: DADApy pins jax==0.4.30 and numpy<2. It imports only
the standard library, numpy, psutil and dadapy. The host side talks to it through
``benchmarks/dadapy_bridge.py``.

Usage::

    .venv-dadapy/bin/python benchmarks/dadapy_runner.py ii  IN.npz OUT.json [--k 1] [--metric auto]
    .venv-dadapy/bin/python benchmarks/dadapy_runner.py bid IN.npz OUT.json [--alphamax 0.2] [--seed 1]
    .venv-dadapy/bin/python benchmarks/dadapy_runner.py dii IN.npz OUT.json [--kwargs JSON] [--x64 1]

Inputs (IN.npz)
---------------
``ii``:  ``x`` (N, Dx) and ``y`` (N, Dy). Float arrays are compared with the
         Euclidean metric; arrays holding only 0/1 values (bool, int or float) with
         the Hamming metric (``--metric auto``, the default). ``--metric`` forces one
         metric for both spaces.
``bid``: ``bits`` (N, L) with 0/1 values.
``dii``: ``x`` (N, D_A) and ``y`` (N, D_B), float.
Any array ``K`` may instead be given packed as ``K_packbits`` (uint8, from
``np.packbits(bits, axis=1)``, big bit order) plus ``K_nbits`` (the number L of
bits per row); it is unpacked with ``np.unpackbits(p, axis=1, count=L)``.

What is computed (DADApy 0.3.4 semantics, read from its source)
----------------------------------------------------------------
II: ``MetricComparisons(coordinates=x, maxk=N-1)``, ``mc.metric = metric``, then
``mc.return_information_imbalace(y, k=k, subset_size=N)``. With subset_size=N the
whole data set is used once and the neighbour lists are complete (maxk = N-1, so
no rank is ever drawn at random). It returns ([Δ(x→y), 0], [Δ(y→x), 0]) with
Δ(A→B) = mean over i and the k A-neighbours j of rank_B(i, j), divided by N/2,
i.e. Δ = 2/(N²k) Σ_i Σ_j r^B_ij, ranks 1-based (the point itself has position 0 of
its own list). ii-jax uses 2/((N-1)Nk): Δ_iijax = Δ_dadapy · N/(N-1). Neighbour
lists come from sklearn ``NearestNeighbors(n_neighbors=N)``; with ties (Hamming)
their order is what numpy's argpartition + (non-stable) argsort give, i.e. not by
index. Both values are written, in DADApy's normalisation and converted.
Should x and y need different metrics, DADApy's public method cannot do it (one
``metric`` per object); the runner then calls the same internals the method uses
(``compute_nn_distances`` per space with ``maxk=N-1``, then ``_return_imbalance``)
and says so in ``dadapy_call``.

BID: ``H = Hamming(coordinates=2*bits-1)``; ``H.compute_distances()``;
``H.D_histogram(compute_flag=1)``; ``B = BID(H=H, alphamin, alphamax, seed, delta,
Nsteps, L=L, export_results=0)``; ``B.computeBID()``. Writes d0, d1, logKL, KL,
rmax, the fitted support (remp, Pemp, Pmodel), the starting point and the full
histogram of distances.

DII: ``dii = DiffImbalance(x, y, **kwargs)`` (``--kwargs``: a JSON object of its keyword arguments),
``weights, imbs = dii.train()``, then ``dii.return_final_dii(compute_error=False, ratio_rows_columns=None)``.
Writes the whole training curve (``imbs``, ``weights``: |w| per epoch), the final DII, and the times of the
set-up (``DiffImbalance(...)``, which ranks B) and of the training (both include JAX's compilation), as wall
and as CPU time of the process (``time.process_time``: all its threads). DADApy runs
in float32 unless ``--x64 1``, which turns on ``jax_enable_x64`` in this (isolated) process before DADApy loads.

Output (OUT.json): the values, the exact calls, wall times (distance part and the
whole computation, excluding input loading and process start), peak RSS of the
process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and RSS before computing,
and versions of python, numpy, jax, jaxlib, sklearn, scipy and dadapy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import warnings

import numpy as np

try:  # psutil is installed in .venv-dadapy; stay usable without it.
    import psutil
except ImportError:  # pragma: no cover
    psutil = None


# --------------------------------------------------------------------------- helpers


def _rss_mib() -> float | None:
    if psutil is None:
        return None
    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mib() -> float:
    # Linux: ru_maxrss is in KiB (macOS: bytes).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # pragma: no cover
        return peak / 2**20
    return peak / 2**10


def _versions() -> dict:
    import dadapy  # noqa: F401  (imported for its metadata)
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("dadapy", "numpy", "jax", "jaxlib", "scikit-learn", "scipy", "psutil"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    out["cpu_count"] = os.cpu_count()
    return out


def load_array(npz, key: str) -> np.ndarray:
    """Array ``key`` from an npz, unpacking ``key_packbits`` + ``key_nbits`` if needed."""
    if key in npz.files:
        return np.asarray(npz[key])
    if f"{key}_packbits" in npz.files:
        packed = np.asarray(npz[f"{key}_packbits"], dtype=np.uint8)
        nbits = int(npz[f"{key}_nbits"])
        return np.unpackbits(packed, axis=1, count=nbits)
    raise KeyError(f"input has neither {key!r} nor {key + '_packbits'!r}: {npz.files}")


def is_binary(a: np.ndarray) -> bool:
    """True when every entry is 0 or 1 (bool, integer or float arrays)."""
    if a.dtype == bool:
        return True
    if a.size == 0:
        return False
    return bool(np.all((a == 0) | (a == 1)))


def _pick_metric(a: np.ndarray, forced: str) -> str:
    if forced != "auto":
        return forced
    return "hamming" if is_binary(a) else "euclidean"


# --------------------------------------------------------------------------- II


def run_ii(x: np.ndarray, y: np.ndarray, k: int = 1, metric: str = "auto") -> dict:
    import dadapy.metric_comparisons as dmc
    from dadapy import MetricComparisons
    from dadapy._utils.metric_comparisons import _return_imbalance
    from dadapy._utils.utils import compute_nn_distances

    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must be 2-D with equal rows, got {x.shape}, {y.shape}")
    n = x.shape[0]
    metric_x, metric_y = _pick_metric(x, metric), _pick_metric(y, metric)
    # DADApy's Base keeps float64 and warns on anything else: hand it float64 (0/1 stays 0/1).
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)

    # Time the distance/neighbour part without changing what DADApy runs.
    dist_time = [0.0]
    orig = dmc.compute_nn_distances

    def timed_nn(*args, **kwargs):
        t = time.perf_counter()
        try:
            return orig(*args, **kwargs)
        finally:
            dist_time[0] += time.perf_counter() - t

    rss_before = _rss_mib()
    t0 = time.perf_counter()
    if metric_x == metric_y:
        dmc.compute_nn_distances = timed_nn
        try:
            with warnings.catch_warnings():
                # "Subset size greater than the dataset size": expected, subset_size == N.
                warnings.filterwarnings("ignore", message="Subset size greater")
                mc = MetricComparisons(coordinates=x, maxk=n - 1)
                mc.metric = metric_x
                imb_xy, imb_yx = mc.return_information_imbalace(y, k=k, subset_size=n)
        finally:
            dmc.compute_nn_distances = orig
        ii_xy, ii_yx = float(imb_xy[0]), float(imb_yx[0])
        call = (
            f"mc = MetricComparisons(coordinates=x, maxk={n - 1}); mc.metric = {metric_x!r}; "
            f"mc.return_information_imbalace(y, k={k}, subset_size={n})"
        )
    else:
        rng = np.random.default_rng(42)  # as Base; unused since maxk = N-1
        t = time.perf_counter()
        _, idx_x = compute_nn_distances(x, n - 1, metric_x)
        _, idx_y = compute_nn_distances(y, n - 1, metric_y)
        dist_time[0] = time.perf_counter() - t
        ii_xy = float(_return_imbalance(idx_x, idx_y, rng, k=k))
        ii_yx = float(_return_imbalance(idx_y, idx_x, rng, k=k))
        call = (
            f"mixed metrics: _, ix = compute_nn_distances(x, {n - 1}, {metric_x!r}); "
            f"_, iy = compute_nn_distances(y, {n - 1}, {metric_y!r}); "
            f"_return_imbalance(ix, iy, rng, k={k}), _return_imbalance(iy, ix, rng, k={k}) "
            "(the internals of MetricComparisons.return_information_imbalace)"
        )
    wall = time.perf_counter() - t0

    return {
        "mode": "ii",
        "n": n,
        "k": k,
        "dim_x": int(x.shape[1]),
        "dim_y": int(y.shape[1]),
        "metric_x": metric_x,
        "metric_y": metric_y,
        "ii_xy": ii_xy,
        "ii_yx": ii_yx,
        "ii_xy_iijax_norm": ii_xy * n / (n - 1),
        "ii_yx_iijax_norm": ii_yx * n / (n - 1),
        "normalisation": (
            "ii_xy/ii_yx: DADApy's, mean(rank)/(N/2) = 2/(N^2 k) * sum of 1-based ranks; "
            "*_iijax_norm = DADApy * N/(N-1) = 2/((N-1) N k) * sum (ii-jax / paper)"
        ),
        "dadapy_call": call,
        "time_distances_s": dist_time[0],
        "time_s": wall,
        "rss_before_mib": rss_before,
        "peak_rss_mib": _peak_rss_mib(),
    }


# --------------------------------------------------------------------------- BID


def run_bid(
    bits: np.ndarray,
    alphamin: float = 0.0,
    alphamax: float = 0.2,
    seed: int = 1,
    delta: float = 5e-4,
    nsteps: int = 1_000_000,
) -> dict:
    from dadapy.hamming import BID, Hamming

    if bits.ndim != 2:
        raise ValueError(f"bits must be (N, L), got {bits.shape}")
    if not is_binary(bits):
        raise ValueError("bits must hold only 0/1 values")
    n, L = bits.shape
    spins = 2 * bits.astype(np.int32) - 1  # DADApy's Hamming wants +-1 spins

    rss_before = _rss_mib()
    t0 = time.perf_counter()
    H = Hamming(coordinates=spins, verbose=False)
    H.compute_distances()
    t1 = time.perf_counter()
    H.D_histogram(compute_flag=1)
    t2 = time.perf_counter()
    B = BID(
        H=H,
        alphamin=alphamin,
        alphamax=alphamax,
        seed=seed,
        delta=delta,
        Nsteps=int(nsteps),  # must be an int: the float default 1e6 breaks lax.fori_loop
        L=L,
        export_results=0,
    )
    B.computeBID()
    t3 = time.perf_counter()

    return {
        "mode": "bid",
        "n": n,
        "L": L,
        "alphamin": alphamin,
        "alphamax": alphamax,
        "seed": seed,
        "delta": delta,
        "nsteps": int(nsteps),
        "d0": float(B.d0),
        "d1": float(B.d1),
        "logKL": float(B.logKL),
        "KL": float(np.exp(B.logKL)),
        "rmin": int(B.rmin),
        "rmax": int(B.rmax),
        "d00": float(B.d00),
        "d10": float(B.d10),
        "acc_ratio": float(B.Op.acc_ratio),
        "remp": np.asarray(B.remp).tolist(),
        "Pemp": np.asarray(B.Pemp).tolist(),
        "Pmodel": np.asarray(B.Pmodel).tolist(),
        "hist_values": np.asarray(H.D_values).astype(int).tolist(),
        "hist_counts": np.asarray(H.D_counts).astype(int).tolist(),
        "hist_mean": float(np.dot(H.D_probs, H.D_values)),
        "dadapy_call": (
            "H = Hamming(coordinates=2*bits-1, verbose=False); H.compute_distances(); "
            "H.D_histogram(compute_flag=1); "
            f"B = BID(H=H, alphamin={alphamin}, alphamax={alphamax}, seed={seed}, "
            f"delta={delta}, Nsteps={int(nsteps)}, L={L}, export_results=0); B.computeBID()"
        ),
        "time_distances_s": t1 - t0,
        "time_histogram_s": t2 - t1,
        "time_fit_s": t3 - t2,
        "time_s": t3 - t0,
        "rss_before_mib": rss_before,
        "peak_rss_mib": _peak_rss_mib(),
    }


# --------------------------------------------------------------------------- DII


def run_dii(x: np.ndarray, y: np.ndarray, kwargs: dict, x64: bool = False) -> dict:
    import jax

    from dadapy import DiffImbalance

    jax.config.update("jax_enable_x64", bool(x64))  # this isolated process only

    rss_before = _rss_mib()
    t0, c0 = time.perf_counter(), time.process_time()
    dii = DiffImbalance(x, y, **kwargs)
    t1, c1 = time.perf_counter(), time.process_time()
    weights, imbs = dii.train()
    t2, c2 = time.perf_counter(), time.process_time()
    imb_final, _ = dii.return_final_dii(compute_error=False, ratio_rows_columns=None)
    t3 = time.perf_counter()
    return {
        "mode": "dii",
        "n": int(x.shape[0]),
        "x64": bool(x64),
        "dtype": str(np.asarray(dii.params_init).dtype),
        "kwargs": kwargs,
        "imbs": np.asarray(imbs, np.float64).tolist(),
        "weights": np.asarray(weights, np.float64).tolist(),
        "imb_final": float(imb_final),
        "dadapy_call": f"dii = DiffImbalance(x, y, **{kwargs}); dii.train(); "
                       "dii.return_final_dii(compute_error=False, ratio_rows_columns=None)",
        "time_setup_s": t1 - t0,
        "time_train_s": t2 - t1,
        "time_final_s": t3 - t2,
        "cpu_setup_s": c1 - c0,
        "cpu_train_s": c2 - c1,
        "time_s": t3 - t0,
        "rss_before_mib": rss_before,
        "peak_rss_mib": _peak_rss_mib(),
    }


# --------------------------------------------------------------------------- CLI


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["ii", "bid", "dii"])
    p.add_argument("inp", help="input .npz")
    p.add_argument("out", help="output .json")
    p.add_argument("--k", type=int, default=1, help="ii: neighbour order k")
    p.add_argument("--metric", default="auto", choices=["auto", "euclidean", "hamming"])
    p.add_argument("--alphamin", type=float, default=0.0)
    p.add_argument("--alphamax", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--delta", type=float, default=5e-4)
    p.add_argument("--nsteps", type=int, default=1_000_000)
    p.add_argument("--kwargs", default="{}", help="dii: DiffImbalance keyword arguments, a JSON object")
    p.add_argument("--x64", type=int, default=0, help="dii: 1 to run DADApy in float64")
    a = p.parse_args(argv)

    with np.load(a.inp) as npz:
        if a.mode in ("ii", "dii"):
            x, y = load_array(npz, "x"), load_array(npz, "y")
        else:
            bits = load_array(npz, "bits")

    if a.mode == "ii":
        res = run_ii(x, y, k=a.k, metric=a.metric)
    elif a.mode == "dii":
        res = run_dii(x, y, json.loads(a.kwargs), x64=bool(a.x64))
    else:
        res = run_bid(
            bits, alphamin=a.alphamin, alphamax=a.alphamax, seed=a.seed,
            delta=a.delta, nsteps=a.nsteps,
        )
    res["versions"] = _versions()
    res["input"] = os.path.basename(a.inp)

    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1)
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
