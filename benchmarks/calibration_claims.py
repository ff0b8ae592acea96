"""Claim rules of :mod:`ii_jax.analyses.claims` on synthetic layer profiles whose truth is known by construction.

Each data set is a pair of sources (two "languages") of ``N`` items: per layer, the items' shared signal plus
independent noise of a stated scale on each side, turned into sign bits. Layers with the same noise scale are
exchangeable, so their true Δ is exactly equal: a flat profile has no inner minimum by symmetry, and a profile whose
noise falls towards the last layer has its minimum there. Imported by ``bench_calibration.py`` (``--claims``) and by
the tests.
"""
from __future__ import annotations

import time

import jax
import numpy as np

from ii_jax import binarize, pack_bits
from ii_jax import resample as rs
from ii_jax.analyses import ArrayStore, layer_profile
from ii_jax.analyses import claims as C

TOKENS, BITS = 4, 64

#: name -> (noise scale per layer, the truth of "Δ has an inner minimum")
PROFILES = {
    "flat": ((1.0, 1.0, 1.0, 1.0, 1.0), "no inner minimum (every layer the same Δ)"),
    "monotone": ((1.6, 1.4, 1.2, 1.0, 0.8), "no inner minimum (the last layer is lowest)"),
    "valley": ((1.3, 1.0, 0.8, 1.0, 1.3), "an inner minimum"),
}


def sources(scales, n: int, seed: int):
    """Two paired sources of ``n`` items with one layer per noise scale (sign bits of ``TOKENS`` × ``BITS``)."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, TOKENS, BITS))
    ids = [str(i) for i in range(n)]

    def side():
        return ArrayStore([pack_bits(binarize(shared + s * rng.normal(size=shared.shape))) for s in scales],
                          item_ids=ids)

    return side(), side()


def old_inner_minimum(profile, a, b, key) -> str:
    """The rule before error bars at N: the minimum picked on all items, then both edges > 2 raw standard
    deviations of 5 jackknife subsets of 40 % (the paper's convention) on the same items."""
    lays = [int(x) for x in profile.layers]
    v = profile.values.mean(axis=1)
    m = lays[int(np.argmin(v))]
    if m in (lays[0], lays[-1]):
        return "does not hold"
    mats = [C._mats(a, b, la, profile.params) for la in (lays[0], m, lays[-1])]
    jk = rs.Jackknife(5, int(0.4 * len(a)), "subset")
    zs = [rs.paired_statistic(mats, lambda d, i=i: float(d[i].mean() - d[1].mean()), jackknife=jk, key=key).z
          for i in (0, 2)]
    return "holds" if min(zs) > 2 else "inconclusive"


def simulate_inner_minimum(name: str, *, n: int = 300, datasets: int = 200, seed: int = 0) -> dict:
    """The new and the old inner-minimum rule on ``datasets`` independent data sets of profile ``name``."""
    scales, truth = PROFILES[name]
    new, old, d_first, d_last = [], [], [], []
    t0 = time.perf_counter()
    for i in range(datasets):
        a, b = sources(scales, n, seed * 100_003 + i)
        key = jax.random.key(seed * 100_003 + i)
        prof = layer_profile(a, b, tokens=TOKENS, jackknife=None, null=False, progress=False)
        row = C.inner_minimum(prof, a, b, key=key)
        new.append(row.verdict)
        d_first.append(row.numbers["first_minus_min"]), d_last.append(row.numbers["last_minus_min"])
        old.append(old_inner_minimum(prof, a, b, key))
    return {"profile": name, "scales": scales, "truth": truth, "n": n, "datasets": datasets,
            "new": _counts(new), "old": _counts(old), "d_first": np.array(d_first), "d_last": np.array(d_last),
            "seconds": time.perf_counter() - t0}


def _counts(verdicts) -> dict:
    v = np.array(verdicts)
    return {k: float(np.mean(v == k)) for k in ("holds", "does not hold", "inconclusive")}


def simulate_null_rule(*, n: int = 200, datasets: int = 200, profiles: int = 3, seed: int = 1) -> dict:
    """The null claim over ``profiles`` profiles of 5 layers each (200 permutations per layer): how often it says
    "does not hold" although every null is a true permutation null (target ≤ 5 %)."""
    fails = []
    t0 = time.perf_counter()
    for i in range(datasets):
        results = {}
        for p in range(profiles):
            a, b = sources(PROFILES["valley"][0], n, seed * 100_003 + i * profiles + p)
            results[f"profile {p}"] = layer_profile(a, b, tokens=TOKENS, jackknife=None, null=True, progress=False,
                                                    key=jax.random.key(i * profiles + p))
        fails.append(C.shuffled_null(results).verdict == "does not hold")
    return {"n": n, "datasets": datasets, "layer_directions": profiles * 5 * 2, "false_failures": float(np.mean(fails)),
            "seconds": time.perf_counter() - t0}
