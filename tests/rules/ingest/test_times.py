"""When a row asks to be called: ISO 8601, Unix time and common written forms, read in the batch zone."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchcall.ingest.times import parse_when, zone


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01T14:30:00Z", datetime(2026, 12, 1, 14, 30, tzinfo=UTC)),
        ("2026-12-01T14:30:00-05:00", datetime(2026, 12, 1, 19, 30, tzinfo=UTC)),
        ("2026-12-01T14:30:00+01:00", datetime(2026, 12, 1, 13, 30, tzinfo=UTC)),
        # No zone: read in the batch's zone (New York is UTC-5 in December).
        ("2026-12-01T14:30:00", datetime(2026, 12, 1, 19, 30, tzinfo=UTC)),
        ("2026-12-01 14:30", datetime(2026, 12, 1, 19, 30, tzinfo=UTC)),
        ("2026/12/01 14:30:15", datetime(2026, 12, 1, 19, 30, 15, tzinfo=UTC)),
        ("12/01/2026 2:30 PM", datetime(2026, 12, 1, 19, 30, tzinfo=UTC)),
        ("12/01/2026 14:30", datetime(2026, 12, 1, 19, 30, tzinfo=UTC)),
        ("01.12.2026 14:30", datetime(2026, 12, 1, 19, 30, tzinfo=UTC)),
        ("December 1, 2026 2:30 PM", datetime(2026, 12, 1, 19, 30, tzinfo=UTC)),
        ("Dec 1, 2026 14:30", datetime(2026, 12, 1, 19, 30, tzinfo=UTC)),
        ("2026-12-01", datetime(2026, 12, 1, 5, 0, tzinfo=UTC)),
        # Summer time in the batch zone (UTC-4 in July).
        ("2026-07-01 09:00", datetime(2026, 7, 1, 13, 0, tzinfo=UTC)),
        # Unix seconds and milliseconds, as numbers or digits.
        (1796135400, datetime(2026, 12, 1, 14, 30, tzinfo=UTC)),
        (1796135400000, datetime(2026, 12, 1, 14, 30, tzinfo=UTC)),
        ("1796135400", datetime(2026, 12, 1, 14, 30, tzinfo=UTC)),
        (1796135400.5, datetime(2026, 12, 1, 14, 30, 0, 500000, tzinfo=UTC)),
    ],
)
def test_times_are_read_in_the_batch_timezone(value: str | int | float, expected: datetime) -> None:
    assert parse_when(value, "America/New_York") == expected


@pytest.mark.parametrize(
    "value", ["tomorrow", "2026-13-01 10:00", "31/31/2026", "10:00", "", "  ", True, float("nan"), 1e300]
)
def test_what_is_not_a_time_is_refused(value: str | float | bool) -> None:
    with pytest.raises(ValueError, match=r"date|Unix|empty"):
        parse_when(value, "UTC")


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+01:00", "0001-01-01 00:00", "9999-12-31T23:59:59-01:00"]
)
def test_times_at_the_edge_of_the_calendar_are_refused_not_crashed_on(value: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_when(value, "Asia/Tokyo")


@settings(max_examples=500, deadline=None)
@given(value=st.one_of(st.text(max_size=40), st.integers(), st.floats(), st.datetimes().map(str)))
def test_any_value_is_an_instant_or_a_value_error(value: str | int | float) -> None:
    try:
        parsed = parse_when(value, "Asia/Tokyo")
    except ValueError:
        return
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "name", ["America", "Etc", "", "/etc/passwd", "../UTC", "Europe/../UTC", "A" * 300, "UTC\n"]
)
def test_a_name_that_is_no_time_zone_is_a_value_error_whatever_the_file_system_says(name: str) -> None:
    with pytest.raises(ValueError, match="is not an IANA time zone"):
        zone(name)


def test_time_zones_are_known_by_their_iana_names() -> None:
    assert zone("America/New_York").key == "America/New_York"
    assert zone("UTC").key == "UTC"


def test_a_long_name_is_shown_cut_short() -> None:
    with pytest.raises(ValueError, match="is not an IANA time zone") as refused:
        zone("A" * 100_000)
    assert len(str(refused.value)) < 200
