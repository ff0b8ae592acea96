"""Extraction speed: items/s and peak RSS per built-in model on this machine.

Each model runs in its own subprocess (so peak RSS is per model): text models read English Bible verses
of ~40 tokens (38-42 content tokens under the model's tokenizer), vision models read Fashion-MNIST images
(upscaled to 224 x 224). The timed part is what ``ii-jax extract`` does per item: tokenise/preprocess,
forward pass with all hidden states, gather the window, sign-binarise and pack bits. Model loading is
reported separately.

    python benchmarks/bench_extract.py                      # all built-in models
    python benchmarks/bench_extract.py --models gemma3-270m --n 256 --batch-size 8
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's packages, even next to another installed copy
DEFAULTS = {  # model: (batch size, items)
    "e5-small-multilingual": (16, 256),
    "minilm-l6": (16, 256),
    "gemma3-270m": (8, 160),
    "smollm2-135m": (8, 160),
    "dinov2-small": (16, 64),
}


def _one(name: str, n: int | None, batch: int | None, threads: int | None) -> dict:
    import numpy as np
    import torch

    if threads:
        torch.set_num_threads(threads)
    from extract import datasets as D
    from extract.models import load_model
    from ii_jax.binary import pack_bits_np

    b_default, n_default = DEFAULTS.get(name, (16, 128))
    batch, n = batch or b_default, n or n_default
    t0 = time.perf_counter()
    kind_probe = "image" if name.startswith("dinov2") else "text"
    model = load_model(name, modality=kind_probe)
    load_s = time.perf_counter() - t0
    if model.kind == "vision":
        from extract.vision import vision_states

        pairs = D.load_pairs("fashion-mnist:test").subset(range(n))
        items = pairs.items[0]
        run = lambda idx: vision_states(model, items, idx, batch_size=batch)  # noqa: E731
        tokens = None
        warm = run(np.arange(min(batch, n)))
    else:
        from extract.text import batches_by_length, text_states, tokenize_texts

        english = D.load_pairs("bible:en-es").items[0]
        counts = D.content_token_counts(english, model.tokenizer)
        pool = np.flatnonzero((counts >= 38) & (counts <= 42))
        if len(pool) < n:
            raise ValueError(f"only {len(pool)} English verses have 38-42 tokens under {name}; lower --n.")
        texts = [english[i] for i in np.sort(np.random.default_rng(0).choice(pool, n, replace=False))]

        def run(idx):
            tok = tokenize_texts([texts[i] for i in idx], model.tokenizer, window=36, drop_last=2)
            order = np.concatenate(batches_by_length([len(s) for s in tok.input_ids], len(idx)))
            return text_states(model, tok, order, batch_size=batch)

        tokens = float(np.mean([len(model.tokenizer(t)["input_ids"]) for t in texts]))
        warm = run(np.arange(min(batch, n)))
    del warm
    t0 = time.perf_counter()
    states = run(np.arange(n))
    bits = pack_bits_np(states > 0)
    dt = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"model": name, "kind": model.kind, "items": n, "batch": batch, "tokens_per_item": tokens,
            "items_per_s": n / dt, "seconds": dt, "load_s": load_s, "peak_rss_mb": rss_mb,
            "threads": torch.get_num_threads(), "bits_shape": list(bits.shape)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=list(DEFAULTS))
    p.add_argument("--n", type=int, default=None, help="items per model (default per model)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.n, args.batch_size, args.threads)))
        return 0
    from extract.assets import ASSETS, build_asset

    print(f"{'model':24s} {'kind':8s} {'items':>5s} {'batch':>5s} {'tok/item':>8s} {'items/s':>8s} "
          f"{'load s':>7s} {'peak RSS MB':>11s}")
    for name in args.models:
        if name in ASSETS:
            build_asset(name)
        cmd = [sys.executable, __file__, "--one", name]
        for flag, val in (("--n", args.n), ("--batch-size", args.batch_size), ("--threads", args.threads)):
            if val:
                cmd += [flag, str(val)]
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
        if proc.returncode != 0:
            print(f"{name:24s} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        tpi = f"{r['tokens_per_item']:.1f}" if r["tokens_per_item"] else "257"
        print(f"{r['model']:24s} {r['kind']:8s} {r['items']:5d} {r['batch']:5d} {tpi:>8s} {r['items_per_s']:8.1f} "
              f"{r['load_s']:7.1f} {r['peak_rss_mb']:11.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
