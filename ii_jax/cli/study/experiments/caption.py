"""``caption`` (Fig. 4b): Tux Paint captions (one e5 layer) against every DINOv2 layer. Claim:
``caption_semantic`` (the caption's best image layer near the image pairs' semantic layer).
"""
from __future__ import annotations

import jax

from ii_jax import analyses, plots
from ii_jax.analyses import claims as C
from ii_jax.analyses.profile import Profile, semantic_layers
from ii_jax.cli.report import write_result
from ii_jax.cli.study.config import CAPTION_MODEL, CAPTION_TOKENS, IMAGE_MODEL


def run(ctx) -> None:
    """The cross-modal profile of the captions (stores extracted by ``images``); judge the claim."""
    from ii_jax.store import open_store

    R, cfg = ctx.runner, ctx.cfg
    if "caption" not in cfg.only:
        R.claims.append(C.not_run("caption_semantic", "the image-caption profile was not run (--only)"))
        return
    cap = open_store(R.cap_store)
    with R.step("image-caption profile"):
        text_layer = cap.layers[-1]
        if CAPTION_MODEL in ctx.ladder_src:
            text_layer = semantic_layers(ctx.profiles[CAPTION_MODEL]).layer
        img = open_store(R.img_store)
        jk = ctx.jackknife(cap, img)
        cm = R.cached("cross_modal", dict(cap=str(R.cap_store), img=str(R.img_store), layer=text_layer,
                                          jackknife=jk, seed=cfg.seed),
                      lambda: analyses.cross_modal(cap, img, text_layer=text_layer, text_tokens=CAPTION_TOKENS,
                                                   jackknife=jk, key=jax.random.fold_in(ctx.key, 6),
                                                   progress=ctx.progress), Profile)
        write_result(R.out, "cross_modal", cm,
                     fig=plots.plot_profiles({"": cm}, directions=(f"caption (e5 layer {text_layer}) → image",
                                                                   "image → caption"),
                                             title=f"Tux Paint captions vs {IMAGE_MODEL} layers"))
        R.claims.append(C.caption_at_image_semantic(cm, ctx.pairs_stamps, cap, img, jackknife=jk, key=ctx.key))
    R.sections.append(dict(title="Image–caption profile (Fig. 4b)", figure="cross_modal.png",
                           table=(["image layer", "Δ(caption→image)", "SE at N", "Δ(image→caption)", "SE at N"],
                                  [[int(la), float(cm.values[i, 0]), float(cm.std[i, 0]), float(cm.values[i, 1]),
                                    float(cm.std[i, 1])] for i, la in enumerate(cm.layers)])))
    R.status["caption"] = "run"
