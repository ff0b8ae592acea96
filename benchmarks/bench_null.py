"""The permutation null: 200 permutations by ii_jax.null against one repeat of the shuffled null as it was before.

    python benchmarks/bench_null.py                        # N = 1000 and 4000, 200 permutations, 3 trials
    python benchmarks/bench_null.py --n 2000 --permutations 1000

The spaces are sign bits of 640 hidden units x 20 tokens (12,800 bits) per item, random, Y sharing half of X's
bits; their int32 Hamming matrices are built once (not timed). Two routes, timed in this one process, interleaved,
on the same matrices:

* **new**: ``ii_jax.null.permutation_null_from_distances(dx, dy, permutations=P)``: one sort of each matrix, then
  one gather per permutation (what every analysis with ``null=True`` now runs per layer);
* **old, one repeat**: what ``resample.shuffled_null_from_distances(dx, dy, repeats=1)`` did before (commit
  982fe25): the matrices uploaded, Y's matrix permuted by a jitted gather, the whole engine
  (``imbalance_from_distances``) run once on the permuted pair (what every analysis ran per layer, for 1 draw).

Prints the best and median time of each and the ratio new / old; no thresholds. Also checks that the first
permutation of the new route equals the engine on the same permuted pairing.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from bench_resample import matrices  # noqa: E402  (the same two Hamming matrices as the resampling bench)
from ii_jax import null as nl  # noqa: E402
from ii_jax.distances import native_available  # noqa: E402
from ii_jax.imbalance import imbalance_from_distances  # noqa: E402




@jax.jit
def _take_square(d, idx):
    return jnp.take(jnp.take(d, idx, axis=0), idx, axis=1)


def old_repeat(dx, dy, key) -> np.ndarray:
    """One repeat of the shuffled null as ``resample.shuffled_null_from_distances(repeats=1)`` computed it."""
    p = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().astype(np.uint64)).permutation(len(dx))
    dxd, dyd = jnp.asarray(dx), jnp.asarray(dy)
    return np.array(imbalance_from_distances(dxd, _take_square(dyd, jnp.asarray(p, jnp.int32))))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 4000])
    ap.add_argument("--permutations", type=int, default=200)
    ap.add_argument("--bits", type=int, default=640 * 20)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    key = jax.random.key(1)
    print(f"backend={jax.default_backend()}, native row statistics={native_available()}, {args.bits} bits per item, "
          f"P={args.permutations}, best (median) of {args.trials} trials")
    for n in args.n:
        dx, dy = matrices(n, args.bits, args.seed)
        new = nl.permutation_null_from_distances(dx, dy, permutations=args.permutations, key=key)  # warm-up
        p0 = nl.draw_permutations(key, n, 1)[0]
        np.testing.assert_allclose(new.values[0], imbalance_from_distances(dx, dy[p0][:, p0]), rtol=0, atol=1e-12)
        old_repeat(dx, dy, key)  # warm-up (compilation)
        routes = {"new": lambda dx=dx, dy=dy: nl.permutation_null_from_distances(dx, dy, permutations=args.permutations,
                                                                                  key=key),
                  "old": lambda dx=dx, dy=dy: old_repeat(dx, dy, key)}
        times = {r: [] for r in routes}
        for _ in range(args.trials):
            for r, fn in routes.items():
                t0 = time.perf_counter()
                fn()
                times[r].append(time.perf_counter() - t0)
        t_new, t_old = (np.array(times[r]) for r in ("new", "old"))
        print(f"N={n:5d}: new, {args.permutations} permutations: {t_new.min():7.3f} s ({np.median(t_new):.3f})   "
              f"old, 1 repeat: {t_old.min():7.3f} s ({np.median(t_old):.3f})   new/old {t_new.min() / t_old.min():.2f} "
              f"(median {np.median(t_new) / np.median(t_old):.2f}); per permutation old/new "
              f"{t_old.min() * args.permutations / t_new.min():.0f}x   null mean {np.round(new.mean, 4).tolist()}, "
              f"observed {np.round(new.observed, 4).tolist()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
