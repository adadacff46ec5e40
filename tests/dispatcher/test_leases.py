"""Leases: a live worker's heartbeat renews its calls' leases on a thread of its own, through a database
outage, and no longer than ``unconfirmed_dial_timeout_seconds``; a dead worker's lapse and are recovered.
(What recovery must never do, dial an attempt twice, is SPEC 4 rule 4: tests/acceptance/test_rule4_*.)"""

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.models import Call
from batchcall.providers.base import StatusEvent
from batchcall.providers.simulated.provider import SimulatedProvider
from batchcall.runtime import Runtime
from batchcall.testing import database_outage
from tests.dialling import ledger, number, start
from tests.support import Tenant, batch_of, calls_of


def _lease_of(runtime: Runtime, call_id: str) -> tuple[str | None, datetime | None]:
    with runtime.sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        return call.lease_owner, call.lease_expires_at


def test_a_live_workers_heartbeat_keeps_its_calls_and_a_dead_workers_are_recovered_within_a_lease(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    runtime.settings.lease_seconds = 15
    runtime.settings.simulated.speed = 0.5  # calls of 40 s: more than two leases
    kept = start(client, tenant, [{"phone_number": number(1)}, {"phone_number": number(2)}])
    live = Dispatcher(runtime, worker_id="live")
    assert live.tick().dialled == 2
    lost = start(client, tenant, [{"phone_number": number(3)}])
    dead = Dispatcher(runtime, worker_id="dead")
    assert dead.tick().dialled == 1
    survivor = Dispatcher(runtime, worker_id="survivor")
    reconciled = []
    for _ in range(7):
        clock.advance(5)
        live.heartbeat.beat()
        survivor.heartbeat.beat()
        reconciled.append(survivor.tick().reconciled)
    # The dead worker's call is asked about once a lease, from the moment its lease ran out (15 s); the
    # survivor's check holds it only until the next, as no ending of it will come to the survivor.
    assert reconciled == [0, 0, 1, 0, 0, 1, 0]
    live_calls = calls_of(client, tenant, kept["id"])
    assert {_lease_of(runtime, call["id"])[0] for call in live_calls} == {"live"}
    clock.advance(10)
    live.tick()
    survivor.tick()
    assert batch_of(client, tenant, kept["id"])["counters"]["completed"] == 2
    assert batch_of(client, tenant, lost["id"])["counters"]["completed"] == 1
    assert len(ledger(runtime)) == 3


class LosesItsEndings(SimulatedProvider):
    """A provider whose final callbacks never arrive: only asking it tells how its calls ended."""

    def poll_events(self) -> list[StatusEvent]:
        super().poll_events()
        return []


def test_a_call_whose_ending_never_comes_is_held_no_longer_than_the_unconfirmed_timeout(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    runtime.settings.lease_seconds = 15
    runtime.settings.unconfirmed_dial_timeout_seconds = 60
    batch = start(client, tenant, [{"phone_number": number(1)}])
    worker = Dispatcher(runtime, LosesItsEndings(runtime.settings, runtime.clock), worker_id="w")
    assert worker.tick().dialled == 1
    reconciled = []
    for _ in range(16):
        clock.advance(5)
        worker.heartbeat.beat()
        reconciled.append(worker.tick().reconciled)
    # Renewed for the first minute; then its lease lapses (at 70 s) and the provider is asked: it ended.
    assert reconciled[:13] == [0] * 13
    assert sum(reconciled) == 1
    assert batch_of(client, tenant, batch["id"])["counters"]["completed"] == 1


def _eventually(condition: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.01)
    return True


def test_the_heartbeat_beats_on_its_own_thread_through_an_outage_and_stops_with_the_dispatcher(
    client: TestClient,
    tenant: Tenant,
    runtime: Runtime,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime.settings.lease_seconds = 0.3  # a beat every 0.1 s
    runtime.settings.simulated.speed = 0.5
    batch = start(client, tenant, [{"phone_number": number(1)}])
    worker = Dispatcher(runtime, worker_id="w")
    assert worker.tick().dialled == 1
    call_id = calls_of(client, tenant, batch["id"])[0]["id"]
    worker.heartbeat.start()
    try:
        with database_outage(runtime):
            clock.advance(10)
            assert _eventually(lambda: "renewing leases failed" in caplog.text)
        assert _eventually(lambda: _lease_of(runtime, call_id) == ("w", clock.now() + timedelta(seconds=0.3)))
    finally:
        worker.heartbeat.stop()
    stop = threading.Event()
    stop.set()
    worker.run(stop)
    assert not [t for t in threading.enumerate() if t.name.startswith("batchcall-lease")]


def test_the_dispatcher_runs_its_heartbeat_while_it_runs(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    runtime.settings.lease_seconds = 0.3
    runtime.settings.simulated.speed = 0.5
    batch = start(client, tenant, [{"phone_number": number(1)}])
    worker = Dispatcher(runtime, worker_id="w")
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop,))
    loop.start()
    try:
        assert _eventually(lambda: bool(ledger(runtime)))
        call_id = calls_of(client, tenant, batch["id"])[0]["id"]
        dialled_at = clock.now()
        # The worker's own passes find nothing lapsed as long as the heartbeat renews it.
        clock.advance(0.2)
        assert _eventually(lambda: _lease_of(runtime, call_id)[1] == dialled_at + timedelta(seconds=0.5))
    finally:
        stop.set()
        loop.join()
    assert not [t for t in threading.enumerate() if t.name.startswith("batchcall-lease")]
