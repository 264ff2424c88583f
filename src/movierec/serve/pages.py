"""The web page (``/`` and its static files) and the API docs (``/docs``), all served from
local files: neither page makes an outside request.

/docs is Swagger UI 5 from the fastapi-offline package (the swagger-ui-bundle package ships
Swagger UI 4, which cannot read the OpenAPI 3.1 that FastAPI writes: "Unable to render this
definition").
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(str(files("movierec") / "web"))
DOCS_ASSETS = Path(str(files("fastapi_offline") / "static"))
_SWAGGER_UI = dict(
    swagger_js_url="/docs-assets/swagger-ui-bundle.js",
    swagger_css_url="/docs-assets/swagger-ui.css",
    swagger_favicon_url="/docs-assets/favicon.png",
    # No badge that sends the schema to an online validator.
    swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": True, "displayRequestDuration": True},
)


async def index() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html")


async def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=request.app.openapi_url, title="movierec API", **_SWAGGER_UI)


def add_pages(app: FastAPI) -> None:
    app.add_api_route("/", index, include_in_schema=False)
    app.add_api_route("/docs", docs, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
