"""SPEC 4, rule 9: "Retries wait their delay, respect the window, and stop at the attempt limit."

The retry policy's decisions alone are unit-tested in tests/rules/dispatcher/test_retry.py."""

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialling import ledger, number, run_until_done, start
from tests.support import Tenant, batch_of, calls_of, register_numbers


def _attempts(client: TestClient, tenant: Tenant, call: dict[str, Any]) -> list[dict[str, Any]]:
    attempts: list[dict[str, Any]] = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()[
        "attempts"
    ]
    return attempts


def test_retries_wait_their_delay_and_stop_at_the_limit(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    register_numbers(client, tenant, "+12125550100", "+12125550101")
    batch = start(
        client,
        tenant,
        [{"phone_number": number(0, "0001")}],
        max_retry_attempts=2,
        retry_delay_seconds=600,
        from_numbers=["+12125550100", "+12125550101"],
        rotation="round_robin",
    )
    dispatcher.tick()
    clock.advance(1)
    dispatcher.tick()
    call = calls_of(client, tenant, batch["id"])[0]
    assert call["status"] == "queued"
    assert call["next_attempt_at"] == "2026-11-23T17:10:00.020000Z"
    clock.set(datetime(2026, 11, 23, 17, 10, tzinfo=UTC))
    assert dispatcher.tick().dialled == 0
    done = run_until_done(dispatcher, clock, client, tenant, batch["id"], step=300)
    call = calls_of(client, tenant, batch["id"])[0]
    assert call["status"] == "busy"
    assert call["attempts"] == 3
    assert done["counters"]["busy"] == 1
    attempts = _attempts(client, tenant, call)
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert {a["from"] for a in attempts} == {attempts[0]["from"]}
    assert len(ledger(runtime)) == 3


def test_a_retry_waits_for_the_window(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 23, 21, 59, tzinfo=UTC))  # 16:59 in New York
    batch = start(
        client,
        tenant,
        [{"phone_number": number(0, "0002")}],
        max_retry_attempts=1,
        retry_delay_seconds=120,
        timezone="America/New_York",
        start_time="09:00",
        end_time="17:00",
    )
    assert dispatcher.tick().dialled == 1
    clock.advance(1)
    dispatcher.tick()
    clock.advance(180)
    assert dispatcher.tick().dialled == 0
    assert batch_of(client, tenant, batch["id"])["next_dial_at"] == "2026-11-24T14:00:00Z"
    clock.set(datetime(2026, 11, 24, 14, 0, tzinfo=UTC))
    assert dispatcher.tick().dialled == 1


def test_one_budget_per_call_whatever_the_outcomes_and_per_row_overrides(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch = start(
        client,
        tenant,
        [
            {"phone_number": number(0, "0003")},
            {"phone_number": number(0, "0002"), "max_retries": 0},
            {"phone_number": number(0, "0004")},
        ],
        max_retry_attempts=1,
        retry_delay_seconds=0,
        retry_on=["failed", "no_answer"],
    )
    run_until_done(dispatcher, clock, client, tenant, batch["id"])
    attempts = {c["to"]: c["attempts"] for c in calls_of(client, tenant, batch["id"])}
    assert attempts == {number(0, "0003"): 2, number(0, "0002"): 1, number(0, "0004"): 1}
    assert len(ledger(runtime)) == 4


def test_retrying_a_finished_batch_requeues_failed_busy_and_unanswered_calls(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    rows = [{"phone_number": number(0, s)} for s in ("0001", "0002", "0003", "0004")] + [
        {"phone_number": number(1)}
    ]
    batch = start(client, tenant, rows)
    run_until_done(dispatcher, clock, client, tenant, batch["id"])
    response = client.post(f"/v1/batches/{batch['id']}/retry", headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    assert response.json()["counters"]["queued"] == 3
    done = run_until_done(dispatcher, clock, client, tenant, batch["id"])
    assert done["counters"]["completed"] == 1
    assert len(ledger(runtime)) == 8


def test_a_batch_that_is_not_finished_or_was_canceled_cannot_be_retried(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    batch = start(client, tenant, [{"phone_number": number(0, "0001")}])
    assert client.post(f"/v1/batches/{batch['id']}/retry", headers=tenant.headers).status_code == 409
    client.post(f"/v1/batches/{batch['id']}/cancel", headers=tenant.headers)
    response = client.post(f"/v1/batches/{batch['id']}/retry", headers=tenant.headers)
    assert response.status_code == 409
    assert "canceled" in response.text
