"""Dialect B, the batch calls resource: every documented field, range, default, state rule and answer."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialects.conftest import dial_until, make_agent, make_number, tag_of
from tests.support import Tenant, calls_of, make_folder, make_tenant

PATH = "/v1/batch-calls"


@pytest.fixture
def agent(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    agent = make_agent(client, tenant, prompt_template="Hello {{first_name}}")
    make_number(client, tenant, "+14155550100", agent["id"])
    return agent


def _create(client: TestClient, tenant: Tenant, **fields: Any) -> Any:
    return client.post(PATH, json=fields, headers=tenant.headers)


def _draft(client: TestClient, tenant: Tenant, agent: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = _create(client, tenant, name="Renewals", agent_id=agent["id"], **fields)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _add(client: TestClient, tenant: Tenant, batch_id: str, contacts: list[Any], **fields: Any) -> Any:
    return client.post(
        f"{PATH}/{batch_id}/contacts", json={"contacts": contacts, **fields}, headers=tenant.headers
    )


def test_create_with_every_documented_field(
    client: TestClient, tenant: Tenant, agent: dict[str, Any]
) -> None:
    # The seed shows the fields in a table rather than a literal request: this sends each of them.
    second = make_number(client, tenant, "+14155550101")
    body = {
        "name": "Q1 renewals",
        "agent_id": agent["id"],
        "phone_number_ids": [second["id"]],
        "phone_rotation_strategy": "round_robin",
        "contact_source": "manual",
        "schedule_type": "scheduled",
        "scheduled_at": "2026-12-01T09:00:00",
        "timezone": "America/New_York",
        "start_time": "09:00",
        "end_time": "17:30",
        "working_days": [1, 3, 5],
        "max_concurrent_calls": 25,
        "max_calls_per_day": 500,
        "retry_failed": True,
        "max_retry_attempts": 3,
    }
    response = client.post(PATH, json=body, headers={**tenant.headers, "X-Idempotency-Key": "create-1"})

    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == {"data", "meta"}
    assert answer["meta"] == {"timestamp": "2026-11-23T17:00:00Z"}
    data = answer["data"]
    assert data["id"]
    assert data["status"] == "draft"
    assert {k: data[k] for k in body if k not in {"scheduled_at", "schedule_type"}} == {
        k: v for k, v in body.items() if k not in {"scheduled_at", "schedule_type"}
    }
    assert data["schedule_type"] == "scheduled"
    assert data["scheduled_at"] == "2026-12-01T14:00:00Z"
    assert data["phone_numbers"] == ["+14155550101"]
    assert data["contact_folder_id"] is None
    assert data["counters"]["total"] == 0


def test_create_defaults(client: TestClient, tenant: Tenant, agent: dict[str, Any]) -> None:
    data = _draft(client, tenant, agent)
    assert data["phone_number_ids"]
    assert data["phone_numbers"] == ["+14155550100"]
    assert data["phone_rotation_strategy"] == "random"
    assert data["contact_source"] == "csv"
    assert data["schedule_type"] == "immediate"
    assert data["scheduled_at"] is None
    assert data["timezone"] == "UTC"
    assert (data["start_time"], data["end_time"]) == (None, None)
    assert data["working_days"] == [1, 2, 3, 4, 5]
    assert data["max_concurrent_calls"] == 10
    assert data["max_calls_per_day"] is None
    assert (data["retry_failed"], data["max_retry_attempts"]) == (False, 0)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"max_concurrent_calls": 0}, "max_concurrent_calls"),
        ({"max_concurrent_calls": 101}, "max_concurrent_calls"),
        ({"max_retry_attempts": 4}, "max_retry_attempts"),
        ({"max_retry_attempts": -1}, "max_retry_attempts"),
        ({"max_calls_per_day": 0}, "max_calls_per_day"),
        ({"working_days": [0, 1]}, "working_days"),
        ({"working_days": [8]}, "working_days"),
        ({"phone_rotation_strategy": "fastest"}, "phone_rotation_strategy"),
        ({"contact_source": "crm"}, "contact_source"),
        ({"contact_source": "folder"}, "contact_folder_id"),
        ({"schedule_type": "later"}, "schedule_type"),
        ({"schedule_type": "scheduled"}, "scheduled_at"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"start_time": "25:00", "end_time": "10:00"}, "start_time"),
    ],
)
def test_out_of_range_fields_are_422(
    client: TestClient, tenant: Tenant, agent: dict[str, Any], fields: dict[str, Any], field: str
) -> None:
    response = _create(client, tenant, **{"name": "Renewals", "agent_id": agent["id"], **fields})
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]
    assert client.get(PATH, headers=tenant.headers).json()["data"] == []


def test_the_agent_must_exist_be_active_and_ready(client: TestClient, tenant: Tenant) -> None:
    missing = _create(client, tenant, name="X", agent_id="6b0e3f4e-1111-4222-8333-944455556666")
    assert missing.status_code == 422
    assert missing.json()["message"] == "agent_id: agent 6b0e3f4e-1111-4222-8333-944455556666 does not exist"
    for flags, reason in [({"active": False}, "is not active"), ({"ready": False}, "is not ready for calls")]:
        agent = make_agent(client, tenant, **flags)
        make_number(client, tenant, f"+1415555{len(reason):04d}", agent["id"])
        refused = _create(client, tenant, name="X", agent_id=agent["id"])
        assert refused.status_code == 422
        assert refused.json()["message"] == f"Agent {agent['id']} {reason}"
    assert client.get(PATH, headers=tenant.headers).json()["data"] == []


def test_an_outbound_number_is_required(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, agent: dict[str, Any]
) -> None:
    lonely = make_agent(client, tenant)
    refused = _create(client, tenant, name="X", agent_id=lonely["id"])
    assert refused.status_code == 422
    assert refused.json()["message"].startswith("At least one valid outbound phone number is required")
    foreign = make_number(client, other_tenant, "+14155550199")
    unknown = _create(client, tenant, name="X", agent_id=lonely["id"], phone_number_ids=[foreign["id"]])
    assert unknown.status_code == 422
    assert "phone_number_ids" in unknown.json()["message"]
    own = make_number(client, tenant, "+14155550102")
    created = _create(client, tenant, name="X", agent_id=lonely["id"], phone_number_ids=[own["id"]])
    assert created.status_code == 201
    assert created.json()["data"]["phone_numbers"] == ["+14155550102"]


def test_a_folder_source_loads_the_folders_contacts(
    client: TestClient, tenant: Tenant, agent: dict[str, Any]
) -> None:
    folder = make_folder(
        client,
        tenant,
        [
            {"phone_number": "+14155550111", "first_name": "Ann", "attributes": {"tier": "gold"}},
            {"phone_number": "+14155550112", "first_name": "Bob"},
        ],
    )
    data = _draft(client, tenant, agent, contact_source="folder", contact_folder_id=folder["id"])
    assert (data["contact_source"], data["contact_folder_id"]) == ("folder", folder["id"])
    assert data["counters"]["total"] == 2
    calls = calls_of(client, tenant, data["id"])
    assert sorted((c["to"], c["first_name"], c["variables"].get("tier")) for c in calls) == [
        ("+14155550111", "Ann", "gold"),
        ("+14155550112", "Bob", None),
    ]
    unknown = _create(
        client, tenant, name="X", agent_id=agent["id"], contact_source="folder", contact_folder_id="nope"
    )
    assert unknown.status_code == 422
    assert unknown.json()["message"] == "contact_folder_id: contact folder nope does not exist"


def test_contacts_are_added_as_json_or_csv(client: TestClient, tenant: Tenant, agent: dict[str, Any]) -> None:
    batch_id = _draft(client, tenant, agent)["id"]
    added = _add(
        client,
        tenant,
        batch_id,
        [{"phone_number": "(415) 555-0121", "first_name": "Ann", "plan": "gold"}, {"phone_number": "12"}],
        country_code="US",
    )
    assert added.status_code == 200, added.text
    data = added.json()["data"]
    assert (data["added"], data["skipped"]) == (1, 1)
    assert data["errors"][0]["row"] == 2
    assert data["errors"][0]["field"] == "phone_number"
    assert len(data["call_ids"]) == 1
    assert added.json()["meta"]["timestamp"]

    csv = b"Phone,First Name,plan\n+14155550122,Bob,silver\n"
    uploaded = client.post(
        f"{PATH}/{batch_id}/contacts", files={"file": ("c.csv", csv)}, headers=tenant.headers
    ).json()["data"]
    assert (uploaded["added"], uploaded["skipped"]) == (1, 0)
    calls = calls_of(client, tenant, batch_id)
    assert [(c["to"], c["first_name"], c["variables"]) for c in calls] == [
        ("+14155550121", "Ann", {"plan": "gold"}),
        ("+14155550122", "Bob", {"plan": "silver"}),
    ]
    no_file = client.post(
        f"{PATH}/{batch_id}/contacts", files={"other": ("c.csv", csv)}, headers=tenant.headers
    )
    assert no_file.status_code == 422
    assert _add(client, tenant, batch_id, []).status_code == 422
    malformed = client.post(
        f"{PATH}/{batch_id}/contacts",
        content=b"{",
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 422


def test_contacts_are_counted_before_they_are_read_and_their_errors_listed_up_to_the_setting(
    client: TestClient, runtime: Runtime, tenant: Tenant, agent: dict[str, Any]
) -> None:
    batch_id = _draft(client, tenant, agent)["id"]
    runtime.settings.max_rows_per_request = 3
    refused = _add(client, tenant, batch_id, [{}] * 4)
    assert refused.status_code == 422
    assert refused.json()["message"] == "At most 3 contacts per request; this one has 4"

    runtime.settings.max_errors_listed = 1
    data = _add(
        client, tenant, batch_id, [{}, {"phone_number": "12"}, {"phone_number": "+14155550121"}]
    ).json()["data"]
    assert (data["added"], data["skipped"], data["error_count"]) == (1, 2, 2)
    assert [(e["row"], e["field"]) for e in data["errors"]] == [(1, "phone_number")]


def test_wrong_state_transitions_answer_422_with_a_message(
    client: TestClient, tenant: Tenant, agent: dict[str, Any]
) -> None:
    batch_id = _draft(client, tenant, agent)["id"]

    def post(action: str) -> Any:
        return client.post(f"{PATH}/{batch_id}/{action}", headers=tenant.headers)

    empty = post("schedule")
    assert empty.status_code == 422
    assert empty.json()["message"] == f"Batch {batch_id} has no calls to schedule; add calls first"
    draft_pause = post("pause")
    assert draft_pause.status_code == 422
    assert draft_pause.json()["message"] == (
        f"Cannot pause batch {batch_id}: it is draft, and this needs active or scheduled"
    )
    assert (
        post("resume").json()["message"]
        == f"Cannot resume batch {batch_id}: it is draft, and this needs paused"
    )

    _add(client, tenant, batch_id, [{"phone_number": "+14155550131"}])
    scheduled = post("schedule")
    assert scheduled.status_code == 200
    assert scheduled.json()["data"]["status"] == "active"
    again = post("schedule")
    assert again.status_code == 422
    assert again.json()["message"] == f"Cannot schedule batch {batch_id}: it is active, and this needs draft"
    assert post("resume").status_code == 422
    assert post("pause").json()["data"]["status"] == "paused"
    assert post("pause").json()["message"] == (
        f"Cannot pause batch {batch_id}: it is paused, and this needs active or scheduled"
    )
    assert post("resume").json()["data"]["status"] == "active"


def test_a_scheduled_batch_call_waits_for_its_time(
    client: TestClient, tenant: Tenant, agent: dict[str, Any]
) -> None:
    batch_id = _draft(client, tenant, agent, schedule_type="scheduled", scheduled_at="2026-12-01T09:00:00Z")[
        "id"
    ]
    _add(client, tenant, batch_id, [{"phone_number": "+14155550141"}])
    scheduled = client.post(f"{PATH}/{batch_id}/schedule", headers=tenant.headers).json()["data"]
    assert scheduled["status"] == "scheduled"
    assert (
        client.post(f"{PATH}/{batch_id}/pause", headers=tenant.headers).json()["data"]["status"] == "paused"
    )
    assert (
        client.post(f"{PATH}/{batch_id}/resume", headers=tenant.headers).json()["data"]["status"]
        == "scheduled"
    )


def test_update_changes_a_draft_only(client: TestClient, tenant: Tenant, agent: dict[str, Any]) -> None:
    batch_id = _draft(client, tenant, agent)["id"]
    other = make_number(client, tenant, "+14155550151")
    changes = {
        "name": "Renamed",
        "phone_number_ids": [other["id"]],
        "phone_rotation_strategy": "sequential",
        "scheduled_at": "2026-12-02T08:00:00Z",
        "start_time": "08:00",
        "end_time": "12:00",
        "working_days": [6, 7],
        "max_concurrent_calls": 100,
        "max_calls_per_day": 50,
        "retry_failed": True,
        "max_retry_attempts": 2,
    }
    response = client.patch(f"{PATH}/{batch_id}", json=changes, headers=tenant.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert {k: data[k] for k in changes} == changes
    assert data["phone_numbers"] == ["+14155550151"]
    assert data["schedule_type"] == "scheduled"
    assert (
        client.patch(
            f"{PATH}/{batch_id}", json={"max_concurrent_calls": 101}, headers=tenant.headers
        ).status_code
        == 422
    )

    _add(client, tenant, batch_id, [{"phone_number": "+14155550152"}])
    client.post(f"{PATH}/{batch_id}/schedule", headers=tenant.headers)
    refused = client.patch(f"{PATH}/{batch_id}", json={"name": "Late"}, headers=tenant.headers)
    assert refused.status_code == 422
    assert (
        refused.json()["message"] == f"Cannot update batch {batch_id}: it is scheduled, and this needs draft"
    )


def test_delete_a_draft_but_not_a_running_batch(
    client: TestClient, tenant: Tenant, agent: dict[str, Any]
) -> None:
    draft = _draft(client, tenant, agent)["id"]
    deleted = client.delete(f"{PATH}/{draft}", headers=tenant.headers)
    assert deleted.status_code == 200
    assert deleted.json()["data"] == {"id": draft, "deleted": True}
    assert client.get(f"{PATH}/{draft}", headers=tenant.headers).status_code == 404

    running = _draft(client, tenant, agent)["id"]
    _add(client, tenant, running, [{"phone_number": "+14155550161"}])
    client.post(f"{PATH}/{running}/schedule", headers=tenant.headers)
    refused = client.delete(f"{PATH}/{running}", headers=tenant.headers)
    assert refused.status_code == 422
    assert refused.json()["message"].startswith(f"Cannot delete batch {running}: it is active")


def test_list_filters_and_pages(client: TestClient, tenant: Tenant, agent: dict[str, Any]) -> None:
    other_agent = make_agent(client, tenant)
    make_number(client, tenant, "+14155550171", other_agent["id"])
    ids = [_draft(client, tenant, agent)["id"] for _ in range(3)]
    mine = _create(client, tenant, name="Other", agent_id=other_agent["id"]).json()["data"]["id"]
    _add(client, tenant, ids[0], [{"phone_number": "+14155550172"}])
    client.post(f"{PATH}/{ids[0]}/schedule", headers=tenant.headers)

    everything = client.get(PATH, headers=tenant.headers).json()
    assert set(everything) == {"data", "pagination"}
    assert everything["pagination"] == {"total": 4, "limit": 50, "offset": 0}
    by_agent = client.get(f"{PATH}?agent_id={other_agent['id']}", headers=tenant.headers).json()
    assert [b["id"] for b in by_agent["data"]] == [mine]
    active = client.get(f"{PATH}?status=active", headers=tenant.headers).json()
    assert [b["id"] for b in active["data"]] == [ids[0]]
    page = client.get(f"{PATH}?limit=2&offset=2", headers=tenant.headers).json()
    assert len(page["data"]) == 2
    assert page["pagination"] == {"total": 4, "limit": 2, "offset": 2}
    assert client.get(f"{PATH}?limit=100", headers=tenant.headers).status_code == 200
    assert client.get(f"{PATH}?limit=101", headers=tenant.headers).status_code == 422
    assert client.get(f"{PATH}?offset=-1", headers=tenant.headers).status_code == 422
    assert client.get(f"{PATH}?status=sleeping", headers=tenant.headers).status_code == 422


def test_get_reads_one_and_hides_other_workspaces(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, agent: dict[str, Any]
) -> None:
    batch_id = _draft(client, tenant, agent)["id"]
    got = client.get(f"{PATH}/{batch_id}", headers=tenant.headers).json()
    assert got["data"]["id"] == batch_id
    assert got["meta"]["timestamp"]
    for method, path in [
        ("get", f"{PATH}/{batch_id}"),
        ("patch", f"{PATH}/{batch_id}"),
        ("delete", f"{PATH}/{batch_id}"),
        ("post", f"{PATH}/{batch_id}/schedule"),
        ("post", f"{PATH}/{batch_id}/pause"),
        ("post", f"{PATH}/{batch_id}/resume"),
    ]:
        kwargs: dict[str, Any] = {"json": {}} if method == "patch" else {}
        response = client.request(method, path, headers=other_tenant.headers, **kwargs)
        assert response.status_code == 404, (method, path)
    assert _add(client, other_tenant, batch_id, [{"phone_number": "+14155550181"}]).status_code == 404


def test_keys_and_scopes(client: TestClient, runtime: Runtime, tenant: Tenant, agent: dict[str, Any]) -> None:
    assert client.get(PATH).status_code == 401
    assert client.get(PATH, headers={"Authorization": "Bearer nope.nope"}).status_code == 401
    reader = make_tenant(runtime, "Readers", scopes=["read"])
    assert client.get(PATH, headers=reader.headers).status_code == 200
    refused = _create(client, reader, name="X", agent_id=agent["id"])
    assert refused.status_code == 403


def test_x_idempotency_key_makes_a_retry_safe(
    client: TestClient, tenant: Tenant, agent: dict[str, Any]
) -> None:
    body = {"name": "Once", "agent_id": agent["id"]}
    headers = {**tenant.headers, "X-Idempotency-Key": "create-once"}
    first = client.post(PATH, json=body, headers=headers)
    second = client.post(PATH, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert client.get(PATH, headers=tenant.headers).json()["pagination"]["total"] == 1
    reused = client.post(PATH, json={**body, "name": "Twice"}, headers=headers)
    assert reused.status_code == 422


def test_the_dialect_has_its_own_tag(client: TestClient) -> None:
    for path, method in [
        (PATH, "get"),
        (PATH, "post"),
        (f"{PATH}/{{batch_id}}", "get"),
        (f"{PATH}/{{batch_id}}", "patch"),
        (f"{PATH}/{{batch_id}}", "delete"),
        (f"{PATH}/{{batch_id}}/contacts", "post"),
        (f"{PATH}/{{batch_id}}/schedule", "post"),
        (f"{PATH}/{{batch_id}}/pause", "post"),
        (f"{PATH}/{{batch_id}}/resume", "post"),
    ]:
        assert tag_of(client, path, method) == ["dialect B: batch calls"]


def test_scheduled_contacts_are_dialled_and_reported_finished(
    client: TestClient, tenant: Tenant, agent: dict[str, Any], dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch_id = _draft(client, tenant, agent)["id"]
    contacts = [
        {"phone_number": "+12125551000", "first_name": "Ann"},
        {"phone_number": "+12125551001", "first_name": "Bob"},
        {"phone_number": "+12125550002", "first_name": "Cy"},
    ]
    _add(client, tenant, batch_id, contacts)
    client.post(f"{PATH}/{batch_id}/schedule", headers=tenant.headers)

    def finished() -> bool:
        return bool(
            client.get(f"{PATH}/{batch_id}", headers=tenant.headers).json()["data"]["status"] == "completed"
        )

    dial_until(dispatcher, clock, finished)
    data = client.get(f"{PATH}/{batch_id}", headers=tenant.headers).json()["data"]
    assert data["completed_at"] is not None
    counters = data["counters"]
    assert (counters["total"], counters["completed"], counters["no_answer"]) == (3, 2, 1)
    assert (counters["queued"], counters["in_progress"]) == (0, 0)
    call = client.get(
        f"/v1/calls/{calls_of(client, tenant, batch_id)[0]['id']}", headers=tenant.headers
    ).json()
    assert call["attempts"][0]["prompt"] == "Hello Ann"
