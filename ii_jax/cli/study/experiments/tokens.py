"""``tokens`` (Fig. 3b–c, 10): token distance and causal asymmetry in several languages. Claims:
``token_distance`` and ``causal_asymmetry`` (English, at the language model's semantic layer).
"""
from __future__ import annotations

import jax

from ii_jax import analyses, plots
from ii_jax.analyses import TokenDistance
from ii_jax.analyses import claims as C
from ii_jax.cli.report import write_result


def run(ctx) -> None:
    """The token distance of every token language's store; judge the claims."""
    R, cfg = ctx.runner, ctx.cfg
    if "tokens" not in cfg.only:
        R.claims += [C.not_run("token_distance", "token distance was not run (--only)"),
                     C.not_run("causal_asymmetry", "token distance was not run (--only)")]
        return
    lm, key, lm_sem = cfg.lang_model, ctx.key, ctx.lm_sem
    tds = {}
    with R.step("token distance and asymmetry"):
        for x in cfg.token_langs:
            s = ctx.lang_src[x]
            jk = ctx.jackknife(s)
            tds[x] = R.cached(f"token_distance_{x}", dict(src=str(s.path), tau_max=cfg.tau_max, jackknife=jk,
                                                         seed=cfg.seed),
                              lambda s=s, jk=jk: analyses.token_distance(s, tau_max=cfg.tau_max, jackknife=jk,
                                                                  key=jax.random.fold_in(key, 5),
                                                                  progress=ctx.progress), TokenDistance)
            write_result(R.out, f"token_distance_{lm}_{x}", tds[x])
        plots.save(plots.plot_asymmetry({f"{lm} {x}": t for x, t in tds.items()},
                                        title="asymmetry A = ⟨Δ(T→T−τ) − Δ(T−τ→T)⟩ over τ"), R.out / "asymmetry.png")
        R.claims.append(C.token_distance_semantic(tds["en"], lm_sem, ctx.lang_src["en"],
                                                  jackknife=ctx.jackknife(ctx.lang_src["en"]), key=ctx.key))
        R.claims.append(C.causal_asymmetry(tds["en"], lm_sem, others={x: t for x, t in tds.items() if x != "en"}))
    i = list(tds["en"].layers).index(lm_sem.layer) if lm_sem.layer in list(tds["en"].layers) else 0
    R.sections.append(dict(title="Token distance and causal asymmetry (Fig. 3b–c, 10)", figure="asymmetry.png",
                           table=(["language", f"𝒜 at layer {lm_sem.layer}", "SE at N", "𝒜 first layer",
                                   "𝒜 last layer"],
                                  [[x, float(t.asymmetry[i]), float(t.asymmetry_std[i]), float(t.asymmetry[0]),
                                    float(t.asymmetry[-1])] for x, t in tds.items()])))
    R.status["tokens"] = "run"
