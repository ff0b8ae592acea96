"""``token_weights`` (beyond the paper): which tokens of the en window carry what the es window holds, and the
reverse. DII token weights (:func:`ii_jax.analyses.token_weights`) at the language model's semantic layer and at
its first and last analysed layers, learnt on random subsets of the verses (half of them, at most
:data:`TRAIN_ITEMS`) and judged by the exact Δ on the others. No claim of the paper is at stake, so it adds a
report section and no claim row.
"""
from __future__ import annotations

import numpy as np

from ii_jax import analyses, plots
from ii_jax.analyses import TokenWeights
from ii_jax.cli.report import write_result

REPEATS = 5  # random training subsets: the spread of each weight across them is the error bar
EPOCHS = 100
#: Verses a training subset holds at most: the full-batch DII's cost grows faster than N² per epoch. On a 2-core CPU
#: shared with an extraction, one fit on half of 2500 verses took ~110 s (30 fits: ~55 min), on 600 verses ~30 s,
#: on 350 ~4 s. The other verses judge it.
TRAIN_ITEMS = 600


def layers_of(ctx) -> list[int]:
    """The semantic layer of the en–es profile and the first and last layers it covers, in order."""
    lays = [int(x) for x in ctx.lm_prof.layers]
    return sorted({lays[0], int(ctx.lm_sem.layer), lays[-1]})


def run(ctx) -> None:
    """Learn and judge the token weights of the language model's en–es stores; add the report section."""
    R, cfg = ctx.runner, ctx.cfg
    if "token_weights" not in cfg.only:
        return
    lm, en_es = cfg.lang_model, ctx.en_es
    if en_es[0] is None or ctx.lm_prof is None:
        R.status["token_weights"] = "not run (no en–es stores of the language model)"
        return
    layers = layers_of(ctx)
    with R.step("token weights (DII)"):
        n_sub = min(len(en_es[0]) // 2, TRAIN_ITEMS)
        params = dict(a=str(en_es[0].path), b=str(en_es[1].path), n=len(en_es[0]), tokens=cfg.tokens, layers=layers,
                      repeats=REPEATS, epochs=EPOCHS, seed=cfg.seed, n_sub=n_sub)
        tw = R.cached("token_weights", params, lambda: analyses.token_weights(
            *en_es, tokens=cfg.tokens, layers=layers, repeats=REPEATS, epochs=EPOCHS, n_sub=n_sub, key=ctx.key,
            progress=ctx.progress), TokenWeights)
        write_result(R.out, f"token_weights_{lm}", tw,
                     fig=plots.plot_token_weights(tw, directions=("en→es", "es→en"),
                                                  title=f"{lm}: DII token weights (beyond the paper)"))
    R.sections.append(dict(title="Which tokens carry the shared information: DII token weights (beyond the paper)",
                           figure=f"token_weights_{lm}.png", text=_text(tw, ctx), table=_table(tw)))
    R.status["token_weights"] = "run"


def _text(tw, ctx) -> str:
    r = tw.weights.shape[2]
    return (f"Beyond the paper, which weighs the last {len(tw.offsets)} tokens equally. Each token of one "
            f"language's window gets a weight, learnt with the Differentiable Information Imbalance on {tw.n_sub} "
            f"random verses of the N = {tw.n} ({tw.params['epochs']} Adam epochs) so that the weighted window's "
            f"neighbours best predict the other language's whole window; the other {tw.n - tw.n_sub} verses judge it "
            f"by the exact Δ, against equal weights on the same verses. A weight is shown as the token's share of the "
            f"window distance (1 = equal weights). Error bars: the standard deviation across {r} random training "
            f"subsets (the spread of an estimate from {tw.n_sub} verses, not a standard error at N). Semantic layer "
            f"{ctx.lm_sem.layer}.")


def _table(tw) -> tuple[list[str], list[list]]:
    header = ["layer", "direction", "heaviest token (tokens before the last)", "its share", "spread", "share of last token",
              "Δ held-out, equal", "Δ held-out, learnt", "subsets better"]
    rows = []
    for i, layer in enumerate(tw.layers):
        for d, name in enumerate(("en→es", "es→en")):
            j = int(np.argmax(tw.mean[i, d]))
            better = int(np.sum(tw.delta_learned[i, d] < tw.delta_uniform[i, d]))
            rows.append([int(layer), name, int(tw.offsets[j]), float(tw.mean[i, d, j]), float(tw.spread[i, d, j]),
                         float(tw.mean[i, d, -1]), float(tw.delta_uniform[i, d].mean()),
                         float(tw.delta_learned[i, d].mean()), f"{better}/{tw.weights.shape[2]}"])
    return header, rows
