"""The study's experiments, one module each, every one with ``run(ctx)``: it runs the experiment when
``--only`` asks for it and appends its claims, report section and status to the runner, else appends its
claims as not run. :mod:`.text` opens the text stores they read; :mod:`.null` judges the shuffled null last.
"""
from ii_jax.cli.study.experiments import (baselines, bid, caption, images, ladder, languages, null, representations,
                                          synthetic, text, token_weights, tokens, window)
