"""Rule 4: no attempt is started twice; a lapsed lease is reconciled with the provider, never redialled."""

from fastapi.testclient import TestClient

from batchcall import db
from batchcall.calls import service as calls
from batchcall.dispatcher import repository
from batchcall.dispatcher.claim import claim
from batchcall.dispatcher.loop import UNKNOWN_DIAL, Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dispatcher.conftest import ledger, number, start
from tests.support import Tenant, batch_of, calls_of


def test_a_dead_workers_calls_are_reconciled_by_provider_id_not_redialled(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    runtime.settings.lease_seconds = 30
    batch = start(
        client,
        tenant,
        [{"phone_number": number(i)} for i in range(3)] + [{"phone_number": number(0, "0002")}],
    )
    dead = Dispatcher(runtime, worker_id="dead")
    assert dead.tick().dialled == 4
    # The dead worker's events never arrive; the survivor knows nothing of its calls but their ids.
    survivor = Dispatcher(runtime, worker_id="survivor")
    clock.advance(29)
    assert survivor.tick().reconciled == 0
    assert batch_of(client, tenant, batch["id"])["counters"]["in_progress"] == 4
    clock.advance(1)
    tick = survivor.tick()
    assert tick.reconciled == 4
    assert tick.ended == 4
    survivor.tick()
    done = batch_of(client, tenant, batch["id"])
    assert done["status"] == "completed"
    assert done["counters"]["completed"] == 3
    assert done["counters"]["no_answer"] == 1
    attempts = [line["attempt_id"] for line in ledger(runtime)]
    assert len(attempts) == len(set(attempts)) == 4


def test_a_call_still_talking_when_its_lease_lapses_keeps_its_slot(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    runtime.settings.lease_seconds = 5
    runtime.settings.sim_speed = 1.0
    batch = start(
        client, tenant, [{"phone_number": number(1)}, {"phone_number": number(2)}], max_concurrent_calls=1
    )
    worker = Dispatcher(runtime, worker_id="w")
    assert worker.tick().dialled == 1
    clock.advance(6)
    other = Dispatcher(runtime, worker_id="other")
    tick = other.tick()
    assert tick.reconciled == 1
    assert tick.dialled == 0
    assert batch_of(client, tenant, batch["id"])["counters"]["in_progress"] == 1
    clock.advance(20)
    worker.tick()
    assert batch_of(client, tenant, batch["id"])["counters"]["completed"] == 1


def test_an_attempt_without_a_provider_id_ends_failed_and_is_not_redialled(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    runtime.settings.lease_seconds = 10
    batch = start(client, tenant, [{"phone_number": number(1)}], max_retry_attempts=3)
    crashed = Dispatcher(runtime, worker_id="crashed")
    # The worker claims and commits, then dies before the provider answers.
    with db.unit_of_work(runtime.sessions) as session:
        locked = repository.lock_batch(session, batch["id"], wait=False)
        assert locked is not None
        assert len(claim(session, locked, crashed.claimer, clock.now()).requests) == 1
    clock.advance(11)
    survivor = Dispatcher(runtime, worker_id="survivor")
    survivor.tick()
    survivor.tick()
    call = calls_of(client, tenant, batch["id"])[0]
    assert call["status"] == "failed"
    assert batch_of(client, tenant, batch["id"])["status"] == "completed"
    assert ledger(runtime) == []
    with runtime.sessions() as session:
        attempt = calls.attempts_of(session, calls.get(session, tenant.workspace_id, call["id"]))[0]
    assert attempt.error == UNKNOWN_DIAL
