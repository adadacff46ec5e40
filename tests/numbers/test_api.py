"""Phone numbers through the native API: registered in E.164 once per workspace, labelled, capped per day
and assigned to an agent, whose batches then call from them; and caller ids belong to their workspace: a
batch is made only with the workspace's own phone numbers, and the dispatcher never dials from a number
the workspace no longer owns."""

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.models import Batch, PhoneNumber
from batchcall.runtime import Runtime
from tests.dialling import number, start
from tests.store import count, snapshot
from tests.support import Tenant, add_rows, batch_of, calls_of, create_batch, register_numbers

OWN = "+14155550100"
UNREGISTERED = ["+14155550198", "+14155550199"]


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
    # No time can be told: the batch dials again when a number is registered, which wakes it.
    assert (waiting["waiting_reason"], waiting["next_dial_at"]) == ("no_caller_id", None)

    register_numbers(client, tenant, OWN)
    assert dispatcher.tick().dialled == 1
    assert _callers(client, tenant, batch["id"]) == [OWN]


def _agent(client: TestClient, tenant: Tenant, name: str = "Closer") -> dict[str, Any]:
    response = client.post("/v1/agents", json={"name": name}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    agent: dict[str, Any] = response.json()
    return agent


def _patch(client: TestClient, tenant: Tenant, number_id: str, **fields: Any) -> Any:
    return client.patch(f"/v1/phone-numbers/{number_id}", json=fields, headers=tenant.headers)


def test_a_number_is_kept_in_e164_whatever_form_it_was_given_in(
    client: TestClient, tenant: Tenant, clock: ManualClock
) -> None:
    [american] = register_numbers(client, tenant, "(415) 555-0100")
    created_at = clock.now().isoformat().replace("+00:00", "Z")
    clock.advance(1)
    [british] = register_numbers(client, tenant, "020 7946 0958", country_code="gb")
    assert american == {
        "id": american["id"],
        "number": OWN,
        "agent_id": None,
        "label": "",
        "daily_cap": None,
        "created_at": created_at,
        "dials_today": 0,
        "remaining_today": None,
    }
    assert british["number"] == "+442079460958"
    listed = client.get("/v1/phone-numbers", headers=tenant.headers).json()
    assert [n["number"] for n in listed["data"]] == [OWN, "+442079460958"]


def test_a_number_that_cannot_be_dialled_is_422_and_writes_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    for body, words in (
        ({"number": "555-0100"}, "number: '555-0100' is not a valid phone number"),
        ({"number": "020 7946 0958", "country_code": "XX"}, "'XX' is not an ISO 3166-1 alpha-2 country code"),
        ({"number": OWN, "daily_cap": 0}, "daily_cap"),
    ):
        response = client.post("/v1/phone-numbers", json=body, headers=tenant.headers)
        assert response.status_code == 422, body
        assert words in response.json()["message"]
    assert count(runtime, PhoneNumber) == 0


def test_a_number_is_registered_once_per_workspace_in_any_form(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    register_numbers(client, tenant, OWN)
    again = client.post("/v1/phone-numbers", json={"number": "+1 (415) 555-0100"}, headers=tenant.headers)
    assert again.status_code == 409
    assert again.json()["message"] == f"Phone number {OWN} is already registered in this workspace"
    assert count(runtime, PhoneNumber) == 1


def test_a_number_is_assigned_only_to_an_agent_of_the_workspace(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = _agent(client, other_tenant)
    before = snapshot(runtime)
    refused = client.post(
        "/v1/phone-numbers", json={"number": OWN, "agent_id": theirs["id"]}, headers=tenant.headers
    )
    assert refused.status_code == 404
    assert refused.json()["message"] == f"Agent {theirs['id']} not found"
    assert snapshot(runtime) == before
    [caller] = register_numbers(client, tenant, OWN)
    assert _patch(client, tenant, caller["id"], agent_id=theirs["id"]).status_code == 404
    assert client.get(f"/v1/phone-numbers/{caller['id']}", headers=tenant.headers).json() == caller


def test_a_patch_sets_the_label_and_cap_and_null_clears_them(client: TestClient, tenant: Tenant) -> None:
    [caller] = register_numbers(client, tenant, OWN)
    labelled = _patch(client, tenant, caller["id"], label="Front desk", daily_cap=50).json()
    assert (labelled["label"], labelled["daily_cap"], labelled["number"]) == ("Front desk", 50, OWN)
    cleared = _patch(client, tenant, caller["id"], label=None, daily_cap=None).json()
    assert (cleared["label"], cleared["daily_cap"]) == ("", None)
    assert _patch(client, tenant, caller["id"], number="+14155550101").status_code == 422


def test_an_agents_numbers_are_the_caller_ids_of_its_batches_that_name_none(
    client: TestClient, tenant: Tenant, clock: ManualClock
) -> None:
    agent = _agent(client, tenant)
    for caller in ("+14155550102", "+14155550101"):
        register_numbers(client, tenant, caller, agent_id=agent["id"])
        clock.advance(1)
    register_numbers(client, tenant, OWN)
    assert create_batch(client, tenant, agent_id=agent["id"])["from_numbers"] == [
        "+14155550102",
        "+14155550101",
    ]
    named = create_batch(client, tenant, agent_id=agent["id"], from_numbers=[OWN])
    assert named["from_numbers"] == [OWN]
    assert create_batch(client, tenant, agent_id=None)["from_numbers"] == []


def test_reassigning_a_number_changes_the_caller_ids_of_new_batches_only(
    client: TestClient, tenant: Tenant
) -> None:
    first, second = _agent(client, tenant, "First"), _agent(client, tenant, "Second")
    [caller] = register_numbers(client, tenant, OWN, agent_id=first["id"])
    before = create_batch(client, tenant, agent_id=first["id"])
    assert _patch(client, tenant, caller["id"], agent_id=second["id"]).status_code == 200
    # First has no number left, so a new batch of its own has none to call from: it is refused.
    alone = client.post("/v1/batches", json={"name": "X", "agent_id": first["id"]}, headers=tenant.headers)
    assert alone.status_code == 422
    assert alone.json()["message"].startswith("At least one valid outbound phone number is required")
    assert create_batch(client, tenant, agent_id=second["id"])["from_numbers"] == [OWN]
    assert batch_of(client, tenant, before["id"])["from_numbers"] == [OWN]


def test_lifting_a_spent_daily_cap_lets_the_batch_dial_again_the_same_day(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    [caller] = register_numbers(client, tenant, OWN, daily_cap=1)
    batch = start(client, tenant, [{"phone_number": number(i)} for i in range(3)], from_numbers=[OWN])
    assert dispatcher.tick().dialled == 1
    clock.advance(60)
    assert dispatcher.tick().dialled == 0
    assert batch_of(client, tenant, batch["id"])["next_dial_at"] is not None
    assert _patch(client, tenant, caller["id"], daily_cap=None).status_code == 200
    assert dispatcher.tick().dialled == 2
    assert set(_callers(client, tenant, batch["id"])) == {OWN}


NEW_YORK_CALLER = "+12125550100"
# Midnight in New York, where the caller id is: its day turns over five hours after UTC's.
NEXT_NEW_YORK_DAY = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)


def _usage(client: TestClient, tenant: Tenant, number_id: str) -> tuple[int, int | None]:
    found = client.get(f"/v1/phone-numbers/{number_id}", headers=tenant.headers).json()
    return found["dials_today"], found["remaining_today"]


def _listed_usage(client: TestClient, tenant: Tenant) -> dict[str, tuple[int, int | None]]:
    listed = client.get("/v1/phone-numbers", headers=tenant.headers).json()["data"]
    return {n["number"]: (n["dials_today"], n["remaining_today"]) for n in listed}


def test_a_capped_number_shows_its_dials_today_against_its_cap(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    [caller] = register_numbers(client, tenant, NEW_YORK_CALLER, daily_cap=5)
    assert (caller["dials_today"], caller["remaining_today"]) == (0, 5)
    start(client, tenant, [{"phone_number": number(i)} for i in range(3)], from_numbers=[NEW_YORK_CALLER])
    assert dispatcher.tick().dialled == 3
    assert _usage(client, tenant, caller["id"]) == (3, 2)
    assert _listed_usage(client, tenant)[NEW_YORK_CALLER] == (3, 2)
    lowered = _patch(client, tenant, caller["id"], daily_cap=2).json()
    assert (lowered["dials_today"], lowered["remaining_today"]) == (3, 0)


def test_a_numbers_day_is_its_own_local_day(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    [caller] = register_numbers(client, tenant, NEW_YORK_CALLER, daily_cap=5)
    start(client, tenant, [{"phone_number": number(i)} for i in range(3)], from_numbers=[NEW_YORK_CALLER])
    dispatcher.tick()
    clock.set(datetime(2026, 11, 24, 4, 59, tzinfo=UTC))  # the next day in UTC, still the same in New York
    assert _usage(client, tenant, caller["id"]) == (3, 2)
    clock.set(NEXT_NEW_YORK_DAY)
    assert _usage(client, tenant, caller["id"]) == (0, 5)


def test_an_uncapped_number_shows_its_dials_today_and_no_remaining(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    [caller] = register_numbers(client, tenant, NEW_YORK_CALLER)
    start(client, tenant, [{"phone_number": number(i)} for i in range(4)], from_numbers=[NEW_YORK_CALLER])
    assert dispatcher.tick().dialled == 4
    assert _usage(client, tenant, caller["id"]) == (4, None)
    clock.set(NEXT_NEW_YORK_DAY)
    assert _usage(client, tenant, caller["id"]) == (0, None)


def test_the_same_number_in_another_workspace_has_its_own_usage(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, dispatcher: Dispatcher
) -> None:
    [capped] = register_numbers(client, tenant, NEW_YORK_CALLER, daily_cap=5)
    [uncapped] = register_numbers(client, tenant, OWN)
    [theirs_capped] = register_numbers(client, other_tenant, NEW_YORK_CALLER, daily_cap=5)
    register_numbers(client, other_tenant, OWN)
    start(client, tenant, [{"phone_number": number(i)} for i in range(2)], from_numbers=[NEW_YORK_CALLER])
    start(client, tenant, [{"phone_number": number(i + 10)} for i in range(2)], from_numbers=[OWN])
    assert dispatcher.tick().dialled == 4
    assert (_usage(client, tenant, capped["id"]), _usage(client, tenant, uncapped["id"])) == (
        (2, 3),
        (2, None),
    )
    assert _listed_usage(client, other_tenant) == {NEW_YORK_CALLER: (0, 5), OWN: (0, None)}
    hidden = client.get(f"/v1/phone-numbers/{theirs_capped['id']}", headers=tenant.headers)
    assert hidden.status_code == 404
