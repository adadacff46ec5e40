"""Why a batch is not dialling, and until when.

The claim records on the batch the rule that held it back (``waiting_reason``, a code; ``waiting_detail``,
the same in words with the numbers that matter) and when it may dial next (``next_dial_at``, None when
it cannot be told or the batch is dialling). A change of reason is logged once, when it happens. A draft
or scheduled batch is not claimed: its answer carries a preview of what would hold its first dial.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from batchcall.dispatcher import caps, window
from batchcall.models import Batch, Channel

log = logging.getLogger("batchcall.dispatcher")

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Reason(StrEnum):
    OUTSIDE_WINDOW = "outside_window"
    NOT_WORKING_DAY = "not_working_day"
    RECIPIENT_HOURS = "recipient_hours"
    BATCH_DAILY_CAP = "batch_daily_cap"
    CALLER_ID_DAILY_CAP = "caller_id_daily_cap"
    CALLS_PER_SECOND = "calls_per_second"
    ALL_IN_FLIGHT = "all_in_flight"
    NO_CALLER_ID = "no_caller_id"
    AGENT_UNAVAILABLE = "agent_unavailable"
    BREAKER = "breaker"
    ABANDONED_CALLS = "abandoned_calls"
    NOTHING_DUE = "nothing_due"
    SCHEDULED_START = "scheduled_start"


@dataclass(frozen=True, slots=True)
class Waiting:
    reason: Reason
    detail: str
    until: datetime | None = None


def record(batch: Batch, waiting: Waiting | None) -> None:
    """Put ``waiting`` (None: dialling, or nothing to say) on the batch; log it when the reason changes."""
    reason = waiting.reason if waiting else None
    if reason != batch.waiting_reason:
        extra = {"batch_id": batch.id, "waiting_reason": reason, "previous": batch.waiting_reason}
        if waiting is None:
            log.info("batch %s no longer waits (%s)", batch.id, batch.waiting_reason, extra=extra)
        else:
            log.info("batch %s waits: %s", batch.id, waiting.detail, extra=extra)
    batch.waiting_reason = reason
    batch.waiting_detail = waiting.detail if waiting else None
    batch.next_dial_at = waiting.until if waiting else None


def when(at: datetime, zone: str) -> str:
    """An instant as the batch's operator reads it: its local time and day, and UTC."""
    local = at.astimezone(ZoneInfo(zone))
    said = f"{local:%H:%M} {zone} on {DAY_NAMES[local.weekday()]} {local:%d %b}"
    return said if local.utcoffset() == timedelta(0) else f"{said} ({at.astimezone(UTC):%H:%M} UTC)"


def _until(at: datetime | None, zone: str) -> str:
    return f"; next call at {when(at, zone)}" if at else ""


def outside_window(batch: Batch, now: datetime, opening: datetime | None) -> Waiting:
    """The batch's own window or working days hold it until ``opening`` (None: it never opens)."""
    local = now.astimezone(ZoneInfo(batch.timezone))
    if local.isoweekday() not in batch.working_days:
        days = ", ".join(DAY_NAMES[day - 1] for day in sorted(batch.working_days))
        detail = f"{DAY_NAMES[local.weekday()]} is not one of the batch's working days ({days})"
        return Waiting(Reason.NOT_WORKING_DAY, detail + _until(opening, batch.timezone), opening)
    hours = f"{batch.start_time or '00:00'}-{batch.end_time or '00:00'} {batch.timezone}"
    detail = f"it is {local:%H:%M} {batch.timezone}, outside the batch's window {hours}"
    return Waiting(Reason.OUTSIDE_WINDOW, detail + _until(opening, batch.timezone), opening)


def held_by_cap(batch: Batch, allowance: caps.Allowance) -> Waiting:
    """One of the batch's own caps lets no call start now."""
    zone = batch.timezone
    if allowance.reason == "max_calls_per_day":
        detail = f"the batch made its max_calls_per_day of {batch.max_calls_per_day} today"
        return Waiting(Reason.BATCH_DAILY_CAP, detail + _until(allowance.until, zone), allowance.until)
    if allowance.reason == "max_calls_per_second":
        detail = f"the batch started its max_calls_per_second of {batch.max_calls_per_second} just now"
        return Waiting(Reason.CALLS_PER_SECOND, detail, allowance.until)
    detail = f"all {batch.max_concurrent_calls} calls its max_concurrent_calls allows are in flight"
    return Waiting(Reason.ALL_IN_FLIGHT, detail, allowance.until)


def last_in_flight(in_flight: int) -> Waiting:
    """No call waits, and some are still live: the batch ends when they do."""
    return Waiting(Reason.ALL_IN_FLIGHT, f"its last {in_flight} calls are in flight; none is left to dial")


def out_of_callers(batch: Batch, capacity: caps.CallerCapacity, now: datetime) -> Waiting:
    """No caller id of the batch may dial now: none is the workspace's any more, or each made its cap."""
    capped = [number for number in batch.from_numbers if capacity.left.get(number, 1) <= 0]
    if not any(number in capacity.days for number in capped):
        detail = (
            f"none of its caller ids ({', '.join(batch.from_numbers)}) belongs to the workspace any more; "
            "register one with POST /v1/phone-numbers and give it to the batch"
        )
        return Waiting(Reason.NO_CALLER_ID, detail)
    until = caps.next_caller_day(capacity, now)
    detail = f"every caller id of the batch made its daily_cap today ({', '.join(capped)})"
    return Waiting(Reason.CALLER_ID_DAILY_CAP, detail + _until(until, batch.timezone), until)


def agent_unavailable(why: str) -> Waiting:
    return Waiting(Reason.AGENT_UNAVAILABLE, f"{why}: the batch dials again once its agent can call")


def breaker(reason: str) -> Waiting:
    return Waiting(Reason.BREAKER, reason)


def abandoning(reason: str) -> Waiting:
    return Waiting(Reason.ABANDONED_CALLS, reason)


def recipient_hours(batch: Batch, until: datetime | None) -> Waiting:
    detail = (
        "the people due now are outside their local calling hours (08:00-21:00 where they are, "
        "20:00 in the stricter states)"
    )
    return Waiting(Reason.RECIPIENT_HOURS, detail + _until(until, batch.timezone), until)


def nothing_due(batch: Batch, until: datetime | None) -> Waiting:
    if until is None:
        return Waiting(Reason.NOTHING_DUE, "no call is waiting to be dialled")
    detail = "no call is due yet (retries wait for their delay, rows for their scheduled time)"
    return Waiting(Reason.NOTHING_DUE, detail + _until(until, batch.timezone), until)


def preview(batch: Batch, numbers: Sequence[str], now: datetime) -> Waiting | None:
    """What would hold the batch's first dial if it started at ``now``, judged by its window and the
    recipient hours of ``numbers`` (some of its waiting calls); None when it would dial at once."""
    opening = window.next_opening([window.batch_window(batch)], now)
    held = outside_window(batch, now, opening) if opening != now else None
    if opening is None or not batch.respect_recipient_timezone or batch.channel == Channel.EMAIL:
        return held
    times = [t for t in (window.verdict(batch, number, now).at for number in numbers) if t is not None]
    first = min(times, default=None)
    if first is not None and first > opening:
        return recipient_hours(batch, first)
    return held


def scheduled(batch: Batch, numbers: Sequence[str], now: datetime) -> Waiting:
    """A scheduled batch waits for its start, and from then for whatever would hold its first dial."""
    assert batch.scheduled_at is not None
    start = max(batch.scheduled_at, now)
    detail = f"it starts at {when(start, batch.timezone)}"
    then = preview(batch, numbers, start)
    if then is None:
        return Waiting(Reason.SCHEDULED_START, detail, start)
    return Waiting(Reason.SCHEDULED_START, f"{detail}; then {then.detail}", then.until)
