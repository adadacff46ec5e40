"""When a call may go out: the batch's daily window and working days, and the recipient's own hours.

Every constraint is a daily window in some zone. A call may be dialled at an instant inside all of
them; the next such instant is found by intersecting their intervals over the coming week.

Recipients are called 08:00-21:00 in their local time (the federal TCPA hours) unless the state of the
number's area code is stricter. The stricter states, by statute:

| state      | hours       | rule                                                        |
|------------|-------------|-------------------------------------------------------------|
| Florida    | 08:00-20:00 | Florida Telephone Solicitation Act, Fla. Stat. 501.059(8)   |
| Maryland   | 08:00-20:00 | Stop the Spam Calls Act of 2023, Md. Com. Law 14-4503       |
| Oklahoma   | 08:00-20:00 | Oklahoma Telephone Solicitation Act, 15 O.S. 775C.4         |
| Washington | 08:00-20:00 | RCW 80.36.390                                               |

A number whose zone cannot be told fails closed: it must be inside the hours in every zone it may
ring in, and is skipped with the reason when no such time exists.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import geocoder

from batchcall.ingest.phone import time_zones
from batchcall.models import Batch

ALL_DAYS = frozenset(range(1, 8))
RECIPIENT_HOURS = (time(8), time(21))
# A weekly pattern repeats after seven days; one more covers a window that started yesterday.
HORIZON_DAYS = 8


@dataclass(frozen=True, slots=True)
class StateRule:
    state: str
    start: time
    end: time


STATE_RULES: dict[str, StateRule] = {
    "FL": StateRule("Florida", time(8), time(20)),
    "MD": StateRule("Maryland", time(8), time(20)),
    "OK": StateRule("Oklahoma", time(8), time(20)),
    "WA": StateRule("Washington", time(8), time(20)),
}
# The geocoder names a US number's place as a state ("Florida", "Washington State") or "City, ST".
_STATE_OF_DESCRIPTION = {"Florida": "FL", "Maryland": "MD", "Oklahoma": "OK", "Washington State": "WA"}


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """Open from ``start`` to ``end`` local time on ``days`` (1=Mon..7=Sun, the day the window opens).

    ``end`` at or before ``start`` runs past midnight; ``start == end`` is the whole day.
    """

    zone: str
    start: time
    end: time
    days: frozenset[int] = ALL_DAYS

    def contains(self, instant: datetime) -> bool:
        local = instant.astimezone(ZoneInfo(self.zone))
        at, today = local.time().replace(tzinfo=None), local.isoweekday()
        if self.start < self.end:
            return today in self.days and self.start <= at < self.end
        yesterday = 7 if today == 1 else today - 1
        return (today in self.days and at >= self.start) or (yesterday in self.days and at < self.end)

    def intervals(self, since: datetime, days: int) -> Iterator[tuple[datetime, datetime]]:
        tz = ZoneInfo(self.zone)
        first = since.astimezone(tz).date() - timedelta(days=1)
        for offset in range(days + 1):
            day = first + timedelta(days=offset)
            if day.isoweekday() not in self.days:
                continue
            ends_on = day if self.end > self.start else day + timedelta(days=1)
            yield _instant(day, self.start, tz), _instant(ends_on, self.end, tz)


def _instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The instant ``wall`` o'clock on ``day`` in ``tz``; a time the clocks skip that day (spring forward)
    is the instant they jump, so a window that opens or closes in the skipped hour is cut there, and one
    wholly inside it does not occur that day."""
    local = datetime.combine(day, wall, tz)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # Read with the offset after the jump it is before the jump, with the offset before it after: the
    # jump lies between, found to the second.
    before, after = local.replace(fold=1).astimezone(UTC), instant
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        if middle.astimezone(tz).utcoffset() == after.astimezone(tz).utcoffset():
            after = middle
        else:
            before = middle
    # Clocks change on a whole second, the first of (before, after].
    return after.replace(microsecond=0)


def next_opening(windows: Sequence[DailyWindow], now: datetime) -> datetime | None:
    """The first instant from ``now`` inside every window; ``now`` itself when all are open; None if never."""
    if all(window.contains(now) for window in windows):
        return now
    allowed = [(now, now + timedelta(days=HORIZON_DAYS))]
    for window in windows:
        allowed = _intersect(allowed, sorted(window.intervals(now, HORIZON_DAYS)))
        if not allowed:
            return None
    return allowed[0][0]


def _intersect(
    left: list[tuple[datetime, datetime]], right: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    found: list[tuple[datetime, datetime]] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            found.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return found


def batch_window(batch: Batch) -> DailyWindow:
    start = time.fromisoformat(batch.start_time) if batch.start_time else time(0)
    end = time.fromisoformat(batch.end_time) if batch.end_time else time(0)
    return DailyWindow(batch.timezone, start, end, frozenset(batch.working_days))


@lru_cache(maxsize=65_536)
def state_of(number: str) -> str | None:
    """The US state whose stricter calling hours apply to ``number``, when it has one."""
    parsed = phonenumbers.parse(number, None)
    if phonenumbers.region_code_for_number(parsed) != "US":
        return None
    description = geocoder.description_for_number(parsed, "en")
    code = _STATE_OF_DESCRIPTION.get(description) or description.rpartition(", ")[2]
    return code if code in STATE_RULES else None


@lru_cache(maxsize=65_536)
def recipient_windows(number: str) -> tuple[DailyWindow, ...]:
    """The hours the recipient may be called, once per zone the number may ring in; empty if unknown."""
    rule = STATE_RULES.get(state_of(number) or "")
    start, end = (rule.start, rule.end) if rule else RECIPIENT_HOURS
    return tuple(DailyWindow(zone, start, end) for zone in time_zones(number))


@dataclass(frozen=True, slots=True)
class Verdict:
    """When a call may go out: ``at`` (``now`` when it may go now), or never, with ``reason``."""

    at: datetime | None
    reason: str


def verdict(batch: Batch, number: str | None, now: datetime) -> Verdict:
    """The batch's window, and with ``respect_recipient_timezone`` the recipient's hours as well."""
    windows = [batch_window(batch)]
    if batch.respect_recipient_timezone and number is not None:
        recipient = recipient_windows(number)
        if not recipient:
            return Verdict(
                None, f"the time zone of {number} cannot be told, so no lawful calling time is known"
            )
        windows.extend(recipient)
    at = _shared_opening(tuple(windows), now)
    if at is None:
        zones = ", ".join(w.zone for w in windows[1:])
        return Verdict(
            None,
            f"no time is inside the batch window and the calling hours of every zone "
            f"{number} may ring in ({zones})",
        )
    return Verdict(at, "outside the calling window")


@lru_cache(maxsize=4_096)
def _shared_opening(windows: tuple[DailyWindow, ...], now: datetime) -> datetime | None:
    """``next_opening``, worked out once for every call judged at the same instant under the same hours:
    a claim, or a draft's preview, judges hundreds of numbers at one ``now``, most of them alike."""
    return next_opening(windows, now)


def local_day(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def local_midnight(zone: str, now: datetime) -> datetime:
    """When the day of ``now`` began in ``zone``."""
    return datetime.combine(local_day(zone, now), time(0), ZoneInfo(zone)).astimezone(UTC)


def next_local_midnight(zone: str, now: datetime) -> datetime:
    tz = ZoneInfo(zone)
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tz).astimezone(UTC)
