"""A real HTTP receiver that verifies Standard Webhooks signatures, and a sender and dispatcher to drive."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook, WebhookVerificationError

from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from batchcall.webhooks.sender import WebhookSender
from tests.support import Tenant


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    event: dict[str, Any] | None
    """The verified payload; None if the signature did not verify."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Receiver:
    url: str
    secret: str = ""
    answers: list[int | Reply] = field(default_factory=list)
    """What to answer, one per request, in order (a status code, or a whole reply); 204 once they run out."""
    received: list[Received] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    """The path of every request, verified or not."""

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        return [r.event for r in self.received if r.event is not None and type_ in (None, r.event["type"])]

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        self.paths.append(path)
        try:
            event = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.received.append(Received(headers, body, None))
            return Reply(401)
        self.received.append(Received(headers, body, event))
        answer = self.answers.pop(0) if self.answers else 204
        return answer if isinstance(answer, Reply) else Reply(answer)


@pytest.fixture
def signature_clock(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> None:
    """The receiver's idea of now is the test's clock, so a signature's timestamp is checked against it."""

    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> "ClockDatetime":
            instant = clock.now()
            return cls.fromtimestamp(instant.timestamp(), tz)

    monkeypatch.setattr("standardwebhooks.webhooks.datetime", ClockDatetime)


@pytest.fixture
def receiver(signature_clock: None) -> Iterator[Receiver]:
    lock = threading.Lock()
    state: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                reply = state[0].handle(self.path, {k: v for k, v in self.headers.items()}, body)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state[0]
    server.shutdown()
    server.server_close()


@pytest.fixture
def sender(runtime: Runtime) -> Iterator[WebhookSender]:
    sender = WebhookSender(runtime)
    yield sender
    sender.close()


def register(client: TestClient, tenant: Tenant, receiver: Receiver, events: list[str] | None = None) -> str:
    """An endpoint pointing at ``receiver``, signing with the receiver's secret if it has one, or else
    teaching the receiver the generated one. Answers the endpoint id."""
    body: dict[str, Any] = {"url": receiver.url}
    if receiver.secret:
        body["secret"] = receiver.secret
    if events is not None:
        body["events"] = events
    response = client.post("/v1/webhooks", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    receiver.secret = response.json()["secret"]
    endpoint_id: str = response.json()["id"]
    return endpoint_id


def deliveries(client: TestClient, tenant: Tenant, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(
        f"/v1/webhooks/{endpoint_id}/deliveries", params={"limit": 1000, **params}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data
