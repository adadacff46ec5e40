"""The simulated provider of SPEC section 7."""

import json
import multiprocessing
from datetime import timedelta
from pathlib import Path

import pytest

from batchcall.config import Settings
from batchcall.kit.clock import ManualClock
from batchcall.providers.base import DialRequest, ProviderRejected
from batchcall.providers.registry import create
from batchcall.providers.simulated.provider import SimulatedProvider
from tests.conftest import START


def _request(to: str, attempt: str = "a-1") -> DialRequest:
    return DialRequest("c-1", attempt, "phone", to, "+12125550100", "hello", "w-1")


def _provider(tmp_path: Path, clock: ManualClock, **settings: object) -> SimulatedProvider:
    values: dict[str, object] = {"sim_ledger": str(tmp_path / "ledger.jsonl"), **settings}
    return SimulatedProvider(Settings(**values), clock)  # type: ignore[arg-type]


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
    provider = _provider(tmp_path, clock, sim_call_seconds=20, sim_speed=4)
    call_id = provider.start_call(_request(f"+1212555{suffix}"))
    assert provider.poll_events() == []
    clock.advance(4.999)
    assert provider.poll_events() == []
    clock.advance(0.001)
    (event,) = provider.poll_events()
    assert (event.provider_call_id, event.status, event.opted_out) == (call_id, outcome, opted_out)
    assert event.ended_at == START + timedelta(seconds=5)


def test_every_dial_is_a_ledger_line(tmp_path: Path) -> None:
    provider = _provider(tmp_path, ManualClock(START), sim_call_seconds=20, sim_speed=1)
    provider.start_call(_request("+12125550002", "a-9"))
    (line,) = [json.loads(x) for x in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert line == {
        "call_id": "c-1",
        "attempt_id": "a-9",
        "to": "+12125550002",
        "from": "+12125550100",
        "started_at": "2026-11-23T15:00:00+00:00",
        "ended_at": "2026-11-23T15:00:20+00:00",
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


def test_a_callback_carries_the_status_the_id_implies(tmp_path: Path) -> None:
    clock = ManualClock(START)
    provider = _provider(tmp_path, clock)
    call_id = provider.start_call(_request("+12125550003"))
    clock.advance(60)
    body = json.dumps({"provider_call_id": call_id, "status": "completed"}).encode()
    (event,) = provider.parse_callback({}, body)
    assert event.status == "failed"
    with pytest.raises(ProviderRejected):
        provider.parse_callback({}, b"not json")


def test_the_registry_knows_the_simulated_provider() -> None:
    assert create("simulated", Settings(), ManualClock(START)).name == "simulated"


def _dial_many(path: str, worker: int) -> None:
    provider = SimulatedProvider(Settings(sim_ledger=path), ManualClock(START))
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
