"""Provider status events: stored once, acted on only if new, whoever delivers them.

Callbacks over HTTP, the simulated provider's own events, and the statuses a worker fetches when it
recovers a lapsed call all come through ``receive``. An event moves the attempt and its call on; a final
one ends the attempt and lets the retry rules decide whether the call is tried again.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from batchcall.batches import repository as batches
from batchcall.batches import transitions as batch_transitions
from batchcall.calls import transitions, views
from batchcall.calls.transitions import Ending
from batchcall.calls.views import LiveAttempt, LiveCall
from batchcall.contacts import service as contacts
from batchcall.dispatcher import abandonment, breaker, repository, waiting
from batchcall.dispatcher.retry import RetryDecision
from batchcall.dispatcher.voicemail import MachineAnswered
from batchcall.kit.ids import new_id
from batchcall.mail import suppressions
from batchcall.models import IN_FLIGHT, BatchStatus, CallStatus, Channel
from batchcall.providers.base import MACHINE_ANSWERS, DialRequest, StatusEvent
from batchcall.results import service as results

log = logging.getLogger("batchcall.dispatcher")

# An attempt whose outcome nobody can tell is not dialled again: it may have reached the person.
NOT_RETRIED = RetryDecision(None, "the outcome is unknown, and a redial could reach the person twice")
# A dial the vendor refused with an error code of its own (an invalid number, an unsubscribed person) fails
# the same way every time.
REFUSED_FOR_GOOD = RetryDecision(None, "the provider refused the number for good")
UNSUBSCRIBED = "unsubscribed with the provider"


@dataclass
class Received:
    new: int = 0
    duplicates: int = 0
    ended: int = 0
    # Calls still on that a machine answered: what each does is asked of the vendor once this commits.
    machines: list[MachineAnswered] = field(default_factory=list)


def receive(
    session: Session,
    provider: str,
    events: Sequence[StatusEvent],
    now: datetime,
    account_id: str | None = None,
) -> Received:
    """Store ``events`` (unique on provider and event id) and act on the ones not seen before. They come
    from ``provider`` through the workspace's account ``account_id`` (None: the process default), and
    move only the attempts placed through that same account."""
    unique = list({event.event_id: event for event in events}.values())
    rows = [
        {
            "id": new_id(),
            "provider": provider,
            "event_id": event.event_id,
            "provider_call_id": event.provider_call_id,
            "payload": _payload(event),
            "received_at": now,
        }
        for event in unique
    ]
    new_ids = repository.store_new_events(session, rows)
    fresh = [event for event in unique if event.event_id in new_ids]
    received = Received(new=len(fresh), duplicates=len(events) - len(fresh))
    if fresh:
        _act(session, provider, account_id, fresh, now, received)
    return received


def _payload(event: StatusEvent) -> dict[str, object]:
    return {
        "status": event.status,
        "attempt_id": event.attempt_id,
        "occurred_at": event.occurred_at.isoformat(),
        "ended_at": event.ended_at.isoformat() if event.ended_at else None,
        "duration_seconds": event.duration_seconds,
        "opted_out": event.opted_out,
        "error": event.error,
        "error_code": event.error_code,
        "answered_by": event.answered_by,
        **event.payload,
    }


@dataclass(frozen=True, slots=True)
class _InFlight:
    call: LiveCall
    attempt: LiveAttempt


def _in_flight(session: Session, named: Sequence[tuple[str, str, str | None]]) -> dict[str, _InFlight]:
    """The attempts (attempt id, call id, provider id) still in flight, by id, read again once their
    calls are locked."""
    calls = views.lock_live_calls(session, [call_id for _, call_id, _ in named])
    fresh = views.live_attempts(session, [attempt_id for attempt_id, _, _ in named])
    return {
        attempt.id: _InFlight(calls[attempt.call_id], attempt)
        for attempt in fresh.values()
        if attempt.ended_at is None
        and attempt.call_id in calls
        and calls[attempt.call_id].status in IN_FLIGHT
        and calls[attempt.call_id].attempt_count == attempt.number
    }


def _act(
    session: Session,
    provider: str,
    account_id: str | None,
    events: Sequence[StatusEvent],
    now: datetime,
    received: Received,
) -> None:
    named = repository.event_attempts(
        session,
        provider,
        account_id,
        [e.provider_call_id for e in events],
        [e.attempt_id for e in events if e.attempt_id is not None],
    )
    by_provider_id = {
        provider_id: attempt_id for attempt_id, _, provider_id in named if provider_id is not None
    }
    known = {attempt_id for attempt_id, _, _ in named}
    live = _in_flight(session, named)
    # The furthest progress of each attempt, by attempt id.
    moving: dict[str, transitions.Progress] = {}
    ending: list[tuple[_InFlight, Ending]] = []
    opted_out: list[LiveCall] = []
    for event in events:
        attempt_id = by_provider_id.get(event.provider_call_id)
        if attempt_id is None and event.attempt_id in known:
            attempt_id = event.attempt_id
        if attempt_id is None:
            log.warning("event %s names no known call", event.event_id, extra={"provider": provider})
            continue
        found = live.get(attempt_id)
        if found is None:
            continue
        so_far = moving.get(attempt_id) or transitions.Progress.of(found.call, found.attempt)
        if not event.is_final:
            # Events come in any order: a late "ringing" never moves an answered call back.
            moving[attempt_id] = so_far.advanced(event.status, event.answered_at, event.answered_by)
            if _is_machine(moving[attempt_id].answered_by) and not _is_machine(so_far.answered_by):
                received.machines.append(
                    MachineAnswered(found.call.id, found.call.batch_id, event.provider_call_id)
                )
            continue
        answered_by = event.answered_by or so_far.answered_by
        ending.append(
            (
                found,
                Ending(
                    _machine_ending(event.status, answered_by),
                    event.ended_at or event.occurred_at,
                    event.answered_at or so_far.answered_at,
                    event.duration_seconds,
                    event.error,
                    event.provider_call_id,
                    answered_by=answered_by,
                    error_code=event.error_code,
                    cost_micros=event.cost_micros,
                    currency=event.currency,
                ),
            )
        )
        # Later events of the same attempt (in this delivery) find it ended.
        del live[attempt_id]
        if event.opted_out and found.call.to is not None:
            opted_out.append(found.call)
    # An attempt that moved on and ended in the same delivery needs only its ending written.
    ended = {found.attempt.id for found, _ in ending}
    transitions.progress(session, [m for key, m in moving.items() if key not in ended and m.moved], now)
    end_attempts(session, ending, now)
    received.ended += len(ending)
    for call in opted_out:
        assert call.to is not None
        contacts.block_number(
            session, call.workspace_id, call.to, "opted out during a call", now, source=provider
        )
    failing = {found.call.batch_id for found, e in ending if e.outcome == CallStatus.FAILED}
    trip_breakers(session, failing, now)


def _is_machine(answered_by: str | None) -> bool:
    return answered_by is not None and answered_by.startswith(MACHINE_ANSWERS)


def _machine_ending(status: str, answered_by: str | None) -> str:
    """A call a machine answered ended in a voicemail, whichever callback told who answered."""
    return CallStatus.VOICEMAIL if status == CallStatus.COMPLETED and _is_machine(answered_by) else status


def unsubscribe(session: Session, requests: Sequence[DialRequest], now: datetime) -> None:
    """The provider refused these dials because the person unsubscribed with it: no channel reaches them
    again (an address no email)."""
    for request in requests:
        if request.channel == Channel.EMAIL:
            suppressions.suppress(session, request.workspace_id, request.to, UNSUBSCRIBED, now)
            continue
        contacts.block_number(
            session,
            request.workspace_id,
            request.to,
            UNSUBSCRIBED,
            now,
            source=request.provider,
        )


def end_attempts(session: Session, endings: Sequence[tuple[_InFlight, Ending]], now: datetime) -> None:
    """End the attempts; the agent's result where it posted one, else the retry rules, decide whether
    each call waits for another."""
    policies = repository.retry_policies(session, [found.call.batch_id for found, _ in endings])
    decisions = results.decide_endings(
        session,
        [(found.call, found.attempt, ending.outcome, ending.ended_at) for found, ending in endings],
        policies,
        now,
    )
    transitions.finish(
        session,
        [
            (found.call, found.attempt, ending, decision)
            for (found, ending), decision in zip(endings, decisions, strict=True)
        ],
        now,
    )
    abandonment.pause_over_limit(session, [found.attempt.id for found, _ in endings], now)


def trip_breakers(session: Session, batch_ids: set[str], now: datetime) -> None:
    """Pause each of these batches whose recent attempts mostly failed."""
    session.flush()
    for batch_id in sorted(batch_ids):
        reason = breaker.tripped(session, batch_id, now)
        if reason is None:
            continue
        batch = batches.lock(session, batch_id)
        if batch is not None and batch.status == BatchStatus.ACTIVE:
            batch_transitions.move(session, batch, BatchStatus.PAUSED, now, reason)
            waiting.record(batch, waiting.breaker(reason))


def abandon(session: Session, pairs: Sequence[tuple[str, str]], now: datetime) -> int:
    """End attempts (attempt id, reason) that failed without a provider outcome: the provider refused the
    dial, or no longer knows it, so nothing reached the person and the retry rules apply."""
    live = _named_in_flight(session, pairs)
    if not live:
        return 0
    end_attempts(
        session, [(found, Ending(CallStatus.FAILED, now, error=reason)) for found, reason in live], now
    )
    trip_breakers(session, {found.call.batch_id for found, _ in live}, now)
    return len(live)


def refuse_for_good(session: Session, refusals: Sequence[tuple[str, str, str]], now: datetime) -> int:
    """End attempts (attempt id, reason, vendor error code) the vendor refused for a reason that will not
    change: each call fails, and is not tried again whatever its batch's retry rules."""
    live = _named_in_flight(session, [(attempt_id, reason) for attempt_id, reason, _ in refusals])
    codes = {attempt_id: code for attempt_id, _, code in refusals}
    transitions.finish(
        session,
        [
            (
                found.call,
                found.attempt,
                Ending(CallStatus.FAILED, now, error=reason, error_code=codes[found.attempt.id]),
                REFUSED_FOR_GOOD,
            )
            for found, reason in live
        ],
        now,
    )
    trip_breakers(session, {found.call.batch_id for found, _ in live}, now)
    return len(live)


def end_unknown(session: Session, pairs: Sequence[tuple[str, str]], now: datetime) -> int:
    """End attempts (attempt id, reason) whose outcome nobody can tell any more: each call ends ``unknown``
    and is not tried again, because the dial may have reached the person."""
    live = _named_in_flight(session, pairs)
    transitions.finish(
        session,
        [
            (found.call, found.attempt, Ending(CallStatus.UNKNOWN, now, error=reason), NOT_RETRIED)
            for found, reason in live
        ],
        now,
    )
    return len(live)


def _named_in_flight(session: Session, pairs: Sequence[tuple[str, str]]) -> list[tuple[_InFlight, str]]:
    """The attempts of ``pairs`` (attempt id, reason) still in flight, with their reasons."""
    if not pairs:
        return []
    reasons = dict(pairs)
    live = _in_flight(session, repository.attempts_named(session, list(reasons)))
    return [(found, reasons[attempt_id]) for attempt_id, found in live.items()]
