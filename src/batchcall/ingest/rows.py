"""One submitted row to one call draft, or to the reason it cannot be one. Pure: no database here."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError, field_validator

from batchcall.bounds import json_fault
from batchcall.config import Settings
from batchcall.ingest.phone import PhoneError, check_country_code, to_e164
from batchcall.ingest.storable import NUL_MESSAGE, contains_nul
from batchcall.ingest.times import MAX_ZONE_CHARS, parse_when, zone
from batchcall.models import Channel

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SCALAR = str | int | float | bool
# An email subject is one header line: RFC 5322 allows 998 characters.
MAX_SUBJECT_CHARS = 998


class RowIn(BaseModel):
    """A row as submitted; fields it does not name become variables for the agent."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, coerce_numbers_to_str=True)

    phone_number: str | None = Field(default=None, max_length=64)
    country_code: str | None = Field(default=None, max_length=8)
    name: str | None = Field(default=None, max_length=255)
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    channel: Channel | None = None
    instruction: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Strict numbers: lax mode would read true as Unix second 1.
    scheduled_time: Annotated[str, Field(max_length=64)] | StrictInt | StrictFloat | None = None
    timezone: str | None = Field(
        default=None, max_length=MAX_ZONE_CHARS, description="Reads scheduled_time; default the batch's"
    )
    call_type: str | None = Field(default=None, max_length=64)
    max_retries: int | None = Field(default=None, ge=0, le=20)
    source_record_id: str | None = Field(default=None, max_length=255)
    crm_contact_id: str | None = Field(default=None, max_length=255)
    user_phone_number: str | None = Field(default=None, max_length=64)
    email_subject: str | None = Field(default=None, max_length=MAX_SUBJECT_CHARS)
    email_template_name: str | None = Field(default=None, max_length=255)
    email_template_id: str | None = Field(default=None, max_length=255)
    email_template_params: dict[str, Any] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


@dataclass(frozen=True, slots=True)
class RowWording:
    """How an answer words row errors. The native API says ``Row 3: phone_number: ...``; a dialect names the
    native fields its own way (``fields``), and one whose body carries its rows as an array (``array``: C's
    ``tasks``, E's ``contacts``) points into that array by index instead: ``tasks[2].to_number: ...``, or
    ``tasks[2]: ...`` for a fault of the whole row. ``rows`` is its word for the rows of a request."""

    fields: Mapping[str, str] = field(default_factory=dict)
    array: str | None = None
    rows: str = "rows"


NATIVE_WORDING = RowWording()


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    # A native field of the row, or "row" for a fault of the whole row.
    field: str
    message: str

    def as_text(self, wording: RowWording = NATIVE_WORDING) -> str:
        name = wording.fields.get(self.field, self.field)
        if wording.array is None:
            return f"Row {self.row}: {name}: {self.message}"
        item = f"{wording.array}[{self.row - 1}]"
        return f"{item}: {self.message}" if self.field == "row" else f"{item}.{name}: {self.message}"


def _default(setting: str) -> int:
    value: int = Settings.model_fields[setting].default
    return value


@dataclass(frozen=True, slots=True)
class RowLimits:
    """How much a row may carry: its instruction's length, and the size and depth of its JSON values."""

    instruction_chars: int = _default("max_instruction_chars")
    json_bytes: int = _default("max_row_json_bytes")
    json_depth: int = _default("max_json_depth")

    @classmethod
    def of(cls, settings: Settings) -> Self:
        return cls(settings.max_instruction_chars, settings.max_row_json_bytes, settings.max_json_depth)


@dataclass(frozen=True, slots=True)
class RowRules:
    """What a row is checked against: the batch's defaults, the agent's needs and the limits."""

    channel: str
    timezone: str
    country_code: str | None
    required_variables: tuple[str, ...]
    limits: RowLimits = field(default_factory=RowLimits)


@dataclass(slots=True)
class CallDraft:
    row: int
    channel: str
    to: str | None
    email: str | None
    scheduled_time: datetime | None
    fields: dict[str, Any]

    @property
    def dedup_key(self) -> str:
        return f"{self.channel}:{self.to if self.channel != Channel.EMAIL else self.email}"


def normalize(raw: Any, row: int, rules: RowRules) -> CallDraft | RowError:
    if isinstance(raw, RowError):
        return raw
    if not isinstance(raw, dict):
        return RowError(row, "row", "must be an object with fields")
    if contains_nul(raw):
        return RowError(row, "row", NUL_MESSAGE)
    try:
        parsed = RowIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        # The row's own field name; deeper parts of the location are pydantic's (e.g. 'constrained-str').
        name = str(first["loc"][0]) if first["loc"] else "row"
        return RowError(row, name, first["msg"])
    limits = rules.limits
    if parsed.instruction is not None and len(parsed.instruction) > limits.instruction_chars:
        return RowError(
            row,
            "instruction",
            f"is longer than {limits.instruction_chars} characters (BATCHCALL_MAX_INSTRUCTION_CHARS)",
        )
    for name, stored in (
        ("metadata", parsed.metadata),
        ("email_template_params", parsed.email_template_params),
    ):
        fault = json_fault(stored, limits.json_bytes, limits.json_depth)
        if fault is not None:
            return RowError(row, name, fault)
    if parsed.timezone is not None:
        try:
            zone(parsed.timezone)
        except ValueError as exc:
            return RowError(row, "timezone", str(exc))
    timezone = parsed.timezone or rules.timezone
    channel = parsed.channel or rules.channel
    country_code = parsed.country_code or rules.country_code
    if parsed.country_code is not None:
        try:
            country_code = check_country_code(parsed.country_code)
        except PhoneError as exc:
            return RowError(row, "country_code", str(exc))
    to: str | None = None
    if parsed.phone_number is not None or channel != Channel.EMAIL:
        try:
            to = to_e164(parsed.phone_number or "", country_code)
        except PhoneError as exc:
            return RowError(row, "phone_number", str(exc))
    if parsed.email is not None and not _EMAIL.match(parsed.email):
        return RowError(row, "email", f"'{parsed.email}' is not an email address")
    if channel == Channel.EMAIL and parsed.email is None:
        return RowError(row, "email", "is required for channel email")
    scheduled_time = None
    if parsed.scheduled_time is not None:
        try:
            scheduled_time = parse_when(parsed.scheduled_time, timezone)
        except ValueError as exc:
            return RowError(row, "scheduled_time", str(exc))
    variables = dict(parsed.variables)
    for key, value in (parsed.model_extra or {}).items():
        if isinstance(value, _SCALAR) or value is None:
            variables.setdefault(key, value)
    fault = json_fault(variables, limits.json_bytes, limits.json_depth)
    if fault is not None:
        return RowError(row, "variables", fault)
    known = {**variables, **{k: v for k, v in _contact_values(parsed).items() if v is not None}}
    missing = [name for name in rules.required_variables if known.get(name) in (None, "")]
    if missing:
        return RowError(row, "variables", f"missing required variable(s): {', '.join(missing)}")
    user_phone = parsed.user_phone_number
    if user_phone is not None:
        try:
            user_phone = to_e164(user_phone, country_code)
        except PhoneError as exc:
            return RowError(row, "user_phone_number", str(exc))
    fields = {
        "name": parsed.name,
        "first_name": parsed.first_name,
        "last_name": parsed.last_name,
        "instruction": parsed.instruction,
        "variables": variables,
        "metadata": parsed.metadata,
        "call_type": parsed.call_type,
        "max_retries": parsed.max_retries,
        "source_record_id": parsed.source_record_id,
        "crm_contact_id": parsed.crm_contact_id,
        "user_phone_number": user_phone,
        "email_subject": parsed.email_subject,
        "email_template_name": parsed.email_template_name,
        "email_template_id": parsed.email_template_id,
        "email_template_params": parsed.email_template_params,
    }
    return CallDraft(row, channel, to, parsed.email, scheduled_time, fields)


def _contact_values(parsed: RowIn) -> dict[str, Any]:
    return {
        "name": parsed.name,
        "first_name": parsed.first_name,
        "last_name": parsed.last_name,
        "email": parsed.email,
        "phone_number": parsed.phone_number,
    }


def rules_for(
    channel: str,
    timezone: str,
    country_code: str | None,
    required: list[str],
    limits: RowLimits | None = None,
) -> RowRules:
    return RowRules(
        channel,
        timezone,
        check_country_code(country_code) if country_code else None,
        tuple(required),
        limits or RowLimits(),
    )
