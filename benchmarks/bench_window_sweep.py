"""Window sweep against one layer profile on the same stores, in the same process.

    python benchmarks/bench_window_sweep.py           # N=1000, 19 layers, 38 tokens x 640 bits, two sides
    python benchmarks/bench_window_sweep.py --quick   # N=200, 5 layers, 12 tokens: a smoke run

Times ``window_sweep(a, b, windows=[1, 2, 5, 10, 20, 38])`` and one ``layer_profile(a, b, tokens=38,
jackknife=None, null=False)`` (both without the embedding layer, the default) and prints both times and the ratio
sweep / profile. A sweep that recomputed every window's distances costs about one profile per window; the fused
native route (one popcount pass over the largest window per layer) costs one profile plus, per further window, a
boundary in the micro-kernel, the window's [N, N] tiles stored and one pass of row statistics, which the script
times and prints. The stores are synthetic ``ArrayStore``s: sign bits of a
per-layer mix of a signal shared by both sides and fresh noise, so the layers differ in Δ.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from ii_jax.analyses import ArrayStore, layer_profile, window_sweep  # noqa: E402
from ii_jax.binary import pack_bits_np  # noqa: E402


def synthetic_pair(n: int, layers: int, tokens: int, bits: int, seed: int = 0):
    """Two paired ``ArrayStore``s (layer 0 the embedding layer) of packed bits ``uint32`` ``[n, tokens, bits/32]``."""
    rng = np.random.default_rng(seed)
    strength = np.concatenate([[0.0], np.sin(np.linspace(0.2, np.pi - 0.2, layers - 1)) * 2.0])
    sides = ([], [])
    for li in range(layers):
        shared = rng.standard_normal((n, tokens, bits), dtype=np.float32)
        for side in sides:
            noise = rng.standard_normal((n, tokens, bits), dtype=np.float32)
            side.append(pack_bits_np(strength[li] * shared + noise > 0))
    return (ArrayStore(sides[0], name="a", embedding_layer=0), ArrayStore(sides[1], name="b", embedding_layer=0))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small smoke size (N=200, 5 layers, 12 tokens)")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--tokens", type=int, default=None)
    ap.add_argument("--bits", type=int, default=640, help="bits per token (a multiple of 32)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5, help="sweep/profile pairs timed alternately (median ratio)")
    args = ap.parse_args(argv)
    n, layers, tokens = (200, 5, 12) if args.quick else (1000, 19, 38)
    n, layers, tokens = args.n or n, args.layers or layers, args.tokens or tokens
    windows = [w for w in (1, 2, 5, 10, 20, 38) if w < tokens] + [tokens]

    t0 = time.perf_counter()
    a, b = synthetic_pair(n, layers, tokens, args.bits, args.seed)
    print(f"stores: N={n}, {layers} layers, {tokens} tokens x {args.bits} bits, two sides "
          f"({time.perf_counter() - t0:.1f} s to build)", flush=True)

    # Warm-up on the first analysed layer at full size (the kernels compile per shape), so compilation is timed in
    # neither measurement.
    small = [ArrayStore([s.bits(la) for la in s.layers[:2]], embedding_layer=0) for s in (a, b)]
    window_sweep(*small, windows=windows, progress=False)
    layer_profile(*small, tokens=tokens, jackknife=None, null=False, progress=False)

    # The machine is shared and noisy: the two are timed alternately, `--repeats` times, and the median ratio of
    # the pairs is the result.
    pairs = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        sweep = window_sweep(a, b, windows=windows, progress=False)
        t_sweep = time.perf_counter() - t0
        t0 = time.perf_counter()
        prof = layer_profile(a, b, tokens=tokens, jackknife=None, null=False, progress=False)
        t_prof = time.perf_counter() - t0
        pairs.append((t_sweep, t_prof))
        print(f"window_sweep(windows={windows}): {t_sweep:.2f} s; layer_profile(tokens={tokens}, jackknife=None, "
              f"null=False): {t_prof:.2f} s; ratio {t_sweep / t_prof:.2f}", flush=True)
    ratios = sorted(ts / tp for ts, tp in pairs)
    t_sweep, t_prof = (float(np.median([p[i] for p in pairs])) for i in (0, 1))
    same = bool(np.array_equal(sweep.values[-1], prof.values))
    print(f"sweep's last window equals the profile: {same}")
    print(f"ratio sweep / profile: median {float(np.median(ratios)):.2f} over {len(ratios)} pairs "
          f"(min {ratios[0]:.2f}, max {ratios[-1]:.2f})")

    # Where the time goes. On the fused route (native kernels on CPU) one call per layer runs the popcount once
    # over the largest window; each further window adds its boundary in the micro-kernel, its [N, N] tiles stored
    # and mirrored for both spaces, and one pass of row statistics. Timed on one layer: the call with the largest
    # window alone, and with every window.
    from ii_jax.analyses import sweep as _sweep

    n_layers = len(prof.layers)
    if _sweep._fused("average"):
        xa, xb = a.bits(1), b.bits(1)

        def best(sizes, reps=7):
            _sweep._fused_layer(xa, xb, sizes, k=1, ties="average")
            out = []
            for _ in range(reps):
                t0 = time.perf_counter()
                _sweep._fused_layer(xa, xb, sizes, k=1, ties="average")
                out.append(time.perf_counter() - t0)
            return min(out)

        t_one, t_all = best([tokens]), best(windows)
        extra = (t_all - t_one) / max(1, len(windows) - 1)
        per_layer = t_prof / n_layers
        print(f"fused call, one layer: {1e3 * t_one:.1f} ms for the largest window alone, {1e3 * t_all:.1f} ms "
              f"for all {len(windows)} windows: {1e3 * extra:.1f} ms per further window, against "
              f"{1e3 * per_layer:.1f} ms per layer of the profile (two distance passes and one Δ)")
        print(f"so the sweep / profile ratio is about {t_one / per_layer:.2f} + {len(windows) - 1} x "
              f"{extra / per_layer:.2f} = {(t_one + (len(windows) - 1) * extra) / per_layer:.2f}")
    else:
        from ii_jax.analyses.cache import TokenDistances
        from ii_jax.analyses.resampling import _delta

        dx, dy = TokenDistances(a, 1).window(tokens), TokenDistances(b, 1).window(tokens)
        _delta(dx, dy, k=1, ties="average")
        t0 = time.perf_counter()
        for _ in range(5):
            _delta(dx, dy, k=1, ties="average")
        t_delta = (time.perf_counter() - t0) / 5
        floor = (t_prof + (len(windows) - 1) * n_layers * t_delta) / t_prof
        print(f"(running-sum route) one Δ evaluation from two cached [N, N] matrices: {1e3 * t_delta:.1f} ms; the "
              f"sweep's extra {len(windows) - 1} x {n_layers} evaluations alone put the ratio at >= {floor:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
