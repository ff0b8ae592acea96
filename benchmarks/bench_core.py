"""Core-engine benchmark: ii-jax against a tuned C kernel, a plain NumPy baseline and DADApy, in one run, on the same data.

Prints one table row per case: wall time (ii-jax: a warm second call, the first, with compilation, in
brackets; runs over two minutes are timed once, compilation included), peak RSS of a fresh subprocess per
measurement, Δ in both directions, and the ratios. DADApy 0.3.4 runs from its own venv (`make dadapy-venv`) when
present; otherwise its column says so.

The "C ref" column is `hamming_ref.c` (this folder), built here with the system compiler (``$CC``, default
``cc``) and run on the same data: AVX2 nibble-lookup popcount, 64×64 tiles, 4096-bit k-chunks, a 2×2 micro-kernel,
OpenMP, computing *only* the two half Hamming matrices (best of two runs). ``ii/C`` is ii-jax's full II (both
directions, ranks included) over that distance-only time; the targets are ≤ 1.0 at 5000 × 150,000 and ≤ 1.3 at
5000 × 20,000 and 2000 × 20,000.

    python benchmarks/bench_core.py                 # the target sizes, and 50,000 x 20,000
    python benchmarks/bench_core.py --quick         # small sizes, a minute or two
    python benchmarks/bench_core.py --case 5000x150000 --case 5000x20000
    python benchmarks/bench_core.py --kernel popcount  # the pure-JAX kernel instead of the CPU default
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CASES = {  # N points x D bits per space, and which baselines run beside ii-jax
    "5000x150000": dict(n=5000, d=150_000, baselines=("c",)),
    "5000x20000": dict(n=5000, d=20_000, baselines=("c", "numpy", "dadapy")),
    "2000x20000": dict(n=2000, d=20_000, baselines=("c",)),
    "50000x20000": dict(n=50_000, d=20_000, baselines=()),
}
QUICK = {
    "1000x20000": dict(n=1000, d=20_000, baselines=("c", "numpy", "dadapy")),
    "2000x150000": dict(n=2000, d=150_000, baselines=("c",)),
}


def make_data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fair random bits drawn packed (``uint32`` ``[n, ceil(d/32)]``); y shares x's first half of words, so Δ
    is informative rather than ~1. Padding bits are zero, as ``pack_bits`` makes them."""
    rng = np.random.default_rng(seed)
    w = -(-d // 32)
    x = rng.integers(0, 2**32, size=(n, w), dtype=np.uint32)
    y = np.concatenate([x[:, : w // 2], rng.integers(0, 2**32, size=(n, w - w // 2), dtype=np.uint32)], axis=1)
    if d % 32:
        mask = np.uint32((1 << (d % 32)) - 1)
        x[:, -1] &= mask
        y[:, -1] &= mask
    return x, y


def unpack(words: np.ndarray, d: int) -> np.ndarray:
    return np.unpackbits(words.view(np.uint8), axis=1, bitorder="little")[:, :d]


def build_c_reference(workdir: str) -> str | None:
    """Compile ``hamming_ref.c`` with the system compiler; the binary's path, or None (with a note) if it fails."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    exe = os.path.join(workdir, "hamming_ref")
    if cc:
        p = subprocess.run([cc, "-O3", "-mavx2", "-mpopcnt", "-fopenmp", os.path.join(HERE, "hamming_ref.c"),
                            "-o", exe], capture_output=True, text=True)
        if p.returncode == 0:
            return exe
        print(f"note: the C reference did not build: {p.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    return None


def run_c_reference(exe: str | None, n: int, d: int, seed: int = 0) -> dict:
    """The reference C kernel's distance-only time on the same data (both half matrices)."""
    if exe is None:
        return {"error": "no C compiler"}
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, f"{s}.bin") for s in "xy"]
        x, y = make_data(n, d, seed)
        for a, path in zip((x, y), paths, strict=False):
            a.tofile(path)
        del x, y
        p = subprocess.run([exe, *paths, str(n), str(-(-d // 32))], capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:120]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def worker(mode: str, n: int, d: int, seed: int, kernel: str | None = None) -> dict:
    """One measurement, run in a fresh subprocess so its peak RSS is its own."""
    x, y = make_data(n, d, seed)
    out = {}
    if mode == "ii_jax":
        from ii_jax import distances, information_imbalance

        out["kernel"] = distances.check_kernel(kernel)
        t = time.perf_counter()
        r = information_imbalance(x, y, progress=False, kernel=kernel)
        out["time"] = time.perf_counter() - t  # includes compilation (seconds): kept for long runs
        if out["time"] < 120:
            out["first_time"] = out["time"]
            t = time.perf_counter()
            r = information_imbalance(x, y, progress=False, kernel=kernel)
            out["time"] = time.perf_counter() - t
        out["value"] = [r.x_to_y, r.y_to_x]
    elif mode == "numpy":
        # Plain baseline: Hamming by a ±1 float32 matmul, ranks by double argsort, first-index nearest neighbour.
        bx, by = unpack(x, d), unpack(y, d)
        del x, y
        t = time.perf_counter()

        def dist(b):
            s = b.astype(np.float32) * 2 - 1
            dd = (d - s @ s.T) / 2
            np.fill_diagonal(dd, np.inf)
            return dd

        def imb(da, db):
            nn = np.argmin(da, axis=1)
            ranks = np.argsort(np.argsort(db, axis=1), axis=1) + 1
            return 2.0 / (n - 1) * ranks[np.arange(n), nn].mean()

        dx, dy = dist(bx), dist(by)
        out["value"] = [imb(dx, dy), imb(dy, dx)]
        out["time"] = time.perf_counter() - t
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_worker(mode: str, n: int, d: int, seed: int = 0, kernel: str | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + HERE)
    code = (f"import json, bench_core; "
            f"print(json.dumps(bench_core.worker({mode!r}, {n}, {d}, {seed}, {kernel!r})))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:120]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_dadapy(n: int, d: int, seed: int = 0) -> dict:
    """DADApy 0.3.4 (`MetricComparisons`, Hamming, maxk = N-1) on the same data, in its own venv."""
    sys.path.insert(0, HERE)
    import dadapy_bridge  # stdlib + numpy only

    if not dadapy_bridge.dadapy_available():
        return {"error": "no .venv-dadapy: run `make dadapy-venv`"}
    arrays = {}
    for side, words in zip("xy", make_data(n, d, seed), strict=False):
        arrays[f"{side}_packbits"], arrays[f"{side}_nbits"] = np.packbits(unpack(words, d), axis=1), np.int64(d)
    try:
        res = dadapy_bridge.run_dadapy("ii", arrays, metric="hamming")
    except dadapy_bridge.DadapyError as e:  # report it in the table
        return {"error": str(e).splitlines()[0][:120]}
    # DADApy normalises by 2/N, ii-jax by 2/(N-1): the runner reports both.
    return {"time": res["time_s"], "peak_rss_mb": res["peak_rss_mib"],
            "value": [res["ii_xy_iijax_norm"], res["ii_yx_iijax_norm"]]}


def fmt(r: dict) -> str:
    if "error" in r:
        return f"({r['error']})"
    s = f"{r['time']:.2f} s, {r['peak_rss_mb']:.0f} MB"
    if "kernel" in r:
        s = f"[{r['kernel']}] " + s
    if "first_time" in r:
        s += f" (1st {r['first_time']:.1f} s)"
    return s + f", Δ=({r['value'][0]:.4f}, {r['value'][1]:.4f})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    ap.add_argument("--case", action="append", help="run only these cases (e.g. 5000x150000)")
    ap.add_argument("--no-baselines", action="store_true", help="ii-jax only")
    ap.add_argument("--kernel", help="ii-jax Hamming kernel (default: the CPU default)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    known = {**CASES, **QUICK}
    if args.case:
        unknown = [c for c in args.case if c not in known]
        if unknown:
            ap.error(f"unknown case(s) {unknown}; known: {sorted(known)}")
    cases = {c: known[c] for c in args.case} if args.case else (QUICK if args.quick else CASES)
    print(f"ii-jax core benchmark, {os.cpu_count()} CPU cores. Random fair bits; y shares half of x's bits.")
    print(f"{'N x bits':<12} {'ii-jax (warm; 1st call)':<50} {'C ref (distances)':<18} {'ii/C':<6} "
          f"{'numpy baseline':<40} {'DADApy 0.3.4':<40} ratios")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_c_reference(tmp) if not args.no_baselines else None
        for name, c in cases.items():
            r = {"ii_jax": run_worker("ii_jax", c["n"], c["d"], kernel=args.kernel)}
            for b in () if args.no_baselines else c["baselines"]:
                if b == "c":
                    r[b] = run_c_reference(exe, c["n"], c["d"])
                else:
                    r[b] = run_worker("numpy", c["n"], c["d"]) if b == "numpy" else run_dadapy(c["n"], c["d"])
            ok = "time" in r["ii_jax"]
            ratios = [f"{b} {r[b]['time'] / r['ii_jax']['time']:.1f}x slower" for b in ("numpy", "dadapy")
                      if "time" in r.get(b, {}) and ok]
            c_ref = r.get("c", {"error": "-"})
            ratio = f"{r['ii_jax']['time'] / c_ref['time']:.2f}" if ok and "time" in c_ref else "-"
            c_col = f"{c_ref['time']:.2f} s" if "time" in c_ref else f"({c_ref['error']})"
            print(f"{name:<12} {fmt(r['ii_jax']):<50} {c_col:<18} {ratio:<6} "
                  f"{fmt(r.get('numpy', {'error': '-'})):<40} {fmt(r.get('dadapy', {'error': '-'})):<40} "
                  f"{'; '.join(ratios)}", flush=True)
            results[name] = r
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
