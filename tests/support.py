"""What many tests need: tenants with keys, batches, rows."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi.testclient import TestClient

from batchcall import db
from batchcall.app import create_app
from batchcall.auth import service as auth
from batchcall.runtime import Runtime


@dataclass
class Tenant:
    workspace_id: str
    slug: str
    api_key: str
    key_id: str
    key_secret: str
    # The agent create_batch gives a batch that names none (made on first use, with CALLER_ID).
    caller_agent_id: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_tenant(runtime: Runtime, name: str, scopes: list[str] | None = None) -> Tenant:
    with db.unit_of_work(runtime.sessions) as session:
        workspace = auth.create_workspace(session, name, runtime.clock.now())
        key = auth.create_key(session, workspace.id, runtime.clock.now(), scopes=scopes)
    return Tenant(workspace.id, workspace.slug, key.api_key, key.key_id, key.key_secret)


def register_numbers(
    client: TestClient, tenant: Tenant, *numbers: str, **fields: Any
) -> list[dict[str, Any]]:
    """Make ``numbers`` phone numbers of the tenant's workspace (``fields`` apply to each): a batch calls
    only from its own workspace's numbers."""
    created = []
    for number in numbers:
        response = client.post("/v1/phone-numbers", json={"number": number, **fields}, headers=tenant.headers)
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


def make_folder(client: TestClient, tenant: Tenant, contacts: list[dict[str, Any]]) -> dict[str, Any]:
    """A contact folder of the tenant's holding ``contacts``."""
    response = client.post("/v1/contact-folders", json={"name": "VIP"}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    folder: dict[str, Any] = response.json()
    added = client.post(
        f"/v1/contact-folders/{folder['id']}/contacts", json={"contacts": contacts}, headers=tenant.headers
    )
    assert added.status_code == 200, added.text
    return folder


# The caller id of the agent create_batch supplies: a Washington DC number no test calls or registers.
CALLER_ID = "+12025550100"


def callable_agent(client: TestClient, tenant: Tenant) -> str:
    """The tenant's agent for batches that name none: active, ready, and calling from CALLER_ID."""
    if tenant.caller_agent_id is None:
        response = client.post("/v1/agents", json={"name": "Caller"}, headers=tenant.headers)
        assert response.status_code == 201, response.text
        tenant.caller_agent_id = str(response.json()["id"])
        register_numbers(client, tenant, CALLER_ID, agent_id=tenant.caller_agent_id)
    return tenant.caller_agent_id


def create_batch(client: TestClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    """A batch of the tenant's; with no ``agent_id`` in ``fields`` it gets the tenant's callable agent and
    so a caller id, as a batch needs to start (``agent_id=None``: none)."""
    if "agent_id" not in fields:
        fields["agent_id"] = callable_agent(client, tenant)
    response = client.post("/v1/batches", json={"name": "Campaign", **fields}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def add_rows(
    client: TestClient, tenant: Tenant, batch_id: str, rows: list[Any], **extra: Any
) -> dict[str, Any]:
    response = client.post(
        f"/v1/batches/{batch_id}/calls", json={"rows": rows, **extra}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def batch_of(client: TestClient, tenant: Tenant, batch_id: str) -> dict[str, Any]:
    """The batch as the native API answers it."""
    response = client.get(f"/v1/batches/{batch_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def calls_of(client: TestClient, tenant: Tenant, batch_id: str, **params: Any) -> list[dict[str, Any]]:
    """Up to 1000 calls of the batch as the native API lists them (``params`` filter, e.g. status)."""
    response = client.get(
        f"/v1/batches/{batch_id}/calls", params={"limit": 1000, **params}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


@contextmanager
def served(
    runtime: Runtime, log_config: dict[str, Any] | None = None, log_level: str = "warning"
) -> Iterator[str]:
    """The app of ``runtime`` behind a real uvicorn server on a free loopback port; its base URL.
    ``log_config`` and ``log_level`` are uvicorn's (no config leaves logging as it is)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(runtime), log_config=log_config, log_level=log_level)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        while not server.started and thread.is_alive():
            time.sleep(0.01)  # waiting for the server to listen, not for a time rule
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        listener.close()
