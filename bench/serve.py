"""Load benchmark of ``movierec serve``: a real server process, many concurrent clients.

Starts ``movierec serve`` on a free localhost port with an ml-latest-small model (trained here
when --model is not given), then sends --requests requests over --concurrency keep-alive
connections, a mix of: recommendations for dataset users, fold-in recommendations for posted
ratings, title search and similar movies. Prints throughput, p50/p99 latency and errors.

Bars on the 2-core workplace machine: 0 errors, >= 500 requests/s, p99 <= 50 ms. The server
runs one worker process per CPU (``movierec serve --workers N``; --workers here), as a
deployment would. The load generator shares the cores with the server, so the figures are a
floor. Latency is also printed per kind of request, to show where the tail comes from.

    python bench/serve.py                      # trains a model first (about a minute)
    python bench/serve.py --model model --requests 5000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
from support import ensure_model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its child processes (Linux /proc)."""
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def start_server(model: Path, db: Path, port: int, workers: int) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from movierec.cli import main; main()", "serve", "-m", str(model),
           "--port", str(port), "--db", str(db), "--workers", str(workers)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}: {proc.stderr.read().decode()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not answer /api/health within 120 s")


KINDS = ("user top-10", "fold-in", "search", "similar")


def request_mix(base: str, n: int, seed: int) -> list[tuple[int, str, str, bytes | None]]:
    """(kind, method, path, body) for ``n`` requests: 30% user top-N, 20% fold-in, 30% search, 20% similar."""
    rng = np.random.default_rng(seed)
    health = httpx.get(f"{base}/api/health").json()
    # Users: ml-latest-small numbers them 1..610. Real ids from the API: movies found by a few searches; queries are words of their titles,
    # so most searches differ (the server caches repeated answers; this keeps the mix honest).
    seeds = ["star", "love", "man", "war", "the", "day", "night", "king", "story", "life", "matrix", "dark"]
    found: list[dict] = []
    for w in seeds:
        found += httpx.get(f"{base}/api/movies", params={"q": w, "limit": 100}).json()["results"]
    movies = sorted({m["movie_id"] for m in found})
    words = sorted({w for m in found for w in re.findall(r"[a-z]{3,}", m["title"].lower())})
    users = np.arange(1, health["users"] + 1)
    kinds = rng.choice(4, size=n, p=[0.3, 0.2, 0.3, 0.2])
    out = []
    for kind in kinds.tolist():  # building the request list, not serving: a loop is fine here
        if kind == 0:
            out.append((kind, "GET", f"/api/users/{rng.choice(users)}/recommendations?n=10", None))
        elif kind == 1:
            picks = rng.choice(movies, size=5, replace=False).tolist()
            stars = (rng.integers(1, 11, size=5) / 2).tolist()
            body = {"ratings": [{"movie_id": m, "rating": s} for m, s in zip(picks, stars)], "n": 10}
            out.append((kind, "POST", "/api/recommendations", json.dumps(body).encode()))
        elif kind == 2:
            out.append((kind, "GET", f"/api/movies?q={quote(str(rng.choice(words)))}&limit=10", None))
        else:
            out.append((kind, "GET", f"/api/movies/{rng.choice(movies)}/similar?n=10", None))
    return out


class Connection:
    """A minimal HTTP/1.1 keep-alive client connection.

    The load generator shares two cores with the server: httpx spends several times the
    server's own CPU per request here, so the bench speaks HTTP/1.1 over asyncio streams.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run_load(port: int, requests: list, concurrency: int) -> tuple[np.ndarray, int, float, dict]:
    latencies = np.zeros(len(requests))
    errors: dict[str, int] = {}
    todo = iter(enumerate(requests))

    async def worker() -> None:
        conn = Connection("127.0.0.1", port)
        for i, (_, method, path, body) in todo:
            start = time.perf_counter()
            try:
                status, _ = await conn.request(method, path, body)
                if status != 200:
                    errors[str(status)] = errors.get(str(status), 0) + 1
            except (OSError, asyncio.IncompleteReadError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                conn.close()
                conn = Connection("127.0.0.1", port)
            latencies[i] = time.perf_counter() - start
        conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return latencies, sum(errors.values()), elapsed, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model directory (default: train one on ml-latest-small)")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server processes (default: one per CPU)")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model = ensure_model(args.model, workdir)
        port = free_port()
        server = start_server(model, workdir / "feedback.db", port, args.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            httpx.get(f"{base}/api/movies", params={"q": "warm up"})
            reqs = request_mix(base, args.warmup + args.requests, args.seed)
            asyncio.run(run_load(port, reqs[: args.warmup], args.concurrency))
            load_before = os.getloadavg()[0]
            server_cpu = process_tree_cpu(server.pid)
            client_cpu = time.process_time()
            latencies, n_errors, elapsed, errors = asyncio.run(run_load(port, reqs[args.warmup :], args.concurrency))
            server_cpu = process_tree_cpu(server.pid) - server_cpu
            client_cpu = time.process_time() - client_cpu
            load_after = os.getloadavg()[0]
        finally:
            server.terminate()
            server.wait(timeout=30)
    ms = latencies * 1000
    print(f"server: movierec serve, {args.workers} worker(s), {os.cpu_count()} CPUs shared with the load generator")
    print(f"requests: {args.requests} at concurrency {args.concurrency} "
          "(30% user top-10, 20% fold-in of 5 ratings, 30% search, 20% similar)")  # fmt: skip
    print(f"throughput: {args.requests / elapsed:.0f} requests/s  ({elapsed:.2f} s)")
    print(f"latency: p50 {np.percentile(ms, 50):.1f} ms, p90 {np.percentile(ms, 90):.1f} ms, "
          f"p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms")  # fmt: skip
    kinds = np.array([kind for kind, *_ in reqs[args.warmup :]])
    print("  by kind: " + "; ".join(
        f"{name} p50 {np.percentile(ms[kinds == k], 50):.1f} / p99 {np.percentile(ms[kinds == k], 99):.1f} ms"
        for k, name in enumerate(KINDS) if (kinds == k).any()))  # fmt: skip
    print(f"errors: {n_errors}" + (f" {errors}" if errors else ""))
    per_request = server_cpu / args.requests * 1000
    print(f"CPU: server {per_request:.2f} ms per request, load generator {client_cpu / args.requests * 1000:.2f} ms; "
          f"machine load average {load_before:.1f} -> {load_after:.1f} (other processes share the cores)")  # fmt: skip
    print(f"server capacity from its CPU time alone: {1000 / per_request:.0f} requests/s per core")


if __name__ == "__main__":
    main()
