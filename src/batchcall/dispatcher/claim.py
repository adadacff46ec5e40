"""One batch's turn: with its row locked, decide which due calls may start now and start them.

The batch row lock (``FOR UPDATE``; on SQLite the write lock of ``BEGIN IMMEDIATE``) makes the claims
of one batch take turns across every worker, so the in-flight count and the daily and per-second counts
read here are exact when the new dials are added to them.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from batchcall.agents.service import Prompt, prompt_of
from batchcall.calls import transitions, views
from batchcall.calls.transitions import Dial
from batchcall.calls.views import DueCall
from batchcall.contacts import repository as contacts
from batchcall.dispatcher import caps, repository, rotation, waiting, window
from batchcall.dispatcher.content import Emails, message_of
from batchcall.mail.suppressions import suppressed
from batchcall.models import IN_FLIGHT, WAITING, Batch, BatchStatus, Channel, Voicemail
from batchcall.provider_accounts import service as provider_accounts
from batchcall.providers.base import DialRequest, EmailContent

log = logging.getLogger("batchcall.dispatcher")


@dataclass
class Claimed:
    requests: list[DialRequest] = field(default_factory=list)
    skipped: int = 0
    # Calls due now that wait for their recipient's calling hours.
    deferred: int = 0


@dataclass(frozen=True, slots=True)
class Claimer:
    # The process default provider: it serves each channel a workspace has no provider account for.
    provider: str
    worker_id: str
    lease: timedelta
    limit: int
    # A rendered prompt longer than this is not dialled.
    max_prompt_chars: int


def claim(session: Session, batch: Batch, claimer: Claimer, now: datetime) -> Claimed:
    """Start as many of the batch's due calls as its rules allow now; when none may start, record the
    rule that holds them and when the batch may dial next."""
    claimed = Claimed()
    if batch.ends_at is not None and batch.ends_at <= now:
        transitions.expire_waiting(session, batch.id, now)
        if batch.status != BatchStatus.ACTIVE:
            # Those were its last calls: it completed.
            return claimed
    counts = repository.open_call_counts(session, batch.id)
    to_dial = sum(counts.get(status, 0) for status in WAITING)
    in_flight = sum(counts.get(status, 0) for status in IN_FLIGHT)
    if to_dial == 0:
        # Nothing to dial until calls are added or retried, which wakes the batch.
        waiting.record(
            batch, waiting.last_in_flight(in_flight) if in_flight else waiting.nothing_due(batch, None)
        )
        return claimed
    prompt = prompt_of(session, batch.agent_id) if batch.agent_id else None
    if prompt is not None and prompt.unfit is not None:
        waiting.record(batch, waiting.agent_unavailable(prompt.unfit))
        return claimed
    opening = window.next_opening([window.batch_window(batch)], now)
    if opening != now:
        waiting.record(batch, waiting.outside_window(batch, now, opening))
        return claimed
    allowance = caps.batch_allowance(session, batch, now, in_flight, claimer.limit)
    if allowance.count == 0:
        waiting.record(batch, waiting.held_by_cap(batch, allowance))
        return claimed
    capacity = caps.caller_capacity(session, batch, now)
    if batch.from_numbers and not any(capacity.usable(n) for n in batch.from_numbers):
        waiting.record(batch, waiting.out_of_callers(batch, capacity, now))
        return claimed
    dials = _choose(session, batch, capacity, allowance.count, prompt, claimer, now, claimed)
    if not dials:
        waiting.record(batch, _until_due(session, batch, now, claimed.deferred > 0))
        return claimed
    waiting.record(batch, None)
    caps.count_dials(session, batch, capacity, Counter(d.from_number for d in dials), now)
    rows = transitions.start_attempts(session, dials, claimer.worker_id, now + claimer.lease, now)
    claimed.requests = [
        DialRequest(
            call_id=dial.call.id,
            attempt_id=str(row["id"]),
            channel=dial.call.channel,
            to=str(row["to"]),
            from_number=dial.from_number,
            prompt=dial.prompt,
            workspace_id=batch.workspace_id,
            provider=dial.provider,
            account_id=dial.account_id,
            email=dial.email,
            leaves_message=prompt is not None and prompt.voicemail == Voicemail.MESSAGE,
        )
        for dial, row in zip(dials, rows, strict=True)
    ]
    return claimed


def _until_due(session: Session, batch: Batch, now: datetime, deferred: bool) -> waiting.Waiting:
    """No call may start now: the soonest waiting call says until when, and whether it waits for its
    recipient's calling hours (this claim deferred some, or the soonest one's recipient is asleep now)."""
    soonest = repository.soonest_waiting(session, batch.id)
    if soonest is None:
        return waiting.nothing_due(batch, None)
    until, to, channel = soonest
    asleep = (
        batch.respect_recipient_timezone
        and channel != Channel.EMAIL
        and window.verdict(batch, to, now).at != now
    )
    return waiting.recipient_hours(batch, until) if deferred or asleep else waiting.nothing_due(batch, until)


def _choose(
    session: Session,
    batch: Batch,
    capacity: caps.CallerCapacity,
    budget: int,
    agent_prompt: Prompt | None,
    claimer: Claimer,
    now: datetime,
    claimed: Claimed,
) -> list[Dial]:
    """Due calls that may go out now, up to ``budget``; the others wait for their time or are skipped.
    Each goes through the provider of its channel: the workspace's account for it, else the default."""
    dials: list[Dial] = []
    routes = provider_accounts.routes(session, batch.workspace_id, claimer.provider)
    emails = Emails(session, batch.workspace_id, fallback_subject=batch.name)
    while len(dials) < budget:
        calls = views.due_calls(session, batch.id, now, budget - len(dials), [d.call.id for d in dials])
        if not calls:
            break
        blocked = contacts.blocked_numbers(session, batch.workspace_id, {c.to for c in calls if c.to})
        unsubscribed = suppressed(
            session, batch.workspace_id, {c.email for c in calls if c.channel == Channel.EMAIL and c.email}
        )
        skips: list[tuple[DueCall, str]] = []
        waits: list[tuple[DueCall, datetime, str]] = []
        out_of_callers = False
        for call in calls:
            if call.to is not None and call.to in blocked:
                skips.append((call, f"{call.to} is on the do-not-call list"))
                continue
            if call.channel == Channel.EMAIL and call.email and call.email.lower() in unsubscribed:
                skips.append((call, f"{call.email} unsubscribed from this workspace's email"))
                continue
            if batch.respect_recipient_timezone and call.channel != Channel.EMAIL:
                verdict = window.verdict(batch, call.to, now)
                if verdict.at is None:
                    skips.append((call, verdict.reason))
                    continue
                if verdict.at != now:
                    waits.append((call, verdict.at, verdict.reason))
                    continue
            said = _said(call, agent_prompt, emails, claimer.max_prompt_chars)
            if isinstance(said, str):
                skips.append((call, said))
                continue
            route = routes.get(call.channel)
            if route is None:
                skips.append((call, _unserved(call.channel, claimer.provider)))
                continue
            # An email goes from the account's address, and counts against no caller id.
            by_phone = batch.from_numbers and call.channel != Channel.EMAIL
            from_number = rotation.choose(batch, capacity, call.from_number) if by_phone else None
            if by_phone and from_number is None:
                out_of_callers = True
                break
            prompt, email = said
            dials.append(Dial(call, from_number, prompt, *route, email=email))
        transitions.skip(session, skips, now)
        transitions.defer(session, waits, now)
        claimed.skipped += len(skips)
        claimed.deferred += len(waits)
        if out_of_callers:
            break
    return dials


def _said(
    call: DueCall, agent_prompt: Prompt | None, emails: Emails, max_prompt_chars: int
) -> tuple[str | None, EmailContent | None] | str:
    """What the call says (its prompt, and for an email the email), or why it cannot be sent."""
    prompt = message_of(call, agent_prompt)
    if prompt is not None and len(prompt) > max_prompt_chars:
        return _too_long(prompt, max_prompt_chars)
    if call.channel != Channel.EMAIL:
        return prompt, None
    email = emails.compose(call, prompt)
    return email if isinstance(email, str) else (email.text, email)


def _unserved(channel: str, default: str) -> str:
    account_channel = provider_accounts.ACCOUNT_CHANNEL[Channel(channel)]
    return (
        f"no provider sends {channel} for this workspace: {default} (BATCHCALL_PROVIDER) has no "
        f"{account_channel}; add a provider account whose channels include {account_channel}"
    )


def _too_long(prompt: str, limit: int) -> str:
    return (
        f"the prompt rendered for this call is {len(prompt)} characters, over the limit of {limit} "
        "(BATCHCALL_MAX_PROMPT_CHARS); shorten the agent's template or the row's variables"
    )
