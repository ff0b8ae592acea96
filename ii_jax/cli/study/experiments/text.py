"""The text stores: the common verses selected once, each model's languages extracted, the stores opened."""
from __future__ import annotations

from ii_jax.cli.study.config import FLOAT_MODEL, IMAGE_MODEL, StudyError

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
    """Select the common verses, extract the text stores and open them into ``ctx.ladder_src`` (every ladder model's
    en–es on the ladder's N verses) and ``ctx.lang_src`` (the language model's languages on the ``n_lang`` verses
    they share: its en and es stores restricted to them); a store that holds other items than the selected ones
    stops the run.
    """
    from ii_jax.cli.study.config import fit, format_plan, plan
    from ii_jax.cli.study.runner import _log, _subset
    from ii_jax.store import open_store

    R, cfg = ctx.runner, ctx.cfg
    if not cfg.only & TEXT_EXPERIMENTS:
        return
    ladder, text_models = models(cfg)
    lm_langs = cfg.languages if cfg.only & {"languages", "window", "tokens", "baselines", "bid"} else ["en", "es"]
    speeds = R.probe(text_models + ([IMAGE_MODEL] if cfg.only & {"images", "caption"} else []))
    kw = dict(speeds=speeds, languages=lm_langs, ladder=ladder, lang_model=cfg.lang_model,
              n_images=cfg.n_images or 390, n_fashion=cfg.n_fashion)
    budget = None
    if cfg.hours is not None:  # the sizes not given shrink to the budget, before the verses are drawn
        asked = plan(cfg.n, cfg.n_lang, cfg.n_large, **kw)
        sizes = fit(cfg.hours, cfg.n, cfg.n_lang, cfg.n_large, fixed=cfg.given, **kw)
        budget = {"hours": cfg.hours, "asked": [cfg.n, cfg.n_lang, cfg.n_large],
                  "asked_hours_estimate": asked["total_hours_estimate"], "sizes": list(sizes)}
        cfg.n, cfg.n_lang, cfg.n_large = sizes
    R.select(text_models)
    R.plan = plan(cfg.n, cfg.n_lang, cfg.n_large, **kw)
    if budget is not None:
        R.plan["budget"] = budget
    _log(format_plan(R.plan))
    for m in ladder:
        if m == cfg.lang_model:
            continue
        R.extract_text(m, ["en", "es"], floats=(m == FLOAT_MODEL))
    R.extract_text(cfg.lang_model, lm_langs, floats=(cfg.lang_model == FLOAT_MODEL))
    for m in ladder:
        ctx.ladder_src[m] = tuple(open_store(R.text_store(m, x)) for x in ("en", "es"))
    opened_lm = dict(zip(("en", "es"), ctx.ladder_src.get(cfg.lang_model, ()), strict=False))
    for x in lm_langs:  # the language model's en and es stores, when in the ladder, are opened (and hashed) once
        ctx.lang_src[x] = opened_lm[x] if x in opened_lm else open_store(R.text_store(cfg.lang_model, x))
    opened = [(m, x, s) for m, pair in ctx.ladder_src.items() for x, s in zip(("en", "es"), pair, strict=True)]
    opened += [(cfg.lang_model, x, s) for x, s in ctx.lang_src.items()]
    for m, x, s in opened:
        want = R.ids[R._which(m, x)]
        if len(s) != len(want) or set(s.item_ids) != set(want):
            raise StudyError(f"{s.path} holds {len(s)} items, not the {len(want)} selected ones: delete it and rerun.")
    if cfg.n_lang < cfg.n:  # every language pair on the same verses: en and es restricted to the shared ones
        for x in ("en", "es"):
            if x in ctx.lang_src:
                ctx.lang_src[x] = _subset(ctx.lang_src[x], R.ids["lang"])
