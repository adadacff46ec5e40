"""Every query the dispatcher makes."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select, union, update
from sqlalchemy.orm import Session, aliased

from batchcall.dispatcher.retry import RetryPolicy
from batchcall.kit.bulk import among, bulk_insert, insert_returning
from batchcall.models import (
    IN_FLIGHT,
    WAITING,
    Attempt,
    Batch,
    BatchStatus,
    Call,
    CallStatus,
    Channel,
    DialCounter,
    ProviderEvent,
)
from batchcall.models.base import table_of


def batches_to_visit(session: Session, now: datetime) -> list[str]:
    """Active batches, except those that said they have nothing to dial before a time still to come."""
    query = select(Batch.id).where(
        Batch.status == BatchStatus.ACTIVE, or_(Batch.next_dial_at.is_(None), Batch.next_dial_at <= now)
    )
    return list(session.scalars(query))


def scheduled_batches_due(session: Session, now: datetime) -> list[Batch]:
    query = select(Batch).where(Batch.status == BatchStatus.SCHEDULED, Batch.scheduled_at <= now)
    return list(session.scalars(query.with_for_update(skip_locked=True)))


def batches_past_end_with_waiting_calls(session: Session, now: datetime) -> list[str]:
    # Two steps: almost always no batch is past its end, and the first finds that without touching calls.
    past_end = select(Batch.id).where(
        Batch.status.in_([BatchStatus.SCHEDULED, BatchStatus.ACTIVE, BatchStatus.PAUSED]),
        Batch.ends_at <= now,
    )
    batch_ids = list(session.scalars(past_end))
    if not batch_ids:
        return []
    waiting = select(Call.id).where(Call.batch_id == Batch.id, Call.status.in_(WAITING)).exists()
    return list(session.scalars(select(Batch.id).where(Batch.id.in_(batch_ids), waiting)))


def open_call_counts(session: Session, batch_id: str) -> dict[str, int]:
    """How many of the batch's calls are in each state that is not terminal."""
    # Named states, not "not terminal": each is a range of the (batch_id, status) index.
    query = (
        select(Call.status, func.count())
        .where(Call.batch_id == batch_id, Call.status.in_([*WAITING, *IN_FLIGHT]))
        .group_by(Call.status)
    )
    return {status: count for status, count in session.execute(query)}


def soonest_waiting(session: Session, batch_id: str) -> tuple[datetime, str | None, str] | None:
    """When the batch's soonest waiting call is due, with its number (or address) and channel."""
    query = (
        select(Call.next_attempt_at, Call.to, Call.channel)
        .where(Call.batch_id == batch_id, Call.status.in_(WAITING), Call.next_attempt_at.is_not(None))
        .order_by(Call.next_attempt_at)
        .limit(1)
    )
    row = session.execute(query).first()
    if row is None:
        return None
    due, to, channel = row
    assert due is not None  # the query leaves out calls with no due time
    return due, to, channel


def lock_counters(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Dial counts by (scope, day), their rows created if new and locked in a fixed order."""
    if not keys:
        return {}
    ordered = sorted(set(keys))
    rows = [{"scope": scope, "day": day, "count": 0} for scope, day in ordered]
    bulk_insert(session, table_of(DialCounter), rows, on_conflict="ON CONFLICT (scope, day) DO NOTHING")
    found: dict[tuple[str, str], int] = {}
    for scope, day in ordered:
        query = select(DialCounter.count).where(DialCounter.scope == scope, DialCounter.day == day)
        found[(scope, day)] = session.scalar(query.with_for_update()) or 0
    return found


def add_to_counters(session: Session, increments: dict[tuple[str, str], int]) -> None:
    for (scope, day), amount in sorted(increments.items()):
        session.execute(
            update(DialCounter)
            .where(DialCounter.scope == scope, DialCounter.day == day)
            .values(count=DialCounter.count + amount)
        )


def attempt_starts_since(session: Session, batch_id: str, since: datetime) -> tuple[int, datetime | None]:
    """How many attempts of the batch started after ``since``, and the first of them."""
    query = select(func.count(), func.min(Attempt.started_at)).where(
        Attempt.batch_id == batch_id, Attempt.started_at > since
    )
    count, first = session.execute(query).one()
    return count, first


def recent_provider_outcomes(
    session: Session, batch_id: str, since: datetime, limit: int
) -> list[str | None]:
    """Outcomes of the batch's last ``limit`` attempts that ended after ``since`` and say something about
    the provider, newest first: first attempts, and retries whose previous attempt did not fail. A retry of
    a number that already failed is left out: failing again tells nothing new."""
    previous = aliased(Attempt)
    query = (
        select(Attempt.outcome)
        .outerjoin(previous, and_(previous.call_id == Attempt.call_id, previous.number == Attempt.number - 1))
        .where(
            Attempt.batch_id == batch_id,
            Attempt.ended_at >= since,
            or_(Attempt.number == 1, previous.outcome.is_(None), previous.outcome != CallStatus.FAILED),
        )
        .order_by(Attempt.ended_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def lapsed_calls(session: Session, now: datetime, limit: int) -> list[Call]:
    """Calls in flight whose lease ran out: their worker is gone or their provider has gone quiet."""
    query = (
        select(Call)
        .where(Call.status.in_(IN_FLIGHT), Call.lease_expires_at <= now)
        .order_by(Call.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def store_new_events(session: Session, rows: Sequence[dict[str, object]]) -> set[str]:
    """Insert events; answer the ids of those not stored before."""
    inserted = insert_returning(
        session,
        table_of(ProviderEvent),
        rows,
        'ON CONFLICT ("provider", "event_id") DO NOTHING',
        "event_id",
    )
    return set(inserted)


def event_attempts(
    session: Session,
    provider: str,
    account_id: str | None,
    provider_call_ids: Sequence[str],
    attempt_ids: Sequence[str],
) -> list[tuple[str, str, str | None]]:
    """(attempt id, call id, provider id) of the attempts the events name, by provider id or attempt id,
    among those placed through ``provider`` and the account (None: the process default): an account's
    callbacks never reach another's calls."""
    columns = (Attempt.id, Attempt.call_id, Attempt.provider_call_id)
    same_source = (
        Attempt.provider == provider,
        Attempt.provider_account_id.is_(None)
        if account_id is None
        else Attempt.provider_account_id == account_id,
    )
    # A union rather than an OR, so each half is a lookup in its own index.
    query = union(
        select(*columns).where(*same_source, among(session, Attempt.provider_call_id, provider_call_ids)),
        select(*columns).where(*same_source, among(session, Attempt.id, attempt_ids)),
    )
    return [(attempt_id, call_id, provider_id) for attempt_id, call_id, provider_id in session.execute(query)]


def attempts_named(session: Session, attempt_ids: Sequence[str]) -> list[tuple[str, str, str | None]]:
    """(attempt id, call id, provider id) of these attempts."""
    query = select(Attempt.id, Attempt.call_id, Attempt.provider_call_id).where(
        among(session, Attempt.id, attempt_ids)
    )
    return [(attempt_id, call_id, provider_id) for attempt_id, call_id, provider_id in session.execute(query)]


def retry_policies(session: Session, batch_ids: Sequence[str]) -> dict[str, RetryPolicy]:
    """Each batch's retry settings, by batch id."""
    query = select(
        Batch.id, Batch.max_retry_attempts, Batch.retry_delay_seconds, Batch.retry_on, Batch.fallback_channels
    ).where(Batch.id.in_(list(set(batch_ids))))
    return {
        batch_id: RetryPolicy(attempts, delay, tuple(retry_on), tuple(chain))
        for batch_id, attempts, delay, retry_on, chain in session.execute(query)
    }


def lock_calls(session: Session, call_ids: Sequence[str]) -> dict[str, Call]:
    """The calls, locked in id order so two transactions never wait on each other in a circle."""
    query = (
        select(Call).where(among(session, Call.id, sorted(set(call_ids)))).order_by(Call.id).with_for_update()
    )
    return {c.id: c for c in session.scalars(query.execution_options(populate_existing=True))}


def in_flight_count(session: Session, worker_id: str) -> int:
    query = select(func.count()).where(Call.lease_owner == worker_id, Call.status.in_(IN_FLIGHT))
    return session.scalar(query) or 0


def renew_leases(session: Session, worker_id: str, call_ids: Sequence[str], until: datetime) -> set[str]:
    """Extend to ``until`` the leases of these calls that are still in flight under ``worker_id``, in one
    statement; answers their ids."""
    query = (
        update(Call)
        .where(among(session, Call.id, call_ids), Call.lease_owner == worker_id, Call.status.in_(IN_FLIGHT))
        .values(lease_expires_at=until)
        .returning(Call.id)
        .execution_options(synchronize_session=False)
    )
    return set(session.scalars(query))


def abandonment_counts(
    session: Session, batch_ids: Sequence[str], after_seconds: float
) -> dict[str, tuple[int, int]]:
    """Per batch, its calls a person answered (attempts on the phone that ended completed, a machine's
    being voicemails) and how many of them heard no agent within ``after_seconds``."""
    if not batch_ids:
        return {}
    abandoned = func.sum(case((Attempt.agent_audio_after_seconds > after_seconds, 1), else_=0))
    query = (
        select(Attempt.batch_id, func.count(), abandoned)
        .where(
            among(session, Attempt.batch_id, batch_ids),
            Attempt.channel == Channel.PHONE,
            Attempt.outcome == CallStatus.COMPLETED,
        )
        .group_by(Attempt.batch_id)
    )
    return {batch_id: (live, int(silent or 0)) for batch_id, live, silent in session.execute(query)}


def abandoned_batches(session: Session, attempt_ids: Sequence[str], after_seconds: float) -> set[str]:
    """The batches of these attempts that a person answered and heard no agent within ``after_seconds``."""
    if not attempt_ids:
        return set()
    query = select(Attempt.batch_id).where(
        among(session, Attempt.id, attempt_ids),
        Attempt.outcome == CallStatus.COMPLETED,
        Attempt.agent_audio_after_seconds > after_seconds,
    )
    return set(session.scalars(query))
