"""The paper's claims (arXiv 2505.17101) as computed verdicts over analysis results.

One function per claim that the offline assets can test. Each takes analysis results (:class:`Profile`,
:class:`WindowSweep`, :class:`TokenDistance`, :class:`ImagePairs`, :class:`ii_jax.synthetic.Curves`, ...) and,
where a difference between two Δ's must be judged, the sources behind them (their ``[N, N]`` distance matrices are
rebuilt with :func:`~ii_jax.analyses.cache.layer_distances`, and the difference gets a *paired* jackknife error bar:
:func:`ii_jax.resample.paired_difference` / :func:`~ii_jax.resample.paired_statistic`, the same subsets for every
Δ). Each returns one :class:`Claim` row: the claim in one line, where the paper shows it, the measured numbers with
error bars, the statistic, the decision rule in words and the verdict it yields — ``"holds"``, ``"does not
hold"``, ``"inconclusive"`` — computed, never written by hand. A claim whose inputs were not run is a row with
verdict ``"not run"`` and the reason (:func:`not_run`), never a silent gap.

Unless a rule says otherwise: a difference counts when it exceeds 2 paired standard errors
(:func:`ii_jax.resample.verdict`); "≈" counts when the whole ±2σ interval of the difference lies inside a stated
tolerance (:func:`ii_jax.resample.equivalence_verdict`). Layer profiles are read in the mean of their two
directions unless the claim is about one direction.
"""
from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Sequence

import jax
import numpy as np

from ii_jax import imbalance as _imb
from ii_jax import resample as _rs
from ii_jax.analyses.cache import layer_distances
from ii_jax.analyses.resampling import _delta
from ii_jax.analyses.sources import _check_paired, features

__all__ = ["Claim", "CLAIMS", "not_run", "claims_table", "p_text", "shuffled_null", "inner_minimum", "larger_model_lower",
           "english_pairs_lower", "english_more_predictive", "more_tokens_saturate", "token_distance_semantic",
           "causal_asymmetry", "binary_close_to_float", "mean_lowers_edges", "overlap_tracks_delta",
           "vision_minimum_late", "caption_at_image_semantic", "synthetic_rank", "synthetic_power"]

ALPHA = _rs.ALPHA
#: Equivalence margins (in units of Δ) of the rules that test "≈" or "flat".
BITS_MARGIN = 0.05
FLAT_MARGIN = 0.02
CAPTION_MARGIN = 0.03


class Claim(NamedTuple):
    """One row of the claims table.

    Attributes:
      id: short key (see :data:`CLAIMS`). claim: the claim in one line. where: where the paper shows it.
      measured: the numbers, with error bars. statistic: the test statistic (e.g. a paired t).
      verdict: one of :data:`ii_jax.resample.VERDICTS`. rule: the decision rule, in words.
      note: how this setting differs from the paper's, disagreements, or why a claim was not run.
      numbers: the same numbers, machine-readable; ``p_holds``/``p_fails`` (the row's one-sided p-values),
        ``p`` (the row's p-value: twice the smaller one, capped at 1) and, once the table is read as a family
        (:func:`adjust`), ``p_holm``.
    """

    id: str
    claim: str
    where: str
    measured: str
    statistic: str
    verdict: str
    rule: str
    note: str
    numbers: dict


_SPLIT = ("the layer is chosen on a random half of the items and tested on the other half (no selection bias)")

#: id -> (claim in one line, where the paper shows it, decision rule).
CLAIMS: dict[str, tuple[str, str, str]] = {
    "null": ("Shuffling the pairing destroys the information: Δ ≈ 1 at every layer", "§2, Fig. 2 (dotted)",
             "the permutation null of every layer, direction and analysis is centred on its exact expectation "
             "N/(N−1): a z-test of each null mean against N/(N−1) (its standard error from the spread over the "
             "permutations), Holm over all of them; holds if none differs at level 0.05, does not hold otherwise"),
    "inner_minimum": ("Δ has an inner minimum: the first and the last layers are significantly higher",
                      "§3.1, Fig. 2a",
                      f"the inner layer of lowest Δ (mean of both directions) is chosen on one half of the items and "
                      f"tested on the other, both ways (cross-fitted): both Δ(first) − Δ(min) and Δ(last) − Δ(min) > 0 "
                      f"(one-sided paired t, both must pass) → holds; "
                      f"either edge significantly below it, or equal to it within ±{FLAT_MARGIN} (two one-sided "
                      f"tests; flat valley) → does not hold"),
    "larger_model": ("A larger model of one family reaches a lower minimum Δ", "§3.1, Fig. 2a",
                     "each model's minimum layer is chosen on one half, tested on the other, both ways: min Δ(large) − "
                     "min Δ(small) < 0 "
                     "(paired t, same items, mean of both directions) → holds; > 0 → does not hold"),
    "english_pairs": ("Language pairs with English reach a lower minimum Δ than pairs without it",
                      "§3.1.1, Fig. 2b",
                      "each pair's minimum layer is chosen on one half, tested on the other, both ways: mean min "
                      "Δ(pairs with English) − mean "
                      "min Δ(pairs without) < 0 (paired t, all pairs on the same verses) → holds; > 0 → does not hold"),
    "english_predictive": ("English representations predict the other language's better: Δ(en→X) < Δ(X→en)",
                           "§3.1.1, Fig. 2b",
                           "at each pair's minimum layer (chosen on one half, tested on the other, both ways) the mean "
                           "over pairs of "
                           "Δ(en→X) − Δ(X→en) < 0 (paired t) → holds; > 0 → does not hold"),
    "more_tokens": ("More tokens lower the minimum Δ, which then saturates", "§3.1.2, Fig. 3a",
                    "minimum layers chosen on one half, tested on the other, both ways: Δ(largest window) − Δ(1 "
                    "token) < 0 AND the drop over "
                    "the upper half of the windows minus 25 % of the total drop < 0 (both paired t) → holds; either "
                    "significantly > 0 → does not hold"),
    "token_distance": ("Δ between the last token and earlier ones grows slowest with τ in the semantic layers",
                       "§3.1.2, Fig. 3b",
                       "the mean over τ of Δ(T→T−τ) at the semantic layer (taken from the translation profile) is "
                       "below both the first and the last layer's (paired jackknife t, both must pass) → holds; "
                       "above either → does not hold"),
    "causal_asymmetry": ("In the inner (semantic) layers English is causally asymmetric: 𝒜 > 0 (earlier tokens "
                         "predict the last one better than the reverse)", "§3.1.2, Fig. 3c, 10",
                         "𝒜 at the semantic layer (taken from the translation profile) > 0 (jackknife t) → holds; "
                         "< 0 → does not hold"),
    "binary_float": ("Sign bits with Hamming distance give the same Δ as clipped, normalised floats",
                     "Supp. G", f"at every layer |Δ_bits − Δ_float| < {BITS_MARGIN} (two one-sided paired t-tests "
                                f"per layer; all layers must pass) → holds; any layer outside ±{BITS_MARGIN} "
                                f"(Bonferroni over layers) → does not hold"),
    "mean_edges": ("Averaging the tokens lowers Δ, most in the first and the last layers", "§3.1, Supp. D",
                   "reduction r = Δ_concat − Δ_mean; the inner minimum layer m chosen on one half, tested on the "
                   "other, both ways: "
                   "(r_first + r_last)/2 − r_m > 0 (paired t) → holds; < 0 → does not hold"),
    "overlap": ("Neighbourhood overlap rises where Δ falls (compatible measures)", "Supp. F",
                "Spearman ρ over layers between Δ and the mutual-kNN overlap, with a jackknife over items (every "
                "replica recomputes both profiles and ρ): ρ < 0 (t) → holds; ρ > 0 → does not hold"),
    "vision_late": ("DINOv2's same-class image pairs reach their minimum Δ near the last layers", "§3.2, Fig. 4a",
                    "the lowest late layer (relative depth ≥ 0.75) and the lowest earlier layer are chosen on one "
                    "half of the pairs, compared on the other, both ways: Δ(late) − Δ(earlier) < 0 (paired t) → holds; "
                    "> 0 → does not hold"),
    "caption_semantic": ("The image–caption minimum lies at the image–image semantic layers", "§3.2, Fig. 4b",
                         f"the cross-modal minimum layer is chosen on one half, tested on the other, both ways: "
                         f"Δ_cross(image–image minimum "
                         f"layer) − Δ_cross(that layer) within ±{CAPTION_MARGIN} (two one-sided paired t-tests) → "
                         f"holds; above +{CAPTION_MARGIN} → does not hold"),
    "synthetic_rank": ("Synthetic: Δ(X→Y) < Δ(Y→X) as the rank of B_r falls, which symmetric CKA cannot show",
                       "Fig. 1 left",
                       "at rank 1 Δ(Y→X) − Δ(X→Y) > 0 (t over the jackknife replicas, both directions' spreads "
                       "combined) and larger than at full rank → holds; < 0 → does not hold; CKA is symmetric by "
                       "construction"),
    "synthetic_power": ("Synthetic: at large p CKA saturates while Δ still resolves the fraction of shared "
                        "components", "Fig. 1 right",
                        "f* = the smallest fraction where CKA ≥ 0.95; f* ≤ 0.1 and Δ(X→Y) at f* − Δ(X→Y) at f = 1 "
                        "> 0 (t) → holds; f* > 0.1 → does not hold"),
}


def _row(cid: str, *, measured: str, statistic: str, numbers: dict, p_holds: float = float("nan"),
         p_fails: float = float("nan"), note: str = "", rule: str | None = None, verdict: str | None = None) -> Claim:
    """One row; the verdict from its p-values (:func:`_row_p`) unless given (``"not run"``)."""
    text, where, default_rule = CLAIMS[cid]
    p_holds, p_fails = float(p_holds), float(p_fails)
    p = _row_p(p_holds, p_fails)
    if verdict is None:
        verdict = _side(p_holds, p_fails) if np.isfinite(p) and p <= ALPHA else "inconclusive"
    if verdict not in _rs.VERDICTS:
        raise ValueError(f"verdict must be one of {_rs.VERDICTS}, got {verdict!r}.")
    if verdict == "does not hold" and not note:
        note = "differs from the paper"
    numbers = dict(numbers, p_holds=p_holds, p_fails=p_fails, p=p)
    return Claim(cid, text, where, measured, statistic, verdict, rule or default_rule, note, _plain(numbers))


def _row_p(p_holds: float, p_fails: float) -> float:
    """A row's p-value: twice the smaller of its two one-sided p-values (a two-sided test), capped at 1."""
    ps = [p for p in (p_holds, p_fails) if np.isfinite(p)]
    return float(min(1.0, 2 * min(ps))) if ps else float("nan")


def _side(p_holds: float, p_fails: float) -> str:
    ph = p_holds if np.isfinite(p_holds) else np.inf
    pf = p_fails if np.isfinite(p_fails) else np.inf
    return "holds" if ph <= pf else "does not hold"


def adjust(rows: Sequence[Claim], *, alpha: float = ALPHA) -> list[Claim]:
    """The table read as one family: Holm's adjustment over every row's p-value, then each verdict anew.

    A row keeps "holds" / "does not hold" only if its Holm-adjusted p-value (``numbers["p_holm"]``) is at most
    ``alpha``; the family-wise rate of any false verdict is then at most ``alpha``. Rows without a p-value (not
    run) are left out of the family, and so is the null row, a family of its own (every layer, Holm inside it).

    Examples:
      >>> from ii_jax.analyses import claims as C
      >>> rows = [C._row("overlap", measured="", statistic="", numbers={}, p_holds=p, p_fails=1.0)
      ...         for p in (0.001, 0.02, 0.02)]
      >>> [r.verdict for r in rows], [r.verdict for r in C.adjust(rows)]
      (['holds', 'holds', 'holds'], ['holds', 'inconclusive', 'inconclusive'])
    """
    p = np.array([np.nan if r.verdict == "not run" or r.numbers.get("own_family") or r.numbers.get("p") is None
                  else float(r.numbers["p"]) for r in rows])
    adj = _rs.holm(p)
    out = []
    for r, pa in zip(rows, adj, strict=True):
        if not np.isfinite(pa):
            out.append(r)
            continue
        nums = dict(r.numbers, p_holm=float(pa))
        v = _side(nums["p_holds"] if nums["p_holds"] is not None else np.nan,
                  nums["p_fails"] if nums["p_fails"] is not None else np.nan) if pa <= alpha else "inconclusive"
        note = r.note
        if v != r.verdict:
            note = (f"{r.verdict} on its own (p = {nums['p']:.2g}), not after Holm over {int(np.isfinite(p).sum())} "
                    f"rows (p = {pa:.2g})")
        out.append(r._replace(verdict=v, numbers=_plain(nums), note=note))
    return out


def _plain(v):
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in (v.tolist() if isinstance(v, np.ndarray) else v)]
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def not_run(cid: str, why: str) -> Claim:
    """The row of a claim whose inputs were not run: verdict ``"not run"`` and why."""
    return _row(cid, measured="—", statistic="—", verdict="not run", numbers={}, note=why)


def p_text(numbers: dict | None) -> str:
    """A row's p-value as every table shows it: two significant digits, Holm's adjustment in brackets, "—" without.

    Examples:
      >>> p_text({"p": 0.01234, "p_holm": 0.0456}), p_text({"p": 0.5}), p_text({})
      ('0.012 (0.046)', '0.5', '—')
    """
    v, h = (numbers or {}).get("p"), (numbers or {}).get("p_holm")
    return "—" if v is None else f"{v:.2g}" + (f" ({h:.2g})" if h is not None else "")


def claims_table(rows: Sequence[Claim]) -> tuple[list[str], list[list[Any]]]:
    """``(header, rows)`` for :func:`ii_jax.cli.report.write_report` (one line per claim)."""
    header = ["claim", "paper", "measured", "statistic", "p (Holm)", "verdict", "rule", "note"]
    return header, [[r.claim, r.where, r.measured, r.statistic, p_text(r.numbers), r.verdict, r.rule, r.note]
                    for r in rows]


# ----------------------------------------------------------------------------------------------------------------
# helpers

def _pm(v, s) -> str:
    v, s = float(v), float(s)
    return f"{v:.3f}" if not np.isfinite(s) else f"{v:.3f} ± {s:.3f}"


def _zs(d: _rs.PairedDifference) -> str:
    return f"{d.value:+.3f} ± {d.std:.3f} (t = {d.z:+.1f})"


def _jk(d: _rs.PairedDifference, crossfit: bool = False) -> str:
    if crossfit:
        return f"{_CROSS}; each half's paired jackknife: {d.jackknife.repeats} random splits (SE at N = {d.n})"
    j = d.jackknife
    if j.error_bar == "halves":
        return f"paired jackknife: {j.repeats} random splits into halves of N = {d.n} (SE at N)"
    what = "SE at N" if j.error_bar == "delete_d" else "raw spread at the subset size"
    return f"paired jackknife {j.repeats} × {j.n_sub} of N = {d.n} ({what})"


def _mean_dir(values) -> np.ndarray:
    return np.asarray(values, np.float64).mean(axis=-1)


def _argmin_layer(profile) -> int:
    return int(profile.layers[int(np.nanargmin(_mean_dir(profile.values)))])


def _depth_of(profile, layer) -> float:
    return float(np.asarray(profile.relative_depth)[list(profile.layers).index(layer)])


def _mats(a, b, layer, params: dict | None, *, tokens=None, representation=None, idx=None):
    p = params or {}
    tokens = int(tokens if tokens is not None else p.get("tokens", 20))
    rep = representation or p.get("representation", "concat")
    skip = int(p.get("drop_last", p.get("skip_last", 0)) or 0)  # profiles written before the rename say skip_last
    if idx is not None and rep in ("concat", "last"):
        # A half's Hamming matrix from its own items' bits: a quarter of the full matrix's work, the same integers
        return tuple(np.asarray(_imb.distance_matrix(np.asarray(x)[idx], metric=metric))
                     for x, metric in (features(s, layer, representation=rep, tokens=tokens, drop_last=skip)
                                       for s in (a, b)))
    dx = layer_distances(a, layer, representation=rep, tokens=tokens, drop_last=skip)
    dy = layer_distances(b, layer, representation=rep, tokens=tokens, drop_last=skip)
    if idx is not None:  # float distances: gathered from the full matrix, so a half reads exactly its entries
        dx, dy = np.asarray(dx)[np.ix_(idx, idx)], np.asarray(dy)[np.ix_(idx, idx)]
    return dx, dy


def _key(key):
    return jax.random.key(0) if key is None else key


def _zval(value: float, std: float) -> float:
    value, std = float(value), float(std)
    if np.isfinite(std) and std > 0:
        return value / std
    return float("nan") if value == 0 or not np.isfinite(std) else float(np.copysign(np.inf, value))


def halves(n: int, key) -> tuple[np.ndarray, np.ndarray]:
    """A random split of ``range(n)`` into a selection half A and a test half B (sorted indices).

    A rule that must pick a layer (a minimum) picks it on A and tests it on B, so the test is not biased by the
    selection.

    Examples:
      >>> import jax
      >>> from ii_jax.analyses.claims import halves
      >>> a, b = halves(10, jax.random.key(0))
      >>> len(a), len(b), sorted(set(a) | set(b)) == list(range(10))
      (5, 5, True)
    """
    perm = _rs._seed(jax.random.fold_in(key, 0x5E1EC7)).permutation(int(n))
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2:])


def _half_jackknife(jackknife, n: int, n_half: int):
    """The jackknife ``jackknife`` (meant for ``n`` points) for a half of ``n_half`` points: the same repeats and
    error bar, the same subset fraction.
    """
    j = _rs.as_jackknife(jackknife, n)
    if j is None:
        raise ValueError("a claim's paired error bar needs a jackknife; got jackknife=None.")
    return _rs.Jackknife(j.repeats, max(3, min(n_half - 1, int(round(j.n_sub * n_half / n)))), j.error_bar)


def _deltas_on(a, b, layers, params, idx, **kw) -> np.ndarray:
    """Δ ``[len(layers), 2]`` of every layer on the items ``idx`` (the selection half)."""
    return np.array([_delta(*_mats(a, b, la, params, idx=idx, **kw), k=1, ties="average") for la in layers])


def _average(x: _rs.PairedDifference, y: _rs.PairedDifference) -> _rs.PairedDifference:
    """Two estimates of one statistic from the two disjoint halves, averaged: the standard errors combine as
    independent (the halves share no item).
    """
    value = (x.value + y.value) / 2
    std = float(np.hypot(x.std, y.std) / 2)
    return _rs.PairedDifference(value, std, _zval(value, std), (x.parts + y.parts) / 2,
                                (x.replicas + y.replicas) / 2, (x.part_replicas + y.part_replicas) / 2, x.n + y.n,
                                x.jackknife)


def _crossfit(n: int, key, jackknife, choose, test):
    """Choose on one half of the items, test on the other, both ways, and average (cross-fitting).

    ``choose(idx)`` returns a choice (e.g. a layer) made from the items ``idx`` only; ``test(idx, choice, jk)``
    returns a list of :class:`~ii_jax.resample.PairedDifference` computed on the items ``idx`` with the jackknife
    ``jk``. Each half's test is independent of the choice it tests, so the average is free of selection bias, and
    every item is used for testing once.

    Returns:
      ``(averaged differences, (choice on half A, choice on half B))``.
    """
    ia, ib = halves(n, key)
    ca, cb = choose(ia), choose(ib)
    ra = test(ib, ca, _half_jackknife(jackknife, n, len(ib)))
    rb = test(ia, cb, _half_jackknife(jackknife, n, len(ia)))
    return [_average(x, y) for x, y in zip(ra, rb, strict=True)], (ca, cb)


def _choices(c) -> str:
    return str(c[0]) if c[0] == c[1] else f"{c[0]} and {c[1]}"


_CROSS = "layers chosen on one half of the items and tested on the other, both ways"


def _sign(d, expect: str):
    return _rs.sign_test(d, expect=expect)


def _inner(lays):
    return lays[1:-1] if len(lays) > 2 else lays


# ----------------------------------------------------------------------------------------------------------------
# text: layer profiles

def _null_sd(r, null) -> np.ndarray:
    """The spread of one permutation's Δ, per layer and direction: from the null band (2.5 % to 97.5 %, ±1.96 SD
    of a near-normal permutation distribution) when the result has one, else the uniform-rank approximation
    2/√(12 N) for a single permutation.
    """
    band = getattr(r, "null_band", None)
    if band is not None and np.isfinite(np.asarray(band, np.float64)).any():
        b = np.asarray(band, np.float64)
        return (b[..., 1] - b[..., 0]) / (2 * 1.959964)
    n = int(getattr(r, "n_pairs", None) or r.n)
    return np.full(np.shape(null), 2 / np.sqrt(12 * n))


def _null_permutations(r) -> int:
    p = (getattr(r, "params", None) or {}).get("null_permutations") or (getattr(r, "params", None) or {}).get("null")
    return int(p) if isinstance(p, (int, np.integer)) and not isinstance(p, bool) else 1


def shuffled_null(results: Mapping[str, Any], *, alpha: float = ALPHA) -> Claim:
    """Every permutation null of ``results`` (``{name: Profile or ImagePairs}``) centred on N/(N−1).

    Under a random pairing the rank of the nearest neighbour is uniform on the others' mid-ranks, so the null Δ
    has expectation exactly N/(N−1). Each layer's null (the mean of P permutations) is tested against it with the
    standard error SD/√P (SD: the permutation spread); all layers, directions and analyses are one family (Holm).
    """
    per, ps, bad = {}, [], []
    for name, r in results.items():
        null = np.asarray(r.null, np.float64)
        if not np.isfinite(null).any():
            continue
        n = int(getattr(r, "n_pairs", None) or r.n)
        expected = n / (n - 1)
        perms = _null_permutations(r)
        sd = _null_sd(r, null)
        if sd.ndim > null.ndim:  # ImagePairs: the null is the mean of both directions; their spreads bound its own
            sd = sd.mean(axis=-1)
        se = sd / np.sqrt(perms)
        z = (null - expected) / se
        p = np.asarray(_rs.t_p_value(z, np.inf), np.float64)
        width = 2 * 1.959964 * (sd if sd.ndim == 1 else sd.max(axis=-1))  # the band's width per layer
        per[name] = {"mean": float(np.nanmean(null)), "expected": expected, "max_abs_z": float(np.nanmax(np.abs(z))),
                     "permutations": perms, "n": n, "largest_deviation": float(np.nanmax(np.abs(null - expected))),
                     "widest_band": float(np.nanmax(width)), "widest_band_layer": int(r.layers[int(np.nanargmax(width))]),
                     "uniform_rank_width": float(2 * 1.959964 * 2 / np.sqrt(12 * n))}
        ps.append((name, p.ravel()))
    if not per:
        return not_run("null", "no result with a shuffled null was computed")
    allp = np.concatenate([p for _, p in ps])
    adj = _rs.holm(allp)
    k = 0
    for name, p in ps:
        a = adj[k:k + len(p)]
        k += len(p)
        if np.nanmin(a) <= alpha:
            bad.append(name)
    p_min = float(np.nanmin(adj))
    means = [v["mean"] for v in per.values()]
    worst = max(per, key=lambda x: per[x]["max_abs_z"])
    wide = max(per, key=lambda x: per[x]["widest_band"] / per[x]["uniform_rank_width"])
    w = per[wide]
    return _row("null", measured=f"null {min(means):.3f}–{max(means):.3f} (mean over layers) in {len(per)} "
                                 f"analyses, {len(allp)} layer-directions; expectation N/(N−1); widest band "
                                 f"{w['widest_band']:.2f} ({wide}, layer {w['widest_band_layer']}; "
                                 f"{w['widest_band'] / w['uniform_rank_width']:.1f}× the width of independent "
                                 f"uniform ranks)",
                statistic=f"largest |z| = {per[worst]['max_abs_z']:.1f} ({worst}); smallest Holm p = {p_min:.2g}",
                numbers=dict(per=per, p_holm_min=p_min, own_family=True), p_holds=float("nan"),
                p_fails=p_min / 2,  # the row's p is twice this: the family's smallest adjusted p-value
                verdict="does not hold" if bad else "holds",
                note=("outside: " + ", ".join(bad)) if bad else "")


def _pick(layers, values) -> int:
    return int(layers[int(np.nanargmin(values))])


def inner_minimum(profile, a, b, *, jackknife="auto", key=None, name: str = "") -> Claim:
    """The minimum of ``profile`` (mean of both directions) is inner: first and last layers significantly higher.

    The inner layer of lowest Δ is chosen on one random half of the items and tested on the other by paired
    jackknife differences, both ways (:func:`halves`), so the choice does not bias the test.

    Args:
      profile: a :class:`~ii_jax.analyses.Profile` of sources ``a``, ``b`` (its ``params`` give the window).
      jackknife, key: the paired jackknife of each half (default ``"auto"``) and the key of the halves and subsets
        (default ``jax.random.key(0)``).
      name: the model, shown in the row.
    """
    key = _key(key)
    lays = [int(x) for x in profile.layers]
    first, last = lays[0], lays[-1]
    v = _mean_dir(profile.values)
    label = f"{name}: " if name else ""
    inner = _inner(lays)

    def choose(idx):
        return _pick(inner, _mean_dir(_deltas_on(a, b, inner, profile.params, idx)))

    def test(idx, m, jk):
        mats = [_mats(a, b, la, profile.params, idx=idx) for la in (first, m, last)]
        return _rs.paired_statistic(mats, [lambda d, i=i: float(d[i].mean() - d[1].mean()) for i in (0, 2)],
                                    jackknife=jk, key=key)

    (d_first, d_last), chosen = _crossfit(len(a), key, jackknife, choose, test)
    hf, ff = _sign(d_first, "positive")
    hl, fl = _sign(d_last, "positive")
    flat_f = _rs.equivalence_test(d_first, tolerance=FLAT_MARGIN)[0]
    flat_l = _rs.equivalence_test(d_last, tolerance=FLAT_MARGIN)[0]
    p_holds = max(hf, hl)  # both edges must be higher (intersection-union)
    p_fails = min(1.0, 4 * min(ff, fl, flat_f, flat_l))  # any edge lower or level with it (Bonferroni over 4)
    m = chosen[0]
    nums = {"model": name, "min_layers": list(chosen), "min_depth": _depth_of(profile, m), "first": float(v[0]),
            "last": float(v[-1]), "first_minus_min": d_first.value, "first_minus_min_std": d_first.std,
            "last_minus_min": d_last.value, "last_minus_min_std": d_last.std}
    return _row("inner_minimum",
                measured=f"{label}lowest inner layer {_choices(chosen)} (depth {nums['min_depth']:.2f}); all N: first "
                         f"{v[0]:.3f}, layer {m} {v[lays.index(m)]:.3f}, last {v[-1]:.3f}",
                statistic=f"first − min {_zs(d_first)}; last − min {_zs(d_last)}; {_jk(d_first, True)}",
                numbers=nums, p_holds=p_holds, p_fails=p_fails)


def larger_model_lower(small, large, *, jackknife="auto", key=None, names=("small", "large")) -> Claim:
    """Min Δ of the larger model below the smaller one's, paired over the same items (each model's minimum layer
    chosen on one half, the difference tested on the other, both ways).

    Args:
      small, large: ``(profile, a, b)`` each: a profile and its two sources; all four sources hold the same items.
      names: the two models, shown in the row.
    """
    (ps, sa, sb), (pl, la, lb) = small, large
    _check_paired(sa, la)
    key = _key(key)

    def choose(idx):
        return (_pick(ps.layers, _mean_dir(_deltas_on(sa, sb, [int(x) for x in ps.layers], ps.params, idx))),
                _pick(pl.layers, _mean_dir(_deltas_on(la, lb, [int(x) for x in pl.layers], pl.params, idx))))

    def test(idx, c, jk):
        return [_rs.paired_difference(*_mats(la, lb, c[1], pl.params, idx=idx), *_mats(sa, sb, c[0], ps.params, idx=idx),
                                      jackknife=jk, key=key, direction="mean")]

    (d,), chosen = _crossfit(len(sa), key, jackknife, choose, test)
    ms, ml = [c[0] for c in chosen], [c[1] for c in chosen]
    nums = {"small": names[0], "large": names[1], "min_small": d.b, "layers_small": ms, "min_large": d.a,
            "layers_large": ml, "difference": d.value, "std": d.std, "z": d.z}
    h, f = _sign(d, "negative")
    return _row("larger_model", measured=f"min Δ {names[0]} {d.b:.3f} (layer {_choices(ms)}), {names[1]} {d.a:.3f} "
                                         f"(layer {_choices(ml)}); N = {len(sa)}",
                statistic=f"large − small {_zs(d)}; {_jk(d, True)}", numbers=nums, p_holds=h, p_fails=f,
                note="" if d.value < 0 else f"our {names[1]} does not reach a lower minimum than {names[0]}")


def _pair_name(p) -> str:
    return f"{p[0]}–{p[1]}"


def _pair_minima(pairs, keys):
    """``(choose, mats)``: each pair's minimum layer chosen on given items, and the chosen layers' matrices on
    other items.
    """
    first_src = pairs[keys[0]][1]
    for p in keys:
        _check_paired(first_src, pairs[p][1])

    def choose(idx):
        return [_pick(pairs[p][0].layers, _mean_dir(_deltas_on(pairs[p][1], pairs[p][2],
                                                               [int(x) for x in pairs[p][0].layers],
                                                               pairs[p][0].params, idx))) for p in keys]

    def mats(idx, lays):
        return [_mats(pairs[p][1], pairs[p][2], la, pairs[p][0].params, idx=idx) for p, la in zip(keys, lays,
                                                                                                 strict=True)]

    return choose, mats


def english_pairs_lower(pairs: Mapping[tuple[str, str], tuple], *, english: str = "en", jackknife="auto",
                        key=None) -> Claim:
    """Mean minimum Δ of the pairs with English below that of the pairs without it (paired: the same verses; each
    pair's minimum layer chosen on one half, tested on the other, both ways).

    Args:
      pairs: ``{(lang_a, lang_b): (profile, a, b)}``, every source over the same items.
    """
    keys = list(pairs)
    with_en = [p for p in keys if english in p]
    without = [p for p in keys if english not in p]
    if not with_en or not without:
        return not_run("english_pairs", f"needs pairs with and without {english!r}; got {[_pair_name(p) for p in keys]}")
    key = _key(key)
    choose, mats = _pair_minima(pairs, keys)
    iw = [keys.index(p) for p in with_en]
    io = [keys.index(p) for p in without]

    def stat(v):
        m = v.mean(axis=1)
        return float(m[iw].mean() - m[io].mean())

    def test(idx, lays, jk):
        return [_rs.paired_statistic(mats(idx, lays), stat, jackknife=jk, key=key)]

    (d,), chosen = _crossfit(len(pairs[keys[0]][1]), key, jackknife, choose, test)
    per = d.parts.reshape(-1, 2).mean(axis=1)
    nums = {"pairs": {_pair_name(p): {"min": float(per[i]), "layers": [chosen[0][i], chosen[1][i]]}
                      for i, p in enumerate(keys)},
            "mean_with": float(per[iw].mean()), "mean_without": float(per[io].mean()), "difference": d.value,
            "std": d.std, "z": d.z}
    show = ", ".join(f"{_pair_name(p)} {per[i]:.3f}" for i, p in enumerate(keys))
    h, f = _sign(d, "negative")
    return _row("english_pairs",
                measured=f"with {english}: {nums['mean_with']:.3f} ({len(iw)} pairs), without: "
                         f"{nums['mean_without']:.3f} ({len(io)}); {show}",
                statistic=f"with − without {_zs(d)}; {_jk(d, True)}", numbers=nums, p_holds=h, p_fails=f)


def english_more_predictive(pairs: Mapping[tuple[str, str], tuple], *, english: str = "en", jackknife="auto",
                            key=None) -> Claim:
    """Δ(en→X) < Δ(X→en) at each pair's minimum layer, averaged over the pairs with English (paired; the layers
    chosen on one half, tested on the other, both ways).

    Args:
      pairs: ``{(lang_a, lang_b): (profile, a, b)}``; only pairs holding ``english`` are used (either order).
    """
    keys = [p for p in pairs if english in p]
    if not keys:
        return not_run("english_predictive", f"no language pair with {english!r} was run")
    key = _key(key)
    choose, mats = _pair_minima(pairs, keys)
    sg = np.array([1.0 if p[0] == english else -1.0 for p in keys])

    def test(idx, lays, jk):
        m = mats(idx, lays)
        return _rs.paired_statistic(m, [lambda v: float(np.mean(sg * (v[:, 0] - v[:, 1])))]
                                    + [lambda v, i=i: float(sg[i] * (v[i, 0] - v[i, 1])) for i in range(len(keys))],
                                    jackknife=jk, key=key)

    (d, *each), chosen = _crossfit(len(pairs[keys[0]][1]), key, jackknife, choose, test)
    v = d.parts.reshape(-1, 2)
    per = {}
    for i, p in enumerate(keys):
        other = p[1] if p[0] == english else p[0]
        per[other] = {"en_to_x": float(v[i, 0] if sg[i] > 0 else v[i, 1]),
                      "x_to_en": float(v[i, 1] if sg[i] > 0 else v[i, 0]), "difference": each[i].value,
                      "std": each[i].std, "layers": [chosen[0][i], chosen[1][i]]}
    h, f = _sign(d, "negative")
    show = ", ".join(f"{x}: {q['difference']:+.3f}±{q['std']:.3f}" for x, q in per.items())
    return _row("english_predictive",
                measured=f"Δ(en→X) − Δ(X→en) per X: {show}",
                statistic=f"mean over {len(keys)} pairs {_zs(d)}; {_jk(d, True)}",
                numbers={"pairs": per, "difference": d.value, "std": d.std, "z": d.z}, p_holds=h, p_fails=f)


def more_tokens_saturate(sweep, a, b, *, jackknife="auto", key=None, saturation: float = 0.25) -> Claim:
    """Min Δ over layers falls from 1 token to the largest window, and the fall saturates (minimum layers chosen on
    one half, tested on the other, both ways).

    Args:
      sweep: a :class:`~ii_jax.analyses.WindowSweep` of sources ``a``, ``b``.
      saturation: the largest share of the total drop allowed over the upper half of the windows.
    """
    w = [int(x) for x in sweep.windows]
    if len(w) < 3:
        return not_run("more_tokens", f"the sweep has {len(w)} windows; at least 3 are needed")
    key = _key(key)
    lo, hi = int(np.argmin(w)), int(np.argmax(w))
    mid = max((i for i in range(len(w)) if w[i] <= w[hi] / 2), key=lambda i: w[i], default=lo)
    lays = [int(x) for x in sweep.layers]

    def choose(idx):
        return [_pick(lays, _mean_dir(_deltas_on(a, b, lays, None, idx, tokens=w[i]))) for i in (lo, mid, hi)]

    def fall(v):
        m = v.mean(axis=1)
        return float(m[2] - m[0])

    def late(v):
        m = v.mean(axis=1)
        return float((m[1] - m[2]) - saturation * (m[0] - m[2]))

    def test(idx, c, jk):
        mats = [_mats(a, b, la, None, tokens=w[i], idx=idx) for la, i in zip(c, (lo, mid, hi), strict=True)]
        return _rs.paired_statistic(mats, [fall, late], jackknife=jk, key=key)

    (d, s), chosen = _crossfit(len(a), key, jackknife, choose, test)
    hf, ff = _sign(d, "negative")
    hs, fs = _sign(s, "negative")
    p_holds = max(hf, hs)
    p_fails = min(1.0, 2 * min(ff, fs))
    mins = np.nanmin(_mean_dir(sweep.values), axis=1)
    nums = {"windows": w, "minimum": mins, "layers": [list(c) for c in chosen], "difference": d.value,
            "std": d.std, "z": d.z, "late_minus_share": s.value, "late_minus_share_std": s.std}
    curve = ", ".join(f"{x}: {m:.3f}" for x, m in zip(w, mins, strict=True))
    return _row("more_tokens", measured=f"min Δ by tokens (all N) {curve}",
                statistic=f"Δ({w[hi]}) − Δ({w[lo]}) {_zs(d)}; drop {w[mid]}→{w[hi]} − {saturation:.0%} of "
                          f"the total {_zs(s)}; {_jk(d, True)}",
                numbers=nums, p_holds=p_holds, p_fails=p_fails,
                note="" if s.value < 0 or d.value > 0 else "no saturation within the stored window")


def token_distance_semantic(td, semantic, src=None, *, jackknife="auto", key=None) -> Claim:
    """The mean over τ of Δ(T→T−τ) at the semantic layer is below the first and the last layer's (the curves grow
    slowest in the semantic layers).

    Args:
      td: a :class:`~ii_jax.analyses.TokenDistance` of one language. semantic: the model's
        :class:`~ii_jax.analyses.SemanticLayers` (from a translation profile: the layer is not chosen from ``td``).
      src: the source ``td`` was computed from: the paired jackknife rebuilds its per-token distances (without
        it the row has no error bar and stays inconclusive).
    """
    from ii_jax.analyses.cache import TokenDistances

    level = np.asarray(td.backward, np.float64).mean(axis=1)  # [L] mean over τ
    lays = [int(x) for x in td.layers]
    layer = semantic.layer if semantic.layer in lays else lays[int(np.argmin(np.abs(
        np.asarray(td.relative_depth) - semantic.relative_depth)))]
    i = lays.index(layer)
    nums = {"layer": layer, "level": level, "first": float(level[0]), "at_semantic": float(level[i]),
            "last": float(level[-1]), "semantic_region_depth": list(semantic.region_depth)}
    measured = (f"mean over τ = 1..{len(td.taus)} of Δ(T→T−τ): first layer {level[0]:.3f}, semantic layer {layer} "
                f"{level[i]:.3f}, last {level[-1]:.3f}; lowest at layer {lays[int(np.nanargmin(level))]}")
    if src is None:
        return _row("token_distance", measured=measured, statistic="no error bar (source not given)", numbers=nums)
    taus = [int(t) for t in td.taus]
    mats = []
    for la in (lays[0], layer, lays[-1]):
        cache = TokenDistances(src, la)
        last = cache.token(0)
        mats += [(last, cache.token(t)) for t in taus]
    t = len(taus)

    def stat(j):
        return lambda v: float(v[t:2 * t, 0].mean() - v[j * t:(j + 1) * t, 0].mean())

    key = _key(key)
    d_first, d_last = _rs.paired_statistic(mats, [stat(0), stat(2)], jackknife=jackknife, key=key)
    hf, ff = _sign(d_first, "negative")
    hl, fl = _sign(d_last, "negative")
    nums.update(semantic_minus_first=d_first.value, semantic_minus_first_std=d_first.std,
                semantic_minus_last=d_last.value, semantic_minus_last_std=d_last.std)
    return _row("token_distance", measured=measured,
                statistic=f"semantic − first {_zs(d_first)}; semantic − last {_zs(d_last)}; {_jk(d_first)}",
                numbers=nums, p_holds=max(hf, hl), p_fails=min(1.0, 2 * min(ff, fl)))


def _dof(result) -> float:
    j = (getattr(result, "params", None) or {}).get("jackknife") or {}
    return max(int(j.get("repeats", 0)) - 1, 1) if j else np.inf


def causal_asymmetry(td, semantic, *, others: Mapping[str, Any] | None = None, language: str = "en") -> Claim:
    """𝒜 > 0 for English at the semantic layer (jackknife standard error ``td.asymmetry_std``, t with R − 1
    degrees of freedom).

    Args:
      td: the English :class:`~ii_jax.analyses.TokenDistance` (with ``jackknife`` for the error bar).
      semantic: the model's :class:`~ii_jax.analyses.SemanticLayers`. others: ``{language: TokenDistance}`` shown
        beside it.
    """
    lays = list(td.layers)
    layer = semantic.layer if semantic.layer in lays else lays[int(np.argmin(np.abs(
        np.asarray(td.relative_depth) - semantic.relative_depth)))]
    i = lays.index(layer)
    a, s = float(td.asymmetry[i]), float(td.asymmetry_std[i])
    h, f = _rs.sign_test((a, s), expect="positive", dof=_dof(td))
    oth = {}
    for lang, t in (others or {}).items():
        j = list(t.layers).index(layer) if layer in list(t.layers) else None
        if j is not None:
            oth[lang] = {"asymmetry": float(t.asymmetry[j]), "std": float(t.asymmetry_std[j])}
    show = "; others: " + ", ".join(f"{k} {_pm(v['asymmetry'], v['std'])}" for k, v in oth.items()) if oth else ""
    return _row("causal_asymmetry", measured=f"{language} 𝒜 = {_pm(a, s)} at layer {layer}{show}",
                statistic=f"t = {_zval(a, s):+.1f} (jackknife over points, SE at N)",
                numbers={"language": language, "layer": layer, "asymmetry": a, "std": s, "others": oth},
                p_holds=h, p_fails=f)


def binary_close_to_float(binary, floats, a, b, *, tolerance: float = BITS_MARGIN, jackknife="auto",
                          key=None) -> Claim:
    """Δ on sign bits ≈ Δ on clipped, normalised floats at every layer (paired equivalence tests, all layers).

    Args:
      binary, floats: profiles of the same sources ``a``, ``b`` (``representation="concat"`` and ``"float"``).
      tolerance: the equivalence margin on ``|Δ_bits − Δ_float|`` (mean of both directions).
    """
    key = _key(key)
    lays = [int(x) for x in binary.layers if x in list(floats.layers)]
    rows = []
    for la in lays:
        d = _rs.paired_difference(*_mats(a, b, la, binary.params), *_mats(a, b, la, floats.params),
                                  jackknife=jackknife, key=key, direction="mean")
        rows.append((la, d, *_rs.equivalence_test(d, tolerance=tolerance)))
    p_holds = max(r[2] for r in rows)  # every layer inside the margin (intersection-union)
    p_fails = min(1.0, len(rows) * min(r[3] for r in rows))  # some layer outside (Bonferroni over layers)
    diffs = np.array([r[1].value for r in rows])
    stds = np.array([r[1].std for r in rows])
    j = int(np.argmax(np.abs(diffs)))
    inside = int(sum(r[2] <= ALPHA for r in rows))
    return _row("binary_float",
                measured=f"bits − floats over {len(lays)} layers: |difference| up to {abs(diffs[j]):.3f} (layer "
                         f"{lays[j]}: bits {rows[j][1].a:.3f}, floats {rows[j][1].b:.3f}); {inside} of {len(lays)} "
                         f"layers shown within ±{tolerance}",
                statistic=f"largest: {_zs(rows[j][1])}; {_jk(rows[j][1])}",
                numbers={"layers": lays, "difference": diffs, "std": stds, "tolerance": tolerance,
                         "layers_within": inside},
                p_holds=p_holds, p_fails=p_fails)


def mean_lowers_edges(concat, mean, a, b, *, jackknife="auto", key=None) -> Claim:
    """Averaging the tokens lowers Δ most in the first and the last layers (paired over 6 Δ's; the inner minimum
    layer chosen on one half, tested on the other, both ways).

    Args:
      concat, mean: profiles of the same sources ``a``, ``b`` (``representation="concat"`` and ``"mean"``).
    """
    key = _key(key)
    lays = [int(x) for x in concat.layers]
    first, last = lays[0], lays[-1]
    inner = _inner(lays)

    def choose(idx):
        return _pick(inner, _mean_dir(_deltas_on(a, b, inner, concat.params, idx)))

    def stat(v):
        r = v[0::2].mean(axis=1) - v[1::2].mean(axis=1)  # reduction per layer: first, middle, last
        return float((r[0] + r[2]) / 2 - r[1])

    def test(idx, m, jk):
        mats = []
        for layer in (first, m, last):
            mats += [_mats(a, b, layer, concat.params, idx=idx), _mats(a, b, layer, mean.params, idx=idx)]
        return [_rs.paired_statistic(mats, stat, jackknife=jk, key=key)]

    (d,), chosen = _crossfit(len(a), key, jackknife, choose, test)
    v = d.parts.reshape(-1, 2).mean(axis=1)
    red = v[0::2] - v[1::2]
    all_r = _mean_dir(concat.values) - np.array([_mean_dir(mean.values)[list(mean.layers).index(x)] for x in lays])
    h, f = _sign(d, "positive")
    m = _choices(chosen)
    return _row("mean_edges",
                measured=f"Δ_concat − Δ_mean: first layer {red[0]:+.3f}, layer {m} {red[1]:+.3f}, last layer "
                         f"{red[2]:+.3f}; all N: averaging lowers Δ at {int((all_r > 0).sum())} of {len(lays)} layers",
                statistic=f"(r_first + r_last)/2 − r_min {_zs(d)}; {_jk(d, True)}",
                numbers={"layers": [first, list(chosen), last], "reduction": red, "difference": d.value,
                         "std": d.std, "z": d.z, "reduction_per_layer": all_r},
                p_holds=h, p_fails=f)


def _spearman(x, y) -> float:
    def ranks(v):
        v = np.asarray(v, np.float64)
        order = np.argsort(v, kind="mergesort")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for u in np.unique(v):  # average ties
            r[v == u] = r[v == u].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def overlap_tracks_delta(profile, overlap, a=None, b=None, *, cka=None, k: int = 10, jackknife="auto",
                         key=None) -> Claim:
    """Spearman ρ over layers between Δ (mean of both directions) and the mutual-kNN overlap, with a jackknife over
    items: every replica recomputes Δ and the overlap of every layer on the same subset, then ρ (so the layers'
    correlation is in the error bar).

    Args:
      profile: a layer profile of sources ``a``, ``b``. overlap: ``[L]`` mutual-kNN overlap at the same layers.
      a, b: the sources (without them the row has no error bar and stays inconclusive). cka: optional ``[L]``,
        shown. k: the overlap's neighbours.
    """
    from ii_jax import baselines

    v = _mean_dir(profile.values)
    rho = _spearman(v, overlap)
    rho_cka = _spearman(v, cka) if cka is not None else float("nan")
    io = int(np.argmax(overlap))
    nums = {"rho": rho, "rho_cka": rho_cka, "overlap": np.asarray(overlap), "delta": v,
            "cka": None if cka is None else np.asarray(cka)}
    measured = (f"overlap max {float(np.max(overlap)):.3f} at layer {int(profile.layers[io])}, Δ min at layer "
                f"{_argmin_layer(profile)}" + (f"; ρ(Δ, CKA) = {rho_cka:+.2f}" if cka is not None else ""))
    if a is None or b is None:
        return _row("overlap", measured=measured, statistic=f"Spearman ρ(Δ, overlap) = {rho:+.2f}; no error bar",
                    numbers=nums)
    n = len(a)
    jk = _rs.as_jackknife(jackknife, n)
    subsets = _rs.jackknife_subsets(n, jk, _key(key))
    dl, ol = np.zeros((len(subsets), len(v))), np.zeros((len(subsets), len(v)))
    for li, la in enumerate(profile.layers):
        dx, dy = (np.asarray(m) for m in _mats(a, b, int(la), profile.params))
        for r, s in enumerate(subsets):
            sx, sy = dx[np.ix_(s, s)], dy[np.ix_(s, s)]
            dl[r, li] = _delta(sx, sy, k=1, ties="average").mean()
            ol[r, li] = float(baselines.mutual_knn_from_distances(sx, sy, k=k))
    reps = np.array([_spearman(dl[r], ol[r]) for r in range(len(subsets))])
    se = float(_rs.standard_error(reps, n=n, n_sub=jk.n_sub, error_bar=jk.error_bar))
    h, f = _rs.sign_test((rho, se), expect="negative", dof=len(reps) - 1)
    nums.update(rho_std=se)
    return _row("overlap", measured=measured,
                statistic=f"Spearman ρ(Δ, overlap) = {_pm(rho, se)} over {len(v)} layers (t = {_zval(rho, se):+.1f}; "
                          f"jackknife {jk.repeats} × {jk.n_sub} of N = {n}, SE at N)",
                numbers=nums, p_holds=h, p_fails=f)


# ----------------------------------------------------------------------------------------------------------------
# images

def vision_minimum_late(profile, a, b, *, name: str = "", depth: float = 0.75, jackknife="auto", key=None) -> Claim:
    """The minimum of same-class image pairs lies near the last layers: the lowest late layer (relative depth ≥
    ``depth``) against the lowest earlier layer, both chosen on one half of the pairs and compared on the other,
    both ways.

    Args:
      profile: the :class:`~ii_jax.analyses.Profile` of the two images of same-class pairs (sources ``a``, ``b``:
        item i of ``a`` and of ``b`` are the two images of pair i; :func:`~ii_jax.analyses.pairing_sources`).
    """
    key = _key(key)
    lays = [int(x) for x in profile.layers]
    dep = np.asarray(profile.relative_depth, np.float64)
    late = [la for la, d in zip(lays, dep, strict=True) if d >= depth]
    early = [la for la, d in zip(lays, dep, strict=True) if d < depth]
    v = _mean_dir(profile.values)
    i = int(np.nanargmin(v))
    label = f"{name}: " if name else ""
    if not late or not early:
        return not_run("vision_late", f"needs layers on both sides of depth {depth}")

    def choose(idx):
        sel = _mean_dir(_deltas_on(a, b, lays, profile.params, idx))
        return (_pick(late, sel[[lays.index(x) for x in late]]), _pick(early, sel[[lays.index(x) for x in early]]))

    def test(idx, c, jk):
        return [_rs.paired_difference(*_mats(a, b, c[0], profile.params, idx=idx),
                                      *_mats(a, b, c[1], profile.params, idx=idx), jackknife=jk, key=key,
                                      direction="mean")]

    (d,), chosen = _crossfit(len(a), key, jackknife, choose, test)
    ml, me = [c[0] for c in chosen], [c[1] for c in chosen]
    h, f = _sign(d, "negative")
    return _row("vision_late",
                measured=f"{label}all N: min Δ {v[i]:.3f} at layer {lays[i]} (depth {dep[i]:.2f}) of {lays[-1]}; first "
                         f"layer {v[0]:.3f}; {len(a)} pairs",
                statistic=f"Δ(late layer {_choices(ml)}) − Δ(earlier layer {_choices(me)}) {_zs(d)}; {_jk(d, True)}",
                numbers={"name": name, "layer": lays[i], "depth": float(dep[i]), "min": float(v[i]),
                         "late_layers": ml, "early_layers": me, "difference": d.value, "std": d.std},
                p_holds=h, p_fails=f)


def caption_at_image_semantic(cross, pairs, text, image, *, margin: float = CAPTION_MARGIN, jackknife="auto",
                              key=None) -> Claim:
    """The image layer where captions and images share most lies at the image–image semantic layer: Δ_cross at the
    image-pairs minimum layer equals Δ_cross at the cross-modal minimum layer within ``margin`` (the cross-modal
    minimum chosen on one half, tested on the other, both ways).

    Args:
      cross: the :class:`~ii_jax.analyses.Profile` of :func:`~ii_jax.analyses.cross_modal` (over image layers) of
        ``text`` and ``image``.
      pairs: the same image model's same-class pairs (:class:`~ii_jax.analyses.ImagePairs` or a Profile): its
        minimum layer is the image–image semantic layer.
    """
    key = _key(key)
    p = cross.params or {}
    mean = np.asarray(pairs.mean if hasattr(pairs, "n_pairs") else _mean_dir(pairs.values), np.float64)
    img_layer = int(pairs.layers[int(np.nanargmin(mean))])
    lays = [int(x) for x in cross.layers]
    if img_layer not in lays:
        return not_run("caption_semantic", f"the image-pairs minimum layer {img_layer} is not in the cross-modal "
                                           f"profile")
    dx = np.asarray(layer_distances(text, p["text_layer"], representation=p.get("text_representation", "concat"),
                                    tokens=p.get("text_tokens", 20)))

    def mats(layer, idx):
        dy = np.asarray(layer_distances(image, layer, representation=p.get("image_representation", "concat"),
                                        tokens=p.get("image_tokens", 200)))
        return dx[np.ix_(idx, idx)], dy[np.ix_(idx, idx)]

    def choose(idx):
        return lays[int(np.nanargmin([_delta(*mats(la, idx), k=1, ties="average").mean() for la in lays]))]

    def test(idx, c, jk):
        return [_rs.paired_difference(*mats(img_layer, idx), *mats(c, idx), jackknife=jk, key=key, direction="mean")]

    (d,), chosen = _crossfit(len(text), key, jackknife, choose, test)
    h, _ = _rs.equivalence_test(d, tolerance=margin)
    above = float(_rs.t_p_value((d.value - margin) / d.std, d.dof, alternative="greater")) if d.std > 0 else (
        0.0 if d.value > margin else 1.0)
    v = _mean_dir(cross.values)
    i = int(np.nanargmin(v))
    return _row("caption_semantic",
                measured=f"all N: caption↔image min Δ {v[i]:.3f} at image layer {lays[i]} (depth "
                         f"{float(cross.relative_depth[i]):.2f}); image–image minimum at layer {img_layer}",
                statistic=f"Δ_cross(layer {img_layer}) − Δ_cross(its minimum, layer {_choices(chosen)}) {_zs(d)}; "
                          f"{_jk(d, True)}",
                numbers={"cross_layer": lays[i], "selected_layers": list(chosen), "image_layer": img_layer,
                         "difference": d.value, "std": d.std, "margin": margin},
                p_holds=h, p_fails=above)


# ----------------------------------------------------------------------------------------------------------------
# synthetic (Fig. 1)

def synthetic_rank(curves) -> Claim:
    """Rank construction (:func:`ii_jax.synthetic.rank_experiment`): Δ(X→Y) < Δ(Y→X) at low rank, the gap shrinking
    towards full rank; CKA has one value per rank (symmetric).
    """
    gap = np.asarray(curves.ii_yx) - np.asarray(curves.ii_xy)
    std = np.hypot(np.asarray(curves.ii_yx_std), np.asarray(curves.ii_xy_std))
    z0 = _zval(float(gap[0]), float(std[0]))
    h, f = _rs.sign_test((gap[0], std[0]), expect="positive")
    if not gap[0] > gap[-1]:
        h = 1.0
    return _row("synthetic_rank",
                measured=f"rank 1: Δ(X→Y) {_pm(curves.ii_xy[0], curves.ii_xy_std[0])}, Δ(Y→X) "
                         f"{_pm(curves.ii_yx[0], curves.ii_yx_std[0])}, CKA {_pm(curves.cka[0], curves.cka_std[0])}; "
                         f"rank {int(curves.x[-1])}: gap {gap[-1]:+.3f}",
                statistic=f"gap Δ(Y→X) − Δ(X→Y) at rank 1 {gap[0]:+.3f} (z = {z0:+.1f}; σ: spread of the "
                          f"jackknife replicas at the subset size)",
                numbers={"rank": curves.x, "gap": gap, "gap_std": std, "cka": curves.cka}, p_holds=h, p_fails=f)


def synthetic_power(curves, *, p: int, cka_level: float = 0.95) -> Claim:
    """Power benchmark (:func:`ii_jax.synthetic.power_experiment`): CKA saturates at a small fraction of the ``p``
    components while Δ(X→Y) still resolves it.
    """
    f, cka = np.asarray(curves.x, np.float64), np.asarray(curves.cka, np.float64)
    sat = np.flatnonzero(cka >= cka_level)
    if not len(sat):
        return _row("synthetic_power", measured=f"p = {p}: CKA stays below {cka_level} (max {cka.max():.3f})",
                    statistic="—", numbers={"p": p, "fraction": f, "cka": cka}, p_fails=0.0,
                    note="CKA does not saturate at this p")
    i = int(sat[0])
    diff = float(curves.ii_xy[i] - curves.ii_xy[-1])
    std = float(np.hypot(curves.ii_xy_std[i], curves.ii_xy_std[-1]))
    h, fl = _rs.sign_test((diff, std), expect="positive")
    if f[i] > 0.1:
        h, fl = 1.0, 0.0
    return _row("synthetic_power",
                measured=f"p = {p}: CKA ≥ {cka_level} from f = {f[i]:g} (CKA {cka[i]:.3f}); there Δ(X→Y) "
                         f"{_pm(curves.ii_xy[i], curves.ii_xy_std[i])} vs {_pm(curves.ii_xy[-1], curves.ii_xy_std[-1])} "
                         f"at f = 1",
                statistic=f"Δ(f*) − Δ(1) {diff:+.3f} (z = {_zval(diff, std):+.1f})",
                numbers={"p": p, "fraction": f, "cka": cka, "ii_xy": curves.ii_xy, "f_star": float(f[i])},
                p_holds=h, p_fails=fl)
