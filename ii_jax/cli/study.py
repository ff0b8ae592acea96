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
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from ii_jax.cli.demo import DemoError, _extract_pair, _run_cli  # the one subprocess route to extract

__all__ = ["add_arguments", "run", "StudyError", "EXPERIMENTS", "REPORT_SCHEMA", "plan"]

EXPERIMENTS = ("ladder", "languages", "window", "tokens", "representations", "baselines", "bid", "images",
               "caption", "synthetic")
ENGLISH = "en@web"  # one English edition everywhere, so every English side is shared
LADDER = ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "e5-small-multilingual")
FAMILY = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
LANG_MODEL = "qwen2.5-coder-0.5b"
FLOAT_MODEL = "gemma3-270m"  # the ladder's store extracted with --floats (bits vs floats, mean vs concat)
LANGUAGES = ("en", "es", "it", "fr", "de", "zh", "sw", "ru")
PAIRS = (("en", "es"), ("en", "it"), ("en", "fr"), ("en", "de"), ("en", "zh"), ("en", "sw"), ("en", "ru"),
         ("es", "it"), ("es", "fr"), ("fr", "de"))
TOKEN_LANGS = ("en", "es", "it", "de", "zh")
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


def _log(msg: str) -> None:
    print(f"[study] {msg}", file=sys.stderr, flush=True)


class _Cfg:
    def __init__(self, args):
        for name in ("n", "n_large", "n_images", "n_fashion"):
            v = getattr(args, name)
            if v is not None and v < 20:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 20 (got {v}): the resampling needs "
                                 f"points.")
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
        self.jackknife = (5, max(10, int(0.4 * self.n)))
        self.bootstrap = (20, 100) if q else (100, 200)
        self.replications = 3 if q else 5
        self.tau_max = 10
        self.windows = [1, 2, 5, 10, 20, 30, TOKENS_STORED]
        self.synthetic = dict(n=300, p=10_000, repeats=5) if q else dict(n=1000, p=100_000, repeats=10)
        self.seed = args.seed
        if self.tokens + 0 > TOKENS_STORED:
            raise ValueError(f"--tokens {self.tokens}: at most {TOKENS_STORED} tokens are stored per verse.")


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
    jk = max(10, int(0.4 * n))
    return {"n": n, "n_large": n_large, "per_model": work, "extraction_seconds": total,
            "analysis_seconds_estimate": 900, "total_hours_estimate": (total + 900) / 3600,
            "jackknife": [5, jk],
            "error_bar": f"jackknife 5 × {jk} of N = {n}: single-Δ std ≈ 0.01–0.03 (the demo's 0.01–0.05 at "
                         f"N = 1000 scaled by √(1000/N)); paired differences are several times smaller"}


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


class _Runner:
    def __init__(self, args, cfg: _Cfg):
        import jax

        self.args, self.cfg = args, cfg
        self.out = Path(args.out)
        self.stores = self.out / "stores"
        self.cachedir = self.out / "cache"
        self.stores.mkdir(parents=True, exist_ok=True)
        self.cachedir.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env.setdefault("HF_HUB_OFFLINE", "1")
        self.env.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.progress = False if args.no_progress else None
        self.key = jax.random.key(cfg.seed)
        self.timings: dict[str, float] = {}
        self.status: dict[str, str] = {}
        self.sections: list[dict] = []
        self.summary: list[str] = []
        self.claims: list = []

    # -- steps, caching -------------------------------------------------------------------------------------------
    def step(self, name):
        runner = self

        class _Timer:
            def __enter__(self):
                _log(f"{name} ...")
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                dt = time.perf_counter() - self.t
                runner.timings[name] = runner.timings.get(name, 0.0) + dt
                _log(f"{name}: {dt:.1f} s")

        return _Timer()

    def cached(self, name: str, params: dict, compute, cls):
        """An analysis result from ``cache/NAME-HASH.json`` (keyed by ``params``), else computed and written."""
        from ii_jax.analyses import to_json
        from ii_jax.store.files import atomic_write_text

        path = self.cachedir / f"{name}-{_hash(params)}.json"
        if path.exists():
            try:
                return _from_json(cls, json.loads(path.read_text()))
            except KeyError:  # written before cls gained a field (e.g. Profile.null_band): computed again
                pass
        result = compute()
        atomic_write_text(path, json.dumps({"params": params, "result": to_json(result)}, allow_nan=False))
        return result

    # -- extraction -----------------------------------------------------------------------------------------------
    def build_assets(self, models):
        with self.step("build model assets"):
            _run_cli(["assets", "build", "--only-builtin", *models] + (["--cache", self.args.cache]
                                                                       if self.args.cache else []),
                     "building the model assets", self.env)

    def select(self, text_models):
        """The pair ids every text store reads: they pass the filter in every pair and every tokenizer."""
        cfg = self.cfg
        specs = [f"bible:{ENGLISH}-es=" + ",".join(text_models)]
        specs += [f"bible:{ENGLISH}-{x}={cfg.lang_model}" for x in cfg.languages if x not in ("en", "es")]
        tag = _hash([specs, cfg.n, cfg.seed])
        path = self.stores / f"ids-n{cfg.n}-{tag}.json"
        if not path.exists():
            with self.step("select common verses"):
                cmd = ["select", "-n", str(cfg.n), "--seed", str(cfg.seed), "--out", str(path)]
                for s in specs:
                    cmd += ["--dataset", s]
                if self.args.cache:
                    cmd += ["--cache", self.args.cache]
                _run_cli(cmd, "selecting the common verses", self.env)
        ids = json.loads(path.read_text())["ids"]
        rng = __import__("numpy").random.default_rng(cfg.seed + 1)
        large = sorted(rng.choice(len(ids), size=cfg.n_large, replace=False).tolist())
        large_path = self.stores / f"ids-n{cfg.n_large}-of-{path.stem}.json"
        if not large_path.exists():
            from ii_jax.store.files import atomic_write_text

            atomic_write_text(large_path, json.dumps({"ids": [ids[i] for i in large]}))
        self.ids_path, self.large_ids_path, self.tag = path, large_path, tag
        return ids

    def text_store(self, model: str, lang: str) -> Path:
        n = self.cfg.n_large if model == FAMILY[1] else self.cfg.n
        return self.stores / f"{model}-bible-{lang}-n{n}-{self.tag}"

    def extract_text(self, model: str, langs, *, floats: bool = False):
        """Extract the languages ``langs`` through ``model`` (two at a time, side by side)."""
        ids = self.large_ids_path if model == FAMILY[1] else self.ids_path
        specs = []
        for lang in langs:
            ds = f"bible:{ENGLISH}-{'es' if lang == 'en' else lang}"
            extra = ["--ids", str(ids), "--tokens", str(TOKENS_STORED), "--min-tokens", "40", "--max-tokens", "80"]
            specs.append((self.text_store(model, lang), model, ds, lang, None, extra + (["--floats"] if floats else [])))
        for i in range(0, len(specs), 2):
            todo = [s for s in specs[i:i + 2]]
            with self.step(f"extract {', '.join(s[3] for s in todo)} through {model}"):
                _extract_pair(todo, self.args, self.env)

    def extract_images(self):
        cfg = self.cfg
        tag = f"n{cfg.n_images or 'all'}-s{cfg.seed}"
        cap_filter = ["--min-tokens", str(CAPTION_TOKENS), "--max-tokens", "0"]
        self.img_store = self.stores / f"{IMAGE_MODEL}-stamps-image-{tag}"
        self.cap_store = self.stores / f"{CAPTION_MODEL}-stamps-en-{tag}"
        with self.step(f"extract stamps through {IMAGE_MODEL} and {CAPTION_MODEL}"):
            _extract_pair([(self.img_store, IMAGE_MODEL, "stamps:image-en", "image", cfg.n_images,
                            ["--filter-model", CAPTION_MODEL] + cap_filter),
                           (self.cap_store, CAPTION_MODEL, "stamps:image-en", "en", cfg.n_images,
                            ["--tokens", str(CAPTION_TOKENS), "--drop-last", "0"] + cap_filter)], self.args, self.env)
        ftag = f"n{cfg.n_fashion}-s{cfg.seed}"
        self.fashion = [self.stores / f"{IMAGE_MODEL}-fashion-{side}-{ftag}" for side in ("a", "b")]
        with self.step(f"extract fashion-mnist through {IMAGE_MODEL}"):
            _extract_pair([(path, IMAGE_MODEL, "fashion-mnist", side, cfg.n_fashion, ["--min-tokens", "0",
                                                                                      "--max-tokens", "0"])
                           for path, side in zip(self.fashion, ("a", "b"), strict=True)], self.args, self.env)


def _from_json(cls, doc):
    """A cached result (``{"params", "result"}``) back as its NamedTuple of arrays (``None`` -> NaN)."""
    import numpy as np

    r = doc["result"]
    out = {}
    for f in cls._fields:
        v = r[f]
        if f in ("params",) or isinstance(v, (dict, str)) or (isinstance(v, int) and not isinstance(v, bool)):
            out[f] = v
        elif isinstance(v, float) or v is None:
            out[f] = float("nan") if v is None else v
        else:
            a = np.array(v, dtype=object)
            out[f] = np.where(a == None, np.nan, a).astype(np.float64) if a.dtype == object else a  # noqa: E711
            if f in ("layers", "windows", "taus", "argmin", "layers_a", "layers_b"):
                out[f] = out[f].astype(np.int64)
    return cls(**out)


def _subset(store, ids):
    """A store's items restricted to ``ids`` (in the store's order), as an in-memory source."""
    import numpy as np

    from ii_jax.analyses import ArrayStore

    want = set(ids)
    idx = np.array([i for i, x in enumerate(store.item_ids) if x in want])
    if len(idx) != len(want):
        raise StudyError(f"{store.path}: {len(want) - len(idx)} of the requested items are missing.")
    has_f = bool(getattr(store, "has_floats", False))
    return ArrayStore([np.asarray(store.bits(la))[idx] for la in store.layers],
                      floats=[np.asarray(store.floats(la))[idx] for la in store.layers] if has_f else None,
                      layers=store.layers, relative_depth=store.relative_depth,
                      item_ids=[store.item_ids[i] for i in idx], name=f"{store.path}[{len(idx)}]",
                      embedding_layer=store.embedding_layer)


def run(args) -> int:  # noqa: C901 — one linear script of experiments
    """Run the study (``args`` from :func:`add_arguments`); returns the exit code."""
    import jax
    import numpy as np

    from ii_jax import analyses, plots
    from ii_jax.analyses import claims as C
    from ii_jax.analyses.profile import Profile, semantic_layers
    from ii_jax.cli.report import write_report, write_result
    from ii_jax.store import open_store

    cfg = _Cfg(args)
    R = _Runner(args, cfg)
    t0 = time.perf_counter()
    prog = R.progress
    only = cfg.only
    text_needed = only & {"ladder", "languages", "window", "tokens", "representations", "baselines", "bid"}
    ladder = cfg.ladder if only & {"ladder", "representations"} else []
    text_models = list(dict.fromkeys(ladder + ([cfg.lang_model] if text_needed else [])))
    img_needed = bool(only & {"images", "caption"})
    R.build_assets(text_models + ([IMAGE_MODEL, CAPTION_MODEL] if img_needed else []))
    jk, key = cfg.jackknife, R.key

    def profile(name, a, b, **kw):
        params = dict(a=str(getattr(a, "path", a)), b=str(getattr(b, "path", b)), n=len(a), tokens=cfg.tokens,
                      jackknife=jk, seed=cfg.seed, **kw)
        return R.cached(f"profile_{name}", params, lambda: analyses.layer_profile(
            a, b, tokens=cfg.tokens, jackknife=jk, null=True, key=jax.random.fold_in(key, 1), progress=prog, **kw),
            Profile)

    def pair_label(p):
        return f"{p[0]}–{p[1]}"

    # ---------------------------------------------------------------------------------------------- text stores
    lang_src: dict[str, object] = {}
    ladder_src: dict[str, tuple] = {}
    if text_needed:
        R.select(text_models)
        for m in ladder:
            if m == cfg.lang_model:
                continue
            R.extract_text(m, ["en", "es"], floats=(m == FLOAT_MODEL))
        lm_langs = cfg.languages if only & {"languages", "window", "tokens", "baselines", "bid"} else ["en", "es"]
        R.extract_text(cfg.lang_model, lm_langs, floats=(cfg.lang_model == FLOAT_MODEL))
        for m in ladder:
            ladder_src[m] = tuple(open_store(R.text_store(m, x)) for x in ("en", "es"))
        for x in lm_langs:
            lang_src[x] = open_store(R.text_store(cfg.lang_model, x))
        for s in list(lang_src.values()) + [s for p in ladder_src.values() for s in p]:
            if len(s) != (cfg.n_large if FAMILY[1] in str(s.path) else cfg.n):
                raise StudyError(f"{s.path} holds {len(s)} items, not the selected ones: delete it and rerun.")

    # ---------------------------------------------------------------------------------------------- ladder
    profiles, semantic = {}, {}
    if "ladder" in only:
        with R.step("ladder: layer profiles"):
            for m, (en, es) in ladder_src.items():
                profiles[m] = profile(f"{m}_en-es", en, es)
                semantic[m] = semantic_layers(profiles[m])
                write_result(R.out, f"profile_{m}_en-es", profiles[m], extra={"semantic": semantic[m]._asdict()})
            plots.save(plots.plot_profiles(profiles, directions=("en→es", "es→en"),
                                           title=f"English–Spanish verses, last {cfg.tokens} tokens, N = {cfg.n}"),
                       R.out / "ladder.png")
        with R.step("ladder: claims"):
            for m, p in profiles.items():
                R.claims.append(C.inner_minimum(p, *ladder_src[m], jackknife=jk, key=key, name=m))
            if all(f in ladder_src for f in FAMILY):
                sub = [_subset(s, ladder_src[FAMILY[1]][0].item_ids) for s in ladder_src[FAMILY[0]]]
                small = profile(f"{FAMILY[0]}_en-es_n{cfg.n_large}", *sub)
                R.claims.append(C.larger_model_lower((small, *sub), (profiles[FAMILY[1]], *ladder_src[FAMILY[1]]),
                                                     jackknife=(5, max(10, int(0.4 * cfg.n_large))), key=key,
                                                     names=FAMILY))
            else:
                R.claims.append(C.not_run("larger_model", f"needs both {FAMILY[0]} and {FAMILY[1]} in the ladder "
                                                          f"(run without --quick, or --ladder with both)"))
        rows = []
        for m, p in profiles.items():
            s = semantic[m]
            i = list(p.layers).index(s.layer)
            rows.append([m, p.n, s.layer, round(s.relative_depth, 3), float(p.values[i, 0]), float(p.std[i, 0]),
                         float(p.values[i, 1]), float(p.values[0].mean()), float(p.values[-1].mean()),
                         f"{s.region[0]}..{s.region[1]}", float(np.nanmean(p.null))])
        R.sections.append(dict(title="Model ladder: en–es layer profiles (Fig. 2a)", figure="ladder.png",
                               text="Δ between English and Spanish representations of the same verses, per layer "
                                    "(every model reads the same verses).",
                               table=(["model", "N", "min layer", "depth", "Δ(en→es)", "std", "Δ(es→en)",
                                       "first layer", "last layer", "region", "null"], rows)))
        R.status["ladder"] = "run"
    else:
        R.claims += [C.not_run("inner_minimum", "the ladder was not run (--only)"),
                     C.not_run("larger_model", "the ladder was not run (--only)")]

    # ---------------------------------------------------------------------------------------------- languages
    lm = cfg.lang_model
    pair_res = {}
    if "languages" in only:
        with R.step("languages: layer profiles"):
            for p in cfg.pairs:
                a, b = lang_src[p[0]], lang_src[p[1]]
                prof = profile(f"{lm}_{p[0]}-{p[1]}", a, b)
                pair_res[p] = (prof, a, b)
                write_result(R.out, f"profile_{lm}_{p[0]}-{p[1]}", prof)
            plots.save(plots.plot_profiles({pair_label(p): r[0] for p, r in pair_res.items()},
                                           directions=("A→B", "B→A"), title=f"{lm}: language pairs"),
                       R.out / "languages.png")
        with R.step("languages: claims"):
            R.claims.append(C.english_pairs_lower(pair_res, jackknife=jk, key=key))
            R.claims.append(C.english_more_predictive(pair_res, jackknife=jk, key=key))
        rows = []
        for p, (prof, _, _) in pair_res.items():
            v = prof.values.mean(axis=1)
            i = int(np.argmin(v))
            rows.append([pair_label(p), int(prof.layers[i]), float(prof.values[i, 0]), float(prof.std[i, 0]),
                         float(prof.values[i, 1]), float(prof.std[i, 1]), float(np.nanmean(prof.null))])
        R.sections.append(dict(title=f"Language pairs through {lm} (Fig. 2b)", figure="languages.png",
                               text="Both directions of every pair at the layer of the minimum (mean of both).",
                               table=(["pair", "min layer", "Δ(A→B)", "std", "Δ(B→A)", "std", "null"], rows)))
        R.status["languages"] = "run"
    else:
        R.claims += [C.not_run("english_pairs", "the language pairs were not run (--only)"),
                     C.not_run("english_predictive", "the language pairs were not run (--only)")]

    en_es = (lang_src.get("en"), lang_src.get("es"))
    lm_prof = pair_res.get(("en", "es"), (None,))[0]
    if lm_prof is None and en_es[0] is not None and only & {"tokens", "baselines", "window"}:
        lm_prof = profile(f"{lm}_en-es", *en_es)
    lm_sem = semantic_layers(lm_prof) if lm_prof is not None else None

    # ---------------------------------------------------------------------------------------------- window
    if "window" in only:
        with R.step("window sweep"):
            from ii_jax.analyses import WindowSweep

            sw = R.cached("window_sweep", dict(a=str(en_es[0].path), b=str(en_es[1].path), windows=cfg.windows),
                          lambda: analyses.window_sweep(*en_es, windows=cfg.windows, progress=prog), WindowSweep)
            write_result(R.out, f"window_sweep_{lm}", sw,
                         fig=plots.plot_window_sweep({lm: sw}, directions=("en→es", "es→en"),
                                                     title="Minimum Δ over layers vs tokens concatenated"))
            R.claims.append(C.more_tokens_saturate(sw, *en_es, jackknife=jk, key=key))
        R.sections.append(dict(title="Token-window sweep (Fig. 3a)", figure=f"window_sweep_{lm}.png",
                               table=(["direction"] + [f"{w} tok" for w in sw.windows],
                                      [["en→es"] + [float(v) for v in sw.minimum[:, 0]],
                                       ["es→en"] + [float(v) for v in sw.minimum[:, 1]]])))
        R.status["window"] = "run"
    else:
        R.claims.append(C.not_run("more_tokens", "the window sweep was not run (--only)"))

    # ---------------------------------------------------------------------------------------------- tokens
    if "tokens" in only:
        from ii_jax.analyses import TokenDistance

        tds = {}
        with R.step("token distance and asymmetry"):
            for x in cfg.token_langs:
                s = lang_src[x]
                tds[x] = R.cached(f"token_distance_{x}", dict(src=str(s.path), tau_max=cfg.tau_max, jackknife=jk,
                                                             seed=cfg.seed),
                                  lambda s=s: analyses.token_distance(s, tau_max=cfg.tau_max, jackknife=jk,
                                                                      key=jax.random.fold_in(key, 5),
                                                                      progress=prog), TokenDistance)
                write_result(R.out, f"token_distance_{lm}_{x}", tds[x])
            plots.save(plots.plot_asymmetry({f"{lm} {x}": t for x, t in tds.items()},
                                            title="asymmetry 𝒜 = ⟨Δ(T→T−τ) − Δ(T−τ→T)⟩_τ"), R.out / "asymmetry.png")
            R.claims.append(C.token_distance_semantic(tds["en"], lm_sem))
            R.claims.append(C.causal_asymmetry(tds["en"], lm_sem, others={x: t for x, t in tds.items() if x != "en"}))
        i = list(tds["en"].layers).index(lm_sem.layer) if lm_sem.layer in list(tds["en"].layers) else 0
        R.sections.append(dict(title="Token distance and causal asymmetry (Fig. 3b–c, 10)", figure="asymmetry.png",
                               table=(["language", f"𝒜 at layer {lm_sem.layer}", "std", "𝒜 first layer",
                                       "𝒜 last layer"],
                                      [[x, float(t.asymmetry[i]), float(t.asymmetry_std[i]), float(t.asymmetry[0]),
                                        float(t.asymmetry[-1])] for x, t in tds.items()])))
        R.status["tokens"] = "run"
    else:
        R.claims += [C.not_run("token_distance", "token distance was not run (--only)"),
                     C.not_run("causal_asymmetry", "token distance was not run (--only)")]

    # ---------------------------------------------------------------------------------------------- representations
    if "representations" in only and FLOAT_MODEL in ladder_src:
        fa, fb = ladder_src[FLOAT_MODEL]
        with R.step("representations: bits vs floats, mean vs concat"):
            reps = {r: profile(f"{FLOAT_MODEL}_en-es_{r}", fa, fb, representation=r) for r in ("concat", "float", "mean")}
            write_result(R.out, f"representations_{FLOAT_MODEL}", reps,
                         fig=plots.plot_profiles(reps, directions=("en→es", "es→en"),
                                                 title=f"{FLOAT_MODEL}: sign bits vs floats vs token mean"))
            R.claims.append(C.binary_close_to_float(reps["concat"], reps["float"], fa, fb, jackknife=jk, key=key))
            R.claims.append(C.mean_lowers_edges(reps["concat"], reps["mean"], fa, fb, jackknife=jk, key=key))
        R.sections.append(dict(title=f"Representations (Supp. D, G): {FLOAT_MODEL}",
                               figure=f"representations_{FLOAT_MODEL}.png",
                               table=(["layer", "concat bits", "float", "mean"],
                                      [[int(la), float(reps["concat"].values[i].mean()),
                                        float(reps["float"].values[i].mean()), float(reps["mean"].values[i].mean())]
                                       for i, la in enumerate(reps["concat"].layers)])))
        R.status["representations"] = "run"
    else:
        why = ("not run (--only)" if "representations" not in only
               else f"{FLOAT_MODEL} (the store with floats) is not in the ladder")
        R.claims += [C.not_run("binary_float", why), C.not_run("mean_edges", why)]

    # ---------------------------------------------------------------------------------------------- baselines
    if "baselines" in only:
        from ii_jax import baselines
        from ii_jax.analyses.cache import layer_distances
        from ii_jax.binary import unpack_bits

        with R.step("baselines: overlap and CKA"):
            def compute():
                ov, ck = [], []
                for layer in lm_prof.layers:
                    dx, dy = (layer_distances(s, int(layer), tokens=cfg.tokens) for s in en_es)
                    ov.append(float(baselines.mutual_knn_from_distances(dx, dy, k=10)))
                    fx, fy = (np.asarray(unpack_bits(np.asarray(s.bits(int(layer)))[:, -cfg.tokens:], s.n_bits),
                                         np.float32).reshape(len(s), -1) for s in en_es)
                    ck.append(float(baselines.cka(2 * fx - 1, 2 * fy - 1)))
                return {"layers": lm_prof.layers.tolist(), "overlap": ov, "cka": ck}

            params = dict(a=str(en_es[0].path), b=str(en_es[1].path), tokens=cfg.tokens, k=10)
            path = R.cachedir / f"baselines-{_hash(params)}.json"
            base = json.loads(path.read_text()) if path.exists() else compute()
            path.write_text(json.dumps(base))
            write_result(R.out, f"baselines_{lm}", base)
            R.claims.append(C.overlap_tracks_delta(lm_prof, np.array(base["overlap"]), cka=np.array(base["cka"])))
        R.sections.append(dict(title="Overlap and CKA beside Δ (Supp. F)", json=f"baselines_{lm}.json",
                               table=(["layer", "Δ mean", "mutual kNN (k=10)", "CKA (±1 bits)"],
                                      [[int(la), float(lm_prof.values[i].mean()), base["overlap"][i], base["cka"][i]]
                                       for i, la in enumerate(lm_prof.layers)])))
        R.status["baselines"] = "run"
    else:
        R.claims.append(C.not_run("overlap", "baselines were not run (--only)"))

    # ---------------------------------------------------------------------------------------------- BID
    if "bid" in only:
        from ii_jax.bid import bid_profile_store

        with R.step("BID per layer"):
            params = dict(src=str(en_es[0].path), tokens=[10, 20])
            path = R.cachedir / f"bid-{_hash(params)}.json"
            if path.exists():
                bid = json.loads(path.read_text())
            else:
                res = bid_profile_store(en_es[0], tokens=(10, 20), key=jax.random.fold_in(key, 9), repeats=3)
                bid = {str(k): analyses.to_json(v) for k, v in res.items()}
                path.write_text(json.dumps(bid))
            write_result(R.out, f"bid_{lm}_en", bid)
        R.sections.append(dict(title="Binary intrinsic dimension per layer (Supp. H)", json=f"bid_{lm}_en.json",
                               table=(["depth"] + [f"BID/bits, {k} tokens" for k in bid],
                                      [[float(d)] + [(v["d0"][i] or float("nan")) / v["n_bits"][i] for v in bid.values()]
                                       for i, d in enumerate(next(iter(bid.values()))["relative_depth"])])))
        R.status["bid"] = "run"

    # ---------------------------------------------------------------------------------------------- images
    pairs_stamps = None
    if img_needed:
        R.extract_images()
        img = open_store(R.img_store)
        with R.step("same-class image pairs"):
            from ii_jax.analyses import ImagePairs

            pairs_stamps = R.cached("image_pairs_stamps", dict(src=str(R.img_store), r=cfg.replications,
                                                               seed=cfg.seed),
                                    lambda: analyses.image_pairs(img, replications=cfg.replications, progress=prog,
                                                                 seed=cfg.seed), ImagePairs)
            fa, fb = (open_store(p) for p in R.fashion)
            fashion = R.cached("image_pairs_fashion", dict(a=str(R.fashion[0]), jackknife=jk, seed=cfg.seed),
                               lambda: analyses.layer_profile(fa, fb, tokens=200, jackknife=(5, int(0.4 * len(fa))),
                                                              key=jax.random.fold_in(key, 4), progress=prog), Profile)
            write_result(R.out, "image_pairs_stamps", pairs_stamps)
            write_result(R.out, "image_pairs_fashion", fashion)
            plots.save(plots.plot_image_pairs({"stamps": pairs_stamps}, title="DINOv2 same-class pairs"),
                       R.out / "image_pairs.png")
            if "images" in only:
                R.claims.append(C.vision_minimum_late(pairs_stamps, name="stamps"))
                R.claims.append(C.vision_minimum_late(fashion, name="fashion-mnist"))
        R.sections.append(dict(title="Same-class image pairs through DINOv2 (Fig. 4a)", figure="image_pairs.png",
                               table=(["layer", "depth", "stamps Δ", "std", "fashion-mnist Δ", "std"],
                                      [[int(la), float(pairs_stamps.relative_depth[i]), float(pairs_stamps.mean[i]),
                                        float(pairs_stamps.std[i]), float(fashion.values[i].mean()),
                                        float(fashion.std[i].mean())] for i, la in enumerate(pairs_stamps.layers)])))
        R.status["images"] = "run"
    if "images" not in only:
        R.claims.append(C.not_run("vision_late", "the image pairs were not run (--only)"))

    if "caption" in only:
        cap = open_store(R.cap_store)
        with R.step("image-caption profile"):
            text_layer = cap.layers[-1]
            if CAPTION_MODEL in ladder_src:
                text_layer = semantic_layers(profiles[CAPTION_MODEL]).layer
            cm = R.cached("cross_modal", dict(cap=str(R.cap_store), img=str(R.img_store), layer=text_layer,
                                              bootstrap=cfg.bootstrap, seed=cfg.seed),
                          lambda: analyses.cross_modal(cap, open_store(R.img_store), text_layer=text_layer,
                                                       text_tokens=CAPTION_TOKENS, bootstrap=cfg.bootstrap,
                                                       key=jax.random.fold_in(key, 6), progress=prog), Profile)
            write_result(R.out, "cross_modal", cm,
                         fig=plots.plot_profiles({"": cm}, directions=(f"caption (e5 layer {text_layer}) → image",
                                                                       "image → caption"),
                                                 title=f"Tux Paint captions vs {IMAGE_MODEL} layers"))
            R.claims.append(C.caption_at_image_semantic(cm, pairs_stamps))
        R.sections.append(dict(title="Image–caption profile (Fig. 4b)", figure="cross_modal.png",
                               table=(["image layer", "Δ(caption→image)", "std", "Δ(image→caption)", "std"],
                                      [[int(la), float(cm.values[i, 0]), float(cm.std[i, 0]), float(cm.values[i, 1]),
                                        float(cm.std[i, 1])] for i, la in enumerate(cm.layers)])))
        R.status["caption"] = "run"
    else:
        R.claims.append(C.not_run("caption_semantic", "the image-caption profile was not run (--only)"))

    # ---------------------------------------------------------------------------------------------- synthetic
    if "synthetic" in only:
        from ii_jax import synthetic

        sy = cfg.synthetic
        with R.step("synthetic (Fig. 1)"):
            rank = R.cached("synthetic_rank", dict(n=sy["n"], repeats=sy["repeats"], seed=cfg.seed),
                            lambda: synthetic.rank_experiment(jax.random.fold_in(key, 11), n=sy["n"],
                                                              repeats=sy["repeats"]), synthetic.Curves)
            power = R.cached("synthetic_power", dict(n=sy["n"], p=sy["p"], repeats=sy["repeats"], seed=cfg.seed),
                             lambda: synthetic.power_experiment(jax.random.fold_in(key, 12), n=sy["n"], p=sy["p"],
                                                                repeats=sy["repeats"]), synthetic.Curves)
            plt = plots._plt()
            fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
            synthetic.plot_rank_experiment(rank, ax=axes[0])
            synthetic.plot_power_experiment({sy["p"]: power}, ax=axes[1])
            fig.tight_layout()
            write_result(R.out, "synthetic", {"rank": rank, "power": power}, fig=fig)
            R.claims.append(C.synthetic_rank(rank))
            R.claims.append(C.synthetic_power(power, p=sy["p"]))
        R.sections.append(dict(title="Synthetic Gaussian benchmarks (Fig. 1)", figure="synthetic.png",
                               text=f"Rank construction (D = 10, n = {sy['n']}) and the power benchmark at "
                                    f"p = {sy['p']}" + (" (the paper: p = 10^5; --quick uses a smaller p)"
                                                        if sy["p"] < 100_000 else "")))
        R.status["synthetic"] = "run"
    else:
        R.claims += [C.not_run("synthetic_rank", "synthetic was not run (--only)"),
                     C.not_run("synthetic_power", "synthetic was not run (--only)")]

    # ---------------------------------------------------------------------------------------------- null, report
    nulls = {f"ladder {m}": p for m, p in profiles.items()}
    nulls.update({f"{lm} {pair_label(p)}": r[0] for p, r in pair_res.items()})
    if pairs_stamps is not None:
        nulls["stamps pairs"] = pairs_stamps
    R.claims.insert(0, C.shuffled_null(nulls))
    for e in EXPERIMENTS:
        R.status.setdefault(e, "run" if e in R.status else ("not run (--only)" if e not in only else "not run"))
    return _write(R, cfg, t0, write_report)


def _write(R, cfg, t0, write_report) -> int:
    from ii_jax.analyses import claims as C
    from ii_jax.analyses import to_json
    from ii_jax.store.files import atomic_write_text
    from ii_jax.store.versions import ii_jax_version

    total = time.perf_counter() - t0
    R.timings["total"] = total
    header, rows = C.claims_table(R.claims)
    counts = {v: sum(r.verdict == v for r in R.claims) for v in ("holds", "does not hold", "inconclusive", "not run")}
    pl = plan(cfg.n, cfg.n_large, languages=cfg.languages, ladder=cfg.ladder, lang_model=cfg.lang_model,
              n_images=cfg.n_images or 390, n_fashion=cfg.n_fashion)
    params = {"quick": cfg.quick, "n": cfg.n, "n_large": cfg.n_large, "n_images": cfg.n_images,
              "n_fashion": cfg.n_fashion, "tokens": cfg.tokens, "tokens_stored": TOKENS_STORED, "drop_last": 2,
              "filter": "40-80 tokens on every side under every model's tokenizer (select + --ids)",
              "english_edition": ENGLISH, "ladder": cfg.ladder, "lang_model": cfg.lang_model,
              "languages": cfg.languages, "pairs": [list(p) for p in cfg.pairs], "token_langs": cfg.token_langs,
              "jackknife": list(cfg.jackknife), "bootstrap": list(cfg.bootstrap), "replications": cfg.replications,
              "windows": cfg.windows, "synthetic": cfg.synthetic, "seed": cfg.seed, "only": sorted(cfg.only),
              "embedding_layer": "excluded", "metric": "Hamming on sign bits", "rule": f"{C.SIGMAS:g} paired σ"}
    summary = [f"Claims: {counts['holds']} hold, {counts['does not hold']} do not hold, {counts['inconclusive']} "
               f"inconclusive, {counts['not run']} not run. Rule: a difference of two Δ's counts when it exceeds "
               f"{C.SIGMAS:g} paired standard errors (jackknife {cfg.jackknife[0]} × {cfg.jackknife[1]} of N = "
               f"{cfg.n}, the same subsets for both); each row states its rule."] + R.summary
    sections = [dict(title="Claims of the paper, computed", table=(header, rows),
                     text="Verdicts are computed from the numbers by the rule in each row. Where our small models "
                          "disagree with the paper, the row says so: that is a result, not a failure.")] + R.sections
    sections.append(dict(title="Plan: N per model and estimated time of the default run",
                         text=json.dumps(pl["per_model"]) + f"; estimated total {pl['total_hours_estimate']:.2f} h. "
                              + pl["error_bar"]))
    report = write_report(R.out, title="ii-jax study: the paper's claims on offline models", sections=sections,
                          summary=summary, params=params, timings=R.timings)
    import jax
    import numpy as np

    doc = {"title": "ii-jax study", "claims": [to_json(dict(c._asdict())) for c in R.claims],
           "experiments": R.status, "timings": R.timings, "params": params, "plan": to_json(pl),
           "library": {"ii-jax": ii_jax_version(), "jax": jax.__version__, "numpy": np.__version__},
           "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_text(R.out / "report.json", json.dumps(doc, indent=1, allow_nan=False))
    print(f"ii-jax study: done in {total / 60:.1f} min; report: {report}")
    for r in R.claims:
        print(f"  [{r.verdict}] {r.claim} — {r.measured}")
    return 0

