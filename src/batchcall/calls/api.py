"""Calls of a batch: add rows as JSON or CSV, list, export, and one call with its attempts."""

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from batchcall.auth.dependencies import DbSession, Reader, Writer
from batchcall.batches import service as batches
from batchcall.bounds import COUNTRY_CODE_CHARS
from batchcall.calls import ingestion
from batchcall.calls.ingestion import IngestOptions, IngestResult
from batchcall.calls.schemas import (
    AddCalls,
    AddCallsResult,
    AttemptRead,
    CallDetail,
    CallSummary,
)
from batchcall.ingest.csvfile import neutralise, read_rows
from batchcall.kit.errors import Invalid
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.models import CallStatus, Channel
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["calls"], route_class=UnitOfWorkRoute)


def as_answer(result: IngestResult) -> AddCallsResult:
    return AddCallsResult(
        accepted=result.accepted,
        skipped=result.skipped,
        errors=list(result.errors),
        error_count=result.errors.count,
        call_ids=result.call_ids,
    )


@router.post(
    "/batches/{batch_id}/calls",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AddCalls.model_json_schema()}},
        }
    },
)
async def add_calls(batch_id: str, request: Request, principal: Writer, session: DbSession) -> AddCallsResult:
    """Add up to 100,000 rows; each bad row is skipped and reported with its number, field and reason."""
    body = _parse_add_calls(await request.body())
    now = runtime_of(request).clock.now()
    options = IngestOptions.of(runtime_of(request).settings, body.country_code, body.update_existing)
    rows = enumerate(body.rows, start=1)

    def ingest() -> IngestResult:
        return ingestion.submit(session, principal.workspace_id, batch_id, rows, now, options, len(body.rows))

    return as_answer(await run_in_threadpool(ingest))


def _parse_add_calls(raw: bytes) -> AddCalls:
    """Parse the body with orjson: at 100,000 rows, FastAPI's own body validation costs more than the work."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"The body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("rows"), list):
        raise Invalid("The body must be an object with a 'rows' array")
    unknown = set(payload) - set(AddCalls.model_fields)
    if unknown:
        raise Invalid(f"Unknown field(s): {', '.join(sorted(unknown))}")
    country_code = payload.get("country_code")
    if country_code is not None and (
        not isinstance(country_code, str) or len(country_code) > COUNTRY_CODE_CHARS
    ):
        raise Invalid("country_code must be a country code such as 'US'")
    return AddCalls.model_construct(
        rows=payload["rows"], country_code=country_code, update_existing=bool(payload.get("update_existing"))
    )


@router.post("/batches/{batch_id}/calls/upload")
def upload_calls(
    batch_id: str,
    request: Request,
    file: UploadFile,
    principal: Writer,
    session: DbSession,
    country_code: Annotated[str | None, Form(max_length=COUNTRY_CODE_CHARS)] = None,
    update_existing: Annotated[bool, Form()] = False,
) -> AddCallsResult:
    """Add rows from a CSV file (UTF-8 with or without BOM, or Latin-1); extra columns become variables."""
    batch = batches.get(session, principal.workspace_id, batch_id)
    _, rows = read_rows(file.file, runtime_of(request).settings, require_phone=batch.channel != Channel.EMAIL)
    options = IngestOptions.of(runtime_of(request).settings, country_code or None, update_existing)
    now = runtime_of(request).clock.now()
    return as_answer(ingestion.submit(session, principal.workspace_id, batch.id, rows, now, options))


@router.get("/batches/{batch_id}/calls")
def list_calls(
    batch_id: str,
    principal: Reader,
    session: DbSession,
    status: CallStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[CallSummary]:
    batch = batches.get(session, principal.workspace_id, batch_id)
    calls, total = ingestion.list_calls(session, batch, status, limit, offset)
    return Page.of([CallSummary.model_validate(c) for c in calls], total, limit, offset)


EXPORT_COLUMNS = (
    "id",
    "row_number",
    "status",
    "outcome",
    "skip_reason",
    "channel",
    "to",
    "from_number",
    "email",
    "name",
    "first_name",
    "last_name",
    "attempt_count",
    "source_record_id",
    "crm_contact_id",
    "scheduled_time",
    "created_at",
    "completed_at",
    "variables",
    "metadata",
)
EXPORT_HEADERS = {"from_number": "from", "attempt_count": "attempts"}


@router.get("/batches/{batch_id}/export", response_class=StreamingResponse)
def export_calls(batch_id: str, request: Request, principal: Reader, session: DbSession) -> StreamingResponse:
    """Every call of the batch as CSV, one row per call, in the order they were added."""
    batch = batches.get(session, principal.workspace_id, batch_id)
    return StreamingResponse(
        _export_lines(runtime_of(request).sessions, batch.id),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch.id}.csv"'},
    )


def _export_lines(sessions: sessionmaker[Session], batch_id: str) -> Iterator[str]:
    """CSV text in pieces, read with a session of its own: the response outlives the request's."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([EXPORT_HEADERS.get(c, c) for c in EXPORT_COLUMNS])
    with sessions() as session:
        for call in ingestion.iter_calls(session, batch_id):
            writer.writerow(
                [_cell(call.metadata_ if c == "metadata" else getattr(call, c)) for c in EXPORT_COLUMNS]
            )
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _cell(value: object) -> str:
    """The text of one cell; whatever a row carried is shown by a spreadsheet, never run as a formula."""
    if value is None:
        return ""
    if isinstance(value, dict):
        text = orjson.dumps(value).decode()
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    return neutralise(text)


@router.get("/calls/{call_id}")
def get_call(call_id: str, principal: Reader, session: DbSession) -> CallDetail:
    call = ingestion.get(session, principal.workspace_id, call_id)
    attempts = [AttemptRead.of(a, call.prompt) for a in ingestion.attempts_of(session, call)]
    return CallDetail.of(CallSummary.model_validate(call), attempts)
