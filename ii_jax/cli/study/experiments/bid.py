"""``bid`` (Supp. H): the binary intrinsic dimension per layer of the language model's English store, over 10
and 20 tokens. No claim.
"""
from __future__ import annotations

import json

import jax

from ii_jax import analyses
from ii_jax.bid import bid_profile_store
from ii_jax.cli.report import write_result
from ii_jax.cli.study.runner import _hash


def run(ctx) -> None:
    """BID per layer (cached as ``cache/bid-HASH.json``) and its report section."""
    R, cfg = ctx.runner, ctx.cfg
    if "bid" not in cfg.only:
        return
    from ii_jax.store import open_store

    # The English store itself (every ladder verse), not the language pairs' in-memory subset: BID reads one
    # representation, so it needs no pairing and takes every verse there is.
    en = open_store(R.text_store(cfg.lang_model, "en"))
    with R.step("BID per layer"):
        params = dict(src=str(en.path), tokens=[10, 20])
        path = R.cachedir / f"bid-{_hash(params)}.json"
        if path.exists():
            bid = json.loads(path.read_text())
        else:
            res = bid_profile_store(en, tokens=(10, 20), key=jax.random.fold_in(ctx.key, 9), repeats=3)
            bid = {str(k): analyses.to_json(v) for k, v in res.items()}
            path.write_text(json.dumps(bid))
        write_result(R.out, f"bid_{cfg.lang_model}_en", bid)
    R.sections.append(dict(title="Binary intrinsic dimension per layer (Supp. H)", json=f"bid_{cfg.lang_model}_en.json",
                           text=f"{cfg.lang_model}'s English store: all {len(en)} verses of the ladder.",
                           table=(["depth"] + [f"BID/bits, {k} tokens" for k in bid],
                                  [[float(d)] + [(v["d0"][i] or float("nan")) / v["n_bits"][i] for v in bid.values()]
                                   for i, d in enumerate(next(iter(bid.values()))["relative_depth"])])))
    R.status["bid"] = "run"
