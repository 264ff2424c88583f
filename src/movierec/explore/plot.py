"""The cluster picture: a map of movies, coloured by cluster, readable at a glance.

Each dot is a movie (its size grows with its number of ratings) placed by the first two
principal components of its normalized embedding. The legend names every cluster by the
genres that set it apart, and the best-known movies are labelled so a reader can tell
"that corner is Pixar, that one is Tarantino" without a table.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.catalog import Catalog
from ..recommend.titles import short_title
from .clusters import ClusterReport

N_LABELS = 30  # labelled movies at most: enough to orient, few enough to read


def _palette(k: int) -> np.ndarray:
    import matplotlib

    tab20 = matplotlib.colormaps["tab20"]
    # Dark shades first, then light ones: neighbouring cluster numbers get distinct hues.
    base = np.vstack([tab20(np.arange(0, 20, 2)), tab20(np.arange(1, 20, 2)), matplotlib.colormaps["tab20b"](np.arange(20))])
    return base[np.arange(k) % len(base)]


def _candidates(report: ClusterReport) -> np.ndarray:
    """Movies worth a label, in order: each cluster's best-known movie, then the most rated."""
    order = np.argsort(-report.counts, kind="stable")
    first_of_cluster = order[np.sort(np.unique(report.labels[order], return_index=True)[1])]
    return np.concatenate([first_of_cluster, order[: 6 * N_LABELS]])


def _label(text: str, limit: int = 28) -> str:
    text = short_title(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip(" :-,") + "…"


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
    colors = _palette(report.k)
    xy = report.coords
    sizes = 6 + 60 * np.sqrt(report.counts / max(report.counts.max(), 1))

    fig = Figure(figsize=(13, 8.5), dpi=130)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    # A fixed layout (not "constrained"): label overlaps are checked in pixels while drawing,
    # so the axes must not move afterwards.
    fig.subplots_adjust(left=0.03, right=0.74, top=0.9, bottom=0.04)
    draw = np.argsort(report.counts, kind="stable")  # famous (big) dots on top
    ax.scatter(
        xy[draw, 0], xy[draw, 1], s=sizes[draw], c=colors[report.labels[draw]],
        alpha=0.75, linewidths=0.3, edgecolors="white",
    )
    ax.set_xlim(ax.get_xlim())  # freeze the autoscaled limits: pixel positions are final now
    ax.set_ylim(ax.get_ylim())
    renderer = fig.canvas.get_renderer()
    placed: list = []
    # Cluster numbers at each cluster's centre of mass tie the legend to places on the map.
    for c in report.clusters:
        centre = c.coords.mean(axis=0)
        marker = ax.annotate(
            str(c.label + 1), centre, ha="center", va="center", fontsize=9, fontweight="bold", color="white",
            bbox={"boxstyle": "circle,pad=0.25", "fc": colors[c.label], "ec": "#333333", "lw": 0.8},
            zorder=4,
        )
        marker.update_positions(renderer)
        placed.append(marker.get_window_extent(renderer))
    titles = catalog.titles[np.maximum(catalog.rows(report.movie_ids), 0)]
    n_placed = len(placed)
    for i in _candidates(report).tolist():  # greedy: skip a label that would overlap another
        if len(placed) - n_placed >= n_labels:
            break
        text = ax.annotate(
            _label(str(titles[i])), xy[i], xytext=(4, 3), textcoords="offset points", fontsize=8,
            color="#222222", zorder=3,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
        )
        text.update_positions(renderer)  # where the offset puts it, before asking its extent
        box = text.get_window_extent(renderer).expanded(1.05, 1.2)
        if any(box.overlaps(other) for other in placed):
            text.remove()
        else:
            placed.append(box)
    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=8, color=colors[c.label],
                   label=f"{c.label + 1}. {c.name}  ({c.size})")
        for c in report.clusters
    ]
    ax.legend(handles=handles, title="cluster: distinctive genres (movies)", loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9, title_fontsize=9.5)
    p = report.purity
    ax.set_title(
        (title or f"{report.n_movies:,} movies with ≥ {report.min_ratings} ratings in {report.k} clusters")
        + f"\ngenre purity {p.value:.3f} vs {p.random_mean:.3f} ± {p.random_std:.3f} for random clusters "
        f"of the same sizes (z = {p.z:.1f}); NMI {report.nmi.value:.3f} vs {report.nmi.random_mean:.3f}",
        loc="left", fontsize=11,
    )
    ax.set_xlabel("first principal component of the movie embeddings")
    ax.set_ylabel("second principal component")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.savefig(path)
    return path
