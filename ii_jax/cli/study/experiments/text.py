"""The text stores: the common verses selected once, each model's languages extracted, the stores opened."""
from __future__ import annotations

from ii_jax.cli.study.config import FAMILY, FLOAT_MODEL, StudyError

#: The experiments that read text stores.
TEXT_EXPERIMENTS = {"ladder", "languages", "window", "tokens", "representations", "baselines", "bid", "token_weights"}


def models(cfg) -> tuple[list[str], list[str]]:
    """``(ladder, text_models)``: the ladder models to extract (none unless the ladder or the representations
    run) and every text model (the ladder and, when any text experiment runs, the language model).
    """
    ladder = cfg.ladder if cfg.only & {"ladder", "representations"} else []
    text_models = list(dict.fromkeys(ladder + ([cfg.lang_model] if cfg.only & TEXT_EXPERIMENTS else [])))
    return ladder, text_models


def open_stores(ctx) -> None:
    """Select the common verses, extract the text stores and open them into ``ctx.ladder_src`` and
    ``ctx.lang_src``; a store that holds other items than the selected ones stops the run.
    """
    from ii_jax.store import open_store

    R, cfg = ctx.runner, ctx.cfg
    if not cfg.only & TEXT_EXPERIMENTS:
        return
    ladder, text_models = models(cfg)
    R.select(text_models)
    for m in ladder:
        if m == cfg.lang_model:
            continue
        R.extract_text(m, ["en", "es"], floats=(m == FLOAT_MODEL))
    lm_langs = cfg.languages if cfg.only & {"languages", "window", "tokens", "baselines", "bid"} else ["en", "es"]
    R.extract_text(cfg.lang_model, lm_langs, floats=(cfg.lang_model == FLOAT_MODEL))
    for m in ladder:
        ctx.ladder_src[m] = tuple(open_store(R.text_store(m, x)) for x in ("en", "es"))
    for x in lm_langs:
        ctx.lang_src[x] = open_store(R.text_store(cfg.lang_model, x))
    for s in list(ctx.lang_src.values()) + [s for p in ctx.ladder_src.values() for s in p]:
        if len(s) != (cfg.n_large if FAMILY[1] in str(s.path) else cfg.n):
            raise StudyError(f"{s.path} holds {len(s)} items, not the selected ones: delete it and rerun.")
