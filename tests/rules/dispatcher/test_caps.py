"""The pure parts of the caps (SPEC 4 rule 5): the calls-per-second window, what a caller id may still dial
today, and whose day its daily cap counts in. tests/acceptance/test_rule5_caps.py proves the caps hold."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from batchcall.dispatcher.caps import (
    CallerCapacity,
    batch_scope,
    caller_scope,
    caller_zone,
    next_caller_day,
    rate_window,
)

NEW_YORK = "+12125550100"
LOS_ANGELES = "+12135550100"
NO_ZONE = "+883510000000000"


def test_rates_below_one_per_second_widen_the_window() -> None:
    window, allowed = rate_window(0.25)
    assert (window.total_seconds(), allowed) == (4.0, 1)
    window, allowed = rate_window(7.5)
    assert (window.total_seconds(), allowed) == (1.0, 7)


@given(st.floats(min_value=0.001, max_value=10_000, allow_nan=False))
def test_a_rate_window_never_lets_more_than_the_rate_start_and_always_lets_one(per_second: float) -> None:
    window, allowed = rate_window(per_second)
    assert window >= timedelta(seconds=1)
    assert allowed >= 1
    # The window is a timedelta, exact to the microsecond.
    assert allowed <= per_second * (window + timedelta(microseconds=1)).total_seconds()
    if per_second >= 1:
        assert window == timedelta(seconds=1)


def test_a_caller_id_without_a_cap_is_always_usable_and_one_with_a_cap_until_it_is_spent() -> None:
    capacity = CallerCapacity(left={NEW_YORK: 2}, days={NEW_YORK: "2026-11-23"})
    for _ in range(5):
        assert capacity.usable(LOS_ANGELES)
        capacity.take(LOS_ANGELES)
    assert LOS_ANGELES not in capacity.left
    capacity.take(NEW_YORK)
    assert capacity.usable(NEW_YORK)
    capacity.take(NEW_YORK)
    assert not capacity.usable(NEW_YORK)
    assert capacity.left == {NEW_YORK: 0}


def test_a_caller_ids_day_is_where_the_number_is_and_utc_when_that_cannot_be_told() -> None:
    assert caller_zone(NEW_YORK) == "America/New_York"
    assert caller_zone(LOS_ANGELES) == "America/Los_Angeles"
    assert caller_zone(NO_ZONE) == "UTC"


def test_the_first_capped_caller_id_whose_day_turns_over_sets_when_dialling_may_resume() -> None:
    capacity = CallerCapacity(left={LOS_ANGELES: 0, NEW_YORK: 0}, days={})
    monday_evening = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert next_caller_day(capacity, monday_evening) == datetime(2026, 11, 24, 5, 0, tzinfo=UTC)


def test_a_caller_ids_count_is_its_workspaces_apart_from_other_workspaces_and_from_batches() -> None:
    assert caller_scope("ws_1", NEW_YORK) != caller_scope("ws_2", NEW_YORK)
    assert caller_scope("ws_1", NEW_YORK) not in {batch_scope("ws_1"), batch_scope(NEW_YORK)}
    assert batch_scope("b_1") != batch_scope("b_2")
