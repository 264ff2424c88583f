"""The web page and the API docs in a real Chromium (Playwright): search, rate five movies, get
recommendations, reload, and find the ratings kept; /docs renders every operation offline."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from serve_support import free_port, tiny_recommender

from movierec.serve.app import create_app
from movierec.serve.store import FeedbackStore

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def server(tmp_path):
    """The app on uvicorn in a thread: the same server code, without a second model load."""
    db = tmp_path / "feedback.db"
    port = free_port()
    config = uvicorn.Config(create_app(db_path=db, recommender=tiny_recommender()), port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield base, db
    srv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(  # requests cut short by a reload or by closing the page are fine
            "requestfailed",
            lambda req: None if "ERR_ABORTED" in (req.failure or "") else errors.append(f"{req.url}: {req.failure}"),
        )
        yield page
        browser.close()
        assert not errors, errors


def outside_requests(page, base: str) -> list[str]:
    """The URLs the page requests from anywhere but the server (filled as it loads)."""
    external: list[str] = []
    page.on("request", lambda req: None if req.url.startswith(base) or req.url.startswith("data:") else external.append(req.url))
    return external


def test_rate_five_movies_get_recommendations_and_keep_them_after_reload(server, page, tmp_path):
    base, db = server
    external = outside_requests(page, base)
    page.goto(base)
    page.wait_for_selector("body[data-ready=true]")

    page.get_by_label("Title").fill("synthetic movie")
    page.keyboard.press("Enter")
    results = page.locator("#search-results > li")
    results.nth(4).wait_for()
    rated = []
    for i in range(5):
        item = results.nth(i)
        rated.append(int(item.get_attribute("data-movie-id")))
        item.get_by_role("button", name=f"{i % 5 + 1} star").click()
        page.locator("#ratings > li").nth(i).wait_for()  # saved and listed
    page.wait_for_function("document.querySelectorAll('#recs > li').length === 10")
    recommended = [int(x) for x in page.locator("#recs > li").evaluate_all("els => els.map(e => e.dataset.movieId)")]
    assert not set(recommended) & set(rated)
    assert "Because you rated" in page.locator("#recs").inner_text()

    # The movie panel: details and similar movies, opened from a recommendation.
    page.locator("#recs .title-button").first.click()
    page.locator("#movie-similar > li").first.wait_for()
    assert page.locator("#movie-meta").inner_text()
    page.keyboard.press("Escape")

    # The cluster map drew its points.
    page.wait_for_function("document.getElementById('map-status').textContent.includes('movies rated at least')")
    assert page.locator("#map-legend > li").count() >= 2
    # Hovering a dot names the movie; clicking it opens the movie panel.
    page.locator("#map").scroll_into_view_if_needed()
    point = page.evaluate(
        """() => { const c = document.getElementById('map'), r = c.getBoundingClientRect(), p = movierec.map.points[0];
                   return {x: r.left + p.cx * r.width / c.width, y: r.top + p.cy * r.height / c.height, title: p.title}; }"""
    )
    page.mouse.move(point["x"], point["y"])
    assert page.locator("#map-tip").inner_text() == point["title"]
    page.mouse.click(point["x"], point["y"])
    page.wait_for_function(f"document.getElementById('movie-title').textContent === {point['title']!r}")
    page.keyboard.press("Escape")
    page.screenshot(path=str(tmp_path / "movierec.png"), full_page=True)

    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.locator("#ratings > li").nth(4).wait_for()
    kept = [int(x) for x in page.locator("#ratings > li").evaluate_all("els => els.map(e => e.dataset.movieId)")]
    assert sorted(kept) == sorted(rated)
    page.wait_for_function("document.querySelectorAll('#recs > li').length === 10")
    profile = page.evaluate("localStorage.getItem('movierec.profile')")
    with FeedbackStore(db) as store:
        assert sorted(store.ratings(profile)[0].tolist()) == sorted(rated)
    assert not external, f"the page requested outside URLs: {external}"
    assert (tmp_path / "movierec.png").stat().st_size > 10_000


def test_star_buttons_are_keyboard_usable(server, page):
    base, _ = server
    page.set_viewport_size({"width": 390, "height": 844})  # phone width
    page.goto(base)
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_label("Title").fill("synthetic")
    page.keyboard.press("Enter")
    star = page.locator("#search-results > li").first.get_by_role("button", name="4 stars")
    star.focus()
    page.keyboard.press("Enter")
    page.locator("#ratings > li").first.wait_for()
    assert page.locator("#ratings button[aria-pressed=true]").first.get_attribute("aria-label").endswith("4 stars")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"


def test_docs_render_every_operation_offline(server, page):
    base, _ = server
    external = outside_requests(page, base)
    spec = httpx.get(f"{base}/openapi.json").json()
    operations = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock, .version-pragma")  # operations, or Swagger UI's "Unable to render"
    assert "Unable to render" not in page.locator("body").inner_text()
    shown = page.locator(".opblock-summary").evaluate_all(
        "els => els.map(e => [e.querySelector('.opblock-summary-method').textContent,"
        " e.querySelector('.opblock-summary-path').getAttribute('data-path')])"
    )
    assert {tuple(op) for op in shown} == operations and len(shown) == len(operations)
    # An operation opens with its parameters and its response schema.
    page.locator(".opblock-summary", has_text="/api/movies/{movie_id}/similar").first.click()
    opened = page.locator(".opblock.is-open")
    opened.locator(".parameters").wait_for()
    assert "min_ratings" in opened.inner_text() and "SimilarMovie" in page.locator("body").inner_text()
    assert not external, f"/docs requested outside URLs: {external}"
