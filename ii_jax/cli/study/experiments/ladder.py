"""``ladder`` (Fig. 2a): the en–es layer profiles of the model ladder. Claims: ``inner_minimum`` (one per model)
and ``larger_model`` (qwen2.5-coder 0.5B against 1.5B on the 1.5B model's verses).
"""
from __future__ import annotations

import numpy as np

from ii_jax import plots
from ii_jax.analyses import claims as C
from ii_jax.analyses.profile import semantic_layers
from ii_jax.cli.report import write_result
from ii_jax.cli.study.config import FAMILY
from ii_jax.cli.study.runner import _subset


def run(ctx) -> None:
    """Profile every ladder model's en–es stores into ``ctx.profiles`` and ``ctx.semantic``; judge the claims."""
    R, cfg = ctx.runner, ctx.cfg
    if "ladder" not in cfg.only:
        R.claims += [C.not_run("inner_minimum", "the ladder was not run (--only)"),
                     C.not_run("larger_model", "the ladder was not run (--only)")]
        return
    key = ctx.key
    src, profiles, semantic = ctx.ladder_src, ctx.profiles, ctx.semantic
    with R.step("ladder: layer profiles"):
        for m, (en, es) in src.items():
            profiles[m] = ctx.profile(f"{m}_en-es", en, es)
            semantic[m] = semantic_layers(profiles[m])
            write_result(R.out, f"profile_{m}_en-es", profiles[m], extra={"semantic": semantic[m]._asdict()})
        plots.save(plots.plot_profiles(profiles, directions=("en→es", "es→en"),
                                       title=f"English–Spanish verses, last {cfg.tokens} tokens"),
                   R.out / "ladder.png")
    with R.step("ladder: claims"):
        for m, p in profiles.items():
            R.claims.append(C.inner_minimum(p, *src[m], jackknife=ctx.jackknife(*src[m]), key=key, name=m))
        if all(f in src for f in FAMILY):
            if cfg.n_large < cfg.n:  # the smaller model on the larger one's verses
                sub = [_subset(s, src[FAMILY[1]][0].item_ids) for s in src[FAMILY[0]]]
                small = ctx.profile(f"{FAMILY[0]}_en-es_n{cfg.n_large}", *sub)
            else:  # both read every verse
                sub, small = list(src[FAMILY[0]]), profiles[FAMILY[0]]
            R.claims.append(C.larger_model_lower((small, *sub), (profiles[FAMILY[1]], *src[FAMILY[1]]),
                                                 jackknife=ctx.jackknife(*sub, *src[FAMILY[1]]), key=key,
                                                 names=FAMILY))
        else:
            R.claims.append(C.not_run("larger_model", f"needs both {FAMILY[0]} and {FAMILY[1]} in the ladder "
                                                      f"(run without --quick, or --ladder with both)"))
    rows = []
    for m, p in profiles.items():
        s = semantic[m]
        i = list(p.layers).index(s.layer)
        rows.append([m, p.n, s.layer, round(s.relative_depth, 3), float(p.values[i, 0]), float(p.std[i, 0]),
                     float(p.values[i, 1]), float(p.values[0].mean()), float(p.values[-1].mean()),
                     f"{s.region[0]}..{s.region[1]}", float(np.nanmean(p.null))])
    R.sections.append(dict(title="Model ladder: en–es layer profiles (Fig. 2a)", figure="ladder.png",
                           text="Δ between English and Spanish representations of the same verses, per layer "
                                "(every model reads the same verses).",
                           table=(["model", "N", "min layer", "depth", "Δ(en→es)", "SE at N", "Δ(es→en)",
                                   "first layer", "last layer", "region", "null (permutation mean)"], rows)))
    R.status["ladder"] = "run"
