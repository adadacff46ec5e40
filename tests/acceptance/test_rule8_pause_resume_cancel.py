"""SPEC 4, rule 8: "Pause stops new dials within a second; calls in flight finish. Resume continues.
Cancel marks every call not yet started `canceled`."

How a claim is sized so that a pause takes hold within a second is tests/dispatcher/test_claim_size.py."""

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialling import ledger, number, run_until_done, start
from tests.support import Tenant, batch_of


def test_pause_stops_new_dials_and_resume_continues(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch = start(client, tenant, [{"phone_number": number(i)} for i in range(6)], max_concurrent_calls=2)
    assert dispatcher.tick().dialled == 2
    assert client.post(f"/v1/batches/{batch['id']}/pause", headers=tenant.headers).status_code == 200
    clock.advance(1)
    tick = dispatcher.tick()
    assert tick.dialled == 0
    assert tick.ended == 2
    paused = batch_of(client, tenant, batch["id"])
    assert paused["status"] == "paused"
    assert paused["counters"]["completed"] == 2
    assert paused["counters"]["queued"] == 4
    clock.advance(60)
    assert dispatcher.tick().dialled == 0
    assert client.post(f"/v1/batches/{batch['id']}/resume", headers=tenant.headers).status_code == 200
    done = run_until_done(dispatcher, clock, client, tenant, batch["id"])
    assert done["counters"]["completed"] == 6
    assert len(ledger(runtime)) == 6


def test_cancel_ends_every_call_not_started_and_lets_the_rest_finish(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch = start(client, tenant, [{"phone_number": number(i)} for i in range(5)], max_concurrent_calls=2)
    dispatcher.tick()
    assert client.post(f"/v1/batches/{batch['id']}/cancel", headers=tenant.headers).status_code == 200
    clock.advance(1)
    dispatcher.tick()
    dispatcher.tick()
    done = batch_of(client, tenant, batch["id"])
    assert done["status"] == "canceled"
    assert done["counters"]["canceled"] == 3
    assert done["counters"]["completed"] == 2
    assert len(ledger(runtime)) == 2
