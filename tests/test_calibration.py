"""A small version of benchmarks/bench_calibration.py: the error bars and the verdict rule against the truth.

The benchmark's functions are imported from its file (benchmarks/ is not a package). The slow checks simulate 80
data sets of N=200 per family with a jackknife of 30 subsets of N/5 = 40 points, and fail when a rule loses its
calibration:

* the mean reported SE over the true SD of Δ (and of a paired null difference) must lie in [0.75, 1.6]. The band
  is wide for two reasons. With D = 80 data sets the true SD is itself uncertain by about √((κ − 1)/(4 D)) ≈ 8 %
  (3 sigma ≈ 25 %). And the rule is conservative today: here (seed 11) the ratios are 1.2-1.3 for one Δ and up
  to 1.41 for the paired null difference, and the full benchmark finds 1.13-1.35 at N = 400 and 1000 (the
  delete-d rescale √(m/(N − m)) overstates the error of this nearest-neighbour statistic), so an upper edge at
  1.3 would fail on the library as it is. The band still catches an error bar off by a factor 2 either way;
* mis-scaled error bars must fall outside that band: the raw spread over the subsets (the paper's "subset"
  convention, no rescale: √((N−m)/m) = 2 times too large at m = N/5) and the rescale applied without its square
  root (m/(N−m): 2 times too small) and the replicas' spread over √R (the standard error of their mean, as if they
  were independent draws), so the check can fail;
* the false-positive rate of ``verdict`` on a null difference (two exchangeable copies, true difference exactly 0)
  must stay under a binomial bound, and the same count with the replicas' spread over √R as the error bar (the
  standard error of the replicas' mean, as if they were independent: about 0.37 times the rule's here) must
  exceed it.
"""
import importlib.util
import math
import pathlib

import numpy as np
import pytest
from scipy import stats

from ii_jax import resample as rs

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_calibration.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_calibration", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bc = _load_bench()

N, DATASETS, JACK = 200, 80, (30, 40)
BAND = (0.75, 1.6)


def _in_band(ratio):
    return BAND[0] <= ratio <= BAND[1]


def _null_bound(d, alpha=rs.ALPHA, level=0.001):
    """The largest count of false verdicts among ``d`` null data sets that a rate of ``alpha`` gives with
    probability at least ``level``: a true rate of 5 % exceeds it with probability below 0.1 %."""
    return int(stats.binom.isf(level, d, alpha))


def test_the_benchmarks_error_bars_are_the_librarys():
    model = bc.make_model("bits32", 120, deltas=(0.05,), effects=(1.0,), copies=2)
    sim = bc.simulate(model, 1, seed=3, jackknife=(6, 50), bootstrap=False)
    dx, dys = bc.matrices(model, *bc.points(model, 0, 3))
    key = bc.dataset_key(3, 0)
    est = rs.resample_from_distances(dx, dys[0], n_sub=50, repeats=6, key=key)
    np.testing.assert_allclose(bc.se_of(sim, sim.reps[:, :, 0, :])[0], est.std)
    np.testing.assert_allclose(sim.reps[0, :, 0, :], est.values)
    for b in (1, 2):
        pd = rs.paired_difference(dx, dys[0], dx, dys[b], jackknife=(6, 50), key=key)
        value, se = bc.difference(sim, 0, b)
        assert value[0] == pytest.approx(pd.value) and se[0] == pytest.approx(pd.std)
        assert bc.verdicts(value, se, 5)[0] == rs.verdict(pd)
    dd = rs.direction_difference(dx, dys[0], jackknife=(6, 50), key=key)
    assert bc.se_of(sim, sim.reps[:, :, 0, 0] - sim.reps[:, :, 0, 1])[0] == pytest.approx(dd.std)


def test_the_checks_statistics():
    rng = np.random.default_rng(0)
    values = rng.normal(size=4000)
    c = bc.coverage(np.full(4000, 2.0), 2 * values)
    assert c["ratio"] == pytest.approx(1.0, abs=0.05) and c["unc"] == pytest.approx(1 / math.sqrt(8000), rel=0.1)
    assert bc.band_status(1.0, 0.01) == "PASS" and bc.band_status(1.3, 0.01) == "MISS"
    assert bc.band_status(1.15, 0.05) == "MISS~"
    lo, hi = bc.binomial_bounds(5, 100)
    assert lo < 0.05 < hi and hi == pytest.approx(stats.beta.ppf(0.95, 6, 95))
    assert bc.rate([True] * 3 + [False] * 97)["rate"] == pytest.approx(0.03)
    pairs = bc.null_pairs(bc.make_model("gauss", 10, copies=7))
    assert len(pairs) == bc.HOLM_CLAIMS and all(a < b < 7 for a, b in pairs)


def test_a_pilot_plants_differences_of_the_stated_sign():
    deltas = bc.pilot("gauss", 120, effects=(1.0, 2.0), datasets=6)
    assert 0 < deltas[0] < deltas[1] and deltas[1] == pytest.approx(2 * deltas[0])


@pytest.fixture(scope="module", params=["gauss", "bits32"])
def sim(request):
    model = bc.make_model(request.param, N, copies=2)
    return bc.simulate(model, DATASETS, seed=11, jackknife=JACK, bootstrap=False)


@pytest.mark.slow
def test_error_bars_cover_the_true_spread(sim):
    for d in (0, 1):
        ratio = bc.coverage(bc.se_of(sim, sim.reps[:, :, 0, d]), sim.full[:, 0, d])["ratio"]
        assert _in_band(ratio), (sim.model.family, d, ratio)
    value, se = bc.difference(sim, 0, 1)
    ratio = bc.coverage(se, value)["ratio"]
    assert _in_band(ratio), (sim.model.family, "paired", ratio)


@pytest.mark.slow
def test_mis_scaled_error_bars_are_detected(sim):
    m, n = sim.jackknife.n_sub, sim.model.n
    for d in (0, 1):
        values = sim.full[:, 0, d]
        raw = bc.se_of(sim, sim.reps[:, :, 0, d], "subset")  # the paper's convention: no rescale
        no_sqrt = raw * (m / (n - m))  # the rescale without its square root
        of_mean = raw / math.sqrt(sim.jackknife.repeats)  # the replicas taken as independent draws
        for wrong in (raw, no_sqrt, of_mean):
            assert not _in_band(bc.coverage(wrong, values)["ratio"])


@pytest.mark.slow
def test_null_false_positive_rate(sim):
    value, se = bc.difference(sim, 0, 1)
    dof = sim.jackknife.repeats - 1
    bound = _null_bound(len(value))
    false = int((bc.verdicts(value, se, dof) != "inconclusive").sum())
    assert false <= bound, (sim.model.family, false, bound)
    of_mean = bc.se_of(sim, sim.reps[:, :, 0, 0] - sim.reps[:, :, 1, 0], "subset") / math.sqrt(dof + 1)
    too_small = int((bc.verdicts(value, of_mean, dof) != "inconclusive").sum())
    assert too_small > bound, (sim.model.family, too_small, bound)
