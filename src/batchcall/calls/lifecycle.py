"""Every change of a call's state happens here and is logged here.

The dispatcher, the provider events, and the batch transitions (cancel, expiry, retry) all move calls
through these functions, so anything that must follow a state change (logs now, webhook events later)
has one place to hook in.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from batchcall.calls import repository
from batchcall.kit.ids import new_id
from batchcall.models import WAITING_STATUSES, Attempt, Call, CallStatus, Channel
from batchcall.webhooks import service as webhooks

log = logging.getLogger("batchcall.calls")

# A call that ended in one of these may be re-queued by retrying its finished batch.
RETRYABLE_ENDINGS = (CallStatus.FAILED, CallStatus.BUSY, CallStatus.NO_ANSWER)


def _changed(call: Call, new_status: str, **fields: object) -> None:
    log.info(
        "call %s: %s -> %s",
        call.id,
        call.status,
        new_status,
        extra={
            "call_id": call.id,
            "batch_id": call.batch_id,
            "from": call.status,
            "to": new_status,
            **fields,
        },
    )
    previous, call.status = call.status, new_status
    webhooks.call_status_changed(call, previous)


@dataclass(frozen=True, slots=True)
class Dial:
    """A claimed call about to be dialled from ``from_number`` with ``prompt``."""

    call: Call
    from_number: str | None
    prompt: str | None


def start_attempts(
    session: Session,
    dials: Sequence[Dial],
    provider: str,
    worker_id: str,
    lease_until: datetime,
    now: datetime,
) -> list[dict[str, object]]:
    """Waiting calls become ``dialing`` under this worker's lease, each with a new attempt (the rows)."""
    rows: list[dict[str, object]] = []
    for dial in dials:
        call = dial.call
        call.attempt_count += 1
        call.from_number = dial.from_number
        call.lease_owner = worker_id
        call.lease_expires_at = lease_until
        call.next_attempt_at = None
        call.updated_at = now
        _changed(call, CallStatus.DIALING, attempt=call.attempt_count, worker=worker_id)
        rows.append(
            {
                "id": new_id(),
                "call_id": call.id,
                "batch_id": call.batch_id,
                "number": call.attempt_count,
                "provider": provider,
                "provider_call_id": None,
                "channel": call.channel,
                "to": call.email if call.channel == Channel.EMAIL else call.to,
                "from_number": dial.from_number,
                "prompt": dial.prompt,
                "status": CallStatus.DIALING,
                "outcome": None,
                "error": None,
                "started_at": now,
                "answered_at": None,
                "ended_at": None,
                "duration_seconds": None,
                "cost_micros": None,
                "transcript": None,
                "summary": None,
            }
        )
    session.flush()
    repository.insert_attempts(session, rows)
    return rows


def mark_placed(session: Session, placed: Sequence[tuple[str, str, str]], now: datetime) -> None:
    """The provider took these dials (attempt id, call id, provider id): they ring."""
    for attempt_id, call_id, provider_call_id in placed:
        log.info(
            "call %s: dialing -> ringing",
            call_id,
            extra={
                "call_id": call_id,
                "attempt_id": attempt_id,
                "provider_call_id": provider_call_id,
                "from": CallStatus.DIALING,
                "to": CallStatus.RINGING,
            },
        )
    with webhooks.calls_moving(session, [CallStatus.DIALING], call_ids=[c for _, c, _ in placed]):
        repository.record_placed(session, placed, now)


def give_back(session: Session, returns: Sequence[tuple[Call, str, datetime]], now: datetime) -> None:
    """The provider placed nothing (a temporary fault): each attempt is undone and its call waits again.

    ``returns`` holds (call, attempt id, when to try again).
    """
    repository.delete_attempts(session, [attempt_id for _, attempt_id, _ in returns])
    for call, _, due in returns:
        call.attempt_count -= 1
        call.next_attempt_at = due
        call.lease_owner = None
        call.lease_expires_at = None
        call.updated_at = now
        _changed(call, CallStatus.QUEUED, retry_at=due.isoformat(), reason="provider unavailable")


def progress(call: Call, attempt: Attempt, status: str, answered_at: datetime | None, now: datetime) -> None:
    """The provider reports the call ringing or answered."""
    attempt.status = status
    attempt.answered_at = attempt.answered_at or answered_at
    call.updated_at = now
    if call.status != status:
        _changed(call, status, attempt_id=attempt.id)


@dataclass(frozen=True, slots=True)
class Ending:
    """How an attempt ended, whoever found out."""

    outcome: str
    ended_at: datetime
    answered_at: datetime | None = None
    duration_seconds: float | None = None
    error: str | None = None


def finish(call: Call, attempt: Attempt, ending: Ending, retry_at: datetime | None, now: datetime) -> None:
    """The attempt is over: the call waits for ``retry_at`` or ends with the attempt's outcome."""
    attempt.status = ending.outcome
    attempt.outcome = ending.outcome
    attempt.ended_at = ending.ended_at
    attempt.answered_at = attempt.answered_at or ending.answered_at
    attempt.duration_seconds = ending.duration_seconds
    attempt.error = ending.error
    call.outcome = ending.outcome
    call.lease_owner = None
    call.lease_expires_at = None
    call.updated_at = now
    if retry_at is not None:
        call.next_attempt_at = retry_at
        _changed(call, CallStatus.QUEUED, outcome=ending.outcome, retry_at=retry_at.isoformat())
    else:
        call.completed_at = now
        _changed(call, ending.outcome, outcome=ending.outcome, error=ending.error)


def extend_lease(call: Call, worker_id: str, until: datetime) -> None:
    """Still in flight at the provider: whoever checked holds the call until it checks again."""
    call.lease_owner = worker_id
    call.lease_expires_at = until


def defer(call: Call, until: datetime, now: datetime, reason: str) -> None:
    """Not now: the call waits for ``until`` (a window opening for its recipient)."""
    call.next_attempt_at = until
    call.updated_at = now
    log.debug(
        "call %s waits until %s: %s",
        call.id,
        until.isoformat(),
        reason,
        extra={"call_id": call.id, "batch_id": call.batch_id, "until": until.isoformat()},
    )


def skip(call: Call, reason: str, now: datetime) -> None:
    """The call must not be placed at all (do-not-call, no lawful calling time): it ends skipped."""
    call.skip_reason = reason
    call.next_attempt_at = None
    call.completed_at = now
    call.updated_at = now
    _changed(call, CallStatus.SKIPPED, reason=reason)


def _bulk(session: Session, batch_id: str, status: CallStatus, now: datetime) -> int:
    with webhooks.calls_moving(session, WAITING_STATUSES, batch_id=batch_id):
        moved = repository.set_waiting_status(session, batch_id, status, now)
    if moved:
        log.info(
            "calls of batch %s: %d waiting -> %s",
            batch_id,
            moved,
            status,
            extra={"batch_id": batch_id, "from": "waiting", "to": str(status), "count": moved},
        )
    return moved


def cancel_waiting(session: Session, batch_id: str, now: datetime) -> int:
    """Every call of the batch not yet started ends canceled."""
    return _bulk(session, batch_id, CallStatus.CANCELED, now)


def expire_waiting(session: Session, batch_id: str, now: datetime) -> int:
    """The batch's end passed: every call not yet placed ends expired."""
    return _bulk(session, batch_id, CallStatus.EXPIRED, now)


def requeue_unreached(session: Session, batch_id: str, now: datetime) -> int:
    """Calls that ended failed, busy or without an answer wait again, due now."""
    with webhooks.calls_moving(session, RETRYABLE_ENDINGS, batch_id=batch_id):
        moved = repository.requeue(session, batch_id, RETRYABLE_ENDINGS, now)
    log.info(
        "calls of batch %s: %d failed/busy/no_answer -> queued",
        batch_id,
        moved,
        extra={"batch_id": batch_id, "to": CallStatus.QUEUED, "count": moved},
    )
    return moved
