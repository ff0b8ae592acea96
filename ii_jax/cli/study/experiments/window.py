"""``window`` (Fig. 3a): the minimum Δ over layers against the tokens concatenated. Claim: ``more_tokens``."""
from __future__ import annotations

from ii_jax import analyses, plots
from ii_jax.analyses import WindowSweep
from ii_jax.analyses import claims as C
from ii_jax.cli.report import write_result


def run(ctx) -> None:
    """Sweep the windows over the language model's en–es stores; judge the claim."""
    R, cfg = ctx.runner, ctx.cfg
    if "window" not in cfg.only:
        R.claims.append(C.not_run("more_tokens", "the window sweep was not run (--only)"))
        return
    lm, en_es = cfg.lang_model, ctx.en_es
    with R.step("window sweep"):
        sw = R.cached("window_sweep", dict(a=str(en_es[0].path), b=str(en_es[1].path), windows=cfg.windows),
                      lambda: analyses.window_sweep(*en_es, windows=cfg.windows, progress=ctx.progress), WindowSweep)
        write_result(R.out, f"window_sweep_{lm}", sw,
                     fig=plots.plot_window_sweep({lm: sw}, directions=("en→es", "es→en"),
                                                 title="Minimum Δ over layers vs tokens concatenated"))
        R.claims.append(C.more_tokens_saturate(sw, *en_es, jackknife=ctx.jackknife(*en_es), key=ctx.key))
    R.sections.append(dict(title="Token-window sweep (Fig. 3a)", figure=f"window_sweep_{lm}.png",
                           table=(["direction"] + [f"{w} tok" for w in sw.windows],
                                  [["en→es"] + [float(v) for v in sw.minimum[:, 0]],
                                   ["es→en"] + [float(v) for v in sw.minimum[:, 1]]])))
    R.status["window"] = "run"
