from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from batchcall.auth.dependencies import DbSession, Reader, Writer
from batchcall.batches import service
from batchcall.batches.schemas import BatchCreate, BatchRead, BatchUpdate
from batchcall.calls.ingestion import IngestOptions
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.models import Batch, BatchStatus
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["batches"], route_class=UnitOfWorkRoute)


def _one(request: Request, session: Session, batch: Batch) -> BatchRead:
    return service.present(session, [batch], runtime_of(request).clock.now())[0]


@router.post("/batches", status_code=201)
def create_batch(request: Request, body: BatchCreate, principal: Writer, session: DbSession) -> BatchRead:
    """A draft, unless ``schedule`` is ``immediate`` or ``scheduled_at`` is given; with
    ``contact_folder_id``, with a call to each of the folder's contacts."""
    runtime = runtime_of(request)
    ingest = IngestOptions.of(runtime.settings)
    batch = service.create(session, principal.workspace_id, body, runtime.clock.now(), ingest=ingest)
    return _one(request, session, batch)


@router.get("/batches")
def list_batches(
    request: Request,
    principal: Reader,
    session: DbSession,
    status: BatchStatus | None = None,
    agent_id: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[BatchRead]:
    found, total = service.list_batches(session, principal.workspace_id, status, agent_id, limit, offset)
    now = runtime_of(request).clock.now()
    return Page.of(service.present(session, found, now), total, limit, offset)


@router.get("/batches/{batch_id}")
def get_batch(batch_id: str, request: Request, principal: Reader, session: DbSession) -> BatchRead:
    return _one(request, session, service.get(session, principal.workspace_id, batch_id))


@router.patch("/batches/{batch_id}")
def update_batch(
    batch_id: str, body: BatchUpdate, request: Request, principal: Writer, session: DbSession
) -> BatchRead:
    """Change settings; only a draft may change (409 otherwise)."""
    now = runtime_of(request).clock.now()
    return _one(
        request, session, service.update_settings(session, principal.workspace_id, batch_id, body, now)
    )


@router.delete("/batches/{batch_id}", status_code=204)
def delete_batch(batch_id: str, principal: Writer, session: DbSession) -> None:
    """Delete a draft, completed or canceled batch with its calls (409 otherwise: cancel it first)."""
    service.delete(session, principal.workspace_id, batch_id)


Transition = Callable[[Session, str, str, datetime], Batch]


def _transition(
    action: Transition, batch_id: str, request: Request, principal_workspace: str, session: Session
) -> BatchRead:
    return _one(
        request, session, action(session, principal_workspace, batch_id, runtime_of(request).clock.now())
    )


@router.post("/batches/{batch_id}/schedule")
def schedule_batch(batch_id: str, request: Request, principal: Writer, session: DbSession) -> BatchRead:
    """Draft with calls to scheduled (``scheduled_at`` in the future) or active."""
    return _transition(service.schedule, batch_id, request, principal.workspace_id, session)


@router.post("/batches/{batch_id}/pause")
def pause_batch(batch_id: str, request: Request, principal: Writer, session: DbSession) -> BatchRead:
    """Active or scheduled to paused: no new dials; calls in flight finish."""
    return _transition(service.pause, batch_id, request, principal.workspace_id, session)


@router.post("/batches/{batch_id}/resume")
def resume_batch(batch_id: str, request: Request, principal: Writer, session: DbSession) -> BatchRead:
    return _transition(service.resume, batch_id, request, principal.workspace_id, session)


@router.post("/batches/{batch_id}/cancel")
def cancel_batch(batch_id: str, request: Request, principal: Writer, session: DbSession) -> BatchRead:
    """Cancel the batch and every call not yet started."""
    return _transition(service.cancel, batch_id, request, principal.workspace_id, session)


@router.post("/batches/{batch_id}/retry")
def retry_batch(batch_id: str, request: Request, principal: Writer, session: DbSession) -> BatchRead:
    """Re-queue the calls of a completed batch that ended failed, busy or no_answer (409 otherwise)."""
    return _transition(service.retry, batch_id, request, principal.workspace_id, session)
