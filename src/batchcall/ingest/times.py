"""Times a row may give for its call: ISO 8601, Unix seconds or milliseconds, and common written forms."""

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

COMMON_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%d.%m.%Y %H:%M",
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%B %d, %Y %H:%M",
    "%B %d, %Y %I:%M %p",
    "%b %d, %Y %H:%M",
    "%b %d, %Y %I:%M %p",
)

# Epoch numbers above this are milliseconds (it is 2286 in seconds).
_MILLISECONDS_FROM = 10_000_000_000
# The longest IANA zone name is 32 characters; the batch column holds 64.
MAX_ZONE_CHARS = 64


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``. Only known names reach ``ZoneInfo``, which reads any other as a path and
    fails with whatever the file system says (a directory, a name too long)."""
    if len(name) > MAX_ZONE_CHARS or name not in _zone_names():
        shown = name if len(name) <= MAX_ZONE_CHARS else name[:MAX_ZONE_CHARS] + "..."
        raise ValueError(f"'{shown}' is not an IANA time zone (e.g. 'America/New_York')")
    return ZoneInfo(name)


def parse_when(value: str | int | float, timezone: str) -> datetime:
    """An aware UTC instant; a time without a zone is read in ``timezone``."""
    if isinstance(value, bool):
        raise ValueError("is not a date and time")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > _MILLISECONDS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{value} is not a Unix time") from None
    text = value.strip()
    if not text:
        raise ValueError("is empty")
    if text.isdigit():
        return parse_when(int(text), timezone)
    parsed = _parse_text(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(timezone))
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"'{text}' is out of range once moved to UTC") from None


def _parse_text(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        pass
    for fmt in COMMON_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a date and time (use ISO 8601, e.g. 2026-06-01T14:30:00-04:00)")
