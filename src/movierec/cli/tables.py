"""Rich tables the commands print: recommendations, similar movies, clusters, choosing k."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from ..data.titles import short_title
from .app import console, note

if TYPE_CHECKING:
    from ..explore.clusters import ClusterReport, KChoice
    from ..recommend.recommender import Recommendation, Recommender


def _stars(value: float) -> str:
    return f"{value:g}★"


def recommendation_table(recs: list[Recommendation], caption: str) -> Table:
    """Title with its genres beneath, predicted stars, ranking score, and the reasons (one per line)."""
    table = Table(title=caption, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("movie", overflow="fold", ratio=3)
    table.add_column("stars", justify="right", no_wrap=True)
    table.add_column("score", justify="right", style="dim", no_wrap=True)
    table.add_column("because you rated", overflow="fold", ratio=2)
    for i, r in enumerate(recs, 1):
        stars = "" if r.predicted_rating is None else f"{r.predicted_rating:.1f}★"
        movie = Text(r.title)
        if r.genres:
            movie.append("\n" + ", ".join(r.genres), style="cyan")
        because = "\n".join(f"{b['title']} {_stars(b['rating'])}" for b in r.because[:2])
        table.add_row(str(i), movie, stars, f"{r.score:.3f}", because)
    return table



def popular_table(movies: list[dict]) -> Table:
    """Movies as ``Recommender.movie_info`` describes them, with their training rating counts."""
    table = Table(title="Most-rated movies", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("movie", overflow="fold")
    table.add_column("genres", style="cyan", overflow="fold")
    table.add_column("ratings", justify="right")
    table.add_column("mean ★", justify="right")
    for i, m in enumerate(movies, 1):
        mean = "" if m["mean_rating"] is None else f"{m['mean_rating']:.2f}"
        table.add_row(str(i), m["title"], ", ".join(m["genres"]), f"{m['n_ratings']:,}", mean)
    return table


def similar_table(rec: Recommender, movie_id: int, found: list) -> Table:
    info = rec.movie_info(movie_id)
    table = Table(title=f"Movies like {info['title']}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("movie", overflow="fold")
    table.add_column("genres", style="cyan", overflow="fold")
    table.add_column("similarity", justify="right")
    for i, s in enumerate(found, 1):
        table.add_row(str(i), s.title, ", ".join(s.genres), f"{s.similarity:.3f}")
    return table


def cluster_table(report: ClusterReport) -> Table:
    table = Table(
        title=f"{report.k} clusters of {report.n_movies:,} movies with ≥ {report.min_ratings} ratings",
        title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_lines=True,
    )
    table.add_column("#", justify="right", style="dim")
    table.add_column("size", justify="right")
    table.add_column("genres")
    table.add_column("mean ★", justify="right")
    table.add_column("most-rated titles", overflow="fold")
    for c in report.clusters:
        genres = Text(c.name, style="bold")  # the map's legend names clusters the same way
        if not c.mixed:
            genres.append(f"\n{c.name_support:.0%} of members, {c.name_lift:.1f}x", style="bold")
        genres.append("".join(f"\n{g} {share:.0%} ({lift:.1f}x)" for g, share, lift in c.top_genres), style="cyan")
        mean = "" if c.mean_rating is None else f"{c.mean_rating:.2f}"
        table.add_row(str(c.label + 1), str(c.size), genres, mean, "; ".join(short_title(t) for t in c.top_titles))
    return table


def coherence_line(report: ClusterReport) -> str:
    p, m = report.purity, report.nmi
    return (
        f"Genre purity [bold]{p.value:.3f}[/bold] vs {p.random_mean:.3f} ± {p.random_std:.3f} for "
        f"{report.n_random} random clusterings of the same sizes (z = {p.z:.1f}); "
        f"NMI [bold]{m.value:.3f}[/bold] vs {m.random_mean:.3f} ± {m.random_std:.3f} (z = {m.z:.1f})."
    )


def has_genres(rec: Recommender) -> bool:
    """False for a model trained from a plain ratings CSV without --movies (placeholder catalog)."""
    return bool(rec.catalog.genres.size) and bool(rec.catalog.genres.any())


NO_GENRES_FIX = "train it with --movies movies.csv (movieId,title,genres) to have them"


def print_clusters(rec: Recommender, kind: str, report: ClusterReport) -> None:
    """The clusters table, which embeddings they came from, and how coherent they are."""
    console.print(cluster_table(report))
    console.print(f"Embeddings: the {kind} model ({rec.artifact.models()[kind].name}).", soft_wrap=True)
    if has_genres(rec):
        console.print(coherence_line(report), soft_wrap=True)
    else:
        note(f"this model's movies have no genres, so the clusters are not named or scored against genres; {NO_GENRES_FIX}")


def k_table(choice: KChoice) -> Table:
    table = Table(title="Choosing k", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("k", justify="right")
    table.add_column("inertia", justify="right")
    table.add_column("silhouette", justify="right")
    table.add_column("")
    for k, inertia, sil in zip(choice.ks, choice.inertia, choice.silhouette):
        mark = "← suggested: the elbow of inertia" if k == choice.suggested else ""
        table.add_row(str(k), f"{inertia:,.1f}", f"{sil:.4f}", mark)
    return table
