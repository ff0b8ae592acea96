"""``synthetic`` (Fig. 1): the Gaussian rank construction and the power benchmark against CKA. Claims:
``synthetic_rank`` and ``synthetic_power``.
"""
from __future__ import annotations

import jax

from ii_jax import plots
from ii_jax import synthetic
from ii_jax.analyses import claims as C
from ii_jax.cli.report import write_result


def run(ctx) -> None:
    """Both synthetic experiments (cached); judge the claims."""
    R, cfg = ctx.runner, ctx.cfg
    if "synthetic" not in cfg.only:
        R.claims += [C.not_run("synthetic_rank", "synthetic was not run (--only)"),
                     C.not_run("synthetic_power", "synthetic was not run (--only)")]
        return
    sy, key = cfg.synthetic, ctx.key
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
