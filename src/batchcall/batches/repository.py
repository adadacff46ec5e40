from collections import defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from batchcall.batches.schemas import Counters
from batchcall.models import Batch, Call, CallStatus

# Which counter each call status adds to; ``total`` counts every call.
COUNTER_OF_STATUS: dict[str, str] = {
    CallStatus.QUEUED: "queued",
    CallStatus.SCHEDULED: "queued",
    CallStatus.DIALING: "in_progress",
    CallStatus.RINGING: "in_progress",
    CallStatus.IN_PROGRESS: "in_progress",
    CallStatus.COMPLETED: "completed",
    CallStatus.NO_ANSWER: "no_answer",
    CallStatus.BUSY: "busy",
    CallStatus.VOICEMAIL: "voicemail",
    CallStatus.FAILED: "failed",
    CallStatus.CANCELED: "canceled",
    CallStatus.EXPIRED: "expired",
    CallStatus.SKIPPED: "skipped",
    CallStatus.UNKNOWN: "unknown",
}


def counters(session: Session, batch_ids: Sequence[str]) -> dict[str, Counters]:
    """Counters derived from the calls themselves, so they always equal the sum of the calls' states."""
    tallies: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if batch_ids:
        dialled = func.sum(case((Call.attempt_count > 0, 1), else_=0))
        query = (
            select(Call.batch_id, Call.status, func.count(), dialled)
            .where(Call.batch_id.in_(batch_ids))
            .group_by(Call.batch_id, Call.status)
        )
        for batch_id, status, count, sent in session.execute(query):
            tally = tallies[batch_id]
            tally["total"] += count
            tally[COUNTER_OF_STATUS[status]] += count
            tally["sent"] += sent or 0
            if status == CallStatus.COMPLETED:
                tally["picked_up"] += count
    return {batch_id: Counters(**tallies.get(batch_id, {})) for batch_id in batch_ids}


def list_batches(
    session: Session,
    workspace_id: str,
    status: str | None,
    agent_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Batch], int]:
    query = select(Batch).where(Batch.workspace_id == workspace_id)
    if status is not None:
        query = query.where(Batch.status == status)
    if agent_id is not None:
        query = query.where(Batch.agent_id == agent_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Batch.created_at.desc(), Batch.id).limit(limit).offset(offset))
    return list(rows), total


def lock(session: Session, batch_id: str) -> Batch | None:
    """The batch row, locked until the transaction ends, so state changes of one batch queue up."""
    return session.scalar(select(Batch).where(Batch.id == batch_id).with_for_update())


def wake(session: Session, batch_ids: Collection[str] = (), workspace_id: str | None = None) -> None:
    """Forget when these batches (or every batch of the workspace) said they would dial next: something
    they were waiting for changed, so the dispatcher looks at them again on its next pass."""
    if not batch_ids and workspace_id is None:
        return
    where = Batch.id.in_(list(batch_ids)) if batch_ids else Batch.workspace_id == workspace_id
    session.execute(update(Batch).where(where, Batch.next_dial_at.is_not(None)).values(next_dial_at=None))


def exists(session: Session, batch_id: str) -> bool:
    """Whether any workspace has a batch with this id."""
    return session.scalar(select(Batch.id).where(Batch.id == batch_id)) is not None
