"""``movierec serve`` as users run it: a real uvicorn process on a free localhost port."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import httpx
import pytest
from serve_support import Server, tiny_recommender
from typer.testing import CliRunner

from movierec.cli import app


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve-model") / "model"
    tiny_recommender().save(path)
    return path


@pytest.mark.slow
def test_real_server_on_localhost_answers_and_keeps_ratings(model_dir, tmp_path):
    server = Server(model_dir, tmp_path / "feedback.db")
    try:
        listening = [addr for addr, port in _listening_sockets() if port == server.port]
        assert listening == ["127.0.0.1"]  # not 0.0.0.0 unless --host says so
        with httpx.Client(base_url=server.base, timeout=30) as client:
            health = client.get("/api/health").json()
            assert health["status"] == "ok" and health["users"] == 150
            assert client.get("/").headers["content-type"].startswith("text/html")
            assert client.get("/static/app.js").status_code == 200
            pid = client.post("/api/profiles").json()["profile_id"]
            movie = client.get("/api/movies", params={"q": "movie", "limit": 1}).json()["results"][0]["movie_id"]
            assert client.put(f"/api/profiles/{pid}/ratings/{movie}", json={"rating": 4.5}).status_code == 200
            recs = client.get(f"/api/profiles/{pid}/recommendations", params={"n": 3}).json()["recommendations"]
            assert len(recs) == 3
            assert client.get("/api/health").json()["profile_ratings"] == 1
    finally:
        assert server.stop() == 0  # Ctrl-C shuts down cleanly


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT balancing is Linux's")
def test_workers_listen_side_by_side_share_the_store_and_stop_together(model_dir, tmp_path):
    server = Server(model_dir, tmp_path / "feedback.db", workers=2)
    workers = _children(server.proc.pid)
    try:
        # One SO_REUSEPORT socket per worker (the second may still be loading the model).
        deadline = time.monotonic() + 60
        while len(listening := [a for a, port in _listening_sockets() if port == server.port]) < 2:
            assert time.monotonic() < deadline, f"only {len(listening)} worker listens"
            time.sleep(0.1)
        assert listening == ["127.0.0.1"] * 2
        pid = httpx.post(f"{server.base}/api/profiles").json()["profile_id"]
        movie = httpx.get(f"{server.base}/api/movies", params={"q": "movie", "limit": 1}).json()["results"][0]
        assert httpx.put(f"{server.base}/api/profiles/{pid}/ratings/{movie['movie_id']}", json={"rating": 4}).is_success
        # A new connection each time, so both workers answer: each sees the rating in SQLite.
        for _ in range(20):
            assert [r["movie_id"] for r in httpx.get(f"{server.base}/api/profiles/{pid}").json()["ratings"]] == [
                movie["movie_id"]
            ]
    finally:
        assert server.stop() == 0
    assert len(workers) == 2
    assert not [p for p in workers if Path(f"/proc/{p}").exists()]  # no worker outlives the server
    assert server.port not in [port for _, port in _listening_sockets()]


def _children(pid: int) -> list[int]:
    """Worker processes of ``movierec serve`` (multiprocessing also starts a resource tracker)."""
    kids = [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    return [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]


def _listening_sockets():
    """(address, port) of listening IPv4 TCP sockets, from /proc."""
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            local, state = line.split()[1], line.split()[3]
            if state == "0A":  # LISTEN
                hex_addr, hex_port = local.split(":")
                addr = ".".join(str(int(hex_addr[i : i + 2], 16)) for i in (6, 4, 2, 0))
                out.append((addr, int(hex_port, 16)))
    return out


def test_taken_port_is_one_clear_error(model_dir, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "-m", str(model_dir), "--port", str(port), "--db", str(tmp_path / "f.db")])
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.output
    assert "Traceback" not in result.output


def test_bad_model_directory_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["serve", "-m", str(tmp_path / "nothing"), "--db", str(tmp_path / "f.db")])
    assert result.exit_code == 1
    assert result.output.startswith("Error:") and "Traceback" not in result.output


def test_serve_help_teaches_with_an_example():
    result = CliRunner().invoke(app, ["serve", "--help"])
    text = " ".join(result.output.split())  # help wraps at the terminal's width
    assert result.exit_code == 0
    assert "Example: movierec train" in text and "movierec serve -m model" in text
    assert "--db" in result.output and "--port" in result.output
