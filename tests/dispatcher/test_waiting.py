"""A batch that is not dialling says why and until when, and is passed over until then, unless something
wakes it."""

import logging
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from batchcall.dispatcher import repository
from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialling import number, start
from tests.support import Tenant, add_rows, batch_of, create_batch, register_numbers

SATURDAY_NOON_NEW_YORK = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
MONDAY_NINE_NEW_YORK = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
WEEKDAYS = {
    "timezone": "America/New_York",
    "start_time": "09:00",
    "end_time": "17:00",
    "working_days": [1, 2, 3, 4, 5],
}


def visited(runtime: Runtime, clock: ManualClock) -> list[str]:
    with runtime.sessions() as session:
        return repository.batches_to_visit(session, clock.now())


def test_a_batch_waiting_for_its_window_is_passed_over_until_it_opens(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    clock.set(SATURDAY_NOON_NEW_YORK)
    batch = start(client, tenant, [{"phone_number": number(1)}], **WEEKDAYS)
    assert visited(runtime, clock) == [batch["id"]]
    assert dispatcher.tick().dialled == 0
    assert visited(runtime, clock) == []
    clock.set(MONDAY_NINE_NEW_YORK)
    assert visited(runtime, clock) == [batch["id"]]
    assert dispatcher.tick().dialled == 1


def test_new_calls_wake_a_batch_waiting_for_its_next_due_call(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    later = {"phone_number": number(1), "scheduled_time": "2026-11-23T18:00:00Z"}
    batch = start(client, tenant, [later])
    assert dispatcher.tick().dialled == 0
    assert batch_of(client, tenant, batch["id"])["next_dial_at"] == "2026-11-23T18:00:00Z"
    add_rows(client, tenant, batch["id"], [{"phone_number": number(2)}])
    assert dispatcher.tick().dialled == 1


def test_a_raised_caller_id_cap_wakes_a_batch_waiting_for_the_next_day(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    response = client.post(
        "/v1/phone-numbers", json={"number": "+12125550100", "daily_cap": 1}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    caller = response.json()
    rows = [{"phone_number": number(i)} for i in range(2)]
    batch = start(client, tenant, rows, from_numbers=["+12125550100"])
    assert dispatcher.tick().dialled == 1
    clock.advance(60)
    assert dispatcher.tick().dialled == 0
    assert batch_of(client, tenant, batch["id"])["next_dial_at"] == "2026-11-24T05:00:00Z"
    response = client.patch(
        f"/v1/phone-numbers/{caller['id']}", json={"daily_cap": 2}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    assert dispatcher.tick().dialled == 1


# Why a batch is not dialling, on the batch's answer: the code, the words, and until when.

MONDAY_0551_NEW_YORK = datetime(2026, 11, 23, 10, 51, tzinfo=UTC)


def waiting_of(
    client: TestClient, tenant: Tenant, batch_id: str
) -> tuple[str | None, str | None, str | None]:
    batch = batch_of(client, tenant, batch_id)
    return batch["waiting_reason"], batch["waiting_detail"], batch["next_dial_at"]


def test_a_batch_outside_its_working_days_says_so_and_when_it_dials_again(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    clock.set(SATURDAY_NOON_NEW_YORK)
    batch = start(client, tenant, [{"phone_number": number(1)}], **WEEKDAYS)
    dispatcher.tick()
    reason, detail, until = waiting_of(client, tenant, batch["id"])
    assert (reason, until) == ("not_working_day", "2026-11-30T14:00:00Z")
    assert detail is not None
    assert detail.startswith("Sat is not one of the batch's working days")
    assert "09:00 America/New_York on Mon 30 Nov" in detail


def test_a_batch_before_its_window_says_when_the_window_opens(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    window = {**WEEKDAYS, "start_time": "13:00", "end_time": "17:00"}
    batch = start(client, tenant, [{"phone_number": number(1)}], **window)
    dispatcher.tick()
    reason, detail, until = waiting_of(client, tenant, batch["id"])
    assert (reason, until) == ("outside_window", "2026-11-23T18:00:00Z")
    assert detail is not None
    assert "outside the batch's window 13:00-17:00 America/New_York" in detail


def test_a_batch_whose_recipients_are_asleep_waits_for_their_calling_hours(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    clock.set(MONDAY_0551_NEW_YORK)
    batch = start(client, tenant, [{"phone_number": number(1)}])
    assert dispatcher.tick().dialled == 0
    assert waiting_of(client, tenant, batch["id"])[::2] == ("recipient_hours", "2026-11-23T13:00:00Z")
    clock.set(datetime(2026, 11, 23, 13, 0, tzinfo=UTC))
    assert dispatcher.tick().dialled == 1
    assert waiting_of(client, tenant, batch["id"]) == (None, None, None)


def test_once_the_awake_are_called_the_batch_says_it_waits_for_the_asleep(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    """Noon in New York is 02:00 in Tokyo: New York is called, Tokyo waits for 08:00 there."""
    tokyo = "+81312345678"
    batch = start(client, tenant, [{"phone_number": number(1)}, {"phone_number": tokyo}])
    assert dispatcher.tick().dialled == 1
    clock.advance(1)
    assert dispatcher.tick().dialled == 0
    assert waiting_of(client, tenant, batch["id"])[::2] == ("recipient_hours", "2026-11-23T23:00:00Z")


def test_each_cap_that_binds_is_named_with_its_figure(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    rows = [{"phone_number": number(i)} for i in range(3)]
    daily = start(client, tenant, rows, max_calls_per_day=1, timezone="America/New_York")
    lines = start(client, tenant, rows, max_concurrent_calls=1)
    rate = start(client, tenant, rows, max_calls_per_second=0.1)
    dispatcher.tick()
    assert waiting_of(client, tenant, daily["id"]) == (None, None, None)
    dispatcher.tick()
    assert waiting_of(client, tenant, daily["id"]) == (
        "batch_daily_cap",
        "the batch made its max_calls_per_day of 1 today; next call at 00:00 America/New_York on "
        "Tue 24 Nov (05:00 UTC)",
        "2026-11-24T05:00:00Z",
    )
    assert waiting_of(client, tenant, lines["id"])[:2] == (
        "all_in_flight",
        "all 1 calls its max_concurrent_calls allows are in flight",
    )
    assert waiting_of(client, tenant, rate["id"])[::2] == ("calls_per_second", "2026-11-23T17:00:10Z")


def test_a_caller_id_at_its_daily_cap_is_named(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    register_numbers(client, tenant, "+12125550100", daily_cap=1)
    rows = [{"phone_number": number(i)} for i in range(2)]
    batch = start(client, tenant, rows, from_numbers=["+12125550100"])
    dispatcher.tick()
    dispatcher.tick()
    reason, detail, until = waiting_of(client, tenant, batch["id"])
    assert (reason, until) == ("caller_id_daily_cap", "2026-11-24T05:00:00Z")
    assert detail is not None
    assert "made its daily_cap today (+12125550100)" in detail


def test_a_batch_whose_caller_ids_were_all_deleted_says_it_has_none(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    [caller] = register_numbers(client, tenant, "+12125550100")
    batch = start(client, tenant, [{"phone_number": number(1)}], from_numbers=["+12125550100"])
    deleted = client.delete(f"/v1/phone-numbers/{caller['id']}", headers=tenant.headers)
    assert deleted.status_code == 204, deleted.text
    assert dispatcher.tick().dialled == 0
    assert waiting_of(client, tenant, batch["id"])[0] == "no_caller_id"


def test_a_batch_whose_agent_was_switched_off_waits_for_it_and_dials_once_it_is_back(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    batch = start(client, tenant, [{"phone_number": number(1)}])
    agent = f"/v1/agents/{batch['agent_id']}"
    assert client.patch(agent, json={"active": False}, headers=tenant.headers).status_code == 200
    assert dispatcher.tick().dialled == 0
    reason, detail, until = waiting_of(client, tenant, batch["id"])
    assert (reason, until) == ("agent_unavailable", None)
    assert detail == f"Agent {batch['agent_id']} is not active: the batch dials again once its agent can call"
    assert client.patch(agent, json={"active": True}, headers=tenant.headers).status_code == 200
    assert dispatcher.tick().dialled == 1


def test_a_batch_with_only_later_calls_says_nothing_is_due_until_the_first(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    later = {"phone_number": number(1), "scheduled_time": "2026-11-23T18:00:00Z"}
    batch = start(client, tenant, [later])
    dispatcher.tick()
    assert waiting_of(client, tenant, batch["id"])[::2] == ("nothing_due", "2026-11-23T18:00:00Z")


def test_a_draft_previews_its_first_dial(client: TestClient, tenant: Tenant, clock: ManualClock) -> None:
    batch = create_batch(client, tenant)
    assert waiting_of(client, tenant, batch["id"]) == (None, None, None)
    add_rows(client, tenant, batch["id"], [{"phone_number": number(1)}])
    assert waiting_of(client, tenant, batch["id"]) == (None, None, "2026-11-23T17:00:00Z")
    clock.set(MONDAY_0551_NEW_YORK)
    assert waiting_of(client, tenant, batch["id"])[::2] == ("recipient_hours", "2026-11-23T13:00:00Z")


def test_a_scheduled_batch_waits_for_its_start_then_for_its_window(
    client: TestClient, tenant: Tenant
) -> None:
    window = {**WEEKDAYS, "scheduled_at": "2026-11-28T15:00:00Z"}
    batch = create_batch(client, tenant, **window)
    add_rows(client, tenant, batch["id"], [{"phone_number": number(1)}])
    reason, detail, until = waiting_of(client, tenant, batch["id"])
    assert (reason, until) == ("scheduled_start", "2026-11-30T14:00:00Z")
    assert detail is not None
    assert detail.startswith(
        "it starts at 10:00 America/New_York on Sat 28 Nov (15:00 UTC); then Sat is not one of"
    )


def test_a_change_of_reason_is_logged_once(
    client: TestClient,
    tenant: Tenant,
    dispatcher: Dispatcher,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock.set(SATURDAY_NOON_NEW_YORK)
    batch = start(client, tenant, [{"phone_number": number(1)}], **WEEKDAYS)
    with caplog.at_level(logging.INFO, logger="batchcall.dispatcher"):
        for _ in range(3):
            dispatcher.tick()
            clock.advance(3600)
        clock.set(MONDAY_NINE_NEW_YORK)
        dispatcher.tick()
    said = [r.getMessage() for r in caplog.records if getattr(r, "batch_id", None) == batch["id"]]
    waits = [line for line in said if "waits" in line]
    assert len(waits) == 2, said
    assert waits[0].startswith(f"batch {batch['id']} waits: Sat is not one of")
    assert waits[1] == f"batch {batch['id']} no longer waits (not_working_day)"
