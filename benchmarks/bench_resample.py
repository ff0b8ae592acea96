"""Resampling from distance matrices: the jackknife sub-matrices d[s][:, s] gathered on the host or on the device.

    python benchmarks/bench_resample.py                       # N=1000, repeats=5, n_sub=400, int32 Hamming matrices
    python benchmarks/bench_resample.py --n 2000 --n-sub 800

Host route: NumPy fancy indexing per subset, each sub-matrix then sent to the kernels. Device route: the two [N, N]
matrices uploaded once, a jitted gather per subset (ii_jax.resample._gatherer). Both routes are timed in this one
process, interleaved, on the same matrices, and give the same values (checked here). Prints the times and ratios
(best and median of --trials); no thresholds. ii_jax.resample._HOST_GATHER names, per use ("subsets": jackknife and
paired statistics), the backends on which the host route is the default. The shuffled null no longer gathers
sub-matrices (ii_jax.null; benchmarks/bench_null.py times it).
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

from ii_jax import resample as rs  # noqa: E402
from ii_jax.binary import pack_bits_np  # noqa: E402
from ii_jax.distances import native_available  # noqa: E402
from ii_jax.imbalance import distance_matrix  # noqa: E402


def matrices(n: int, bits: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two int32 Hamming matrices; Y shares half of X's bits, so Δ is informative."""
    rng = np.random.default_rng(seed)
    bx = rng.random((n, bits)) < 0.5
    by = np.concatenate([bx[:, : bits // 2], rng.random((n, bits - bits // 2)) < 0.5], axis=1)
    return distance_matrix(pack_bits_np(bx)), distance_matrix(pack_bits_np(by))


def with_route(device: bool, fn):
    """``fn()`` with every gather forced to the device (True) or the host (False)."""
    saved = dict(rs._HOST_GATHER)
    for use in rs._HOST_GATHER:
        rs._HOST_GATHER[use] = () if device else (jax.default_backend(),)
    try:
        return fn()
    finally:
        rs._HOST_GATHER.update(saved)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n-sub", type=int, default=400)
    ap.add_argument("--bits", type=int, default=2048)
    ap.add_argument("--trials", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    dx, dy = matrices(args.n, args.bits, args.seed)
    assert dx.dtype == dy.dtype == np.int32
    key = jax.random.key(1)
    print(f"N={args.n} repeats={args.repeats} n_sub={args.n_sub} int32, backend={jax.default_backend()}, "
          f"native row statistics={native_available()}")
    print("default routes here: " + ", ".join(
        f"{use} on the {'host' if jax.default_backend() in backends else 'device'}"
        for use, backends in rs._HOST_GATHER.items()))
    subsets = rs.draw_subsets(key, args.n, args.n_sub, args.repeats)

    def gather_only(device: bool):
        def run():
            _, sub = rs._gatherer([dx, dy], on_device=device)
            out = []
            for s in subsets:  # what the kernels receive: device arrays (the host route's upload included)
                out.append([jax.numpy.asarray(m) for m in sub(s)])
            return jax.block_until_ready(out)
        return run

    cases = {
        "gather only": lambda device: gather_only(device),
        "jackknife (resample_from_distances)": lambda device: lambda: with_route(device, lambda: rs.resample_from_distances(
            dx, dy, n_sub=args.n_sub, repeats=args.repeats, key=key).values),
        "paired_difference (2 pairs)": lambda device: lambda: with_route(device, lambda: np.asarray(rs.paired_difference(
            dx, dy, dy, dx, jackknife=(args.repeats, args.n_sub), key=key).part_replicas)),
    }
    for name, make in cases.items():
        host, dev = make(False), make(True)
        a, b = host(), dev()  # warm-up (compilation) and the values of both routes
        if name != "gather only":
            np.testing.assert_array_equal(a, b)
        else:
            for x, y in zip(a, b, strict=True):
                for u, v in zip(x, y, strict=True):
                    np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
        times = {"host": [], "device": []}
        for _ in range(args.trials):
            for route, fn in (("host", host), ("device", dev)):
                t0 = time.perf_counter()
                fn()
                times[route].append(time.perf_counter() - t0)
        h, d = (np.array(times[r]) for r in ("host", "device"))
        print(f"{name:38s} host best {h.min() * 1e3:8.2f} ms (median {np.median(h) * 1e3:8.2f})   device best "
              f"{d.min() * 1e3:8.2f} ms (median {np.median(d) * 1e3:8.2f})   device/host {d.min() / h.min():.2f} "
              f"(median {np.median(d) / np.median(h):.2f})   same values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
