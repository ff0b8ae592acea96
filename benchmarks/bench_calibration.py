"""Calibration of every error bar and verdict rule of ``ii_jax.resample`` on synthetic data whose truth is known.

    python benchmarks/bench_calibration.py                  # 200 data sets per block, N=400 (3 families) and N=1000
    python benchmarks/bench_calibration.py --quick          # about a minute: 30 data sets, N=400, 6 null claims
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
the true difference Δ(X→Y_0) − Δ(X→Y_k) is about −k true SDs) and one at 2σ (a large difference). All of its Δ's
come from ONE :func:`ii_jax.resample.paired_statistic` call: the distance matrices are built once, the full-N Δ's
and the default jackknife's 30 subsets of 40 % are computed on them, the subsets shared by every Δ (how the
library computes a paired difference). The error bars are then :func:`ii_jax.resample.standard_error` of those
replicas, which is what :func:`~ii_jax.resample.resample_from_distances` and
:func:`~ii_jax.resample.paired_difference` return for the same key (``tests/test_calibration.py`` checks that),
and the verdicts are the library's :func:`~ii_jax.resample.verdict`, :func:`~ii_jax.resample.equivalence_verdict`
and :func:`~ii_jax.resample.holm`.

Cases (rows of the table; all of a block's cases share its data sets, whose simulation time is printed once):

1. Coverage of one Δ's error bar: mean reported SE / true SD of Δ over the data sets, per direction (target
   0.9-1.1), the RMS ratio, the paper's convention (raw spread of 5 subsets of 40 %) and the bootstrap.
2. Coverage of a paired difference's error bar: mean paired SE / true SD of the difference (target 0.9-1.1).
3. False-positive rate of ``verdict`` on a null difference: "holds" or "does not hold" (target ≤ 5 %).
4. Power of ``verdict`` against an oracle z-test that knows the true SD (target ≥ 0.9 × the oracle's).
5. Equivalence (TOST): "holds" when the true |difference| is the margin (≤ 5 %); power at a true difference 0.
6. Holm over 20 null claims read together: family-wise rate of any false verdict (≤ 5 %), and unadjusted.

The ± of a coverage ratio is its sampling uncertainty: the relative SD of an SD estimate over D data sets,
√((κ − 1) / (4 D)) for kurtosis κ (1/√(2 D) for a normal), combined with that of the mean SE. A rate's bound is
the one-sided 95 % Clopper-Pearson upper bound; a rate PASSes unless its 95 % lower bound exceeds the target.

Measured (commit 89592d8, full run, 200 data sets per block, 16 min on 2 shared cores): the default error bar
(``"at_n"``) is conservative in every block, SE/SD 1.13-1.30 for one Δ and 1.11-1.35 for paired differences
(±0.05-0.07), at N = 400 and N = 1000 alike; the raw spread scaled as if the subsets were independent samples of
m points (√(m/N)) gives 0.87-1.00. So the null FPR (0.5-3.5 %), Holm's FWER (0.5-1 % over 20 claims; 21-24 %
unadjusted) and the TOST FPR at the margin (0-4.5 %) hold, but ``verdict``'s power is 0.43-0.87 of the oracle's
(a t test with a calibrated SE would reach 0.93-1.15 of it). The paper's rule: 1.30-1.51; the bootstrap:
0.73-0.83.
"""
from __future__ import annotations

import argparse
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


class Sim(NamedTuple):
    """A block's Δ's over its data sets.

    Attributes:
      full: ``[D, C, 2]`` Δ(X→Y_c), Δ(Y_c→X) on all N points. reps: ``[D, R, C, 2]`` the same on each jackknife
      subset (the same subsets for every copy of a data set). boot_se: ``[D, 2]`` the bootstrap error bar of
      Δ(X, Y_0) (NaN when not run). jackknife: the :class:`~ii_jax.resample.Jackknife`. seconds: wall time.
    """

    model: Model
    full: np.ndarray
    reps: np.ndarray
    boot_se: np.ndarray
    jackknife: rs.Jackknife
    seconds: float


def simulate(model: Model, datasets: int, *, seed: int = 0, jackknife=None, bootstrap: bool = True,
             progress: bool = False) -> Sim:
    """Every Δ of ``datasets`` data sets: one :func:`~ii_jax.resample.paired_statistic` call each."""
    jack = rs.as_jackknife("auto" if jackknife is None else jackknife, model.n)
    c = len(model.scales)
    full = np.empty((datasets, c, 2))
    reps = np.empty((datasets, jack.repeats, c, 2))
    boot = np.full((datasets, 2), np.nan)
    t0 = time.perf_counter()
    for i in range(datasets):
        dx, dys = matrices(model, *points(model, i, seed))
        key = dataset_key(seed, i)
        r = rs.paired_statistic([(dx, dy) for dy in dys], lambda v: v[0, 0] - v[1, 0], jackknife=jack, key=key)
        full[i] = r.parts.reshape(c, 2)
        reps[i] = r.part_replicas.reshape(jack.repeats, c, 2)
        if bootstrap:
            boot[i] = rs.resample_from_distances(dx, dys[0], n_sub=min(200, model.n), repeats=100, replace=True,
                                                 key=jax.random.fold_in(key, 1)).std
        if progress and (i + 1) % max(1, datasets // 10) == 0:
            print(f"    {model.family} N={model.n}: {i + 1}/{datasets} data sets, "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return Sim(model, full, reps, boot, jack, time.perf_counter() - t0)


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
                mean_se=float(se.mean()), kurtosis=kurt, datasets=d)


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
    k, n = int(hits.sum()), len(hits)
    lo, hi = binomial_bounds(k, n)
    p = k / n
    return dict(rate=p, k=k, n=n, se=math.sqrt(max(p * (1 - p), 1e-12) / n), lower=lo, upper=hi)


def se_of(sim: Sim, replicas, error_bar: str = "at_n", axis: int = 1) -> np.ndarray:
    """The library's error bar (:func:`ii_jax.resample.standard_error`) of per-data-set replicas ``[D, R, ...]``."""
    return rs.standard_error(replicas, n=sim.model.n, n_sub=sim.jackknife.n_sub, error_bar=error_bar, axis=axis)


def difference(sim: Sim, a: int, b: int, direction: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Δ_a − Δ_b (X→Y by default) over the data sets and its paired error bar: ``(value [D], se [D])``."""
    value = sim.full[:, a, direction] - sim.full[:, b, direction]
    return value, se_of(sim, sim.reps[:, :, a, direction] - sim.reps[:, :, b, direction])


def verdicts(values, ses, dof: int, *, expect: str = "negative") -> np.ndarray:
    """The library's :func:`~ii_jax.resample.verdict` of each data set's difference."""
    return np.array([rs.verdict((v, s, dof), expect=expect) for v, s in zip(values, ses, strict=True)])


def null_pairs(model: Model) -> list[tuple[int, int]]:
    """Up to :data:`HOLM_CLAIMS` pairs of the base-noise copies: null differences by exchangeability."""
    return list(combinations(range(model.copies), 2))[:HOLM_CLAIMS]


def two_sided_p(values, ses, dof: int) -> np.ndarray:
    """Two-sided t p-values of differences (``2 min`` of :func:`~ii_jax.resample.sign_test`'s pair)."""
    return np.array([min(1.0, 2 * min(rs.sign_test((v, s, dof)))) for v, s in zip(values, ses, strict=True)])


# ----------------------------------------------------------------------------------------------------------------
# The cases: each returns table rows (dicts)


def _row(case, what, value, unc=None, target="", status="", stats=None, **extra) -> dict:
    return {**(stats or {}), **extra, "case": case, "what": what, "value": value, "unc": unc, "target": target,
            "status": status}


def case_error_bar(sim: Sim) -> list[dict]:
    """Case 1: one Δ's error bar (copy 0 at σ), per direction: the library's rule (mean and RMS), then for
    comparison the paper's rule, the raw spread, the raw spread scaled as if the subsets were independent samples
    of m points (√(m/N) instead of √(m/(N − m))) and the bootstrap.
    """
    rows = []
    paper = rs.paper_jackknife(sim.model.n)
    m, n = sim.jackknife.n_sub, sim.model.n

    def add(what, se, values, target):
        c = coverage(se, values)
        rows.append(_row("1", what, c["ratio"], c["unc"], target, band_status(c["ratio"], c["unc"]), stats=c))
        return c

    for d, name in enumerate(("X→Y", "Y→X")):
        values = sim.full[:, 0, d]
        c = add(f"Δ({name}) SE at_n / SD", se_of(sim, sim.reps[:, :, 0, d]), values, "0.9-1.1")
        rows.append(_row("1", f"Δ({name}) RMS SE / SD", c["rms"], c["unc"], "0.9-1.1", band_status(c["rms"], c["unc"])))
        if paper.n_sub == m and sim.jackknife.repeats >= paper.repeats:
            add(f"Δ({name}) paper 5x40% sd / SD", se_of(sim, sim.reps[:, : paper.repeats, 0, d], "subset"), values,
                "(old rule)")
        raw = se_of(sim, sim.reps[:, :, 0, d], "subset")
        add(f"Δ({name}) no rescale sd / SD", raw, values, "(mis-scaled)")
        add(f"Δ({name}) sd·√(m/N) / SD", raw * math.sqrt(m / n), values, "(diagnostic)")
        if np.isfinite(sim.boot_se[:, d]).all():
            add(f"Δ({name}) bootstrap SE / SD", sim.boot_se[:, d], values, "(info)")
    return rows


def case_paired_error_bar(sim: Sim) -> list[dict]:
    """Case 2: paired differences' error bars: the null pair, each planted effect, the 2σ copy, the directions."""
    m = sim.model
    pairs = [("null Y0-Y1", 0, 1)] + [(f"Y0-Y(σ+δ{k:g})", 0, c) for k, c in zip(m.effects, m.planted, strict=True)]
    pairs.append(("Y0-Y(2σ)", 0, m.large))
    rows = []
    for name, a, b in pairs:
        value, se = difference(sim, a, b)
        c = coverage(se, value)
        rows.append(_row("2", f"{name} SE/SD", c["ratio"], c["unc"], "0.9-1.1", band_status(c["ratio"], c["unc"]),
                         true_diff=float(value.mean()), stats=c))
    value = sim.full[:, 0, 0] - sim.full[:, 0, 1]
    c = coverage(se_of(sim, sim.reps[:, :, 0, 0] - sim.reps[:, :, 0, 1]), value)
    rows.append(_row("2", "Δ(X→Y0)-Δ(Y0→X) SE/SD", c["ratio"], c["unc"], "0.9-1.1",
                     band_status(c["ratio"], c["unc"]), true_diff=float(value.mean()), stats=c))
    return rows


def _rate_status(r: dict, target: float = ALPHA) -> str:
    return "PASS" if r["lower"] <= target else "MISS"


def case_null(sim: Sim) -> list[dict]:
    """Case 3: the false-positive rate of ``verdict`` on the null difference Y0 − Y1 (both verdicts are false)."""
    value, se = difference(sim, 0, 1)
    v = verdicts(value, se, sim.jackknife.repeats - 1)
    r = rate(v != "inconclusive")
    rows = [_row("3", "null FPR (holds+not)", r["rate"], r["se"], "<=0.05", _rate_status(r), **r)]
    pairs = null_pairs(sim.model)
    if len(pairs) > 1:  # every null pair pooled (correlated claims: no bound)
        hits = [difference(sim, a, b) for a, b in pairs]
        pooled = np.mean([(two_sided_p(x, s, sim.jackknife.repeats - 1) <= ALPHA).mean() for x, s in hits])
        rows.append(_row("3", f"null FPR, {len(pairs)} pairs pooled", float(pooled), None, "~0.05", "(info)"))
    return rows


def case_power(sim: Sim) -> list[dict]:
    """Case 4: the fraction "holds" of ``verdict`` on planted differences vs an oracle that knows the true SD."""
    from scipy import stats

    dof = sim.jackknife.repeats - 1
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
        ratio = power["rate"] / oracle["rate"] if oracle["rate"] else float("nan")
        unc = ratio * math.sqrt((power["se"] / max(power["rate"], 1e-9)) ** 2
                                + (oracle["se"] / max(oracle["rate"], 1e-9)) ** 2)
        rows.append(_row("4", f"power @{effect:.2f} SD (plant {k:g})", power["rate"], power["se"], "", "",
                         effect=effect, stats=power))
        rows.append(_row("4", f"oracle z @{effect:.2f} SD", oracle["rate"], oracle["se"], "", "(t ideal "
                         f"{ideal:.3f})", ideal_t=ideal, stats=oracle))
        rows.append(_row("4", f"power/oracle @{effect:.2f} SD", ratio, unc, ">=0.9",
                         "PASS" if ratio >= POWER_TARGET else ("MISS~" if ratio + 2 * unc >= POWER_TARGET else "MISS"),
                         ideal_ratio=ideal / oracle["rate"] if oracle["rate"] else float("nan")))
    return rows


def case_equivalence(sim: Sim) -> list[dict]:
    """Case 5: TOST with the margin at each planted |difference|: "holds" there (false), and at the null (power)."""
    from scipy import stats

    dof = sim.jackknife.repeats - 1
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
    dof = sim.jackknife.repeats - 1
    p = np.stack([two_sided_p(*difference(sim, a, b), dof) for a, b in pairs], axis=1)  # [D, claims]
    adjusted = np.stack([rs.holm(row) for row in p])
    holm = rate((adjusted <= ALPHA).any(axis=1))
    raw = rate((p <= ALPHA).any(axis=1))
    return [_row("6", f"FWER Holm, {len(pairs)} null claims", holm["rate"], holm["se"], "<=0.05",
                 _rate_status(holm), stats=holm),
            _row("6", f"FWER unadjusted, {len(pairs)} claims", raw["rate"], raw["se"], "(info)", "", stats=raw)]


CASES = (case_error_bar, case_paired_error_bar, case_null, case_power, case_equivalence, case_holm)


def run_block(family: str, n: int, datasets: int, *, copies: int, seed: int = 0, pilot_datasets: int = 40,
              bootstrap: bool = True, progress: bool = False) -> dict:
    """One block: the pilot, the simulation and every case's rows."""
    t0 = time.perf_counter()
    deltas = pilot(family, n, datasets=pilot_datasets, seed=seed + 10_000, model_seed=seed)
    t_pilot = time.perf_counter() - t0
    model = make_model(family, n, deltas=deltas, effects=EFFECTS, copies=copies, seed=seed)
    sim = simulate(model, datasets, seed=seed, bootstrap=bootstrap, progress=progress)
    rows = []
    for case in CASES:
        t = time.perf_counter()
        out = case(sim)
        for r in out:
            r["seconds"] = time.perf_counter() - t
        rows += out
    return dict(family=family, n=n, datasets=datasets, copies=copies, deltas=list(deltas),
                scales=sim.model.scales.tolist(), jackknife=sim.jackknife._asdict(), pilot_s=t_pilot,
                simulate_s=sim.seconds, rows=rows)


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


def print_block(block: dict) -> None:
    """The block's header and one line per row."""
    j = block["jackknife"]
    print(f"\n== {block['family']} N={block['n']}  D={block['datasets']} data sets  jackknife {j['repeats']} x "
          f"{j['n_sub']} ({j['error_bar']})  noise scales {np.round(block['scales'], 3).tolist()}")
    print(f"   simulate {block['simulate_s']:.1f} s (shared by cases 1-6), pilot {block['pilot_s']:.1f} s")
    print(f"   {'case':4s} {'what':40s} {'value':>7s} {'±':>7s}  {'target':12s} {'status':16s} {'t[s]':>5s}")
    for r in block["rows"]:
        print(f"   {r['case']:4s} {r['what']:40s} {_fmt(r['value']):>7s} {_fmt(r['unc']):>7s}  {r['target']:12s} "
              f"{r['status']:16s} {r['seconds']:5.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=None, help="data sets per block (default 200; --quick 30)")
    ap.add_argument("--n", type=int, default=400, help="points per data set (default 400)")
    ap.add_argument("--large-n", type=int, default=1000,
                    help="one more block of the Gaussian family at this N in the full run (0: none)")
    ap.add_argument("--family", action="append", choices=tuple(FAMILIES), help="families (default: all)")
    ap.add_argument("--copies", type=int, default=None,
                    help="base-noise Y copies per data set (default 7: 21 null pairs, 20 Holm claims; --quick 4)")
    ap.add_argument("--no-bootstrap", action="store_true", help="skip the bootstrap row of case 1")
    ap.add_argument("--quick", action="store_true",
                    help="about a minute: 30 data sets, N=400, 4 copies, a 20-data-set pilot, no large-N block")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="PATH", help="write every number here")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    datasets = args.datasets or (30 if args.quick else 200)
    copies = args.copies or (4 if args.quick else 7)
    families = args.family or list(FAMILIES)
    blocks_todo = [(f, args.n, copies) for f in families]
    if args.large_n and not args.quick and "gauss" in families:
        blocks_todo.append(("gauss", args.large_n, 2))  # the large N without the Holm family: the time goes to N
    info = machine()
    print(f"ii-jax calibration: {info['cpu']} ({info['cores']} cores), commit {info['commit']}, python "
          f"{info['python']}, jax {info['jax']} ({info['backend']}), numpy {info['numpy']}")
    print(f"alpha={ALPHA}, planted effects {EFFECTS} true SDs, base noise sigma={SIGMA}, seed={args.seed}")
    t0 = time.perf_counter()
    blocks = []
    for family, n, c in blocks_todo:
        block = run_block(family, n, datasets, copies=c, seed=args.seed, bootstrap=not args.no_bootstrap,
                          pilot_datasets=20 if args.quick else 40, progress=args.progress)
        print_block(block)
        sys.stdout.flush()
        blocks.append(block)
    total = time.perf_counter() - t0
    misses = [(b["family"], b["n"], r["case"], r["what"]) for b in blocks for r in b["rows"]
              if r["status"].startswith("MISS") and r["target"] and not r["target"].startswith("(")]
    print(f"\ntotal {total:.0f} s; {len(misses)} targeted rows miss" + "".join(
        f"\n   MISS {f} N={n} case {c}: {w}" for f, n, c, w in misses))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(machine=info, seed=args.seed, total_s=total, blocks=blocks), fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
