"""What the dialect tests share: agents and numbers, and the dispatcher driven on the manual clock."""

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from tests.support import Tenant


def make_agent(client: TestClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/agents", json={"name": "Closer", **fields}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    agent: dict[str, Any] = response.json()
    return agent


def make_number(
    client: TestClient, tenant: Tenant, number: str, agent_id: str | None = None
) -> dict[str, Any]:
    response = client.post(
        "/v1/phone-numbers", json={"number": number, "agent_id": agent_id}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def dial_until(
    dispatcher: Dispatcher,
    clock: ManualClock,
    finished: Callable[[], bool],
    step: float = 1.0,
    limit: int = 200,
) -> None:
    """Tick the dispatcher, moving the clock by ``step``, until ``finished()`` says so."""
    for _ in range(limit):
        dispatcher.tick()
        if finished():
            return
        clock.advance(step)
    raise AssertionError(f"not finished after {limit} ticks")


def tag_of(client: TestClient, path: str, method: str) -> list[str]:
    tags: list[str] = client.get("/openapi.json").json()["paths"][path][method]["tags"]
    return tags
