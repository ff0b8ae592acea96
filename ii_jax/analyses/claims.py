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

from ii_jax import resample as _rs
from ii_jax.analyses.cache import layer_distances
from ii_jax.analyses.sources import _check_paired

__all__ = ["Claim", "CLAIMS", "not_run", "claims_table", "shuffled_null", "inner_minimum", "larger_model_lower",
           "english_pairs_lower", "english_more_predictive", "more_tokens_saturate", "token_distance_semantic",
           "causal_asymmetry", "binary_close_to_float", "mean_lowers_edges", "overlap_tracks_delta",
           "vision_minimum_late", "caption_at_image_semantic", "synthetic_rank", "synthetic_power"]

SIGMAS = 2.0


class Claim(NamedTuple):
    """One row of the claims table.

    Attributes:
      id: short key (see :data:`CLAIMS`). claim: the claim in one line. where: where the paper shows it.
      measured: the numbers, with error bars. statistic: the test statistic (e.g. a paired z).
      verdict: one of :data:`ii_jax.resample.VERDICTS`. rule: the decision rule, in words.
      note: how our setting differs from the paper's, disagreements, or why a claim was not run.
      numbers: the same numbers, machine-readable.
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


#: id -> (claim in one line, where the paper shows it, decision rule).
CLAIMS: dict[str, tuple[str, str, str]] = {
    "null": ("Shuffling the pairing destroys the information: Δ ≈ 1 at every layer", "§2, Fig. 2 (dotted)",
             "holds if every layer's null lies within 4·0.577/√N of 1 (4 standard deviations of Δ under the null)"),
    "inner_minimum": ("Δ has an inner minimum: the first and the last layers are significantly higher",
                      "§3.1, Fig. 2a",
                      "holds if Δ(first) − Δ(min) and Δ(last) − Δ(min) both exceed 2 paired standard errors "
                      "(mean of both directions); does not hold if the minimum is the first or the last layer"),
    "larger_model": ("A larger model of one family reaches a lower minimum Δ", "§3.1, Fig. 2a",
                     "holds if min Δ(large) − min Δ(small) < −2 paired standard errors (same items, each model at "
                     "its own minimum, mean of both directions); does not hold if > +2"),
    "english_pairs": ("Language pairs with English reach a lower minimum Δ than pairs without it",
                      "§3.1.1, Fig. 2b",
                      "holds if mean min Δ(pairs with English) − mean min Δ(pairs without) < −2 paired standard "
                      "errors (all pairs on the same verses); does not hold if > +2"),
    "english_predictive": ("English representations predict the other language's better: Δ(en→X) < Δ(X→en)",
                           "§3.1.1, Fig. 2b",
                           "at each pair's minimum layer; holds if the mean over pairs of Δ(en→X) − Δ(X→en) < −2 "
                           "paired standard errors; does not hold if > +2"),
    "more_tokens": ("More tokens lower the minimum Δ, which then saturates", "§3.1.2, Fig. 3a",
                    "holds if min Δ(largest window) − min Δ(1 token) < −2 paired standard errors AND the drop over "
                    "the upper half of the windows is ≤ 25 % of the total drop; does not hold if either fails "
                    "clearly (the drop > +2σ, or no saturation)"),
    "token_distance": ("Δ between the last token and earlier ones grows slowest with τ in the semantic layers",
                       "§3.1.2, Fig. 3b",
                       "holds if the layer with the lowest mean over τ of Δ(T→T−τ) lies in the semantic region "
                       "(± 0.1 relative depth) and is below both the first and the last layer's"),
    "causal_asymmetry": ("In the inner (semantic) layers English is causally asymmetric: 𝒜 > 0 (earlier tokens "
                         "predict the last one better than the reverse)", "§3.1.2, Fig. 3c, 10",
                         "holds if 𝒜 at the semantic layer > +2 jackknife standard errors; does not hold if < −2"),
    "binary_float": ("Sign bits with Hamming distance give the same Δ as clipped, normalised floats",
                     "Supp. G", "at the semantic layer: holds if |Δ_bits − Δ_float| + 2 paired σ ≤ 0.05; does not "
                                "hold if |Δ_bits − Δ_float| − 2σ > 0.05"),
    "mean_edges": ("Averaging the tokens lowers Δ, most in the first and the last layers", "§3.1, Supp. D",
                   "reduction r = Δ_concat − Δ_mean per layer; holds if (r_first + r_last)/2 − r_semantic > +2 "
                   "paired standard errors; does not hold if < −2"),
    "overlap": ("Neighbourhood overlap rises where Δ falls (compatible measures)", "Supp. F",
                "Spearman ρ between Δ and the mutual-kNN overlap over layers: holds if ρ ≤ −0.5, does not hold if "
                "ρ ≥ 0, inconclusive between"),
    "vision_late": ("DINOv2's same-class image pairs reach their minimum Δ near the last layers", "§3.2, Fig. 4a",
                    "layers within 2σ (over pairings) of the minimum: holds if all lie at relative depth ≥ 0.75, "
                    "does not hold if none does, else inconclusive"),
    "caption_semantic": ("The image–caption minimum lies at the image–image semantic layers", "§3.2, Fig. 4b",
                         "holds if the image-pairs minimum layer is among the cross-modal layers within 2 bootstrap "
                         "σ of the cross-modal minimum, or within 0.1 relative depth of its minimum layer; "
                         "otherwise does not hold"),
    "synthetic_rank": ("Synthetic: Δ(X→Y) < Δ(Y→X) as the rank of B_r falls, which symmetric CKA cannot show",
                       "Fig. 1 left",
                       "holds if at rank 1 Δ(Y→X) − Δ(X→Y) > 2σ (jackknife σ of both combined) and this gap is "
                       "larger at rank 1 than at full rank; CKA is symmetric by construction"),
    "synthetic_power": ("Synthetic: at large p CKA saturates while Δ still resolves the fraction of shared "
                        "components", "Fig. 1 right",
                        "f* = the smallest fraction where CKA ≥ 0.95; holds if f* ≤ 0.1 and Δ(X→Y) at f* exceeds "
                        "Δ(X→Y) at f = 1 by > 2σ (jackknife σ combined)"),
}


def _row(cid: str, *, measured: str, statistic: str, verdict: str, numbers: dict, note: str = "",
         rule: str | None = None) -> Claim:
    text, where, default_rule = CLAIMS[cid]
    if verdict not in _rs.VERDICTS:
        raise ValueError(f"verdict must be one of {_rs.VERDICTS}, got {verdict!r}.")
    if verdict == "does not hold" and not note:
        note = "differs from the paper"
    return Claim(cid, text, where, measured, statistic, verdict, rule or default_rule, note, _plain(numbers))


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


def claims_table(rows: Sequence[Claim]) -> tuple[list[str], list[list[Any]]]:
    """``(header, rows)`` for :func:`ii_jax.cli.report.write_report` (one line per claim)."""
    header = ["claim", "paper", "measured", "statistic", "verdict", "rule", "note"]
    return header, [[r.claim, r.where, r.measured, r.statistic, r.verdict, r.rule, r.note] for r in rows]


# ----------------------------------------------------------------------------------------------------------------
# helpers

def _pm(v, s) -> str:
    v, s = float(v), float(s)
    return f"{v:.3f}" if not np.isfinite(s) else f"{v:.3f} ± {s:.3f}"


def _zs(d: _rs.PairedDifference) -> str:
    return f"{d.value:+.3f} ± {d.std:.3f} (z = {d.z:+.1f})"


def _jk(d: _rs.PairedDifference) -> str:
    return f"paired jackknife {d.jackknife.repeats} × {d.jackknife.n_sub} of N = {d.n}"


def _mean_dir(values) -> np.ndarray:
    return np.asarray(values, np.float64).mean(axis=-1)


def _argmin_layer(profile) -> int:
    return int(profile.layers[int(np.nanargmin(_mean_dir(profile.values)))])


def _depth_of(profile, layer) -> float:
    return float(np.asarray(profile.relative_depth)[list(profile.layers).index(layer)])


def _mats(a, b, layer, params: dict | None, *, tokens=None, representation=None):
    p = params or {}
    tokens = int(tokens if tokens is not None else p.get("tokens", 20))
    rep = representation or p.get("representation", "concat")
    skip = int(p.get("drop_last", p.get("skip_last", 0)) or 0)  # profiles written before the rename say skip_last
    return (layer_distances(a, layer, representation=rep, tokens=tokens, drop_last=skip),
            layer_distances(b, layer, representation=rep, tokens=tokens, drop_last=skip))


def _key(key):
    return jax.random.key(0) if key is None else key


def _zval(value: float, std: float) -> float:
    value, std = float(value), float(std)
    if np.isfinite(std) and std > 0:
        return value / std
    return float("nan") if value == 0 or not np.isfinite(std) else float(np.copysign(np.inf, value))


def _sign_verdict(d, expect):
    return _rs.verdict(d, expect=expect, sigmas=SIGMAS)


# ----------------------------------------------------------------------------------------------------------------
# text: layer profiles

def shuffled_null(results: Mapping[str, Any], *, sigmas: float = 4.0) -> Claim:
    """Every null of ``results`` (``{name: Profile or ImagePairs}``) within ``sigmas``·0.577/√N of 1.

    Under the null the rank of the nearest neighbour is uniform on 1..N−1, so Δ has mean N/(N−1) and standard
    deviation ≈ 2/√(12 N) = 0.577/√N.
    """
    per, worst, bad = {}, 0.0, []
    for name, r in results.items():
        null = np.asarray(r.null, np.float64)
        if not np.isfinite(null).any():
            continue
        n = int(getattr(r, "n_pairs", None) or r.n)
        dev = float(np.nanmax(np.abs(null - 1)))
        tol = sigmas * 0.577 / np.sqrt(n)
        per[name] = {"mean": float(np.nanmean(null)), "max_dev": dev, "tolerance": tol, "n": n}
        worst = max(worst, dev / tol)
        if dev > tol:
            bad.append(name)
    if not per:
        return not_run("null", "no result with a shuffled null was computed")
    means = [v["mean"] for v in per.values()]
    return _row("null", measured=f"null {min(means):.3f}–{max(means):.3f} (mean over layers) in {len(per)} "
                                 f"analyses; largest |null − 1| = {max(v['max_dev'] for v in per.values()):.3f}",
                statistic=f"largest |null − 1| / tolerance = {worst:.2f}",
                verdict="does not hold" if bad else "holds", numbers=per,
                note=("outside: " + ", ".join(bad)) if bad else "")


def inner_minimum(profile, a, b, *, jackknife="auto", key=None, name: str = "") -> Claim:
    """The minimum of ``profile`` (mean of both directions) is inner: first and last layers significantly higher.

    Args:
      profile: a :class:`~ii_jax.analyses.Profile` of sources ``a``, ``b`` (its ``params`` give the window).
      jackknife, key: the paired jackknife (default ``"auto"``, ``jax.random.key(0)``).
      name: the model, shown in the row.
    """
    lays = list(profile.layers)
    m = _argmin_layer(profile)
    first, last = lays[0], lays[-1]
    v = _mean_dir(profile.values)
    label = f"{name}: " if name else ""
    nums = {"model": name, "min_layer": m, "min_depth": _depth_of(profile, m), "first": float(v[0]),
            "last": float(v[-1]), "min": float(np.nanmin(v))}
    if m in (first, last):
        where = "first" if m == first else "last"
        return _row("inner_minimum", measured=f"{label}minimum Δ {nums['min']:.3f} at the {where} layer {m}; "
                                              f"first {v[0]:.3f}, last {v[-1]:.3f}",
                    statistic="—", verdict="does not hold", numbers=nums,
                    note=f"the minimum is the {where} layer: no inner valley (the paper finds one)")
    key = _key(key)
    mm = _mats(a, b, m, profile.params)
    d_first = _rs.paired_difference(*_mats(a, b, first, profile.params), *mm, jackknife=jackknife, key=key,
                                    direction="mean")
    d_last = _rs.paired_difference(*_mats(a, b, last, profile.params), *mm, jackknife=jackknife, key=key,
                                   direction="mean")
    vf, vl = _sign_verdict(d_first, "positive"), _sign_verdict(d_last, "positive")
    verdict = "holds" if vf == vl == "holds" else "inconclusive"
    nums.update(first_minus_min=d_first.value, first_minus_min_std=d_first.std, last_minus_min=d_last.value,
                last_minus_min_std=d_last.std)
    return _row("inner_minimum",
                measured=f"{label}min Δ {nums['min']:.3f} at layer {m} (depth {nums['min_depth']:.2f}); first layer "
                         f"{v[0]:.3f}, last {v[-1]:.3f}",
                statistic=f"first − min {_zs(d_first)}; last − min {_zs(d_last)}; {_jk(d_first)}",
                verdict=verdict, numbers=nums)


def larger_model_lower(small, large, *, jackknife="auto", key=None, names=("small", "large")) -> Claim:
    """Min Δ of the larger model below the smaller one's, paired over the same items.

    Args:
      small, large: ``(profile, a, b)`` each: a profile and its two sources; all four sources hold the same items.
      names: the two models, shown in the row.
    """
    (ps, sa, sb), (pl, la, lb) = small, large
    _check_paired(sa, la)
    ms, ml = _argmin_layer(ps), _argmin_layer(pl)
    d = _rs.paired_difference(*_mats(la, lb, ml, pl.params), *_mats(sa, sb, ms, ps.params), jackknife=jackknife,
                              key=_key(key), direction="mean")
    nums = {"small": names[0], "large": names[1], "min_small": d.b, "layer_small": ms, "min_large": d.a,
            "layer_large": ml, "difference": d.value, "std": d.std, "z": d.z}
    verdict = _sign_verdict(d, "negative")
    note = "" if verdict == "holds" else f"our {names[1]} does not reach a significantly lower minimum than {names[0]}"
    return _row("larger_model", measured=f"min Δ {names[0]} {d.b:.3f} (layer {ms}), {names[1]} {d.a:.3f} "
                                         f"(layer {ml}), N = {d.n}",
                statistic=f"large − small {_zs(d)}; {_jk(d)}", verdict=verdict, numbers=nums, note=note)


def _pair_name(p) -> str:
    return f"{p[0]}–{p[1]}"


def english_pairs_lower(pairs: Mapping[tuple[str, str], tuple], *, english: str = "en", jackknife="auto",
                        key=None) -> Claim:
    """Mean minimum Δ of the pairs with English below that of the pairs without it (paired: the same verses).

    Args:
      pairs: ``{(lang_a, lang_b): (profile, a, b)}``, every source over the same items.
    """
    keys = list(pairs)
    with_en = [p for p in keys if english in p]
    without = [p for p in keys if english not in p]
    if not with_en or not without:
        return not_run("english_pairs", f"needs pairs with and without {english!r}; got {[_pair_name(p) for p in keys]}")
    first_src = pairs[keys[0]][1]
    mats, lays = [], {}
    for p in keys:
        prof, a, b = pairs[p]
        _check_paired(first_src, a)
        lays[p] = _argmin_layer(prof)
        mats.append(_mats(a, b, lays[p], prof.params))
    iw = [keys.index(p) for p in with_en]
    io = [keys.index(p) for p in without]

    def stat(v):
        m = v.mean(axis=1)
        return float(m[iw].mean() - m[io].mean())

    d = _rs.paired_statistic(mats, stat, jackknife=jackknife, key=_key(key))
    per = d.parts.reshape(-1, 2).mean(axis=1)
    nums = {"pairs": {_pair_name(p): {"min": float(per[i]), "layer": lays[p]} for i, p in enumerate(keys)},
            "mean_with": float(per[iw].mean()), "mean_without": float(per[io].mean()), "difference": d.value,
            "std": d.std, "z": d.z}
    show = ", ".join(f"{_pair_name(p)} {per[i]:.3f}" for i, p in enumerate(keys))
    verdict = _sign_verdict(d, "negative")
    return _row("english_pairs",
                measured=f"with {english}: {nums['mean_with']:.3f} ({len(iw)} pairs), without: "
                         f"{nums['mean_without']:.3f} ({len(io)}); {show}",
                statistic=f"with − without {_zs(d)}; {_jk(d)}", verdict=verdict, numbers=nums,
                note="" if verdict == "holds" else "differs from the paper")


def english_more_predictive(pairs: Mapping[tuple[str, str], tuple], *, english: str = "en", jackknife="auto",
                            key=None) -> Claim:
    """Δ(en→X) < Δ(X→en) at each pair's minimum layer, averaged over the pairs with English (paired).

    Args:
      pairs: ``{(lang_a, lang_b): (profile, a, b)}``; only pairs holding ``english`` are used (either order).
    """
    keys = [p for p in pairs if english in p]
    if not keys:
        return not_run("english_predictive", f"no language pair with {english!r} was run")
    mats, signs, lays = [], [], {}
    first_src = pairs[keys[0]][1]
    for p in keys:
        prof, a, b = pairs[p]
        _check_paired(first_src, a)
        lays[p] = _argmin_layer(prof)
        mats.append(_mats(a, b, lays[p], prof.params))
        signs.append(1.0 if p[0] == english else -1.0)
    sg = np.array(signs)

    def stat(v):
        return float(np.mean(sg * (v[:, 0] - v[:, 1])))

    d = _rs.paired_statistic(mats, stat, jackknife=jackknife, key=_key(key))
    v = d.parts.reshape(-1, 2)
    reps = d.part_replicas.reshape(len(d.replicas), -1, 2)
    per = {}
    for i, p in enumerate(keys):
        other = p[1] if p[0] == english else p[0]
        diff = sg[i] * (v[i, 0] - v[i, 1])
        std = float(_rs.replica_std(sg[i] * (reps[:, i, 0] - reps[:, i, 1])))
        per[other] = {"en_to_x": float(v[i, 0] if sg[i] > 0 else v[i, 1]),
                      "x_to_en": float(v[i, 1] if sg[i] > 0 else v[i, 0]), "difference": float(diff), "std": std,
                      "layer": lays[p]}
    held = sum(1 for x in per.values() if x["std"] > 0 and x["difference"] < -SIGMAS * x["std"])
    verdict = _sign_verdict(d, "negative")
    show = ", ".join(f"{x}: {q['difference']:+.3f}±{q['std']:.3f}" for x, q in per.items())
    return _row("english_predictive",
                measured=f"Δ(en→X) − Δ(X→en) per X: {show}",
                statistic=f"mean over {len(keys)} pairs {_zs(d)}; significant (< −2σ) in {held} of {len(keys)}; {_jk(d)}",
                verdict=verdict, numbers={"pairs": per, "difference": d.value, "std": d.std, "z": d.z},
                note="" if verdict == "holds" else "differs from the paper")


def more_tokens_saturate(sweep, a, b, *, jackknife="auto", key=None, saturation: float = 0.25) -> Claim:
    """Min Δ over layers falls from 1 token to the largest window, and the fall saturates.

    Args:
      sweep: a :class:`~ii_jax.analyses.WindowSweep` of sources ``a``, ``b``.
      saturation: the largest share of the total drop allowed over the upper half of the windows.
    """
    w = [int(x) for x in sweep.windows]
    if len(w) < 3:
        return not_run("more_tokens", f"the sweep has {len(w)} windows; at least 3 are needed")
    vm = _mean_dir(sweep.values)  # [K, L]
    mins = np.nanmin(vm, axis=1)
    lay = [int(sweep.layers[i]) for i in np.nanargmin(vm, axis=1)]
    lo, hi = int(np.argmin(w)), int(np.argmax(w))
    mid = max((i for i in range(len(w)) if w[i] <= w[hi] / 2), key=lambda i: w[i], default=lo)
    d = _rs.paired_difference(*_mats(a, b, lay[hi], None, tokens=w[hi]), *_mats(a, b, lay[lo], None, tokens=w[lo]),
                              jackknife=jackknife, key=_key(key), direction="mean")
    total = mins[lo] - mins[hi]
    late = mins[mid] - mins[hi]
    sat = bool(total > 0 and late <= saturation * total)
    fall = _sign_verdict(d, "negative")
    verdict = ("holds" if fall == "holds" and sat else "does not hold" if fall == "does not hold" or
               (fall == "holds" and not sat) else "inconclusive")
    nums = {"windows": w, "minimum": mins, "layers": lay, "difference": d.value, "std": d.std, "z": d.z,
            "late_drop_share": float(late / total) if total > 0 else None}
    curve = ", ".join(f"{x}: {m:.3f}" for x, m in zip(w, mins, strict=True))
    note = "" if verdict == "holds" else ("no saturation within the stored window" if fall == "holds" else "")
    return _row("more_tokens", measured=f"min Δ by tokens {curve}",
                statistic=f"Δ({w[hi]}) − Δ({w[lo]}) {_zs(d)}; drop over {w[mid]}→{w[hi]} tokens = "
                          f"{(late / total if total > 0 else float('nan')):.0%} of the total; {_jk(d)}",
                verdict=verdict, numbers=nums, note=note)


def token_distance_semantic(td, semantic, *, slack: float = 0.1) -> Claim:
    """The layer whose Δ(T→T−τ) stays lowest over τ (the slowest growth) lies in the semantic region.

    Args:
      td: a :class:`~ii_jax.analyses.TokenDistance` of one language. semantic: the model's
        :class:`~ii_jax.analyses.SemanticLayers` (from a translation profile). slack: relative depth added on both
        sides of the semantic region.
    """
    level = np.asarray(td.backward, np.float64).mean(axis=1)  # [L] mean over τ
    dep = np.asarray(td.relative_depth, np.float64)
    i = int(np.nanargmin(level))
    lo, hi = semantic.region_depth
    inside = lo - slack <= dep[i] <= hi + slack
    below = bool(level[i] < level[0] and level[i] < level[-1])
    verdict = "holds" if inside and below else "does not hold"
    nums = {"layer": int(td.layers[i]), "depth": float(dep[i]), "level": level, "first": float(level[0]),
            "last": float(level[-1]), "semantic_region_depth": [lo, hi]}
    note = "" if verdict == "holds" else (f"slowest growth at depth {dep[i]:.2f}, outside the semantic region "
                                          f"{lo:.2f}–{hi:.2f}" if not inside else "the lowest curve is an edge layer")
    return _row("token_distance",
                measured=f"mean over τ = 1..{len(td.taus)} of Δ(T→T−τ): first layer {level[0]:.3f}, lowest "
                         f"{level[i]:.3f} at layer {int(td.layers[i])} (depth {dep[i]:.2f}), last {level[-1]:.3f}; "
                         f"semantic region depth {lo:.2f}–{hi:.2f}",
                statistic="argmin layer of the curve level (no error bar)", verdict=verdict, numbers=nums, note=note)


def causal_asymmetry(td, semantic, *, others: Mapping[str, Any] | None = None, language: str = "en") -> Claim:
    """𝒜 > 0 for English at the semantic layer (jackknife error bar of ``td.asymmetry_std``).

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
    verdict = _sign_verdict((a, s), "positive")
    oth = {}
    for lang, t in (others or {}).items():
        j = list(t.layers).index(layer) if layer in list(t.layers) else None
        if j is not None:
            oth[lang] = {"asymmetry": float(t.asymmetry[j]), "std": float(t.asymmetry_std[j])}
    show = "; others: " + ", ".join(f"{k} {_pm(v['asymmetry'], v['std'])}" for k, v in oth.items()) if oth else ""
    return _row("causal_asymmetry", measured=f"{language} 𝒜 = {_pm(a, s)} at layer {layer}{show}",
                statistic=f"z = {_zval(a, s):+.1f} (jackknife over points)", verdict=verdict,
                numbers={"language": language, "layer": layer, "asymmetry": a, "std": s, "others": oth},
                note="" if verdict == "holds" else "differs from the paper's English")


def binary_close_to_float(binary, floats, a, b, *, tolerance: float = 0.05, jackknife="auto", key=None) -> Claim:
    """Δ on sign bits ≈ Δ on clipped, normalised floats at the semantic layer (paired equivalence test).

    Args:
      binary, floats: profiles of the same sources ``a``, ``b`` (``representation="concat"`` and ``"float"``).
    """
    m = _argmin_layer(binary)
    d = _rs.paired_difference(*_mats(a, b, m, binary.params), *_mats(a, b, m, floats.params), jackknife=jackknife,
                              key=_key(key), direction="mean")
    lays = [x for x in binary.layers if x in list(floats.layers)]
    diffs = np.array([_mean_dir(binary.values)[list(binary.layers).index(x)]
                      - _mean_dir(floats.values)[list(floats.layers).index(x)] for x in lays])
    verdict = _rs.equivalence_verdict(d, tolerance=tolerance, sigmas=SIGMAS)
    j = int(np.argmax(np.abs(diffs)))
    return _row("binary_float", measured=f"layer {m}: bits {d.a:.3f}, floats {d.b:.3f}; largest |difference| over "
                                         f"layers {abs(diffs[j]):.3f} (layer {lays[j]})",
                statistic=f"bits − floats {_zs(d)}; {_jk(d)}", verdict=verdict,
                numbers={"layer": m, "bits": d.a, "floats": d.b, "difference": d.value, "std": d.std,
                         "per_layer_difference": diffs, "layers": lays, "tolerance": tolerance})


def mean_lowers_edges(concat, mean, a, b, *, jackknife="auto", key=None) -> Claim:
    """Averaging the tokens lowers Δ most in the first and the last layers (paired over 6 Δ's).

    Args:
      concat, mean: profiles of the same sources ``a``, ``b`` (``representation="concat"`` and ``"mean"``).
    """
    lays = list(concat.layers)
    first, last, m = lays[0], lays[-1], _argmin_layer(concat)
    if m in (first, last):
        m = lays[len(lays) // 2]
    mats = []
    for layer in (first, m, last):
        mats += [_mats(a, b, layer, concat.params), _mats(a, b, layer, mean.params)]

    def stat(v):
        r = v[0::2].mean(axis=1) - v[1::2].mean(axis=1)  # reduction per layer: first, middle, last
        return float((r[0] + r[2]) / 2 - r[1])

    d = _rs.paired_statistic(mats, stat, jackknife=jackknife, key=_key(key))
    v = d.parts.reshape(-1, 2).mean(axis=1)
    red = v[0::2] - v[1::2]
    all_r = _mean_dir(concat.values) - np.array([_mean_dir(mean.values)[list(mean.layers).index(x)] for x in lays])
    verdict = _sign_verdict(d, "positive")
    return _row("mean_edges",
                measured=f"Δ_concat − Δ_mean: first layer {red[0]:+.3f}, layer {m} {red[1]:+.3f}, last layer "
                         f"{red[2]:+.3f}; averaging lowers Δ at {int((all_r > 0).sum())} of {len(lays)} layers",
                statistic=f"(r_first + r_last)/2 − r_{m} {_zs(d)}; {_jk(d)}", verdict=verdict,
                numbers={"layers": [first, m, last], "reduction": red, "difference": d.value, "std": d.std,
                         "z": d.z, "reduction_per_layer": all_r},
                note="" if verdict == "holds" else "differs from the paper")


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


def overlap_tracks_delta(profile, overlap, *, cka=None) -> Claim:
    """Spearman ρ over layers between Δ (mean of both directions) and the mutual-kNN overlap (and CKA, shown).

    Args:
      profile: a layer profile. overlap: ``[L]`` mutual-kNN overlap at the same layers. cka: optional ``[L]``.
    """
    v = _mean_dir(profile.values)
    rho = _spearman(v, overlap)
    rho_cka = _spearman(v, cka) if cka is not None else float("nan")
    verdict = "inconclusive" if not np.isfinite(rho) else "holds" if rho <= -0.5 else (
        "does not hold" if rho >= 0 else "inconclusive")
    io = int(np.argmax(overlap))
    return _row("overlap",
                measured=f"overlap max {float(np.max(overlap)):.3f} at layer {int(profile.layers[io])}, Δ min at layer "
                         f"{_argmin_layer(profile)}" + (f"; ρ(Δ, CKA) = {rho_cka:+.2f}" if cka is not None else ""),
                statistic=f"Spearman ρ(Δ, overlap) = {rho:+.2f} over {len(v)} layers", verdict=verdict,
                numbers={"rho": rho, "rho_cka": rho_cka, "overlap": np.asarray(overlap), "delta": v,
                         "cka": None if cka is None else np.asarray(cka)})


# ----------------------------------------------------------------------------------------------------------------
# images

def vision_minimum_late(pairs, *, name: str = "", depth: float = 0.75) -> Claim:
    """The minimum of same-class image pairs near the last layers.

    Args:
      pairs: an :class:`~ii_jax.analyses.ImagePairs` (σ over pairings), or a :class:`~ii_jax.analyses.Profile` of
        the two images of same-class pairs (σ: the jackknife's, both directions averaged).
    """
    if hasattr(pairs, "values") and not hasattr(pairs, "n_pairs"):
        mean, std = _mean_dir(pairs.values), _mean_dir(pairs.std)
        n_pairs = pairs.n
    else:
        mean, std = np.asarray(pairs.mean, np.float64), np.asarray(pairs.std, np.float64)
        n_pairs = pairs.n_pairs
    dep = np.asarray(pairs.relative_depth, np.float64)
    i = int(np.nanargmin(mean))
    s = float(std[i]) if np.isfinite(std[i]) else 0.0
    near = mean <= mean[i] + SIGMAS * s
    late = dep[near] >= depth
    verdict = "holds" if late.all() else "does not hold" if not late.any() else "inconclusive"
    return _row("vision_late",
                measured=f"{name + ': ' if name else ''}min Δ {_pm(mean[i], std[i])} at layer {int(pairs.layers[i])} "
                         f"(depth {dep[i]:.2f}) of {int(pairs.layers[-1])}; first layer {mean[0]:.3f}; "
                         f"{n_pairs} pairs",
                statistic=f"layers within 2σ of the minimum: depths {dep[near].min():.2f}–{dep[near].max():.2f}",
                verdict=verdict, numbers={"name": name, "layer": int(pairs.layers[i]), "depth": float(dep[i]),
                                          "min": float(mean[i]), "std": s, "near_depths": dep[near]})


def caption_at_image_semantic(cross, pairs, *, slack: float = 0.1) -> Claim:
    """The image layer where captions and images share most lies at the image–image semantic layer.

    Args:
      cross: the :class:`~ii_jax.analyses.Profile` of :func:`~ii_jax.analyses.cross_modal` (over image layers).
      pairs: the :class:`~ii_jax.analyses.ImagePairs` of the same image model.
    """
    v = _mean_dir(cross.values)
    s = _mean_dir(np.nan_to_num(np.asarray(cross.std, np.float64)))
    i = int(np.nanargmin(v))
    near = set(int(x) for x in np.asarray(cross.layers)[v <= v[i] + SIGMAS * s[i]])
    j = int(np.nanargmin(np.asarray(pairs.mean)))
    img_layer, img_depth = int(pairs.layers[j]), float(pairs.relative_depth[j])
    cm_depth = float(cross.relative_depth[i])
    ok = img_layer in near or abs(img_depth - cm_depth) <= slack
    return _row("caption_semantic",
                measured=f"caption↔image min Δ {_pm(v[i], s[i])} at image layer {int(cross.layers[i])} (depth "
                         f"{cm_depth:.2f}); image–image minimum at layer {img_layer} (depth {img_depth:.2f})",
                statistic=f"cross-modal layers within 2σ of its minimum: {sorted(near)}",
                verdict="holds" if ok else "does not hold",
                numbers={"cross_layer": int(cross.layers[i]), "cross_depth": cm_depth, "image_layer": img_layer,
                         "image_depth": img_depth, "near": sorted(near)},
                note="" if ok else "differs from the paper")


# ----------------------------------------------------------------------------------------------------------------
# synthetic (Fig. 1)

def synthetic_rank(curves) -> Claim:
    """Rank construction (:func:`ii_jax.synthetic.rank_experiment`): Δ(X→Y) < Δ(Y→X) at low rank, the gap shrinking
    towards full rank; CKA has one value per rank (symmetric).
    """
    gap = np.asarray(curves.ii_yx) - np.asarray(curves.ii_xy)
    std = np.hypot(np.asarray(curves.ii_yx_std), np.asarray(curves.ii_xy_std))
    z0 = _zval(float(gap[0]), float(std[0]))
    sig = _rs.verdict((gap[0], std[0]), expect="positive", sigmas=SIGMAS)
    verdict = "holds" if sig == "holds" and gap[0] > gap[-1] else ("inconclusive" if sig == "inconclusive"
                                                                   else "does not hold")
    return _row("synthetic_rank",
                measured=f"rank 1: Δ(X→Y) {_pm(curves.ii_xy[0], curves.ii_xy_std[0])}, Δ(Y→X) "
                         f"{_pm(curves.ii_yx[0], curves.ii_yx_std[0])}, CKA {_pm(curves.cka[0], curves.cka_std[0])}; "
                         f"rank {int(curves.x[-1])}: gap {gap[-1]:+.3f}",
                statistic=f"gap Δ(Y→X) − Δ(X→Y) at rank 1 {gap[0]:+.3f} (z = {z0:+.1f})", verdict=verdict,
                numbers={"rank": curves.x, "gap": gap, "gap_std": std, "cka": curves.cka})


def synthetic_power(curves, *, p: int, cka_level: float = 0.95) -> Claim:
    """Power benchmark (:func:`ii_jax.synthetic.power_experiment`): CKA saturates at a small fraction of the ``p``
    components while Δ(X→Y) still resolves it.
    """
    f, cka = np.asarray(curves.x, np.float64), np.asarray(curves.cka, np.float64)
    sat = np.flatnonzero(cka >= cka_level)
    if not len(sat):
        return _row("synthetic_power", measured=f"p = {p}: CKA stays below {cka_level} (max {cka.max():.3f})",
                    statistic="—", verdict="does not hold", numbers={"p": p, "fraction": f, "cka": cka},
                    note="CKA does not saturate at this p")
    i = int(sat[0])
    diff = float(curves.ii_xy[i] - curves.ii_xy[-1])
    std = float(np.hypot(curves.ii_xy_std[i], curves.ii_xy_std[-1]))
    resolved = _rs.verdict((diff, std), expect="positive", sigmas=SIGMAS)
    verdict = "does not hold" if f[i] > 0.1 else resolved
    return _row("synthetic_power",
                measured=f"p = {p}: CKA ≥ {cka_level} from f = {f[i]:g} (CKA {cka[i]:.3f}); there Δ(X→Y) "
                         f"{_pm(curves.ii_xy[i], curves.ii_xy_std[i])} vs {_pm(curves.ii_xy[-1], curves.ii_xy_std[-1])} "
                         f"at f = 1",
                statistic=f"Δ(f*) − Δ(1) {diff:+.3f} (z = {_zval(diff, std):+.1f})", verdict=verdict,
                numbers={"p": p, "fraction": f, "cka": cka, "ii_xy": curves.ii_xy, "f_star": float(f[i])})
