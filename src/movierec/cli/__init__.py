"""Command-line interface: ``movierec COMMAND --help`` explains each command with an example."""

from __future__ import annotations

import atexit
import os
import sys

from .threads import configure

configure()  # before any command imports torch

from . import data, demo, evaluate, explore, recommend, serve, train  # noqa: E402,F401  (each module registers its commands)
from .app import app  # noqa: E402


def main() -> None:
    """The ``movierec`` script: run the command, then leave without tearing down native thread pools.

    An interpreter that exits normally destroys C++ globals, among them the worker pools of
    pyarrow's CSV reader, torch and OpenMP; one still busy then (a fast error right after a
    multi-threaded read, on a loaded machine) aborted the process with "terminate called without
    an active exception" and exit code 134 after the right message. So Python's own exit
    handlers run, the streams are flushed, and the process ends with os._exit.
    """
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    atexit._run_exitfuncs()  # logging, multiprocessing, tempfile cleanups: what a normal exit runs
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (movierec ... | head)
            pass
    os._exit(code)


__all__ = ["app", "main"]
