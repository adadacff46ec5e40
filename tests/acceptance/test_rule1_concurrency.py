"""SPEC 4, rule 1: "In-flight calls of a batch never exceed `max_concurrent_calls`, across all workers." """

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialling import ledger, number, start
from tests.support import Tenant, batch_of


def test_in_flight_calls_never_exceed_the_cap_across_workers(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    batch = start(client, tenant, [{"phone_number": number(i)} for i in range(23)], max_concurrent_calls=4)
    workers = [Dispatcher(runtime, worker_id=f"worker-{n}") for n in range(3)]
    seen_in_flight = []
    for _ in range(40):
        for worker in workers:
            worker.tick()
            counters = batch_of(client, tenant, batch["id"])["counters"]
            seen_in_flight.append(counters["in_progress"])
            assert counters["in_progress"] <= 4
        clock.advance(0.01)
    final = batch_of(client, tenant, batch["id"])
    assert final["status"] == "completed"
    assert max(seen_in_flight) == 4
    assert len(ledger(runtime)) == 23


def test_a_claim_takes_no_more_than_the_free_slots(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    batch = start(client, tenant, [{"phone_number": number(i)} for i in range(10)], max_concurrent_calls=3)
    assert dispatcher.tick().dialled == 3
    assert dispatcher.tick().dialled == 0
    assert batch_of(client, tenant, batch["id"])["counters"]["in_progress"] == 3
