"""The release table and fetch(): local copies need no network; downloads are verified and atomic."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from test_readers_writers import assert_same, release_dataset

from movierec import DataError, DownloadError, load
from movierec.data.archive import pack_release
from movierec.data.download import fetch, md5_of, resolve_data_dir
from movierec.data.releases import RELEASES, Release, by_folder, release
from movierec.data.writers import write_release


def test_release_table():
    assert list(RELEASES) == ["ml-latest-small", "ml-latest", "ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m"]
    small = release("ml-latest-small")
    assert small.url == "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
    assert small.md5 == "31a303aabbc519bd33d025e44d6c2570" and small.format == "csv"
    assert release("ml-10m").folder == "ml-10M100K" and by_folder("ml-10M100K").name == "ml-10m"
    assert {r.name for r in RELEASES.values() if r.rating_scale == (1.0, 5.0) and r.rating_step == 1} == {"ml-100k", "ml-1m"}
    assert {r.name for r in RELEASES.values() if r.md5 is None} == {"ml-32m", "ml-latest"}
    assert (release("ml-100k").format, release("ml-1m").format, release("ml-25m").format) == ("100k", "dat", "csv")
    with pytest.raises(DataError, match="unknown MovieLens release 'ml-3m': expected one of ml-latest-small, "):
        release("ml-3m")


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("MOVIEREC_DATA", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("MOVIEREC_DATA")
    assert "movierec" in str(resolve_data_dir())


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once the socket closes


def _test_release(url: str, content: bytes | None = None, md5: str | None = "") -> Release:
    digest = hashlib.md5(content).hexdigest() if content is not None else None
    return Release("ml-test", digest if md5 == "" else md5, "ml-test", "csv", (0.5, 5.0), 0.5, url=url)


def test_present_zip_is_used_without_network(tmp_path):
    content = b"PK-not-really-a-zip-but-checksummed"
    (tmp_path / "ml-test.zip").write_bytes(content)
    offline = f"http://127.0.0.1:{_closed_port()}/ml-test.zip"
    assert fetch(_test_release(offline, content), tmp_path, progress=False) == tmp_path / "ml-test.zip"
    (tmp_path / "ml-test.zip").unlink()
    (tmp_path / "ml-test").mkdir()  # an extracted release folder counts too
    assert fetch(_test_release(offline, content), tmp_path, progress=False) == tmp_path / "ml-test"


def test_present_zip_with_wrong_checksum(tmp_path):
    (tmp_path / "ml-test.zip").write_bytes(b"tampered")
    rel = _test_release("http://127.0.0.1:1/ml-test.zip", md5="0" * 32)
    with pytest.raises(DownloadError, match=r"does not match the published checksum of ml-test: expected MD5 0{32}, found [0-9a-f]{32}\. Delete it"):
        fetch(rel, tmp_path, progress=False)


def test_offline_names_url_and_where_to_put_the_file(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/ml-test.zip"
    with pytest.raises(DownloadError, match=rf"could not download {url} .*save it as {tmp_path / 'data' / 'ml-test.zip'}"):
        fetch(_test_release(url, b"x"), tmp_path / "data", progress=False)
    assert not any((tmp_path / "data").iterdir())
    with pytest.raises(DownloadError, match=rf"could not read the published checksum {url}.md5 .*save it as "):
        fetch(_test_release(url, md5=None), tmp_path / "data", progress=False)


@pytest.fixture
def server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path / "www"``."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # keep test output clean
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_is_verified(server, tmp_path):
    root, base = server
    content = bytes(range(256)) * 1000
    (root / "ml-test.zip").write_bytes(content)
    path = fetch(_test_release(f"{base}/ml-test.zip", content), tmp_path / "data", progress=True)
    assert path == tmp_path / "data" / "ml-test.zip" and path.read_bytes() == content


def test_download_reads_the_published_md5_file(server, tmp_path):
    root, base = server
    content = b"regenerated release"
    (root / "ml-test.zip").write_bytes(content)
    (root / "ml-test.zip.md5").write_text(f"MD5 (ml-test.zip) = {hashlib.md5(content).hexdigest()}\n")
    path = fetch(_test_release(f"{base}/ml-test.zip", md5=None), tmp_path / "data", progress=False)
    assert path.read_bytes() == content


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    root, base = server
    (root / "ml-test.zip").write_bytes(b"corrupted in transit")
    rel = _test_release(f"{base}/ml-test.zip", md5="f" * 32)
    with pytest.raises(DownloadError, match=rf"the download of {base}/ml-test.zip failed its checksum: expected MD5 f{{32}}"):
        fetch(rel, tmp_path / "data", progress=False)
    assert list((tmp_path / "data").iterdir()) == []  # no partial file counts as a release


def test_missing_on_server(server, tmp_path):
    _, base = server
    with pytest.raises(DownloadError, match=r"could not download .*404"):
        fetch(_test_release(f"{base}/absent.zip", b"x"), tmp_path, progress=False)


def test_real_release_present_in_shared_data(shared_data: Path):
    # The checksum of the real archive matches the published one; no network is touched.
    assert fetch("ml-latest-small", shared_data, progress=False) == shared_data / "ml-latest-small.zip"


def test_load_downloads_a_missing_release(server, tmp_path, monkeypatch):
    """load(name) with nothing in the data folder fetches the zip (real HTTP, local server), then parses it."""
    root, base = server
    data = release_dataset()
    zip_path = pack_release(write_release(data, root / "ml-latest-small", "csv"))
    served = replace(RELEASES["ml-latest-small"], md5=md5_of(zip_path), url=f"{base}/ml-latest-small.zip")
    monkeypatch.setitem(RELEASES, "ml-latest-small", served)
    loaded = load("ml-latest-small", tmp_path / "data")
    assert (tmp_path / "data" / "ml-latest-small.zip").read_bytes() == zip_path.read_bytes()
    assert loaded.name == "ml-latest-small"
    assert_same(data, loaded)
