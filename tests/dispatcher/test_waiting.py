"""A batch that says when it will dial next is passed over until then, unless something wakes it."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from batchcall.dispatcher import repository
from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialling import number, start
from tests.support import Tenant, add_rows, batch_of

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
