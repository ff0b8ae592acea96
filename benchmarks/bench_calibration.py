"""Calibration of every error bar and verdict rule of ``ii_jax.resample`` on synthetic data whose truth is known.

    python benchmarks/bench_calibration.py                  # 200 data sets per block: N=400 (3 families), N=1000
                                                            # (Gaussian), then the claim rules (200 a profile)
    python benchmarks/bench_calibration.py --quick          # a few minutes: 30 data sets, N=400, no claims
    python benchmarks/bench_calibration.py --quick --claims --claims-datasets 20   # the claims section too
    python benchmarks/bench_calibration.py --claims-only --claims-datasets 200     # the claims section alone
    python benchmarks/bench_calibration.py --datasets 100 --n 300 --family gauss --json /tmp/calib.json

Each *block* is one data family at one N. The model's parameters are FIXED within a block (the projections to
bits, the noise scales); only the points are redrawn, so the spread of a statistic over the data sets is its true
sampling spread at N, the quantity a jackknife error bar estimates. Families:

* ``gauss``: x ~ N(0, I_10), y_c = x[:, :5] + s_c · noise_c (independent noise per copy c), squared-Euclidean
  distances (float32).
* ``bits32``, ``bits256``: the same Gaussians through fixed random projections to D bits, sign, Hamming distances
  (int32; many ties at D = 32).

Every data set holds X and several Y copies: ``copies`` at the base noise s = σ (exchangeable, so any difference
between two of them is exactly 0 in expectation), one at σ + δ_k per planted effect k (δ_k chosen by a pilot run so
the true difference Δ(X→Y_0) − Δ(X→Y_k) is about −k true SDs) and one at 2σ (a large difference).

The rule under test is the library's default jackknife (:func:`ii_jax.resample.default_jackknife`, ``"auto"``):
30 random splits of the N points into two halves A, B, the standard error at N √(mean((T_A − T_B)²) / 4). All of a
data set's Δ's come from ONE :func:`ii_jax.resample.paired_statistic` call with it: the distance matrices are built
once, the full-N Δ's and both halves of every split are computed on them, the splits shared by every Δ (how the
library computes a paired difference). Two labelled comparisons come from a second call on the same matrices
(copies 0, 1 and the planted ones): the **old rule** (``"delete_d"``: 30 subsets of 40 %, the spread rescaled by
√(m/(N − m))) and the **paper**'s (``"subset"``: the raw spread of the first 5 of those subsets). The error bars
are :func:`ii_jax.resample.standard_error` of the replicas, which is what
:func:`~ii_jax.resample.resample_from_distances` and :func:`~ii_jax.resample.paired_difference` return for the same
key (``tests/test_calibration.py`` checks that), and the verdicts are the library's
:func:`~ii_jax.resample.verdict`, :func:`~ii_jax.resample.equivalence_verdict` and :func:`~ii_jax.resample.holm`.

Cases (rows of the table; all of a block's cases share its data sets, whose simulation time is printed once). The
targets are the default rule's; the old rule's, the paper's and the other rows (bootstrap, diagnostics) are info:

1. Coverage of one Δ's error bar: mean reported SE / true SD of Δ(X, Y_0) over the data sets, per direction
   (target 0.9-1.1), the RMS ratio, the SE's own relative spread over the data sets, and the ratio pooled over
   every copy at σ (the same true SD by construction, so a steadier reference than copy 0 alone; its ± from a
   bootstrap over the data sets, whose copies share X); the old rule, its mean SE over the default's (free of the
   reference's noise), the paper's, the old rule's raw spread (unscaled and scaled by √(m/N)) and the bootstrap.
2. Coverage of a paired difference's error bar: mean paired SE / true SD of the difference (target 0.9-1.1), the
   null difference also pooled over every pair of copies at σ.
3. False-positive rate of ``verdict`` on a null difference: "holds" or "does not hold" (target ≤ 5 %).
4. Power of ``verdict`` against an oracle z-test that knows the true SD (target ≥ 0.9 × the oracle's); "t ideal":
   the ratio a t test with 29 dof and a perfectly calibrated SE would reach (the ceiling the t quantile leaves).
5. Equivalence (TOST): "holds" when the true |difference| is the margin (≤ 5 %); power at a true difference 0.
6. Holm over 20 null claims read together: family-wise rate of any false verdict (≤ 5 %), and unadjusted.

C. ``--claims`` (on in the full run, off in ``--quick`` unless asked): the claim rules of
   :mod:`ii_jax.analyses.claims` on synthetic layer profiles of known truth (``benchmarks/calibration_claims.py``):
   per profile the rates of "holds" / "does not hold" / "inconclusive" of the inner-minimum rule (the cross-fitted
   rule and the old one); "holds" ≤ 5 % where the profile has no inner minimum ("flat", "monotone"); on "valley"
   the rule's power against an oracle that judges the same cross-fitted differences with their true SD over the
   data sets (target ≥ 0.9 × the oracle's); and the null claim's false-failure rate (≤ 5 %).

The ± of a coverage ratio is its sampling uncertainty: the relative SD of an SD estimate over D data sets,
√((κ − 1) / (4 D)) for kurtosis κ (1/√(2 D) for a normal), combined with that of the mean SE. A rate's bounds are
the one-sided 95 % Clopper-Pearson bounds; a rate PASSes unless its 95 % lower bound exceeds the target.

The defaults (200 data sets per block and per claims profile) make the full run about 25-30 minutes on 2 shared
cores (150, 60 and 100 took 906 s): the default jackknife computes 60 replicas of N/2 points, and the old rule's 30
of 0.4 N come on top. ``--datasets``, ``--large-datasets`` and ``--claims-datasets`` make it shorter.

Measured (full run at the defaults, seed 0, 1587 s): the default rule's SE / true SD for one Δ 1.06/0.97 (Gaussian,
X→Y/Y→X, pooled over the copies at σ), 1.08/1.02 (32 bits), 1.06/1.00 (256 bits) at N = 400 and 1.07/1.01 at N =
1000; copy 0 alone 0.94-1.13. Paired differences 0.92-1.11; a verdict's false rate on a null difference 4.0-5.5 %;
power 0.72-1.03 of the oracle's (0.89-1.03 from about 1.6 true SDs up; a t test with 29 dof and a perfect SE
would reach 0.93-1.0); TOST "holds" at the margin ≤ 7 %; Holm's family-wise rate 2.5-3.0 % over 20 null verdicts
(41 % unadjusted). The old rule (delete_d) reads 1.13-1.20 times the default's SE, with 0.58-0.87 of the oracle's
power; the paper's 5 × 40 % spread is 1.30-1.51 times the true SD. Claims: "holds" on 1.0 % of flat and 0 % of
monotone profiles, 88.5 % of valleys (old rule 81.5 %, oracle 83.5 %); the null rule fails falsely in 3.0 %.

An earlier reading of the delete-d rule at 13-35 % too large compared with copy 0's reference alone, whose 150
data sets happened to give a low true SD (N·Var(Δ) = 0.089 where other copies and an independent draw give
0.12-0.15); the pooled rows above do not depend on one copy.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import time
from itertools import combinations
from typing import NamedTuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

from ii_jax import resample as rs  # noqa: E402
from ii_jax.imbalance import imbalance_from_distances  # noqa: E402

FAMILIES = {"gauss": 0, "bits32": 32, "bits256": 256}  # family -> bits (0: Gaussian, squared-Euclidean)
DIM_X, DIM_Y = 10, 5
SIGMA = 0.5  # the base noise of y
EFFECTS = (1.0, 2.0, 3.0)  # planted true differences, in true SDs of the difference
BAND = (0.9, 1.1)  # the target of a coverage ratio
ALPHA = rs.ALPHA
POWER_TARGET = 0.9  # verdict power / oracle power
HOLM_CLAIMS = 20


# ----------------------------------------------------------------------------------------------------------------
# The model and its data sets


class Model(NamedTuple):
    """One block's fixed model: the family, N, the noise scale of every Y copy and the projections to bits.

    Attributes:
      family: a key of :data:`FAMILIES`. n: points per data set.
      scales: ``[C]`` the noise scale of each Y copy: ``copies`` at σ, then σ + δ_k per planted effect, then 2σ.
      copies: Y copies at the base noise σ. effects: the planted effects (in true SDs), one per δ_k.
      px, py: ``[10, bits]``, ``[5, bits]`` fixed projections (``None`` for ``gauss``).
    """

    family: str
    n: int
    scales: np.ndarray
    copies: int
    effects: tuple
    px: np.ndarray | None
    py: np.ndarray | None

    @property
    def planted(self) -> list[int]:
        """Copy index of each planted effect."""
        return [self.copies + i for i in range(len(self.effects))]

    @property
    def large(self) -> int:
        """Copy index of the 2σ copy."""
        return self.copies + len(self.effects)


def make_model(family: str, n: int, *, deltas=(), effects=(), copies: int = 2, sigma: float = SIGMA,
               seed: int = 0) -> Model:
    """The fixed model of a block (the projections drawn once from ``seed``, never per data set)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {tuple(FAMILIES)}, got {family!r}.")
    if len(deltas) != len(effects):
        raise ValueError("one delta per planted effect")
    bits = FAMILIES[family]
    px = py = None
    if bits:
        rng = np.random.default_rng([seed, 7, bits])
        px, py = rng.standard_normal((DIM_X, bits)), rng.standard_normal((DIM_Y, bits))
    scales = np.array([sigma] * copies + [sigma + d for d in deltas] + [2 * sigma])
    return Model(family, int(n), scales, int(copies), tuple(effects), px, py)


def points(model: Model, i: int, seed: int, scales=None, *, common_noise: bool = False):
    """Data set ``i``: x ``[N, 10]`` and the Y copies ``[C, N, 5]`` (vectorised; its own generator, so any data
    set can be rebuilt alone). ``common_noise``: one noise draw shared by every copy (the pilot's slope).
    """
    scales = model.scales if scales is None else np.asarray(scales, np.float64)
    rng = np.random.default_rng([seed, FAMILIES[model.family], model.n, i])
    x = rng.standard_normal((model.n, DIM_X))
    noise = rng.standard_normal((1 if common_noise else len(scales), model.n, DIM_Y))
    return x, x[None, :, :DIM_Y] + scales[:, None, None] * noise


def _sq_euclidean(a: np.ndarray) -> np.ndarray:
    s = np.einsum("ij,ij->i", a, a)
    return np.maximum(s[:, None] + s[None, :] - 2.0 * (a @ a.T), 0.0).astype(np.float32)


def _hamming(bits: np.ndarray) -> np.ndarray:
    b = bits.astype(np.float32)  # 0/1; the products are exact integers below 2**24
    return (b @ (1.0 - b).T + (1.0 - b) @ b.T).astype(np.int32)


def matrices(model: Model, x: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distance matrices of X and of every Y copy: float32 squared-Euclidean or int32 Hamming."""
    if model.px is None:
        return _sq_euclidean(x), [_sq_euclidean(y) for y in ys]
    return _hamming(x @ model.px > 0), [_hamming(y @ model.py > 0) for y in ys]


def dataset_key(seed: int, i: int):
    """The jackknife key of data set ``i`` (independent of its points)."""
    return jax.random.fold_in(jax.random.key(seed), i)


# ----------------------------------------------------------------------------------------------------------------
# Simulation

#: The error-bar rules measured: the library's default (the rule under test) and two labelled comparisons.
RULES = {"default": "default (halves)", "old": "old rule (delete_d)", "paper": "paper (subset)"}


def old_jackknife(n: int) -> rs.Jackknife:
    """The old default, kept by name: 30 subsets of 40 % of the N points, the delete-d rescale."""
    return rs.Jackknife(rs.DEFAULT_REPEATS, int(0.4 * n), "delete_d")


class Sim(NamedTuple):
    """A block's Δ's over its data sets.

    Attributes:
      full: ``[D, C, 2]`` Δ(X→Y_c), Δ(Y_c→X) on all N points.
      reps: ``{"default": [D, R', C, 2], "old": [D, R, C_old, 2]}`` the same on each replica (``R' = 2 R``, both
        halves of every split, for the default jackknife), the same replicas for every copy of a data set.
      copies: ``{source: copy indices}``: the copies each entry of ``reps`` holds, in order.
      jackknives: ``{rule: Jackknife}`` of :data:`RULES` (``"paper"``: the first 5 of the old rule's subsets).
      boot_se: ``[D, 2]`` the bootstrap error bar of Δ(X, Y_0) (NaN when not run). seconds: wall time.
    """

    model: Model
    full: np.ndarray
    reps: dict
    copies: dict
    jackknives: dict
    boot_se: np.ndarray
    seconds: float

    @property
    def jackknife(self) -> rs.Jackknife:
        """The jackknife of the rule under test."""
        return self.jackknives["default"]


def simulate(model: Model, datasets: int, *, seed: int = 0, jackknife="auto", old=True, bootstrap: bool = True,
             progress: bool = False) -> Sim:
    """Every Δ of ``datasets`` data sets: one :func:`~ii_jax.resample.paired_statistic` call each with
    ``jackknife`` (the rule under test) and, with ``old`` (``True``: :func:`old_jackknife`, or a jackknife), one
    more on copies 0, 1 and the planted ones, the same key (the old rule and the paper's).
    """
    jack = rs.as_jackknife(jackknife, model.n)
    c = len(model.scales)
    jacks = {"default": jack}
    copies = {"default": tuple(range(c))}
    reps = {"default": np.empty((datasets, 2 * jack.repeats if jack.error_bar == "halves" else jack.repeats, c, 2))}
    if old:
        o = old_jackknife(model.n) if old is True else rs.as_jackknife(old, model.n)
        jacks["old"] = o
        jacks["paper"] = rs.Jackknife(min(5, o.repeats), o.n_sub, "subset")
        copies["old"] = tuple(sorted({0, 1, *model.planted}))
        reps["old"] = np.empty((datasets, o.repeats, len(copies["old"]), 2))
    full = np.empty((datasets, c, 2))
    boot = np.full((datasets, 2), np.nan)
    t0 = time.perf_counter()
    for i in range(datasets):
        dx, dys = matrices(model, *points(model, i, seed))
        key = dataset_key(seed, i)
        r = rs.paired_statistic([(dx, dy) for dy in dys], lambda v: v[0, 0] - v[1, 0], jackknife=jack, key=key)
        full[i] = r.parts.reshape(c, 2)
        reps["default"][i] = r.part_replicas.reshape(-1, c, 2)
        if old:
            sel = list(copies["old"])
            r = rs.paired_statistic([(dx, dys[j]) for j in sel], lambda v: v[0, 0] - v[1, 0], jackknife=jacks["old"],
                                    key=key, full=full[i, sel])
            reps["old"][i] = r.part_replicas.reshape(-1, len(sel), 2)
        if bootstrap:
            boot[i] = rs.resample_from_distances(dx, dys[0], n_sub=min(200, model.n), repeats=100, replace=True,
                                                 key=jax.random.fold_in(key, 1)).std
        if progress and (i + 1) % max(1, datasets // 10) == 0:
            print(f"    {model.family} N={model.n}: {i + 1}/{datasets} data sets, "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return Sim(model, full, reps, copies, jacks, boot, time.perf_counter() - t0)


def pilot(family: str, n: int, *, effects=EFFECTS, datasets: int = 40, seed: int = 10_000, model_seed: int = 0,
          sigma: float = SIGMA, rel_step: float = 0.2) -> tuple[float, ...]:
    """The noise increments δ_k that plant true differences Δ(X→Y_σ) − Δ(X→Y_{σ+δ_k}) of about −k true SDs.

    Full-N Δ's only (no jackknife): the SD of a null difference from ``datasets`` data sets of two copies at σ,
    and the slope dΔ(X→Y)/dσ from the same data sets with common noise at σ and σ(1 + ``rel_step``).
    ``model_seed``: the block's (the same projections to bits); ``seed``: the pilot's own data sets.
    """
    base = make_model(family, n, copies=2, sigma=sigma, seed=model_seed)
    null, step = [], []
    for i in range(datasets):
        dx, dys = matrices(base, *points(base, i, seed, [sigma, sigma]))
        a, b = (imbalance_from_distances(dx, dy).x_to_y for dy in dys)
        null.append(a - b)
        dx, dys = matrices(base, *points(base, i, seed + 1, [sigma, sigma * (1 + rel_step)], common_noise=True))
        a, b = (imbalance_from_distances(dx, dy).x_to_y for dy in dys)
        step.append(b - a)
    slope = np.mean(step) / (sigma * rel_step)
    sd = np.std(null, ddof=1)
    return tuple(float(k * sd / slope) for k in effects)


# ----------------------------------------------------------------------------------------------------------------
# Statistics of the checks


def coverage(se, values) -> dict:
    """Mean reported SE / true SD of ``values`` over the data sets, the RMS ratio, and the ratio's uncertainty."""
    se, values = np.asarray(se, np.float64), np.asarray(values, np.float64)
    d = len(values)
    sd = values.std(ddof=1)
    z = (values - values.mean()) / values.std()
    kurt = float(np.mean(z ** 4))
    rel = math.sqrt(max(kurt - 1.0, 0.5) / (4 * d) + se.var(ddof=1) / (d * se.mean() ** 2))
    ratio = float(se.mean() / sd)
    return dict(ratio=ratio, rms=float(np.sqrt(np.mean(se ** 2)) / sd), unc=ratio * rel, sd=float(sd),
                mean_se=float(se.mean()), se_cv=float(se.std(ddof=1) / se.mean()), kurtosis=kurt, datasets=d)


def pooled_coverage(se, values, *, boot: int = 400, seed: int = 0) -> dict:
    """:func:`coverage` of K exchangeable statistics per data set (``se``, ``values``: ``[D, K]``, the same true SD
    by construction): mean SE over the pooled SD √(mean_k Var_k), the ± from a bootstrap over the data sets (the K
    statistics of a data set are correlated, e.g. through the shared X, so they are resampled together).
    """
    se, values = np.asarray(se, np.float64), np.asarray(values, np.float64)

    def ratios(rows):
        sd = np.sqrt(values[rows].var(axis=0, ddof=1).mean())
        return se[rows].mean() / sd, np.sqrt(np.mean(se[rows] ** 2)) / sd

    d = len(values)
    ratio, rms = ratios(np.arange(d))
    rng = np.random.default_rng(seed)
    unc = float(np.std([ratios(rng.integers(0, d, d))[0] for _ in range(boot)], ddof=1))
    return dict(ratio=float(ratio), rms=float(rms), unc=unc, sd=float(np.sqrt(values.var(axis=0, ddof=1).mean())),
                mean_se=float(se.mean()), datasets=d, pooled=values.shape[1])


def band_status(ratio: float, unc: float, band=BAND) -> str:
    """PASS inside the band; MISS outside it ("MISS~" when the band lies within 2 ± of the ratio)."""
    if band[0] <= ratio <= band[1]:
        return "PASS"
    gap = band[0] - ratio if ratio < band[0] else ratio - band[1]
    return "MISS~" if gap <= 2 * unc else "MISS"


def binomial_bounds(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """One-sided Clopper-Pearson ``level`` lower and upper bounds of a rate ``k / n``."""
    from scipy import stats

    lo = 0.0 if k == 0 else float(stats.beta.ppf(1 - level, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(level, k + 1, n - k))
    return lo, hi


def rate(hits) -> dict:
    """A rate with its binomial standard error and one-sided 95 % bounds."""
    hits = np.asarray(hits, bool)
    return rate_of(int(hits.sum()), len(hits))


def rate_of(k: int, n: int) -> dict:
    """:func:`rate` of ``k`` hits in ``n`` trials."""
    lo, hi = binomial_bounds(k, n)
    p = k / n
    return dict(rate=p, k=k, n=n, se=math.sqrt(max(p * (1 - p), 1e-12) / n), lower=lo, upper=hi)


def ratio_unc(a: dict, b: dict) -> tuple[float, float]:
    """``a / b`` of two rates and its uncertainty (relative binomial errors combined)."""
    ratio = a["rate"] / b["rate"] if b["rate"] else float("nan")
    unc = ratio * math.sqrt((a["se"] / max(a["rate"], 1e-9)) ** 2 + (b["se"] / max(b["rate"], 1e-9)) ** 2)
    return ratio, unc


def replicas(sim: Sim, copy: int, direction: int = 0, rule: str = "default") -> np.ndarray:
    """``[D, R]`` the replicas of Δ(X, Y_copy) in ``direction`` for ``rule`` (:data:`RULES`)."""
    src = "old" if rule == "paper" else rule
    r = sim.reps[src][:, :, sim.copies[src].index(copy), direction]
    return r[:, : sim.jackknives["paper"].repeats] if rule == "paper" else r


def se_of(sim: Sim, reps, rule: str = "default", error_bar: str | None = None, axis: int = 1) -> np.ndarray:
    """The library's error bar (:func:`ii_jax.resample.standard_error`) of per-data-set replicas ``[D, R, ...]``
    under ``rule``'s jackknife (``error_bar``: another rule on the same replicas, for the diagnostics)."""
    j = sim.jackknives[rule]
    return rs.standard_error(reps, n=sim.model.n, n_sub=j.n_sub, error_bar=error_bar or j.error_bar, axis=axis)


def dof_of(sim: Sim, rule: str = "default") -> int:
    """Degrees of freedom of ``rule``'s error bar: splits or subsets − 1 (as the library's)."""
    return sim.jackknives[rule].repeats - 1


def difference(sim: Sim, a: int, b: int, direction: int = 0, rule: str = "default") -> tuple[np.ndarray, np.ndarray]:
    """Δ_a − Δ_b (X→Y by default) over the data sets and its paired error bar: ``(value [D], se [D])``."""
    value = sim.full[:, a, direction] - sim.full[:, b, direction]
    return value, se_of(sim, replicas(sim, a, direction, rule) - replicas(sim, b, direction, rule), rule)


def verdicts(values, ses, dof: int, *, expect: str = "negative") -> np.ndarray:
    """The library's :func:`~ii_jax.resample.verdict` of each data set's difference."""
    return np.array([rs.verdict((v, s, dof), expect=expect) for v, s in zip(values, ses, strict=True)])


def null_pairs(model: Model) -> list[tuple[int, int]]:
    """Up to :data:`HOLM_CLAIMS` pairs of the base-noise copies: null differences by exchangeability."""
    return list(combinations(range(model.copies), 2))[:HOLM_CLAIMS]


def two_sided_p(values, ses, dof: int) -> np.ndarray:
    """Two-sided t p-values of differences (``2 min`` of :func:`~ii_jax.resample.sign_test`'s pair)."""
    return np.array([min(1.0, 2 * min(rs.sign_test((v, s, dof)))) for v, s in zip(values, ses, strict=True)])


def _comparisons(sim: Sim) -> list[tuple[str, str]]:
    """``(rule, target label)`` of the labelled comparisons this simulation holds."""
    return [("old", "(old rule)"), ("paper", "(paper)")] if "old" in sim.jackknives else []


# ----------------------------------------------------------------------------------------------------------------
# The cases: each returns table rows (dicts)


def _row(case, what, value, unc=None, target="", status="", stats=None, **extra) -> dict:
    return {**(stats or {}), **extra, "case": case, "what": what, "value": value, "unc": unc, "target": target,
            "status": status}


def case_error_bar(sim: Sim) -> list[dict]:
    """Case 1: one Δ's error bar (copy 0 at σ), per direction: the default rule (mean and RMS ratio, the SE's own
    relative spread), then for comparison the old rule, the paper's, the old rule's raw spread (unscaled, and scaled
    as if the subsets were independent samples of m points: √(m/N) instead of √(m/(N − m))) and the bootstrap.
    """
    rows = []
    n = sim.model.n

    def add(what, se, values, target):
        c = coverage(se, values)
        rows.append(_row("1", what, c["ratio"], c["unc"], target, band_status(c["ratio"], c["unc"]), stats=c))
        return c

    for d, name in enumerate(("X→Y", "Y→X")):
        values = sim.full[:, 0, d]
        c = add(f"Δ({name}) SE / SD", se_of(sim, replicas(sim, 0, d)), values, "0.9-1.1")
        rows.append(_row("1", f"Δ({name}) RMS SE / SD", c["rms"], c["unc"], "0.9-1.1", band_status(c["rms"], c["unc"])))
        rows.append(_row("1", f"Δ({name}) SE's rel. SD over data sets", c["se_cv"], None, "(info)", "",
                         t29=1 / math.sqrt(2 * dof_of(sim))))
        base = range(sim.model.copies)
        if len(base) > 1:  # every copy at σ has the same true SD: a steadier reference
            c = pooled_coverage(np.stack([se_of(sim, replicas(sim, k, d)) for k in base], axis=1),
                                sim.full[:, : len(base), d])
            rows.append(_row("1", f"Δ({name}) SE / SD, {len(base)} copies pooled", c["ratio"], c["unc"], "0.9-1.1",
                             band_status(c["ratio"], c["unc"]), stats=c))
        if "old" in sim.jackknives:
            m = sim.jackknives["old"].n_sub
            old = replicas(sim, 0, d, "old")
            add(f"Δ({name}) old delete_d 30x40% / SD", se_of(sim, old, "old"), values, "(old rule)")
            ratio = float(se_of(sim, old, "old").mean() / se_of(sim, replicas(sim, 0, d)).mean())
            rows.append(_row("1", f"Δ({name}) old/default mean SE", ratio, None, "(old rule)", ""))
            add(f"Δ({name}) paper 5x40% sd / SD", se_of(sim, replicas(sim, 0, d, "paper"), "paper"), values, "(paper)")
            raw = se_of(sim, old, "old", "subset")
            add(f"Δ({name}) 30x40% no rescale / SD", raw, values, "(info)")
            add(f"Δ({name}) 30x40% sd·√(m/N) / SD", raw * math.sqrt(m / n), values, "(info)")
        if np.isfinite(sim.boot_se[:, d]).all():
            add(f"Δ({name}) bootstrap SE / SD", sim.boot_se[:, d], values, "(info)")
    return rows


def case_paired_error_bar(sim: Sim) -> list[dict]:
    """Case 2: paired differences' error bars: the null pair, each planted effect, the 2σ copy, the directions;
    the old rule's and the paper's on the null pair and the directions.
    """
    m = sim.model
    pairs = [("null Y0-Y1", 0, 1)] + [(f"Y0-Y(σ+δ{k:g})", 0, c) for k, c in zip(m.effects, m.planted, strict=True)]
    pairs.append(("Y0-Y(2σ)", 0, m.large))
    rows = []

    def add(what, se, value, target, rule):
        c = coverage(se, value)
        rows.append(_row("2", what, c["ratio"], c["unc"], target, band_status(c["ratio"], c["unc"]),
                         true_diff=float(value.mean()), rule=rule, stats=c))

    for name, a, b in pairs:
        value, se = difference(sim, a, b)
        add(f"{name} SE/SD", se, value, "0.9-1.1", "default")
        nulls = null_pairs(m)
        if a == 0 and b == 1 and len(nulls) > 1:  # every null pair has the same true SD
            diffs = [difference(sim, x, y) for x, y in nulls]
            c = pooled_coverage(np.stack([s for _, s in diffs], axis=1), np.stack([v for v, _ in diffs], axis=1))
            rows.append(_row("2", f"null, {len(nulls)} pairs pooled SE/SD", c["ratio"], c["unc"], "0.9-1.1",
                             band_status(c["ratio"], c["unc"]), rule="default", stats=c))
    value = sim.full[:, 0, 0] - sim.full[:, 0, 1]
    add("Δ(X→Y0)-Δ(Y0→X) SE/SD", se_of(sim, replicas(sim, 0, 0) - replicas(sim, 0, 1)), value, "0.9-1.1", "default")
    for rule, label in _comparisons(sim):
        tag = "old" if rule == "old" else "paper"
        value, se = difference(sim, 0, 1, rule=rule)
        add(f"{tag}: null Y0-Y1 SE/SD", se, value, label, rule)
        for k, c in zip(m.effects, m.planted, strict=True):
            if rule == "old":
                value, se = difference(sim, 0, c, rule=rule)
                add(f"{tag}: Y0-Y(σ+δ{k:g}) SE/SD", se, value, label, rule)
        value = sim.full[:, 0, 0] - sim.full[:, 0, 1]
        add(f"{tag}: Δ(X→Y0)-Δ(Y0→X) SE/SD",
            se_of(sim, replicas(sim, 0, 0, rule) - replicas(sim, 0, 1, rule), rule), value, label, rule)
    return rows


def _rate_status(r: dict, target: float = ALPHA) -> str:
    return "PASS" if r["lower"] <= target else "MISS"


def case_null(sim: Sim) -> list[dict]:
    """Case 3: the false-positive rate of ``verdict`` on the null difference Y0 − Y1 (both verdicts are false)."""
    value, se = difference(sim, 0, 1)
    v = verdicts(value, se, dof_of(sim))
    r = rate(v != "inconclusive")
    rows = [_row("3", "null FPR (holds+not)", r["rate"], r["se"], "<=0.05", _rate_status(r), **r)]
    pairs = null_pairs(sim.model)
    if len(pairs) > 1:  # every null pair pooled (correlated claims: no bound)
        hits = [difference(sim, a, b) for a, b in pairs]
        pooled = np.mean([(two_sided_p(x, s, dof_of(sim)) <= ALPHA).mean() for x, s in hits])
        rows.append(_row("3", f"null FPR, {len(pairs)} pairs pooled", float(pooled), None, "~0.05", "(info)"))
    for rule, label in _comparisons(sim):
        value, se = difference(sim, 0, 1, rule=rule)
        r = rate(verdicts(value, se, dof_of(sim, rule)) != "inconclusive")
        rows.append(_row("3", f"{rule}: null FPR (holds+not)", r["rate"], r["se"], label, _rate_status(r), rule=rule,
                         **r))
    return rows


def case_power(sim: Sim) -> list[dict]:
    """Case 4: the fraction "holds" of ``verdict`` on planted differences vs an oracle that knows the true SD; the
    same for the old rule and the paper's (info).
    """
    from scipy import stats

    dof = dof_of(sim)
    zc = float(stats.norm.ppf(1 - ALPHA / 2))
    tc = float(rs.t_quantile(1 - ALPHA, dof))
    rows = []
    for k, c in zip(sim.model.effects, sim.model.planted, strict=True):
        value, se = difference(sim, 0, c)
        sd = value.std(ddof=1)
        effect = float(-value.mean() / sd)
        power = rate(verdicts(value, se, dof) == "holds")
        oracle = rate(value / sd <= -zc)
        ideal = float(stats.nct.cdf(-tc, dof, -effect))  # a t test with a perfectly calibrated SE
        ratio, unc = ratio_unc(power, oracle)
        rows.append(_row("4", f"power @{effect:.2f} SD (plant {k:g})", power["rate"], power["se"], "", "",
                         effect=effect, stats=power))
        rows.append(_row("4", f"oracle z @{effect:.2f} SD", oracle["rate"], oracle["se"], "", "(t ideal "
                         f"{ideal:.3f})", ideal_t=ideal, stats=oracle))
        ideal_ratio = ideal / oracle["rate"] if oracle["rate"] else float("nan")
        status = "PASS" if ratio >= POWER_TARGET else ("MISS~" if ratio + 2 * unc >= POWER_TARGET else "MISS")
        rows.append(_row("4", f"power/oracle @{effect:.2f} SD", ratio, unc, ">=0.9",
                         f"{status} (t ideal {ideal_ratio:.2f})", ideal_ratio=ideal_ratio))
        for rule, label in _comparisons(sim):
            p = rate(verdicts(*difference(sim, 0, c, rule=rule), dof_of(sim, rule)) == "holds")
            ratio, unc = ratio_unc(p, oracle)
            rows.append(_row("4", f"{rule}: power/oracle @{effect:.2f} SD", ratio, unc, label,
                             f"(power {p['rate']:.3f})", rule=rule, power=p["rate"]))
    return rows


def case_equivalence(sim: Sim) -> list[dict]:
    """Case 5: TOST with the margin at each planted |difference|: "holds" there (false), and at the null (power)."""
    from scipy import stats

    dof = dof_of(sim)
    null, null_se = difference(sim, 0, 1)
    sd0 = null.std(ddof=1)
    z = float(stats.norm.ppf(1 - ALPHA))
    rows = []
    for c in sim.model.planted:
        value, se = difference(sim, 0, c)
        margin = float(abs(value.mean()))
        fpr = rate([rs.equivalence_verdict((v, s, dof), tolerance=margin) == "holds"
                    for v, s in zip(value, se, strict=True)])
        power = rate([rs.equivalence_verdict((v, s, dof), tolerance=margin) == "holds"
                      for v, s in zip(null, null_se, strict=True)])
        oracle = float(np.mean(np.abs(null) <= margin - z * sd0))
        m = margin / sd0
        rows.append(_row("5", f"TOST FPR at |d|=margin={m:.2f}SD", fpr["rate"], fpr["se"], "<=0.05",
                         _rate_status(fpr), margin=margin, stats=fpr))
        rows.append(_row("5", f"TOST power at d=0, margin {m:.2f}SD", power["rate"], power["se"], "",
                         f"(oracle {oracle:.3f})", oracle=oracle, stats=power))
    return rows


def case_holm(sim: Sim) -> list[dict]:
    """Case 6: any false verdict among the null claims of a data set, Holm-adjusted and unadjusted."""
    pairs = null_pairs(sim.model)
    if len(pairs) < 2:
        return []
    dof = dof_of(sim)
    p = np.stack([two_sided_p(*difference(sim, a, b), dof) for a, b in pairs], axis=1)  # [D, claims]
    adjusted = np.stack([rs.holm(row) for row in p])
    holm = rate((adjusted <= ALPHA).any(axis=1))
    raw = rate((p <= ALPHA).any(axis=1))
    return [_row("6", f"FWER Holm, {len(pairs)} null claims", holm["rate"], holm["se"], "<=0.05",
                 _rate_status(holm), stats=holm),
            _row("6", f"FWER unadjusted, {len(pairs)} claims", raw["rate"], raw["se"], "(info)", "", stats=raw)]


CASES = (case_error_bar, case_paired_error_bar, case_null, case_power, case_equivalence, case_holm)


def run_block(family: str, n: int, datasets: int, *, copies: int, seed: int = 0, pilot_datasets: int = 40,
              bootstrap: bool = True, old: bool = True, progress: bool = False) -> dict:
    """One block: the pilot, the simulation and every case's rows."""
    t0 = time.perf_counter()
    deltas = pilot(family, n, datasets=pilot_datasets, seed=seed + 10_000, model_seed=seed)
    t_pilot = time.perf_counter() - t0
    model = make_model(family, n, deltas=deltas, effects=EFFECTS, copies=copies, seed=seed)
    sim = simulate(model, datasets, seed=seed, old=old, bootstrap=bootstrap, progress=progress)
    rows = []
    for case in CASES:
        t = time.perf_counter()
        out = case(sim)
        for r in out:
            r["seconds"] = time.perf_counter() - t
        rows += out
    return dict(family=family, n=n, datasets=datasets, copies=copies, deltas=list(deltas),
                scales=sim.model.scales.tolist(), jackknife=sim.jackknife._asdict(),
                jackknives={k: v._asdict() for k, v in sim.jackknives.items()}, pilot_s=t_pilot,
                simulate_s=sim.seconds, rows=rows)


# ----------------------------------------------------------------------------------------------------------------
# C. The claim rules of ii_jax.analyses.claims on synthetic layer profiles (benchmarks/calibration_claims.py)

CLAIM_VERDICTS = ("holds", "does not hold", "inconclusive")


def claims_module():
    """``benchmarks/calibration_claims.py`` (benchmarks/ is not a package), loaded once."""
    if "calibration_claims" not in sys.modules:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calibration_claims.py")
        spec = importlib.util.spec_from_file_location("calibration_claims", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["calibration_claims"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["calibration_claims"]


def claim_critical_value(dof: int = rs.DEFAULT_REPEATS - 1) -> float:
    """The one-sided critical value of the inner-minimum rule's "holds": the row's p is 2 min(p_holds, p_fails)
    ≤ α and p_holds is the larger of the two edges' one-sided t p-values, so both must be ≤ α/2 (t with the
    default jackknife's R − 1 dof: 2.045)."""
    return float(rs.t_quantile(1 - ALPHA, dof))


def oracle_holds(d_first, d_last, *, crit: float | None = None) -> np.ndarray:
    """The oracle's "holds" per data set: both cross-fitted differences over their TRUE SD (over the data sets)
    above the rule's critical value."""
    d_first, d_last = np.asarray(d_first, np.float64), np.asarray(d_last, np.float64)
    crit = claim_critical_value() if crit is None else crit
    return (d_first / d_first.std(ddof=1) > crit) & (d_last / d_last.std(ddof=1) > crit)


def claim_rows(result: dict) -> list[dict]:
    """Rows of one profile of :func:`calibration_claims.simulate_inner_minimum`: the three verdict rates of the
    cross-fitted rule and the old one; "holds" ≤ 5 % where there is no inner minimum; the oracle on "valley"."""
    name, d = result["profile"], result["datasets"]
    false_claim = name != "valley"
    rows = []
    rates = {}
    for rule, tag, label in (("new", "new", ""), ("old", "old", "(old rule)")):
        for v in CLAIM_VERDICTS:
            r = rate_of(int(round(result[rule][v] * d)), d)
            rates[rule, v] = r
            target = ("<=0.05" if rule == "new" else label) if false_claim and v == "holds" else label
            status = _rate_status(r) + " " if target and v == "holds" and false_claim else ""
            rows.append(_row("C", f"{name} {tag}: {v}", r["rate"], r["se"], target,
                             f"{status}[{r['lower']:.3f},{r['upper']:.3f}]", profile=name, rule=rule, verdict=v,
                             stats=r))
    if not false_claim:
        d_first, d_last = np.asarray(result["d_first"]), np.asarray(result["d_last"])
        crit = claim_critical_value()
        oracle = rate(oracle_holds(d_first, d_last, crit=crit))
        rows.append(_row("C", f"{name} oracle (true SD): holds", oracle["rate"], oracle["se"], "",
                         f"(t crit {crit:.3f})", profile=name, rule="oracle", stats=oracle))
        for rule, target in (("new", ">=0.9"), ("old", "(old rule)")):
            ratio, unc = ratio_unc(rates[rule, "holds"], oracle)
            status = ("PASS" if ratio >= POWER_TARGET else ("MISS~" if ratio + 2 * unc >= POWER_TARGET else "MISS")
                      if rule == "new" else "")
            rows.append(_row("C", f"{name} {rule}/oracle holds", ratio, unc, target, status, profile=name, rule=rule))
        for what, x in (("d_first", d_first), ("d_last", d_last)):
            sd = float(x.std(ddof=1))
            rows.append(_row("C", f"{name} mean {what} / true SD", float(x.mean() / sd),
                             1 / math.sqrt(len(x)), "(info)", f"(SD {sd:.4f})", profile=name, mean=float(x.mean()),
                             sd=sd))
    return rows


def run_claims(datasets: int, *, n: int = 300, null_datasets: int | None = None, seed: int = 0,
               progress: bool = False) -> dict:
    """Section C: every profile of :data:`calibration_claims.PROFILES` and the null rule, as table rows."""
    cc = claims_module()
    t0 = time.perf_counter()
    profiles, rows = {}, []
    for name in cc.PROFILES:
        res = cc.simulate_inner_minimum(name, n=n, datasets=datasets, seed=seed)
        if progress:
            print(f"    claims {name}: {datasets} data sets, {res['seconds']:.0f} s", file=sys.stderr, flush=True)
        profiles[name] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in res.items()}
        out = claim_rows(res)
        for r in out:
            r["seconds"] = res["seconds"]
        rows += out
    null = cc.simulate_null_rule(datasets=null_datasets or datasets, seed=seed + 1)
    r = rate_of(int(round(null["false_failures"] * null["datasets"])), null["datasets"])
    rows.append(_row("C", f"null rule: false failures ({null['layer_directions']} l-d)", r["rate"], r["se"],
                     "<=0.05", f"{_rate_status(r)} [{r['lower']:.3f},{r['upper']:.3f}]", stats=r,
                     seconds=null["seconds"]))
    return dict(n=n, datasets=datasets, null=null, profiles=profiles, rows=rows, seconds=time.perf_counter() - t0)


# ----------------------------------------------------------------------------------------------------------------
# Output


def machine() -> dict:
    """CPU model (``lscpu``), cores, git commit, versions."""
    cpu = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        cpu = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), cpu)
    except OSError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=False).stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=False).stdout.strip()
        commit += "+dirty" if dirty else ""
    except OSError:
        commit = "?"
    return dict(cpu=cpu, cores=os.cpu_count(), commit=commit or "?", python=platform.python_version(),
                jax=jax.__version__, numpy=np.__version__, backend=jax.default_backend())


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.3f}"


def print_rows(rows) -> None:
    """One line per row."""
    print(f"   {'case':4s} {'what':42s} {'value':>7s} {'±':>7s}  {'target':12s} {'status':20s} {'t[s]':>6s}")
    for r in rows:
        print(f"   {r['case']:4s} {r['what']:42s} {_fmt(r['value']):>7s} {_fmt(r['unc']):>7s}  {r['target']:12s} "
              f"{r['status']:20s} {r['seconds']:6.2f}")


def print_block(block: dict) -> None:
    """The block's header and one line per row."""
    j = block["jackknives"]
    rules = "; ".join(f"{RULES[k]} {v['repeats']} x {v['n_sub']}" for k, v in j.items())
    print(f"\n== {block['family']} N={block['n']}  D={block['datasets']} data sets  noise scales "
          f"{np.round(block['scales'], 3).tolist()}")
    print(f"   jackknives: {rules}")
    print(f"   simulate {block['simulate_s']:.1f} s (shared by cases 1-6), pilot {block['pilot_s']:.1f} s")
    print_rows(block["rows"])


def print_claims(claims: dict) -> None:
    """Section C's header and rows."""
    print(f"\n== C: claim rules on synthetic layer profiles (calibration_claims), N={claims['n']}, "
          f"D={claims['datasets']} data sets per profile; null rule: N={claims['null']['n']}, "
          f"D={claims['null']['datasets']}")
    for name, p in claims["profiles"].items():
        print(f"   {name}: noise scales {list(p['scales'])}, truth: {p['truth']} ({p['seconds']:.0f} s)")
    print("   new: the cross-fitted rule (default jackknife); old: minimum on all items, both edges > 2 raw SDs of 5 "
          "subsets of 40 %; [a,b]: 95 % one-sided bounds")
    print_rows(claims["rows"])


def _misses(rows, where: str) -> list[str]:
    return [f"{where} case {r['case']}: {r['what']}" for r in rows
            if r["status"].startswith("MISS") and r["target"] and not r["target"].startswith("(")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=None, help="data sets per block (default 200; --quick 30)")
    ap.add_argument("--n", type=int, default=400, help="points per data set (default 400)")
    ap.add_argument("--large-n", type=int, default=1000,
                    help="one more block of the Gaussian family at this N in the full run (0: none)")
    ap.add_argument("--large-datasets", type=int, default=200, help="data sets of the large-N block (default 200)")
    ap.add_argument("--family", action="append", choices=tuple(FAMILIES), help="families (default: all)")
    ap.add_argument("--copies", type=int, default=None,
                    help="base-noise Y copies per data set (default 7: 21 null pairs, 20 Holm claims; --quick 4)")
    ap.add_argument("--no-bootstrap", action="store_true", help="skip the bootstrap row of case 1")
    ap.add_argument("--no-old", action="store_true", help="skip the old rule's and the paper's rows (faster)")
    ap.add_argument("--claims", action=argparse.BooleanOptionalAction, default=None,
                    help="section C, the claim rules (default: on, off with --quick)")
    ap.add_argument("--claims-only", action="store_true", help="section C alone")
    ap.add_argument("--claims-datasets", type=int, default=None,
                    help="data sets per profile and for the null rule (default 200; --quick 20)")
    ap.add_argument("--claims-n", type=int, default=300, help="items per claims data set (default 300)")
    ap.add_argument("--quick", action="store_true",
                    help="a few minutes: 30 data sets, N=400, 4 copies, a 20-data-set pilot, no large-N block, no "
                         "claims")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="PATH", help="write every number here")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    datasets = args.datasets or (30 if args.quick else 200)
    copies = args.copies or (4 if args.quick else 7)
    families = args.family or list(FAMILIES)
    claims_on = args.claims_only or (not args.quick if args.claims is None else args.claims)
    blocks_todo = [] if args.claims_only else [(f, args.n, datasets, copies) for f in families]
    if args.large_n and not args.quick and not args.claims_only and "gauss" in families:
        blocks_todo.append(("gauss", args.large_n, args.large_datasets, 2))  # no Holm family: the time goes to N
    info = machine()
    print(f"ii-jax calibration: {info['cpu']} ({info['cores']} cores), commit {info['commit']}, python "
          f"{info['python']}, jax {info['jax']} ({info['backend']}), numpy {info['numpy']}")
    print(f"alpha={ALPHA}, planted effects {EFFECTS} true SDs, base noise sigma={SIGMA}, seed={args.seed}; targets "
          f"are the default rule's, rows with a target in parentheses are info")
    t0 = time.perf_counter()
    blocks = []
    for family, n, d, c in blocks_todo:
        block = run_block(family, n, d, copies=c, seed=args.seed, bootstrap=not args.no_bootstrap,
                          old=not args.no_old, pilot_datasets=20 if args.quick else 40, progress=args.progress)
        print_block(block)
        sys.stdout.flush()
        blocks.append(block)
    claims = None
    if claims_on:
        claims = run_claims(args.claims_datasets or (20 if args.quick else 200), n=args.claims_n, seed=args.seed,
                            progress=args.progress)
        print_claims(claims)
    total = time.perf_counter() - t0
    misses = [m for b in blocks for m in _misses(b["rows"], f"{b['family']} N={b['n']}")]
    misses += _misses(claims["rows"], "claims") if claims else []
    print(f"\ntotal {total:.0f} s; {len(misses)} targeted rows miss" + "".join(f"\n   MISS {m}" for m in misses))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(machine=info, seed=args.seed, total_s=total, blocks=blocks, claims=claims), fh, indent=1,
                      default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
