"""Batches: settings, lists, and the lifecycle as state transitions (a wrong state is 409 with a message)."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall.kit.clock import ManualClock
from batchcall.models import Batch, Call
from batchcall.runtime import Runtime
from tests.store import count, set_columns, snapshot
from tests.support import Tenant, add_rows, create_batch, make_folder, register_numbers

STATES = ["draft", "scheduled", "active", "paused", "completed", "canceled"]
ROWS = [{"phone_number": "+14155550101"}, {"phone_number": "+14155550102"}]

# action -> (states it may start from, the state it leads to)
TRANSITIONS: dict[str, tuple[set[str], str | None]] = {
    "schedule": ({"draft"}, "active"),
    "pause": ({"scheduled", "active"}, "paused"),
    "resume": ({"paused"}, "active"),
    "cancel": ({"draft", "scheduled", "active", "paused"}, "canceled"),
    "update": ({"draft"}, None),
    "delete": ({"draft", "completed", "canceled"}, None),
    "add_calls": ({"draft", "scheduled", "active", "paused"}, None),
}


def act(client: TestClient, tenant: Tenant, batch_id: str, action: str) -> Any:
    url = f"/v1/batches/{batch_id}"
    if action == "update":
        return client.patch(url, json={"name": "Renamed"}, headers=tenant.headers)
    if action == "delete":
        return client.delete(url, headers=tenant.headers)
    if action == "add_calls":
        return client.post(
            f"{url}/calls", json={"rows": [{"phone_number": "+14155550109"}]}, headers=tenant.headers
        )
    return client.post(f"{url}/{action}", headers=tenant.headers)


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"next": value}
    return value


def get(client: TestClient, tenant: Tenant, batch_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/batches/{batch_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_action_from_every_state(
    client: TestClient, runtime: Runtime, tenant: Tenant, subtests: pytest.Subtests
) -> None:
    for state in STATES:
        for action, (allowed, leads_to) in TRANSITIONS.items():
            with subtests.test(msg=f"{action} from {state}"):
                batch = create_batch(client, tenant)
                add_rows(client, tenant, batch["id"], ROWS)
                set_columns(runtime, Batch, batch["id"], status=state)
                before = snapshot(runtime)
                response = act(client, tenant, batch["id"], action)
                if state not in allowed:
                    assert response.status_code == 409, response.text
                    body = response.json()
                    assert body["error"] == "wrong_state"
                    assert body["batch_status"] == state
                    assert state in body["message"]
                    assert action.replace("_", " ") in body["message"]
                    assert snapshot(runtime) == before
                    assert get(client, tenant, batch["id"])["status"] == state
                    continue
                assert response.status_code in (200, 204), response.text
                if action == "delete":
                    assert client.get(f"/v1/batches/{batch['id']}", headers=tenant.headers).status_code == 404
                    assert count(runtime, Call, batch_id=batch["id"]) == 0
                elif leads_to is not None:
                    assert response.json()["status"] == leads_to
                    assert get(client, tenant, batch["id"])["status"] == leads_to
                else:
                    assert get(client, tenant, batch["id"])["status"] == state


def test_create_is_a_draft_unless_immediate_or_scheduled(
    client: TestClient, tenant: Tenant, clock: ManualClock
) -> None:
    draft = create_batch(client, tenant)
    assert (draft["status"], draft["started_at"]) == ("draft", None)
    immediate = create_batch(client, tenant, schedule="immediate")
    assert immediate["status"] == "active"
    assert immediate["started_at"] is not None
    later = (clock.now() + timedelta(days=1)).isoformat()
    scheduled = create_batch(client, tenant, scheduled_at=later)
    assert (scheduled["status"], scheduled["schedule"]) == ("scheduled", "scheduled")
    kept_as_draft = create_batch(client, tenant, scheduled_at=later, schedule="draft")
    assert kept_as_draft["status"] == "draft"


def test_scheduling_a_draft_with_a_future_start_waits_for_it(
    client: TestClient, tenant: Tenant, clock: ManualClock
) -> None:
    batch = create_batch(
        client, tenant, scheduled_at=(clock.now() + timedelta(hours=2)).isoformat(), schedule="draft"
    )
    add_rows(client, tenant, batch["id"], ROWS)
    response = client.post(f"/v1/batches/{batch['id']}/schedule", headers=tenant.headers)
    assert response.json()["status"] == "scheduled"
    # Paused before it started and resumed after its start time: active.
    client.post(f"/v1/batches/{batch['id']}/pause", headers=tenant.headers)
    clock.advance(3 * 3600)
    assert (
        client.post(f"/v1/batches/{batch['id']}/resume", headers=tenant.headers).json()["status"] == "active"
    )


def test_resuming_before_the_start_time_goes_back_to_scheduled(
    client: TestClient, tenant: Tenant, clock: ManualClock
) -> None:
    batch = create_batch(client, tenant, scheduled_at=(clock.now() + timedelta(hours=2)).isoformat())
    client.post(f"/v1/batches/{batch['id']}/pause", headers=tenant.headers)
    assert (
        client.post(f"/v1/batches/{batch['id']}/resume", headers=tenant.headers).json()["status"]
        == "scheduled"
    )


def test_a_batch_without_calls_cannot_be_scheduled(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    response = client.post(f"/v1/batches/{batch['id']}/schedule", headers=tenant.headers)
    assert response.status_code == 409
    assert "no calls" in response.json()["message"]


def test_cancel_marks_waiting_calls_canceled_and_lets_calls_in_flight_finish(
    client: TestClient, runtime: Runtime, tenant: Tenant, clock: ManualClock
) -> None:
    batch = create_batch(client, tenant, schedule="immediate")
    rows = [
        {"phone_number": "+14155550101"},
        {"phone_number": "+14155550102", "scheduled_time": (clock.now() + timedelta(days=1)).isoformat()},
        {"phone_number": "+14155550103"},
        {"phone_number": "+14155550104"},
        {"phone_number": "+14155550101"},
    ]
    queued, scheduled, dialing, done = add_rows(client, tenant, batch["id"], rows)["call_ids"]
    set_columns(runtime, Call, dialing, status="dialing", attempt_count=1)
    set_columns(runtime, Call, done, status="completed", attempt_count=1, outcome="completed")
    response = client.post(f"/v1/batches/{batch['id']}/cancel", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json()["completed_at"] is not None
    statuses = {
        call_id: client.get(f"/v1/calls/{call_id}", headers=tenant.headers).json()["status"]
        for call_id in (queued, scheduled, dialing, done)
    }
    assert statuses == {queued: "canceled", scheduled: "canceled", dialing: "dialing", done: "completed"}
    found = response.json()["counters"]
    assert found == get(client, tenant, batch["id"])["counters"]
    assert {k: found[k] for k in ("total", "queued", "in_progress", "completed", "canceled", "skipped")} == {
        "total": 5,
        "queued": 0,
        "in_progress": 1,
        "completed": 1,
        "canceled": 2,
        "skipped": 1,
    }


def test_counters_equal_the_calls_states(client: TestClient, runtime: Runtime, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    rows = [{"phone_number": f"+1415555{n:04d}"} for n in range(110, 123)]
    ids = add_rows(client, tenant, batch["id"], [*rows, {"phone_number": "+14155550110"}])["call_ids"]
    for call_id, status in zip(
        ids,
        [
            "dialing",
            "ringing",
            "in_progress",
            "completed",
            "no_answer",
            "busy",
            "voicemail",
            "failed",
            "expired",
            "canceled",
        ],
        strict=False,
    ):
        set_columns(runtime, Call, call_id, status=status, attempt_count=1)
    found = get(client, tenant, batch["id"])["counters"]
    calls = client.get(
        f"/v1/batches/{batch['id']}/calls", params={"limit": 100}, headers=tenant.headers
    ).json()["data"]
    by_status: dict[str, int] = {}
    for call in calls:
        by_status[call["status"]] = by_status.get(call["status"], 0) + 1
    assert found["total"] == len(calls) == 14
    assert found["queued"] == by_status.get("queued", 0) + by_status.get("scheduled", 0) == 3
    assert found["in_progress"] == by_status["dialing"] + by_status["ringing"] + by_status["in_progress"] == 3
    for status in ("completed", "no_answer", "busy", "voicemail", "failed", "expired", "canceled", "skipped"):
        assert found[status] == by_status.get(status, 0) == 1, status
    assert found["sent"] == 10
    assert found["picked_up"] == 1
    listed = client.get("/v1/batches", headers=tenant.headers).json()["data"]
    assert listed[0]["counters"] == found


def test_settings_are_checked_and_echoed(client: TestClient, tenant: Tenant) -> None:
    agent = client.post("/v1/agents", json={"name": "A"}, headers=tenant.headers).json()
    number = client.post(
        "/v1/phone-numbers",
        json={"number": "(212) 555-0100", "agent_id": agent["id"]},
        headers=tenant.headers,
    ).json()
    assert number["number"] == "+12125550100"
    batch = create_batch(
        client,
        tenant,
        agent_id=agent["id"],
        timezone="America/New_York",
        start_time="09:00",
        end_time="17:30",
        working_days=[5, 1, 1, 2],
        max_concurrent_calls=3,
        dedup_days=7,
        retry_on=["busy"],
        metadata={"campaign": "x"},
        source_system="crm",
    )
    assert batch["from_numbers"] == ["+12125550100"]
    assert (batch["start_time"], batch["end_time"], batch["working_days"]) == ("09:00", "17:30", [1, 2, 5])
    assert (batch["timezone"], batch["max_concurrent_calls"], batch["dedup_days"]) == (
        "America/New_York",
        3,
        7,
    )
    assert (batch["retry_on"], batch["metadata"], batch["source_system"]) == (
        ["busy"],
        {"campaign": "x"},
        "crm",
    )
    register_numbers(client, tenant, "+14155550100")
    by_ids = create_batch(client, tenant, phone_number_ids=[number["id"]], from_numbers=["+1 415 555 0100"])
    assert by_ids["from_numbers"] == ["+14155550100", "+12125550100"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "A" * 300}, "timezone"),
        ({"timezone": "America"}, "timezone"),
        ({"metadata": nested(300)}, "metadata: nests deeper than 32 levels"),
        ({"metadata": {"note": "x" * 70_000}}, "metadata: is larger than 65536 bytes"),
        ({"from_numbers": ["1" * 65]}, "from_numbers"),
        ({"phone_number_ids": ["x" * 37]}, "phone_number_ids"),
        ({"start_time": "0" * 300, "end_time": "17:00"}, "start_time"),
        ({"start_time": "09:00"}, "start_time and end_time"),
        ({"start_time": "25:00", "end_time": "26:00"}, "start_time"),
        ({"working_days": [0, 8]}, "working_days"),
        ({"working_days": []}, "working_days"),
        ({"retry_on": ["completed"]}, "retry_on"),
        ({"from_numbers": ["123"]}, "from_numbers"),
        ({"phone_number_ids": ["nope"]}, "nope"),
        ({"channel": "fax"}, "channel"),
        ({"max_concurrent_calls": 0}, "max_concurrent_calls"),
        ({"scheduled_at": "2026-12-01T10:00:00"}, "scheduled_at"),
        ({"name": ""}, "name"),
        ({"nmae": "typo"}, "nmae"),
    ],
)
def test_bad_settings_are_422_naming_the_field_and_write_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant, fields: dict[str, Any], words: str
) -> None:
    before = snapshot(runtime)
    response = client.post("/v1/batches", json={"name": "x", **fields}, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert words in response.json()["message"]
    assert snapshot(runtime) == before


def test_a_draft_changed_to_an_impossible_time_zone_or_metadata_is_422(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    url = f"/v1/batches/{batch['id']}"
    for fields in ({"timezone": "A" * 300}, {"timezone": "Europe"}, {"metadata": nested(300)}):
        response = client.patch(url, json=fields, headers=tenant.headers)
        assert response.status_code == 422, response.text
    runtime.settings.max_json_depth = 2
    assert client.patch(url, json={"metadata": nested(3)}, headers=tenant.headers).status_code == 422
    assert client.patch(url, json={"metadata": nested(2)}, headers=tenant.headers).status_code == 200
    assert get(client, tenant, batch["id"])["timezone"] == "UTC"


def test_an_unknown_agent_is_404(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/v1/batches", json={"name": "x", "agent_id": "nope"}, headers=tenant.headers)
    assert response.status_code == 404


def test_update_changes_only_what_is_given(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant, start_time="09:00", end_time="17:00", max_concurrent_calls=4)
    response = client.patch(
        f"/v1/batches/{batch['id']}", json={"end_time": "18:00", "name": "B"}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["name"], updated["start_time"], updated["end_time"]) == ("B", "09:00", "18:00")
    assert updated["max_concurrent_calls"] == 4
    refused = client.patch(f"/v1/batches/{batch['id']}", json={"start_time": "18:00"}, headers=tenant.headers)
    assert refused.status_code == 422


def test_list_filters_and_pages(
    client: TestClient, runtime: Runtime, tenant: Tenant, clock: ManualClock
) -> None:
    agent = client.post("/v1/agents", json={"name": "A"}, headers=tenant.headers).json()
    register_numbers(client, tenant, "+14155550100", agent_id=agent["id"])
    ids = []
    for n in range(5):
        clock.advance(1)
        ids.append(create_batch(client, tenant, name=f"B{n}", agent_id=agent["id"] if n % 2 else None)["id"])
    set_columns(runtime, Batch, ids[0], status="paused")
    everything = client.get("/v1/batches", headers=tenant.headers).json()
    assert [b["id"] for b in everything["data"]] == ids[::-1]
    assert everything["pagination"] == {"total": 5, "limit": 50, "offset": 0}
    page = client.get("/v1/batches", params={"limit": 2, "offset": 2}, headers=tenant.headers).json()
    assert [b["id"] for b in page["data"]] == [ids[2], ids[1]]
    assert page["pagination"] == {"total": 5, "limit": 2, "offset": 2}
    paused = client.get("/v1/batches", params={"status": "paused"}, headers=tenant.headers).json()
    assert [b["id"] for b in paused["data"]] == [ids[0]]
    by_agent = client.get("/v1/batches", params={"agent_id": agent["id"]}, headers=tenant.headers).json()
    assert [b["id"] for b in by_agent["data"]] == [ids[3], ids[1]]
    for bad in ({"status": "lost"}, {"limit": 0}, {"limit": 100_000}, {"offset": -1}):
        assert client.get("/v1/batches", params=bad, headers=tenant.headers).status_code == 422, bad


def test_an_agent_given_to_a_batch_must_be_active_and_ready(client: TestClient, tenant: Tenant) -> None:
    draft = create_batch(client, tenant, agent_id=None)
    for flags, reason in [({"active": False}, "is not active"), ({"ready": False}, "is not ready for calls")]:
        agent = client.post("/v1/agents", json={"name": "A", **flags}, headers=tenant.headers).json()
        register_numbers(client, tenant, f"+1415555{len(reason):04d}", agent_id=agent["id"])
        given = {"agent_id": agent["id"]}
        for response in (
            client.post("/v1/batches", json={"name": "x", **given}, headers=tenant.headers),
            client.patch(f"/v1/batches/{draft['id']}", json=given, headers=tenant.headers),
        ):
            assert response.status_code == 422, response.text
            assert response.json()["message"] == f"Agent {agent['id']} {reason}"
    listed = client.get("/v1/batches", headers=tenant.headers).json()["data"]
    assert [b["id"] for b in listed] == [draft["id"]]
    assert get(client, tenant, draft["id"])["agent_id"] is None


def test_a_phone_or_sms_batch_with_an_agent_needs_a_caller_id(client: TestClient, tenant: Tenant) -> None:
    agent = client.post("/v1/agents", json={"name": "A"}, headers=tenant.headers).json()
    for channel in ("phone", "sms"):
        body = {"name": "x", "agent_id": agent["id"], "channel": channel}
        refused = client.post("/v1/batches", json=body, headers=tenant.headers)
        assert refused.status_code == 422, channel
        assert refused.json()["message"].startswith(
            f"At least one valid outbound phone number is required: assign one to agent {agent['id']}"
        )
    email = create_batch(client, tenant, agent_id=agent["id"], channel="email")
    assert email["from_numbers"] == []
    refused = client.patch(f"/v1/batches/{email['id']}", json={"channel": "sms"}, headers=tenant.headers)
    assert refused.status_code == 422
    assert create_batch(client, tenant, agent_id=None)["from_numbers"] == []
    [own] = register_numbers(client, tenant, "+14155550100")
    named = create_batch(client, tenant, agent_id=agent["id"], phone_number_ids=[own["id"]])
    assert named["from_numbers"] == [own["number"]]
    register_numbers(client, tenant, "+14155550101", agent_id=agent["id"])
    assert create_batch(client, tenant, agent_id=agent["id"])["from_numbers"] == ["+14155550101"]


def test_a_contact_folder_gives_the_new_batch_its_contacts_as_calls(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    folder = make_folder(
        client,
        tenant,
        [
            {"phone_number": "+14155550111", "first_name": "Ann", "attributes": {"tier": "gold"}},
            {"phone_number": "+14155550112", "first_name": "Bob"},
        ],
    )
    batch = create_batch(client, tenant, contact_folder_id=folder["id"])
    assert (batch["contact_source"], batch["contact_folder_id"]) == ("folder", folder["id"])
    assert batch["counters"]["total"] == batch["counters"]["queued"] == 2
    assert create_batch(client, tenant)["contact_source"] == "manual"
    assert create_batch(client, tenant, contact_source="csv")["contact_source"] == "csv"
    before = snapshot(runtime)
    body = {"name": "x", "contact_folder_id": "nope"}
    unknown = client.post("/v1/batches", json=body, headers=tenant.headers)
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "Contact folder nope not found"
    assert snapshot(runtime) == before
