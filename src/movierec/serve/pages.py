"""The web page (``/`` and its static files) and the API docs (``/docs``), all served from
local files: the page makes no outside request."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(str(files("movierec") / "web"))


async def index() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html")


def add_pages(app: FastAPI) -> None:
    app.add_api_route("/", index, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # without the bundle, /docs falls back to FastAPI's CDN-hosted assets
        swagger_ui_path = None
    assets: dict[str, str] = {}
    if swagger_ui_path is not None:
        app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
        assets = dict(
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=request.app.openapi_url, title="movierec API", **assets)

    app.add_api_route("/docs", docs, include_in_schema=False)
