"""Time DADApy 0.3.4 (the reference) on the benchmark sizes, through the bridge.

Runs from any environment with numpy (the project's .venv included); DADApy itself runs in
.venv-dadapy (`make dadapy-venv`). Prints one JSON line per case: wall time of the DADApy work
(input loading and interpreter start excluded), the distance part, and the process's peak RSS.

    python benchmarks/dadapy_bench.py            # both cases (~8 min on 2 cores)
    python benchmarks/dadapy_bench.py ii|bid     # one of them
    python benchmarks/dadapy_bench.py ii --n 1000 --bits 20000   # other sizes

Cases (fixed seed 2026, as measured in benchmarks/DADAPY.md):
  ii : N=5000 points, x = 20,000 fair random bits, y = x with each bit redrawn w.p. 0.25;
       Hamming; MetricComparisons.return_information_imbalace(k=1, subset_size=N) (maxk = N-1).
  bid: N=2000 points, 20,000 fair random bits; Hamming.compute_distances + BID(alphamax=0.2,
       seed=1, Nsteps=1e6).computeBID().
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dadapy_bridge import dadapy_available, run_dadapy  # noqa: E402


def _ii_draw(rng, n: int, nbits: int):
    x = rng.integers(0, 2, (n, nbits), dtype=np.uint8)
    y = x.copy()
    m = rng.random((n, nbits)) < 0.25
    y[m] = rng.integers(0, 2, int(m.sum()), dtype=np.uint8)
    return x, y


def ii_inputs(n: int, nbits: int, seed: int = 2026) -> dict:
    x, y = _ii_draw(np.random.default_rng(seed), n, nbits)
    return {
        "x_packbits": np.packbits(x, axis=1), "x_nbits": nbits,
        "y_packbits": np.packbits(y, axis=1), "y_nbits": nbits,
    }


def bid_inputs(n: int, nbits: int, seed: int = 2026) -> dict:
    rng = np.random.default_rng(seed)
    _ii_draw(rng, 5000, 20000)  # the measured run drew the ii case first from the same stream
    b = rng.integers(0, 2, (n, nbits), dtype=np.uint8)
    return {"bits_packbits": np.packbits(b, axis=1), "bits_nbits": nbits}


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("cases", nargs="*", help="ii and/or bid (default: both)")
    p.add_argument("--n", type=int, default=None, help="points (default 5000 ii, 2000 bid)")
    p.add_argument("--bits", type=int, default=20000)
    p.add_argument("--timeout", type=float, default=None)
    a = p.parse_args(argv)
    if not dadapy_available():
        print("DADApy environment missing: run `make dadapy-venv`", file=sys.stderr)
        return 1
    cases = a.cases or ["ii", "bid"]
    if set(cases) - {"ii", "bid"}:
        p.error(f"cases must be ii or bid, got {cases}")
    for case in cases:
        n = a.n or (5000 if case == "ii" else 2000)
        arrays = (ii_inputs if case == "ii" else bid_inputs)(n, a.bits)
        res = run_dadapy(case, arrays, timeout=a.timeout)
        keep = ("mode", "n", "dim_x", "L", "ii_xy", "ii_yx", "d0", "d1", "logKL",
                "time_distances_s", "time_fit_s", "time_s", "rss_before_mib", "peak_rss_mib")
        out = {k: res[k] for k in keep if k in res}
        out["versions"] = {k: res["versions"][k] for k in ("dadapy", "numpy", "jax", "python")}
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
