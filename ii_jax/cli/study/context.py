"""What the study's experiments share (:class:`Context`): the runner, the settings, the opened stores and the
results that later experiments reuse (profiles, semantic layers, image pairs).
"""
from __future__ import annotations

import dataclasses
from typing import Any


def pair_label(p) -> str:
    """``("en", "es")`` -> ``"en–es"``."""
    return f"{p[0]}–{p[1]}"


@dataclasses.dataclass
class Context:
    """The state the experiments pass along, filled in as they run.

    Attributes:
      runner: the run's :class:`~ii_jax.cli.study.runner._Runner` (steps, cache, claims, sections, statuses).
      cfg: its :class:`~ii_jax.cli.study.config._Cfg`.
      ladder_src: per ladder model, its ``(en, es)`` stores. lang_src: per language, the language model's store.
      profiles, semantic: per ladder model, its en–es profile and semantic layer (from ``ladder``).
      pair_res: per language pair, ``(profile, a, b)`` (from ``languages``).
      en_es: the language model's ``(en, es)`` stores. lm_prof, lm_sem: their profile and semantic layer.
      pairs_stamps: the stamps' same-class image pairs (from ``images``).
    """

    runner: Any
    cfg: Any
    ladder_src: dict = dataclasses.field(default_factory=dict)
    lang_src: dict = dataclasses.field(default_factory=dict)
    profiles: dict = dataclasses.field(default_factory=dict)
    semantic: dict = dataclasses.field(default_factory=dict)
    pair_res: dict = dataclasses.field(default_factory=dict)
    en_es: tuple = (None, None)
    lm_prof: Any = None
    lm_sem: Any = None
    pairs_stamps: Any = None

    @property
    def key(self):
        """The run's PRNG key."""
        return self.runner.key

    @property
    def progress(self):
        """The ``progress`` argument of the analyses (``False`` under ``--no-progress``)."""
        return self.runner.progress

    def jackknife(self, *sources) -> tuple[int, int, str]:
        """The jackknife of an analysis of ``sources``: ``cfg.jackknife_for`` of the items they hold (paired
        sources hold the same items; the fewest count).
        """
        return self.cfg.jackknife_for(min(len(s) for s in sources))

    def profile(self, name: str, a, b, **kw):
        """The layer profile of ``a`` against ``b`` with the shuffled null, cached as ``profile_NAME``; jackknifed
        by :meth:`jackknife` of ``a`` and ``b``; ``kw`` go to :func:`~ii_jax.analyses.layer_profile` (``tokens``
        defaults to the study's window).
        """
        import jax

        from ii_jax import analyses
        from ii_jax.analyses.profile import Profile

        cfg, jk = self.cfg, self.jackknife(a, b)
        tokens = kw.pop("tokens", cfg.tokens)
        params = dict(a=str(getattr(a, "path", a)), b=str(getattr(b, "path", b)), n=len(a), tokens=tokens,
                      jackknife=jk, seed=cfg.seed, **kw)
        return self.runner.cached(f"profile_{name}", params, lambda: analyses.layer_profile(
            a, b, tokens=tokens, jackknife=jk, null=True, key=jax.random.fold_in(self.key, 1),
            progress=self.progress, **kw), Profile)
