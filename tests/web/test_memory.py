"""After a large request the server collects its garbage and trims the heap; after a small one it does not."""

import gc
import weakref
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from batchcall.web.http import BodySizeLimit
from batchcall.web.memory import LARGE_BODY_BYTES, ReleaseMemory


class Cycle:
    """A request's leftovers caught in a reference cycle, as an exception's traceback leaves them."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def without_automatic_collection() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_a_large_body_has_its_cycles_collected_when_answered(without_automatic_collection: None) -> None:
    left: list[weakref.ref[Cycle]] = []

    async def endpoint(request: Request) -> Response:
        await request.body()
        left.append(weakref.ref(Cycle()))
        return Response("ok")

    app = Starlette(routes=[Route("/", endpoint, methods=["POST"])])
    app.add_middleware(ReleaseMemory)
    # As in the app: the body is counted by the size limit around it.
    app.add_middleware(BodySizeLimit, max_bytes=2 * LARGE_BODY_BYTES, max_upload_bytes=2 * LARGE_BODY_BYTES)
    with TestClient(app) as client:
        client.post("/", content=b"x" * 10)
        assert left[0]() is not None
        client.post("/", content=b"x" * LARGE_BODY_BYTES)
        assert [ref() for ref in left] == [None, None]
