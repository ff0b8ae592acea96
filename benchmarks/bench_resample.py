"""Resampling from distance matrices: each jackknife subset d[s][:, s] read in place, or gathered on the host or device.

    python benchmarks/bench_resample.py                       # N=1000, repeats=5, n_sub=400, int32 Hamming matrices
    python benchmarks/bench_resample.py --n 2000 --n-sub 800

In-place route (the CPU's default where the native library is built): the native kernel reads each subset's rows
and columns from the whole matrices (ii_jax._native.subset_stats). Host route: NumPy fancy indexing per subset, each
sub-matrix then sent to the kernels. Device route: the two [N, N] matrices uploaded once, a jitted gather per subset
(ii_jax.resample._gatherer). The routes are timed in this one process, interleaved, on the same matrices, and give
the same values (checked here). Prints the times and each route's median over the in-place one's (best and median
of --trials); no thresholds. Without the native subset kernel, ii_jax.resample._HOST_GATHER names, per use
("subsets": jackknife and paired statistics), the backends on which the host route is the default. The shuffled null no longer gathers
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


ROUTES = ("in place", "host gather", "device gather")


def with_route(route: str, fn):
    """``fn()`` on one route: ``"in place"`` (the native kernel reads each subset from the whole matrices, the
    CPU's default where the library is built), or the sub-matrices gathered on the host or on the device."""
    from ii_jax import _native

    saved, saved_subset = dict(rs._HOST_GATHER), _native.subset_available
    if route != "in place":
        _native.subset_available = lambda: False
        for use in rs._HOST_GATHER:
            rs._HOST_GATHER[use] = () if route == "device gather" else (jax.default_backend(),)
    try:
        return fn()
    finally:
        rs._HOST_GATHER.update(saved)
        _native.subset_available = saved_subset


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
    if not dx.dtype == dy.dtype == np.int32:
        raise SystemExit("the Hamming matrices should be int32")
    key = jax.random.key(1)
    from ii_jax import _native

    print(f"N={args.n} repeats={args.repeats} n_sub={args.n_sub} int32, backend={jax.default_backend()}, "
          f"native row statistics={native_available()}, native subsets={_native.subset_available()}")
    cases = {
        "jackknife (resample_from_distances)": lambda: rs.resample_from_distances(
            dx, dy, n_sub=args.n_sub, repeats=args.repeats, key=key).values,
        "paired_difference (2 pairs)": lambda: np.asarray(rs.paired_difference(
            dx, dy, dy, dx, jackknife=(args.repeats, args.n_sub), key=key).part_replicas),
    }
    routes = ROUTES if _native.subset_available() else ROUTES[1:]
    for name, fn in cases.items():
        first = [with_route(r, fn) for r in routes]  # warm-up (compilation) and the values of every route
        for v in first[1:]:
            np.testing.assert_array_equal(first[0], v)
        times = {r: [] for r in routes}
        for _ in range(args.trials):
            for r in routes:
                t0 = time.perf_counter()
                with_route(r, fn)
                times[r].append(time.perf_counter() - t0)
        base = np.array(times[routes[0]])
        cells = []
        for r in routes:
            t = np.array(times[r])
            cells.append(f"{r} best {t.min() * 1e3:8.1f} ms (median {np.median(t) * 1e3:8.1f}, "
                         f"x{np.median(t) / np.median(base):.2f})")
        print(f"{name}: " + ";  ".join(cells) + ";  same values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
