"""``baselines`` (Supp. F): mutual-kNN overlap and CKA beside Δ, per layer of the language model's en–es
stores. Claim: ``overlap``.
"""
from __future__ import annotations

import json

import numpy as np

from ii_jax import baselines
from ii_jax.analyses import claims as C
from ii_jax.analyses.cache import layer_distances
from ii_jax.binary import unpack_bits
from ii_jax.cli.report import write_result
from ii_jax.cli.study.runner import _hash


def _signs(src, layer: int, tokens: int) -> np.ndarray:
    """The last ``tokens`` tokens of ``layer`` of a store or an in-memory subset (:class:`ArrayStore`) as ±1 floats
    ``[N, tokens * n_bits]``.
    """
    b = np.asarray(src.bits(layer))[:, -tokens:]
    return 2 * np.asarray(unpack_bits(b, src.n_bits), np.float32).reshape(len(src), -1) - 1


def run(ctx) -> None:
    """Overlap and CKA per layer (cached as ``cache/baselines-HASH.json``); judge the claim."""
    R, cfg = ctx.runner, ctx.cfg
    if "baselines" not in cfg.only:
        R.claims.append(C.not_run("overlap", "baselines were not run (--only)"))
        return
    lm, en_es, lm_prof = cfg.lang_model, ctx.en_es, ctx.lm_prof
    with R.step("baselines: overlap and CKA"):
        def compute():
            ov, ck = [], []
            for layer in lm_prof.layers:
                dx, dy = (layer_distances(s, int(layer), tokens=cfg.tokens) for s in en_es)
                ov.append(float(baselines.mutual_knn_from_distances(dx, dy, k=10)))
                fx, fy = (_signs(s, int(layer), cfg.tokens) for s in en_es)
                ck.append(float(baselines.cka(fx, fy)))
            return {"layers": lm_prof.layers.tolist(), "overlap": ov, "cka": ck}

        params = dict(a=str(en_es[0].path), b=str(en_es[1].path), tokens=cfg.tokens, k=10)
        path = R.cachedir / f"baselines-{_hash(params)}.json"
        base = json.loads(path.read_text()) if path.exists() else compute()
        path.write_text(json.dumps(base))
        write_result(R.out, f"baselines_{lm}", base)
        R.claims.append(C.overlap_tracks_delta(lm_prof, np.array(base["overlap"]), *en_es, cka=np.array(base["cka"]),
                                               jackknife=ctx.jackknife(*en_es), key=ctx.key))
    R.sections.append(dict(title="Overlap and CKA beside Δ (Supp. F)", json=f"baselines_{lm}.json",
                           table=(["layer", "Δ mean", "mutual kNN (k=10)", "CKA (±1 bits)"],
                                  [[int(la), float(lm_prof.values[i].mean()), base["overlap"][i], base["cka"][i]]
                                   for i, la in enumerate(lm_prof.layers)])))
    R.status["baselines"] = "run"
