"""Dialect D, add calls to a batch: the seed's example, chunks and 207, waiting calls updated, codes."""

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialects.conftest import dial_until, make_agent, make_number, tag_of
from tests.support import Tenant, batch_of, calls_of, make_tenant

# The seed's example body as written; only the batchId differs (it names a batch of this workspace).
SEED_EXAMPLE = """{
    "batchId": "64e5f12345abcdef98765432",
    "call_data": [
      {
        "phoneNumber": "12125551001",
        "name": "Sarah Johnson",
        "account_id": "ACC-1001",
        "custom_field_1": "value1",
        "priority": "high"
      },
      {
        "phoneNumber": "13105552002",
        "name": "Michael Chen",
        "account_id": "ACC-1002",
        "category": "support"
      }
    ]
  }"""
CALLER = "+14155550100"
UUID = re.compile(r"^[0-9a-f-]{36}$")


def _headers(tenant: Tenant) -> dict[str, str]:
    return {"x-api-key": tenant.api_key}


@pytest.fixture
def agent(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    agent = make_agent(
        client,
        tenant,
        prompt_template="Hello {{name}} about {{account_id}}",
        required_variables=["account_id"],
    )
    make_number(client, tenant, CALLER, agent["id"])
    return agent


@pytest.fixture
def batch_id(client: TestClient, tenant: Tenant, agent: dict[str, Any]) -> str:
    response = client.post(
        "/api/call/createBatch",
        json={"name": "Renewals", "callingNumbers": [CALLER]},
        headers=_headers(tenant),
    )
    assert response.status_code == 200, response.text
    created: str = response.json()["data"]["batchId"]
    return created


def _add(client: TestClient, tenant: Tenant, batch_id: str, records: list[Any]) -> Any:
    return client.post(
        "/api/call/addCallsToBatch",
        json={"batchId": batch_id, "call_data": records},
        headers=_headers(tenant),
    )


def test_the_seed_example_answers_as_documented(client: TestClient, tenant: Tenant, batch_id: str) -> None:
    request = SEED_EXAMPLE.replace("64e5f12345abcdef98765432", batch_id)
    response = client.post(
        "/api/call/addCallsToBatch",
        content=request,
        headers={**_headers(tenant), "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == {
        "message": "Calls enqueued successfully",
        "status": True,
        "code": 200,
        "errorMessage": "",
        "data": {"added": 2, "callIds": answer["data"]["callIds"]},
    }
    assert len(answer["data"]["callIds"]) == 2
    assert all(UUID.match(call_id) for call_id in answer["data"]["callIds"])

    calls = calls_of(client, tenant, batch_id)
    assert [c["id"] for c in calls] == answer["data"]["callIds"]
    assert [(c["to"], c["name"]) for c in calls] == [
        ("+12125551001", "Sarah Johnson"),
        ("+13105552002", "Michael Chen"),
    ]
    assert calls[0]["variables"] == {"account_id": "ACC-1001", "custom_field_1": "value1", "priority": "high"}
    assert calls[1]["variables"] == {"account_id": "ACC-1002", "category": "support"}
    assert batch_of(client, tenant, batch_id)["status"] == "active"


def test_create_batch_finds_the_agent_of_its_calling_numbers(
    client: TestClient, tenant: Tenant, agent: dict[str, Any]
) -> None:
    body = {"name": "Renewals", "callingNumbers": ["(415) 555-0100"], "timezone": "America/Chicago"}
    answer = client.post("/api/call/createBatch", json=body, headers=_headers(tenant)).json()
    assert (answer["message"], answer["status"], answer["code"], answer["errorMessage"]) == (
        "Batch created successfully",
        True,
        200,
        "",
    )
    data = answer["data"]
    assert UUID.match(data["batchId"])
    assert (data["name"], data["agentId"], data["callingNumbers"]) == ("Renewals", agent["id"], [CALLER])
    assert (data["timezone"], data["status"]) == ("America/Chicago", "draft")
    assert data["createdAt"] == "2026-11-23T17:00:00+00:00"

    by_agent = client.post(
        "/api/call/createBatch", json={"name": "By agent", "agentId": agent["id"]}, headers=_headers(tenant)
    ).json()["data"]
    assert (by_agent["agentId"], by_agent["callingNumbers"], by_agent["timezone"]) == (
        agent["id"],
        [CALLER],
        "UTC",
    )


def test_create_batch_errors(client: TestClient, tenant: Tenant, agent: dict[str, Any]) -> None:
    def create(body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return client.post(
            "/api/call/createBatch", json=body, headers=_headers(tenant) if headers is None else headers
        )

    unregistered = create({"name": "X", "callingNumbers": ["+14155550199"]})
    assert unregistered.status_code == 400
    assert unregistered.json()["errorMessage"].startswith(
        "Not a phone number of this workspace: +14155550199;"
    )
    make_number(client, tenant, "+14155550199")
    unassigned = create({"name": "X", "callingNumbers": ["+14155550199"]})
    assert unassigned.status_code == 404
    assert unassigned.json() == {
        "message": "Not Found",
        "status": False,
        "code": 404,
        "errorMessage": "No agent found for the batch's calling numbers",
        "data": None,
    }
    assert create({"name": "X"}).status_code == 400
    assert create({"callingNumbers": [CALLER]}).status_code == 400
    assert (
        create({"name": "X", "callingNumbers": ["12"]})
        .json()["errorMessage"]
        .startswith("callingNumbers: '12'")
    )
    assert create({"name": "X", "agentId": "nope"}).status_code == 404
    assert create({"name": "X", "agentId": agent["id"], "timezone": "Nowhere"}).status_code == 400
    other = make_agent(client, tenant)
    make_number(client, tenant, "+14155550101", other["id"])
    mixed = create({"name": "X", "callingNumbers": [CALLER, "+14155550101"]})
    assert mixed.status_code == 400
    assert create({"name": "X", "callingNumbers": [CALLER]}, headers={}).status_code == 403


def test_the_agent_must_be_active_and_ready_and_have_a_calling_number(
    client: TestClient, tenant: Tenant
) -> None:
    def create(agent_id: str) -> Any:
        body = {"name": "X", "agentId": agent_id}
        return client.post("/api/call/createBatch", json=body, headers=_headers(tenant))

    for flags, reason in [({"active": False}, "is not active"), ({"ready": False}, "is not ready for calls")]:
        agent = make_agent(client, tenant, **flags)["id"]
        make_number(client, tenant, f"+1415555{len(reason):04d}", agent)
        refused = create(agent)
        assert refused.status_code == 400, refused.text
        assert refused.json()["errorMessage"] == f"Agent {agent} {reason}"
    refused = create(make_agent(client, tenant)["id"])
    assert refused.status_code == 400
    assert refused.json()["errorMessage"].startswith("At least one valid outbound phone number is required")
    assert client.get("/v1/batches", headers=tenant.headers).json()["data"] == []


def test_a_value_the_database_cannot_store_is_answered_in_ds_envelope(
    client: TestClient, tenant: Tenant, agent: dict[str, Any], database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite stores a NUL character; PostgreSQL refuses one")
    body = {"name": "Renewals\u0000", "agentId": agent["id"]}
    response = client.post("/api/call/createBatch", json=body, headers=_headers(tenant))
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["errorMessage"].startswith("A value in the request cannot be stored: ")
    assert (answer["message"], answer["status"], answer["code"], answer["data"]) == (
        "Bad Request",
        False,
        400,
        None,
    )
    assert client.get("/v1/batches", headers=tenant.headers).json()["data"] == []


def test_custom_fields_are_checked_against_the_agents_required_variables(
    client: TestClient, tenant: Tenant, batch_id: str
) -> None:
    refused = _add(client, tenant, batch_id, [{"phoneNumber": "12125551001", "name": "No Account"}])
    assert refused.status_code == 400
    assert refused.json() == {
        "message": "Bad Request",
        "status": False,
        "code": 400,
        "errorMessage": "Row 1: variables: missing required variable(s): account_id",
        "data": None,
    }
    no_phone = _add(client, tenant, batch_id, [{"account_id": "A"}])
    assert no_phone.json()["errorMessage"] == "Row 1: phoneNumber: is required"
    bad_phone = _add(client, tenant, batch_id, [{"phoneNumber": "12", "account_id": "A"}])
    assert bad_phone.json()["errorMessage"].startswith("Row 1: phoneNumber: '12'")
    assert calls_of(client, tenant, batch_id) == []
    assert batch_of(client, tenant, batch_id)["status"] == "draft"


def test_bad_requests_are_400(client: TestClient, tenant: Tenant, batch_id: str) -> None:
    for body in (
        {"call_data": [{"phoneNumber": "12125551001"}]},
        {"batchId": batch_id, "call_data": []},
        {"batchId": batch_id},
    ):
        response = client.post("/api/call/addCallsToBatch", json=body, headers=_headers(tenant))
        assert response.status_code == 400, body
        assert (response.json()["status"], response.json()["code"]) == (False, 400)
    malformed = client.post(
        "/api/call/addCallsToBatch",
        content=b"{",
        headers={**_headers(tenant), "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400


def test_keys_and_ownership_answer_403_and_unknown_batches_404(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant, batch_id: str
) -> None:
    records = [{"phoneNumber": "12125551001", "account_id": "A"}]
    body = {"batchId": batch_id, "call_data": records}
    for headers in ({}, {"x-api-key": "nope"}, {"x-api-key": tenant.key_id + ".wrong"}):
        refused = client.post("/api/call/addCallsToBatch", json=body, headers=headers)
        assert refused.status_code == 403, headers
        assert refused.json()["code"] == 403
    reader = make_tenant(runtime, "Readers", scopes=["read"])
    assert _add(client, reader, batch_id, records).status_code == 403
    foreign = _add(client, other_tenant, batch_id, records)
    assert foreign.status_code == 403
    assert foreign.json()["errorMessage"] == f"This API key does not own batch {batch_id}"
    unknown = _add(client, tenant, "64e5f12345abcdef98765432", records)
    assert unknown.status_code == 404
    assert unknown.json()["errorMessage"] == "Batch 64e5f12345abcdef98765432 not found"
    bearer = client.post("/api/call/addCallsToBatch", json=body, headers=tenant.headers)
    assert bearer.status_code == 200


def test_a_batch_without_an_agent_is_404(
    client: TestClient, tenant: Tenant, agent: dict[str, Any], batch_id: str
) -> None:
    assert client.delete(f"/v1/agents/{agent['id']}", headers=tenant.headers).status_code == 204
    response = _add(client, tenant, batch_id, [{"phoneNumber": "12125551001", "account_id": "A"}])
    assert response.status_code == 404
    assert response.json()["errorMessage"] == "No agent found for the batch's calling numbers"


def test_large_arrays_go_in_chunks_of_1000_and_a_failed_chunk_is_207(
    client: TestClient, tenant: Tenant, batch_id: str
) -> None:
    records = [{"phoneNumber": f"+1212555{i:04d}", "account_id": f"ACC-{i}"} for i in range(2500)]
    records[1500]["account_id"] = ""
    response = _add(client, tenant, batch_id, records)

    assert response.status_code == 207, response.text
    answer = response.json()
    assert (answer["message"], answer["status"], answer["code"]) == (
        "Some calls failed to enqueue",
        False,
        207,
    )
    assert answer["errorMessage"] == "Partial content, check failedChunks for details"
    assert answer["data"]["added"] == 1500
    assert len(answer["data"]["callIds"]) == 1500
    assert answer["data"]["failedChunks"] == [
        {"chunkNum": 2, "error": "Row 1501: variables: missing required variable(s): account_id"}
    ]
    assert batch_of(client, tenant, batch_id)["counters"]["total"] == 1500

    every_chunk_bad = [{"phoneNumber": f"+1310555{i:04d}"} for i in range(1001)]
    refused = _add(client, tenant, batch_id, every_chunk_bad)
    assert refused.status_code == 400
    assert batch_of(client, tenant, batch_id)["counters"]["total"] == 1500


def test_more_records_than_the_native_cap_are_refused_by_their_count(
    client: TestClient, tenant: Tenant, batch_id: str
) -> None:
    # The seed promises "thousands of contacts in a single request" and no limit: the native cap holds.
    response = _add(client, tenant, batch_id, [{}] * 100_001)
    assert response.status_code == 400
    assert response.json()["errorMessage"] == "At most 100000 call records per request; this one has 100001"
    assert batch_of(client, tenant, batch_id)["counters"]["total"] == 0


def test_failed_chunks_name_at_most_max_errors_listed_records_and_count_them_all(
    client: TestClient, runtime: Runtime, tenant: Tenant, batch_id: str
) -> None:
    runtime.settings.max_errors_listed = 3
    records = [{"phoneNumber": f"+1212555{i:04d}", "account_id": f"ACC-{i}"} for i in range(3500)]
    for index in (*range(10, 20), 1500, 3100):
        records[index]["account_id"] = ""
    answer = _add(client, tenant, batch_id, records).json()

    assert answer["code"] == 207
    assert (answer["data"]["added"], answer["data"]["errorCount"]) == (1000, 12)
    missing = "variables: missing required variable(s): account_id"
    assert answer["data"]["failedChunks"] == [
        {"chunkNum": 1, "error": f"Row 11: {missing}; Row 12: {missing}; Row 13: {missing}; and 7 more"},
        {"chunkNum": 2, "error": "1 row error(s)"},
        {"chunkNum": 4, "error": "1 row error(s)"},
    ]

    refused = _add(client, tenant, batch_id, [{"phoneNumber": f"+1310555{i:04d}"} for i in range(1001)])
    assert refused.status_code == 400
    assert refused.json()["errorMessage"].count("Row ") == 3


def test_a_waiting_call_to_the_same_number_is_updated_not_duplicated(
    client: TestClient, tenant: Tenant, batch_id: str
) -> None:
    first = _add(
        client, tenant, batch_id, [{"phoneNumber": "12125551001", "account_id": "A", "priority": "high"}]
    )
    again = _add(
        client,
        tenant,
        batch_id,
        [
            {"phoneNumber": "+1 212 555 1001", "account_id": "B", "name": "Sarah"},
            {"phoneNumber": "12125551001", "account_id": "C"},
            {"phoneNumber": "13105552002", "account_id": "D"},
        ],
    ).json()
    assert again["data"]["added"] == 2
    assert again["data"]["callIds"][0] == first.json()["data"]["callIds"][0]
    calls = calls_of(client, tenant, batch_id)
    assert len(calls) == 3
    assert (calls[0]["variables"], calls[0]["name"], calls[0]["status"]) == (
        {"account_id": "B"},
        "Sarah",
        "queued",
    )
    assert calls[1]["status"] == "skipped"
    assert calls[1]["skip_reason"] == "duplicate of row 1 in this submission"


def test_a_record_of_a_later_chunk_updates_the_waiting_call_of_an_earlier_one(
    client: TestClient, tenant: Tenant, batch_id: str
) -> None:
    # Each chunk is processed on its own, as the seed says: the second finds the first's call pending.
    records = [{"phoneNumber": f"+1212555{i:04d}", "account_id": f"ACC-{i}"} for i in range(1000)]
    records.append({"phoneNumber": "+12125550000", "account_id": "ACC-again"})
    answer = _add(client, tenant, batch_id, records).json()
    assert answer["code"] == 200, answer
    assert answer["data"]["added"] == 1001
    assert answer["data"]["callIds"][1000] == answer["data"]["callIds"][0]
    calls = calls_of(client, tenant, batch_id)
    assert len(calls) == 1000
    assert calls[0]["variables"] == {"account_id": "ACC-again"}


def test_records_take_the_batch_timezone(client: TestClient, tenant: Tenant, agent: dict[str, Any]) -> None:
    body = {"name": "Chicago", "agentId": agent["id"], "timezone": "America/Chicago"}
    batch_id = client.post("/api/call/createBatch", json=body, headers=_headers(tenant)).json()["data"][
        "batchId"
    ]
    record = {"phoneNumber": "12125551001", "account_id": "A", "scheduled_time": "2026-12-01 09:00"}
    _add(client, tenant, batch_id, [record])
    assert calls_of(client, tenant, batch_id)[0]["scheduled_time"] == "2026-12-01T15:00:00Z"


def test_the_dialect_has_its_own_tag(client: TestClient) -> None:
    for path in ("/api/call/createBatch", "/api/call/addCallsToBatch"):
        assert tag_of(client, path, "post") == ["dialect D: call batch"]


def test_calls_are_dialled_and_a_finished_number_can_be_called_again(
    client: TestClient,
    runtime: Runtime,
    tenant: Tenant,
    batch_id: str,
    dispatcher: Dispatcher,
    clock: ManualClock,
) -> None:
    request = json.loads(SEED_EXAMPLE.replace("64e5f12345abcdef98765432", batch_id))
    request["call_data"][1]["phoneNumber"] = "12125550001"
    _add(client, tenant, batch_id, request["call_data"])

    dial_until(dispatcher, clock, lambda: batch_of(client, tenant, batch_id)["status"] == "completed")
    batch = batch_of(client, tenant, batch_id)
    assert (batch["counters"]["completed"], batch["counters"]["busy"]) == (1, 1)
    first = calls_of(client, tenant, batch_id)[0]
    detail = client.get(f"/v1/calls/{first['id']}", headers=tenant.headers).json()
    assert detail["attempts"][0]["prompt"] == "Hello Sarah Johnson about ACC-1001"

    again = _add(client, tenant, batch_id, [{"phoneNumber": "12125551001", "account_id": "ACC-1001"}]).json()
    assert again["code"] == 200
    assert again["data"]["callIds"][0] != first["id"]
    assert batch_of(client, tenant, batch_id)["status"] == "active"
    dial_until(dispatcher, clock, lambda: batch_of(client, tenant, batch_id)["status"] == "completed")
    assert batch_of(client, tenant, batch_id)["counters"]["completed"] == 2
    ledger = [json.loads(line) for line in open(runtime.settings.simulated.ledger)]
    assert [entry["to"] for entry in ledger].count("+12125551001") == 2
