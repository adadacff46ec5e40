"""Dialect B, the batch calls resource (seeds/B-batch-calls-resource.txt).

``/v1/batch-calls``: list, get, create, update (draft only), delete, add contacts (JSON rows or a CSV file),
schedule, pause and resume, with a Bearer key and ``X-Idempotency-Key``. A batch call is created as a draft
(with its contacts when they come from a contact folder) and started by ``schedule``. Answers are
``{data, meta}`` or ``{data, pagination}``; a transition from the wrong state is a 422 with a message.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, Self, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from batchcall.auth.dependencies import DbSession
from batchcall.batches import service as batches
from batchcall.batches.schemas import (
    BatchCreate,
    BatchUpdate,
    ClockTime,
    Counters,
    PhoneNumberIds,
    TimeZone,
    WorkingDays,
)
from batchcall.bounds import COUNTRY_CODE_CHARS, CountryCode, Id
from batchcall.calls import ingestion
from batchcall.calls.ingestion import IngestOptions, IngestResult
from batchcall.calls.schemas import RowErrorOut
from batchcall.dialects.auth import BearerReader, BearerWriter
from batchcall.dialects.routing import Fault, envelope_route, parse_body
from batchcall.ingest.csvfile import read_rows
from batchcall.ingest.rows import RowWording
from batchcall.kit.errors import Invalid
from batchcall.kit.pagination import Offset, Page
from batchcall.models import RETRIED_BY_DEFAULT, Batch, BatchStatus, Rotation
from batchcall.numbers import service as numbers
from batchcall.web.http import error_body
from batchcall.web.routing import runtime_of

TAG = "dialect B: batch calls"
WEEKDAYS = [1, 2, 3, 4, 5]
T = TypeVar("T")

ContactSource = Literal["csv", "folder", "manual"]
# B's word for the rows of a request, for the refusal of too many.
CONTACTS = RowWording(rows="contacts")
# B's names for what a batch call that starts must have.
STARTING = batches.Starting(caller_field="phone_number_ids")


class BatchCallCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=255, description="Campaign name")
    agent_id: Id = Field(min_length=1, description="Agent that will make the calls")
    phone_number_ids: PhoneNumberIds = Field(
        default_factory=list, description="Outbound number ids; if empty, the numbers assigned to the agent"
    )
    phone_rotation_strategy: Rotation = Rotation.RANDOM
    contact_source: ContactSource = "csv"
    contact_folder_id: Id | None = Field(default=None, description="Required when contact_source is folder")
    schedule_type: Literal["immediate", "scheduled"] = "immediate"
    scheduled_at: datetime | None = Field(
        default=None, description="Required when schedule_type is scheduled"
    )
    timezone: TimeZone = "UTC"
    start_time: ClockTime | None = Field(default=None, description="Daily calling window start, HH:MM")
    end_time: ClockTime | None = Field(default=None, description="Daily calling window end, HH:MM")
    working_days: WorkingDays = Field(default_factory=lambda: list(WEEKDAYS), description="1=Mon .. 7=Sun")
    max_concurrent_calls: int = Field(default=10, ge=1, le=100)
    max_calls_per_day: int | None = Field(default=None, ge=1)
    retry_failed: bool = False
    max_retry_attempts: int = Field(default=0, ge=0, le=3)

    @model_validator(mode="after")
    def _dependent_fields(self) -> Self:
        if self.contact_source == "folder" and not self.contact_folder_id:
            raise ValueError("contact_folder_id is required when contact_source is folder")
        if self.schedule_type == "scheduled" and self.scheduled_at is None:
            raise ValueError("scheduled_at is required when schedule_type is scheduled")
        return self


class BatchCallUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=255)
    phone_number_ids: PhoneNumberIds | None = None
    phone_rotation_strategy: Rotation | None = None
    scheduled_at: datetime | None = None
    start_time: ClockTime | None = None
    end_time: ClockTime | None = None
    working_days: WorkingDays | None = None
    max_concurrent_calls: int | None = Field(default=None, ge=1, le=100)
    max_calls_per_day: int | None = Field(default=None, ge=1)
    retry_failed: bool | None = None
    max_retry_attempts: int | None = Field(default=None, ge=0, le=3)


class BatchContact(BaseModel):
    """A contact to call; fields not named here become variables for the agent."""

    model_config = ConfigDict(extra="allow")

    phone_number: str
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    email: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    scheduled_time: str | None = None


class BatchContactsAdd(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # Each contact is checked by the native ingestion, so one bad contact is reported, not fatal.
    contacts: Annotated[
        list[Any], WithJsonSchema({"type": "array", "items": BatchContact.model_json_schema(), "minItems": 1})
    ] = Field(min_length=1)
    country_code: CountryCode | None = Field(default=None, description="Region for national numbers, e.g. US")
    update_existing: bool = Field(default=False, description="Overwrite known contacts' names and email")


class BatchCallOut(BaseModel):
    id: str
    name: str
    agent_id: str | None
    status: str
    contact_source: str
    contact_folder_id: str | None
    phone_number_ids: list[str]
    phone_numbers: list[str]
    phone_rotation_strategy: str
    schedule_type: str
    scheduled_at: datetime | None
    timezone: str
    start_time: str | None
    end_time: str | None
    working_days: list[int]
    max_concurrent_calls: int
    max_calls_per_day: int | None
    retry_failed: bool
    max_retry_attempts: int
    counters: Counters
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class ContactsAdded(BaseModel):
    added: int
    skipped: int
    errors: list[RowErrorOut] = Field(
        description="The first row errors in row order, at most the server's max_errors_listed"
    )
    error_count: int = Field(description="How many row errors there were, listed or not")
    call_ids: list[str]


class Deleted(BaseModel):
    id: str
    deleted: bool = True


class Meta(BaseModel):
    timestamp: datetime


class One(BaseModel, Generic[T]):
    data: T
    meta: Meta


def render(fault: Fault) -> JSONResponse:
    """The native error body; a wrong state is a 422 here, as the seed says, where natively it is a 409."""
    details = {"errors": fault.errors} if fault.errors else fault.details
    status_code = 422 if fault.status_code == 409 else fault.status_code
    return JSONResponse(error_body(fault.code, fault.message, **details), status_code=status_code)


router = APIRouter(prefix="/v1/batch-calls", tags=[TAG], route_class=envelope_route(render))


def _one(request: Request, data: T) -> One[T]:
    return One(data=data, meta=Meta(timestamp=runtime_of(request).clock.now()))


def _present(session: Session, found: Sequence[Batch]) -> list[BatchCallOut]:
    """Batch calls as B shows them: the native batch with B's names, its numbers also by id."""
    pool = sorted({number for batch in found for number in batch.from_numbers})
    registered = numbers.registered(session, found[0].workspace_id, pool) if found else {}
    counters = batches.counters_of(session, found)
    answers = []
    for batch in found:
        answers.append(
            BatchCallOut(
                id=batch.id,
                name=batch.name,
                agent_id=batch.agent_id,
                status=batch.status,
                contact_source=batch.contact_source,
                contact_folder_id=batch.contact_folder_id,
                phone_number_ids=[registered[n].id for n in batch.from_numbers if n in registered],
                phone_numbers=batch.from_numbers,
                phone_rotation_strategy=batch.rotation,
                schedule_type=batch.schedule,
                scheduled_at=batch.scheduled_at,
                timezone=batch.timezone,
                start_time=batch.start_time,
                end_time=batch.end_time,
                working_days=batch.working_days,
                max_concurrent_calls=batch.max_concurrent_calls,
                max_calls_per_day=batch.max_calls_per_day,
                retry_failed=bool(batch.retry_on),
                max_retry_attempts=batch.max_retry_attempts,
                counters=counters[batch.id],
                created_at=batch.created_at,
                updated_at=batch.updated_at,
                started_at=batch.started_at,
                completed_at=batch.completed_at,
            )
        )
    return answers


def _in_zone(value: datetime | None, timezone: str) -> datetime | None:
    """A time given without an offset is read in the batch's timezone; stored as UTC."""
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(timezone))).astimezone(UTC)


@router.get("")
def list_batch_calls(
    principal: BearerReader,
    session: DbSession,
    agent_id: str | None = None,
    status: BatchStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Offset = 0,
) -> Page[BatchCallOut]:
    found, total = batches.list_batches(session, principal.workspace_id, status, agent_id, limit, offset)
    return Page.of(_present(session, found), total, limit, offset)


@router.get("/{batch_id}")
def get_batch_call(
    batch_id: str, request: Request, principal: BearerReader, session: DbSession
) -> One[BatchCallOut]:
    return _one(request, _present(session, [batches.get(session, principal.workspace_id, batch_id)])[0])


@router.post("", status_code=201)
def create_batch_call(
    body: BatchCallCreate, request: Request, principal: BearerWriter, session: DbSession
) -> One[BatchCallOut]:
    """A draft batch call; with ``contact_source: folder`` it holds the folder's contacts already."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    from_folder = body.contact_source == "folder"
    settings = BatchCreate(
        name=body.name,
        agent_id=body.agent_id,
        phone_number_ids=body.phone_number_ids,
        rotation=body.phone_rotation_strategy,
        scheduled_at=_in_zone(body.scheduled_at, body.timezone)
        if body.schedule_type == "scheduled"
        else None,
        timezone=body.timezone,
        start_time=body.start_time,
        end_time=body.end_time,
        working_days=body.working_days,
        max_concurrent_calls=body.max_concurrent_calls,
        max_calls_per_day=body.max_calls_per_day,
        max_retry_attempts=body.max_retry_attempts,
        retry_on=[str(s) for s in RETRIED_BY_DEFAULT] if body.retry_failed else [],
        contact_folder_id=body.contact_folder_id if from_folder else None,
        contact_source="manual" if body.contact_source == "manual" else "csv",
        schedule="draft",
    )
    options = IngestOptions.of(runtime.settings)
    try:
        batch = batches.create(session, principal.workspace_id, settings, now, dialect="b", ingest=options)
    except batches.UnknownReference as exc:
        # As B's seed does: an id in the body that names nothing is a bad body, not a missing resource.
        raise Invalid(f"{exc.field}: {exc.noun} {exc.id} does not exist") from None
    return _one(request, _present(session, [batch])[0])


@router.patch("/{batch_id}")
def update_batch_call(
    batch_id: str, body: BatchCallUpdate, request: Request, principal: BearerWriter, session: DbSession
) -> One[BatchCallOut]:
    """Change any of the settings while the batch call is a draft (422 otherwise)."""
    batch = batches.get(session, principal.workspace_id, batch_id)
    changes = body.model_dump(exclude_unset=True, exclude={"phone_rotation_strategy", "retry_failed"})
    if body.phone_rotation_strategy is not None:
        changes["rotation"] = body.phone_rotation_strategy
    if body.retry_failed is not None:
        changes["retry_on"] = [str(s) for s in RETRIED_BY_DEFAULT] if body.retry_failed else []
    if "scheduled_at" in changes:
        changes["scheduled_at"] = _in_zone(body.scheduled_at, batch.timezone)
    now = runtime_of(request).clock.now()
    updated = batches.update_settings(session, principal.workspace_id, batch_id, BatchUpdate(**changes), now)
    return _one(request, _present(session, [updated])[0])


@router.delete("/{batch_id}")
def delete_batch_call(
    batch_id: str, request: Request, principal: BearerWriter, session: DbSession
) -> One[Deleted]:
    """Delete a draft, completed or canceled batch call with its calls (422 while it runs)."""
    batches.delete(session, principal.workspace_id, batch_id)
    return _one(request, Deleted(id=batch_id))


@router.post(
    "/{batch_id}/contacts",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": BatchContactsAdd.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "CSV, one contact a row",
                            },
                            "country_code": {"type": "string"},
                            "update_existing": {"type": "boolean"},
                        },
                    }
                },
            },
        }
    },
)
async def add_contacts(
    batch_id: str, request: Request, principal: BearerWriter, session: DbSession
) -> One[ContactsAdded]:
    """Add contacts as JSON (``contacts``) or as a CSV file (multipart ``file``); bad rows are reported."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("file: a CSV file is required")
        update_existing = _text(form.get("update_existing")) in {"true", "1", "yes", "on"}
        country_code = _text(form.get("country_code"))
        if country_code is not None and len(country_code) > COUNTRY_CODE_CHARS:
            raise Invalid("country_code: must be a country code such as US")
        options = IngestOptions.of(runtime.settings, country_code, update_existing, wording=CONTACTS)

        def ingest_csv() -> IngestResult:
            _, rows = read_rows(upload.file, runtime.settings)
            return ingestion.submit(session, principal.workspace_id, batch_id, rows, now, options)

        result = await run_in_threadpool(ingest_csv)
    else:
        body = parse_body(BatchContactsAdd, await request.body())
        options = IngestOptions.of(
            runtime.settings, body.country_code, body.update_existing, wording=CONTACTS
        )
        rows = enumerate(body.contacts, start=1)

        def ingest_json() -> IngestResult:
            return ingestion.submit(
                session, principal.workspace_id, batch_id, rows, now, options, len(body.contacts)
            )

        result = await run_in_threadpool(ingest_json)
    added = ContactsAdded(
        added=result.accepted,
        skipped=result.skipped,
        errors=list(result.errors),
        error_count=result.errors.count,
        call_ids=result.call_ids,
    )
    return _one(request, added)


def _text(value: object) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


@router.post("/{batch_id}/schedule")
def schedule_batch_call(
    batch_id: str, request: Request, principal: BearerWriter, session: DbSession
) -> One[BatchCallOut]:
    """Start a draft that has contacts: now, or at its ``scheduled_at`` (422 otherwise)."""
    now = runtime_of(request).clock.now()
    batch = batches.schedule(session, principal.workspace_id, batch_id, now, STARTING)
    return _one(request, _present(session, [batch])[0])


@router.post("/{batch_id}/pause")
def pause_batch_call(
    batch_id: str, request: Request, principal: BearerWriter, session: DbSession
) -> One[BatchCallOut]:
    """Pause an active or scheduled batch call (422 otherwise); calls in flight finish."""
    batch = batches.pause(session, principal.workspace_id, batch_id, runtime_of(request).clock.now())
    return _one(request, _present(session, [batch])[0])


@router.post("/{batch_id}/resume")
def resume_batch_call(
    batch_id: str, request: Request, principal: BearerWriter, session: DbSession
) -> One[BatchCallOut]:
    """Resume a paused batch call (422 otherwise)."""
    batch = batches.resume(session, principal.workspace_id, batch_id, runtime_of(request).clock.now())
    return _one(request, _present(session, [batch])[0])
