"""SPEC 4, rule 2: "No dial outside the batch's window and working days in the batch timezone; with
`respect_recipient_timezone` also only 08:00-21:00 in the recipient's local time, taken from the number (a
number spanning several zones must satisfy all of them)."

The window's arithmetic alone is unit-tested in tests/rules/dispatcher/test_window.py."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from tests.dialling import start
from tests.support import Tenant, batch_of, calls_of

SATURDAY_NOON_NEW_YORK = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
MONDAY_NINE_NEW_YORK = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def test_no_dial_outside_the_window_and_working_days(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    clock.set(SATURDAY_NOON_NEW_YORK)
    batch = start(
        client,
        tenant,
        [{"phone_number": "+12125551000"}],
        timezone="America/New_York",
        start_time="09:00",
        end_time="17:00",
        working_days=[1, 2, 3, 4, 5],
    )
    assert dispatcher.tick().dialled == 0
    answer = batch_of(client, tenant, batch["id"])
    assert answer["next_dial_at"] == "2026-11-30T14:00:00Z"
    clock.set(MONDAY_NINE_NEW_YORK)
    clock.advance(-1)
    assert dispatcher.tick().dialled == 0
    clock.advance(1)
    assert dispatcher.tick().dialled == 1
    assert batch_of(client, tenant, batch["id"])["next_dial_at"] is None


def test_window_that_runs_past_midnight(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 24, 3, 30, tzinfo=UTC))  # 22:30 Monday in New York
    start(
        client,
        tenant,
        [{"phone_number": "+12125551000"}],
        timezone="America/New_York",
        start_time="22:00",
        end_time="06:00",
        # The batch's own window alone: the recipient's hours would hold a New York number till 08:00.
        respect_recipient_timezone=False,
    )
    assert dispatcher.tick().dialled == 1


def test_recipient_hours_in_the_recipients_zone(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    # 15:00 UTC: 10:00 in New York, 07:00 in Los Angeles.
    clock.set(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    batch = start(
        client,
        tenant,
        [{"phone_number": "+12125551000"}, {"phone_number": "+12135551000"}],
        respect_recipient_timezone=True,
    )
    assert dispatcher.tick().dialled == 1
    waiting = [c for c in calls_of(client, tenant, batch["id"]) if c["status"] == "queued"]
    assert [c["to"] for c in waiting] == ["+12135551000"]
    assert waiting[0]["next_attempt_at"] == "2026-11-23T16:00:00Z"
    clock.set(datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC))
    assert dispatcher.tick().dialled == 0
    clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))
    assert dispatcher.tick().dialled == 1


def test_stricter_state_hours_apply(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    # 01:30 UTC: 20:30 in New York, inside 08:00-21:00; Florida stops at 20:00.
    clock.set(datetime(2026, 11, 24, 1, 30, tzinfo=UTC))
    batch = start(
        client,
        tenant,
        [{"phone_number": "+12125551000"}, {"phone_number": "+13055551000"}],
        respect_recipient_timezone=True,
    )
    assert dispatcher.tick().dialled == 1
    florida = next(c for c in calls_of(client, tenant, batch["id"]) if c["to"] == "+13055551000")
    assert florida["status"] == "queued"
    assert florida["next_attempt_at"] == "2026-11-24T13:00:00Z"


def test_a_number_spanning_zones_waits_for_a_time_inside_all_of_them(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    # A toll-free number may ring from Guam to Newfoundland: only 22:00-00:30 UTC suits every zone.
    batch = start(client, tenant, [{"phone_number": "+18005551000"}], respect_recipient_timezone=True)
    assert dispatcher.tick().dialled == 0
    call = calls_of(client, tenant, batch["id"])[0]
    assert call["next_attempt_at"] == "2026-11-23T22:00:00Z"
    assert batch_of(client, tenant, batch["id"])["next_dial_at"] == "2026-11-23T22:00:00Z"
    clock.set(datetime(2026, 11, 23, 22, 0, tzinfo=UTC))
    assert dispatcher.tick().dialled == 1


def test_a_number_whose_zone_cannot_be_told_is_skipped_with_a_reason(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    batch = start(client, tenant, [{"phone_number": "+883510000000000"}], respect_recipient_timezone=True)
    assert dispatcher.tick().dialled == 0
    call = calls_of(client, tenant, batch["id"])[0]
    assert call["status"] == "skipped"
    assert "time zone" in call["skip_reason"]
