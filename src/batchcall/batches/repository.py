from collections import defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from batchcall.batches.schemas import Counters
from batchcall.kit.pagination import paginate
from batchcall.models import COUNTER_OF_STATUS, IN_FLIGHT, WAITING, Batch, Call, CallStatus


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
    return paginate(session, query.order_by(Batch.created_at.desc(), Batch.id), limit, offset)


def lock(session: Session, batch_id: str, wait: bool = True) -> Batch | None:
    """The batch row as it stands, locked until the transaction ends, so the changes of one batch take
    turns; without ``wait``, None if another transaction holds it."""
    query = select(Batch).where(Batch.id == batch_id).with_for_update(skip_locked=not wait)
    return session.scalar(query.execution_options(populate_existing=True))


def forget_next_dial(session: Session, batch_ids: Collection[str], workspace_id: str | None) -> None:
    """Clear ``next_dial_at`` of these batches, or of every batch of the workspace."""
    if not batch_ids and workspace_id is None:
        return
    where = Batch.id.in_(list(batch_ids)) if batch_ids else Batch.workspace_id == workspace_id
    session.execute(update(Batch).where(where, Batch.next_dial_at.is_not(None)).values(next_dial_at=None))


def exists(session: Session, batch_id: str) -> bool:
    """Whether any workspace has a batch with this id."""
    return session.scalar(select(Batch.id).where(Batch.id == batch_id)) is not None


def has_calls(session: Session, batch_id: str) -> bool:
    return session.scalar(select(Call.id).where(Call.batch_id == batch_id).limit(1)) is not None


def has_open_calls(session: Session, batch_id: str) -> bool:
    """Whether any call of the batch still waits or is in flight (one lookup in the (batch, status) index)."""
    query = select(Call.id).where(Call.batch_id == batch_id, Call.status.in_(WAITING + IN_FLIGHT)).limit(1)
    return session.scalar(query) is not None


def waiting_numbers(session: Session, batch_id: str, limit: int) -> list[str]:
    """The numbers (or addresses) of the batch's first ``limit`` waiting calls, the soonest due first."""
    query = (
        select(Call.to)
        .where(Call.batch_id == batch_id, Call.status.in_(WAITING), Call.to.is_not(None))
        .order_by(Call.next_attempt_at, Call.id)
        .limit(limit)
    )
    return [to for to in session.scalars(query) if to is not None]


def waiting_without_instruction(session: Session, batch_id: str) -> int:
    """How many of the batch's waiting calls carry no instruction of their own."""
    silent = or_(Call.instruction.is_(None), Call.instruction == "")
    query = select(func.count()).where(Call.batch_id == batch_id, Call.status.in_(WAITING), silent)
    return session.scalar(query) or 0


def waiting_channels(session: Session, batch_id: str) -> set[str]:
    """The channels of the batch's waiting calls."""
    query = select(Call.channel).where(Call.batch_id == batch_id, Call.status.in_(WAITING)).distinct()
    return set(session.scalars(query))
