"""Issue 9, item 1: "A batch cannot leave draft without an agent that is active and a caller id that can
call; the answer says what is missing. Recipient-local 08:00-21:00 with the stricter-state table is on by
default for every batch on every entry point; a batch may turn it off only by saying so explicitly, and the
answer then carries a warning."

Every entry point that starts a batch is driven as a client of it would drive it: the native API and the
five dialects, each in its own wire format."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialling import ledger
from tests.support import Tenant, add_rows, batch_of, calls_of, register_numbers

NEW_YORK = "+12125551000"
# Monday 23 November 2026: 05:51 and 08:00 in New York (UTC-5).
FIVE_FIFTY_ONE_IN_NEW_YORK = datetime(2026, 11, 23, 10, 51, tzinfo=UTC)
EIGHT_IN_NEW_YORK = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
AGENTS_NUMBER = "+14155550150"
UNASSIGNED_NUMBER = "+14155550151"


def _ok(response: Any) -> Any:
    assert response.status_code in (200, 201, 207), response.text
    return response.json()


def _agent(client: TestClient, tenant: Tenant, number: str | None = AGENTS_NUMBER) -> str:
    """An active, ready agent of the tenant's, with ``number`` assigned to it."""
    agent: str = _ok(client.post("/v1/agents", json={"name": "Closer"}, headers=tenant.headers))["id"]
    if number is not None:
        register_numbers(client, tenant, number, agent_id=agent)
    return agent


def _batches(client: TestClient, tenant: Tenant) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = client.get("/v1/batches", headers=tenant.headers).json()["data"]
    return listed


# Each entry point's default batch with one call to NEW_YORK, as its clients start one: the id of the batch.
def _native(client: TestClient, tenant: Tenant) -> str:
    agent = _agent(client, tenant)
    body = {"name": "Renewals", "agent_id": agent, "schedule": "immediate"}
    batch_id: str = _ok(client.post("/v1/batches", json=body, headers=tenant.headers))["id"]
    add_rows(client, tenant, batch_id, [{"phone_number": NEW_YORK}])
    return batch_id


def _a(client: TestClient, tenant: Tenant) -> str:
    register_numbers(client, tenant, UNASSIGNED_NUMBER)
    body = {"domain_name": tenant.slug, "rows": [{"phone_number": NEW_YORK, "instruction": "Confirm"}]}
    batch_id: str = _ok(client.post("/bulk-calls/submit", json=body, headers=tenant.headers))["batch_id"]
    return batch_id


def _b(client: TestClient, tenant: Tenant) -> str:
    agent = _agent(client, tenant)
    body = {"name": "Renewals", "agent_id": agent}
    batch_id: str = _ok(client.post("/v1/batch-calls", json=body, headers=tenant.headers))["data"]["id"]
    contacts = {"contacts": [{"phone_number": NEW_YORK}]}
    _ok(client.post(f"/v1/batch-calls/{batch_id}/contacts", json=contacts, headers=tenant.headers))
    _ok(client.post(f"/v1/batch-calls/{batch_id}/schedule", headers=tenant.headers))
    return batch_id


def _c(client: TestClient, tenant: Tenant) -> str:
    agent = _agent(client, tenant)
    body = {"from_number": AGENTS_NUMBER, "agent_id": f"agent_{agent}", "tasks": [{"to_number": NEW_YORK}]}
    headers = {"X-API-KEY": tenant.key_id, "X-API-SECRET": tenant.key_secret}
    public_id: str = _ok(client.post("/batch-call", json=body, headers=headers))["data"]["batch_call_id"]
    # C's ``batch_call_<hex>`` is the native id's uuid.
    return str(uuid.UUID(hex=public_id.removeprefix("batch_call_")))


def _d(client: TestClient, tenant: Tenant) -> str:
    agent = _agent(client, tenant)
    headers = {"x-api-key": tenant.api_key}
    body = {"name": "Renewals", "agentId": agent}
    batch_id: str = _ok(client.post("/api/call/createBatch", json=body, headers=headers))["data"]["batchId"]
    calls = {"batchId": batch_id, "call_data": [{"phoneNumber": NEW_YORK}]}
    _ok(client.post("/api/call/addCallsToBatch", json=calls, headers=headers))
    return batch_id


def _e(client: TestClient, tenant: Tenant) -> str:
    agent = _agent(client, tenant)
    body = {"contacts": [{"numberToCall": NEW_YORK}], "aiSettingsTemplateId": agent}
    path = "/ai-phone-calls/call-contact-bulk"
    batch_id: str = _ok(client.post(path, json=body, headers=tenant.headers))["batchId"]
    return batch_id


ENTRY_POINTS: dict[str, Callable[[TestClient, Tenant], str]] = {
    "native": _native,
    "A": _a,
    "B": _b,
    "C": _c,
    "D": _d,
    "E": _e,
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_entry_points_default_batch_waits_for_the_recipients_morning(
    client: TestClient,
    runtime: Runtime,
    tenant: Tenant,
    dispatcher: Dispatcher,
    clock: ManualClock,
    entry: str,
) -> None:
    clock.set(FIVE_FIFTY_ONE_IN_NEW_YORK)
    batch_id = ENTRY_POINTS[entry](client, tenant)
    batch = batch_of(client, tenant, batch_id)
    assert (batch["status"], batch["respect_recipient_timezone"], batch["warnings"]) == ("active", True, [])

    for _ in range(3):
        dispatcher.tick()
        clock.advance(60)
    assert ledger(runtime) == []
    [call] = calls_of(client, tenant, batch_id)
    assert (call["status"], call["next_attempt_at"]) == ("queued", "2026-11-23T13:00:00Z")

    clock.set(EIGHT_IN_NEW_YORK)
    assert dispatcher.tick().dialled == 1
    [dial] = ledger(runtime)
    assert (dial["to"], dial["started_at"]) == (NEW_YORK, "2026-11-23T13:00:00+00:00")


def test_a_batch_turns_recipient_hours_off_only_by_saying_so_and_is_warned(
    client: TestClient, runtime: Runtime, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    clock.set(FIVE_FIFTY_ONE_IN_NEW_YORK)
    agent = _agent(client, tenant)
    body = {
        "name": "Night shift",
        "agent_id": agent,
        "schedule": "immediate",
        "respect_recipient_timezone": False,
    }
    created = _ok(client.post("/v1/batches", json=body, headers=tenant.headers))
    assert created["respect_recipient_timezone"] is False
    [warning] = created["warnings"]
    assert "calls may go out at any local hour" in warning
    assert batch_of(client, tenant, created["id"])["warnings"] == [warning]
    add_rows(client, tenant, created["id"], [{"phone_number": NEW_YORK}])
    assert dispatcher.tick().dialled == 1
    assert [dial["to"] for dial in ledger(runtime)] == [NEW_YORK]


# --- A batch cannot leave draft without an agent or a caller id -----------------------------------------


def test_a_native_batch_without_an_agent_cannot_start(client: TestClient, tenant: Tenant) -> None:
    register_numbers(client, tenant, UNASSIGNED_NUMBER)
    for start in ({"schedule": "immediate"}, {"scheduled_at": "2026-11-24T15:00:00Z"}):
        refused = client.post("/v1/batches", json={"name": "x", **start}, headers=tenant.headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["message"].endswith(
            "has no agent: give agent_id (an active agent), so that its calls have someone to speak"
        )
    assert _batches(client, tenant) == []

    draft = _ok(client.post("/v1/batches", json={"name": "x"}, headers=tenant.headers))
    add_rows(client, tenant, draft["id"], [{"phone_number": NEW_YORK, "instruction": "Say hello"}])
    refused = client.post(f"/v1/batches/{draft['id']}/schedule", headers=tenant.headers)
    assert refused.status_code == 409
    assert refused.json()["message"] == (
        f"Batch {draft['id']} has no agent: give agent_id (an active agent), so that its calls have "
        "someone to speak"
    )
    assert batch_of(client, tenant, draft["id"])["status"] == "draft"

    agent = _agent(client, tenant)
    patched = client.patch(f"/v1/batches/{draft['id']}", json={"agent_id": agent}, headers=tenant.headers)
    assert patched.status_code == 200, patched.text
    assert (
        _ok(client.post(f"/v1/batches/{draft['id']}/schedule", headers=tenant.headers))["status"] == "active"
    )


def test_a_native_batch_whose_agent_is_switched_off_cannot_start(client: TestClient, tenant: Tenant) -> None:
    agent = _agent(client, tenant)
    draft = _ok(client.post("/v1/batches", json={"name": "x", "agent_id": agent}, headers=tenant.headers))
    add_rows(client, tenant, draft["id"], [{"phone_number": NEW_YORK}])
    client.patch(f"/v1/agents/{agent}", json={"ready": False}, headers=tenant.headers)
    refused = client.post(f"/v1/batches/{draft['id']}/schedule", headers=tenant.headers)
    assert refused.status_code == 409
    assert refused.json()["message"] == (
        f"Batch {draft['id']} cannot start: Agent {agent} is not ready for calls; switch the agent on and "
        f"ready with PATCH /v1/agents/{agent} or give it another agent_id"
    )
    assert batch_of(client, tenant, draft["id"])["status"] == "draft"


def test_a_native_batch_without_a_caller_id_cannot_start(client: TestClient, tenant: Tenant) -> None:
    agent = _agent(client, tenant)
    draft = _ok(client.post("/v1/batches", json={"name": "x", "agent_id": agent}, headers=tenant.headers))
    add_rows(client, tenant, draft["id"], [{"phone_number": NEW_YORK}])
    [number] = _ok(client.get("/v1/phone-numbers", headers=tenant.headers))["data"]
    assert client.delete(f"/v1/phone-numbers/{number['id']}", headers=tenant.headers).status_code == 204
    refused = client.post(f"/v1/batches/{draft['id']}/schedule", headers=tenant.headers)
    assert refused.status_code == 409
    assert refused.json()["message"] == (
        f"Batch {draft['id']} has no caller id: register one with POST /v1/phone-numbers (assigned to "
        f"agent {agent}) or give from_numbers"
    )
    assert batch_of(client, tenant, draft["id"])["status"] == "draft"
    # An email batch calls nobody by phone: it needs no caller id.
    email = {"name": "Mail", "agent_id": agent, "channel": "email", "schedule": "immediate"}
    assert _ok(client.post("/v1/batches", json=email, headers=tenant.headers))["status"] == "active"


def test_dialect_a_needs_a_number_of_the_workspace_assigned_to_no_agent(
    client: TestClient, tenant: Tenant
) -> None:
    body = {"domain_name": tenant.slug, "rows": [{"phone_number": NEW_YORK, "instruction": "Confirm"}]}
    _agent(client, tenant)  # an agent's numbers are its own: A's batches do not call from them
    refused = client.post("/bulk-calls/submit", json=body, headers=tenant.headers)
    assert refused.status_code == 409, refused.text
    answer = refused.json()
    assert answer["success"] is False
    assert answer["message"].endswith(
        "has no caller id: register one with POST /v1/phone-numbers (assigned to no agent)"
    )
    assert _batches(client, tenant) == []
    register_numbers(client, tenant, UNASSIGNED_NUMBER)
    batch_id = _ok(client.post("/bulk-calls/submit", json=body, headers=tenant.headers))["batch_id"]
    assert batch_of(client, tenant, batch_id)["from_numbers"] == [UNASSIGNED_NUMBER]


def test_dialect_b_schedules_only_with_a_callable_agent_and_a_caller_id(
    client: TestClient, tenant: Tenant
) -> None:
    agent = _agent(client, tenant)
    draft = _ok(client.post("/v1/batch-calls", json={"name": "x", "agent_id": agent}, headers=tenant.headers))
    batch_id = draft["data"]["id"]
    contacts = {"contacts": [{"phone_number": NEW_YORK}]}
    _ok(client.post(f"/v1/batch-calls/{batch_id}/contacts", json=contacts, headers=tenant.headers))
    client.patch(f"/v1/agents/{agent}", json={"active": False}, headers=tenant.headers)
    refused = client.post(f"/v1/batch-calls/{batch_id}/schedule", headers=tenant.headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["message"].startswith(f"Batch {batch_id} cannot start: Agent {agent} is not active")
    client.patch(f"/v1/agents/{agent}", json={"active": True}, headers=tenant.headers)
    [number] = _ok(client.get("/v1/phone-numbers", headers=tenant.headers))["data"]
    client.delete(f"/v1/phone-numbers/{number['id']}", headers=tenant.headers)
    refused = client.post(f"/v1/batch-calls/{batch_id}/schedule", headers=tenant.headers)
    assert refused.status_code == 422
    assert refused.json()["message"].endswith(
        f"has no caller id: register one with POST /v1/phone-numbers (assigned to agent {agent}) or give "
        "phone_number_ids"
    )
    assert batch_of(client, tenant, batch_id)["status"] == "draft"


def test_dialect_c_sends_a_batch_call_only_with_an_agent(client: TestClient, tenant: Tenant) -> None:
    register_numbers(client, tenant, UNASSIGNED_NUMBER)
    headers = {"X-API-KEY": tenant.key_id, "X-API-SECRET": tenant.key_secret}
    body = {"from_number": UNASSIGNED_NUMBER, "tasks": [{"to_number": NEW_YORK}], "send_now": True}
    refused = client.post("/batch-call", json=body, headers=headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["message"].endswith(
        "has no agent: give agent_id (an active agent), so that its calls have someone to speak"
    )
    assert _batches(client, tenant) == []


def test_dialect_d_starts_a_batch_only_with_a_callable_agent_and_a_caller_id(
    client: TestClient, tenant: Tenant
) -> None:
    agent = _agent(client, tenant)
    headers = {"x-api-key": tenant.api_key}
    created = _ok(client.post("/api/call/createBatch", json={"name": "x", "agentId": agent}, headers=headers))
    calls = {"batchId": created["data"]["batchId"], "call_data": [{"phoneNumber": NEW_YORK}]}
    client.patch(f"/v1/agents/{agent}", json={"ready": False}, headers=tenant.headers)
    refused = client.post("/api/call/addCallsToBatch", json=calls, headers=headers)
    assert refused.status_code == 400, refused.text
    assert "cannot start: Agent" in refused.json()["errorMessage"]
    client.patch(f"/v1/agents/{agent}", json={"ready": True}, headers=tenant.headers)
    [number] = _ok(client.get("/v1/phone-numbers", headers=tenant.headers))["data"]
    client.delete(f"/v1/phone-numbers/{number['id']}", headers=tenant.headers)
    refused = client.post("/api/call/addCallsToBatch", json=calls, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["errorMessage"].endswith(f"(assigned to agent {agent}) or give callingNumbers")
    assert calls_of(client, tenant, created["data"]["batchId"]) == []


def test_dialect_e_calls_only_with_a_template(client: TestClient, tenant: Tenant) -> None:
    register_numbers(client, tenant, UNASSIGNED_NUMBER)
    path = "/ai-phone-calls/call-contact-bulk"
    refused = client.post(path, json={"contacts": [{"numberToCall": NEW_YORK}]}, headers=tenant.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"].endswith(
        "has no agent: give aiSettingsTemplateId (an active agent), so that its calls have someone to speak"
    )
    lonely = _agent(client, tenant, number=None)
    body = {"contacts": [{"numberToCall": NEW_YORK}], "aiSettingsTemplateId": lonely}
    refused = client.post(path, json=body, headers=tenant.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("At least one valid outbound phone number is required")
    assert _batches(client, tenant) == []
