"""Calls of a batch: add rows as JSON or CSV (or check them only), list, export, download the rows that
were rejected, and one call with its attempts."""

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from batchcall.auth.dependencies import DbSession, Reader, Writer
from batchcall.batches import service as batches
from batchcall.calls import ingestion
from batchcall.calls.ingestion import IngestOptions, IngestResult
from batchcall.calls.schemas import (
    AddCalls,
    AddCallsResult,
    AttemptRead,
    CallDetail,
    CallSummary,
)
from batchcall.ingest.csvfile import neutralise, read_table
from batchcall.ingest.rows import MAX_COUNTRY_CHARS
from batchcall.kit.errors import Invalid
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.models import CallStatus, Channel
from batchcall.results import service as results
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["calls"], route_class=UnitOfWorkRoute)

DryRun = Annotated[
    bool,
    Query(description="Check every row and answer the full report, writing nothing (no calls, no contacts)"),
]


def as_answer(batch_id: str, result: IngestResult) -> AddCallsResult:
    rejected_url = None
    if result.rejected:
        rejected_url = f"/v1/batches/{batch_id}/rejected?submission_id={result.submission_id}"
    return AddCallsResult(
        accepted=result.accepted,
        skipped=result.skipped,
        errors=list(result.errors),
        error_count=result.errors.count,
        warnings=list(result.warnings),
        warning_count=result.warnings.count,
        warned=result.warned,
        mapped_columns=result.mapped_columns,
        call_ids=result.call_ids,
        submission_id=result.submission_id,
        rejected_url=rejected_url,
        dry_run=result.dry_run,
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
async def add_calls(
    batch_id: str, request: Request, principal: Writer, session: DbSession, dry_run: DryRun = False
) -> AddCallsResult:
    """Add up to 100,000 rows; each bad row is skipped and reported with its number, each field at fault
    and why, and kept for download (``rejected_url``). Row N is the N-th element of ``rows``."""
    body = _parse_add_calls(await request.body())
    now = runtime_of(request).clock.now()
    options = IngestOptions.of(
        runtime_of(request).settings, body.country_code, body.update_existing, dry_run=dry_run
    )
    rows = enumerate(body.rows, start=1)

    def ingest() -> IngestResult:
        return ingestion.submit(session, principal.workspace_id, batch_id, rows, now, options, len(body.rows))

    return as_answer(batch_id, await run_in_threadpool(ingest))


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
        not isinstance(country_code, str) or len(country_code) > MAX_COUNTRY_CHARS
    ):
        raise Invalid("country_code must be a country such as 'US' or 'United States'")
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
    country_code: Annotated[str | None, Form(max_length=MAX_COUNTRY_CHARS)] = None,
    update_existing: Annotated[bool, Form()] = False,
    dry_run: DryRun = False,
) -> AddCallsResult:
    """Add rows from a CSV file: UTF-8 (with or without BOM), Windows-1252 or Latin-1, separated by commas,
    semicolons, tabs or pipes; extra columns become variables. Row N is the file's N-th record after the
    header (its spreadsheet line N + 1); blank records count and are skipped."""
    batch = batches.get(session, principal.workspace_id, batch_id)
    settings = runtime_of(request).settings
    table = read_table(file.file, settings, require_phone=batch.channel != Channel.EMAIL)
    options = IngestOptions.of(
        settings, country_code or None, update_existing, dry_run=dry_run, file_columns=table.field_columns
    )
    now = runtime_of(request).clock.now()
    return as_answer(
        batch.id, ingestion.submit(session, principal.workspace_id, batch.id, table.rows, now, options)
    )


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


# "row" is the call's row in the submission that added it (its file's record, its request's element).
EXPORT_COLUMNS = (
    "id",
    "submission_id",
    "source_row",
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
EXPORT_HEADERS = {"from_number": "from", "attempt_count": "attempts", "source_row": "row"}
# The agent's result of the call's latest attempt that has one.
RESULT_COLUMNS = ("disposition", "summary", "data", "opt_out", "callback_at", "transcript")
RESULT_HEADERS = {"data": "result_data"}
EXPORT_CHUNK = 2_000


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
    writer.writerow(
        [EXPORT_HEADERS.get(c, c) for c in EXPORT_COLUMNS]
        + [RESULT_HEADERS.get(c, c) for c in RESULT_COLUMNS]
    )
    with sessions() as session:
        found = ingestion.iter_calls(session, batch_id)
        while calls := list(islice(found, EXPORT_CHUNK)):
            reported = results.latest_of_calls(session, [call.id for call in calls])
            for call in calls:
                result = reported.get(call.id)
                writer.writerow(
                    [_cell(call.metadata_ if c == "metadata" else getattr(call, c)) for c in EXPORT_COLUMNS]
                    + [_cell(getattr(result, c) if result else None) for c in RESULT_COLUMNS]
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@router.get("/batches/{batch_id}/rejected", response_class=StreamingResponse)
def rejected_rows(
    batch_id: str,
    request: Request,
    principal: Reader,
    session: DbSession,
    submission_id: Annotated[str | None, Query(description="Only this submission's rows")] = None,
) -> StreamingResponse:
    """The rows that became no call because they are invalid, as CSV ready to fix and upload again: a
    ``row`` column (the row in its submission), a ``reason`` column, then the row's own columns (a CSV
    file's by its own names; a JSON row's fields, its variables as columns of their own)."""
    batch = batches.get(session, principal.workspace_id, batch_id)
    return StreamingResponse(
        _rejected_lines(runtime_of(request).sessions, batch.id, submission_id),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch.id}-rejected.csv"'},
    )


def _rejected_lines(
    sessions: sessionmaker[Session], batch_id: str, submission_id: str | None
) -> Iterator[str]:
    """Read twice: once for the columns (rows of several files may differ), once to write them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    with sessions() as session:
        columns: dict[str, None] = {}
        for rejected in ingestion.iter_rejected(session, batch_id, submission_id):
            columns.update(dict.fromkeys(_as_columns(rejected.values)))
        writer.writerow([_cell(name) for name in ("row", "reason", *columns)])
        for rejected in ingestion.iter_rejected(session, batch_id, submission_id):
            values = _as_columns(rejected.values)
            writer.writerow(
                [str(rejected.row), _cell(rejected.reason), *(_cell(values.get(c)) for c in columns)]
            )
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _as_columns(pairs: list[Any]) -> dict[str, Any]:
    """A rejected row's fields ([name, value] pairs) as CSV columns, in their order: a JSON row's
    ``variables`` spread into columns of their own, as an upload reads them back, unless a field of the row
    already has the name."""
    values = {name: value for name, value in pairs}
    variables = values.get("variables")
    if not isinstance(variables, dict):
        return values
    spread = {k: v for k, v in values.items() if k != "variables"}
    for name, value in variables.items():
        spread.setdefault(name, value)
    return spread


def _cell(value: object) -> str:
    """The text of one cell; whatever a row carried is shown by a spreadsheet, never run as a formula."""
    if value is None:
        return ""
    if isinstance(value, dict | list | bool):
        text = orjson.dumps(value).decode()
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    return neutralise(text)


@router.get("/calls/{call_id}")
def get_call(call_id: str, principal: Reader, session: DbSession) -> CallDetail:
    call = ingestion.get(session, principal.workspace_id, call_id)
    attempts = ingestion.attempts_of(session, call)
    reported = results.of_attempts(session, [attempt.id for attempt in attempts])
    answered = [AttemptRead.of(a, call.prompt, reported.get(a.id)) for a in attempts]
    return CallDetail.of(CallSummary.model_validate(call), answered)
