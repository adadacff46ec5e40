import re
from datetime import datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, Field

from batchcall.bounds import Id, StoredJson
from batchcall.ingest.times import MAX_ZONE_CHARS, zone
from batchcall.kit.schema import Instant, Read, Write
from batchcall.models import RETRIABLE, RETRIED_BY_DEFAULT, Channel, Rotation
from batchcall.models.batch import DEFAULT_MAX_ABANDON_RATE

ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]
# A caller id as given (national forms included), and a pool of them larger than any campaign needs.
NUMBER_CHARS = 64
MAX_CALLER_IDS = 1000
# A time of day, HH:MM (or H:MM) on a 24-hour clock.
CLOCK_TIME = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$"


def _timezone(value: str) -> str:
    zone(value)
    return value


def _clock_time(value: str) -> str:
    if re.fullmatch(CLOCK_TIME, value) is None:
        raise ValueError(f"'{value}' is not a time of day as HH:MM")
    return time.fromisoformat(value.zfill(5)).strftime("%H:%M")


def _working_days(value: list[int]) -> list[int]:
    if not value:
        raise ValueError("needs at least one day")
    if any(day < 1 or day > 7 for day in value):
        raise ValueError("days run from 1 (Monday) to 7 (Sunday)")
    return sorted(set(value))


def _retry_on(value: list[str]) -> list[str]:
    unknown = [v for v in value if v not in RETRIABLE]
    if unknown:
        raise ValueError(f"cannot retry on {unknown}; choose from {[str(s) for s in RETRIABLE]}")
    return list(dict.fromkeys(value))


def _distinct(value: list[Channel]) -> list[Channel]:
    if len(set(value)) != len(value):
        raise ValueError("names a channel twice")
    return value


# The names ``zone`` accepts, listed in the OpenAPI document (which keeps one copy for all the fields).
TIME_ZONES = sorted(available_timezones())
TimeZone = Annotated[
    str, Field(max_length=MAX_ZONE_CHARS, json_schema_extra={"enum": TIME_ZONES}), AfterValidator(_timezone)
]
ClockTime = Annotated[
    str, Field(max_length=5, json_schema_extra={"pattern": CLOCK_TIME}), AfterValidator(_clock_time)
]
CallerIds = Annotated[list[Annotated[str, Field(max_length=NUMBER_CHARS)]], Field(max_length=MAX_CALLER_IDS)]
PhoneNumberIds = Annotated[list[Id], Field(max_length=MAX_CALLER_IDS)]
WorkingDays = Annotated[
    list[int],
    Field(json_schema_extra={"minItems": 1, "items": {"type": "integer", "minimum": 1, "maximum": 7}}),
    AfterValidator(_working_days),
]
RetryOn = Annotated[
    list[str],
    Field(json_schema_extra={"items": {"type": "string", "enum": [str(s) for s in RETRIABLE]}}),
    AfterValidator(_retry_on),
]

FallbackChannels = Annotated[
    list[Channel],
    Field(
        max_length=len(Channel),
        description="Where a call that did not reach the person goes next, in order, once its own channel "
        "has no attempt left (or its agent's voicemail is 'fallback'): e.g. ['sms'] texts the number after "
        "the last voice attempt. Each step is one more attempt of the call, under that channel's rules",
    ),
    AfterValidator(_distinct),
]
AbandonRate = Annotated[
    float,
    Field(
        ge=0,
        le=1,
        description="The share of live-answered calls the batch may abandon (no agent audio within 2 s of "
        "the answer) before it pauses itself",
    ),
]


class BatchSettings(Write):
    """The fields a batch may be created with and changed while it is a draft."""

    name: str = Field(min_length=1, max_length=255)
    agent_id: Id | None = None
    channel: Channel = Channel.PHONE
    call_type: str = Field(default="informational", max_length=64)
    language: str = Field(default="en", max_length=16)
    from_numbers: CallerIds = Field(default_factory=list, description="Caller ids, E.164")
    phone_number_ids: PhoneNumberIds = Field(default_factory=list)
    rotation: Rotation = Rotation.RANDOM
    scheduled_at: Instant | None = None
    ends_at: Instant | None = Field(default=None, description="Calls not placed by then end as expired")
    timezone: TimeZone = "UTC"
    start_time: ClockTime | None = Field(
        default=None, description="Daily window start, HH:MM, batch timezone"
    )
    end_time: ClockTime | None = Field(default=None, description="Daily window end, HH:MM, batch timezone")
    working_days: WorkingDays = Field(default_factory=lambda: list(ALL_DAYS), description="1=Mon .. 7=Sun")
    respect_recipient_timezone: bool = Field(
        default=True,
        description="Call only 08:00-21:00 in the recipient's local time (stricter in some states); "
        "false turns this off, and the batch's answers then carry a warning",
    )
    max_concurrent_calls: int = Field(default=10, ge=1, le=10_000)
    max_calls_per_day: int | None = Field(default=None, ge=1, le=2**31 - 1)
    max_calls_per_second: float | None = Field(default=None, gt=0, le=10_000)
    max_retry_attempts: int = Field(default=0, ge=0, le=20)
    retry_delay_seconds: int = Field(default=300, ge=0, le=30 * 86_400)
    retry_on: RetryOn = Field(default_factory=lambda: [str(s) for s in RETRIED_BY_DEFAULT])
    dedup_days: int | None = Field(default=None, ge=0, le=3650, description="Default: the workspace's")
    fallback_channels: FallbackChannels = Field(default_factory=list)
    max_abandon_rate: AbandonRate = DEFAULT_MAX_ABANDON_RATE
    file_name: str | None = Field(default=None, max_length=255)
    source_system: str | None = Field(default=None, max_length=255)
    source_org_id: str | None = Field(default=None, max_length=255)
    source_object: str | None = Field(default=None, max_length=255)
    metadata: StoredJson = Field(default_factory=dict)


class BatchCreate(BatchSettings):
    schedule: Literal["draft", "immediate", "scheduled"] | None = Field(
        default=None, description="'immediate' starts now; a scheduled_at schedules; otherwise a draft"
    )
    contact_folder_id: Id | None = Field(
        default=None, description="A contact folder: the batch is created with a call to each of its contacts"
    )
    contact_source: Literal["manual", "csv"] = Field(
        default="manual",
        description="Where the calls come from: rows sent to it (manual) or a CSV file; 'folder' with "
        "contact_folder_id",
    )


class BatchUpdate(Write):
    """Any subset of the settings; only a draft may change."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    agent_id: Id | None = None
    channel: Channel | None = None
    call_type: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=16)
    from_numbers: CallerIds | None = None
    phone_number_ids: PhoneNumberIds | None = None
    rotation: Rotation | None = None
    scheduled_at: Instant | None = None
    ends_at: Instant | None = None
    timezone: TimeZone | None = None
    start_time: ClockTime | None = None
    end_time: ClockTime | None = None
    working_days: WorkingDays | None = None
    respect_recipient_timezone: bool | None = None
    max_concurrent_calls: int | None = Field(default=None, ge=1, le=10_000)
    max_calls_per_day: int | None = Field(default=None, ge=1, le=2**31 - 1)
    max_calls_per_second: float | None = Field(default=None, gt=0, le=10_000)
    max_retry_attempts: int | None = Field(default=None, ge=0, le=20)
    retry_delay_seconds: int | None = Field(default=None, ge=0, le=30 * 86_400)
    retry_on: RetryOn | None = None
    dedup_days: int | None = Field(default=None, ge=0, le=3650)
    fallback_channels: FallbackChannels | None = None
    max_abandon_rate: AbandonRate | None = None
    file_name: str | None = Field(default=None, max_length=255)
    source_system: str | None = Field(default=None, max_length=255)
    source_org_id: str | None = Field(default=None, max_length=255)
    source_object: str | None = Field(default=None, max_length=255)
    metadata: StoredJson | None = None


class Counters(BaseModel):
    total: int = 0
    queued: int = 0
    in_progress: int = 0
    completed: int = 0
    no_answer: int = 0
    busy: int = 0
    voicemail: int = 0
    failed: int = 0
    skipped: int = 0
    canceled: int = 0
    expired: int = 0
    unknown: int = Field(default=0, description="Calls dialled whose outcome the provider never told")
    sent: int = Field(default=0, description="Calls dialled at least once")
    picked_up: int = Field(default=0, description="Calls answered by a person")


class Abandonment(BaseModel):
    """The batch's abandoned calls: answered by a person who heard no agent within 2 s."""

    live_answered: int = Field(
        description="Calls answered by a person (not a machine) with an agent on the line"
    )
    abandoned: int = Field(description="Of those, calls whose agent said nothing within 2 s of the answer")
    rate: float = Field(description="abandoned / live_answered (0 before any)")
    limit: float = Field(description="The batch's max_abandon_rate: over it, the batch pauses itself")


class BatchRead(Read):
    id: str
    name: str
    status: str
    status_reason: str | None
    agent_id: str | None
    channel: str
    call_type: str
    language: str
    from_numbers: list[str]
    rotation: str
    schedule: str
    scheduled_at: datetime | None
    ends_at: datetime | None
    timezone: str
    start_time: str | None
    end_time: str | None
    working_days: list[int]
    respect_recipient_timezone: bool
    max_concurrent_calls: int
    max_calls_per_day: int | None
    max_calls_per_second: float | None
    max_retry_attempts: int
    retry_delay_seconds: int
    retry_on: list[str]
    dedup_days: int
    fallback_channels: list[str]
    max_abandon_rate: float
    file_name: str | None
    contact_source: str
    contact_folder_id: str | None
    source_system: str | None
    source_org_id: str | None
    source_object: str | None
    metadata: dict[str, Any]
    waiting_reason: str | None = Field(
        description="Why the batch is not dialling now (a code: outside_window, not_working_day, "
        "recipient_hours, batch_daily_cap, caller_id_daily_cap, calls_per_second, all_in_flight, "
        "no_caller_id, agent_unavailable, breaker, abandoned_calls, nothing_due, scheduled_start); for a "
        "draft, what would hold its first dial if it started now; null when nothing holds it"
    )
    waiting_detail: str | None = Field(
        description="The waiting reason in words, with the figures that matter"
    )
    next_dial_at: datetime | None = Field(
        description="When the batch may dial next (for a draft: its first dial if started now); null "
        "while it is dialling or when no time can be told"
    )
    warnings: list[str] = Field(description="What about the batch's settings may surprise; empty if nothing")
    counters: Counters
    abandonment: Abandonment
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
