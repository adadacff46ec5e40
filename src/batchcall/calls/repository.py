from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from batchcall.kit.bulk import bulk_insert
from batchcall.models import Attempt, Call, CallStatus

CHUNK = 5_000

# A call in these states did not and will not reach its number.
UNREACHED = (CallStatus.SKIPPED, CallStatus.CANCELED, CallStatus.EXPIRED)


def numbers_contacted_since(
    session: Session, workspace_id: str, phones: Iterable[str], since: datetime
) -> set[str]:
    """Which of ``phones`` already have a call in the workspace since ``since`` that was or will be placed."""
    wanted = list(set(phones))
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        query = select(Call.to).where(
            Call.workspace_id == workspace_id,
            Call.to.in_(wanted[start : start + CHUNK]),
            Call.created_at >= since,
            Call.status.not_in(UNREACHED),
        )
        found.update(phone for phone in session.scalars(query) if phone is not None)
    return found


def insert_calls(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(session, Call.__table__, rows)  # type: ignore[arg-type]


def list_calls(
    session: Session, batch_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[Call], int]:
    query = select(Call).where(Call.batch_id == batch_id)
    if status is not None:
        query = query.where(Call.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Call.row_number, Call.id).limit(limit).offset(offset))
    return list(rows), total


def iter_calls(session: Session, batch_id: str, chunk: int = 2_000) -> Iterator[Call]:
    """Every call of a batch in row order, fetched a chunk at a time."""
    query = select(Call).where(Call.batch_id == batch_id).order_by(Call.row_number, Call.id)
    yield from session.scalars(query.execution_options(yield_per=chunk))


def attempts_of(session: Session, call_id: str) -> list[Attempt]:
    return list(session.scalars(select(Attempt).where(Attempt.call_id == call_id).order_by(Attempt.number)))


def next_row_number(session: Session, batch_id: str) -> int:
    return (session.scalar(select(func.max(Call.row_number)).where(Call.batch_id == batch_id)) or 0) + 1
