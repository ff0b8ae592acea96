"""``ii-jax bid STORE``: the per-layer BID profile of a shard store (paper Supp. H, Fig. 9).

Wire it into the main parser with ``add_bid_parser(subparsers)``; the parsed arguments carry their
handler (``args.handler(args)`` returns the exit code).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

__all__ = ["add_bid_parser", "run_bid"]


def add_bid_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bid`` subcommand to an ``argparse`` subparsers object; returns its parser.

    Examples:
      >>> import argparse
      >>> from ii_jax.cli.bid import add_bid_parser
      >>> parser = argparse.ArgumentParser(prog="ii-jax")
      >>> _ = add_bid_parser(parser.add_subparsers(dest="command"))
      >>> args = parser.parse_args(["bid", "store_dir", "--tokens", "10", "20", "--no-jackknife"])
      >>> args.tokens, args.jackknife, args.handler.__name__
      ([10, 20], False, 'run_bid')
    """
    p = subparsers.add_parser(
        "bid",
        help="Binary Intrinsic Dimension of every layer of a shard store",
        description="BID / L against relative depth for windows of the last k tokens (paper Fig. 9).",
    )
    p.add_argument("store", help="shard store folder (manifest.json + layer files)")
    p.add_argument("--tokens", type=int, nargs="+", default=[10, 20], help="token windows k (default: 10 20)")
    p.add_argument("--drop-last", "--skip-last", dest="drop_last", type=int, default=0,
                   help="stored tokens dropped from the end first (default 0; --skip-last is the old name)")
    p.add_argument("--layers", type=int, nargs="+", default=None,
                   help="layer indices (default: every stored layer but the embedding layer)")
    p.add_argument("--include-embedding", action="store_true",
                   help="also fit the embedding layer (default: left out, as in the paper §3.1)")
    p.add_argument("--alpha-min", type=float, default=0.0, help="lower quantile of the fitted range (default 0)")
    p.add_argument("--alpha-max", type=float, default=0.2, help="upper quantile of the fitted range (default 0.2)")
    p.add_argument("--n-sub", "--n-samples", dest="n_sub", type=int, default=None,
                   help="points per jackknife subsample (default 0.4 N; --n-samples is the old name)")
    p.add_argument("--repeats", "--n-reps", dest="repeats", type=int, default=10,
                   help="jackknife subsamples (default 10; --n-reps is the old name)")
    p.add_argument("--no-jackknife", dest="jackknife", action="store_false", help="one fit per layer, no error bars")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed of the jackknife subsamples")
    p.add_argument("--plot", default=None, help="write the figure here (PNG/PDF)")
    p.add_argument("--json", default=None, help="write the numbers here")
    p.set_defaults(handler=run_bid)
    return p


def run_bid(args: argparse.Namespace, *, open_store: Callable[[str], Any] | None = None) -> int:
    """Handler of ``ii-jax bid``: prints a table, optionally writes a plot and JSON. Returns the exit code.

    ``open_store`` opens the store (default ``ii_jax.store.open_store``); tests pass their own.
    """
    import jax
    import numpy as np

    from ii_jax.bid import bid_profile_store, plot_bid_profile

    try:
        if open_store is None:
            from ii_jax.store import open_store
        store = open_store(args.store)
        key = jax.random.key(args.seed) if args.jackknife else None
        profiles = bid_profile_store(
            store, tokens=args.tokens, drop_last=args.drop_last, layers=args.layers, alpha_min=args.alpha_min,
            alpha_max=args.alpha_max, key=key, n_sub=args.n_sub, repeats=args.repeats,
            include_embedding=args.include_embedding,
        )
    except (ImportError, OSError, ValueError, TypeError) as err:
        print(f"ii-jax bid: {err}", file=sys.stderr)
        return 2
    out = {}
    for k, prof in profiles.items():
        print(f"last {k} tokens")
        print(f"  {'depth':>6} {'bits':>8} {'BID':>10} {'std':>8} {'BID/L':>7} {'conv':>5}")
        for row in zip(prof.relative_depth, prof.n_bits, prof.d0, prof.d0_std, prof.bid_fraction, prof.n_converged, strict=False):
            print("  {:6.3f} {:8.0f} {:10.1f} {:8.1f} {:7.4f} {:5d}".format(*row))
        out[str(k)] = {name: np.asarray(v).tolist() for name, v in prof._asdict().items()}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"store": str(args.store), "alpha_min": args.alpha_min, "alpha_max": args.alpha_max, "profiles": out}, f, indent=1)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = plot_bid_profile(profiles)
        ax.figure.tight_layout()
        ax.figure.savefig(args.plot, dpi=150)
    n_failed = sum(int(np.sum(np.isnan(p.d0))) for p in profiles.values())
    if n_failed:
        print(f"{n_failed} layer fit(s) failed (NaN): see converged counts.", file=sys.stderr)
    return 0
