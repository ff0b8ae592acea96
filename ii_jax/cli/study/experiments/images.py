"""``images`` (Fig. 4a): same-class pairs of Tux Paint stamps and Fashion-MNIST through DINOv2. Claims:
``vision_late`` (one per data set). Also run for ``caption``, which reads the stamps' pairs.
"""
from __future__ import annotations

import jax

from ii_jax import analyses, plots
from ii_jax.analyses import ImagePairs
from ii_jax.analyses import claims as C
from ii_jax.analyses.profile import Profile
from ii_jax.cli.report import write_result


def run(ctx) -> None:
    """Extract the image stores and profile the same-class pairs into ``ctx.pairs_stamps``; judge the claims."""
    from ii_jax.store import open_store

    R, cfg = ctx.runner, ctx.cfg
    if cfg.only & {"images", "caption"}:
        key, prog = ctx.key, ctx.progress
        R.extract_images()
        img = open_store(R.img_store)
        with R.step("same-class image pairs"):
            pairs_stamps = R.cached("image_pairs_stamps", dict(src=str(R.img_store), r=cfg.replications,
                                                               seed=cfg.seed),
                                    lambda: analyses.image_pairs(img, replications=cfg.replications, progress=prog,
                                                                 seed=cfg.seed), ImagePairs)
            ctx.pairs_stamps = pairs_stamps
            fa, fb = (open_store(p) for p in R.fashion)
            jk = ctx.jackknife(fa, fb)
            fashion = R.cached("image_pairs_fashion", dict(a=str(R.fashion[0]), jackknife=jk, seed=cfg.seed),
                               lambda: analyses.layer_profile(fa, fb, tokens=200, jackknife=jk,
                                                              key=jax.random.fold_in(key, 4), progress=prog), Profile)
            write_result(R.out, "image_pairs_stamps", pairs_stamps)
            write_result(R.out, "image_pairs_fashion", fashion)
            plots.save(plots.plot_image_pairs({"stamps": pairs_stamps}, title="DINOv2 same-class pairs"),
                       R.out / "image_pairs.png")
            if "images" in cfg.only:
                sa, sb = analyses.pairing_sources(img, seed=cfg.seed)
                stamps = ctx.profile("stamps_first_pairing", sa, sb, tokens=200)
                R.claims.append(C.vision_minimum_late(stamps, sa, sb, name="stamps", jackknife=ctx.jackknife(sa, sb),
                                                      key=key))
                R.claims.append(C.vision_minimum_late(fashion, fa, fb, name="fashion-mnist", jackknife=jk, key=key))
        R.sections.append(dict(title="Same-class image pairs through DINOv2 (Fig. 4a)", figure="image_pairs.png",
                               table=(["layer", "depth", "stamps Δ", "spread over pairings", "fashion-mnist Δ", "SE at N"],
                                      [[int(la), float(pairs_stamps.relative_depth[i]), float(pairs_stamps.mean[i]),
                                        float(pairs_stamps.std[i]), float(fashion.values[i].mean()),
                                        float(fashion.std[i].mean())] for i, la in enumerate(pairs_stamps.layers)])))
        R.status["images"] = "run"
    if "images" not in cfg.only:
        R.claims.append(C.not_run("vision_late", "the image pairs were not run (--only)"))
