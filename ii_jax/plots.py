"""Figures for the analyses, in the style of the study's (arXiv 2505.17101): Δ against relative depth with error
bars, the permutation null as a shaded band, heat maps for layer × layer matrices.

Every function takes results from :mod:`ii_jax.analyses`, draws into a new figure (or ``ax=``) and returns the
matplotlib ``Figure``; ``save(fig, path)`` writes it. matplotlib is imported lazily with the Agg backend when no
display is configured.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = ["plot_profiles", "plot_cross_model", "plot_window_sweep", "plot_token_distance", "plot_asymmetry",
           "plot_image_pairs", "plot_bid_profile", "plot_token_weights", "save"]

# ten distinct colours (matplotlib's tab10, reordered): ten language pairs get ten
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f", "#e377c2",
           "#bcbd22")


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg")
        except Exception:  # an interactive backend already in use: keep it
            pass
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize=(6.4, 4.2)):
    if ax is not None:
        return ax.figure, ax
    fig, ax = _plt().subplots(figsize=figsize)
    return fig, ax


def _errorbar(ax, x, y, err, **kw):
    err = None if err is None or not np.isfinite(err).any() else np.nan_to_num(err)
    return ax.errorbar(x, y, yerr=err, capsize=2, markersize=5, linewidth=1.3, **kw)


def _null_band(ax, x, result, color, label):
    """The permutation null of ``result`` as a shaded band (2.5–97.5 % over both directions), or a dotted line of its
    mean where there is no band; nothing without a null. ``label=None`` keeps it out of the legend.
    """
    band = np.asarray(getattr(result, "null_band", np.nan), np.float64)
    null = np.asarray(result.null, np.float64)
    if band.ndim == 3 and np.isfinite(band).any():
        ax.fill_between(x, np.nanmin(band[:, :, 0], axis=1), np.nanmax(band[:, :, 1], axis=1), color=color,
                        alpha=0.15, linewidth=0, label=None if label is None else f"{label}, 2.5–97.5 %")
    elif np.isfinite(null).any():
        ax.plot(x, null if null.ndim == 1 else null.mean(axis=1), color=color, linestyle=":", linewidth=1,
                label=label)


def _finish(ax, xlabel, ylabel, title, *, outside: bool = False, handles=None):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    kw = {} if handles is None else {"handles": handles}
    if outside:  # many curves: the legend beside the axes, never over the data
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), **kw)
    else:
        ax.legend(fontsize=8, frameon=False, **kw)


def _null_envelope(ax, results, label):
    """The permutation nulls of several ``results`` as one grey band: at each depth, the lowest 2.5 % and the highest
    97.5 % quantile of the nulls that cover it (each null interpolated over its own depths). Returns whether drawn.
    """
    bands = [(np.asarray(r.relative_depth, np.float64), np.asarray(getattr(r, "null_band", np.nan), np.float64))
             for r in results]
    bands = [(x, b) for x, b in bands if b.ndim == 3 and np.isfinite(b).any()]
    if not bands:
        return False
    grid = np.unique(np.concatenate([x for x, _ in bands]))
    lo = np.full((len(bands), len(grid)), np.nan)
    hi = np.full((len(bands), len(grid)), np.nan)
    for i, (x, b) in enumerate(bands):
        inside = (grid >= x.min()) & (grid <= x.max())
        lo[i, inside] = np.interp(grid[inside], x, np.nanmin(b[:, :, 0], axis=1))
        hi[i, inside] = np.interp(grid[inside], x, np.nanmax(b[:, :, 1], axis=1))
    ax.fill_between(grid, np.nanmin(lo, axis=0), np.nanmax(hi, axis=0), color="0.55", alpha=0.3, linewidth=0,
                    label=label, zorder=0)
    return True


def plot_profiles(profiles: Mapping[str, object], *, directions: Sequence[str] = ("A→B", "B→A"), semantic=None,
                  title: str | None = None, ax=None, null: bool = True):
    """Δ against relative depth for one or more :class:`~ii_jax.analyses.Profile` (paper Fig. 2, 4b, 5, 8).

    One colour per profile (its label carries its N), one line style per direction (solid circles A→B, dashed open
    squares B→A), the permutation nulls as one grey band, the legend beside the axes.

    Args:
      profiles: ``{label: Profile}``; each draws both directions.
      directions: how to name the two directions in the legend (e.g. ``("en→es", "es→en")``).
      semantic: optional :class:`~ii_jax.analyses.SemanticLayers` of the first profile: its region is shaded.
      null: draw the permutation null where the profiles have it: one grey band from the 2.5 % to the 97.5 %
        quantile over both directions and every profile.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses import Profile
      >>> from ii_jax.plots import plot_profiles
      >>> v = np.array([[0.9, 0.8], [0.4, 0.5], [0.6, 0.7]])
      >>> band = np.stack([v * 0 + 0.9, v * 0 + 1.1], axis=-1)  # [L, 2, 2]
      >>> p = Profile(np.arange(3), np.array([0, .5, 1]), v, v * 0.01, v * 0 + 1, band, v * 0 + 0.01, 100, {})
      >>> fig = plot_profiles({"model": p})
      >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
      ['model (N = 100)', 'A→B', 'B→A', 'shuffled null, 2.5–97.5 %']
    """
    from matplotlib.lines import Line2D

    fig, ax = _axes(ax, figsize=(9.0, 4.6))
    handles = []
    for c, (label, p) in enumerate(profiles.items()):
        color = _COLORS[c % len(_COLORS)]
        _errorbar(ax, p.relative_depth, p.values[:, 0], p.std[:, 0], color=color, marker="o", linestyle="-")
        _errorbar(ax, p.relative_depth, p.values[:, 1], p.std[:, 1], color=color, marker="s", linestyle="--",
                  markerfacecolor="none")
        handles.append(Line2D([], [], color=color, linewidth=2.5,
                              label=f"{label} (N = {p.n})" if label else f"N = {p.n}"))
    handles += [Line2D([], [], color="0.2", marker="o", linestyle="-", label=directions[0]),
                Line2D([], [], color="0.2", marker="s", linestyle="--", markerfacecolor="none", label=directions[1])]
    if null and _null_envelope(ax, profiles.values(), "shuffled null, 2.5–97.5 %"):
        handles.append(ax.collections[-1])
    if semantic is not None:
        lo, hi = semantic.region_depth
        handles.append(ax.axvspan(lo - 0.01, hi + 0.01, color="#f3e3b5", alpha=0.6, zorder=0,
                                  label=f"semantic region (layer {semantic.layer})"))
    ax.axhline(1.0, color="0.5", linewidth=0.6)
    ax.set_ylim(0, max(1.1, ax.get_ylim()[1]))
    _finish(ax, "relative depth", "Information Imbalance Δ", title, outside=True, handles=handles)
    fig.tight_layout()
    return fig


def plot_cross_model(result, *, names: tuple[str, str] = ("A", "B"), title: str | None = None):
    """Two heat maps, Δ(A_i→B_j) and Δ(B_j→A_i), for a :class:`~ii_jax.analyses.CrossModel`."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    a, b = names
    for d, ax in enumerate(axes):
        im = ax.imshow(result.values[:, :, d], origin="lower", aspect="auto", vmin=0, vmax=1, cmap="viridis_r",
                       extent=(-0.5, len(result.layers_b) - 0.5, -0.5, len(result.layers_a) - 0.5))
        ax.set_xlabel(f"{b} layer")
        ax.set_ylabel(f"{a} layer")
        ax.set_title(f"Δ({a} → {b})" if d == 0 else f"Δ({b} → {a})", fontsize=10)
        for axis, lays in ((ax.xaxis, result.layers_b), (ax.yaxis, result.layers_a)):
            ticks = np.unique(np.linspace(0, len(lays) - 1, min(len(lays), 7)).round().astype(int))
            axis.set_ticks(ticks)
            axis.set_ticklabels([str(lays[t]) for t in ticks])
    fig.colorbar(im, ax=axes, shrink=0.9, label="Information Imbalance")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_window_sweep(sweeps: Mapping[str, object], *, directions: Sequence[str] = ("A→B", "B→A"),
                      title: str | None = None, ax=None):
    """Minimum Δ over layers against the number of last tokens concatenated (paper Fig. 3a)."""
    fig, ax = _axes(ax)
    for c, (label, s) in enumerate(sweeps.items()):
        color = _COLORS[c % len(_COLORS)]
        prefix = f"{label}: " if label else ""
        ax.plot(s.windows, s.minimum[:, 0], color=color, marker="o", label=f"{prefix}{directions[0]}")
        ax.plot(s.windows, s.minimum[:, 1], color=color, marker="s", linestyle="--", markerfacecolor="none",
                label=f"{prefix}{directions[1]}")
    ax.set_xscale("log")
    windows = sorted({int(w) for s in sweeps.values() for w in s.windows})
    ax.set_xticks(windows)
    ax.set_xticklabels([str(w) for w in windows])
    ax.minorticks_off()
    ax.set_ylim(0, 1.05)
    _finish(ax, "tokens concatenated (from the end)", "min over layers of Δ", title)
    fig.tight_layout()
    return fig


def plot_token_distance(result, *, layers: Sequence[int] | None = None, title: str | None = None, ax=None):
    """Δ(T→T−τ) (solid) and Δ(T−τ→T) (dashed) against τ at chosen layers (paper Fig. 3b–c, 10a)."""
    fig, ax = _axes(ax)
    lays = list(result.layers)
    if layers is None:
        pick = np.unique(np.linspace(0, len(lays) - 1, min(4, len(lays))).round().astype(int))
        layers = [lays[i] for i in pick]
    for c, layer in enumerate(layers):
        if layer not in lays:
            raise ValueError(f"layer {layer} is not in this result (layers {lays}).")
        i = lays.index(layer)
        color = _COLORS[c % len(_COLORS)]
        ax.plot(result.taus, result.backward[i], color=color, marker="o", label=f"layer {layer}: Δ(T→T−τ)")
        ax.plot(result.taus, result.forward[i], color=color, linestyle="--", label=f"layer {layer}: Δ(T−τ→T)")
    ax.set_ylim(0, 1.1)
    _finish(ax, "token distance τ", "Information Imbalance Δ", title)
    fig.tight_layout()
    return fig


def plot_asymmetry(results: Mapping[str, object], *, title: str | None = None, ax=None):
    """The causal asymmetry A = ⟨Δ(T→T−τ) − Δ(T−τ→T)⟩_τ against relative depth (paper Fig. 10b, 11)."""
    fig, ax = _axes(ax)
    for c, (label, r) in enumerate(results.items()):
        _errorbar(ax, r.relative_depth, r.asymmetry, r.asymmetry_std, color=_COLORS[c % len(_COLORS)], marker="o",
                  label=label or "asymmetry")
    ax.axhline(0.0, color="0.5", linewidth=0.6)
    _finish(ax, "relative depth", "asymmetry A", title, outside=len(results) > 2)  # many: beside the data
    fig.tight_layout()
    return fig


def plot_image_pairs(results: Mapping[str, object], *, title: str | None = None, ax=None):
    """Mean of the two directions of Δ between same-class image pairs against depth (paper Fig. 4a)."""
    fig, ax = _axes(ax)
    for c, (label, r) in enumerate(results.items()):
        color = _COLORS[c % len(_COLORS)]
        _errorbar(ax, r.relative_depth, r.mean, r.std, color=color, marker="o", label=label or "same-class pairs")
        _null_band(ax, r.relative_depth, r, color, f"{label}: shuffled pairing (null)")
    ax.set_ylim(0, 1.1)
    _finish(ax, "relative depth", "Information Imbalance Δ (mean of directions)", title)
    fig.tight_layout()
    return fig


def plot_token_weights(result, *, layers: Sequence[int] | None = None, directions: Sequence[str] = ("A→B", "B→A"),
                       title: str | None = None):
    """DII token weights (:func:`~ii_jax.analyses.token_weights`): each token's share of the learnt window distance
    against its position, one panel per direction, at chosen layers (default: up to four, spread over depth); error
    bars are the spread (std) across the random halves, the dashed line the paper's equal weights.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.analyses.token_weights import TokenWeights
      >>> w = np.ones((1, 2, 2, 3))
      >>> r = TokenWeights(np.array([4]), np.array([0.5]), np.array([2, 1, 0]), w, w.mean(2), w.std(2), *np.ones((3, 1, 2, 2)),
      ...                  10, 5, {})
      >>> fig = plot_token_weights(r)
      >>> [ax.get_xlabel() for ax in fig.axes]
      ['token position (0 = last)', 'token position (0 = last)']
    """
    plt = _plt()
    lays = list(result.layers)
    if layers is None:
        pick = np.unique(np.linspace(0, len(lays) - 1, min(4, len(lays))).round().astype(int))
        layers = [lays[i] for i in pick]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    x = -np.asarray(result.offsets)
    for d, ax in enumerate(axes):
        for c, layer in enumerate(layers):
            if layer not in lays:
                raise ValueError(f"layer {layer} is not in this result (layers {lays}).")
            i = lays.index(layer)
            _errorbar(ax, x + 0.08 * (c - (len(layers) - 1) / 2), result.mean[i, d], result.spread[i, d],
                      color=_COLORS[c % len(_COLORS)], marker="o", label=f"layer {layer}")
        ax.axhline(1.0, color="0.4", linestyle="--", linewidth=0.8, label="equal weights (the paper)")
        _finish(ax, "token position (0 = last)", "share of the window distance" if d == 0 else "",
                f"{directions[d]}: weights of the tokens of {directions[d].split('→')[0]}")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_bid_profile(profiles, *, ax=None, label: str = "tokens"):
    """Plot BID / L against relative depth, with a ±1 std band where jackknife errors exist.

    Args:
      profiles: one :class:`~ii_jax.bid.BIDProfile` or ``{key: BIDProfile}`` (e.g. from
        :func:`~ii_jax.bid.bid_profile_store`).
      ax: matplotlib axes to draw on (default: a new figure).
      label: legend title for the dict keys.

    Returns:
      the matplotlib ``Axes``.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.bid import BIDProfile, plot_bid_profile
      >>> prof = BIDProfile(np.array([0.0, 0.5, 1.0]), np.full(3, 100.0), np.array([40.0, np.nan, 60.0]),
      ...                   np.array([2.0, np.nan, 3.0]), np.zeros(3), np.array([10, 0, 10]))
      >>> ax = plot_bid_profile({10: prof})
      >>> ax.get_ylabel()
      'BID / L'
    """
    import matplotlib.pyplot as plt

    from ii_jax.bid.results import BIDProfile

    if isinstance(profiles, BIDProfile):
        profiles = {None: profiles}
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for name, prof in profiles.items():
        order = np.argsort(prof.relative_depth)
        x, y = prof.relative_depth[order], prof.bid_fraction[order]
        (line,) = ax.plot(x, y, marker="o", ms=3, label=None if name is None else f"{label}={name}")
        err = (prof.d0_std / prof.n_bits)[order]
        if np.any(np.isfinite(err)):
            ax.fill_between(x, y - err, y + err, color=line.get_color(), alpha=0.25, linewidth=0)
    ax.set_xlabel("relative depth")
    ax.set_ylabel("BID / L")
    if any(name is not None for name in profiles):
        ax.legend()
    return ax


def save(fig, path, *, dpi: int = 130) -> None:
    """Write ``fig`` to ``path`` (PNG, PDF or SVG by extension) and close it."""
    fig.savefig(path, dpi=dpi)
    _plt().close(fig)
