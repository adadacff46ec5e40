"""Every change of a call's state happens here and is logged here.

The dispatcher, the provider events, and the batch transitions (cancel, expiry, retry) all move calls
through these functions, so anything that must follow a state change (logs now, webhook events later)
has one place to hook in.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from batchcall.batches import transitions as batches
from batchcall.calls import repository
from batchcall.kit.ids import new_id
from batchcall.models import RETRIED_BY_DEFAULT, WAITING, Call, CallStatus, Channel
from batchcall.webhooks import service as webhooks

log = logging.getLogger("batchcall.calls")


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


@dataclass(frozen=True, slots=True)
class LiveCall:
    """A call in flight as an ending or progress event reads it, with its row locked."""

    id: str
    batch_id: str
    workspace_id: str
    status: str
    attempt_count: int
    max_retries: int | None
    to: str | None


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


@dataclass(frozen=True, slots=True)
class Dial:
    """A claimed call about to be dialled from ``from_number`` with ``prompt``."""

    call: DueCall
    from_number: str | None
    prompt: str | None


def _log_moves(moves: Sequence[tuple[str, str, str, str]], **fields: object) -> None:
    """One structured line per call (call id, batch id, from, to) that changed state in bulk."""
    if not log.isEnabledFor(logging.INFO):
        return
    for call_id, batch_id, before, after in moves:
        log.info(
            "call %s: %s -> %s",
            call_id,
            before,
            after,
            extra={"call_id": call_id, "batch_id": batch_id, "from": before, "to": after, **fields},
        )


def _queue_events(session: Session, moves: Sequence[tuple[str, str, str]]) -> None:
    """Webhook events of calls (call id, workspace id, status before) whose rows a bulk write changed."""
    by_workspace: dict[str, dict[str, str]] = {}
    for call_id, workspace_id, before in moves:
        by_workspace.setdefault(workspace_id, {})[call_id] = before
    for workspace_id, previous in by_workspace.items():
        webhooks.calls_changed(session, workspace_id, previous)


def start_attempts(
    session: Session,
    dials: Sequence[Dial],
    provider: str,
    worker_id: str,
    lease_until: datetime,
    now: datetime,
) -> list[dict[str, object]]:
    """Waiting calls become ``dialing`` under this worker's lease, each with a new attempt (the rows).

    The claim holds the calls' rows locked, so each one's attempt number is the one it read plus one. A
    prompt is stored once: a first attempt's on its call, a later one's on the attempt only where it
    differs from the call's (its agent was edited in between)."""
    first_calls: list[dict[str, Any]] = []
    later_calls: list[dict[str, Any]] = []
    rows: list[dict[str, object]] = []
    for dial in dials:
        call = dial.call
        number = call.attempt_count + 1
        row: dict[str, Any] = {
            "id": call.id,
            "status": CallStatus.DIALING.value,
            "attempt_count": number,
            "from_number": dial.from_number,
            "lease_owner": worker_id,
            "lease_expires_at": lease_until,
            "next_attempt_at": None,
            "updated_at": now,
        }
        if number == 1:
            first_calls.append(row | {"prompt": dial.prompt})
        else:
            later_calls.append(row)
        rows.append(
            {
                "id": new_id(),
                "call_id": call.id,
                "batch_id": call.batch_id,
                "number": number,
                "provider": provider,
                "provider_call_id": None,
                "channel": call.channel,
                "to": call.email if call.channel == Channel.EMAIL else call.to,
                "from_number": dial.from_number,
                "prompt": None if number == 1 or dial.prompt == call.prompt else dial.prompt,
                "status": CallStatus.DIALING.value,
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
    repository.overwrite_calls(session, first_calls)
    repository.overwrite_calls(session, later_calls)
    repository.insert_attempts(session, rows)
    _log_moves(
        [(d.call.id, d.call.batch_id, d.call.status, CallStatus.DIALING) for d in dials], worker=worker_id
    )
    _queue_events(session, [(d.call.id, d.call.workspace_id, d.call.status) for d in dials])
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


def give_back(
    session: Session,
    returns: Sequence[tuple[Call, str, datetime]],
    now: datetime,
    reason: str = "provider unavailable",
) -> None:
    """The provider placed nothing (a temporary fault, or a dial that never reached it): each attempt is
    undone and its call waits again.

    ``returns`` holds (call, attempt id, when to try again).
    """
    repository.delete_attempts(session, [attempt_id for _, attempt_id, _ in returns])
    batches.wake(session, {call.batch_id for call, _, _ in returns})
    for call, _, due in returns:
        call.attempt_count -= 1
        call.next_attempt_at = due
        call.lease_owner = None
        call.lease_expires_at = None
        call.updated_at = now
        _changed(call, CallStatus.QUEUED, retry_at=due.isoformat(), reason=reason)


def progress(
    session: Session, moves: Sequence[tuple[LiveCall, LiveAttempt, str, datetime | None]], now: datetime
) -> None:
    """The provider reports calls ringing or answered: (call, attempt, status, answered at)."""
    if not moves:
        return
    repository.overwrite_attempts(
        session,
        [
            {"id": attempt.id, "status": status, "answered_at": attempt.answered_at or answered_at}
            for _, attempt, status, answered_at in moves
        ],
    )
    changed = [(call, attempt, status) for call, attempt, status, _ in moves if call.status != status]
    repository.overwrite_calls(session, [{"id": c.id, "status": s, "updated_at": now} for c, _, s in changed])
    for call, attempt, status in changed:
        _log_moves([(call.id, call.batch_id, call.status, status)], attempt_id=attempt.id)
    _queue_events(session, [(c.id, c.workspace_id, c.status) for c, _, _ in changed])


@dataclass(frozen=True, slots=True)
class Ending:
    """How an attempt ended, whoever found out."""

    outcome: str
    ended_at: datetime
    answered_at: datetime | None = None
    duration_seconds: float | None = None
    error: str | None = None
    # A callback can overtake the worker that is still recording the provider's id.
    provider_call_id: str | None = None


def finish(
    session: Session,
    endings: Sequence[tuple[LiveCall, LiveAttempt, Ending, datetime | None]],
    now: datetime,
) -> None:
    """The attempts are over: each call (call, attempt, ending, retry at) waits for its retry or ends
    with its attempt's outcome."""
    if not endings:
        return
    attempts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for call, attempt, ending, retry_at in endings:
        attempts.append(
            {
                "id": attempt.id,
                "provider_call_id": attempt.provider_call_id or ending.provider_call_id,
                "status": ending.outcome,
                "outcome": ending.outcome,
                "ended_at": ending.ended_at,
                "answered_at": attempt.answered_at or ending.answered_at,
                "duration_seconds": ending.duration_seconds,
                "error": ending.error,
            }
        )
        calls.append(
            {
                "id": call.id,
                "status": CallStatus.QUEUED.value if retry_at is not None else ending.outcome,
                "outcome": ending.outcome,
                "lease_owner": None,
                "lease_expires_at": None,
                "next_attempt_at": retry_at,
                "completed_at": None if retry_at is not None else now,
                "updated_at": now,
            }
        )
    repository.overwrite_attempts(session, attempts)
    repository.overwrite_calls(session, calls)
    # A retry may come due before the time its batch said it would dial next.
    batches.wake(session, {call.batch_id for call, _, _, retry_at in endings if retry_at is not None})
    if log.isEnabledFor(logging.INFO):
        for (call, _, ending, retry_at), row in zip(endings, calls, strict=True):
            details: dict[str, object] = {"outcome": ending.outcome}
            if retry_at is not None:
                details["retry_at"] = retry_at.isoformat()
            elif ending.error is not None:
                details["error"] = ending.error
            _log_moves([(call.id, call.batch_id, call.status, row["status"])], **details)
    _queue_events(session, [(call.id, call.workspace_id, call.status) for call, *_ in endings])


def hold_for_provider(call: Call, until: datetime) -> None:
    """A recovered call still in flight, or of an outcome still to learn: it waits for the provider's
    events until ``until``, when whoever reconciles lapsed calls asks again. No live worker owns it, so no
    heartbeat renews it past that time."""
    call.lease_owner = None
    call.lease_expires_at = until


def defer(session: Session, waits: Sequence[tuple[DueCall, datetime, str]], now: datetime) -> None:
    """Not now: each call (call, until, why) waits for ``until`` (a window opening for its recipient)."""
    repository.overwrite_calls(
        session, [{"id": call.id, "next_attempt_at": until, "updated_at": now} for call, until, _ in waits]
    )
    if log.isEnabledFor(logging.DEBUG):
        for call, until, reason in waits:
            log.debug(
                "call %s waits until %s: %s",
                call.id,
                until.isoformat(),
                reason,
                extra={"call_id": call.id, "batch_id": call.batch_id, "until": until.isoformat()},
            )


def skip(session: Session, skips: Sequence[tuple[DueCall, str]], now: datetime) -> None:
    """The calls (call, reason) must not be placed at all (do-not-call, no lawful calling time): they end
    skipped."""
    if not skips:
        return
    repository.overwrite_calls(
        session,
        [
            {
                "id": call.id,
                "status": CallStatus.SKIPPED.value,
                "skip_reason": reason,
                "next_attempt_at": None,
                "completed_at": now,
                "updated_at": now,
            }
            for call, reason in skips
        ],
    )
    for call, reason in skips:
        _log_moves([(call.id, call.batch_id, call.status, CallStatus.SKIPPED)], reason=reason)
    _queue_events(session, [(call.id, call.workspace_id, call.status) for call, _ in skips])


def _bulk(session: Session, batch_id: str, status: CallStatus, now: datetime) -> int:
    with webhooks.calls_moving(session, WAITING, batch_id=batch_id):
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
    with webhooks.calls_moving(session, RETRIED_BY_DEFAULT, batch_id=batch_id):
        moved = repository.requeue(session, batch_id, RETRIED_BY_DEFAULT, now)
    log.info(
        "calls of batch %s: %d failed/busy/no_answer -> queued",
        batch_id,
        moved,
        extra={"batch_id": batch_id, "to": CallStatus.QUEUED, "count": moved},
    )
    return moved
