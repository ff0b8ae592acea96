"""Core-engine benchmark: ii-jax against a plain NumPy baseline and DADApy, in the same run.

Prints one table row per case: wall time (after compilation), peak RSS of a fresh subprocess per measurement,
and the ratios. DADApy runs from its own venv (`make dadapy-venv`) when present; otherwise its column says so.

    python benchmarks/bench_core.py                 # the issue's targets
    python benchmarks/bench_core.py --quick         # small sizes, a minute
    python benchmarks/bench_core.py --case 5000x150000
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Each case: N points, D bits per space; which baselines to run.
CASES = {
    "5000x150000": dict(n=5000, d=150_000, numpy=False, dadapy=False),
    "5000x20000": dict(n=5000, d=20_000, numpy=True, dadapy=True),
    "50000x20000": dict(n=50_000, d=20_000, numpy=False, dadapy=False),
}
QUICK = {
    "1000x20000": dict(n=1000, d=20_000, numpy=True, dadapy=True),
    "2000x150000": dict(n=2000, d=150_000, numpy=False, dadapy=False),
}

WORKER = r"""
import json, resource, sys, time
import numpy as np
mode, n, d, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(seed)
# Random fair bits, drawn packed (32 to a word); y shares x's first half of words, so Δ is informative, not ~1.
w = -(-d // 32)
x = rng.integers(0, 2**32, size=(n, w), dtype=np.uint32)
y = np.concatenate([x[:, : w // 2], rng.integers(0, 2**32, size=(n, w - w // 2), dtype=np.uint32)], axis=1)
if d % 32:  # padding bits stay zero, as pack_bits makes them
    x[:, -1] &= np.uint32((1 << (d % 32)) - 1)
    y[:, -1] &= np.uint32((1 << (d % 32)) - 1)
def unpacked(words):
    return np.unpackbits(words.view(np.uint8), axis=1, bitorder="little")[:, :d].astype(bool)
out = {}
if mode == "ii_jax":
    import jax
    from ii_jax import information_imbalance
    t = time.perf_counter()
    r = information_imbalance(x, y, progress=False)
    out["first_time"] = time.perf_counter() - t  # includes compilation
    t = time.perf_counter()
    r = information_imbalance(x, y, progress=False)
    out["time"] = time.perf_counter() - t
    out["value"] = [r.x_to_y, r.y_to_x]
    out["device"] = str(jax.devices()[0])
elif mode == "numpy":
    # Plain baseline: ±1 float32 matmul for Hamming, argsort ranks, first-index neighbour.
    bx, by = unpacked(x), unpacked(y)
    t = time.perf_counter()
    def dist(b):
        s = b.astype(np.float32) * 2 - 1
        dd = (d - s @ s.T) / 2
        np.fill_diagonal(dd, np.inf)
        return dd
    dx, dy = dist(bx), dist(by)
    def imb(da, db):
        nn = np.argmin(da, axis=1)
        ranks = np.argsort(np.argsort(db, axis=1), axis=1) + 1
        return 2.0 / (n - 1) * ranks[np.arange(n), nn].mean()
    out["value"] = [imb(dx, dy), imb(dy, dx)]
    out["time"] = time.perf_counter() - t
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run_worker(mode: str, n: int, d: int, seed: int = 0) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-c", WORKER, mode, str(n), str(d), str(seed)], capture_output=True,
                       text=True, env=env, cwd=ROOT)
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_dadapy(n: int, d: int, seed: int = 0) -> dict:
    sys.path.insert(0, HERE)
    try:
        import dadapy_bridge  # noqa: PLC0415 (optional, lands with the DADApy oracle)
    except ImportError:
        return {"error": "no benchmarks/dadapy_bridge.py"}
    if not dadapy_bridge.dadapy_available():
        return {"error": "no .venv-dadapy (run `make dadapy-venv`)"}
    import numpy as np

    rng = np.random.default_rng(seed)
    bx = rng.random((n, d), dtype=np.float32) < 0.5
    by = np.concatenate([bx[:, : d // 2], rng.random((n, d - d // 2), dtype=np.float32) < 0.5], axis=1)
    try:
        res = dadapy_bridge.run_dadapy("ii", {"x": bx.astype(np.uint8), "y": by.astype(np.uint8)})
    except Exception as e:  # report, don't crash the table
        return {"error": str(e).splitlines()[0][:120]}
    out = {"time": res.get("time") or res.get("wall_time"), "peak_rss_mb": res.get("peak_rss_mb")}
    if "x_to_y" in res:  # DADApy normalises by 2/N; ii-jax by 2/(N-1)
        out["value"] = [res["x_to_y"] * n / (n - 1), res["y_to_x"] * n / (n - 1)]
    return out


def fmt(r: dict) -> str:
    if "error" in r:
        return f"({r['error']})"
    s = f"{r['time']:.2f} s, {r['peak_rss_mb']:.0f} MB"
    if "first_time" in r:
        s += f" (1st {r['first_time']:.1f} s)"
    if "value" in r:
        s += f", Δ=({r['value'][0]:.4f}, {r['value'][1]:.4f})"
    return s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    ap.add_argument("--case", action="append", help="run only these cases (e.g. 5000x150000)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    cases = QUICK if args.quick else CASES
    if args.case:
        allc = {**CASES, **QUICK}
        unknown = [c for c in args.case if c not in allc]
        if unknown:
            ap.error(f"unknown case(s) {unknown}; known: {sorted(allc)}")
        cases = {c: allc[c] for c in args.case}
    print(f"ii-jax core benchmark on {os.cpu_count()} CPU cores; times exclude compilation; RSS per subprocess")
    print(f"{'case (N x bits)':<16} {'ii-jax':<44} {'numpy baseline':<44} {'DADApy':<40} ratios")
    results = {}
    for name, c in cases.items():
        r = {"ii_jax": run_worker("ii_jax", c["n"], c["d"])}
        if c["numpy"]:
            r["numpy"] = run_worker("numpy", c["n"], c["d"])
        if c["dadapy"]:
            r["dadapy"] = run_dadapy(c["n"], c["d"])
        ratios = []
        for other in ("numpy", "dadapy"):
            if other in r and "time" in r[other] and r[other].get("time") and "time" in r["ii_jax"]:
                ratios.append(f"{other} {r[other]['time'] / r['ii_jax']['time']:.1f}x slower")
        print(f"{name:<16} {fmt(r['ii_jax']):<44} {fmt(r.get('numpy', {'error': 'skipped'})):<44} "
              f"{fmt(r.get('dadapy', {'error': 'skipped'})):<40} {'; '.join(ratios)}", flush=True)
        results[name] = r
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
