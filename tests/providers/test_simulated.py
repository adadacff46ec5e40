"""The simulated provider of SPEC section 7."""

import json
import multiprocessing
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import orjson
import pytest

from batchcall.config import Settings
from batchcall.kit.clock import ManualClock
from batchcall.providers.base import CallbackForged, DialRequest, ProviderRejected
from batchcall.providers.registry import create
from batchcall.providers.simulated.callback import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from batchcall.providers.simulated.config import SimulatedSettings
from batchcall.providers.simulated.provider import CALLBACK_KEY, SimulatedCall, SimulatedProvider
from batchcall.runtime import Runtime
from tests.conftest import START


def _request(to: str, attempt: str = "a-1") -> DialRequest:
    return DialRequest("c-1", attempt, "phone", to, "+12125550100", "hello", "w-1")


def _provider(
    tmp_path: Path, clock: ManualClock, call_seconds: float = 20.0, speed: float = 1.0
) -> SimulatedProvider:
    own = SimulatedSettings(ledger=str(tmp_path / "ledger.jsonl"), call_seconds=call_seconds, speed=speed)
    return SimulatedProvider(Settings(simulated=own), clock)


@pytest.mark.parametrize(
    ("suffix", "outcome", "opted_out"),
    [
        ("0001", "busy", False),
        ("0002", "no_answer", False),
        ("0003", "failed", False),
        ("0004", "voicemail", False),
        ("0005", "completed", True),
        ("1234", "completed", False),
    ],
)
def test_outcome_follows_the_last_four_digits(
    tmp_path: Path, suffix: str, outcome: str, opted_out: bool
) -> None:
    clock = ManualClock(START)
    provider = _provider(tmp_path, clock, call_seconds=20, speed=4)
    call_id = provider.start_call(_request(f"+1212555{suffix}"))
    assert provider.poll_events() == []
    clock.advance(4.999)
    assert provider.poll_events() == []
    clock.advance(0.001)
    (event,) = provider.poll_events()
    assert (event.provider_call_id, event.status, event.opted_out) == (call_id, outcome, opted_out)
    assert event.ended_at == START + timedelta(seconds=5)


def test_every_dial_is_a_ledger_line(tmp_path: Path) -> None:
    provider = _provider(tmp_path, ManualClock(START), call_seconds=20, speed=1)
    provider.start_call(_request("+12125550002", "a-9"))
    (line,) = [json.loads(x) for x in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert line == {
        "call_id": "c-1",
        "attempt_id": "a-9",
        "to": "+12125550002",
        "from": "+12125550100",
        "started_at": "2026-11-23T17:00:00+00:00",
        "ended_at": "2026-11-23T17:00:20+00:00",
        "outcome": "no_answer",
    }


def test_any_process_can_tell_a_calls_status_from_its_id(tmp_path: Path) -> None:
    clock = ManualClock(START)
    call_id = _provider(tmp_path, clock).start_call(_request("+12125550001"))
    stranger = _provider(tmp_path, clock)
    assert stranger.fetch_status(call_id).status == "in_progress"
    clock.advance(20)
    final = stranger.fetch_status(call_id)
    assert (final.status, final.attempt_id) == ("busy", "a-1")
    assert stranger.poll_events() == []
    with pytest.raises(ProviderRejected):
        stranger.fetch_status("twilio-CA123")


def test_ending_a_call_early_ends_it_now_once(tmp_path: Path) -> None:
    clock = ManualClock(START)
    provider = _provider(tmp_path, clock)
    call_id = provider.start_call(_request("+12125551234"))
    clock.advance(3)
    provider.end_call(call_id)
    (early,) = provider.poll_events()
    assert early.ended_at == START + timedelta(seconds=3)
    clock.advance(30)
    (late,) = provider.poll_events()
    assert late.event_id == early.event_id


def test_a_signed_callback_carries_its_event_whole(tmp_path: Path) -> None:
    clock = ManualClock(START)
    provider = _provider(tmp_path, clock)
    call_id = provider.start_call(_request("+12125550005"))
    clock.advance(3)
    provider.end_call(call_id)
    (early,) = provider.poll_events()
    headers, body = provider.signed_callback(early)
    # Headers arrive in whatever case the HTTP stack hands them over.
    assert provider.parse_callback({name.lower(): value for name, value in headers.items()}, body) == [early]
    assert (early.status, early.opted_out) == ("completed", True)
    assert early.ended_at == START + timedelta(seconds=3)


def test_a_callback_is_checked_before_it_is_read(tmp_path: Path) -> None:
    clock = ManualClock(START)
    provider = _provider(tmp_path, clock)
    event = provider.fetch_status(provider.start_call(_request("+12125550003")))
    headers, body = provider.signed_callback(event)
    refusals = {
        "unsigned": ({}, body),
        "signature does not match": (headers, body.replace(b"in_progress", b"completed")),
        "not a time": ({**headers, TIMESTAMP_HEADER: "1e9"}, body),
    }
    for reason, (sent_headers, sent_body) in refusals.items():
        with pytest.raises(CallbackForged, match=reason):
            provider.parse_callback(sent_headers, sent_body)
    with pytest.raises(CallbackForged, match="signature does not match"):
        _provider(tmp_path, clock).parse_callback(headers, body)
    clock.advance(Settings().callback_tolerance_seconds)
    assert provider.parse_callback(headers, body) == [event]
    clock.advance(1)
    with pytest.raises(CallbackForged, match="stale"):
        provider.parse_callback(headers, body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[" * 2000 + b"]" * 2000, "not JSON"),
        (b"[]", "not a status event"),
        (b'{"provider_call_id": "sim:1:1:1234:a"}', "event_id"),
        (
            orjson.dumps(
                {
                    "event_id": "e",
                    "provider_call_id": "twilio-CA1",
                    "status": "busy",
                    "occurred_at": START.isoformat(),
                }
            ),
            "not a simulated call id",
        ),
    ],
)
def test_a_genuine_callback_that_is_not_an_event_is_rejected_not_forged(
    tmp_path: Path, body: bytes, reason: str
) -> None:
    provider = _provider(tmp_path, ManualClock(START))
    with pytest.raises(ProviderRejected, match=reason) as refused:
        provider.parse_callback(provider.sign(body), body)
    assert not isinstance(refused.value, CallbackForged)


def test_the_registry_gives_the_simulated_provider_the_installations_key(runtime: Runtime) -> None:
    provider = create("simulated", runtime)
    assert provider.name == "simulated"
    assert isinstance(provider, SimulatedProvider)
    headers = provider.sign(b"{}")
    key = runtime.installation_secret(CALLBACK_KEY)
    assert headers[SIGNATURE_HEADER] == signature(key, headers[TIMESTAMP_HEADER], b"{}")


def _read_key(settings: Settings, ready: Barrier, keys: "Queue[bytes]") -> None:
    runtime = Runtime.from_settings(settings, ManualClock(START))
    ready.wait()
    keys.put(runtime.installation_secret(CALLBACK_KEY))
    runtime.engine.dispose()


def test_every_process_over_one_database_shares_one_callback_key(runtime: Runtime) -> None:
    # Processes that start together all find no key and race to store theirs; one wins for all.
    ready = multiprocessing.Barrier(4)
    keys: Queue[bytes] = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=_read_key, args=(runtime.settings, ready, keys)) for _ in range(4)
    ]
    for process in processes:
        process.start()
    found = [keys.get(timeout=30) for _ in processes]
    for process in processes:
        process.join()
    assert len(set(found)) == 1
    assert len(found[0]) == 32
    assert runtime.installation_secret(CALLBACK_KEY) == found[0]
    # A callback one process signs is accepted by another.
    signer = create("simulated", runtime)
    assert isinstance(signer, SimulatedProvider)
    headers, body = signer.signed_callback(
        SimulatedCall("a-1", START, timedelta(seconds=20), "1234").status_at(START)
    )
    elsewhere = Runtime.from_settings(runtime.settings, ManualClock(START))
    try:
        assert len(create("simulated", elsewhere).parse_callback(headers, body)) == 1
    finally:
        elsewhere.engine.dispose()


def _dial_many(path: str, worker: int) -> None:
    provider = SimulatedProvider(Settings(simulated=SimulatedSettings(ledger=path)), ManualClock(START))
    for n in range(300):
        provider.start_call(_request("+12125551234", f"{worker}-{n}"))


def test_the_ledger_takes_lines_from_many_processes_whole(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.jsonl")
    processes = [multiprocessing.Process(target=_dial_many, args=(path, w)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert sorted(line["attempt_id"] for line in lines) == sorted(
        f"{w}-{n}" for w in range(4) for n in range(300)
    )


def test_a_callback_time_beyond_the_calendar_in_utc_is_not_an_event(tmp_path: Path) -> None:
    # Valid as written, but a minute before the first instant a datetime holds once moved to UTC.
    provider = _provider(tmp_path, ManualClock(START))
    event = {"event_id": "e", "provider_call_id": "sim:1:1:1234:a", "status": "busy"}
    body = orjson.dumps({**event, "occurred_at": "0001-01-01T00:00:00+00:01"})
    with pytest.raises(ProviderRejected, match="out of range once moved to UTC"):
        provider.parse_callback(provider.sign(body), body)
