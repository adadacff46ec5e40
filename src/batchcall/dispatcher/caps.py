"""How many calls a batch may start now: concurrency, calls per day, per second, and caller-id caps.

Everything is counted inside the claiming transaction, with the batch row locked, so the caps hold
across any number of workers. Daily counts live in ``dial_counters``: the batch's by its own time zone's
day, a caller id's by the day where the caller id is (its number's first zone, UTC if unknown), shared
by every batch that dials from it.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from math import floor

from sqlalchemy.orm import Session

from batchcall.dispatcher import repository
from batchcall.dispatcher.window import local_day, next_local_midnight
from batchcall.ingest.phone import time_zones
from batchcall.models import Batch
from batchcall.numbers import repository as numbers


@dataclass(frozen=True, slots=True)
class Allowance:
    """``count`` calls may start now; when none may, ``until`` says when the cap that binds lifts."""

    count: int
    until: datetime | None = None
    reason: str | None = None


def rate_window(per_second: float) -> tuple[timedelta, int]:
    """A sliding window and how many starts it may hold: one second, or longer for rates below 1/s."""
    seconds = max(1.0, 1.0 / per_second)
    return timedelta(seconds=seconds), max(1, floor(per_second * seconds))


def batch_scope(batch_id: str) -> str:
    return f"batch:{batch_id}"


def caller_scope(workspace_id: str, number: str) -> str:
    return f"caller:{workspace_id}:{number}"


def caller_counter(workspace_id: str, number: str, now: datetime) -> tuple[str, str]:
    """The ``dial_counters`` key of a caller id's dials today: its scope, and its own local day."""
    return caller_scope(workspace_id, number), local_day(caller_zone(number), now).isoformat()


@lru_cache(maxsize=4_096)
def caller_zone(number: str) -> str:
    zones = time_zones(number)
    return zones[0] if zones else "UTC"


def batch_allowance(session: Session, batch: Batch, now: datetime, in_flight: int, wanted: int) -> Allowance:
    """How many of ``wanted`` calls the batch's own caps let start now."""
    count = min(wanted, batch.max_concurrent_calls - in_flight)
    if count <= 0:
        return Allowance(0, reason="max_concurrent_calls")
    if batch.max_calls_per_day is not None:
        key = (batch_scope(batch.id), local_day(batch.timezone, now).isoformat())
        left = batch.max_calls_per_day - repository.lock_counters(session, [key])[key]
        if left <= 0:
            return Allowance(0, next_local_midnight(batch.timezone, now), "max_calls_per_day")
        count = min(count, left)
    if batch.max_calls_per_second is not None:
        window, allowed = rate_window(batch.max_calls_per_second)
        started, first = repository.attempt_starts_since(session, batch.id, now - window)
        left = allowed - started
        if left <= 0:
            assert first is not None
            return Allowance(0, first + window, "max_calls_per_second")
        count = min(count, left)
    return Allowance(count)


@dataclass
class CallerCapacity:
    """Dials each caller id may still make today: none from a number the workspace does not own; a
    number without a cap is absent."""

    left: dict[str, int]
    days: dict[str, str]

    def usable(self, number: str) -> bool:
        return self.left.get(number, 1) > 0

    def take(self, number: str) -> None:
        if number in self.left:
            self.left[number] -= 1


def caller_capacity(session: Session, batch: Batch, now: datetime) -> CallerCapacity:
    owned = numbers.daily_caps(session, batch.workspace_id, batch.from_numbers) if batch.from_numbers else {}
    caps = {number: cap for number, cap in owned.items() if cap is not None}
    keys = {number: caller_counter(batch.workspace_id, number, now) for number in caps}
    days = {number: day for number, (_, day) in keys.items()}
    used = repository.lock_counters(session, list(keys.values()))
    left = {number: cap - used[keys[number]] for number, cap in caps.items()}
    # A caller id the workspace no longer owns (deleted since the batch was made) is never dialled from.
    left.update((number, 0) for number in batch.from_numbers if number not in owned)
    return CallerCapacity(left, days)


def next_caller_day(capacity: CallerCapacity, now: datetime) -> datetime:
    """When the first capped caller id's day turns over."""
    return min(next_local_midnight(caller_zone(number), now) for number in capacity.left)


def count_dials(
    session: Session, batch: Batch, capacity: CallerCapacity, callers: Counter[str | None], now: datetime
) -> None:
    """Add the dials just claimed to the batch's and the caller ids' daily counts."""
    increments: dict[tuple[str, str], int] = {}
    if batch.max_calls_per_day is not None:
        increments[(batch_scope(batch.id), local_day(batch.timezone, now).isoformat())] = callers.total()
    for number, dials in callers.items():
        if number is not None and number in capacity.days:
            increments[(caller_scope(batch.workspace_id, number), capacity.days[number])] = dials
    repository.add_to_counters(session, increments)
