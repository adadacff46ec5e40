"""Caller ids belong to their workspace: a batch is made only with the workspace's own phone numbers, and
the dispatcher never dials from a number the workspace no longer owns."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.models import Batch
from batchcall.runtime import Runtime
from tests.store import count
from tests.support import Tenant, add_rows, batch_of, calls_of, create_batch, register_numbers

OWN = "+14155550100"
UNREGISTERED = ["+14155550198", "+14155550199"]


@pytest.fixture
def dispatcher(runtime: Runtime) -> Dispatcher:
    return Dispatcher(runtime, worker_id="numbers-tests")


def _callers(client: TestClient, tenant: Tenant, batch_id: str) -> list[str | None]:
    return [call["from"] for call in calls_of(client, tenant, batch_id) if call["attempts"]]


def test_a_batch_is_made_only_with_the_workspaces_own_numbers(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    register_numbers(client, tenant, OWN)
    refused = client.post(
        "/v1/batches",
        json={"name": "x", "from_numbers": ["+1 415 555 0100", *UNREGISTERED, UNREGISTERED[0]]},
        headers=tenant.headers,
    )
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error"] == "invalid"
    assert body["message"].startswith(f"Not a phone number of this workspace: {', '.join(UNREGISTERED)};")
    assert "POST /v1/phone-numbers" in body["message"]
    assert body["unowned_numbers"] == UNREGISTERED
    assert count(runtime, Batch) == 0

    batch = create_batch(client, tenant, from_numbers=["(415) 555-0100"])
    assert batch["from_numbers"] == [OWN]


def test_a_draft_takes_only_the_workspaces_own_numbers_as_new_caller_ids(
    client: TestClient, tenant: Tenant
) -> None:
    [own] = register_numbers(client, tenant, OWN)
    draft = create_batch(client, tenant, phone_number_ids=[own["id"]])
    refused = client.patch(
        f"/v1/batches/{draft['id']}", json={"from_numbers": UNREGISTERED[:1]}, headers=tenant.headers
    )
    assert refused.status_code == 422, refused.text
    assert UNREGISTERED[0] in refused.json()["message"]
    assert batch_of(client, tenant, draft["id"])["from_numbers"] == [OWN]


def test_no_dial_goes_out_from_a_number_deleted_after_the_batch_was_made(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    kept, deleted = register_numbers(client, tenant, OWN, "+14155550101")
    batch = create_batch(
        client,
        tenant,
        from_numbers=[kept["number"], deleted["number"]],
        rotation="round_robin",
        schedule="immediate",
    )
    add_rows(client, tenant, batch["id"], [{"phone_number": f"+1212555100{i}"} for i in range(4)])
    assert client.delete(f"/v1/phone-numbers/{deleted['id']}", headers=tenant.headers).status_code == 204

    assert dispatcher.tick().dialled == 4
    assert _callers(client, tenant, batch["id"]) == [OWN] * 4


def test_a_batch_whose_numbers_are_all_gone_waits_until_one_is_registered_again(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    [caller] = register_numbers(client, tenant, OWN)
    batch = create_batch(client, tenant, from_numbers=[OWN], schedule="immediate")
    add_rows(client, tenant, batch["id"], [{"phone_number": "+12125551000"}])
    assert client.delete(f"/v1/phone-numbers/{caller['id']}", headers=tenant.headers).status_code == 204

    assert dispatcher.tick().dialled == 0
    waiting: dict[str, Any] = batch_of(client, tenant, batch["id"])
    assert (waiting["status"], waiting["counters"]["queued"]) == ("active", 1)
    assert waiting["next_dial_at"] is not None

    register_numbers(client, tenant, OWN)
    assert dispatcher.tick().dialled == 1
    assert _callers(client, tenant, batch["id"]) == [OWN]
