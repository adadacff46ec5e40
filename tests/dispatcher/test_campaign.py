"""Rotation, the circuit breaker, batch start and end times, and provider faults."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.providers.base import (
    DialRequest,
    NoStatus,
    ProviderRejected,
    ProviderUnavailable,
    StatusEvent,
    Verification,
    VoicemailMessage,
)
from batchcall.providers.simulated.provider import SimulatedProvider
from batchcall.runtime import Runtime
from tests.dialling import ledger, number, run_until_done, start
from tests.support import Tenant, batch_of, calls_of, register_numbers

POOL = ["+12125550100", "+12125550101", "+12125550102"]


def _callers(client: TestClient, tenant: Tenant, batch_id: str) -> list[str]:
    return [c["from"] for c in sorted(calls_of(client, tenant, batch_id), key=lambda c: c["row_number"])]


def test_round_robin_takes_the_pool_in_turn(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    register_numbers(client, tenant, *POOL)
    batch = start(
        client,
        tenant,
        [{"phone_number": number(i)} for i in range(5)],
        from_numbers=POOL,
        rotation="round_robin",
    )
    dispatcher.tick()
    assert _callers(client, tenant, batch["id"]) == [*POOL, *POOL[:2]]


def test_sequential_uses_each_caller_id_until_its_cap(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    register_numbers(client, tenant, POOL[0], daily_cap=2)
    register_numbers(client, tenant, *POOL[1:])
    batch = start(
        client,
        tenant,
        [{"phone_number": number(i)} for i in range(4)],
        from_numbers=POOL,
        rotation="sequential",
    )
    dispatcher.tick()
    assert _callers(client, tenant, batch["id"]) == [POOL[0], POOL[0], POOL[1], POOL[1]]


def test_random_stays_in_the_pool(client: TestClient, tenant: Tenant, dispatcher: Dispatcher) -> None:
    register_numbers(client, tenant, *POOL)
    batch = start(
        client,
        tenant,
        [{"phone_number": number(i)} for i in range(12)],
        from_numbers=POOL,
        max_concurrent_calls=12,
    )
    dispatcher.tick()
    assert set(_callers(client, tenant, batch["id"])) <= set(POOL)


def test_the_circuit_breaker_pauses_a_failing_batch_and_says_why(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    rows = [{"phone_number": f"+1212{555 + i:03d}0003"} for i in range(11)] + [
        {"phone_number": number(i)} for i in range(20)
    ]
    batch = start(client, tenant, rows, max_concurrent_calls=11)
    dispatcher.tick()
    clock.advance(1)
    tick = dispatcher.tick()
    assert tick.dialled == 0
    paused = batch_of(client, tenant, batch["id"])
    assert paused["status"] == "paused"
    assert "11 of the last 11 attempts failed" in paused["status_reason"]
    assert len(ledger(runtime)) == 11


def test_the_breaker_holds_while_failures_are_at_most_half(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    rows = [{"phone_number": f"+1212{555 + i:03d}0003"} for i in range(10)] + [
        {"phone_number": number(i)} for i in range(10)
    ]
    batch = start(client, tenant, rows, max_concurrent_calls=20)
    done = run_until_done(dispatcher, clock, client, tenant, batch["id"])
    assert done["counters"]["failed"] == 10


def _by_design(ending: str, count: int) -> list[dict[str, str]]:
    """Rows of ``count`` distinct New York numbers the simulated provider answers by ``ending``."""
    return [{"phone_number": f"+1212{555 + i:03d}{ending}"} for i in range(count)]


def test_retries_of_numbers_that_fail_by_design_do_not_trip_the_breaker(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    # 6 of 50 numbers fail every time; their 18 retries end after every healthy call has completed, so
    # the last 20 attempts are almost all failures, though the provider serves everyone else.
    rows = [{"phone_number": number(i)} for i in range(44)] + _by_design("0003", 6)
    batch = start(
        client,
        tenant,
        rows,
        max_concurrent_calls=10,
        max_retry_attempts=3,
        retry_delay_seconds=30,
        retry_on=["failed", "busy", "no_answer"],
    )
    done = run_until_done(dispatcher, clock, client, tenant, batch["id"])
    assert (done["counters"]["completed"], done["counters"]["failed"]) == (44, 6)
    assert len(ledger(runtime)) == 44 + 6 * 4


def test_first_attempts_that_mostly_fail_still_trip_the_breaker(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    rows = _by_design("0003", 15) + [{"phone_number": number(i)} for i in range(10)]
    batch = start(
        client,
        tenant,
        rows,
        max_concurrent_calls=20,
        max_retry_attempts=3,
        retry_delay_seconds=30,
        retry_on=["failed"],
    )
    dispatcher.tick()
    clock.advance(1)
    dispatcher.tick()
    paused = batch_of(client, tenant, batch["id"])
    assert paused["status"] == "paused"
    assert "15 of the last 20 attempts failed" in paused["status_reason"]
    assert "first attempts and retries of numbers that had not failed" in paused["status_reason"]
    assert (paused["waiting_reason"], paused["waiting_detail"]) == ("breaker", paused["status_reason"])
    assert len(ledger(runtime)) == 20


def test_failed_retries_of_numbers_that_had_not_failed_trip_the_breaker(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    # The first attempts go unanswered; when their retries are due the provider refuses every dial.
    provider = FlakyProvider(SimulatedProvider(runtime.settings, clock), [])
    dispatcher = Dispatcher(runtime, provider=provider, worker_id="w")
    batch = start(
        client,
        tenant,
        _by_design("0002", 12),
        max_concurrent_calls=12,
        max_retry_attempts=2,
        retry_delay_seconds=30,
        retry_on=["no_answer", "failed"],
    )
    dispatcher.tick()
    clock.advance(1)
    dispatcher.tick()
    assert batch_of(client, tenant, batch["id"])["status"] == "active"
    provider.faults = [ProviderRejected("account suspended") for _ in range(12)]
    clock.advance(30)
    dispatcher.tick()
    paused = batch_of(client, tenant, batch["id"])
    assert paused["status"] == "paused"
    assert "12 of the last 20 attempts failed" in paused["status_reason"]


def test_a_scheduled_batch_starts_at_its_time(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch = start(
        client,
        tenant,
        [{"phone_number": number(1)}],
        schedule="scheduled",
        scheduled_at="2026-11-23T18:00:00Z",
    )
    assert batch_of(client, tenant, batch["id"])["status"] == "scheduled"
    assert dispatcher.tick().dialled == 0
    clock.set(datetime(2026, 11, 23, 18, 0, tzinfo=UTC))
    assert dispatcher.tick().dialled == 1
    assert batch_of(client, tenant, batch["id"])["status"] == "active"


def test_a_row_scheduled_later_waits_for_its_time(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    start(client, tenant, [{"phone_number": number(1), "scheduled_time": "2026-11-23T17:30:00Z"}])
    assert dispatcher.tick().dialled == 0
    clock.set(datetime(2026, 11, 23, 17, 30, tzinfo=UTC))
    assert dispatcher.tick().dialled == 1


def test_calls_not_placed_by_the_batch_end_expire(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch = start(
        client,
        tenant,
        [{"phone_number": number(i)} for i in range(3)],
        max_concurrent_calls=1,
        ends_at="2026-11-23T17:00:00.500000Z",
        retry_on=[],
    )
    dispatcher.tick()
    clock.advance(1)
    dispatcher.tick()
    dispatcher.tick()
    done = batch_of(client, tenant, batch["id"])
    assert done["status"] == "completed"
    assert (done["counters"]["completed"], done["counters"]["expired"]) == (1, 2)


class FlakyProvider:
    """The simulated provider, with faults on the first dials."""

    def __init__(self, inner: SimulatedProvider, faults: list[Exception]) -> None:
        self.inner = inner
        self.name = inner.name
        self.faults = faults

    def start_call(self, request: DialRequest) -> str:
        if self.faults:
            raise self.faults.pop(0)
        return self.inner.start_call(request)

    def end_call(self, provider_call_id: str) -> None:
        self.inner.end_call(provider_call_id)

    def leave_message(self, provider_call_id: str, message: VoicemailMessage) -> None:
        self.inner.leave_message(provider_call_id, message)

    def fetch_status(self, provider_call_id: str) -> StatusEvent:
        return self.inner.fetch_status(provider_call_id)

    def lookup(self, attempt_ids: Sequence[str]) -> Mapping[str, StatusEvent | NoStatus]:
        return self.inner.lookup(attempt_ids)

    def poll_events(self) -> Sequence[StatusEvent]:
        return self.inner.poll_events()

    def parse_callback(self, headers: Mapping[str, str], body: bytes, url: str = "") -> Sequence[StatusEvent]:
        return self.inner.parse_callback(headers, body, url)

    def verify(self, caller_ids: Sequence[str]) -> Verification:
        return self.inner.verify(caller_ids)


def test_a_temporary_fault_waits_and_spends_no_attempt(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    provider = FlakyProvider(SimulatedProvider(runtime.settings, clock), [ProviderUnavailable("down", 30)])
    dispatcher = Dispatcher(runtime, provider=provider, worker_id="w")
    batch = start(client, tenant, [{"phone_number": number(1)}])
    dispatcher.tick()
    call = calls_of(client, tenant, batch["id"])[0]
    assert (call["status"], call["attempts"], call["next_attempt_at"]) == (
        "queued",
        0,
        "2026-11-23T17:00:30Z",
    )
    clock.advance(29)
    assert dispatcher.tick().dialled == 0
    clock.advance(1)
    assert dispatcher.tick().dialled == 1
    run_until_done(dispatcher, clock, client, tenant, batch["id"])
    assert calls_of(client, tenant, batch["id"])[0]["attempts"] == 1


def test_a_permanent_fault_ends_the_attempt_with_the_reason(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    provider = FlakyProvider(
        SimulatedProvider(runtime.settings, clock), [ProviderRejected("invalid caller id")]
    )
    dispatcher = Dispatcher(runtime, provider=provider, worker_id="w")
    batch = start(client, tenant, [{"phone_number": number(1)}], retry_on=[])
    done = run_until_done(dispatcher, clock, client, tenant, batch["id"])
    assert done["counters"]["failed"] == 1
    call = calls_of(client, tenant, batch["id"])[0]
    attempt = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()["attempts"][0]
    assert attempt["error"] == "the provider refused the call: invalid caller id"
    assert ledger(runtime) == []
