from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from batchcall.kit.bulk import among, bulk_insert, bulk_update
from batchcall.kit.pagination import paginate
from batchcall.models import (
    IN_FLIGHT,
    UNDIALLED_ENDINGS,
    WAITING,
    Attempt,
    Batch,
    Call,
    CallStatus,
    Channel,
    RejectedRow,
)
from batchcall.models.base import table_of

CHUNK = 5_000

Found = TypeVar("Found")


def numbers_contacted_since(
    session: Session, workspace_id: str, phones: Iterable[str], since: datetime
) -> set[str]:
    """Which of ``phones`` already have a call in the workspace since ``since`` that was or will be placed."""
    wanted = list(set(phones))
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        query = select(Call.to).where(
            Call.workspace_id == workspace_id,
            among(session, Call.to, wanted[start : start + CHUNK]),
            Call.created_at >= since,
            Call.status.not_in(UNDIALLED_ENDINGS),
        )
        found.update(phone for phone in session.scalars(query) if phone is not None)
    return found


def insert_calls(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(session, table_of(Call), rows)


def list_calls(
    session: Session, batch_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[Call], int]:
    query = select(Call).where(Call.batch_id == batch_id)
    if status is not None:
        query = query.where(Call.status == status)
    return paginate(session, query.order_by(Call.row_number, Call.id), limit, offset)


def iter_calls(session: Session, batch_id: str, chunk: int = 2_000) -> Iterator[Call]:
    """Every call of a batch in row order, fetched a chunk at a time."""
    query = select(Call).where(Call.batch_id == batch_id).order_by(Call.row_number, Call.id)
    yield from session.scalars(query.execution_options(yield_per=chunk))


def attempts_of(session: Session, call_id: str) -> list[Attempt]:
    return list(session.scalars(select(Attempt).where(Attempt.call_id == call_id).order_by(Attempt.number)))


def next_row_number(session: Session, batch_id: str) -> int:
    return (session.scalar(select(func.max(Call.row_number)).where(Call.batch_id == batch_id)) or 0) + 1


# What a bulk move answers of each call it changed: (call id, batch id, workspace id, status before).
MovedRow = tuple[str, str, str, str]


def end_waiting(session: Session, batch_id: str, status: str, now: datetime) -> list[MovedRow]:
    """End every call of the batch still waiting in ``status``; answers the calls it changed."""
    values = {
        "status": status,
        "updated_at": now,
        "completed_at": now,
        "next_attempt_at": None,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    return _move_all(session, batch_id, WAITING, values)


def requeue(session: Session, batch_id: str, statuses: Iterable[str], now: datetime) -> list[MovedRow]:
    """Put the batch's calls that ended in ``statuses`` back in the queue, due now; answers the calls."""
    values = {"status": CallStatus.QUEUED, "updated_at": now, "completed_at": None, "next_attempt_at": now}
    return _move_all(session, batch_id, statuses, values)


def end_waiting_of_person(
    session: Session, workspace_id: str, number: str | None, address: str | None, reason: str, now: datetime
) -> list[MovedRow]:
    """Cancel, with ``reason``, every call of the workspace still waiting to reach the number or the email
    address, in any batch; answers the calls it changed."""
    reaches = [Call.to == number] if number else []
    reaches += [func.lower(Call.email) == address.lower()] if address else []
    if not reaches:
        return []
    moved: list[MovedRow] = []
    for before in WAITING:
        statement = (
            update(Call)
            .where(Call.workspace_id == workspace_id, Call.status == before, or_(*reaches))
            .values(
                status=CallStatus.CANCELED,
                skip_reason=reason,
                updated_at=now,
                completed_at=now,
                next_attempt_at=None,
            )
            .returning(Call.id, Call.batch_id, Call.workspace_id)
            .execution_options(synchronize_session=False)
        )
        moved.extend(
            (call_id, batch, workspace, before) for call_id, batch, workspace in session.execute(statement)
        )
    return moved


def _move_all(
    session: Session, batch_id: str, statuses: Iterable[str], values: dict[str, Any]
) -> list[MovedRow]:
    """Set ``values`` on the batch's calls in ``statuses``, one statement per status before, each answering
    the rows it changed: what moved is what the database says moved, however the session stands."""
    moved: list[MovedRow] = []
    for before in statuses:
        statement = (
            update(Call)
            .where(Call.batch_id == batch_id, Call.status == before)
            .values(values)
            .returning(Call.id, Call.batch_id, Call.workspace_id)
            .execution_options(synchronize_session=False)
        )
        moved.extend(
            (call_id, batch, workspace, before) for call_id, batch, workspace in session.execute(statement)
        )
    return moved


def record_agent_audio(session: Session, attempt_id: str, seconds: float) -> None:
    session.execute(
        update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.agent_audio_after_seconds.is_(None))
        .values(agent_audio_after_seconds=seconds)
        .execution_options(synchronize_session=False)
    )


def record_placed(
    session: Session, placed: Sequence[tuple[str, str, str]], now: datetime
) -> list[tuple[str, str, str]]:
    """Store the provider's id of each placed attempt (attempt id, call id, provider id), and ring its call;
    answers (call id, batch id, workspace id) of the calls that went from dialing to ringing.

    An attempt or call whose ending overtook this (a fast callback) keeps the state the ending gave it."""
    if not placed:
        return []
    bulk_update(
        session,
        table_of(Attempt),
        [{"id": a, "provider_call_id": p} for a, _, p in placed],
        also={
            "status": f"CASE WHEN status = '{CallStatus.DIALING}' THEN '{CallStatus.RINGING}' ELSE status END"
        },
    )
    statement = (
        update(Call)
        .where(among(session, Call.id, [c for _, c, _ in placed]), Call.status == CallStatus.DIALING)
        .values(status=CallStatus.RINGING, updated_at=now)
        .returning(Call.id, Call.batch_id, Call.workspace_id)
        .execution_options(synchronize_session=False)
    )
    return [
        (call_id, batch_id, workspace_id) for call_id, batch_id, workspace_id in session.execute(statement)
    ]


def calls_by_id(session: Session, call_ids: Sequence[str]) -> dict[str, Call]:
    """The calls as their rows stand now, also those this session loaded before a bulk write changed them."""
    found: dict[str, Call] = {}
    for start in range(0, len(call_ids), CHUNK):
        query = select(Call).where(among(session, Call.id, call_ids[start : start + CHUNK]))
        for call in session.scalars(query.execution_options(populate_existing=True)):
            found[call.id] = call
    return found


def current_attempts(session: Session, calls: Sequence[Call]) -> dict[str, Attempt]:
    """Each call's attempt with the call's own attempt number: the one in flight."""
    if not calls:
        return {}
    numbers = {call.id: call.attempt_count for call in calls}
    query = select(Attempt).where(Attempt.call_id.in_(list(numbers)))
    return {a.call_id: a for a in session.scalars(query) if numbers[a.call_id] == a.number}


def overwrite_calls(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Set the named columns of each call by ``id`` (every row names the same columns), at once."""
    return bulk_update(session, table_of(Call), rows)


def overwrite_attempts(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Set the named columns of each attempt by ``id`` (every row names the same columns), at once."""
    return bulk_update(session, table_of(Attempt), rows)


def delete_attempts(session: Session, attempt_ids: Sequence[str]) -> None:
    session.execute(delete(Attempt).where(Attempt.id.in_(attempt_ids)))


def insert_attempts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(session, table_of(Attempt), rows)


def waiting_calls_to(session: Session, batch: Batch, phones: Iterable[str]) -> dict[tuple[str, str], str]:
    """(channel, number) to the id of the batch's first call to that number still waiting to be placed.

    The calls are locked for the transaction; one a worker is claiming right now is passed over. They are
    found first and locked by id after, so that no call of another batch is locked."""
    wanted = list(set(phones))
    candidates: list[str] = []
    for start in range(0, len(wanted), CHUNK):
        query = select(Call.id, Call.batch_id).where(
            *_batch_calls_to(session, batch, Call.to, wanted[start : start + CHUNK]), Call.status.in_(WAITING)
        )
        candidates.extend(call_id for call_id, batch_id in session.execute(query) if batch_id == batch.id)
    first: dict[tuple[str, str], tuple[int, str]] = {}
    for start in range(0, len(candidates), CHUNK):
        locking = (
            select(Call.id, Call.channel, Call.to, Call.row_number)
            .where(among(session, Call.id, candidates[start : start + CHUNK]), Call.status.in_(WAITING))
            .with_for_update(skip_locked=True)
        )
        for call_id, channel, to, row_number in session.execute(locking):
            if to is not None:
                _keep_first(first, (channel, to), row_number, call_id)
    return {key: call_id for key, (_, call_id) in first.items()}


def _batch_calls_to(
    session: Session, batch: Batch, column: QueryableAttribute[str | None], wanted: Collection[str]
) -> tuple[ColumnElement[bool], ...]:
    """The workspace's calls to these numbers (or addresses); the caller keeps the batch's own. Asked by
    workspace, the lookup can only go through the (workspace, number) index, a probe per number; asked
    by batch as well, PostgreSQL may walk every call of the batch (a million, for a big file) and compare
    each with every number wanted."""
    return Call.workspace_id == batch.workspace_id, among(session, column, wanted)


def _keep_first(
    first: dict[tuple[str, str], tuple[int, Found]], key: tuple[str, str], row_number: int, found: Found
) -> None:
    """Keep ``found`` under ``key`` when it is the first call of its batch seen for it (by row number)."""
    kept = first.get(key)
    if kept is None or row_number < kept[0]:
        first[key] = (row_number, found)


def update_calls(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Overwrite calls by ``id``; every row names the same columns, by column name."""
    if not rows:
        return
    # Core, not the ORM: an executemany keyed by id, with the rows' own column names.
    table = table_of(Call)
    names = [name for name in rows[0] if name != "id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("call_id"))
        .values({name: bindparam(f"new_{name}") for name in names})
    )
    params = [{"call_id": row["id"], **{f"new_{name}": row[name] for name in names}} for row in rows]
    session.execute(statement, params)


@dataclass(frozen=True, slots=True)
class LiveCall:
    """A call of a batch that is waiting or in flight: what a duplicate row's reason names."""

    id: str
    status: str
    submission_id: str | None
    source_row: int | None


def live_calls_to(
    session: Session, batch: Batch, phones: Iterable[str], emails: Iterable[str]
) -> dict[tuple[str, str], LiveCall]:
    """(channel, number or address) to the batch's first call to it that is waiting or in flight: by
    number for phone and SMS calls, by address for e-mail ones."""
    first: dict[tuple[str, str], tuple[int, LiveCall]] = {}
    for column, wanted, email in ((Call.to, list(set(phones)), False), (Call.email, list(set(emails)), True)):
        for start in range(0, len(wanted), CHUNK):
            query = (
                select(
                    Call.id,
                    Call.batch_id,
                    Call.channel,
                    column,
                    Call.status,
                    Call.submission_id,
                    Call.source_row,
                    Call.row_number,
                )
                .where(*_batch_calls_to(session, batch, column, wanted[start : start + CHUNK]))
                .where(
                    Call.status.in_(WAITING + IN_FLIGHT),
                    (Call.channel == Channel.EMAIL) if email else (Call.channel != Channel.EMAIL),
                )
            )
            for row in session.execute(query):
                call_id, batch_id, channel, address, status, submission_id, source_row, row_number = row
                if batch_id == batch.id and address is not None:
                    live = LiveCall(call_id, status, submission_id, source_row)
                    _keep_first(first, (channel, address), row_number, live)
    return {key: live for key, (_, live) in first.items()}


def insert_rejected(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(session, table_of(RejectedRow), rows)


def iter_rejected(
    session: Session, batch_id: str, submission_id: str | None, chunk: int = 2_000
) -> Iterator[RejectedRow]:
    """The batch's rejected rows, oldest submission first, each in row order, fetched a chunk at a time."""
    query = select(RejectedRow).where(RejectedRow.batch_id == batch_id)
    if submission_id is not None:
        query = query.where(RejectedRow.submission_id == submission_id)
    query = query.order_by(RejectedRow.created_at, RejectedRow.submission_id, RejectedRow.row)
    yield from session.scalars(query.execution_options(yield_per=chunk))
