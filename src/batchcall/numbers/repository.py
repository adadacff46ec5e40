from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from batchcall.kit.pagination import paginate
from batchcall.models import Attempt, Batch, DialCounter, PhoneNumber


def find_by_number(session: Session, workspace_id: str, number: str) -> PhoneNumber | None:
    return session.scalar(
        select(PhoneNumber).where(PhoneNumber.workspace_id == workspace_id, PhoneNumber.number == number)
    )


def find_by_ids(session: Session, workspace_id: str, ids: Sequence[str]) -> list[PhoneNumber]:
    query = select(PhoneNumber).where(PhoneNumber.workspace_id == workspace_id, PhoneNumber.id.in_(ids))
    return list(session.scalars(query))


def find_by_numbers(session: Session, workspace_id: str, numbers: Sequence[str]) -> list[PhoneNumber]:
    owned = PhoneNumber.workspace_id == workspace_id
    return list(session.scalars(select(PhoneNumber).where(owned, PhoneNumber.number.in_(numbers))))


def find_by_agent(session: Session, workspace_id: str, agent_id: str | None) -> list[PhoneNumber]:
    """The workspace's numbers assigned to the agent, or (``agent_id`` None) to no agent."""
    assigned = PhoneNumber.agent_id.is_(None) if agent_id is None else PhoneNumber.agent_id == agent_id
    query = select(PhoneNumber).where(PhoneNumber.workspace_id == workspace_id, assigned)
    return list(session.scalars(query.order_by(PhoneNumber.created_at, PhoneNumber.id)))


def list_numbers(
    session: Session, workspace_id: str, limit: int, offset: int
) -> tuple[list[PhoneNumber], int]:
    query = select(PhoneNumber).where(PhoneNumber.workspace_id == workspace_id)
    return paginate(session, query.order_by(PhoneNumber.created_at, PhoneNumber.id), limit, offset)


def numbers_of(session: Session, workspace_id: str) -> list[str]:
    """Every phone number of the workspace, in order."""
    query = select(PhoneNumber.number).where(PhoneNumber.workspace_id == workspace_id)
    return list(session.scalars(query.order_by(PhoneNumber.number)))


def workspaces_owning(session: Session, number: str) -> list[str]:
    """The workspaces that have ``number`` among their phone numbers."""
    return list(session.scalars(select(PhoneNumber.workspace_id).where(PhoneNumber.number == number)))


def daily_caps(session: Session, workspace_id: str, numbers: Sequence[str]) -> dict[str, int | None]:
    """The workspace's own phone numbers among ``numbers``, with their daily caps (None: no cap)."""
    query = select(PhoneNumber.number, PhoneNumber.daily_cap).where(
        PhoneNumber.workspace_id == workspace_id, PhoneNumber.number.in_(numbers)
    )
    return {number: cap for number, cap in session.execute(query)}


def dial_counts(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The dispatcher's daily dial counts by (scope, day), read without locking; 0 where none is stored."""
    found = dict.fromkeys(keys, 0)
    if not keys:
        return found
    wanted = or_(*(and_(DialCounter.scope == scope, DialCounter.day == day) for scope, day in set(keys)))
    query = select(DialCounter.scope, DialCounter.day, DialCounter.count).where(wanted)
    found.update(((scope, day), count) for scope, day, count in session.execute(query))
    return found


def attempts_from_since(session: Session, workspace_id: str, since: Mapping[str, datetime]) -> dict[str, int]:
    """How many attempts of the workspace's batches were dialled from each number since its own time."""
    counts = dict.fromkeys(since, 0)
    if not since:
        return counts
    each = or_(*(and_(Attempt.from_number == n, Attempt.started_at >= t) for n, t in since.items()))
    query = (
        select(Attempt.from_number, func.count())
        .join(Batch, Batch.id == Attempt.batch_id)
        # The earliest time as a range of its own, so each batch's attempts are read from the
        # (batch_id, started_at) index rather than in full.
        .where(Batch.workspace_id == workspace_id, Attempt.started_at >= min(since.values()), each)
        .group_by(Attempt.from_number)
    )
    counts.update((number, count) for number, count in session.execute(query) if number is not None)
    return counts
