"""The study's runner: timed steps, the analysis cache, the selection of the common verses and the extraction
subprocesses (:class:`_Runner`); cached results read back (:func:`_from_json`) and stores restricted to a subset
of their items (:func:`_subset`).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

from ii_jax.cli.demo import _extract_pair, _run_cli, _tokenizer_threads, stamp_specs  # the one route to extract
from ii_jax.cli.study.config import CAPTION_MODEL, ENGLISH, FAMILY, IMAGE_MODEL, TOKENS_STORED, StudyError, _Cfg


def _log(msg: str) -> None:
    print(f"[study] {msg}", file=sys.stderr, flush=True)


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


class _Runner:
    """One run's output folders, timings, statuses, report sections and claims, and its extraction steps."""

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
        # Wall time per step as measured when the step did its work, kept across resumed runs (a reused store's
        # step takes no time in the run that reuses it).
        self.measured_path = self.out / "timings.json"
        self.measured: dict[str, float] = (json.loads(self.measured_path.read_text())
                                           if self.measured_path.exists() else {})
        # Seconds spent in a step by runs stopped inside it (killed, interrupted, failed): added to the step's time
        # when a later run completes it, so a step resumed over several runs counts all of its work.
        self.stopped_path = self.out / "timings.stopped.json"
        self.stopped: dict[str, float] = (json.loads(self.stopped_path.read_text())
                                          if self.stopped_path.exists() else {})
        self.status: dict[str, str] = {}
        self.sections: list[dict] = []
        self.summary: list[str] = []
        self.claims: list = []

    # -- steps, caching -------------------------------------------------------------------------------------------
    def step(self, name):
        """A context manager that logs step ``name`` and adds its wall time to ``timings[name]``.

        A step that completes records its time in ``timings.json`` (with the time of earlier runs stopped inside
        it); a step left by an exception (a failure, Ctrl-C, or SIGTERM/SIGHUP, which :func:`stop_on_signals`
        turns into one) adds its time to ``timings.stopped.json`` instead.
        """
        runner = self

        class _Timer:
            def __enter__(self):
                _log(f"{name} ...")
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                from ii_jax.store.files import atomic_write_text

                dt = time.perf_counter() - self.t
                runner.timings[name] = runner.timings.get(name, 0.0) + dt
                if exc[0] is not None:
                    runner.stopped[name] = runner.stopped.get(name, 0.0) + dt
                    atomic_write_text(runner.stopped_path, json.dumps(runner.stopped, indent=1))
                    _log(f"{name}: stopped after {dt:.1f} s")
                    return
                earlier = runner.stopped.pop(name, 0.0)
                if earlier or dt >= 1.0 or name not in runner.measured:
                    runner.measured[name] = earlier + dt
                    atomic_write_text(runner.measured_path, json.dumps(runner.measured, indent=1))
                    if earlier:  # now counted in timings.json
                        atomic_write_text(runner.stopped_path, json.dumps(runner.stopped, indent=1))
                _log(f"{name}: {dt:.1f} s" + (f" (with {earlier:.1f} s of stopped runs)" if earlier else ""))

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
        """Build the built-in ``models`` (a subprocess; built ones are skipped)."""
        with self.step("build model assets"):
            _run_cli(["assets", "build", "--only-builtin", *models] + (["--cache", self.args.cache]
                                                                       if self.args.cache else []),
                     "building the model assets", self.env)

    def _run_select(self, specs, path, n=None):
        if not path.exists():
            cmd = ["select", "--seed", str(self.cfg.seed), "--out", str(path)] + (["-n", str(n)] if n else [])
            for sp in specs:
                cmd += ["--dataset", sp]
            if self.args.cache:
                cmd += ["--cache", self.args.cache]
            _run_cli(cmd, "selecting the common verses", _tokenizer_threads(self.env))
        return json.loads(path.read_text())["ids"]

    def select(self, text_models):
        """The pair ids the text stores read, in three nested sets: ``n_lang`` verses that pass the filter in every
        language pair under every tokenizer (the language pairs and token experiments), inside ``n`` en–es verses
        that pass it under every ladder tokenizer (the ladder), inside which ``n_large`` for the 1.5B model.
        """
        import numpy as np

        from ii_jax.store.files import atomic_write_text

        cfg = self.cfg
        ladder_spec = [f"bible:{ENGLISH}-es=" + ",".join(text_models)]
        lang_specs = ladder_spec + [f"bible:{ENGLISH}-{x}={cfg.lang_model}" for x in cfg.languages
                                    if x not in ("en", "es")]
        self.tag = tag = _hash([lang_specs, cfg.n, cfg.n_lang, cfg.n_large, cfg.seed, cfg.dtype])
        paths = {k: self.stores / f"ids-{k}-{tag}.json" for k in ("ladder", "lang", "large")}
        if not all(p.exists() for p in paths.values()):
            with self.step("select common verses"):
                pool = self._run_select(ladder_spec, self.stores / f"pool-ladder-{_hash(ladder_spec)}.json")
                pool_lang = pool if len(lang_specs) == 1 else self._run_select(
                    lang_specs, self.stores / f"pool-lang-{_hash(lang_specs)}.json")
                for what, have, want in (("en–es under every ladder tokenizer (--n)", pool, cfg.n),
                                         ("every language pair (--n-lang)", pool_lang, cfg.n_lang)):
                    if len(have) < want:
                        raise StudyError(f"only {len(have)} verse pairs pass the filter in {what}; ask for at most "
                                         f"that many.")
                rng = np.random.default_rng(cfg.seed)
                lang = set(rng.choice(pool_lang, cfg.n_lang, replace=False).tolist())
                rest = [x for x in pool if x not in lang]
                ladder = lang | set(rng.choice(rest, cfg.n - cfg.n_lang, replace=False).tolist())
                large = set(rng.choice(sorted(ladder), cfg.n_large, replace=False).tolist())
                for k, ids in (("ladder", ladder), ("lang", lang), ("large", large)):
                    atomic_write_text(paths[k], json.dumps({"ids": [x for x in pool if x in ids]}))
        self.ids_paths = paths
        self.ids = {k: json.loads(p.read_text())["ids"] for k, p in paths.items()}
        return self.ids["ladder"]

    def _which(self, model: str, lang: str) -> str:
        """Which id set store ``(model, lang)`` reads: ``large`` (1.5B), ``lang`` (the language model's other
        languages) or ``ladder`` (every en and es side).
        """
        if model == FAMILY[1]:
            return "large"
        return "ladder" if lang in ("en", "es") else "lang"

    def text_store(self, model: str, lang: str) -> Path:
        """The store of language ``lang`` through ``model``."""
        n = len(self.ids[self._which(model, lang)])
        return self.stores / f"{model}-bible-{lang}-n{n}-{self.tag}"

    def probe(self, models) -> dict:
        """Items/s of each model on this machine (``ii-jax probe``, a few seconds each), cached per CPU and dtype in
        ``stores/speeds.json``; ``--no-probe`` uses the cached ones only.
        """
        import platform
        import subprocess

        from ii_jax.store.files import atomic_write_text
        from ii_jax.store.versions import cpu_info

        path = self.stores / "speeds.json"
        cache = json.loads(path.read_text()) if path.exists() else {}
        machine = cpu_info()["model"] or platform.machine()
        out = {}
        for m in models:
            key = f"{m}|{self.cfg.dtype}|{machine}"
            if key not in cache and not self.args.no_probe:
                with self.step(f"probe {m}"):
                    ds = ["--dataset", "fashion-mnist", "--side", "a"] if m == IMAGE_MODEL else []
                    cmd = [sys.executable, "-m", "extract.cli", "probe", "--model", m, "--dtype", self.cfg.dtype, *ds]
                    cmd += ["--cache", self.args.cache] if self.args.cache else []
                    proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
                    if proc.returncode == 0:
                        cache[key] = json.loads(proc.stdout.strip().splitlines()[-1])
                        atomic_write_text(path, json.dumps(cache, indent=1))
                    else:
                        _log(f"probe of {m} failed ({proc.stderr.strip().splitlines()[-1:] or proc.returncode}); "
                             f"planned without its speed")
            if key in cache:
                out[m] = cache[key]
        return out

    def extract_text(self, model: str, langs, *, floats: bool = False):
        """Extract the languages ``langs`` through ``model`` (two at a time, side by side)."""
        specs = []
        for lang in langs:
            ds = f"bible:{ENGLISH}-{'es' if lang == 'en' else lang}"
            ids = self.ids_paths[self._which(model, lang)]
            extra = ["--ids", str(ids), "--tokens", str(TOKENS_STORED), "--min-tokens", "40", "--max-tokens", "80"]
            specs.append((self.text_store(model, lang), model, ds, lang, None, extra + (["--floats"] if floats else [])))
        for i in range(0, len(specs), 2):
            todo = [s for s in specs[i:i + 2]]
            with self.step(f"extract {', '.join(s[3] for s in todo)} through {model}"):
                _extract_pair(todo, self.args, self.env, log=_log)

    def extract_images(self):
        """Extract the stamps (images and captions) and the Fashion-MNIST pairs."""
        cfg = self.cfg
        specs = stamp_specs(self.stores, cfg.n_images, cfg.seed, cfg.dtype)
        self.img_store, self.cap_store = specs[0][0], specs[1][0]
        with self.step(f"extract stamps through {IMAGE_MODEL} and {CAPTION_MODEL}"):
            _extract_pair(specs, self.args, self.env, light=1, log=_log)
        ftag = f"n{cfg.n_fashion}-s{cfg.seed}-{cfg.dtype}"
        self.fashion = [self.stores / f"{IMAGE_MODEL}-fashion-{side}-{ftag}" for side in ("a", "b")]
        with self.step(f"extract fashion-mnist through {IMAGE_MODEL}"):
            _extract_pair([(path, IMAGE_MODEL, "fashion-mnist", side, cfg.n_fashion, ["--min-tokens", "0",
                                                                                      "--max-tokens", "0"])
                           for path, side in zip(self.fashion, ("a", "b"), strict=True)], self.args, self.env, log=_log)


def stop_on_signals():
    """A context manager under which SIGTERM and SIGHUP raise ``SystemExit`` (exit 128 + the signal), so that a
    killed run leaves its steps through their ``__exit__`` (their time kept, see :meth:`_Runner.step`); the
    previous handlers come back after. Outside the main thread it changes nothing.
    """
    import contextlib
    import signal
    import threading

    @contextlib.contextmanager
    def scope():
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        sigs = [getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]

        def stop(signum, frame):
            raise SystemExit(128 + signum)

        saved = {s: signal.signal(s, stop) for s in sigs}
        try:
            yield
        finally:
            for s, h in saved.items():
                signal.signal(s, h)

    return scope()


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
                      embedding_layer=store.embedding_layer, n_bits=store.n_bits)
