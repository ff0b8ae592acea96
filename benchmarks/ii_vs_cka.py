"""Paper Fig. 1 at full size: Information Imbalance vs CKA on synthetic Gaussian data.

    python benchmarks/ii_vs_cka.py                   # n=1000, 10 jackknife reps, p = 1e3 and 1e5
    python benchmarks/ii_vs_cka.py --quick           # small sizes, seconds
    python benchmarks/ii_vs_cka.py --out-dir results/fig1

Writes ``ii_vs_cka.png`` (both panels) and ``ii_vs_cka.json`` (every number) to --out-dir, and prints
the curves. Left: rank construction Y = B_r X + eps (D = 10). Right: a p-component Gaussian vector
against a fraction f of its components.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

from ii_jax import synthetic  # noqa: E402


def show(title, curves, label):
    print(title)
    print(f"  {label:>8} {'D(X->Y)':>14} {'D(Y->X)':>14} {'CKA':>14}")
    for row in zip(curves.x, curves.ii_xy, curves.ii_xy_std, curves.ii_yx, curves.ii_yx_std, curves.cka, curves.cka_std, strict=False):
        print("  {:8.4g} {:7.4f}±{:<6.4f} {:7.4f}±{:<6.4f} {:7.4f}±{:<6.4f}".format(*row))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="points (default 1000)")
    ap.add_argument("--reps", type=int, default=10, help="jackknife repetitions (default 10)")
    ap.add_argument("--sigma", type=float, default=1.0, help="noise of the rank construction (default 1)")
    ap.add_argument("--p", type=int, nargs="+", default=[1000, 100000], help="vector sizes of the power benchmark")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="n=200, 3 reps, p = 1e3 and 2e4")
    ap.add_argument("--out-dir", default="results", help="where the figure and the JSON go (default results/)")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.reps, args.p = 200, 3, [1000, 20000]
    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = jax.random.key(args.seed)

    t0 = time.perf_counter()
    rank = synthetic.rank_experiment(jax.random.fold_in(key, 0), n=args.n, sigma=args.sigma, repeats=args.reps)
    print(f"rank construction: {time.perf_counter() - t0:.1f} s")
    show(f"Fig. 1 left: rank construction (n={args.n}, D=10, sigma={args.sigma})", rank, "rank")
    power = {}
    for p in args.p:
        t0 = time.perf_counter()
        power[p] = synthetic.power_experiment(jax.random.fold_in(key, p), n=args.n, p=p, repeats=args.reps)
        print(f"power benchmark p={p}: {time.perf_counter() - t0:.1f} s")
        show(f"Fig. 1 right: p={p} (n={args.n})", power[p], "fraction")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    synthetic.plot_rank_experiment(rank, ax=left)
    synthetic.plot_power_experiment(power, ax=right)
    fig.tight_layout()
    fig.savefig(out / "ii_vs_cka.png", dpi=150)
    record = {
        "n": args.n, "reps": args.reps, "sigma": args.sigma,
        "rank": {k: np.asarray(v).tolist() for k, v in rank._asdict().items()},
        "power": {str(p): {k: np.asarray(v).tolist() for k, v in c._asdict().items()} for p, c in power.items()},
    }
    (out / "ii_vs_cka.json").write_text(json.dumps(record, indent=1))
    print(f"wrote {out / 'ii_vs_cka.png'} and {out / 'ii_vs_cka.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
