"""The outbox: every call that a transition moves queues its events, bulk moves included, whatever the
session held before the move."""

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from batchcall.calls import transitions
from batchcall.db import unit_of_work
from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.models import Call, CallStatus, WebhookDelivery
from batchcall.runtime import Runtime
from tests.dialling import number, run_until_done, start
from tests.support import Tenant, add_rows, create_batch


def subscribe(client: TestClient, tenant: Tenant, events: list[str]) -> None:
    response = client.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/in", "events": events}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text


def queued(runtime: Runtime, event_type: str) -> list[dict[str, Any]]:
    """The payloads of the deliveries queued for ``event_type``."""
    with runtime.sessions() as session:
        query = select(WebhookDelivery.payload).where(WebhookDelivery.event_type == event_type)
        return list(session.scalars(query))


def test_a_bulk_move_queues_one_event_per_call_it_changed_with_the_status_it_left(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    subscribe(client, tenant, ["call.canceled"])
    batch = create_batch(client, tenant)
    later = (clock.now() + timedelta(days=1)).isoformat()
    rows = [{"phone_number": number(i)} for i in range(3)]
    rows += [{"phone_number": number(i), "scheduled_time": later} for i in range(3, 5)]
    add_rows(client, tenant, batch["id"], rows)
    assert client.post(f"/v1/batches/{batch['id']}/cancel", headers=tenant.headers).status_code == 200
    events = queued(runtime, "call.canceled")
    assert len(events) == 5
    assert len({event["data"]["id"] for event in events}) == 5
    left = sorted(event["data"]["previous_status"] for event in events)
    assert left == ["queued", "queued", "queued", "scheduled", "scheduled"]


def test_a_bulk_move_reports_the_rows_it_changed_not_what_the_session_remembered(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    """A session that loaded the calls before another change to their rows still reports every call the
    bulk move changed, with the status its row had."""
    subscribe(client, tenant, ["call.canceled"])
    batch = create_batch(client, tenant)
    add_rows(client, tenant, batch["id"], [{"phone_number": number(i)} for i in range(3)])
    with unit_of_work(runtime.sessions) as session:
        in_batch = Call.batch_id == batch["id"]
        session.execute(update(Call).where(in_batch).values(status=CallStatus.COMPLETED))
        remembered = list(session.scalars(select(Call).where(in_batch)))
        assert {call.status for call in remembered} == {CallStatus.COMPLETED}
        # Behind the session's back, as another writer would: one call waits again.
        back = update(Call).where(Call.id == remembered[0].id).values(status=CallStatus.QUEUED)
        session.execute(back.execution_options(synchronize_session=False))
        assert transitions.cancel_waiting(session, batch["id"], clock.now()) == 1
    [event] = queued(runtime, "call.canceled")
    assert event["data"]["id"] == remembered[0].id
    assert event["data"]["previous_status"] == "queued"


def test_a_retried_batch_queues_one_event_per_call_put_back_in_the_queue(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    subscribe(client, tenant, ["call.status_changed"])
    rows = [{"phone_number": number(0, suffix)} for suffix in ("0001", "0002", "0003")]
    rows.append({"phone_number": number(3)})
    batch = start(client, tenant, rows)
    run_until_done(dispatcher, clock, client, tenant, batch["id"])
    assert client.post(f"/v1/batches/{batch['id']}/retry", headers=tenant.headers).status_code == 200
    requeued = [e for e in queued(runtime, "call.status_changed") if e["data"]["status"] == "queued"]
    assert sorted(e["data"]["previous_status"] for e in requeued) == ["busy", "failed", "no_answer"]


def test_dials_the_provider_took_queue_one_ringing_event_each(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher
) -> None:
    subscribe(client, tenant, ["call.status_changed"])
    start(client, tenant, [{"phone_number": number(i)} for i in range(4)])
    assert dispatcher.tick().dialled == 4
    ringing = [e for e in queued(runtime, "call.status_changed") if e["data"]["status"] == "ringing"]
    assert len(ringing) == 4
    assert {e["data"]["previous_status"] for e in ringing} == {"dialing"}
