"""``--help`` that reads as written: whole paragraphs, full defaults, whatever the terminal width.

Typer's rich help kept every line break of a docstring (paragraphs broke mid-sentence on a
narrow terminal), cut long defaults and option texts with an ellipsis inside its boxes, and
showed flags as ``<bool>``. movierec uses click's plain help instead, which wraps whole
paragraphs at word boundaries; the Rich markup written in docstrings and option texts (for
emphasis, ``[bold]...[/bold]``) is removed, along with single line breaks, as each command is
looked up (app.py's group class calls :func:`tidy_command`).
"""

from __future__ import annotations

import inspect
import re

import click

_MARKUP = re.compile(r"\[/?(bold|dim|cyan|yellow|green|red)\]")


def plain(text: str) -> str:
    """Rich markup removed (``\\[`` is a literal bracket), paragraphs on one line each."""
    text = _MARKUP.sub("", text).replace("\\[", "[")
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)


def tidy_command(command: click.Command) -> click.Command:
    """``command``'s help and its parameters' help as :func:`plain` text (idempotent)."""
    if command.help:
        command.help = plain(command.help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = plain(param.help)
    return command
