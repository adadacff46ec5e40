"""What an agent reports of a conversation, and what the report does.

A result belongs to one attempt. It is checked against the agent (its dispositions, its ``result_schema``),
stored once (the same report again answers the same; a different one is refused), and acted on:

- an opt-out, or the disposition ``do_not_call``, puts the number on the do-not-call list (and the address on
  the email suppression list) at once, and cancels every call of the person still waiting, in every batch;
- ``callback_at`` gives the call one more attempt at that time, or at the first lawful time after it, while
  the call has callbacks left (the agent's ``max_callbacks``);
- a disposition the agent retries gives the call another attempt under its batch's retry rules.

A result posted while the call is still on decides its next attempt when the call ends
(``decide_endings``); one posted after, at once.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import jsonschema_rs
import orjson
from sqlalchemy.orm import Session

from batchcall.agents import service as agents
from batchcall.batches import repository as batches
from batchcall.batches import transitions as batch_transitions
from batchcall.calls import transitions
from batchcall.calls.views import LiveAttempt, LiveCall
from batchcall.contacts import service as contacts
from batchcall.dispatcher import repository as dispatch_repository
from batchcall.dispatcher import window
from batchcall.dispatcher.retry import AttemptBudget, RetryDecision, RetryPolicy
from batchcall.kit.errors import Conflict, Invalid, NotFound
from batchcall.kit.tenancy import get_owned
from batchcall.mail import suppressions
from batchcall.models import (
    DIALLED_ENDINGS,
    WAITING,
    Agent,
    Attempt,
    Batch,
    BatchStatus,
    Call,
    CallResult,
    CallStatus,
    Voicemail,
)
from batchcall.models.agent import DEFAULT_MAX_CALLBACKS
from batchcall.results import repository
from batchcall.results.dispositions import DO_NOT_CALL, allowed
from batchcall.results.schemas import Effects, ResultCreate

# The furthest ahead a callback may be asked for.
MAX_CALLBACK_DAYS = 60
# The schema faults a refused result lists.
MAX_FAULTS_LISTED = 20
OPTED_OUT = "asked not to be contacted again"
DECIDED_AT_END = "decided when the call ends"


@dataclass(frozen=True, slots=True)
class Poster:
    """Who posts a result: an agent with its session token (``attempt_id``, the one attempt it may report
    on), or an API key of the workspace."""

    workspace_id: str
    posted_by: str
    attempt_id: str | None = None


@dataclass(frozen=True, slots=True)
class Ask:
    """What a result asks of the call's next attempt."""

    disposition: str
    opt_out: bool
    callback_at: datetime | None

    @property
    def stops(self) -> bool:
        return self.opt_out or self.disposition == DO_NOT_CALL

    @classmethod
    def of(cls, result: CallResult | ResultCreate) -> "Ask":
        return cls(result.disposition, result.opt_out, result.callback_at)


@dataclass(frozen=True, slots=True)
class AgentRules:
    """What an agent says about the attempts its results ask for."""

    retry_dispositions: tuple[str, ...] = ()
    max_callbacks: int = DEFAULT_MAX_CALLBACKS

    @classmethod
    def of(cls, agent: Agent | None) -> "AgentRules":
        if agent is None:
            return cls()
        return cls(tuple(agent.retry_dispositions), agent.max_callbacks)


class Caller(AttemptBudget, Protocol):
    """The call a follow-up is for: its budget, its callbacks, and the number its hours are of."""

    @property
    def to(self) -> str | None: ...


def follow_up(
    ask: Ask,
    rules: AgentRules,
    policy: RetryPolicy,
    call: Caller,
    batch: Batch,
    ended_at: datetime,
    now: datetime,
) -> RetryDecision | None:
    """The attempt the result asks for after the one that ended at ``ended_at``: none after an opt-out, the
    callback at the first lawful time from the one asked, a retry of a disposition the agent retries; None
    when the result asks nothing, and the call's outcome decides as usual."""
    if ask.stops:
        return RetryDecision(None, f"the person {OPTED_OUT}")
    if ask.callback_at is not None:
        if call.callbacks >= rules.max_callbacks:
            return RetryDecision(
                None,
                f"no callback: the call had its {rules.max_callbacks} callbacks (the agent's max_callbacks)",
            )
        verdict = window.verdict(batch, call.to, max(ask.callback_at, now))
        if verdict.at is None:
            return RetryDecision(None, f"no callback: {verdict.reason}")
        return RetryDecision(verdict.at, f"a callback asked for {ask.callback_at.isoformat()}", callback=True)
    if ask.disposition in rules.retry_dispositions:
        return policy.retry(call, ask.disposition, ended_at)
    return None


def post(session: Session, poster: Poster, call_id: str, body: ResultCreate, now: datetime) -> CallResult:
    """Store the result of the call's attempt (the token's, or with a key the latest) and act on it; the
    same result posted again answers the one stored."""
    get_owned(session, Call, poster.workspace_id, call_id, "Call")
    # The call's ending takes the same locks, call then batch: a result and the end of its call take turns,
    # and everything below is read as it stands once they are held.
    call = dispatch_repository.lock_calls(session, [call_id])[call_id]
    batch = batches.lock(session, call.batch_id)
    assert batch is not None
    attempt = _attempt_of(session, call, poster)
    agent = agents.of_batch(session, batch.id)
    _check(body, agent, now)
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(canonical).hexdigest()
    stored = repository.of_attempt(session, attempt.id)
    if stored is not None:
        if stored.body_hash == digest:
            return stored
        raise Conflict(
            f"A different result was already posted for attempt {attempt.number} of call {call.id}"
        )
    ask = Ask.of(body)
    effects = Effects()
    if ask.stops:
        effects.blocked, effects.canceled_calls = _stop(session, call, body, now)
    if attempt.ended_at is None:
        if ask.callback_at is not None or ask.disposition in AgentRules.of(agent).retry_dispositions:
            effects.follow_up = DECIDED_AT_END
    elif attempt.number == call.attempt_count and batch.status != BatchStatus.CANCELED:
        _follow_up_now(session, call, batch, agent, ask, attempt, effects, now)
    result = CallResult(
        workspace_id=call.workspace_id,
        call_id=call.id,
        attempt_id=attempt.id,
        disposition=body.disposition,
        summary=body.summary,
        transcript=[turn.model_dump() for turn in body.transcript],
        data=body.data,
        opt_out=body.opt_out,
        callback_at=body.callback_at,
        effects=effects.model_dump(mode="json"),
        body_hash=digest,
        posted_by=poster.posted_by,
        posted_at=now,
    )
    session.add(result)
    session.flush()
    transitions.announce_result(session, call, result, now)
    return result


def _attempt_of(session: Session, call: Call, poster: Poster) -> Attempt:
    """The attempt a result is for: the session token's own, or the call's latest."""
    if poster.attempt_id is not None:
        attempt = session.get(Attempt, poster.attempt_id, populate_existing=True)
        if attempt is None or attempt.call_id != call.id:
            raise NotFound(f"Call {call.id} not found")
        return attempt
    latest = repository.attempt_numbered(session, call.id, call.attempt_count)
    if latest is None:
        raise Conflict(f"Call {call.id} has not been dialled: there is no conversation to report")
    return latest


def _check(body: ResultCreate, agent: Agent | None, now: datetime) -> None:
    """Refuse a result the agent cannot give: a disposition it does not have, data its result_schema
    refuses, a callback too far ahead."""
    codes = allowed(agent.dispositions if agent else [])
    if body.disposition not in codes:
        raise Invalid.of_fields([("disposition", f"'{body.disposition}' is none of {', '.join(codes)}")])
    if body.callback_at is not None and body.callback_at > now + timedelta(days=MAX_CALLBACK_DAYS):
        raise Invalid.of_fields([("callback_at", f"is more than {MAX_CALLBACK_DAYS} days ahead")])
    if body.callback_at is not None and body.callback_at < now - timedelta(days=1):
        raise Invalid.of_fields([("callback_at", "is more than a day ago")])
    if agent is None or agent.result_schema is None:
        return
    validator = jsonschema_rs.validator_for(agent.result_schema, offline=True)
    faults = [
        ("data" + "".join(f".{step}" for step in fault.instance_path), fault.message)
        for _, fault in zip(range(MAX_FAULTS_LISTED), validator.iter_errors(body.data), strict=False)
    ]
    if faults:
        raise Invalid.of_fields(faults)


def _stop(session: Session, call: Call, body: ResultCreate, now: datetime) -> tuple[bool, int]:
    """The person opted out: their number and address are blocked for every channel, and their calls still
    waiting canceled in every batch; answers whether a number was blocked and how many calls were canceled."""
    reason = f"{OPTED_OUT} (call {call.id}: {body.disposition if not body.opt_out else 'opt_out'})"
    if call.to:
        contacts.block_number(session, call.workspace_id, call.to, reason, now, source="agent")
    if call.email:
        suppressions.suppress(session, call.workspace_id, call.email, reason, now)
    canceled = transitions.cancel_for_person(session, call.workspace_id, call.to, call.email, reason, now)
    return call.to is not None, canceled


def _follow_up_now(
    session: Session,
    call: Call,
    batch: Batch,
    agent: Agent | None,
    ask: Ask,
    attempt: Attempt,
    effects: Effects,
    now: datetime,
) -> None:
    """A result posted after its call ended: the attempt it asks for is scheduled now."""
    assert attempt.ended_at is not None
    policy = dispatch_repository.retry_policies(session, [batch.id])[batch.id]
    decision = follow_up(ask, AgentRules.of(agent), policy, call, batch, attempt.ended_at, now)
    if decision is None:
        return
    effects.follow_up = decision.reason
    if decision.at is None or call.status not in (*DIALLED_ENDINGS, *WAITING):
        return
    if batch.status == BatchStatus.COMPLETED:
        batch_transitions.move(session, batch, BatchStatus.ACTIVE, now, f"call {call.id}: {decision.reason}")
    transitions.call_again(session, call, decision, now)
    effects.next_attempt_at = decision.at


def of_attempts(session: Session, attempt_ids: Sequence[str]) -> dict[str, CallResult]:
    return repository.of_attempts(session, attempt_ids)


def latest_of_calls(session: Session, call_ids: Sequence[str]) -> dict[str, CallResult]:
    return repository.latest_of_calls(session, call_ids)


def decide_endings(
    session: Session,
    endings: Sequence[tuple[LiveCall, LiveAttempt, str, datetime]],
    policies: dict[str, RetryPolicy],
    now: datetime,
) -> list[RetryDecision]:
    """What follows each ending attempt (call, attempt, outcome, ended at): what its result asks, where
    the agent posted one while the call was on, else the batch's retry rules; the result keeps the answer."""
    results = repository.of_attempts(session, [attempt.id for _, attempt, _, _ in endings])
    decisions: list[RetryDecision] = []
    for call, attempt, outcome, reported_end in endings:
        policy = policies[call.batch_id]
        # A provider whose clock runs ahead of ours delays no retry past its delay.
        ended_at = min(reported_end, now)
        decision = _asked_at_end(session, results.get(attempt.id), call, policy, ended_at, now)
        if decision is None:
            falls_back = outcome == CallStatus.VOICEMAIL and _falls_back(session, call.batch_id)
            decision = policy.decide(call, outcome, ended_at, machine_falls_back=falls_back)
        decisions.append(decision)
    return decisions


def _falls_back(session: Session, batch_id: str) -> bool:
    """Whether the batch's agent moves a call a machine answered on to the next channel."""
    agent = agents.of_batch(session, batch_id)
    return agent is not None and agent.voicemail == Voicemail.FALLBACK


def _asked_at_end(
    session: Session,
    result: CallResult | None,
    call: LiveCall,
    policy: RetryPolicy,
    ended_at: datetime,
    now: datetime,
) -> RetryDecision | None:
    """What the result posted during the call asks once it ended, kept on the result; None when there is
    none, it asks nothing, or the batch was canceled."""
    batch = session.get(Batch, call.batch_id) if result is not None else None
    if result is None or batch is None or batch.status == BatchStatus.CANCELED:
        return None
    rules = AgentRules.of(agents.of_batch(session, batch.id))
    decision = follow_up(Ask.of(result), rules, policy, call, batch, ended_at, now)
    if decision is not None:
        effects = Effects.model_validate(result.effects)
        effects.follow_up, effects.next_attempt_at = decision.reason, decision.at
        repository.set_effects(session, result.attempt_id, effects.model_dump(mode="json"))
    return decision
