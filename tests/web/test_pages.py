"""The service's own pages work without internet: a landing page at /, and documentation pages whose every
script, style and icon is served by this server."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient


class AssetLinks(HTMLParser):
    """Every URL a page makes the browser load (scripts, styles, icons, images) or links to."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.linked: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.linked.append(str(found["href"]))
        elif tag in {"script", "img"} and found.get("src"):
            self.loaded.append(str(found["src"]))
        elif tag == "link" and found.get("href"):
            self.loaded.append(str(found["href"]))


def links_of(html: str) -> AssetLinks:
    parser = AssetLinks()
    parser.feed(html)
    return parser


def test_the_landing_page_says_what_this_is_and_links_to_the_pages_that_answer(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "batchcall" in response.text
    links = links_of(response.text)
    assert {"/docs", "/redoc", "/openapi.json", "/healthz", "/metrics"} <= set(links.linked)
    for url in links.linked + links.loaded:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_a_documentation_page_loads_only_what_this_server_serves(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert "/openapi.json" in response.text
    loaded = links_of(response.text).loaded
    assert any(url.endswith(".js") for url in loaded)
    for url in loaded:
        parts = urlsplit(url)
        assert not parts.scheme, f"{page} loads {url}"
        assert not parts.netloc, f"{page} loads {url}"
        assert url.startswith("/"), f"{page} loads {url}"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    assert "https://" not in response.text
    assert "http://" not in response.text


def test_swagger_ui_is_a_version_that_reads_the_openapi_version_served(client: TestClient) -> None:
    """Swagger UI 4 (as the swagger-ui-bundle package ships it) shows "Unable to render this definition"
    for the OpenAPI 3.1 document FastAPI writes; 5 reads it, and its bundle carries the test for it."""
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert "isOAS31" in client.get("/docs/assets/swagger-ui-bundle.js").text
