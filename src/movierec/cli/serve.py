"""``movierec serve``: the web page and HTTP API of a trained model."""

from __future__ import annotations

import errno
import multiprocessing
import multiprocessing.connection
import signal
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer
from platformdirs import user_data_dir
from rich.markup import escape

from ..errors import MovierecError
from .app import app, console, describe_model, load_model

DEFAULT_DB = Path(user_data_dir("movierec")) / "feedback.sqlite3"


def _listen(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """Bind the listening socket now, so a taken port is one clear line, not a uvicorn traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve --host {host!r}: {exc.strerror}; use e.g. 127.0.0.1 or 0.0.0.0") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts need no wait
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(f"port {port} on {host} is already in use; stop the other server or pick --port {port + 1}") from None
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


@app.command()
def serve(
    model: Annotated[
        Path, typer.Option("--model", "-m", help="Model directory written by [bold]movierec train -o DIR[/bold].")
    ],
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 opens the server to your network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free port).")] = 8000,
    db: Annotated[
        Path,
        typer.Option(
            help="SQLite file keeping visitors' profiles and ratings; "
            f"fold them into the next model with [bold]movierec train --feedback DB[/bold] \\[default: {DEFAULT_DB}].",
            show_default=False,
        ),
    ] = DEFAULT_DB,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes (they share the model's arrays through the page cache); one per CPU core serves the most.")
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request (slower).")] = False,
) -> None:
    """Serve a web page where visitors rate movies and get recommendations, and its JSON API.

    Ratings are kept in --db (one transaction each, on disk before the answer), so a restart or
    a crash loses none. The API is documented at /docs; it binds to 127.0.0.1 unless told otherwise.

    Example: [bold]movierec train --data ml-latest-small -o model && movierec serve -m model[/bold]
    then open http://127.0.0.1:8000/
    """
    try:
        import uvicorn

        from ..serve.app import create_app
    except ImportError as exc:
        raise MovierecError(f"movierec serve needs the serve extra ({exc}); install it: pip install 'movierec[serve]'") from None
    from ..serve.store import FeedbackStore

    recommender = load_model(model)  # a bad directory fails here, as one line
    FeedbackStore(db).close()  # an unusable --db fails here too
    sock = _listen(host, port)
    bound_port = sock.getsockname()[1]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{bound_port}/"
    console.print(
        f"[bold]movierec[/bold] serving {escape(describe_model(recommender))}\n"
        f"  page: [link={url}]{url}[/link]   API docs: {url}docs\n"
        f"  ratings kept in {escape(str(db))}\n"
        "Press Ctrl-C to stop.",
        soft_wrap=True,
    )
    options = dict(log_level="warning", access_log=access_log, timeout_graceful_shutdown=5)
    # uvicorn shuts down gracefully on Ctrl-C / SIGTERM, then re-raises the signal: both are the
    # normal way to stop a server, so they end with exit code 0 and one line.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if workers == 1:
            config = uvicorn.Config(create_app(db_path=db, recommender=recommender), **options)
            uvicorn.Server(config).run(sockets=[sock])
        else:
            del recommender  # each worker loads (maps) the model itself
            _run_workers(model, db, sock, workers, options)
    except KeyboardInterrupt:
        pass
    console.print("movierec serve stopped.")


def _run_workers(model: Path, db: Path, sock: socket.socket, workers: int, options: dict) -> None:
    """Run ``workers`` server processes until one of them stops (then stop them all).

    On Linux each worker listens on its own SO_REUSEPORT socket, so the kernel spreads new
    connections evenly across them; with one shared socket, whichever worker wakes first
    accepts a whole burst of keep-alive connections and the others sit idle (the load
    benchmark's p99 varied 30-60 ms with the split). Elsewhere the workers share ``sock``.
    """
    ctx = multiprocessing.get_context("spawn")  # fork would copy BLAS / torch thread state
    address = sock.getsockname()[:2]
    if sys.platform == "linux":
        sock.close()  # it proved the port free; the workers bind it again within milliseconds
        shared = None
    else:
        shared = sock
    procs = [ctx.Process(target=_worker, args=(model, db, options, shared, address)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    try:
        multiprocessing.connection.wait([proc.sentinel for proc in procs])
        stopped = [proc for proc in procs if proc.exitcode is not None]
        if stopped and stopped[0].exitcode != 0:
            raise MovierecError(f"a server worker exited with code {stopped[0].exitcode}; see its output above")
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for proc in procs:
            proc.join()


def _worker(model: Path, db: Path, options: dict, sock: socket.socket | None, address: tuple) -> None:
    import uvicorn

    from ..serve.app import create_app

    if sock is None:
        sock = _listen(address[0], address[1], reuse_port=True)
    uvicorn.Server(uvicorn.Config(create_app(model, db), **options)).run(sockets=[sock])
