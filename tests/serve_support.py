"""Shared by the serve tests: a tiny trained model, and a real ``movierec serve`` subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from functools import lru_cache
from pathlib import Path

import httpx

from movierec.data.synthetic import generate
from movierec.recommend.recommender import Recommender

with warnings.catch_warnings():  # starlette warns that it would rather use httpx2; httpx works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: F401  (re-exported for the tests)


@lru_cache(maxsize=None)
def tiny_recommender(seed: int = 0) -> Recommender:
    """A small MovieLens-shaped model (MF ratings + EASE ranking), trained once per test session.

    Shared between test modules, so tests must not change it.
    """
    data = generate(n_users=150, n_movies=300, n_ratings=8000, seed=seed).dataset
    return Recommender.fit(
        data,
        rating="mf",
        ranking="ease",
        rating_params={"epochs": 4, "factors": 8},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``movierec serve`` in a subprocess, on a free localhost port."""

    def __init__(self, model_dir: Path, db: Path, port: int | None = None, workers: int = 1):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-c", "from movierec.cli import main; main()", "serve", "-m", str(model_dir),
               "--db", str(db), "--port", str(self.port), "--workers", str(workers)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise RuntimeError(f"movierec serve exited with {self.proc.returncode}: {err.decode()}")
            try:
                if httpx.get(f"{self.base}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"movierec serve did not answer within {timeout} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            # SIGTERM, not SIGINT: a background job (pytest ... &) ignores SIGINT, and so do its children
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode
