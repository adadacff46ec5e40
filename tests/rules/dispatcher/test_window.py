"""When a call may go out (SPEC 4 rule 2) as arithmetic: a batch's daily window and working days, the
recipient's hours by the number's zones and state, the first instant inside all of them, and local days.
tests/acceptance/test_rule2_calling_hours.py proves the rule through the dispatcher."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchcall.dispatcher import window
from batchcall.dispatcher.window import DailyWindow, local_day, next_local_midnight, next_opening, verdict
from batchcall.models import Batch

WEEKDAYS = frozenset(range(1, 6))
# Monday 23 November 2026, noon UTC: 07:00 in New York, 13:00 in Berlin.
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NEW_YORK = "+12125551000"
LOS_ANGELES = "+12135551000"
FLORIDA = "+13055551000"
TOLL_FREE = "+18005551000"  # may ring anywhere from Guam to Newfoundland
NO_ZONE = "+883510000000000"  # an international network: no zone can be told
ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
]
RECIPIENTS = [NEW_YORK, LOS_ANGELES, FLORIDA, TOLL_FREE, NO_ZONE, "+442079460958", "+61291234567"]
# Zones that keep one offset all year, and recipients who live in them (India, Iceland).
STEADY_ZONES = ["UTC", "Asia/Kolkata", "Atlantic/Reykjavik"]
STEADY_RECIPIENTS = ["+919876543210", "+3545512345"]


def _batch(**fields: Any) -> Batch:
    """A batch as the window reads it, never stored: only the columns the rule looks at."""
    columns: dict[str, Any] = {
        "timezone": "UTC",
        "start_time": None,
        "end_time": None,
        "working_days": [1, 2, 3, 4, 5, 6, 7],
        "respect_recipient_timezone": False,
    }
    return Batch(**{**columns, **fields})


def _berlin(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """That time in Berlin in November 2026 (the 23rd is a Monday)."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def test_a_day_window_opens_at_its_start_and_is_closed_at_its_end_and_off_its_working_days() -> None:
    berlin = DailyWindow("Europe/Berlin", time(9), time(17), WEEKDAYS)
    assert berlin.contains(_berlin(23, 9))
    assert berlin.contains(_berlin(23, 16, 59, 59))
    assert not berlin.contains(_berlin(23, 8, 59, 59))
    assert not berlin.contains(_berlin(23, 17))
    assert not berlin.contains(_berlin(28, 12))  # a Saturday


def test_a_window_past_midnight_belongs_to_the_day_it_opens() -> None:
    friday_nights = DailyWindow("UTC", time(22), time(6), frozenset({5}))
    assert friday_nights.contains(datetime(2026, 11, 27, 23, 0, tzinfo=UTC))  # Friday 23:00
    assert friday_nights.contains(datetime(2026, 11, 28, 5, 59, tzinfo=UTC))  # Saturday 05:59
    assert not friday_nights.contains(datetime(2026, 11, 28, 6, 0, tzinfo=UTC))
    assert not friday_nights.contains(datetime(2026, 11, 27, 3, 0, tzinfo=UTC))  # opened on Thursday


def test_a_window_that_starts_where_it_ends_is_the_whole_working_day() -> None:
    mondays = DailyWindow("UTC", time(0), time(0), frozenset({1}))
    assert mondays.contains(datetime(2026, 11, 23, 0, 0, tzinfo=UTC))
    assert mondays.contains(datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC))
    assert not mondays.contains(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))


def test_a_batch_without_times_may_call_all_day_on_its_working_days() -> None:
    batch_window = window.batch_window(_batch(timezone="America/New_York", working_days=[1, 2]))
    assert batch_window == DailyWindow("America/New_York", time(0), time(0), frozenset({1, 2}))


def test_next_opening_of_a_window_closed_now() -> None:
    batch = Batch(
        timezone="Europe/Berlin", start_time="09:00", end_time="18:00", working_days=[1, 2, 3, 4, 5]
    )
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert window.next_opening([window.batch_window(batch)], friday_evening) == datetime(
        2026, 11, 30, 8, 0, tzinfo=UTC
    )


def test_next_opening_is_now_while_every_window_is_open() -> None:
    windows = [DailyWindow("UTC", time(9), time(17)), DailyWindow("Europe/Berlin", time(8), time(21))]
    assert next_opening(windows, MONDAY_NOON) == MONDAY_NOON


def test_windows_that_never_overlap_have_no_opening() -> None:
    # 09:00-10:00 in New York is 14:00-15:00 UTC; in Tokyo it is 00:00-01:00 UTC.
    windows = [
        DailyWindow("America/New_York", time(9), time(10)),
        DailyWindow("Asia/Tokyo", time(9), time(10)),
    ]
    assert next_opening(windows, MONDAY_NOON) is None


@pytest.mark.parametrize(
    ("number", "state"),
    [
        ("+13055551000", "FL"),
        ("+14055551000", "OK"),
        ("+13015551000", "MD"),
        ("+12065551000", "WA"),
        ("+12125551000", None),
        ("+16135551000", None),
    ],
)
def test_state_of_a_number(number: str, state: str | None) -> None:
    assert window.state_of(number) == state


def test_a_recipient_is_called_8_to_21_in_their_zone_or_8_to_20_in_a_stricter_state() -> None:
    assert window.recipient_windows(NEW_YORK) == (DailyWindow("America/New_York", time(8), time(21)),)
    assert window.recipient_windows(FLORIDA) == (DailyWindow("America/New_York", time(8), time(20)),)
    assert len(window.recipient_windows(TOLL_FREE)) > 1
    assert window.recipient_windows(NO_ZONE) == ()


def test_the_recipients_hours_count_only_when_the_batch_respects_them() -> None:
    # 07:00 in Los Angeles: inside the batch's all-day window, before the recipient's 08:00.
    los_angeles_eight = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    ignoring = verdict(_batch(), LOS_ANGELES, MONDAY_NOON + timedelta(hours=3))
    assert ignoring.at == MONDAY_NOON + timedelta(hours=3)
    respecting = verdict(
        _batch(respect_recipient_timezone=True), LOS_ANGELES, MONDAY_NOON + timedelta(hours=3)
    )
    assert respecting.at == los_angeles_eight
    assert respecting.reason == "outside the calling window"


def test_a_number_whose_zone_cannot_be_told_gets_no_time_and_says_why() -> None:
    answer = verdict(_batch(respect_recipient_timezone=True), NO_ZONE, MONDAY_NOON)
    assert answer.at is None
    assert answer.reason == f"the time zone of {NO_ZONE} cannot be told, so no lawful calling time is known"


def test_a_batch_window_outside_the_recipients_hours_gets_no_time_and_names_the_zones() -> None:
    # 09:00-10:00 UTC is 04:00-05:00 in New York, every day.
    batch = _batch(start_time="09:00", end_time="10:00", respect_recipient_timezone=True)
    answer = verdict(batch, NEW_YORK, MONDAY_NOON)
    assert answer.at is None
    assert answer.reason == (
        f"no time is inside the batch window and the calling hours of every zone {NEW_YORK} may ring in "
        "(America/New_York)"
    )


def test_a_local_day_turns_over_at_the_zones_midnight() -> None:
    monday_night_new_york = datetime(2026, 11, 24, 4, 59, tzinfo=UTC)
    assert local_day("America/New_York", monday_night_new_york) == date(2026, 11, 23)
    assert local_day("UTC", monday_night_new_york) == date(2026, 11, 24)
    assert next_local_midnight("America/New_York", monday_night_new_york) == datetime(
        2026, 11, 24, 5, 0, tzinfo=UTC
    )


def test_the_next_local_midnight_follows_the_clock_change() -> None:
    # New York moves its clocks forward early on 8 March 2026: that day ends at 04:00 UTC, not 05:00.
    assert next_local_midnight("America/New_York", datetime(2026, 3, 8, 12, 0, tzinfo=UTC)) == datetime(
        2026, 3, 9, 4, 0, tzinfo=UTC
    )
    assert next_local_midnight("America/New_York", datetime(2026, 11, 1, 12, 0, tzinfo=UTC)) == datetime(
        2026, 11, 2, 5, 0, tzinfo=UTC
    )


def test_a_window_inside_the_hour_a_clock_change_skips_is_not_open_that_day() -> None:
    sundays = _batch(timezone="America/New_York", start_time="02:30", end_time="02:45", working_days=[7])
    # 01:00 in New York on 8 March 2026; at 02:00 the clocks go forward to 03:00.
    answer = verdict(sundays, None, datetime(2026, 3, 8, 6, 0, tzinfo=UTC))
    assert answer.at is not None
    assert window.batch_window(sundays).contains(answer.at)
    # The next Sunday's window, at 02:30 New York time.
    assert answer.at == datetime(2026, 3, 15, 6, 30, tzinfo=UTC)


def test_a_window_that_opens_in_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    early = _batch(timezone="America/New_York", start_time="02:30", end_time="04:00", working_days=[7])
    answer = verdict(early, None, datetime(2026, 3, 8, 6, 0, tzinfo=UTC))
    # 03:00 EDT, the first instant of the day at or after 02:30 on the clock.
    assert answer.at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert window.batch_window(early).contains(answer.at)


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
).map(lambda instant: instant.replace(microsecond=0))
clock_times = st.builds(
    lambda minutes: f"{minutes // 60:02d}:{minutes % 60:02d}", st.integers(0, 24 * 60 - 1)
)
batches = st.builds(
    _batch,
    timezone=st.sampled_from(ZONES),
    start_time=st.none() | clock_times,
    end_time=st.none() | clock_times,
    working_days=st.lists(st.integers(1, 7), min_size=1, max_size=7, unique=True),
    respect_recipient_timezone=st.booleans(),
)


def _windows(batch: Batch, number: str) -> list[DailyWindow]:
    """Every window that binds a call of ``batch`` to ``number``, read from the rule's own parts."""
    recipient = window.recipient_windows(number) if batch.respect_recipient_timezone else ()
    return [window.batch_window(batch), *recipient]


@settings(max_examples=300, deadline=None)
@given(batch=batches, number=st.sampled_from(RECIPIENTS), now=instants)
def test_a_verdict_is_never_inside_a_closed_hour(batch: Batch, number: str, now: datetime) -> None:
    answer = verdict(batch, number, now)
    if answer.at is not None:
        assert answer.at >= now
        assert all(w.contains(answer.at) for w in _windows(batch, number)), answer


@settings(max_examples=300, deadline=None)
@given(
    batch=batches.filter(lambda batch: batch.timezone in STEADY_ZONES),
    number=st.sampled_from(STEADY_RECIPIENTS),
    now=instants,
    share=st.floats(0, 1, exclude_max=True),
)
def test_no_instant_before_the_verdict_is_open(
    batch: Batch, number: str, now: datetime, share: float
) -> None:
    # In zones that change their clocks an hour that repeats is offered once: an opening may then come
    # later than it could (a later call, never an unlawful one, as the property above shows).
    answer = verdict(batch, number, now)
    until = answer.at if answer.at is not None else now + timedelta(days=window.HORIZON_DAYS - 1)
    earlier = now + (until - now) * share
    assert earlier == answer.at or not all(w.contains(earlier) for w in _windows(batch, number))


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from([*ZONES, "America/Santiago", "Asia/Beirut"]), now=instants)
def test_the_next_local_midnight_is_the_first_instant_of_the_next_local_day(zone: str, now: datetime) -> None:
    midnight = next_local_midnight(zone, now)
    assert midnight > now
    assert local_day(zone, midnight) == local_day(zone, now) + timedelta(days=1)
    assert local_day(zone, midnight - timedelta(microseconds=1)) == local_day(zone, now)
