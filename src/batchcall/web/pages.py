"""The service's own pages: a landing page at ``/`` and the API documentation at ``/docs`` and ``/redoc``.

FastAPI's documentation pages load Swagger UI and ReDoc from a CDN, so behind a firewall or on a laptop
without internet they are blank. Here their scripts and styles come from an installed package
(``fastapi-offline``, which ships Swagger UI 5, the first to read the OpenAPI 3.1 FastAPI writes) and are
served by this process; nothing on these pages reaches another host.
"""

from collections.abc import Sequence
from html import escape

from fastapi import APIRouter, FastAPI, Request, params
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = f"{DOCS_URL}/assets"
# Where the package keeps Swagger UI's and ReDoc's files.
ASSETS_PACKAGE = ("fastapi_offline", "static")
FAVICON_URL = f"{ASSETS_URL}/favicon.png"

router = APIRouter(include_in_schema=False)


def _links(request: Request) -> list[tuple[str, str, str]]:
    """What the landing page points at: a path of this server, its name, what it is for."""
    app: FastAPI = request.app
    return [
        (DOCS_URL, "API documentation", "every operation, tried from the browser (Swagger UI)"),
        (REDOC_URL, "API reference", "the same document as one long page (ReDoc)"),
        (app.openapi_url or "/openapi.json", "OpenAPI document", "for generating clients"),
        ("/healthz", "Health", "answers 200 while the database can be reached, 503 otherwise"),
        ("/metrics", "Metrics", "Prometheus text format"),
    ]


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> HTMLResponse:
    """What this server is and where its pages are: the first thing a person sees at its address."""
    app: FastAPI = request.app
    items = "\n".join(
        f'      <li><a href="{escape(path)}">{escape(name)}</a> <code>{escape(path)}</code>: '
        f"{escape(why)}</li>"
        for path, name, why in _links(request)
    )
    return HTMLResponse(
        f"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{escape(app.title)}</title>
    <link rel="icon" href="{FAVICON_URL}">
    <style>
      body {{ font-family: system-ui, sans-serif; max-width: 44rem; margin: 3rem auto; padding: 0 1rem;
             line-height: 1.5; color: #1d1d1f; }}
      code {{ background: #f2f2f4; padding: 0 .25rem; border-radius: 3px; }}
      li {{ margin: .4rem 0; }}
    </style>
  </head>
  <body>
    <h1>{escape(app.title)} <small>{escape(app.version)}</small></h1>
    <p>{escape(app.description)}</p>
    <p>A self-hosted engine that takes thousands of contacts at once, dials them inside their calling
      windows under concurrency and daily caps, retries what failed and reports every outcome. Every
      request to <code>/v1</code> carries <code>Authorization: Bearer &lt;API key&gt;</code>; an operator
      creates a key with <code>batchcall workspace create NAME</code> and drives batches with
      <code>batchcall submit</code>, <code>batchcall batches</code> and <code>batchcall status</code>.</p>
    <ul>
{items}
    </ul>
  </body>
</html>
"""
    )


@router.get(DOCS_URL, response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    app: FastAPI = request.app
    return get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} - API documentation",
        oauth2_redirect_url=f"{DOCS_URL}/oauth2-redirect",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=FAVICON_URL,
        # Swagger UI would otherwise send the document to a public validator and show its badge.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get(f"{DOCS_URL}/oauth2-redirect", response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC_URL, response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    app: FastAPI = request.app
    return get_redoc_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} - API reference",
        redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=FAVICON_URL,
        with_google_fonts=False,
    )


def install(app: FastAPI, dependencies: Sequence[params.Depends]) -> None:
    """Serve the pages (each with ``dependencies``, such as a rate limit) and their assets; the app must be
    created with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages do not answer first."""
    app.mount(ASSETS_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")
    app.include_router(router, dependencies=dependencies)
