"""The cluster picture: a map of movies, coloured by cluster, readable at a glance.

Each dot is a movie (its size grows with its number of ratings) placed by the report's map
(t-SNE of the normalized embeddings: near means similar, the axes have no units). Each
cluster has its own colour from :data:`PALETTE` (the web page uses the same ones), a numbered
marker at its densest place, and a legend line with its name and the share of its members
that carry the name's genres. The best-known movies are labelled with their full titles
where a label fits without covering another or leaving the plot, so a reader can tell "that
corner is Pixar, that one is Tarantino" without a table.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.catalog import Catalog
from ..data.titles import short_title
from .clusters import PALETTE, ClusterReport

N_LABELS = 30  # labelled movies at most: enough to orient, few enough to read


def _colors(k: int) -> np.ndarray:
    from matplotlib.colors import to_rgba_array

    return to_rgba_array([PALETTE[c % len(PALETTE)] for c in range(k)])


def _ink(rgba: np.ndarray) -> str:
    """Black or white, whichever reads better on ``rgba`` (by relative luminance)."""
    luminance = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
    return "black" if luminance > 0.5 else "white"


def _centre(coords: np.ndarray) -> np.ndarray:
    """The member nearest the cluster's median: on the cluster even when t-SNE splits it."""
    return coords[np.argmin(np.square(coords - np.median(coords, axis=0)).sum(axis=1))]


def _candidates(report: ClusterReport) -> np.ndarray:
    """Movies worth a label, each once, in order: each cluster's best-known movie, then the most rated."""
    order = np.argsort(-report.counts, kind="stable")
    first_of_cluster = order[np.sort(np.unique(report.labels[order], return_index=True)[1])]
    both = np.concatenate([first_of_cluster, order[: 6 * N_LABELS]])
    return both[np.sort(np.unique(both, return_index=True)[1])]


# Where a title may go, tried in order: right and above its dot, left, right and below, left and below.
_PLACES = (((4, 3), "left", "bottom"), ((-4, 3), "right", "bottom"), ((4, -3), "left", "top"), ((-4, -3), "right", "top"))


def plot_clusters(
    report: ClusterReport,
    catalog: Catalog,
    path: str | os.PathLike,
    title: str | None = None,
    n_labels: int = N_LABELS,
) -> Path:
    """Write the cluster map of ``report`` to ``path`` (PNG, or any format matplotlib knows)."""
    # A bare Figure on the Agg canvas, not pyplot: no global backend switch, no GUI, nothing
    # to close, and safe to call from a server thread.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    path = Path(path)
    if path.parent and not path.parent.exists():
        raise OSError(f"cannot write the plot to {path}: folder {path.parent} does not exist")
    colors = _colors(report.k)
    xy = report.coords
    sizes = 6 + 60 * np.sqrt(report.counts / max(report.counts.max(), 1))

    fig = Figure(figsize=(13, 8.5), dpi=130)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    # A fixed layout (not "constrained"): label overlaps are checked in pixels while drawing,
    # so the axes must not move afterwards.
    fig.subplots_adjust(left=0.02, right=0.70, top=0.9, bottom=0.04)
    draw = np.argsort(report.counts, kind="stable")  # famous (big) dots on top
    ax.scatter(
        xy[draw, 0], xy[draw, 1], s=sizes[draw], c=colors[report.labels[draw]],
        alpha=0.75, linewidths=0.3, edgecolors="white",
    )
    ax.set_xlim(ax.get_xlim())  # freeze the autoscaled limits: pixel positions are final now
    ax.set_ylim(ax.get_ylim())
    renderer = fig.canvas.get_renderer()
    placed: list = []
    # Cluster numbers at each cluster's centre tie the legend to places on the map.
    for c in report.clusters:
        marker = ax.annotate(
            str(c.label + 1), _centre(c.coords), ha="center", va="center", fontsize=9, fontweight="bold",
            color=_ink(colors[c.label]),
            bbox={"boxstyle": "circle,pad=0.25", "fc": colors[c.label], "ec": "#333333", "lw": 0.8},
            zorder=4,
        )
        marker.update_positions(renderer)
        placed.append(marker.get_window_extent(renderer))
    titles = catalog.titles[np.maximum(catalog.rows(report.movie_ids), 0)]
    inside = ax.get_window_extent(renderer)
    n_placed = len(placed)
    for i in _candidates(report).tolist():  # greedy: the first place that overlaps nothing, or no label
        if len(placed) - n_placed >= n_labels:
            break
        text = ax.annotate(
            short_title(str(titles[i])), xy[i], xytext=_PLACES[0][0], textcoords="offset points", fontsize=8, color="#222222",
            zorder=3, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
        )
        for offset, ha, va in _PLACES:
            text.xyann = offset
            text.set_horizontalalignment(ha)
            text.set_verticalalignment(va)
            text.update_positions(renderer)  # where the offset puts it, before asking its extent
            box = text.get_window_extent(renderer).expanded(1.05, 1.2)
            fits = inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
            if fits and not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
        else:
            text.remove()
    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=8, color=colors[c.label],
               label=f"{c.label + 1}. {c.name}" + ("" if c.mixed else f"  {c.name_support:.0%}") + f"  ({c.size})")
        for c in report.clusters
    ]
    ax.legend(handles=handles, title="cluster: genres, share of members with them (movies)", loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9, title_fontsize=9.5)
    p = report.purity
    ax.set_title(
        (title or f"{report.n_movies:,} movies with ≥ {report.min_ratings} ratings in {report.k} clusters")
        + f"\ngenre purity {p.value:.3f} vs {p.random_mean:.3f} ± {p.random_std:.3f} for random clusters "
        f"of the same sizes (z = {p.z:.1f}); NMI {report.nmi.value:.3f} vs {report.nmi.random_mean:.3f}",
        loc="left", fontsize=11,
    )
    if report.layout == "tsne":
        ax.set_xlabel("t-SNE map of the movie embeddings: near means similar; the axes have no units")
    else:
        ax.set_xlabel("first principal component of the movie embeddings")
        ax.set_ylabel("second principal component")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.savefig(path, bbox_inches="tight", pad_inches=0.2)  # the legend's longest name decides the width
    return path
