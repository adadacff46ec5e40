"""The simulated provider of SPEC section 7: deterministic outcomes, a set call length, a shared ledger.

Everything about a simulated call follows from its provider id, which encodes the start instant, the
length and the last four digits dialled. Any process can therefore answer a status fetch for a call
another process placed, which is what lets a worker recover the calls of one that died.
"""

import heapq
import itertools
import json
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from batchcall.config import Settings
from batchcall.kit.clock import Clock
from batchcall.kit.ids import new_secret
from batchcall.models import CallStatus
from batchcall.providers.base import (
    DialRequest,
    NoStatus,
    ProviderRejected,
    StatusEvent,
    Verification,
    VoicemailMessage,
    status_event_id,
)
from batchcall.providers.simulated import callback

NAME = "simulated"
PREFIX = "sim"
# How a process ends when ``crash_after_dials`` says its time has come.
CRASH_EXIT_CODE = 75
# The installation secret the simulated provider signs its callbacks with.
CALLBACK_KEY = "simulated.callback_key"

# The last four digits dialled decide the outcome; every other number answers and completes.
OUTCOME_OF_SUFFIX: dict[str, CallStatus] = {
    "0001": CallStatus.BUSY,
    "0002": CallStatus.NO_ANSWER,
    "0003": CallStatus.FAILED,
    "0004": CallStatus.VOICEMAIL,
}
OPT_OUT_SUFFIX = "0005"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def outcome_of(suffix: str) -> tuple[CallStatus, bool]:
    """The outcome for a number ending in ``suffix`` and whether the person opts out."""
    return OUTCOME_OF_SUFFIX.get(suffix, CallStatus.COMPLETED), suffix == OPT_OUT_SUFFIX


def last_four_digits(to: str) -> str:
    digits = "".join(ch for ch in to if ch.isdigit())
    return digits[-4:]


@dataclass(frozen=True, slots=True)
class SimulatedCall:
    """What a simulated provider id says about its call."""

    attempt_id: str
    started_at: datetime
    length: timedelta
    suffix: str

    @property
    def ended_at(self) -> datetime:
        return self.started_at + self.length

    @property
    def provider_call_id(self) -> str:
        started_us = (self.started_at - EPOCH) // MICROSECOND
        length_us = self.length // MICROSECOND
        return f"{PREFIX}:{started_us}:{length_us}:{self.suffix}:{self.attempt_id}"

    @classmethod
    def decode(cls, provider_call_id: str) -> "SimulatedCall":
        parts = provider_call_id.split(":", 4)
        if len(parts) != 5 or parts[0] != PREFIX or not parts[1].isdigit() or not parts[2].isdigit():
            raise ProviderRejected(f"'{provider_call_id}' is not a simulated call id")
        started = EPOCH + int(parts[1]) * MICROSECOND
        return cls(parts[4], started, int(parts[2]) * MICROSECOND, parts[3])

    def status_at(self, now: datetime) -> StatusEvent:
        if now < self.ended_at:
            return StatusEvent(
                event_id=status_event_id(self.provider_call_id, CallStatus.IN_PROGRESS),
                provider_call_id=self.provider_call_id,
                status=CallStatus.IN_PROGRESS,
                occurred_at=self.started_at,
                attempt_id=self.attempt_id,
            )
        return self.final_event(self.ended_at)

    def final_event(self, ended_at: datetime) -> StatusEvent:
        status, opted_out = outcome_of(self.suffix)
        answered = status in (CallStatus.COMPLETED, CallStatus.VOICEMAIL)
        return StatusEvent(
            event_id=status_event_id(self.provider_call_id, status),
            provider_call_id=self.provider_call_id,
            status=status,
            occurred_at=ended_at,
            attempt_id=self.attempt_id,
            answered_at=self.started_at if answered else None,
            ended_at=ended_at,
            duration_seconds=(ended_at - self.started_at).total_seconds() if answered else 0.0,
            opted_out=opted_out,
        )


class Ledger:
    """The JSON-lines record of every dial, appended to from any number of processes.

    Each line goes out in one ``write`` on a descriptor opened with ``O_APPEND``, so lines from
    concurrent processes never interleave.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def append(self, request: DialRequest, call: SimulatedCall) -> None:
        status, _ = outcome_of(call.suffix)
        line = {
            "call_id": request.call_id,
            "attempt_id": request.attempt_id,
            "to": request.to,
            "from": request.from_number,
            "started_at": call.started_at.isoformat(),
            "ended_at": call.ended_at.isoformat(),
            "outcome": str(status),
        }
        data = (json.dumps(line, separators=(",", ":")) + "\n").encode()
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, data)
        finally:
            os.close(descriptor)

    def find(self, attempt_ids: Collection[str]) -> dict[str, SimulatedCall]:
        """The dials of these attempts that the ledger holds, rebuilt from their lines."""
        found: dict[str, SimulatedCall] = {}
        if not attempt_ids:
            return found
        try:
            lines = open(self.path, encoding="utf-8")
        except FileNotFoundError:
            return found  # no dial was placed yet
        with lines:
            for text in lines:
                try:
                    line = json.loads(text)
                except ValueError:
                    # The line another process is writing at this moment: a dial too recent to be asked about.
                    continue
                if line["attempt_id"] in attempt_ids:
                    started = datetime.fromisoformat(line["started_at"])
                    length = datetime.fromisoformat(line["ended_at"]) - started
                    found[line["attempt_id"]] = SimulatedCall(
                        line["attempt_id"], started, length, last_four_digits(line["to"])
                    )
        return found


class SimulatedProvider:
    """Voice, SMS and email that behave by the number dialled; events come due on the injected clock."""

    name = NAME

    def __init__(self, settings: Settings, clock: Clock, callback_key: bytes | None = None) -> None:
        self._clock = clock
        # The registry passes the installation's key; a provider made without one has a key of its own,
        # so it accepts only the callbacks it signed itself.
        self._callback_key = callback_key or new_secret()
        self._callback_tolerance_seconds = settings.callback_tolerance_seconds
        own = settings.simulated
        self._length = timedelta(seconds=own.call_seconds / own.speed)
        self._ledger = Ledger(own.ledger) if own.ledger else None
        # Final events of the calls this process placed, by the instant they come due.
        self._due: list[tuple[datetime, int, StatusEvent]] = []
        self._order = itertools.count()
        # The calls this process placed whose final event it has not handed over yet, by attempt id.
        self._placed: dict[str, SimulatedCall] = {}
        self._crash_after_dials = own.crash_after_dials
        self._dials = 0

    def start_call(self, request: DialRequest) -> str:
        started = self._clock.now()
        call = SimulatedCall(request.attempt_id, started, self._length, last_four_digits(request.to))
        self._placed[request.attempt_id] = call
        if self._ledger is not None:
            self._ledger.append(request, call)
        self._dials += 1
        if self._dials == self._crash_after_dials:
            os._exit(CRASH_EXIT_CODE)
        heapq.heappush(self._due, (call.ended_at, next(self._order), call.final_event(call.ended_at)))
        return call.provider_call_id

    def end_call(self, provider_call_id: str) -> None:
        call = SimulatedCall.decode(provider_call_id)
        now = self._clock.now()
        if now < call.ended_at:
            # The early end carries the same event id as the natural one, so only the first is acted on.
            heapq.heappush(self._due, (now, next(self._order), call.final_event(now)))

    def leave_message(self, provider_call_id: str, message: VoicemailMessage) -> None:
        """A simulated machine reports no verdict of its own, so it is never asked to take a message."""

    def fetch_status(self, provider_call_id: str) -> StatusEvent:
        return SimulatedCall.decode(provider_call_id).status_at(self._clock.now())

    def poll_events(self) -> Sequence[StatusEvent]:
        now = self._clock.now()
        ready: list[StatusEvent] = []
        while self._due and self._due[0][0] <= now:
            ready.append(heapq.heappop(self._due)[2])
        for event in ready:
            if event.attempt_id is not None:
                self._placed.pop(event.attempt_id, None)
        return ready

    def lookup(self, attempt_ids: Sequence[str]) -> Mapping[str, StatusEvent | NoStatus]:
        """From the calls this process placed, and from the ledger, which holds every dial of every
        process; without a ledger, a call another process placed is one it cannot tell of."""
        now = self._clock.now()
        found = {a: self._placed[a] for a in attempt_ids if a in self._placed}
        if self._ledger is not None:
            found |= self._ledger.find(set(attempt_ids) - found.keys())
        missing = NoStatus.NOT_PLACED if self._ledger is not None else NoStatus.CANNOT_TELL
        return {a: found[a].status_at(now) if a in found else missing for a in attempt_ids}

    def verify(self, caller_ids: Sequence[str]) -> Verification:
        """The simulated vendor takes any credentials and owns every caller id."""
        return Verification(True, "the simulated provider accepts every call", "active", tuple(caller_ids))

    def signed_callback(self, event: StatusEvent) -> tuple[dict[str, str], bytes]:
        """The request (headers, body) this provider sends to report ``event``, signed now."""
        body = callback.encode(event)
        return self.sign(body), body

    def sign(self, body: bytes) -> dict[str, str]:
        """The headers that vouch for ``body`` as a callback of this provider sent now."""
        return callback.sign(self._callback_key, body, self._clock.now())

    def parse_callback(self, headers: Mapping[str, str], body: bytes, url: str = "") -> Sequence[StatusEvent]:
        """The event of a callback this installation signed lately, about a simulated call."""
        now = self._clock.now()
        callback.verify(self._callback_key, headers, body, now, self._callback_tolerance_seconds)
        event = callback.decode(body)
        SimulatedCall.decode(event.provider_call_id)
        return [event]
