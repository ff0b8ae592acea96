"""Scale benchmark: Δ for N points x D bits read from memory-mapped, shard-store-like ``.npy`` files.

Writes two packed-bit layers (``uint32 [N, ceil(D/32)]``, as a shard store holds them: y shares the first half of
x's bits, so Δ is informative), in row blocks, never holding a whole layer in memory while writing; opens them
with ``mmap_mode="r"``; runs :func:`ii_jax.information_imbalance` (both directions, the streaming pass: the two
N x N distance matrices, 80 GB at N = 100,000, are never formed), and prints the wall time, the peak RSS and Δ.
On several devices (or hosts, after :func:`ii_jax.parallel.initialize`) the same call shards the rows.

    python benchmarks/bench_scale.py                       # N = 100,000 x 20,000 bits (long on a laptop CPU)
    python benchmarks/bench_scale.py --n 10000             # a quicker check
    python benchmarks/bench_scale.py --n 20000 --checkpoint /tmp/ck   # resumable
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def write_layers(folder: str, n: int, d: int, seed: int = 0, rows: int = 8192) -> tuple[str, str]:
    """Two ``.npy`` layers in ``folder`` (reused when already there with the right shape)."""
    w = -(-d // 32)
    paths = [os.path.join(folder, f"layer_{s}_{n}x{d}.npy") for s in ("x", "y")]
    if all(os.path.exists(p) and np.load(p, mmap_mode="r").shape == (n, w) for p in paths):
        return paths[0], paths[1]
    mx = np.lib.format.open_memmap(paths[0] + ".tmp", mode="w+", dtype=np.uint32, shape=(n, w))
    my = np.lib.format.open_memmap(paths[1] + ".tmp", mode="w+", dtype=np.uint32, shape=(n, w))
    rng = np.random.default_rng(seed)
    mask = np.uint32((1 << (d % 32)) - 1) if d % 32 else None
    for i0 in range(0, n, rows):
        i1 = min(i0 + rows, n)
        x = rng.integers(0, 2**32, size=(i1 - i0, w), dtype=np.uint32)
        y = np.concatenate([x[:, : w // 2], rng.integers(0, 2**32, size=(i1 - i0, w - w // 2), dtype=np.uint32)],
                           axis=1)
        if mask is not None:  # padding bits zero, as pack_bits writes them
            x[:, -1] &= mask
            y[:, -1] &= mask
        mx[i0:i1], my[i0:i1] = x, y
    for m, p in zip((mx, my), paths, strict=False):
        m.flush()
        del m
        os.replace(p + ".tmp", p)
    return paths[0], paths[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="points (default 100,000)")
    ap.add_argument("--bits", type=int, default=20_000, help="bits per point (default 20,000)")
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--block", type=int, default=None, help="query rows per block (per device)")
    ap.add_argument("--dir", default=None, help="folder for the .npy layers (default: a temporary folder)")
    ap.add_argument("--checkpoint", default=None, help="folder for finished row blocks (a rerun resumes)")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()

    tmp = None
    folder = args.dir
    if folder is None:
        tmp = tempfile.TemporaryDirectory(prefix="ii-jax-scale-")
        folder = tmp.name
    os.makedirs(folder, exist_ok=True)
    t0 = time.perf_counter()
    px, py = write_layers(folder, args.n, args.bits)
    t_write = time.perf_counter() - t0

    import jax

    from ii_jax import information_imbalance

    x, y = np.load(px, mmap_mode="r"), np.load(py, mmap_mode="r")
    t0 = time.perf_counter()
    r = information_imbalance(x, y, k=args.k, block_size=args.block, progress=args.progress or None,
                              checkpoint=args.checkpoint)
    t_run = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    layer_mb = x.nbytes / 2**20
    if jax.process_index() == 0:
        print(f"N={args.n} D={args.bits} bits k={args.k}  devices={jax.device_count()} ({jax.default_backend()}, "
              f"{jax.process_count()} process(es))  layers {2 * layer_mb:.0f} MB on disk (written in {t_write:.1f} s)")
        print(f"time {t_run:.1f} s   peak RSS {rss:.0f} MB   "
              f"Δ(X→Y) = {r.x_to_y:.6f}   Δ(Y→X) = {r.y_to_x:.6f}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
