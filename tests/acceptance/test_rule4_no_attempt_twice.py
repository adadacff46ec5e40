"""SPEC 4, rule 4: "No attempt is started twice. A worker that dies mid-dial leaves a lease that expires;
the recovered attempt is reconciled with the provider by its provider id, never blindly redialled."

Here, for dials whose provider id was recorded; tests/acceptance/test_rule4_unrecorded_dials.py for those
whose worker died before it could record one."""

from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.providers.base import DialRequest
from batchcall.providers.simulated.provider import SimulatedProvider
from batchcall.runtime import Runtime
from batchcall.testing import database_outage
from tests.dialling import ledger, number, start
from tests.support import Tenant, batch_of


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
    runtime.settings.simulated.speed = 1.0
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


class DatabaseGoesAfterTheDial(SimulatedProvider):
    """Takes the dial; then the database goes away before the worker can record it."""

    def __init__(self, runtime: Runtime, outage: ExitStack) -> None:
        super().__init__(runtime.settings, runtime.clock)
        self.runtime = runtime
        self.outage = outage

    def start_call(self, request: DialRequest) -> str:
        provider_call_id = super().start_call(request)
        self.outage.enter_context(database_outage(self.runtime))
        return provider_call_id


def test_a_dial_the_worker_failed_to_record_is_left_to_lapse_and_be_reconciled(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    runtime.settings.lease_seconds = 15
    runtime.settings.simulated.speed = 0.5
    start(client, tenant, [{"phone_number": number(1)}])
    with ExitStack() as outage:
        worker = Dispatcher(runtime, DatabaseGoesAfterTheDial(runtime, outage), worker_id="w")
        with pytest.raises(OperationalError):
            worker.tick()
    assert len(ledger(runtime)) == 1
    survivor = Dispatcher(runtime, worker_id="survivor")
    for _ in range(2):
        clock.advance(5)
        worker.heartbeat.beat()
        assert survivor.tick().reconciled == 0
    clock.advance(5)
    worker.heartbeat.beat()
    assert survivor.tick().reconciled == 1
