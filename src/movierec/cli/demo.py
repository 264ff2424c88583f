"""``movierec demo``: the README's main job, end to end."""

from __future__ import annotations

from ..loading import DEFAULT_RELEASE, load
from .app import DataDirOption, DataOption, app, console


@app.command()
def demo(data: DataOption = DEFAULT_RELEASE, data_dir: DataDirOption = None) -> None:
    """Run movierec end to end on a release (default: ml-latest-small).

    Example: [bold]movierec demo[/bold]
    """
    dataset = load(data, data_dir)
    console.print(dataset)
