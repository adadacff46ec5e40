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

from batchcall.batches import service as batches
from batchcall.calls import lifecycle
from batchcall.calls.lifecycle import Ending
from batchcall.contacts import service as contacts
from batchcall.dispatcher import breaker, repository, retry
from batchcall.kit.ids import new_id
from batchcall.models import IN_FLIGHT_STATUSES, Attempt, Batch, BatchStatus, Call, CallStatus
from batchcall.providers.base import StatusEvent

log = logging.getLogger("batchcall.dispatcher")


@dataclass
class Received:
    new: int = 0
    duplicates: int = 0
    ended: int = 0
    batches_paused: list[str] = field(default_factory=list)


def receive(session: Session, provider: str, events: Sequence[StatusEvent], now: datetime) -> Received:
    """Store ``events`` (unique on provider and event id) and act on the ones not seen before."""
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
        _act(session, provider, fresh, now, received)
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
        **event.payload,
    }


@dataclass(frozen=True, slots=True)
class _InFlight:
    batch: Batch
    call: Call
    attempt: Attempt


def _in_flight(session: Session, attempts: Sequence[Attempt]) -> dict[str, _InFlight]:
    """The attempts still in flight, by id, read again once their calls are locked, with their batches."""
    calls = repository.lock_calls(session, [a.call_id for a in attempts])
    fresh = repository.attempts_by_id(session, [a.id for a in attempts])
    batches_by_id = repository.batches_by_id(session, [a.batch_id for a in fresh])
    return {
        attempt.id: _InFlight(batches_by_id[attempt.batch_id], calls[attempt.call_id], attempt)
        for attempt in fresh
        if attempt.ended_at is None
        and attempt.call_id in calls
        and calls[attempt.call_id].status in IN_FLIGHT_STATUSES
        and calls[attempt.call_id].attempt_count == attempt.number
    }


def _act(
    session: Session, provider: str, events: Sequence[StatusEvent], now: datetime, received: Received
) -> None:
    attempts = repository.attempts_for_events(
        session,
        provider,
        [e.provider_call_id for e in events],
        [e.attempt_id for e in events if e.attempt_id is not None],
    )
    by_provider_id = {a.provider_call_id: a for a in attempts if a.provider_call_id is not None}
    by_id = {a.id: a for a in attempts}
    live = _in_flight(session, attempts)
    failing: set[str] = set()
    for event in events:
        attempt = by_provider_id.get(event.provider_call_id) or by_id.get(event.attempt_id or "")
        if attempt is None:
            log.warning("event %s names no known call", event.event_id, extra={"provider": provider})
            continue
        # A callback can overtake the worker that is still recording the provider's id.
        attempt.provider_call_id = attempt.provider_call_id or event.provider_call_id
        found = live.get(attempt.id)
        if found is None:
            continue
        if not event.is_final:
            lifecycle.progress(found.call, attempt, event.status, event.answered_at, now)
            continue
        ending = Ending(
            event.status,
            event.ended_at or event.occurred_at,
            event.answered_at,
            event.duration_seconds,
            event.error,
        )
        end_attempt(session, found.batch, found.call, attempt, ending, now)
        del live[attempt.id]
        received.ended += 1
        if event.opted_out and found.call.to is not None:
            contacts.block_number(
                session,
                found.call.workspace_id,
                found.call.to,
                "opted out during a call",
                now,
                source=provider,
            )
        if event.status == CallStatus.FAILED:
            failing.add(found.batch.id)
    received.batches_paused = trip_breakers(session, failing, now)


def end_attempt(
    session: Session, batch: Batch, call: Call, attempt: Attempt, ending: Ending, now: datetime
) -> None:
    """End the attempt; the retry rules decide whether its call waits for another."""
    lifecycle.finish(call, attempt, ending, retry.retry_at(batch, call, ending.outcome, ending.ended_at), now)


def trip_breakers(session: Session, batch_ids: set[str], now: datetime) -> list[str]:
    """Pause each of these batches whose recent attempts mostly failed; answers the ones paused."""
    paused: list[str] = []
    session.flush()
    for batch_id in sorted(batch_ids):
        reason = breaker.tripped(session, batch_id, now)
        if reason is None:
            continue
        batch = repository.lock_batch(session, batch_id, wait=True)
        if batch is not None and batch.status == BatchStatus.ACTIVE:
            batches.set_status(batch, BatchStatus.PAUSED, now, reason)
            paused.append(batch_id)
    return paused


def abandon(session: Session, pairs: Sequence[tuple[str, str]], now: datetime, retriable: bool) -> int:
    """End attempts (attempt id, reason) that failed without a provider outcome.

    With ``retriable`` the retry rules apply (the provider refused the dial, so nothing reached the
    person); without, the call ends failed, because the dial may have gone out and must not be repeated.
    """
    reasons = dict(pairs)
    live = _in_flight(session, repository.attempts_by_id(session, list(reasons)))
    for attempt_id, found in live.items():
        ending = Ending(CallStatus.FAILED, now, error=reasons[attempt_id])
        if retriable:
            end_attempt(session, found.batch, found.call, found.attempt, ending, now)
        else:
            lifecycle.finish(found.call, found.attempt, ending, None, now)
    if retriable:
        trip_breakers(session, {found.batch.id for found in live.values()}, now)
    return len(live)
