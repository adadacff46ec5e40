"""Every change of a call's status happens here, and is made known from one place.

The claim, the provider's events, reconciling lapsed calls and the batch requests (cancel, expiry,
retry) move calls only through these functions. Each one writes its rows, collects the moves it made
(which call went from which status to which, as the rows it changed say) and hands them to ``_publish``:
a log line per move, the webhook events of the endpoints that listen (built from each call as its row now
stands), and, when calls ended, their batches settled (completed once nothing is left to end).
"""

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from batchcall.batches import transitions as batches
from batchcall.calls import repository
from batchcall.calls.schemas import AttemptSummary, CallSummary
from batchcall.calls.views import DueCall, LiveAttempt, LiveCall
from batchcall.dispatcher.retry import RetryDecision
from batchcall.kit.ids import new_id
from batchcall.models import RETRIED_BY_DEFAULT, TERMINAL, Attempt, Call, CallResult, CallStatus, Channel
from batchcall.providers.base import EmailContent
from batchcall.results import repository as results
from batchcall.results.schemas import ResultRead
from batchcall.webhooks import service as webhooks
from batchcall.webhooks.schemas import ENDED_EVENT, EventType

log = logging.getLogger("batchcall.calls")


@dataclass(frozen=True, slots=True)
class Move:
    """One call's change of status; ``details`` are what its log line says besides."""

    call_id: str
    batch_id: str
    workspace_id: str
    before: str
    after: str
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dial:
    """A claimed call about to be dialled from ``from_number`` with ``prompt``, through ``provider`` (the
    workspace's account ``account_id`` with it, or the process default when None)."""

    call: DueCall
    from_number: str | None
    prompt: str | None
    provider: str
    account_id: str | None = None
    # An email's subject and parts, as rendered for it.
    email: EmailContent | None = None


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
    answered_by: str | None = None
    error_code: str | None = None
    cost_micros: int | None = None
    currency: str | None = None


# How far a call in flight has got; an event for an earlier stage, arriving late, is no news.
STAGE: dict[str, int] = {CallStatus.DIALING: 0, CallStatus.RINGING: 1, CallStatus.IN_PROGRESS: 2}


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a call in flight has got by the events so far, and whether they changed anything."""

    call: LiveCall
    attempt: LiveAttempt
    status: str
    answered_at: datetime | None
    answered_by: str | None
    moved: bool = False

    @classmethod
    def of(cls, call: LiveCall, attempt: LiveAttempt) -> "Progress":
        return cls(call, attempt, attempt.status, attempt.answered_at, attempt.answered_by)

    def advanced(self, status: str, answered_at: datetime | None, answered_by: str | None) -> "Progress":
        further = STAGE.get(status, 0) > STAGE.get(self.status, 0)
        answered = self.answered_at is None and answered_at is not None
        told = self.answered_by is None and answered_by is not None
        if not (further or answered or told):
            return self
        return Progress(
            self.call,
            self.attempt,
            status if further else self.status,
            self.answered_at or answered_at,
            self.answered_by or answered_by,
            moved=True,
        )


def _publish(
    session: Session,
    moves: Sequence[Move],
    now: datetime,
    *,
    one_line: bool = False,
    settle: bool = True,
    **fields: object,
) -> None:
    """Make the moves known: logged (each on its line, or, for a bulk move, one line per batch and change),
    queued as webhook events, and the batches of calls that ended settled."""
    if not moves:
        return
    _log(moves, one_line, fields)
    _queue_events(session, moves)
    if settle:
        batches.settle(session, {move.batch_id for move in moves if move.after in TERMINAL}, now)


def _log(moves: Sequence[Move], one_line: bool, fields: Mapping[str, object]) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    if one_line:
        changes = Counter((move.batch_id, move.before, move.after) for move in moves)
        for (batch_id, before, after), count in changes.items():
            log.info(
                "calls of batch %s: %d %s -> %s",
                batch_id,
                count,
                before,
                after,
                extra={"batch_id": batch_id, "from": before, "to": after, "count": count, **fields},
            )
        return
    for move in moves:
        log.info(
            "call %s: %s -> %s",
            move.call_id,
            move.before,
            move.after,
            extra={
                "call_id": move.call_id,
                "batch_id": move.batch_id,
                "from": move.before,
                "to": move.after,
                **fields,
                **move.details,
            },
        )


def _queue_events(session: Session, moves: Sequence[Move]) -> None:
    """The webhook events of the moves, for the workspaces with an endpoint; nothing is read otherwise."""
    heard = [move for move in moves if webhooks.listening(session, move.workspace_id)]
    if not heard:
        return
    # Bulk writes went past the session: read each call as its row stands now.
    session.flush()
    calls = repository.calls_by_id(session, [move.call_id for move in heard])
    attempts = repository.current_attempts(session, list(calls.values()))
    reported = results.latest_of_calls(session, [move.call_id for move in heard if move.after in TERMINAL])
    for move in heard:
        call = calls.get(move.call_id)
        if call is None:
            continue
        events = [EventType.CALL_STATUS_CHANGED]
        if move.after in ENDED_EVENT:
            events.append(ENDED_EVENT[move.after])
        wanted = [event for event in events if webhooks.listening(session, call.workspace_id, event)]
        if not wanted:
            continue
        data = _payload(call, attempts.get(call.id), reported.get(call.id)) | {"previous_status": move.before}
        for event in wanted:
            webhooks.enqueue(session, call.workspace_id, event, data, call.updated_at)


def _payload(call: Call, attempt: Attempt | None, result: CallResult | None) -> dict[str, Any]:
    """A call as its webhook events carry it: the call, its current attempt, the agent's result."""
    data = CallSummary.model_validate(call).model_dump(mode="json", by_alias=True)
    # Seed E: the row's metadata comes back to the caller as requestMetadata.
    data["requestMetadata"] = data["metadata"]
    data["attempt"] = (
        AttemptSummary.model_validate(attempt).model_dump(mode="json", by_alias=True) if attempt else None
    )
    data["result"] = ResultRead.model_validate(result).model_dump(mode="json") if result else None
    return data


def announce_result(session: Session, call: Call, result: CallResult, now: datetime) -> None:
    """Queue the ``call.result`` event of a result just posted, for the endpoints that subscribe."""
    if not webhooks.listening(session, call.workspace_id, EventType.CALL_RESULT):
        return
    attempt = repository.current_attempts(session, [call]).get(call.id)
    webhooks.enqueue(session, call.workspace_id, EventType.CALL_RESULT, _payload(call, attempt, result), now)


def start_attempts(
    session: Session,
    dials: Sequence[Dial],
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
                "provider": dial.provider,
                "provider_account_id": dial.account_id,
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
                "currency": None,
                "answered_by": None,
                "error_code": None,
                "agent_audio_after_seconds": None,
            }
        )
    repository.overwrite_calls(session, first_calls)
    repository.overwrite_calls(session, later_calls)
    repository.insert_attempts(session, rows)
    moves = [_move(d.call, CallStatus.DIALING) for d in dials]
    _publish(session, moves, now, worker=worker_id)
    return rows


def mark_placed(session: Session, placed: Sequence[tuple[str, str, str]], now: datetime) -> None:
    """The provider took these dials (attempt id, call id, provider id): they ring, unless an ending
    overtook the dial (a fast callback), which the call keeps."""
    rung = repository.record_placed(session, placed, now)
    attempts = {call_id: (attempt_id, provider_id) for attempt_id, call_id, provider_id in placed}
    moves = [
        Move(
            call_id,
            batch_id,
            workspace_id,
            CallStatus.DIALING,
            CallStatus.RINGING,
            {"attempt_id": attempts[call_id][0], "provider_call_id": attempts[call_id][1]},
        )
        for call_id, batch_id, workspace_id in rung
    ]
    _publish(session, moves, now)


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
    moves: list[Move] = []
    for call, _, due in returns:
        moves.append(_move(call, CallStatus.QUEUED, retry_at=due.isoformat()))
        call.status = CallStatus.QUEUED
        call.attempt_count -= 1
        call.next_attempt_at = due
        call.lease_owner = None
        call.lease_expires_at = None
        call.updated_at = now
    _publish(session, moves, now, reason=reason)


def progress(session: Session, moves: Sequence[Progress], now: datetime) -> None:
    """The provider reports calls ringing or answered, and who answered."""
    if not moves:
        return
    repository.overwrite_attempts(
        session,
        [
            {
                "id": m.attempt.id,
                "status": m.status,
                "answered_at": m.answered_at,
                "answered_by": m.answered_by,
            }
            for m in moves
        ],
    )
    changed = [(m.call, m.attempt, m.status) for m in moves if m.call.status != m.status]
    repository.overwrite_calls(session, [{"id": c.id, "status": s, "updated_at": now} for c, _, s in changed])
    _publish(session, [_move(call, status, attempt_id=attempt.id) for call, attempt, status in changed], now)


def finish(
    session: Session,
    endings: Sequence[tuple[LiveCall, LiveAttempt, Ending, RetryDecision]],
    now: datetime,
) -> None:
    """The attempts are over: each call (call, attempt, ending, retry decision) waits for its retry or
    ends with its attempt's outcome."""
    if not endings:
        return
    attempts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    moves: list[Move] = []
    for call, attempt, ending, retry in endings:
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
                "answered_by": attempt.answered_by or ending.answered_by,
                "error_code": ending.error_code,
                "cost_micros": ending.cost_micros,
                "currency": ending.currency,
            }
        )
        status = CallStatus.QUEUED.value if retry.at is not None else ending.outcome
        moved_on = retry.fallback
        calls.append(
            {
                "id": call.id,
                "status": status,
                "outcome": ending.outcome,
                "lease_owner": None,
                "lease_expires_at": None,
                "next_attempt_at": retry.at,
                "completed_at": None if retry.at is not None else now,
                "updated_at": now,
                "callbacks": call.callbacks + 1 if retry.callback else call.callbacks,
                "fallbacks": moved_on.step if moved_on else call.fallbacks,
                "channel": moved_on.channel if moved_on else call.channel,
            }
        )
        details: dict[str, object] = {"outcome": ending.outcome, "retry": retry.reason}
        if moved_on is not None:
            details["channel"] = moved_on.channel
        if retry.at is not None:
            details["retry_at"] = retry.at.isoformat()
        elif ending.error is not None:
            details["error"] = ending.error
        moves.append(_move(call, status, **details))
    repository.overwrite_attempts(session, attempts)
    repository.overwrite_calls(session, calls)
    # A retry may come due before the time its batch said it would dial next.
    batches.wake(session, {call.batch_id for call, _, _, retry in endings if retry.at is not None})
    _publish(session, moves, now)


def hold_for_provider(call: Call, until: datetime) -> None:
    """A recovered call still in flight, or of an outcome still to learn: it waits for the provider's
    events until ``until``, when whoever reconciles lapsed calls asks again. No live worker owns it, so no
    heartbeat renews it past that time. Its status does not change."""
    call.lease_owner = None
    call.lease_expires_at = until


def defer(session: Session, waits: Sequence[tuple[DueCall, datetime, str]], now: datetime) -> None:
    """Not now: each call (call, until, why) waits for ``until`` (a window opening for its recipient). Its
    status does not change."""
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
    _publish(session, [_move(call, CallStatus.SKIPPED, reason=reason) for call, reason in skips], now)


def cancel_waiting(session: Session, batch_id: str, now: datetime) -> int:
    """Every call of the batch not yet started ends canceled; the caller cancels the batch itself, so the
    batch is not settled (it would complete first)."""
    moved = repository.end_waiting(session, batch_id, CallStatus.CANCELED, now)
    _publish(session, [Move(*row, CallStatus.CANCELED) for row in moved], now, one_line=True, settle=False)
    return len(moved)


def cancel_for_person(
    session: Session, workspace_id: str, number: str | None, address: str | None, reason: str, now: datetime
) -> int:
    """The person asked not to be contacted: every call of theirs not yet started, in every batch of the
    workspace, ends canceled with ``reason``."""
    moved = repository.end_waiting_of_person(session, workspace_id, number, address, reason, now)
    _publish(session, [Move(*row, CallStatus.CANCELED) for row in moved], now, one_line=True, reason=reason)
    return len(moved)


def call_again(session: Session, call: Call, retry: RetryDecision, now: datetime) -> None:
    """A call that ended, or waits for a retry, is tried again at ``retry.at`` (a callback the person asked
    for, or a disposition its agent retries); a callback counts against the call's callbacks."""
    assert retry.at is not None
    move = _move(call, CallStatus.QUEUED, retry=retry.reason, retry_at=retry.at.isoformat())
    call.status = CallStatus.QUEUED
    call.next_attempt_at = retry.at
    call.completed_at = None
    call.updated_at = now
    if retry.callback:
        call.callbacks += 1
    batches.wake(session, {call.batch_id})
    if move.before != CallStatus.QUEUED:
        _publish(session, [move], now)


def expire_waiting(session: Session, batch_id: str, now: datetime) -> int:
    """The batch's end passed: every call not yet placed ends expired."""
    moved = repository.end_waiting(session, batch_id, CallStatus.EXPIRED, now)
    _publish(session, [Move(*row, CallStatus.EXPIRED) for row in moved], now, one_line=True)
    return len(moved)


def requeue_unreached(session: Session, batch_id: str, now: datetime) -> int:
    """Calls that ended failed, busy or without an answer wait again, due now."""
    moved = repository.requeue(session, batch_id, RETRIED_BY_DEFAULT, now)
    _publish(session, [Move(*row, CallStatus.QUEUED) for row in moved], now, one_line=True)
    return len(moved)


def _move(call: DueCall | LiveCall | Call, after: str, **details: object) -> Move:
    return Move(call.id, call.batch_id, call.workspace_id, call.status, after, details)
