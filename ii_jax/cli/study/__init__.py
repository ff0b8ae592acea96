"""``ii-jax study``: every experiment of arXiv 2505.17101 that the offline assets allow, in one resumable run,
with the paper's claims judged by computed verdicts (:mod:`ii_jax.analyses.claims`).

Settings are the paper's: Bible verses of 40–80 tokens (under every model's tokenizer), the final 2 tokens dropped,
the last 20 tokens concatenated, sign bits and Hamming distances, the embedding layer excluded, jackknife 5 subsets
of 40 % of N, the shuffled null. Every model reads the *same* verses: one ``select`` step (in the extraction layer)
picks the pair ids that pass the filter in every language pair under every model's tokenizer, and each store is
extracted with ``--ids``, so every English side (one edition, ``en@web``) is extracted once per model and shared
by all pairs, and every comparison between models, layers or language pairs is paired.

Experiments (``--only``): ``ladder`` (Fig. 2a: en–es profiles of the model ladder), ``languages`` (Fig. 2b: many
pairs, one causal LM, both directions), ``window`` (Fig. 3a), ``tokens`` (Fig. 3b–c, 10: token distance and causal
asymmetry in ≥ 5 languages), ``representations`` (Supp. D, G: bits vs floats, mean vs concatenation),
``baselines`` (Supp. F: mutual-kNN overlap and CKA beside Δ), ``bid`` (Supp. H), ``images`` (Fig. 4a: same-class
pairs of Tux Paint stamps and Fashion-MNIST through DINOv2), ``caption`` (Fig. 4b) and ``synthetic`` (Fig. 1).

Writes ``--out`` (default ``results/study``): ``report.html`` opening with the claims table, ``report.json``
(claims, timings, parameters; schema :data:`REPORT_SCHEMA`), one JSON and PNG per analysis; stores under
``stores/``, analysis results cached under ``cache/`` keyed by their parameters. A killed run resumes.

The package: :mod:`.config` (settings, options, plan), :mod:`.runner` (steps, cache, selection, extraction),
:mod:`.experiments` (one module per experiment, each from its stores to its claims), :mod:`.report` (the report).
"""
from __future__ import annotations

import time

from ii_jax.cli.study.config import (CLAIM_SCHEMA, EXPERIMENTS, REPORT_SCHEMA, StudyError, add_arguments, plan)

__all__ = ["add_arguments", "run", "StudyError", "EXPERIMENTS", "REPORT_SCHEMA", "plan"]


def run(args) -> int:
    """Run the study (``args`` from :func:`add_arguments`); returns the exit code. SIGTERM and SIGHUP stop it like
    Ctrl-C, keeping the time its current step had taken (:func:`~ii_jax.cli.study.runner.stop_on_signals`).
    """
    from ii_jax.cli.study.runner import stop_on_signals

    with stop_on_signals():
        return _run(args)


def _run(args) -> int:
    from ii_jax.cli.study import experiments as E
    from ii_jax.cli.study.config import CAPTION_MODEL, IMAGE_MODEL, _Cfg
    from ii_jax.cli.study.context import Context
    from ii_jax.cli.study.report import _write
    from ii_jax.cli.study.runner import _Runner

    cfg = _Cfg(args)
    R = _Runner(args, cfg)
    t0 = time.perf_counter()
    ctx = Context(R, cfg)
    R.build_assets(E.text.models(cfg)[1] + ([IMAGE_MODEL, CAPTION_MODEL] if cfg.only & {"images", "caption"}
                                            else []))
    E.text.open_stores(ctx)
    E.ladder.run(ctx)
    E.languages.run(ctx)
    E.languages.shared(ctx)
    E.window.run(ctx)
    E.tokens.run(ctx)
    E.token_weights.run(ctx)
    E.representations.run(ctx)
    E.baselines.run(ctx)
    E.bid.run(ctx)
    E.images.run(ctx)
    E.caption.run(ctx)
    E.synthetic.run(ctx)
    E.null.run(ctx)  # the shuffled null of every profile above, first in the claims table
    for e in EXPERIMENTS:
        R.status.setdefault(e, "run" if e in R.status else ("not run (--only)" if e not in cfg.only else "not run"))
    return _write(R, cfg, t0)
