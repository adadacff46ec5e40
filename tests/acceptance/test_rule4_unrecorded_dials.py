"""SPEC 4, rule 4: "No attempt is started twice. A worker that dies mid-dial leaves a lease that expires;
the recovered attempt is reconciled with the provider by its provider id, never blindly redialled."

Here for a dial whose provider id was never recorded: its worker died between placing it and storing
the provider's answer. It is reconciled by our attempt id, never blindly redialled, and never ended failed
on a guess: it ends with its true outcome, is dialled again if it never reached the provider, or ends
``unknown`` once nobody can tell for longer than ``unconfirmed_dial_timeout_seconds``."""

from collections import Counter
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from batchcall import db
from batchcall.batches import repository as batches
from batchcall.dispatcher import provider_events
from batchcall.dispatcher.claim import claim
from batchcall.dispatcher.loop import UNKNOWN_DIAL, Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.providers.base import DialRequest
from batchcall.providers.simulated.provider import SimulatedProvider
from batchcall.runtime import Runtime
from tests.dialling import ledger, number, run_until_done, start
from tests.support import Tenant, batch_of, calls_of


def _claim(runtime: Runtime, clock: ManualClock, batch_id: str, worker: Dispatcher) -> list[DialRequest]:
    """What a worker claims and commits before it dies."""
    with db.unit_of_work(runtime.sessions) as session:
        locked = batches.lock(session, batch_id, wait=False)
        assert locked is not None
        return claim(session, locked, worker.claimer, clock.now()).requests


def _crash_after_placing(
    runtime: Runtime, clock: ManualClock, batch_id: str
) -> tuple[SimulatedProvider, list[DialRequest]]:
    """A worker claims, the provider takes every dial, and the worker dies before recording a provider id."""
    provider = SimulatedProvider(runtime.settings, runtime.clock)
    requests = _claim(runtime, clock, batch_id, Dispatcher(runtime, provider, worker_id="crashed"))
    for request in requests:
        provider.start_call(request)
    return provider, requests


def _detail(client: TestClient, tenant: Tenant, call_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/calls/{call_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_placed_dials_whose_worker_died_end_with_their_true_outcome_and_are_not_redialled(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    rows = [{"phone_number": number(i)} for i in range(15)] + [
        {"phone_number": f"+1212{555 + i}0001"} for i in range(5)
    ]
    batch = start(
        client, tenant, rows, max_concurrent_calls=20, max_retry_attempts=2, retry_on=["failed", "no_answer"]
    )
    _, requests = _crash_after_placing(runtime, clock, batch["id"])
    assert len(requests) == 20
    clock.advance(runtime.settings.lease_seconds + 1)
    survivor = Dispatcher(runtime, worker_id="survivor")
    tick = survivor.tick()
    assert tick.reconciled == 20
    assert tick.ended == 20
    assert tick.dialled == 0
    done = run_until_done(survivor, clock, client, tenant, batch["id"])
    assert done["counters"]["completed"] == 15
    assert done["counters"]["busy"] == 5
    assert done["counters"]["failed"] == 0
    assert done["counters"]["total"] == sum(
        done["counters"][name] for name in ("completed", "busy", "failed", "unknown")
    )
    lines = ledger(runtime)
    assert Counter(line["attempt_id"] for line in lines) == Counter(r.attempt_id for r in requests)
    for call in calls_of(client, tenant, batch["id"]):
        (attempt,) = _detail(client, tenant, call["id"])["attempts"]
        assert attempt["provider_call_id"] is not None
        assert attempt["outcome"] == call["status"]


def test_a_dial_still_talking_is_held_with_its_provider_id_until_it_ends(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    runtime.settings.simulated.speed = 1.0  # a 20 s call, longer than the lease
    batch = start(client, tenant, [{"phone_number": number(1)}])
    _crash_after_placing(runtime, clock, batch["id"])
    clock.advance(runtime.settings.lease_seconds + 1)
    survivor = Dispatcher(runtime, worker_id="survivor")
    survivor.tick()
    (call,) = calls_of(client, tenant, batch["id"])
    assert call["status"] == "in_progress"
    assert _detail(client, tenant, call["id"])["attempts"][0]["provider_call_id"] is not None
    clock.advance(runtime.settings.lease_seconds)
    assert survivor.tick().ended == 1
    assert calls_of(client, tenant, batch["id"])[0]["status"] == "completed"
    assert len(ledger(runtime)) == 1


def test_without_a_ledger_the_provider_that_placed_a_dial_still_finds_it(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    runtime.settings.simulated.ledger = ""
    runtime.settings.simulated.speed = 1.0
    batch = start(client, tenant, [{"phone_number": number(1)}])
    worker = Dispatcher(runtime, worker_id="worker")
    # The worker placed the dial, but writing the provider's id failed; it lives on.
    for request in _claim(runtime, clock, batch["id"], worker):
        worker.provider.start_call(request)
    clock.advance(runtime.settings.lease_seconds + 1)
    assert worker.tick().reconciled == 1
    (call,) = calls_of(client, tenant, batch["id"])
    assert call["status"] == "in_progress"
    assert _detail(client, tenant, call["id"])["attempts"][0]["provider_call_id"] is not None
    clock.advance(runtime.settings.simulated.call_seconds)
    assert worker.tick().ended == 1
    assert calls_of(client, tenant, batch["id"])[0]["status"] == "completed"


def test_a_dial_that_never_reached_the_provider_is_dialled_again_without_spending_an_attempt(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    batch = start(client, tenant, [{"phone_number": number(1)}])
    (lost,) = _claim(runtime, clock, batch["id"], Dispatcher(runtime, worker_id="crashed"))
    clock.advance(runtime.settings.lease_seconds + 1)
    survivor = Dispatcher(runtime, worker_id="survivor")
    done = run_until_done(survivor, clock, client, tenant, batch["id"])
    assert done["counters"]["completed"] == 1
    (call,) = calls_of(client, tenant, batch["id"])
    assert call["attempts"] == 1
    (attempt,) = _detail(client, tenant, call["id"])["attempts"]
    assert attempt["id"] != lost.attempt_id
    assert [line["attempt_id"] for line in ledger(runtime)] == [attempt["id"]]


def test_a_dial_the_provider_cannot_tell_of_waits_for_a_late_callback(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    # No ledger, and the survivor did not place the call: it cannot tell.
    runtime.settings.simulated.ledger = ""
    batch = start(client, tenant, [{"phone_number": number(0, "0004")}])
    crashed, _ = _crash_after_placing(runtime, clock, batch["id"])
    clock.advance(runtime.settings.lease_seconds + 1)
    survivor = Dispatcher(runtime, worker_id="survivor")
    survivor.tick()
    clock.advance(3600)
    assert survivor.tick().dialled == 0
    assert batch_of(client, tenant, batch["id"])["counters"]["in_progress"] == 1
    # The provider's callback comes late, naming our attempt id.
    with db.unit_of_work(runtime.sessions) as session:
        assert provider_events.receive(session, crashed.name, crashed.poll_events(), clock.now()).ended == 1
    (call,) = calls_of(client, tenant, batch["id"])
    assert call["status"] == "voicemail"
    assert _detail(client, tenant, call["id"])["attempts"][0]["provider_call_id"] is not None


def test_a_dial_nobody_can_tell_of_ends_unknown_after_the_timeout_counted_and_not_retried(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    runtime.settings.simulated.ledger = ""
    endpoint = client.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hooks", "events": ["call.unknown"]},
        headers=tenant.headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    batch = start(
        client,
        tenant,
        [{"phone_number": number(1)}, {"phone_number": number(2)}],
        max_retry_attempts=3,
        retry_delay_seconds=0,
    )
    _crash_after_placing(runtime, clock, batch["id"])
    started = clock.now()
    clock.advance(runtime.settings.lease_seconds + 1)
    survivor = Dispatcher(runtime, worker_id="survivor")
    survivor.tick()
    clock.set(started + timedelta(seconds=runtime.settings.unconfirmed_dial_timeout_seconds - 1))
    survivor.tick()
    assert batch_of(client, tenant, batch["id"])["counters"]["in_progress"] == 2
    clock.advance(1)
    assert survivor.tick().ended == 2
    survivor.tick()
    done = batch_of(client, tenant, batch["id"])
    assert done["status"] == "completed"
    assert done["counters"]["unknown"] == 2
    assert done["counters"]["total"] == 2
    calls = calls_of(client, tenant, batch["id"])
    assert {(c["status"], c["outcome"], c["attempts"]) for c in calls} == {("unknown", "unknown", 1)}
    attempt = _detail(client, tenant, calls[0]["id"])["attempts"][0]
    assert attempt["outcome"] == "unknown"
    assert attempt["error"] == UNKNOWN_DIAL
    assert client.post(f"/v1/batches/{batch['id']}/retry", headers=tenant.headers).status_code == 409
    deliveries = client.get(
        f"/v1/webhooks/{endpoint.json()['id']}/deliveries", headers=tenant.headers
    ).json()["data"]
    assert sorted(d["payload"]["data"]["id"] for d in deliveries) == sorted(c["id"] for c in calls)
    assert {d["event_type"] for d in deliveries} == {"call.unknown"}


class FailingOnce(SimulatedProvider):
    """A provider whose first dial to ``number`` fails in a way no rule foresaw, before it places anything."""

    def __init__(self, runtime: Runtime, number: str) -> None:
        super().__init__(runtime.settings, runtime.clock)
        self.failing = number

    def start_call(self, request: DialRequest) -> str:
        if request.to == self.failing:
            self.failing = ""
            raise RuntimeError("a fault of the provider's code")
        return super().start_call(request)


def test_a_dial_that_failed_unforeseen_loses_none_of_the_others_and_is_reconciled(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    rows = [{"phone_number": number(i)} for i in range(5)]
    batch = start(client, tenant, rows, max_concurrent_calls=5)
    worker = Dispatcher(runtime, FailingOnce(runtime, number(2)), worker_id="w")
    assert worker.tick().dialled == 5
    assert len(ledger(runtime)) == 4
    done = run_until_done(worker, clock, client, tenant, batch["id"])
    assert done["counters"]["completed"] == 5
    assert {call["attempts"] for call in calls_of(client, tenant, batch["id"])} == {1}
    placed = Counter(line["attempt_id"] for line in ledger(runtime))
    assert len(placed) == 5
    assert set(placed.values()) == {1}
