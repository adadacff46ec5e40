"""Provider callbacks over HTTP (dispatcher.api): verified before they are read, then the same path as every
status event."""

from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.models import ProviderEvent
from batchcall.providers import registry
from batchcall.providers.simulated.provider import CALLBACK_KEY, SimulatedProvider
from batchcall.runtime import Runtime
from tests.support import Tenant, add_rows, calls_of, create_batch

EVENTS = "/v1/providers/simulated/events"


def _placed(client: TestClient, tenant: Tenant, runtime: Runtime, number: str) -> dict[str, Any]:
    """A call placed by a worker that never hears back, with its first attempt."""
    batch = create_batch(client, tenant, schedule="immediate")
    add_rows(client, tenant, batch["id"], [{"phone_number": number}])
    Dispatcher(runtime, worker_id="deaf").tick()
    call = calls_of(client, tenant, batch["id"])[0]
    detail: dict[str, Any] = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()
    return detail


def _simulated(runtime: Runtime) -> SimulatedProvider:
    provider = registry.create("simulated", runtime)
    assert isinstance(provider, SimulatedProvider)
    return provider


def _stored_events(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(ProviderEvent)) or 0


def _forbidden(response: Any, reason: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "forbidden"
    assert reason in body["message"]


def test_an_unsigned_callback_forging_an_outcome_changes_nothing(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    placed = _placed(client, tenant, runtime, "+12125551234")
    (attempt,) = placed["attempts"]
    # The audit's attack: the attempt's own id under a made-up call id of length 0 that ends in the
    # opt-out suffix, so the call would end now as completed and its number go on the do-not-call list.
    started = attempt["provider_call_id"].split(":")[1]
    forged_id = f"sim:{started}:0:0005:{attempt['id']}"
    forged = {
        "event_id": f"{forged_id}:completed",
        "provider_call_id": forged_id,
        "status": "completed",
        "occurred_at": clock.now().isoformat(),
        "attempt_id": attempt["id"],
        "opted_out": True,
    }
    response = client.post(EVENTS, content=orjson.dumps(forged))
    _forbidden(response, "unsigned")
    after = client.get(f"/v1/calls/{placed['id']}", headers=tenant.headers).json()
    assert after["status"] == placed["status"] == "ringing"
    assert after["attempts"] == placed["attempts"]
    assert client.get("/v1/dnc", headers=tenant.headers).json()["data"] == []
    assert _stored_events(runtime) == 0


def test_a_signed_callback_ends_the_call_once(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    placed = _placed(client, tenant, runtime, "+12125550002")
    clock.advance(60)
    provider = _simulated(runtime)
    headers, body = provider.signed_callback(provider.fetch_status(placed["attempts"][0]["provider_call_id"]))
    first = client.post(EVENTS, content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 1, "new": 1, "duplicates": 0}
    again = client.post(EVENTS, content=body, headers=headers)
    assert again.json() == {"received": 1, "new": 0, "duplicates": 1}
    ended = client.get(f"/v1/calls/{placed['id']}", headers=tenant.headers).json()
    assert (ended["status"], ended["outcome"]) == ("no_answer", "no_answer")


def test_a_callback_signed_with_another_key_is_refused(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    placed = _placed(client, tenant, runtime, "+12125550005")
    clock.advance(60)
    # A simulated provider of another installation: same code, a key of its own.
    stranger = SimulatedProvider(runtime.settings, clock)
    headers, body = stranger.signed_callback(stranger.fetch_status(placed["attempts"][0]["provider_call_id"]))
    _forbidden(client.post(EVENTS, content=body, headers=headers), "signature does not match")
    assert client.get(f"/v1/calls/{placed['id']}", headers=tenant.headers).json()["status"] == "ringing"
    assert client.get("/v1/dnc", headers=tenant.headers).json()["data"] == []
    assert _stored_events(runtime) == 0


def test_a_callback_older_than_the_tolerance_is_refused(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    placed = _placed(client, tenant, runtime, "+12125550002")
    clock.advance(60)
    provider = _simulated(runtime)
    headers, body = provider.signed_callback(provider.fetch_status(placed["attempts"][0]["provider_call_id"]))
    clock.advance(runtime.settings.callback_tolerance_seconds + 1)
    _forbidden(client.post(EVENTS, content=body, headers=headers), "stale")
    assert _stored_events(runtime) == 0
    clock.advance(-1)
    assert client.post(EVENTS, content=body, headers=headers).status_code == 200


def test_a_callback_signed_ahead_of_the_clock_is_refused(runtime: Runtime, client: TestClient) -> None:
    clock = ManualClock(runtime.clock.now())
    key = runtime.installation_secret(CALLBACK_KEY)
    ahead = SimulatedProvider(runtime.settings, clock, callback_key=key)
    clock.advance(runtime.settings.callback_tolerance_seconds + 1)
    _forbidden(client.post(EVENTS, content=b"{}", headers=ahead.sign(b"{}")), "stale")


def test_a_signature_must_cover_the_body_it_came_with(client: TestClient, runtime: Runtime) -> None:
    headers = _simulated(runtime).sign(b'{"provider_call_id": "sim:1:1:1234:a"}')
    tampered = b'{"provider_call_id": "sim:1:0:0005:a"}'
    _forbidden(client.post(EVENTS, content=tampered, headers=headers), "signature does not match")
    _forbidden(client.post(EVENTS, content=b"{}", headers={**headers, "X-Batchcall-Timestamp": "x"}), "")


def test_deeply_nested_json_is_refused_as_forged_unless_signed(client: TestClient, runtime: Runtime) -> None:
    nested = b"[" * 2000 + b"]" * 2000
    _forbidden(client.post(EVENTS, content=nested), "unsigned")
    signed = client.post(EVENTS, content=nested, headers=_simulated(runtime).sign(nested))
    assert signed.status_code == 422, signed.text
    assert signed.json()["error"] == "invalid"


def test_signed_callbacks_that_are_not_simulated_events_are_invalid(
    client: TestClient, runtime: Runtime
) -> None:
    provider = _simulated(runtime)
    for body in (b"{", b"[]", b'{"provider_call_id": 5}', b"\xff\xfe", orjson.dumps({"status": "busy"})):
        answer = client.post(EVENTS, content=body, headers=provider.sign(body))
        assert answer.status_code == 422, (body, answer.text)
    event = {
        "event_id": "e",
        "provider_call_id": "nope",
        "status": "busy",
        "occurred_at": "2026-11-23T17:00Z",
    }
    unknown = orjson.dumps(event)
    answer = client.post(EVENTS, content=unknown, headers=provider.sign(unknown))
    assert answer.status_code == 422, answer.text
    assert "not a simulated call id" in answer.json()["message"]
    assert _stored_events(runtime) == 0


def test_a_callback_larger_than_any_callback_is_refused(client: TestClient, runtime: Runtime) -> None:
    body = b" " * (64 * 1024 + 1)
    assert client.post(EVENTS, content=body, headers=_simulated(runtime).sign(body)).status_code == 413

    def chunks() -> Any:
        # No Content-Length: the cap holds for a streamed body too.
        yield b" " * (48 * 1024)
        yield b" " * (48 * 1024)

    assert client.post(EVENTS, content=chunks()).status_code == 413


def test_callbacks_for_another_provider_are_not_found(client: TestClient) -> None:
    assert client.post("/v1/providers/twilio/events", content=b"{}").status_code == 404


def test_a_signed_callback_with_a_time_beyond_the_calendar_in_utc_is_invalid(
    client: TestClient, runtime: Runtime
) -> None:
    provider = _simulated(runtime)
    event = {"event_id": "e", "provider_call_id": "sim:1:1:1234:a", "status": "busy"}
    body = orjson.dumps({**event, "occurred_at": "0001-01-01T00:00:00+00:01"})
    answer = client.post(EVENTS, content=body, headers=provider.sign(body))
    assert answer.status_code == 422, answer.text
    assert "out of range once moved to UTC" in answer.json()["message"]
    assert _stored_events(runtime) == 0
