"""Dialect A, the bulk calls JSON API (seeds/A-bulk-calls-json-api.txt).

``POST /bulk-calls/submit`` (JSON rows) and ``POST /bulk-calls/upload`` (a CSV file with the same campaign
fields as form fields) open a batch that starts at once; ``GET /bulk-calls/batches[/{batch_id}]`` report on
them. A Bearer key with the ``call_management`` scope is needed, and ``domain_name`` must be its workspace's
slug. Faults answer in the submit envelope, ``success: false``, with 400 for a bad request.
"""

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from sqlalchemy.orm import Session

from batchcall.auth import service as auth
from batchcall.auth.dependencies import DbSession
from batchcall.auth.service import Principal
from batchcall.batches import service as batches
from batchcall.batches.schemas import BatchCreate, BatchRead
from batchcall.calls import ingestion
from batchcall.calls.ingestion import IngestOptions, IngestResult
from batchcall.dialects.auth import BearerWriter
from batchcall.dialects.routing import Fault, envelope_route
from batchcall.ingest.csvfile import read_rows
from batchcall.ingest.rows import RowError
from batchcall.kit.errors import Invalid
from batchcall.kit.pagination import Offset, Pagination
from batchcall.models import Batch, BatchStatus
from batchcall.web.routing import runtime_of

TAG = "dialect A: bulk calls"
MAX_ROWS = 1000
# A's batches have no agent: each row's instruction is what the call says; A has no caller-id field.
STARTING = batches.Starting(instructions_stand_in=True, agent_field=None, caller_field=None)


class BulkRow(BaseModel):
    """One contact row; fields not named here become variables for the agent."""

    model_config = ConfigDict(extra="allow")

    instruction: str = Field(description="Agent instruction for this contact")
    phone_number: str | None = Field(default=None, description="For phone/SMS: E.164 or North American")
    email: str | None = Field(default=None, description="For channel=email: recipient email")
    email_address: str | None = Field(default=None, description="Same as email")
    name: str | None = Field(default=None, description="Display name")
    channel: str | None = Field(default=None, description="phone, sms or email")
    call_type: str | None = Field(default=None, description="Row override of the campaign's call_type")
    scheduled_time: str | None = Field(default=None, description="ISO or common datetime formats")
    user_phone_number: str | None = Field(default=None, description="Initiator/broker phone")
    email_template_name: str | None = Field(default=None, description="Hub email layout name")
    email_subject: str | None = Field(default=None, description="Email subject")
    email_template_id: str | None = Field(default=None, description="Hub template id")
    email_template_params: dict[str, Any] | None = Field(default=None, description="Placeholder values")
    source_record_id: str | None = Field(default=None, description="CRM person id for sync")
    crm_contact_id: str | None = Field(default=None, description="Optional contact hint")


class BulkCampaign(BaseModel):
    """The campaign-level fields, shared by submit (JSON) and upload (form fields)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    domain_name: str = Field(min_length=1, max_length=255, description="Hub domain slug")
    call_type: str = Field(default="informational", min_length=1, max_length=64)
    language: str = Field(default="en", min_length=2, max_length=16)
    campaign_name: str | None = Field(default=None, max_length=255, description="Stored as batch file_name")
    source_system: str | None = Field(default=None, max_length=255, description="e.g. twenty, followupboss")
    source_org_id: str | None = Field(default=None, max_length=255, description="Workspace ID or domain slug")
    source_object: str = Field(default="person", min_length=1, max_length=255)


class BulkSubmit(BulkCampaign):
    # Rows are checked one by one by the native ingestion, so one bad row never sinks the request.
    rows: Annotated[
        list[Any],
        WithJsonSchema(
            {"type": "array", "items": BulkRow.model_json_schema(), "minItems": 1, "maxItems": MAX_ROWS}
        ),
    ] = Field(min_length=1, description=f"Contact rows (max {MAX_ROWS})")


class BulkSubmitAnswer(BaseModel):
    success: bool
    batch_id: str | None
    queued_calls: int
    skipped_calls: int
    errors: list[str] = Field(
        description="The first errors in row order, at most the server's max_errors_listed"
    )
    error_count: int = Field(description="How many errors there were, listed or not")
    message: str


class BulkBatch(BaseModel):
    batch_id: str
    file_name: str | None
    status: str
    call_type: str
    language: str
    source_system: str | None
    source_org_id: str | None
    source_object: str | None
    total_calls: int
    queued_calls: int
    in_progress_calls: int
    completed_calls: int
    failed_calls: int
    no_answer_calls: int
    busy_calls: int
    voicemail_calls: int
    skipped_calls: int
    canceled_calls: int
    expired_calls: int
    unknown_calls: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, batch: BatchRead) -> "BulkBatch":
        counts = batch.counters
        return cls(
            batch_id=batch.id,
            file_name=batch.file_name,
            status=batch.status,
            call_type=batch.call_type,
            language=batch.language,
            source_system=batch.source_system,
            source_org_id=batch.source_org_id,
            source_object=batch.source_object,
            total_calls=counts.total,
            queued_calls=counts.queued,
            in_progress_calls=counts.in_progress,
            completed_calls=counts.completed,
            failed_calls=counts.failed,
            no_answer_calls=counts.no_answer,
            busy_calls=counts.busy,
            voicemail_calls=counts.voicemail,
            skipped_calls=counts.skipped,
            canceled_calls=counts.canceled,
            expired_calls=counts.expired,
            unknown_calls=counts.unknown,
            created_at=batch.created_at,
            started_at=batch.started_at,
            completed_at=batch.completed_at,
        )


class BulkBatchList(BaseModel):
    success: bool = True
    batches: list[BulkBatch]
    pagination: Pagination


class BulkBatchDetail(BaseModel):
    success: bool = True
    batch: BulkBatch


def render(fault: Fault) -> JSONResponse:
    """Faults in the submit envelope; what the native API calls 422 is a plain 400 here."""
    errors = [f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in fault.errors]
    answer = BulkSubmitAnswer(
        success=False,
        batch_id=None,
        queued_calls=0,
        skipped_calls=0,
        errors=errors or [fault.message],
        error_count=max(fault.error_count, len(errors), 1),
        message=fault.message,
    )
    return JSONResponse(
        answer.model_dump(), status_code=400 if fault.status_code == 422 else fault.status_code
    )


router = APIRouter(prefix="/bulk-calls", tags=[TAG], route_class=envelope_route(render))


def _open_batch(
    session: Session, request: Request, principal: Principal, campaign: BulkCampaign, file_name: str | None
) -> Batch:
    """A draft batch for the rows, paced by BULK_CALL_RATE_LIMIT and de-duplicated by customer_dedup_days;
    ``_start`` starts it once they are in."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    auth.require_own_workspace(session, principal, campaign.domain_name, "domain")
    settings = BatchCreate(
        name=file_name or f"Bulk calls {now:%Y-%m-%d %H:%M}",
        file_name=file_name,
        call_type=campaign.call_type,
        language=campaign.language,
        source_system=campaign.source_system,
        source_org_id=campaign.source_org_id,
        source_object=campaign.source_object,
        max_calls_per_second=runtime.settings.bulk_call_rate_limit,
        schedule="draft",
    )
    return batches.create(session, principal.workspace_id, settings, now, dialect="a")


def _start(
    session: Session, request: Request, principal: Principal, batch: Batch, result: IngestResult
) -> None:
    """Start the batch at once, as A's batches do: its rows' instructions say what to say (A has no
    agent), and it calls from the workspace's numbers assigned to no agent. A submission that can call
    nobody leaves no batch behind."""
    if result.accepted == 0:
        raise Invalid(f"No row can be called: {result.errors.summary()}")
    now = runtime_of(request).clock.now()
    batches.schedule(session, principal.workspace_id, batch.id, now, STARTING)


def _native_rows(rows: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    """A's rows with native names: ``email_address`` is ``email``, and each row needs an instruction."""
    for number, raw in rows:
        if not isinstance(raw, dict):
            yield number, raw
            continue
        row = dict(raw)
        address = row.pop("email_address", None)
        if row.get("email") in (None, "") and address is not None:
            row["email"] = address
        instruction = row.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            yield number, RowError(number, "instruction", "is required")
            continue
        yield number, row


def _answer(batch: Batch, result: IngestResult) -> BulkSubmitAnswer:
    return BulkSubmitAnswer(
        success=True,
        batch_id=batch.id,
        queued_calls=result.accepted,
        skipped_calls=result.skipped,
        errors=[error.as_text() for error in result.errors],
        error_count=result.errors.count,
        message=f"Batch created with {result.accepted} calls. Processing will start shortly.",
    )


@router.post("/submit")
def submit(
    request: Request, body: BulkSubmit, principal: BearerWriter, session: DbSession
) -> BulkSubmitAnswer:
    """Up to 1000 rows as one batch that starts at once; bad rows are skipped as ``Row N: ...``. It needs
    a phone number of the workspace assigned to no agent to call from (409 otherwise)."""
    if len(body.rows) > MAX_ROWS:
        raise Invalid(f"At most {MAX_ROWS} rows per submit; this one has {len(body.rows)}")
    batch = _open_batch(session, request, principal, body, body.campaign_name)
    runtime = runtime_of(request)
    rows = _native_rows(enumerate(body.rows, start=1))
    options = IngestOptions.of(runtime.settings)
    now = runtime.clock.now()
    result = ingestion.submit(session, principal.workspace_id, batch.id, rows, now, options, len(body.rows))
    _start(session, request, principal, batch, result)
    return _answer(batch, result)


@router.post("/upload")
def upload(
    request: Request,
    file: UploadFile,
    campaign: Annotated[BulkCampaign, Form()],
    principal: BearerWriter,
    session: DbSession,
) -> BulkSubmitAnswer:
    """The same from a CSV file (UTF-8 or Latin-1, header aliases); ``campaign_name`` defaults to its name."""
    header, rows = read_rows(file.file, runtime_of(request).settings, require_phone=False)
    if "phone_number" not in header and "email" not in header:
        found = ", ".join(repr(h) for h in header if h) or "none"
        raise Invalid(f"The CSV file has no phone number or email column; columns found: {found}")
    batch = _open_batch(session, request, principal, campaign, campaign.campaign_name or file.filename)
    runtime = runtime_of(request)
    options = IngestOptions.of(runtime.settings)
    now = runtime.clock.now()
    result = ingestion.submit(session, principal.workspace_id, batch.id, _native_rows(rows), now, options)
    _start(session, request, principal, batch, result)
    return _answer(batch, result)


@router.get("/batches")
def list_batches(
    request: Request,
    principal: BearerWriter,
    session: DbSession,
    status: BatchStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Offset = 0,
) -> BulkBatchList:
    """The workspace's batches, newest first, with their call counts."""
    found, total = batches.list_batches(session, principal.workspace_id, status, None, limit, offset)
    return BulkBatchList(
        batches=[BulkBatch.of(b) for b in batches.present(session, found, runtime_of(request).clock.now())],
        pagination=Pagination(total=total, limit=limit, offset=offset),
    )


@router.get("/batches/{batch_id}")
def get_batch(
    batch_id: str, request: Request, principal: BearerWriter, session: DbSession
) -> BulkBatchDetail:
    """One batch: its status and how many of its calls are queued, in progress, completed, failed, skipped."""
    batch = batches.get(session, principal.workspace_id, batch_id)
    now = runtime_of(request).clock.now()
    return BulkBatchDetail(batch=BulkBatch.of(batches.present(session, [batch], now)[0]))
