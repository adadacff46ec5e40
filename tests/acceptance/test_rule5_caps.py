"""SPEC 4, rule 5: "`max_calls_per_day` (batch timezone day), the caller id's daily cap and the
calls-per-second cap hold."

The rate window's arithmetic alone is unit-tested in tests/rules/dispatcher/test_caps.py."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from tests.dialling import number, start
from tests.support import Tenant, batch_of, calls_of


def test_calls_per_day_count_in_the_batch_time_zone(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch = start(
        client,
        tenant,
        [{"phone_number": number(i)} for i in range(5)],
        max_calls_per_day=3,
        timezone="America/New_York",
        # The day turns at midnight in New York, when the recipients' own hours would hold the calls.
        respect_recipient_timezone=False,
    )
    assert dispatcher.tick().dialled == 3
    clock.advance(60)
    dispatcher.tick()
    assert dispatcher.tick().dialled == 0
    assert batch_of(client, tenant, batch["id"])["next_dial_at"] == "2026-11-24T05:00:00Z"
    clock.set(datetime(2026, 11, 24, 4, 59, tzinfo=UTC))  # still Monday in New York
    assert dispatcher.tick().dialled == 0
    clock.set(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    assert dispatcher.tick().dialled == 2


def test_caller_id_daily_cap_holds_across_batches(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    response = client.post(
        "/v1/phone-numbers", json={"number": "+12125550100", "daily_cap": 3}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    first = start(
        client, tenant, [{"phone_number": number(i)} for i in range(2)], from_numbers=["+12125550100"]
    )
    second = start(
        client, tenant, [{"phone_number": number(i)} for i in range(2, 5)], from_numbers=["+12125550100"]
    )
    dispatcher.tick()
    clock.advance(60)
    dispatcher.tick()
    dialled = [c for b in (first, second) for c in calls_of(client, tenant, b["id"]) if c["attempts"]]
    assert len(dialled) == 3
    assert {c["from"] for c in dialled} == {"+12125550100"}
    waiting = [b for b in (first, second) if batch_of(client, tenant, b["id"])["counters"]["queued"]]
    assert batch_of(client, tenant, waiting[0]["id"])["next_dial_at"] == "2026-11-24T05:00:00Z"


def test_calls_per_second_hold_in_every_second(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch = start(client, tenant, [{"phone_number": number(i)} for i in range(5)], max_calls_per_second=2)
    assert dispatcher.tick().dialled == 2
    clock.advance(0.5)
    assert dispatcher.tick().dialled == 0
    assert batch_of(client, tenant, batch["id"])["next_dial_at"] == "2026-11-23T17:00:01Z"
    clock.advance(0.5)
    assert dispatcher.tick().dialled == 2
    clock.advance(1)
    assert dispatcher.tick().dialled == 1
