"""What the dispatcher reads of calls and attempts: each read model with the columns it holds and the
query that fills it, so a column added to one is added here, once."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from batchcall.kit.bulk import among
from batchcall.models import WAITING, Attempt, Call


@dataclass(frozen=True, slots=True)
class DueCall:
    """A waiting call as the claim reads it: what dialling it needs, and nothing more."""

    id: str
    batch_id: str
    workspace_id: str
    status: str
    channel: str
    to: str | None
    email: str | None
    from_number: str | None
    name: str | None
    first_name: str | None
    last_name: str | None
    instruction: str | None
    variables: dict[str, Any]
    attempt_count: int
    # As rendered for its first attempt.
    prompt: str | None
    email_subject: str | None
    email_template_name: str | None
    email_template_id: str | None
    email_template_params: dict[str, Any] | None


DUE_CALL_COLUMNS = (
    Call.id,
    Call.batch_id,
    Call.workspace_id,
    Call.status,
    Call.channel,
    Call.to,
    Call.email,
    Call.from_number,
    Call.name,
    Call.first_name,
    Call.last_name,
    Call.instruction,
    Call.variables,
    Call.attempt_count,
    Call.prompt,
    Call.email_subject,
    Call.email_template_name,
    Call.email_template_id,
    Call.email_template_params,
)


@dataclass(frozen=True, slots=True)
class LiveCall:
    """A call in flight as an ending or progress event reads it, with its row locked."""

    id: str
    batch_id: str
    workspace_id: str
    status: str
    attempt_count: int
    max_retries: int | None
    callbacks: int
    fallbacks: int
    channel: str
    to: str | None
    email: str | None


LIVE_CALL_COLUMNS = (
    Call.id,
    Call.batch_id,
    Call.workspace_id,
    Call.status,
    Call.attempt_count,
    Call.max_retries,
    Call.callbacks,
    Call.fallbacks,
    Call.channel,
    Call.to,
    Call.email,
)


@dataclass(frozen=True, slots=True)
class LiveAttempt:
    """An attempt as an event reads it, once its call is locked."""

    id: str
    call_id: str
    batch_id: str
    number: int
    provider_call_id: str | None
    status: str
    answered_at: datetime | None
    ended_at: datetime | None
    answered_by: str | None


LIVE_ATTEMPT_COLUMNS = (
    Attempt.id,
    Attempt.call_id,
    Attempt.batch_id,
    Attempt.number,
    Attempt.provider_call_id,
    Attempt.status,
    Attempt.answered_at,
    Attempt.ended_at,
    Attempt.answered_by,
)


def due_calls(
    session: Session, batch_id: str, now: datetime, limit: int, taken: Sequence[str]
) -> list[DueCall]:
    """Waiting calls that are due, oldest first, locked, except ``taken``; ones another transaction holds
    are skipped."""
    query = (
        select(*DUE_CALL_COLUMNS)
        .where(Call.batch_id == batch_id, Call.status.in_(WAITING), Call.next_attempt_at <= now)
        .order_by(Call.next_attempt_at, Call.row_number)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if taken:
        query = query.where(~among(session, Call.id, taken))
    return [DueCall(*row) for row in session.execute(query)]


def lock_live_calls(session: Session, call_ids: Sequence[str]) -> dict[str, LiveCall]:
    """The calls as an event needs them, locked in id order so two transactions never wait in a circle."""
    query = (
        select(*LIVE_CALL_COLUMNS)
        .where(among(session, Call.id, sorted(set(call_ids))))
        .order_by(Call.id)
        .with_for_update()
    )
    return {row.id: LiveCall(*row) for row in session.execute(query)}


def live_attempts(session: Session, attempt_ids: Sequence[str]) -> dict[str, LiveAttempt]:
    query = select(*LIVE_ATTEMPT_COLUMNS).where(among(session, Attempt.id, attempt_ids))
    return {row.id: LiveAttempt(*row) for row in session.execute(query)}
