"""``languages`` (Fig. 2b): many language pairs through one causal LM, both directions. Claims:
``english_pairs`` and ``english_predictive``. Also the language model's en–es profile and semantic layer that
``window``, ``tokens`` and ``baselines`` share (:func:`shared`).
"""
from __future__ import annotations

import numpy as np

from ii_jax import plots
from ii_jax.analyses import claims as C
from ii_jax.analyses.profile import semantic_layers
from ii_jax.cli.report import write_result
from ii_jax.cli.study.context import pair_label


def run(ctx) -> None:
    """Profile every language pair into ``ctx.pair_res``; judge the claims."""
    R, cfg = ctx.runner, ctx.cfg
    if "languages" not in cfg.only:
        R.claims += [C.not_run("english_pairs", "the language pairs were not run (--only)"),
                     C.not_run("english_predictive", "the language pairs were not run (--only)")]
        return
    lm, key = cfg.lang_model, ctx.key
    pair_res = ctx.pair_res
    with R.step("languages: layer profiles"):
        for p in cfg.pairs:
            a, b = ctx.lang_src[p[0]], ctx.lang_src[p[1]]
            prof = ctx.profile(f"{lm}_{p[0]}-{p[1]}", a, b)
            pair_res[p] = (prof, a, b)
            write_result(R.out, f"profile_{lm}_{p[0]}-{p[1]}", prof)
        plots.save(plots.plot_profiles({pair_label(p): r[0] for p, r in pair_res.items()},
                                       directions=("A→B", "B→A"), title=f"{lm}: language pairs"),
                   R.out / "languages.png")
    with R.step("languages: claims"):
        sources = [s for _, a, b in pair_res.values() for s in (a, b)]
        jk = ctx.jackknife(*sources) if sources else None  # no pairs: both claims are not run
        R.claims.append(C.english_pairs_lower(pair_res, jackknife=jk, key=key))
        R.claims.append(C.english_more_predictive(pair_res, jackknife=jk, key=key))
    rows = []
    for p, (prof, _, _) in pair_res.items():
        v = prof.values.mean(axis=1)
        i = int(np.argmin(v))
        rows.append([pair_label(p), int(prof.layers[i]), float(prof.values[i, 0]), float(prof.std[i, 0]),
                     float(prof.values[i, 1]), float(prof.std[i, 1]), float(np.nanmean(prof.null))])
    R.sections.append(dict(title=f"Language pairs through {lm} (Fig. 2b)", figure="languages.png",
                           text="Both directions of every pair at the layer of the minimum (mean of both).",
                           table=(["pair", "min layer", "Δ(A→B)", "SE at N", "Δ(B→A)", "SE at N", "null (permutation mean)"], rows)))
    R.status["languages"] = "run"


def shared(ctx) -> None:
    """Set ``ctx.en_es`` (the language model's en and es stores), ``ctx.lm_prof`` (their profile: the
    ``languages`` one, else computed when ``tokens``, ``baselines``, ``window`` or ``token_weights`` runs) and
    ``ctx.lm_sem``.
    """
    ctx.en_es = (ctx.lang_src.get("en"), ctx.lang_src.get("es"))
    ctx.lm_prof = ctx.pair_res.get(("en", "es"), (None,))[0]
    if ctx.lm_prof is None and ctx.en_es[0] is not None and ctx.cfg.only & {"tokens", "baselines", "window",
                                                                              "token_weights"}:
        ctx.lm_prof = ctx.profile(f"{ctx.cfg.lang_model}_en-es", *ctx.en_es)
    ctx.lm_sem = semantic_layers(ctx.lm_prof) if ctx.lm_prof is not None else None
