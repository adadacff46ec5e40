"""Dialect D, add calls to a batch (seeds/D-add-calls-to-batch.txt).

``POST /api/call/createBatch`` opens a batch for an agent and its calling numbers; ``POST
/api/call/addCallsToBatch`` enqueues ``call_data`` records in chunks of 1000 and starts the batch. The key
travels as ``x-api-key``. Every answer is ``{message, status, code, errorMessage, data}``: 200, 207 with
``failedChunks`` when only some chunks went in, 400 for a bad request, 403 for a bad key or someone else's
batch, 404 for an unknown batch or a batch without an agent. The seed sets no limit on ``call_data``
("thousands of contacts in a single request"): the native one (``settings.max_rows_per_request``) applies.
"""

import math
from http import HTTPStatus
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from sqlalchemy.orm import Session

from batchcall.agents import service as agents
from batchcall.auth.dependencies import DbSession
from batchcall.auth.service import Principal
from batchcall.batches import service as batches
from batchcall.batches.schemas import BatchCreate, CallerIds, TimeZone
from batchcall.bounds import Id
from batchcall.calls import ingestion
from batchcall.calls.ingestion import IngestOptions
from batchcall.dialects.auth import WholeKeyWriter
from batchcall.dialects.routing import Fault, envelope_route
from batchcall.ingest.phone import PhoneError, to_e164
from batchcall.ingest.rows import RowError, RowWording
from batchcall.kit.errors import Forbidden, Invalid, NotFound
from batchcall.kit.schema import Camel
from batchcall.models import Batch, BatchStatus
from batchcall.numbers import service as numbers
from batchcall.web.routing import runtime_of

TAG = "dialect D: call batch"
CHUNK = 1000
NO_AGENT = "No agent found for the batch's calling numbers"
# How D names its call records and their fields, for the messages about failed chunks.
CALL_RECORDS = RowWording(fields={"phone_number": "phoneNumber"}, rows="call records")
# D's names for what a batch that starts must have.
STARTING = batches.Starting(agent_field="agentId", caller_field="callingNumbers")
T = TypeVar("T")


class CreateBatch(Camel):
    name: str = Field(min_length=1, max_length=255)
    agent_id: Id | None = Field(default=None, description="The agent; by default the calling numbers' agent")
    calling_numbers: CallerIds = Field(default_factory=list, description="Caller ids, E.164")
    timezone: TimeZone = Field(default="UTC", description="Applied to each call record without one")


class CallRecord(BaseModel):
    """A call record: ``phoneNumber`` and any fields the agent needs, which become its variables."""

    model_config = ConfigDict(extra="allow")

    phone_number: str = Field(alias="phoneNumber")


class AddCallsToBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    batch_id: Id = Field(alias="batchId", min_length=1, description="From POST /api/call/createBatch")
    # Counted before any is read, then checked by the native ingestion chunk by chunk, so a bad one fails
    # only its chunk.
    call_data: Annotated[
        list[Any], WithJsonSchema({"type": "array", "items": CallRecord.model_json_schema(), "minItems": 1})
    ] = Field(min_length=1)


class BatchCreated(Camel):
    batch_id: str
    name: str
    agent_id: str | None
    calling_numbers: list[str]
    timezone: str
    status: str
    created_at: str


class FailedChunk(Camel):
    chunk_num: int
    error: str


class CallsAdded(Camel):
    added: int
    call_ids: list[str]
    failed_chunks: list[FailedChunk] | None = Field(
        default=None,
        description="Each with its records' errors; at most the server's max_errors_listed in all",
    )
    error_count: int | None = Field(
        default=None, description="With failedChunks: how many record errors there were, listed or not"
    )


class Envelope(Camel, Generic[T]):
    message: str
    status: bool
    code: int
    error_message: str
    data: T | None


def _answer(envelope: Envelope[Any]) -> JSONResponse:
    return JSONResponse(envelope.model_dump(mode="json", by_alias=True, exclude_none=True), envelope.code)


def render(fault: Fault) -> JSONResponse:
    """A bad key is 403 here and a bad request 400, whatever the native status."""
    code = {401: 403, 409: 400, 422: 400}.get(fault.status_code, fault.status_code)
    envelope: Envelope[None] = Envelope(
        message=HTTPStatus(code).phrase, status=False, code=code, error_message=fault.message, data=None
    )
    return JSONResponse(envelope.model_dump(by_alias=True), code)


router = APIRouter(prefix="/api/call", tags=[TAG], route_class=envelope_route(render))


def _calling_numbers(raw: list[str]) -> list[str]:
    try:
        return [to_e164(number) for number in raw]
    except PhoneError as exc:
        raise Invalid(f"callingNumbers: {exc}") from None


def _agent_of_numbers(session: Session, workspace_id: str, calling: list[str]) -> str:
    """The agent the calling numbers are assigned to."""
    assigned = {n.agent_id for n in numbers.owned(session, workspace_id, calling) if n.agent_id}
    if not assigned:
        raise NotFound(NO_AGENT)
    if len(assigned) > 1:
        raise Invalid("The calling numbers are assigned to different agents; give agentId")
    return assigned.pop()


def _owned_batch(session: Session, principal: Principal, batch_id: str) -> Batch:
    try:
        return batches.get(session, principal.workspace_id, batch_id)
    except NotFound:
        if batches.exists(session, batch_id):
            raise Forbidden(f"This API key does not own batch {batch_id}") from None
        raise NotFound(f"Batch {batch_id} not found") from None


def _native_row(number: int, record: Any) -> Any:
    """``phoneNumber`` is the native ``phone_number``; every other field passes as it is."""
    if not isinstance(record, dict):
        return record
    phone = record.get("phoneNumber")
    if phone is None or phone == "":
        return RowError(number, "phoneNumber", "is required")
    return {**{k: v for k, v in record.items() if k != "phoneNumber"}, "phone_number": phone}


@router.post("/createBatch", response_model=Envelope[BatchCreated])
def create_batch(
    request: Request, body: CreateBatch, principal: WholeKeyWriter, session: DbSession
) -> JSONResponse:
    """A batch for ``agentId`` (or the agent the ``callingNumbers`` are assigned to); calls come next."""
    if not body.calling_numbers and body.agent_id is None:
        raise Invalid("Give callingNumbers assigned to an agent, or agentId")
    calling = _calling_numbers(body.calling_numbers)
    if body.agent_id is not None:
        agent_id = agents.get(session, principal.workspace_id, body.agent_id).id
    else:
        agent_id = _agent_of_numbers(session, principal.workspace_id, calling)
    settings = BatchCreate(
        name=body.name, agent_id=agent_id, from_numbers=calling, timezone=body.timezone, schedule="draft"
    )
    batch = batches.create(
        session, principal.workspace_id, settings, runtime_of(request).clock.now(), dialect="d"
    )
    data = BatchCreated(
        batch_id=batch.id,
        name=batch.name,
        agent_id=batch.agent_id,
        calling_numbers=batch.from_numbers,
        timezone=batch.timezone,
        status=batch.status,
        created_at=batch.created_at.isoformat(),
    )
    return _answer(
        Envelope(message="Batch created successfully", status=True, code=200, error_message="", data=data)
    )


@router.post(
    "/addCallsToBatch", response_model=Envelope[CallsAdded], responses={207: {"model": Envelope[CallsAdded]}}
)
def add_calls_to_batch(
    request: Request, body: AddCallsToBatch, principal: WholeKeyWriter, session: DbSession
) -> JSONResponse:
    """Enqueue the records in chunks of 1000, each checked against the agent's required variables.

    A chunk with an invalid record is not written and is listed in ``failedChunks`` (207); when every
    chunk fails the answer is 400. A record to a number the batch is still waiting to call updates that
    call; one to a number already called is a new call. The batch starts (or, completed, reopens) once
    calls are in."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    batch = _owned_batch(session, principal, body.batch_id)
    if batch.agent_id is None:
        raise NotFound(NO_AGENT)
    options = IngestOptions.of(
        runtime.settings, update_waiting=True, wording=CALL_RECORDS, whole_chunks=CHUNK, reopen_completed=True
    )
    rows = ((number, _native_row(number, record)) for number, record in enumerate(body.call_data, start=1))
    count = len(body.call_data)
    result = ingestion.submit(session, principal.workspace_id, batch.id, rows, now, options, count)
    added = CallsAdded(added=result.accepted, call_ids=result.call_ids)
    failed = [
        FailedChunk(chunk_num=chunk.number, error=chunk.errors.summary(CALL_RECORDS))
        for chunk in result.refused_chunks
    ]
    if len(failed) == math.ceil(count / CHUNK):
        raise Invalid("; ".join(chunk.error for chunk in failed))
    if added.added and batch.status == BatchStatus.DRAFT:
        batches.schedule(session, principal.workspace_id, batch.id, now, STARTING)
    if not failed:
        return _answer(
            Envelope(
                message="Calls enqueued successfully", status=True, code=200, error_message="", data=added
            )
        )
    added.failed_chunks = failed
    added.error_count = sum(chunk.errors.count for chunk in result.refused_chunks)
    return _answer(
        Envelope(
            message="Some calls failed to enqueue",
            status=False,
            code=207,
            error_message="Partial content, check failedChunks for details",
            data=added,
        )
    )
