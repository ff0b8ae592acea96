"""The shuffled null of every profile the run computed (the ladder's, the language pairs', the stamps' pairs).
Claim: ``null``, the first row of the claims table.
"""
from __future__ import annotations

from ii_jax.analyses import claims as C
from ii_jax.cli.study.context import pair_label


def run(ctx) -> None:
    """Judge the shuffled null over what ran and put the claim first."""
    nulls = {f"ladder {m}": p for m, p in ctx.profiles.items()}
    nulls.update({f"{ctx.cfg.lang_model} {pair_label(p)}": r[0] for p, r in ctx.pair_res.items()})
    if ctx.pairs_stamps is not None:
        nulls["stamps pairs"] = ctx.pairs_stamps
    ctx.runner.claims.insert(0, C.shuffled_null(nulls))
