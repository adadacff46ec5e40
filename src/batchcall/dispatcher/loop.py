"""The dispatcher: one ``tick`` is one pass of every duty; ``run`` ticks until told to stop.

A tick delivers the provider's due events, reconciles calls whose lease lapsed, starts scheduled
batches, expires what passed its end, and gives every active batch its turn to claim and dial. Tests
drive it tick by tick on a manual clock; ``batchcall worker`` and ``batchcall serve`` run it on the
system clock. Workers share nothing but the database.
"""

import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from batchcall.batches import repository as batches
from batchcall.batches import transitions as batch_transitions
from batchcall.calls import repository as calls
from batchcall.calls import transitions
from batchcall.db import unit_of_work
from batchcall.dispatcher import provider_events, repository, voicemail
from batchcall.dispatcher.claim import Claimer, claim
from batchcall.dispatcher.lease import Heartbeat
from batchcall.dispatcher.providers import ProviderPool
from batchcall.kit.ids import new_id
from batchcall.models import Attempt, BatchStatus, Call
from batchcall.providers.base import (
    DialRequest,
    NoStatus,
    Provider,
    ProviderRejected,
    ProviderUnanswered,
    ProviderUnavailable,
    StatusEvent,
)
from batchcall.runtime import Runtime

log = logging.getLogger("batchcall.dispatcher")

RECONCILE_LIMIT = 500
# A claim holds no more calls than the provider dials in this long, so a pause stops new dials within a
# second and a lease never runs out before its dial: fast providers get large claims, slow ones small.
DIAL_BUDGET_SECONDS = 0.5
# Until the provider's dial time is measured, claims are at most this large.
FIRST_CLAIM = 100
# Why a recovered attempt ends unknown: the provider's id for the dial was never recorded (its worker
# stopped first, or the provider did not answer), the provider cannot be asked about it by our attempt id,
# and no callback came in time.
UNKNOWN_DIAL = (
    "the provider's confirmation of the dial was never recorded (the worker stopped, or the provider did "
    "not answer), and neither the provider nor a callback said how it went; not redialled, as it may have "
    "reached the person"
)
# Why a recovered attempt is undone: the provider has no record of it, so the dial never went out.
NEVER_PLACED = "the dial never reached the provider"


# Where events come from: a vendor, and the provider account (None: the process default).
Source = tuple[str, str | None]


@dataclass
class Recovered:
    """What reconciling lapsed calls found, to be written together."""

    statuses: dict[Source, list[StatusEvent]] = field(default_factory=dict)
    # (call, attempt id, due again)
    never_placed: list[tuple[Call, str, datetime]] = field(default_factory=list)
    # (attempt id, reason)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Tick:
    """What one pass did."""

    dialled: int = 0
    events: int = 0
    ended: int = 0
    reconciled: int = 0
    skipped: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.dialled or self.events or self.reconciled or self.skipped)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"


class Dispatcher:
    def __init__(
        self, runtime: Runtime, provider: Provider | None = None, worker_id: str | None = None
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.providers = ProviderPool(runtime, provider)
        # The process default, which serves every channel a workspace has no provider account for.
        self.provider = self.providers.default
        self.worker_id = worker_id or settings.worker_id or default_worker_id()
        self.claimer = Claimer(
            self.provider.name,
            self.worker_id,
            timedelta(seconds=settings.lease_seconds),
            settings.claim_batch_size,
            settings.max_prompt_chars,
        )
        self.heartbeat = Heartbeat(
            runtime,
            self.worker_id,
            self.claimer.lease,
            longest_hold=timedelta(seconds=settings.unconfirmed_dial_timeout_seconds),
        )
        # Events taken from the providers and not yet stored, by (vendor, account id): they are kept until
        # a write of them commits.
        self.undelivered: dict[Source, list[StatusEvent]] = {}
        self.claiming = True
        # Seconds one dial takes at the provider, smoothed over the claims so far (None before the first).
        self.dial_seconds: float | None = None

    def _now(self) -> datetime:
        return self.runtime.clock.now()

    def tick(self) -> Tick:
        tick = Tick()
        self.deliver_events(tick)
        self.reconcile(tick)
        self.advance_batches()
        if self.claiming:
            with self.runtime.sessions() as session:
                # A batch waiting for its window, a cap or its next due call is passed over until then.
                batch_ids = repository.batches_to_visit(session, self._now())
            # Workers visit batches in different orders, so each finds a batch the others are not holding.
            random.shuffle(batch_ids)
            for batch_id in batch_ids:
                self.work_batch(batch_id, tick)
        return tick

    def deliver_events(self, tick: Tick) -> None:
        """Store the provider's due events and act on them; if the write fails they wait for the next pass
        (storing is idempotent on the event id, so none is acted on twice), and this pass goes on."""
        held = {(provider.name, account_id): provider for account_id, provider in self.providers.held()}
        for source, provider in held.items():
            polled = provider.poll_events()
            if polled:
                self.undelivered.setdefault(source, []).extend(polled)
        if not self.undelivered:
            return
        try:
            with unit_of_work(self.runtime.sessions) as session:
                received = {
                    source: provider_events.receive(session, source[0], events, self._now(), source[1])
                    for source, events in self.undelivered.items()
                }
                machines = {
                    source: voicemail.steps(session, r.machines)
                    for source, r in received.items()
                    if r.machines
                }
        except Exception:
            log.exception(
                "storing %d provider event(s) failed; kept for the next pass",
                sum(len(events) for events in self.undelivered.values()),
                extra={"worker": self.worker_id},
            )
            return
        self.undelivered.clear()
        tick.events += sum(r.new for r in received.values())
        tick.ended += sum(r.ended for r in received.values())
        for source, steps in machines.items():
            voicemail.carry_out(held[source], steps)

    def reconcile(self, tick: Tick) -> None:
        """Ask the provider about each call whose lease lapsed: end it, or hold it until the next check.

        A dial whose provider id was never recorded (its worker died in between) is looked up by our
        attempt id: found, it goes on as any other; never placed, it is undone and dialled again; when the
        provider cannot tell, it waits for a late callback until ``unconfirmed_dial_timeout_seconds`` after
        it started, and then ends unknown.
        """
        now = self._now()
        with unit_of_work(self.runtime.sessions) as session:
            lapsed = repository.lapsed_calls(session, now, RECONCILE_LIMIT)
            if not lapsed:
                return
            attempts = calls.current_attempts(session, lapsed)
            recovered = Recovered()
            unconfirmed: dict[Source, list[tuple[Call, Attempt]]] = {}
            for call in lapsed:
                attempt = attempts.get(call.id)
                if attempt is None:
                    continue
                source = (attempt.provider, attempt.provider_account_id)
                if attempt.provider_call_id is None:
                    unconfirmed.setdefault(source, []).append((call, attempt))
                else:
                    self._fetch(session, call, attempt, now, recovered)
            for source, held in unconfirmed.items():
                self._look_up(session, source, held, now, recovered)
            log.info(
                "reconciling %d lapsed call(s)",
                len(lapsed),
                extra={
                    "worker": self.worker_id,
                    "statuses": len(recovered.statuses),
                    "never_placed": len(recovered.never_placed),
                    "unknown": len(recovered.unknown),
                },
            )
            transitions.give_back(session, recovered.never_placed, now, reason=NEVER_PLACED)
            received = [
                provider_events.receive(session, vendor, statuses, now, account_id)
                for (vendor, account_id), statuses in recovered.statuses.items()
            ]
            ended_unknown = provider_events.end_unknown(session, recovered.unknown, now)
            abandoned = provider_events.abandon(session, recovered.refused, now)
        tick.reconciled += len(lapsed)
        tick.ended += sum(r.ended for r in received) + ended_unknown + abandoned

    def _fetch(
        self, session: Session, call: Call, attempt: Attempt, now: datetime, recovered: Recovered
    ) -> None:
        """The status of a lapsed attempt, asked by its provider id."""
        assert attempt.provider_call_id is not None
        try:
            provider = self.providers.of(session, attempt.provider, attempt.provider_account_id)
            status = provider.fetch_status(attempt.provider_call_id)
        except ProviderUnavailable as fault:
            transitions.hold_for_provider(call, now + timedelta(seconds=fault.retry_after_seconds))
            return
        except ProviderRejected as fault:
            recovered.refused.append((attempt.id, f"the provider no longer knows the call: {fault.message}"))
            return
        self._found(call, (attempt.provider, attempt.provider_account_id), status, now, recovered)

    def _found(
        self, call: Call, source: "Source", status: StatusEvent, now: datetime, recovered: Recovered
    ) -> None:
        """What the provider said of a lapsed call, recorded; held until the next check if in flight."""
        recovered.statuses.setdefault(source, []).append(status)
        if not status.is_final:
            transitions.hold_for_provider(call, now + self.claimer.lease)

    def _look_up(
        self,
        session: Session,
        source: "Source",
        unconfirmed: list[tuple[Call, Attempt]],
        now: datetime,
        recovered: Recovered,
    ) -> None:
        """What a provider knows of lapsed attempts without a provider id, asked by our attempt ids."""
        try:
            provider = self.providers.of(session, *source)
            answers = provider.lookup([attempt.id for _, attempt in unconfirmed])
        except ProviderRejected as fault:
            recovered.refused.extend((attempt.id, fault.message) for _, attempt in unconfirmed)
            return
        except ProviderUnavailable as fault:
            for call, _ in unconfirmed:
                transitions.hold_for_provider(call, now + timedelta(seconds=fault.retry_after_seconds))
            return
        timeout = timedelta(seconds=self.runtime.settings.unconfirmed_dial_timeout_seconds)
        for call, attempt in unconfirmed:
            answer = answers.get(attempt.id, NoStatus.CANNOT_TELL)
            if isinstance(answer, StatusEvent):
                attempt.provider_call_id = answer.provider_call_id
                self._found(call, source, answer, now, recovered)
            elif answer is NoStatus.NOT_PLACED:
                recovered.never_placed.append((call, attempt.id, now))
            elif now >= attempt.started_at + timeout:
                recovered.unknown.append((attempt.id, UNKNOWN_DIAL))
            else:
                # Late callbacks find the attempt by our id meanwhile; the last look is at the timeout.
                transitions.hold_for_provider(call, attempt.started_at + timeout)

    def advance_batches(self) -> None:
        """Start scheduled batches whose time came; expire the waiting calls of batches past their end."""
        now = self._now()
        with unit_of_work(self.runtime.sessions) as session:
            for batch in repository.scheduled_batches_due(session, now):
                batch_transitions.move(session, batch, BatchStatus.ACTIVE, now)
            for batch_id in repository.batches_past_end_with_waiting_calls(session, now):
                transitions.expire_waiting(session, batch_id, now)

    def work_batch(self, batch_id: str, tick: Tick) -> None:
        with unit_of_work(self.runtime.sessions) as session:
            batch = batches.lock(session, batch_id, wait=False)
            if batch is None or batch.status != BatchStatus.ACTIVE:
                return
            claimed = claim(session, batch, replace(self.claimer, limit=self.claim_limit()), self._now())
        self.heartbeat.hold(request.call_id for request in claimed.requests)
        tick.skipped += claimed.skipped
        if claimed.requests:
            self.dial(claimed.requests)
            tick.dialled += len(claimed.requests)

    def claim_limit(self) -> int:
        """How many calls one batch turn may claim: ``claim_batch_size``, or fewer when the provider's dials
        are slow enough that more would take longer than DIAL_BUDGET_SECONDS to place."""
        if self.dial_seconds is None:
            return min(self.claimer.limit, FIRST_CLAIM)
        return max(1, min(self.claimer.limit, int(DIAL_BUDGET_SECONDS / max(self.dial_seconds, 1e-6))))

    def dial(self, requests: list[DialRequest]) -> None:
        """Hand each claimed attempt to the provider, then record what it said, all in one transaction.

        A dial the provider left unanswered, or that failed in a way no rule foresaw, may have been placed:
        it is recorded as nothing, and its lease lapses so that reconciling asks the provider about it;
        the other dials of the pass go on and are recorded."""
        placed: list[tuple[str, str, str]] = []
        unanswered: list[str] = []
        unavailable: dict[str, float] = {}
        refused: list[tuple[str, str]] = []
        refused_for_good: list[tuple[str, str, str]] = []
        unsubscribed: list[DialRequest] = []
        started = time.perf_counter()
        with self.runtime.sessions() as session:
            providers = self._providers_of(session, requests)
        for request in requests:
            try:
                provider = providers[(request.provider, request.account_id)]
                if isinstance(provider, ProviderRejected):
                    raise provider
                placed.append((request.attempt_id, request.call_id, provider.start_call(request)))
            except ProviderUnavailable as fault:
                unavailable[request.call_id] = fault.retry_after_seconds
                log.warning("provider unavailable: %s", fault.message, extra={"call_id": request.call_id})
            except ProviderRejected as fault:
                reason = f"the provider refused the call: {fault.message}"
                if fault.code is None:
                    refused.append((request.attempt_id, reason))
                else:
                    refused_for_good.append((request.attempt_id, reason, fault.code))
                if fault.opted_out:
                    unsubscribed.append(request)
            except ProviderUnanswered as fault:
                unanswered.append(request.call_id)
                log.warning("provider did not answer: %s", fault.message, extra={"call_id": request.call_id})
            except Exception:
                unanswered.append(request.call_id)
                log.exception("dialling failed", extra={"call_id": request.call_id})
        self.heartbeat.release(unanswered)
        took = (time.perf_counter() - started) / len(requests)
        self.dial_seconds = took if self.dial_seconds is None else 0.7 * self.dial_seconds + 0.3 * took
        now = self._now()
        try:
            with unit_of_work(self.runtime.sessions) as session:
                transitions.mark_placed(session, placed, now)
                if unavailable:
                    self._give_back(session, requests, unavailable, now)
                provider_events.abandon(session, refused, now)
                provider_events.refuse_for_good(session, refused_for_good, now)
                provider_events.unsubscribe(session, unsubscribed, now)
        except Exception:
            # What the provider said is not stored: the leases lapse, and reconciling asks the provider.
            self.heartbeat.release(request.call_id for request in requests)
            raise

    def _providers_of(
        self, session: Session, requests: list[DialRequest]
    ) -> dict[Source, Provider | ProviderRejected]:
        """The provider of each (vendor, account) the requests go through, or why there is none."""
        found: dict[Source, Provider | ProviderRejected] = {}
        for source in {(request.provider, request.account_id) for request in requests}:
            try:
                found[source] = self.providers.of(session, *source)
            except ProviderRejected as fault:
                found[source] = fault
        return found

    def _give_back(
        self, session: Session, requests: list[DialRequest], unavailable: dict[str, float], now: datetime
    ) -> None:
        locked = repository.lock_calls(session, list(unavailable))
        transitions.give_back(
            session,
            [
                (locked[r.call_id], r.attempt_id, now + timedelta(seconds=unavailable[r.call_id]))
                for r in requests
                if r.call_id in unavailable
            ],
            now,
        )

    def own_calls_in_flight(self) -> int:
        with self.runtime.sessions() as session:
            return repository.in_flight_count(session, self.worker_id)

    def run(self, stop: threading.Event, drained: threading.Event | None = None) -> None:
        """Tick until ``stop`` is set; then stop claiming and finish this worker's calls until ``drained`` is.

        Idle passes, and failed ones (the database is away), wait ``poll_interval_seconds``; a pass that did
        work is followed at once by the next. The lease heartbeat beats meanwhile, and stops with it.
        """
        interval = self.runtime.settings.poll_interval_seconds
        log.info("dispatcher %s started", self.worker_id, extra={"worker": self.worker_id})
        self.heartbeat.start()
        try:
            while not stop.is_set():
                if not self._safe_tick().busy:
                    stop.wait(interval)
            self.claiming = False
            while drained is not None and not drained.is_set() and self._still_holding_calls():
                if not self._safe_tick().busy:
                    drained.wait(interval)
        finally:
            self.heartbeat.stop()
        log.info("dispatcher %s stopped", self.worker_id, extra={"worker": self.worker_id})

    def _still_holding_calls(self) -> bool:
        try:
            return self.own_calls_in_flight() > 0
        except Exception:
            log.exception("counting calls in flight failed", extra={"worker": self.worker_id})
            return True

    def _safe_tick(self) -> Tick:
        try:
            return self.tick()
        except Exception:
            # A failed pass rolled back whole; the next one starts from what the database says.
            log.exception("dispatcher pass failed", extra={"worker": self.worker_id})
            return Tick()
