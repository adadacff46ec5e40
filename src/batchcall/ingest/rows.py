"""One submitted row to one call draft, or to every reason it cannot be one. Pure: no database here.

A row's faults are of two kinds. An error refuses the row: no call can be made of it as it is (no number,
a required variable missing). A warning does not: the row is called, and what was wrong is said and left
out (a bad e-mail address on a phone row, a country that is not the number's). A refused row lists every
error it has, and its warnings among them, so that it can be fixed at one go.
"""

import re
import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError, field_validator

from batchcall.bounds import json_fault
from batchcall.config import Settings
from batchcall.ingest.phone import PhoneError, check_country_code, country_disagreement, to_e164
from batchcall.ingest.storable import NUL_MESSAGE, contains_nul
from batchcall.ingest.times import MAX_ZONE_CHARS, parse_when, zone
from batchcall.kit.errors import validation_message
from batchcall.mail.addresses import address_fault, is_address
from batchcall.models import Channel

_SCALAR = str | int | float | bool
# An email subject is one header line: RFC 5322 allows 998 characters.
MAX_SUBJECT_CHARS = 998
# A country as people write it: "United Kingdom of Great Britain and Northern Ireland" is 52 characters.
MAX_COUNTRY_CHARS = 64
# Fields of an e-mail that a phone or SMS row does not need: one that is wrong there is left out, and said.
EMAIL_ONLY_FIELDS = frozenset(
    {"email", "email_subject", "email_template_name", "email_template_id", "email_template_params"}
)
# Spaces, underscores, hyphens and dots: what variable names may differ by and still be one name.
_SEPARATORS = re.compile(r"[\s_.\-]+")


class RowIn(BaseModel):
    """A row as submitted; fields it does not name become variables for the agent."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, coerce_numbers_to_str=True)

    phone_number: str | None = Field(default=None, max_length=64)
    country_code: str | None = Field(default=None, max_length=MAX_COUNTRY_CHARS)
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
    """A fault of one row: an error, or (in the answer's ``warnings``) a warning of the same shape."""

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
    """What a row is checked against: the batch's defaults, the agent's needs and the limits.

    ``required_variables`` are those a row must give (the agent's required ones it has no default for);
    ``variable_names`` spell the agent's variables (``variable_key`` of each to the agent's name), so that a
    row's ``Invoice`` or ``invoice id`` is stored as the agent's ``invoice`` or ``invoice_id``."""

    channel: str
    timezone: str
    country_code: str | None
    required_variables: tuple[str, ...]
    limits: RowLimits = field(default_factory=RowLimits)
    variable_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class CallDraft:
    row: int
    channel: str
    to: str | None
    email: str | None
    scheduled_time: datetime | None
    fields: dict[str, Any]
    warnings: tuple[RowError, ...] = ()
    # The row's keys stored under the agent's spelling of the variable (as submitted -> the agent's).
    renamed: dict[str, str] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return f"{self.channel}:{self.to if self.channel != Channel.EMAIL else self.email}"


@dataclass(frozen=True, slots=True)
class InvalidRow:
    """A row no call can be made of: every fault it has, and its fields as submitted (those a database can
    keep), to be downloaded, fixed and sent again."""

    row: int
    errors: tuple[RowError, ...]
    values: dict[str, Any]

    @property
    def reason(self) -> str:
        """Its faults on one line, as the rejected rows' download says them."""
        return "; ".join(e.message if e.field == "row" else f"{e.field}: {e.message}" for e in self.errors)


@lru_cache(maxsize=8192)
def variable_key(name: str) -> str:
    """``name`` as variable names are compared: without case or separators (``Invoice-Id`` is
    ``invoice_id``)."""
    return _SEPARATORS.sub("", name.casefold())


def agent_spelling(
    variables: dict[str, Any], names: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``variables`` with each key that names one of the agent's variables in another spelling stored
    under the agent's; answers them and what was renamed. A key spelled as the agent spells it wins over
    other spellings of it, which stay as they are."""
    if not names:
        return variables, {}
    spelled = dict(variables)
    renamed: dict[str, str] = {}
    for key in variables:
        target = names.get(variable_key(key))
        if target is None or target == key or target in spelled:
            continue
        spelled[target] = spelled.pop(key)
        renamed[key] = target
    return spelled, renamed


class _Faults:
    """The faults found in one row so far. A warning says what was done about it (the field left out) when
    the row is called; when the row is refused anyway, it is one more thing to fix."""

    def __init__(self, row: int) -> None:
        self.row = row
        self.errors: list[RowError] = []
        self._warnings: list[tuple[str, str, str]] = []

    def error(self, name: str, message: str) -> None:
        """Note an error of field ``name``, unless it has one: a later one follows from the first (a number
        that failed to parse is then missing too)."""
        if not any(e.field == name for e in self.errors):
            self.errors.append(RowError(self.row, name, message))

    def warning(self, name: str, message: str, consequence: str = "left out") -> None:
        self._warnings.append((name, message, consequence))

    def warnings(self) -> tuple[RowError, ...]:
        """The warnings of a row that is called."""
        return tuple(RowError(self.row, name, f"{message}; {then}") for name, message, then in self._warnings)

    def all(self) -> tuple[RowError, ...]:
        """Every fault of a refused row, in the order of the row's fields."""
        faults = self.errors + [RowError(self.row, name, message) for name, message, _ in self._warnings]
        return tuple(sorted(faults, key=_field_order))


def normalize(raw: Any, row: int, rules: RowRules) -> CallDraft | InvalidRow:
    if isinstance(raw, RowError):
        return InvalidRow(row, (raw,), {})
    if not isinstance(raw, dict):
        return InvalidRow(row, (RowError(row, "row", "must be an object with fields"),), {})
    if contains_nul(raw):
        return InvalidRow(row, (RowError(row, "row", NUL_MESSAGE),), _storable(raw, rules.limits))
    faults = _Faults(row)
    channel = _channel(raw, rules)
    parsed = _parse(raw, faults, droppable=EMAIL_ONLY_FIELDS if channel != Channel.EMAIL else ())
    draft = _draft(parsed, faults, rules) if parsed is not None else None
    if draft is None:
        return InvalidRow(row, faults.all(), _storable(raw, rules.limits))
    draft.warnings = faults.warnings()
    return draft


_CHANNELS = frozenset(channel.value for channel in Channel)


def _channel(raw: dict[str, Any], rules: RowRules) -> str:
    """The row's channel as far as telling e-mail from the rest goes; a bad one is _parse's to report."""
    value = raw.get("channel")
    return value if isinstance(value, str) and value in _CHANNELS else rules.channel


def _parse(raw: dict[str, Any], faults: _Faults, droppable: Collection[str]) -> RowIn | None:
    """The row's fields, without those that are not what they should be: each is a fault (one in
    ``droppable`` a warning), and the rest are still checked."""
    try:
        return RowIn.model_validate(raw)
    except ValidationError as exc:
        failed: set[str] = set()
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "row"
            if name in failed:
                continue
            failed.add(name)
            message = validation_message(error)
            if name in droppable:
                faults.warning(name, message)
            else:
                faults.error(name, message)
    try:
        return RowIn.model_validate({k: v for k, v in raw.items() if k not in failed})
    except ValidationError:
        return None


def _draft(parsed: RowIn, faults: _Faults, rules: RowRules) -> CallDraft | None:
    """The call the row stands for, noting each fault in ``faults``; None when the row cannot be one."""
    limits = rules.limits
    channel = parsed.channel or rules.channel
    off_email = channel != Channel.EMAIL
    if parsed.instruction is not None and len(parsed.instruction) > limits.instruction_chars:
        faults.error(
            "instruction",
            f"is longer than {limits.instruction_chars} characters (BATCHCALL_MAX_INSTRUCTION_CHARS)",
        )
    template_params = parsed.email_template_params
    for name, stored in (("metadata", parsed.metadata), ("email_template_params", template_params)):
        # Most rows carry neither: nothing to measure.
        fault = json_fault(stored, limits.json_bytes, limits.json_depth) if stored else None
        if fault is None:
            continue
        if name == "email_template_params" and off_email:
            faults.warning(name, fault)
            template_params = None
        else:
            faults.error(name, fault)
    timezone = rules.timezone
    if parsed.timezone is not None:
        try:
            zone(parsed.timezone)
            timezone = parsed.timezone
        except ValueError as exc:
            faults.error("timezone", str(exc))
    to, country_code = _number(parsed, channel, rules, faults)
    email = parsed.email
    if email is not None and not is_address(email):
        fault = f"'{email}' {address_fault(email)}"
        if off_email:
            faults.warning("email", fault)
        else:
            faults.error("email", fault)
        email = None
    elif not off_email and email is None:
        faults.error("email", "is required for channel email")
    scheduled_time = None
    if parsed.scheduled_time is not None:
        try:
            scheduled_time = parse_when(parsed.scheduled_time, timezone)
        except ValueError as exc:
            faults.error("scheduled_time", str(exc))
    variables = dict(parsed.variables)
    for key, value in (parsed.model_extra or {}).items():
        if isinstance(value, _SCALAR) or value is None:
            variables.setdefault(key, value)
    variables, renamed = agent_spelling(variables, rules.variable_names)
    fault = json_fault(variables, limits.json_bytes, limits.json_depth)
    if fault is not None:
        faults.error("variables", fault)
    known = {**variables, **{k: v for k, v in _contact_values(parsed).items() if v is not None}}
    missing = [name for name in rules.required_variables if known.get(name) in (None, "")]
    if missing:
        faults.error("variables", f"missing required variable(s): {', '.join(missing)}")
    user_phone = parsed.user_phone_number
    if user_phone is not None:
        try:
            user_phone = to_e164(user_phone, country_code)
        except PhoneError as exc:
            faults.error("user_phone_number", str(exc))
    if faults.errors:
        return None
    # A field that was wrong where it is not needed is left out: absent from the parse, or set aside above.
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
        "email_template_params": template_params,
    }
    return CallDraft(faults.row, channel, to, email, scheduled_time, fields, renamed=renamed)


def _number(parsed: RowIn, channel: str, rules: RowRules, faults: _Faults) -> tuple[str | None, str | None]:
    """The row's number in E.164 (None for an e-mail row without one) and the country its national
    numbers are read in.

    The number wins over the row's country: a country that is not a ``+`` number's, or that is no country
    at all, is a warning on such a row. A national number needs a country to be read in, so there an
    unknown country is an error."""
    text = (parsed.phone_number or "").strip()
    needs_number = parsed.phone_number is not None or channel != Channel.EMAIL
    international = text.startswith("+")
    country_code = rules.country_code
    if parsed.country_code is not None:
        try:
            country_code = check_country_code(parsed.country_code)
        except PhoneError as exc:
            if needs_number and not international:
                faults.error("country_code", str(exc))
                if not text:
                    faults.error("phone_number", "is required")
                return None, None
            faults.warning("country_code", str(exc), "the number's own country is used")
            country_code = None
    if not needs_number:
        return None, country_code
    try:
        to = to_e164(text, country_code)
    except PhoneError as exc:
        faults.error("phone_number", str(exc))
        return None, country_code
    if international and parsed.country_code is not None and country_code is not None:
        disagreement = country_disagreement(to, country_code)
        if disagreement is not None:
            faults.warning("country_code", disagreement, "the number's own country is used")
    return to, country_code


_FIELD_ORDER = {name: index for index, name in enumerate(RowIn.model_fields)}


def _field_order(error: RowError) -> int:
    """A refused row's faults in the order of the row's fields, whatever order they were found in."""
    return _FIELD_ORDER.get(error.field, len(_FIELD_ORDER))


def _storable(raw: dict[str, Any], limits: RowLimits) -> dict[str, Any]:
    """The row's fields as they came, to be shown for fixing, but for one a database cannot keep: with a
    NUL character (PostgreSQL refuses it), nested too deep or not JSON at all (its reason names it). Size
    is no reason: a row is no larger than the request that brought it."""
    return {
        key: value
        for key, value in raw.items()
        if not contains_nul(key)
        and not contains_nul(value)
        and json_fault(value, sys.maxsize, limits.json_depth) is None
    }


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
    required: Iterable[str],
    limits: RowLimits | None = None,
    variables: Iterable[str] = (),
) -> RowRules:
    """The rules of a batch's rows; ``variables`` are the agent's variable names a row's keys are matched
    to (its required ones are matched in any case)."""
    required = tuple(required)
    names: dict[str, str] = {}
    for name in (*required, *variables):
        names.setdefault(variable_key(name), name)
    return RowRules(
        channel,
        timezone,
        check_country_code(country_code) if country_code else None,
        required,
        limits or RowLimits(),
        names,
    )
