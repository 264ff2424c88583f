"""The web page and the API docs in a real Chromium (Playwright): search, rate five movies, get
recommendations, reload, and find the ratings kept; /docs renders every operation offline."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from serve_support import free_port, tiny_recommender

from movierec.recommend.novelty import DEFAULT_EXPLORE
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
def browser():
    """Chromium, and a function making pages (a new context each) whose script errors and
    failed requests fail the test."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []

    def new_page(**context):
        page = chromium.new_context(**{"viewport": {"width": 1200, "height": 900}, **context}).new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(  # requests cut short by a reload or by closing the page are fine
            "requestfailed",
            lambda req: None if "ERR_ABORTED" in (req.failure or "") else errors.append(f"{req.url}: {req.failure}"),
        )
        return page

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield new_page
        chromium.close()
    assert not errors, errors


@pytest.fixture
def page(browser):
    return browser()


def outside_requests(page, base: str) -> list[str]:
    """The URLs the page requests from anywhere but the server (filled as it loads)."""
    external: list[str] = []
    page.on("request", lambda req: None if req.url.startswith(base) or req.url.startswith("data:") else external.append(req.url))
    return external


def star_button(item, stars: float):
    """The button that rates the movie of a list item ``stars`` stars ("Rate Heat (1995) 4.5 stars")."""
    return item.get_by_role("button", name=re.compile(rf"^Rate .* {stars:g} stars?$"))


def map_point(page, i: int = 0) -> dict:
    """Where the i-th dot of the cluster map is on the screen, and its movie's title."""
    return page.evaluate(
        """(i) => { const r = document.getElementById('map').getBoundingClientRect(), p = movierec.map.points[i];
                    return {x: r.left + p.cx, y: r.top + p.cy, title: p.title, movie_id: p.movie_id}; }""",
        i,
    )


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
        star_button(item, i % 5 + 1).click()
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
    point = map_point(page)
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
    star = star_button(page.locator("#search-results > li").first, 4)
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


def open_page(page, base: str) -> None:
    page.goto(base)
    page.wait_for_selector("body[data-ready=true]")


def contrast(page, selector: str, prop: str, against: str = "#ffffff", pseudo: str | None = None) -> float:
    """WCAG contrast ratio of an element's (or its ``pseudo`` element's) computed colour
    property against a background."""
    rgb = page.locator(selector).first.evaluate(f"(e, pseudo) => getComputedStyle(e, pseudo).{prop}", pseudo)
    channels = [int(c) for c in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    other = [int(against[i : i + 2], 16) for i in (1, 3, 5)]

    def luminance(c):
        c = [x / 255 for x in c]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    high, low = sorted((luminance(channels), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_new_visitor_gets_starter_movies_and_half_stars(server, page):
    base, db = server
    open_page(page, base)
    starters = page.locator("#starters > li")
    starters.nth(7).wait_for()
    popular = httpx.get(f"{base}/api/movies/popular", params={"limit": 9}).json()["results"]
    shown = [int(x) for x in starters.evaluate_all("els => els.map(e => e.dataset.movieId)")]
    assert shown == [m["movie_id"] for m in popular[:8]]

    # Half stars: the left half of the fourth star is 3.5.
    first = star_button(starters.first, 3.5)
    assert first.evaluate("e => e.classList.contains('left') && e.closest('.star') === e.closest('.stars').children[3]")
    first.click()
    rated = page.locator("#ratings > li").first
    rated.wait_for()
    assert rated.get_attribute("data-movie-id") == str(shown[0])
    assert rated.locator("button[aria-pressed=true]").get_attribute("aria-label").endswith(" 3.5 stars")
    assert rated.locator(".half.on").count() == 7  # three whole stars and a half
    profile = page.evaluate("localStorage.getItem('movierec.profile')")
    with FeedbackStore(db) as store:
        assert store.ratings(profile)[1].tolist() == [3.5]
    # The rated movie leaves the starters; the next most rated one takes its place.
    page.wait_for_function(f"document.querySelector('#starters > li').dataset.movieId === '{shown[1]}'")
    assert [int(x) for x in starters.evaluate_all("els => els.map(e => e.dataset.movieId)")] == [
        m["movie_id"] for m in popular[1:9]
    ]

    # Contrast (WCAG 1.4.11: 3:1 for controls): empty and filled stars' rims on white, and a
    # filled star's inside against an empty star's (white).
    assert contrast(page, "#starters .half:not(.on) .glyph", "backgroundColor") >= 3
    assert contrast(page, "#ratings .half.on .glyph", "backgroundColor") >= 3  # the rim
    assert contrast(page, "#ratings .half.on .glyph", "backgroundColor", pseudo="::after") >= 3  # the fill


def test_search_pager_states_and_did_you_mean(server, page):
    base, _ = server
    open_page(page, base)
    total = len(httpx.get(f"{base}/api/movies", params={"q": "movie 11", "limit": 100}).json()["results"])
    assert 20 < total < 100
    pager, prev, more = page.locator("#search-pager"), page.locator("#search-prev"), page.locator("#search-next")
    page.get_by_label("Title").fill("movie 11")
    page.keyboard.press("Enter")
    page.locator("#search-results > li").nth(9).wait_for()
    assert pager.is_visible() and prev.is_disabled() and more.is_enabled()
    # A disabled button looks disabled: another text colour and cursor than an enabled one.
    assert prev.evaluate("e => getComputedStyle(e).cursor") == "not-allowed"
    assert prev.evaluate("e => getComputedStyle(e).color") != more.evaluate("e => getComputedStyle(e).color")
    assert contrast(page, "#search-prev", "color", against="#efeee9") >= 4.5  # still readable
    seen = []
    while True:
        first = page.locator("#search-results > li").first.get_attribute("data-movie-id")
        seen += page.locator("#search-results > li").evaluate_all("els => els.map(e => e.dataset.movieId)")
        if more.is_disabled():
            break
        more.click()
        page.wait_for_function(f"document.querySelector('#search-results > li').dataset.movieId !== '{first}'")
        assert prev.is_enabled()
    assert len(seen) == len(set(seen)) == total  # every page, no repeat, and "More" stops at the end

    page.get_by_label("Title").fill("synthetic movie 13")  # fewer than a page: no pager at all
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('#search-results > li').length < 10")
    pager.wait_for(state="hidden", timeout=5000)  # the list may show before the pager is updated

    title = httpx.get(f"{base}/api/movies", params={"q": "synthetic movie 13", "limit": 1}).json()["results"][0]["title"]
    page.get_by_label("Title").fill("synthetc movie 13")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('search-status').textContent.includes('Did you mean')")
    assert page.locator("#search-results > li").first.locator(".title-button").inner_text() == title
    assert pager.is_hidden()


def test_map_on_a_phone_is_sharp_and_opens_movies_by_tap(server, browser):
    base, _ = server
    page = browser(viewport={"width": 390, "height": 844}, device_scale_factor=3, has_touch=True, is_mobile=True)
    open_page(page, base)
    page.wait_for_function("document.getElementById('map-status').textContent.includes('movies rated at least')")
    page.locator("#map").scroll_into_view_if_needed()
    size = page.evaluate("(() => { const c = document.getElementById('map'), r = c.getBoundingClientRect();"
                         " return {w: c.width, h: c.height, cw: r.width, ch: r.height}; })()")  # fmt: skip
    assert size["w"] == round(size["cw"] * 3) and size["h"] == round(size["ch"] * 3)  # drawn at the pixel ratio
    assert size["cw"] <= 390
    # A tap more than 10 px beside a dot (the old reach) opens that dot's movie: the dot whose
    # nearest neighbour is farthest, tapped less than half that distance away.
    lonely, gap = page.evaluate(
        """() => { const ps = movierec.map.points, gaps = ps.map((p) => Math.min(...ps.filter((q) => q !== p)
                       .map((q) => Math.hypot(q.cx - p.cx, q.cy - p.cy))));
                   const i = gaps.indexOf(Math.max(...gaps)); return [i, gaps[i]]; }"""
    )
    offset = min(20, gap / 2 - 1)
    assert offset > 10, f"the map's most isolated dot is only {gap:.0f} px from another"
    point = map_point(page, lonely)
    page.touchscreen.tap(point["x"] + (offset if point["x"] < 195 else -offset), point["y"])
    page.wait_for_function(f"document.getElementById('movie-title').textContent === {point['title']!r}")
    assert page.locator("#map-tip").inner_text() == point["title"]  # the full title, also on touch
    page.locator("#movie-dialog button[aria-label=Close]").tap()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_explore_slider_reranks_recommendations(server, page):
    base, _ = server
    open_page(page, base)
    control = page.locator("#explore-control")
    default = DEFAULT_EXPLORE
    asked: list[str] = []
    page.on("request", lambda req: asked.append(req.url) if "/recommendations?" in req.url else None)
    starters = page.locator("#starters > li")
    for i in range(3):
        movie = starters.first.get_attribute("data-movie-id")
        star_button(starters.first, 5).click()
        page.wait_for_function(f"document.querySelector('#starters > li').dataset.movieId !== '{movie}'")
    page.wait_for_function("document.querySelectorAll('#recs > li').length === 10 && document.getElementById('recs-status').textContent.startsWith('Based on your 3')")
    assert control.is_visible() and float(page.locator("#filter-explore").input_value()) == pytest.approx(default)
    assert not any("explore=" in url for url in asked)  # the model's default until the visitor moves it
    before = page.locator("#recs > li").evaluate_all("els => els.map(e => e.dataset.movieId)")
    page.locator("#filter-explore").evaluate(
        "e => { e.value = 1; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); }"
    )
    page.wait_for_function(f"JSON.stringify([...document.querySelectorAll('#recs > li')].map(e => e.dataset.movieId)) !== {json.dumps(json.dumps(before))}")
    assert any("explore=1" in url for url in asked)
    assert page.locator("#explore-value").inner_text() == "1.0"
