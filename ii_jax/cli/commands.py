"""The ``ii-jax`` subcommands: the study's analyses on shard stores, ``bid`` and ``demo``; the extraction
commands (``assets``, ``extract``, ``merge``) are forwarded to ``python -m extract.cli`` in a subprocess, so the
engine never imports the torch layer.

Every analysis subcommand prints a table, writes ``NAME.json`` (numbers, parameters, library version) and
``NAME.png`` into ``--out`` (default ``results/``), and with ``--json`` prints the JSON document instead of the
table. Errors are one line on stderr and a non-zero exit: 2 for bad input, 3 for a missing package or data.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

__all__ = ["main", "build_parser", "run_extract", "EXTRACT_COMMANDS"]


def _common(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("--out", default="results", help="folder for NAME.json and NAME.png (default: results)")
    p.add_argument("--name", default=name, help=f"file name stem of the outputs (default: {name})")
    p.add_argument("--json", action="store_true", help="print the JSON document instead of a table")
    p.add_argument("--k", type=int, default=1, help="nearest neighbours (default 1)")
    p.add_argument("--ties", default="average", choices=("average", "min"), help="tie rule (default average)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed of the resampling (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


#: The extraction layer's subcommands: ``ii-jax NAME ...`` runs ``python -m extract.cli NAME ...``.
EXTRACT_COMMANDS = {
    "assets": "build the offline default models (forwarded to the extraction layer)",
    "extract": "run a model on one side of a paired dataset -> shard store (forwarded to the extraction layer)",
    "merge": "join the parts of a sharded extraction into one store (forwarded to the extraction layer)",
    "select": "pair ids that pass the token filter in several datasets and tokenizers (forwarded to the extraction "
              "layer)",
    "probe": "time a few items of extraction through a model, as JSON (forwarded to the extraction layer)",
}


def run_extract(argv: list[str], env: dict | None = None) -> int:
    """``python -m extract.cli ARGV`` in a subprocess (inheriting stdin/stdout/stderr); returns its exit code."""
    import subprocess

    return subprocess.call([sys.executable, "-m", "extract.cli", *argv], env=env)


_REPRESENTATIONS = ("concat", "last", "mean", "float")  # as ii_jax.analyses.REPRESENTATIONS (not imported: no jax at start-up)


def _two_stores(p, a_help="shard store A", b_help="shard store B, same items", tokens: bool = True) -> None:
    p.add_argument("a", help=a_help)
    p.add_argument("b", help=b_help)
    if tokens:
        p.add_argument("--tokens", type=int, default=20, help="last tokens concatenated (default 20)")


def _layers_opt(p, flag="--layers", help_="layer indices (default: every stored layer but the embedding layer)",
                embedding: bool = True):
    p.add_argument(flag, type=int, nargs="+", default=None, help=help_)
    if embedding:
        p.add_argument("--include-embedding", action="store_true",
                       help="also analyse the embedding layer (default: left out, as in the paper §3.1)")


def _jack_opts(p):
    p.add_argument("--jackknife", type=int, nargs=2, metavar=("REPEATS", "N_SUB"), default=None,
                   help="jackknife subsets (default: 5 x min(2000, 0.4 N))")
    p.add_argument("--no-jackknife", action="store_true", help="no error bars")


def _jack(args):
    if args.no_jackknife:
        return None
    return tuple(args.jackknife) if args.jackknife else "auto"


def build_parser() -> argparse.ArgumentParser:
    """The ``ii-jax`` argument parser (each subcommand carries its handler)."""
    parser = argparse.ArgumentParser(prog="ii-jax", description="Information Imbalance between deep representations "
                                     "(arXiv 2505.17101), bit-packed, in JAX.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="the main job: extract the built-in data through the built-in models, run the "
                       "analyses, write results/demo/report.html")
    from ii_jax.cli.demo import add_arguments

    add_arguments(p)
    p.set_defaults(handler=_run_demo)

    p = sub.add_parser("study", help="every experiment of the paper on the offline models, one resumable run, "
                       "with the claims table: results/study/report.html")
    from ii_jax.cli.study import add_arguments as _study_args
    _study_args(p)
    p.set_defaults(handler=_run_study)

    for name, text in EXTRACT_COMMANDS.items():  # listed here, run by the extraction layer in a subprocess
        p = sub.add_parser(name, help=text, add_help=False,
                           description=f"Forwarded to `python -m extract.cli {name}` (see its --help).")
        p.add_argument("args", nargs=argparse.REMAINDER, help=f"arguments of `python -m extract.cli {name}`")
        p.set_defaults(handler=None)

    p = sub.add_parser("profile", help="layer profile: Δ(A_l→B_l), Δ(B_l→A_l) per layer, jackknife, null (Fig. 2)")
    _two_stores(p, "shard store of side A (e.g. English)", "shard store of side B (e.g. Spanish), same items")
    p.add_argument("--representation", default="concat", choices=_REPRESENTATIONS,
                   help="per-item vector (default concat: sign bits of the last tokens, Hamming)")
    p.add_argument("--tolerance", type=float, default=0.05, help="semantic region: Δ within this of the minimum")
    p.add_argument("--no-null", action="store_true", help="skip the shuffled-pairing null")
    _layers_opt(p)
    _jack_opts(p)
    _common(p, "profile")
    p.set_defaults(handler=_run_profile)

    p = sub.add_parser("compare", help="the same profile under several representations (binary vs float, mean, last)")
    _two_stores(p)
    p.add_argument("--representations", nargs="+", default=["concat", "float"], choices=_REPRESENTATIONS,
                   help="default: concat float")
    _layers_opt(p)
    _jack_opts(p)
    _common(p, "compare")
    p.set_defaults(handler=_run_compare)

    p = sub.add_parser("cross-model", help="Δ between every layer of one store and every layer of another")
    _two_stores(p)
    _layers_opt(p, "--layers-a", "layers of A (default: all but the embedding layer)", embedding=False)
    _layers_opt(p, "--layers-b", "layers of B (default: all but the embedding layer)")
    _common(p, "cross_model")
    p.set_defaults(handler=_run_cross_model)

    p = sub.add_parser("window-sweep", help="minimum Δ over layers against the number of last tokens (Fig. 3a)")
    _two_stores(p, tokens=False)
    p.add_argument("--windows", type=int, nargs="+", default=None, help="token windows (default 1 2 3 5 10 ...)")
    _layers_opt(p)
    _common(p, "window_sweep")
    p.set_defaults(handler=_run_window_sweep)

    p = sub.add_parser("token-distance", help="Δ(T→T−τ), Δ(T−τ→T) and the causal asymmetry per layer (Fig. 3b-c, 10)")
    p.add_argument("store", help="shard store of one side (e.g. English)")
    p.add_argument("--tau-max", type=int, default=10, help="largest token distance (default 10)")
    p.add_argument("--plot-layers", type=int, nargs="+", default=None, help="layers drawn against τ")
    p.add_argument("--jackknife", type=int, nargs=2, metavar=("REPEATS", "N_SUB"), default=None,
                   help="error bars on the asymmetry (default none)")
    _layers_opt(p)
    _common(p, "token_distance")
    p.set_defaults(handler=_run_token_distance, no_jackknife=False)

    p = sub.add_parser("image-pairs", help="Δ between same-class image pairs per layer, R pairings (Fig. 4a)")
    p.add_argument("store", help="image store with class labels")
    p.add_argument("--replications", type=int, default=5, help="pairings (default 5)")
    p.add_argument("--n-pairs", type=int, default=None, help="pairs per pairing (default all)")
    p.add_argument("--tokens", type=int, default=200, help="last image tokens (default 200, capped)")
    _layers_opt(p)
    _common(p, "image_pairs")
    p.set_defaults(handler=_run_image_pairs)

    p = sub.add_parser("cross-modal", help="one text layer against every image layer, bootstrap errors (Fig. 4b)")
    p.add_argument("text", help="caption store")
    p.add_argument("image", help="image store, same items")
    p.add_argument("--text-layer", required=True, metavar="LAYER|PROFILE.json",
                   help="the fixed text layer: an index, or the profile JSON of `ii-jax profile` on the text model "
                        "(its semantic layer)")
    p.add_argument("--text-tokens", type=int, default=20, help="last caption tokens (default 20)")
    p.add_argument("--image-tokens", type=int, default=200, help="last image tokens (default 200, capped)")
    p.add_argument("--bootstrap", type=int, nargs=2, metavar=("REPEATS", "N_SUB"), default=(100, 200),
                   help="bootstrap (default 100 200)")
    _layers_opt(p)
    _common(p, "cross_modal")
    p.set_defaults(handler=_run_cross_modal)

    from ii_jax.cli.bid import add_bid_parser

    p = sub.add_parser("token-weights", help="which tokens of A's window carry what B holds: DII token weights per "
                       "layer, learnt on random halves, judged on the other halves (beyond the paper)")
    _two_stores(p)
    p.add_argument("--repeats", type=int, default=5, help="random halves (default 5; their spread is reported)")
    p.add_argument("--n-sub", type=int, default=None, help="items of a training half (default N // 2)")
    p.add_argument("--epochs", type=int, default=100, help="DII training epochs (default 100)")
    p.add_argument("--learning-rate", type=float, default=0.05, help="Adam learning rate (default 0.05)")
    p.add_argument("--plot-layers", type=int, nargs="+", default=None, help="layers drawn (default: up to four)")
    _layers_opt(p)
    _common(p, "token_weights")
    p.set_defaults(handler=_run_token_weights)

    add_bid_parser(sub)
    return parser


# ----------------------------------------------------------------------------------------------------------------

def _progress(args):
    return False if args.no_progress else None


def _sides(a, b):
    from ii_jax.cli.report import label_of

    la, lb = label_of(a), label_of(b)
    if la.split(":")[0] == lb.split(":")[0]:  # same model: name the sides
        la, lb = la.split(":", 1)[-1], lb.split(":", 1)[-1]
    return la, lb


def _emit(args, result, fig, extra=None):
    from ii_jax.cli.report import write_result

    doc = write_result(args.out, args.name, result, fig=fig, extra=extra)
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        print(f"wrote {args.out}/{args.name}.json and {args.name}.png")
    return 0


def _print(args, header, rows):
    if args.json:
        return
    print("  ".join(f"{h:>10}" for h in header))
    for r in rows:
        print("  ".join(f"{v:10.4f}" if isinstance(v, float) else f"{v!s:>10}" for v in r))


def _run_profile(args):
    import jax

    from ii_jax import analyses, plots

    a, b = analyses.as_source(args.a), analyses.as_source(args.b)
    prof = analyses.layer_profile(a, b, tokens=args.tokens, representation=args.representation, layers=args.layers,
                                  jackknife=_jack(args), null=not args.no_null, k=args.k, ties=args.ties,
                                  key=jax.random.key(args.seed), progress=_progress(args),
                                  include_embedding=args.include_embedding)
    sem = analyses.semantic_layers(prof, tolerance=args.tolerance, include_embedding=args.include_embedding)
    la, lb = _sides(a, b)
    _print(args, ["layer", "depth", f"{la}->{lb}", "std", f"{lb}->{la}", "std", "null"],
           [[int(l), float(d), float(v[0]), float(s[0]), float(v[1]), float(s[1]), float(n.mean())]
            for l, d, v, s, n in zip(prof.layers, prof.relative_depth, prof.values, prof.std, prof.null, strict=False)])
    if not args.json:
        print(f"semantic layer {sem.layer} (depth {sem.relative_depth:.2f}, Δ {sem.value:.3f}); region layers "
              f"{sem.region[0]}..{sem.region[1]}")
    fig = plots.plot_profiles({"": prof}, directions=(f"{la}→{lb}", f"{lb}→{la}"), semantic=sem)
    return _emit(args, prof, fig, {"semantic": sem._asdict()})


def _run_compare(args):
    import jax

    from ii_jax import analyses, plots

    a, b = analyses.as_source(args.a), analyses.as_source(args.b)
    res = analyses.compare_representations(a, b, representations=args.representations, tokens=args.tokens,
                                           layers=args.layers, jackknife=_jack(args), null=False, k=args.k,
                                           ties=args.ties, key=jax.random.key(args.seed), progress=_progress(args),
                                           include_embedding=args.include_embedding)
    la, lb = _sides(a, b)
    first = next(iter(res.values()))
    _print(args, ["layer", "depth"] + [f"{r}:{la}->{lb}" for r in res],
           [[int(l), float(d)] + [float(p.values[i, 0]) for p in res.values()]
            for i, (l, d) in enumerate(zip(first.layers, first.relative_depth, strict=False))])
    fig = plots.plot_profiles(res, directions=(f"{la}→{lb}", f"{lb}→{la}"), null=False)
    return _emit(args, res, fig)


def _run_cross_model(args):
    from ii_jax import analyses, plots
    from ii_jax.cli.report import label_of

    a, b = analyses.as_source(args.a), analyses.as_source(args.b)
    res = analyses.cross_model(a, b, tokens=args.tokens, layers_a=args.layers_a, layers_b=args.layers_b, k=args.k,
                               ties=args.ties, progress=_progress(args), include_embedding=args.include_embedding)
    i, j = divmod(int(res.values[:, :, 0].argmin()), len(res.layers_b))
    if not args.json:
        print(f"min Δ(A→B) = {res.values[i, j, 0]:.4f} at A layer {res.layers_a[i]}, B layer {res.layers_b[j]}")
    fig = plots.plot_cross_model(res, names=(label_of(a), label_of(b)))
    return _emit(args, res, fig)


def _run_window_sweep(args):
    from ii_jax import analyses, plots

    a, b = analyses.as_source(args.a), analyses.as_source(args.b)
    res = analyses.window_sweep(a, b, windows=args.windows, layers=args.layers, k=args.k, ties=args.ties,
                                progress=_progress(args), include_embedding=args.include_embedding)
    la, lb = _sides(a, b)
    _print(args, ["tokens", f"min {la}->{lb}", "layer", f"min {lb}->{la}", "layer"],
           [[int(w), float(m[0]), int(g[0]), float(m[1]), int(g[1])]
            for w, m, g in zip(res.windows, res.minimum, res.argmin, strict=False)])
    fig = plots.plot_window_sweep({"": res}, directions=(f"{la}→{lb}", f"{lb}→{la}"))
    return _emit(args, res, fig)


def _run_token_distance(args):
    import jax

    from ii_jax import analyses, plots

    src = analyses.as_source(args.store)
    res = analyses.token_distance(src, tau_max=args.tau_max, layers=args.layers, k=args.k, ties=args.ties,
                                  jackknife=tuple(args.jackknife) if args.jackknife else None,
                                  key=jax.random.key(args.seed), progress=_progress(args),
                                  include_embedding=args.include_embedding)
    _print(args, ["layer", "depth", "asymmetry", "std"],
           [[int(l), float(d), float(a), float(s)] for l, d, a, s in
            zip(res.layers, res.relative_depth, res.asymmetry, res.asymmetry_std, strict=False)])
    plt = plots._plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    plots.plot_token_distance(res, layers=args.plot_layers, ax=axes[0])
    plots.plot_asymmetry({"": res}, ax=axes[1])
    fig.tight_layout()
    return _emit(args, res, fig)


def _run_token_weights(args):
    import jax

    from ii_jax import analyses, plots

    a, b = analyses.as_source(args.a), analyses.as_source(args.b)
    res = analyses.token_weights(a, b, tokens=args.tokens, layers=args.layers, repeats=args.repeats,
                                 n_sub=args.n_sub, epochs=args.epochs, learning_rate=args.learning_rate, k=args.k,
                                 ties=args.ties, key=jax.random.key(args.seed), progress=_progress(args),
                                 include_embedding=args.include_embedding)
    la, lb = _sides(a, b)
    top = [[int(l), float(d)] + [f"{int(-res.offsets[res.mean[i, j].argmax()])}" for j in range(2)]
           + [float(res.delta_uniform[i, 0].mean()), float(res.delta_learned[i, 0].mean()),
              float(res.delta_uniform[i, 1].mean()), float(res.delta_learned[i, 1].mean())]
           for i, (l, d) in enumerate(zip(res.layers, res.relative_depth, strict=True))]
    _print(args, ["layer", "depth", f"top {la}", f"top {lb}", f"{la}->{lb}", "weighted", f"{lb}->{la}", "weighted"],
           top)
    if not args.json:
        print(f"top: the position (0 = last) of the heaviest token; Δ on held-out halves with equal and with "
              f"learnt weights, mean of {args.repeats} halves")
    fig = plots.plot_token_weights(res, layers=args.plot_layers, directions=(f"{la}→{lb}", f"{lb}→{la}"))
    return _emit(args, res, fig)


def _run_image_pairs(args):
    from ii_jax import analyses, plots

    src = analyses.as_source(args.store)
    res = analyses.image_pairs(src, replications=args.replications, n_pairs=args.n_pairs, tokens=args.tokens,
                               layers=args.layers, k=args.k, ties=args.ties, seed=args.seed, progress=_progress(args),
                               include_embedding=args.include_embedding)
    _print(args, ["layer", "depth", "mean Δ", "std", "null"],
           [[int(l), float(d), float(m), float(s), float(n)] for l, d, m, s, n in
            zip(res.layers, res.relative_depth, res.mean, res.std, res.null, strict=False)])
    fig = plots.plot_image_pairs({f"{res.n_pairs} pairs": res})
    return _emit(args, res, fig)


def _text_layer(value: str) -> int:
    """An integer layer, or the semantic layer recorded in a profile JSON."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        with open(value, encoding="utf-8") as f:
            return int(json.load(f)["extra"]["semantic"]["layer"])
    except FileNotFoundError:
        raise ValueError(f"--text-layer: {value!r} is neither a layer index nor a profile JSON file.") from None
    except (KeyError, TypeError, json.JSONDecodeError):
        raise ValueError(f"--text-layer: {value} is not a profile JSON of `ii-jax profile` (no semantic layer).") \
            from None


def _run_cross_modal(args):
    import jax

    from ii_jax import analyses, plots

    text, image = analyses.as_source(args.text), analyses.as_source(args.image)
    res = analyses.cross_modal(text, image, text_layer=_text_layer(args.text_layer), text_tokens=args.text_tokens,
                               image_tokens=args.image_tokens, layers=args.layers, bootstrap=tuple(args.bootstrap),
                               k=args.k, ties=args.ties, key=jax.random.key(args.seed), progress=_progress(args),
                               include_embedding=args.include_embedding)
    _print(args, ["layer", "depth", "text->img", "std", "img->text", "std"],
           [[int(l), float(d), float(v[0]), float(s[0]), float(v[1]), float(s[1])]
            for l, d, v, s in zip(res.layers, res.relative_depth, res.values, res.std, strict=False)])
    fig = plots.plot_profiles({"": res}, directions=("text→image", "image→text"))
    return _emit(args, res, fig)


def _run_study(args):
    from ii_jax.cli.demo import DemoError
    from ii_jax.cli.study import run

    try:
        return run(args)
    except (DemoError, ValueError) as err:  # DemoError: a failed step (a StudyError, or a subprocess that failed)
        print(f"ii-jax study: {err}", file=sys.stderr)
        return 2


def _run_demo(args):
    from ii_jax.cli.demo import DemoError, run

    try:
        return run(args)
    except DemoError as err:
        print(f"ii-jax demo: {err}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Run ``ii-jax ARGV`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in EXTRACT_COMMANDS:
        return run_extract(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except (ValueError, TypeError, OSError) as err:
        if os.environ.get("II_JAX_DEBUG"):
            raise
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"ii-jax {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ii-jax {args.command}: interrupted", file=sys.stderr)
        return 130


