"""``representations`` (Supp. D, G): sign bits against floats, the token mean against concatenation, on the
ladder's store with floats. Claims: ``binary_float`` and ``mean_edges``.
"""
from __future__ import annotations

from ii_jax import plots
from ii_jax.analyses import claims as C
from ii_jax.cli.report import write_result
from ii_jax.cli.study.config import FLOAT_MODEL


def run(ctx) -> None:
    """Profile the float model's en–es stores in three representations; judge the claims."""
    R, cfg = ctx.runner, ctx.cfg
    if "representations" not in cfg.only or FLOAT_MODEL not in ctx.ladder_src:
        why = ("not run (--only)" if "representations" not in cfg.only
               else f"{FLOAT_MODEL} (the store with floats) is not in the ladder")
        R.claims += [C.not_run("binary_float", why), C.not_run("mean_edges", why)]
        return
    fa, fb = ctx.ladder_src[FLOAT_MODEL]
    jk, key = ctx.jackknife(fa, fb), ctx.key
    with R.step("representations: bits vs floats, mean vs concat"):
        reps = {r: ctx.profile(f"{FLOAT_MODEL}_en-es_{r}", fa, fb, representation=r) for r in ("concat", "float", "mean")}
        write_result(R.out, f"representations_{FLOAT_MODEL}", reps,
                     fig=plots.plot_profiles(reps, directions=("en→es", "es→en"),
                                             title=f"{FLOAT_MODEL}: sign bits vs floats vs token mean"))
        R.claims.append(C.binary_close_to_float(reps["concat"], reps["float"], fa, fb, jackknife=jk, key=key))
        R.claims.append(C.mean_lowers_edges(reps["concat"], reps["mean"], fa, fb, jackknife=jk, key=key))
    R.sections.append(dict(title=f"Representations (Supp. D, G): {FLOAT_MODEL}",
                           figure=f"representations_{FLOAT_MODEL}.png",
                           table=(["layer", "concat bits", "float", "mean"],
                                  [[int(la), float(reps["concat"].values[i].mean()),
                                    float(reps["float"].values[i].mean()), float(reps["mean"].values[i].mean())]
                                   for i, la in enumerate(reps["concat"].layers)])))
    R.status["representations"] = "run"
