"""Dialect C, create batch call (seeds/C-create-batch-call.txt).

``POST /batch-call`` with ``X-API-KEY`` (key id) and ``X-API-SECRET`` (key secret) creates a batch of up to
1000 tasks from one ``from_number``. Ids travel as ``batch_call_<hex>`` and ``agent_<uuid>``; the answer is
``{message, status, error, data}`` with live counters, and ``tasks_url`` is a signed link to this server
that lists the tasks as JSON until it expires. ``GET /batch-call/{batch_call_id}`` reads the same answer
again, with a fresh ``tasks_url``.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from batchcall.auth import service as auth
from batchcall.auth.dependencies import DbSession
from batchcall.auth.service import Principal
from batchcall.batches import service as batches
from batchcall.batches.schemas import BatchCreate, TimeZone
from batchcall.calls import ingestion
from batchcall.calls.ingestion import IngestOptions
from batchcall.dialects.auth import KeySecretReader, KeySecretWriter
from batchcall.dialects.routing import Fault, envelope_route
from batchcall.ingest.phone import to_e164
from batchcall.ingest.rows import RowWording
from batchcall.kit.errors import Forbidden, Invalid, NotFound
from batchcall.kit.ids import new_id
from batchcall.models import DIALLED_ENDINGS, Batch, BatchStatus
from batchcall.web.routing import public_base, runtime_of

TAG = "dialect C: batch call"
MAX_TASKS = 1000
BATCH_PREFIX = "batch_call_"
AGENT_PREFIX = "agent_"
# A uuid in its usual form, with or without its hyphens (uuid.UUID alone would also take braces and urns).
AGENT_ID = rf"^{AGENT_PREFIX}[0-9a-fA-F]{{8}}(-?[0-9a-fA-F]{{4}}){{3}}-?[0-9a-fA-F]{{12}}$"
# How C names its tasks and their fields, for the messages about skipped tasks.
TASKS = RowWording(
    fields={"phone_number": "to_number", "variables": "dynamic_variables"}, array="tasks", rows="tasks"
)
# C's names for what a batch call that starts must have.
STARTING = batches.Starting(caller_field="from_number")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The last millisecond a datetime can hold (the end of year 9999).
LATEST_MILLISECONDS = (datetime.max.replace(tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1)


def _agent_id(value: str) -> str:
    """``agent_<uuid>`` to the native agent id."""
    if re.fullmatch(AGENT_ID, value) is None:
        raise ValueError(f"'{value}' is not an agent id in agent_<uuid> form")
    return str(uuid.UUID(value.removeprefix(AGENT_PREFIX)))


AgentId = Annotated[str, Field(json_schema_extra={"pattern": AGENT_ID}), AfterValidator(_agent_id)]


def milliseconds(value: datetime | None) -> int | None:
    """A time as C gives times: Unix milliseconds."""
    return None if value is None else int(value.timestamp() * 1000)


def public_batch_id(native_id: str) -> str:
    return BATCH_PREFIX + uuid.UUID(native_id).hex


def tasks_subject(batch_call_id: str, expires: int) -> str:
    """What a tasks_url's signature covers: the batch call and the link's expiry, so neither can change."""
    return f"{batch_call_id}/tasks?expires={expires}"


def native_batch_id(batch_call_id: str) -> str:
    try:
        if not batch_call_id.startswith(BATCH_PREFIX):
            raise ValueError
        return str(uuid.UUID(hex=batch_call_id.removeprefix(BATCH_PREFIX)))
    except ValueError:
        raise NotFound(f"Batch call {batch_call_id} not found") from None


class Task(BaseModel):
    model_config = ConfigDict(extra="ignore")

    to_number: str = Field(description="E.164 number to call")
    dynamic_variables: dict[str, Any] = Field(
        default_factory=dict, description="Values for the agent's prompt"
    )
    max_retries: int | None = Field(default=None, description="Retries of this task when the call fails")


class BatchCallCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    from_number: Annotated[str, AfterValidator(to_e164)] = Field(description="E.164 format")
    tasks: list[Task] = Field(min_length=1, max_length=MAX_TASKS)
    name: str | None = Field(default=None, max_length=255)
    trigger_timestamp: int | None = Field(
        default=None, ge=0, le=LATEST_MILLISECONDS, description="Unix timestamp (milliseconds)"
    )
    agent_id: AgentId | None = Field(default=None, description="agent_[uuid] format")
    timezone: TimeZone = "UTC"
    status: Literal["draft", "scheduled", "sent"] | None = None
    send_now: bool = False
    organization_id: str | None = None


class AccessInfo(BaseModel):
    user_id: str
    session_id: str


class BatchCallData(BaseModel):
    batch_call_id: str
    name: str
    from_number: str | None
    scheduled_timestamp: int | None
    total_task_count: int
    total: int
    sent: int
    picked_up: int
    completed: int
    agent_id: str | None
    organization_id: str
    status: str
    timezone: str
    last_sent_timestamp: int | None
    tasks_url: str
    created_timestamp: int
    access_info: AccessInfo


class BatchCallAnswer(BaseModel):
    message: str
    status: str = "success"
    error: str | None = None
    data: BatchCallData


class TaskOut(BaseModel):
    task_id: str
    to_number: str | None
    dynamic_variables: dict[str, Any]
    max_retries: int | None
    status: str
    outcome: str | None
    attempts: int
    skip_reason: str | None


def render(fault: Fault) -> JSONResponse:
    body = {"message": fault.message, "status": "error", "error": fault.code, "data": None}
    return JSONResponse(body, status_code=fault.status_code)


router = APIRouter(prefix="/batch-call", tags=[TAG], route_class=envelope_route(render))


def _schedule(body: BatchCallCreate) -> tuple[Literal["draft", "immediate"] | None, datetime | None]:
    """The native schedule: ``send_now`` or ``sent`` start now, ``draft`` waits, a trigger time schedules."""
    trigger = (
        None if body.trigger_timestamp is None else EPOCH + timedelta(milliseconds=body.trigger_timestamp)
    )
    if body.send_now or body.status == "sent":
        return "immediate", None
    if body.status == "draft":
        return "draft", trigger
    if trigger is None:
        if body.status == "scheduled":
            raise Invalid("trigger_timestamp is required when status is scheduled")
        return "immediate", None
    return None, trigger


def _status(batch: Batch) -> str:
    if batch.status in (BatchStatus.DRAFT, BatchStatus.SCHEDULED):
        return batch.status
    return "sent"


def _answer(
    session: Session, request: Request, principal: Principal, batch: Batch, message: str, error: str | None
) -> BatchCallAnswer:
    counters = batches.counters_of(session, [batch])[batch.id]
    public_id = public_batch_id(batch.id)
    runtime = runtime_of(request)
    base = public_base(request)
    expires = int(runtime.clock.now().timestamp() + runtime.settings.tasks_url_ttl_seconds)
    signature = auth.url_signature(session, principal, tasks_subject(public_id, expires))
    query = urlencode({"key_id": principal.key_id, "expires": expires, "signature": signature})
    data = BatchCallData(
        batch_call_id=public_id,
        name=batch.name,
        from_number=batch.from_numbers[0] if batch.from_numbers else None,
        scheduled_timestamp=milliseconds(batch.scheduled_at),
        total_task_count=counters.total,
        total=counters.total,
        sent=counters.sent,
        picked_up=counters.picked_up,
        completed=sum(getattr(counters, name) for name in DIALLED_ENDINGS),
        agent_id=AGENT_PREFIX + batch.agent_id if batch.agent_id else None,
        organization_id=batch.workspace_id,
        status=_status(batch),
        timezone=batch.timezone,
        last_sent_timestamp=milliseconds(batch.started_at),
        tasks_url=f"{base}/batch-call/{public_id}/tasks?{query}",
        created_timestamp=milliseconds(batch.created_at) or 0,
        access_info=AccessInfo(user_id=principal.key_id, session_id=new_id()),
    )
    return BatchCallAnswer(message=message, error=error, data=data)


@router.post("", status_code=201)
def create_batch_call(
    body: BatchCallCreate, request: Request, principal: KeySecretWriter, session: DbSession
) -> BatchCallAnswer:
    """Create a batch call of 1-1000 tasks: a draft, scheduled at ``trigger_timestamp``, or sent now.

    A task that cannot be called (a bad number, a missing variable, the do-not-call list) is left out and
    named in ``error``; when no task can be called, nothing is created (422).
    """
    runtime = runtime_of(request)
    now = runtime.clock.now()
    if body.organization_id is not None:
        auth.require_own_workspace(session, principal, body.organization_id, "organization", by_id=True)
    schedule, scheduled_at = _schedule(body)
    settings = BatchCreate(
        name=body.name or f"Batch call {now:%Y-%m-%d %H:%M}",
        agent_id=body.agent_id,
        from_numbers=[body.from_number],
        timezone=body.timezone,
        scheduled_at=scheduled_at,
        schedule=schedule,
    )
    batch = batches.create(session, principal.workspace_id, settings, now, dialect="c", starting=STARTING)
    rows = (
        (
            number,
            {"phone_number": t.to_number, "variables": t.dynamic_variables, "max_retries": t.max_retries},
        )
        for number, t in enumerate(body.tasks, start=1)
    )
    options = IngestOptions.of(runtime.settings, wording=TASKS)
    result = ingestion.submit(session, principal.workspace_id, batch.id, rows, now, options, len(body.tasks))
    errors = result.errors.summary(TASKS) or None
    if result.accepted == 0:
        raise Invalid(f"No task can be called: {errors}")
    return _answer(session, request, principal, batch, "Batch call created successfully", errors)


@router.get("/{batch_call_id}")
def get_batch_call(
    batch_call_id: str, request: Request, principal: KeySecretReader, session: DbSession
) -> BatchCallAnswer:
    """The batch call with its counters as they are now."""
    batch = batches.get(session, principal.workspace_id, native_batch_id(batch_call_id))
    return _answer(session, request, principal, batch, "Batch call retrieved successfully", None)


@router.get("/{batch_call_id}/tasks")
def list_tasks(
    batch_call_id: str,
    request: Request,
    session: DbSession,
    key_id: Annotated[str, Query(description="From tasks_url")],
    expires: Annotated[int, Query(description="From tasks_url: when it expires, Unix seconds")],
    signature: Annotated[str, Query(description="From tasks_url")],
) -> list[TaskOut]:
    """The batch call's tasks as JSON, with each one's status; the link in ``tasks_url`` is signed, and
    refused (403) once it has expired."""
    principal = auth.verify_url_signature(session, key_id, tasks_subject(batch_call_id, expires), signature)
    if runtime_of(request).clock.now().timestamp() >= expires:
        raise Forbidden(f"This tasks_url has expired; GET /batch-call/{batch_call_id} answers a fresh one")
    batch = batches.get(session, principal.workspace_id, native_batch_id(batch_call_id))
    return [
        TaskOut(
            task_id=call.id,
            to_number=call.to,
            dynamic_variables=call.variables,
            max_retries=call.max_retries,
            status=call.status,
            outcome=call.outcome,
            attempts=call.attempt_count,
            skip_reason=call.skip_reason,
        )
        for call in ingestion.iter_calls(session, batch.id)
    ]
