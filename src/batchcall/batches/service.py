"""A batch's settings, and the requests that change its status (the moves are in ``batches.transitions``)."""

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from batchcall.agents import service as agents
from batchcall.auth import service as auth
from batchcall.batches import repository, transitions
from batchcall.batches.schemas import Abandonment, BatchCreate, BatchRead, BatchUpdate, Counters
from batchcall.calls import ingestion
from batchcall.calls import transitions as call_transitions
from batchcall.calls.ingestion import IngestOptions
from batchcall.contacts import service as contacts
from batchcall.dispatcher import abandonment, waiting
from batchcall.kit.errors import Conflict, Invalid, NotFound
from batchcall.kit.tenancy import get_owned
from batchcall.models import Batch, BatchStatus, Channel
from batchcall.numbers import service as numbers

log = logging.getLogger("batchcall.batches")


def get(session: Session, workspace_id: str, batch_id: str) -> Batch:
    return get_owned(session, Batch, workspace_id, batch_id, "Batch")


def exists(session: Session, batch_id: str) -> bool:
    """Whether any workspace has this batch: for dialects that tell 'not yours' (403) from 'not there'."""
    return repository.exists(session, batch_id)


class UnknownReference(NotFound):
    """A batch's settings name an agent or a contact folder the workspace does not have: a 404, as for any
    id the key cannot see. ``field``, ``noun`` and ``id`` are for a dialect that answers such a body
    otherwise (B: a 422 naming the field)."""

    def __init__(self, missing: NotFound, field: str, noun: str, id_: str) -> None:
        super().__init__(missing.message)
        self.field = field
        self.noun = noun
        self.id = id_


@contextmanager
def _reference(field: str, noun: str, id_: str) -> Iterator[None]:
    """Inside, a NotFound is about the ``field`` of the batch's settings: an UnknownReference."""
    try:
        yield
    except NotFound as exc:
        raise UnknownReference(exc, field, noun, id_) from None


def _settings_to_columns(
    session: Session, workspace_id: str, values: dict[str, Any], current: Batch | None
) -> dict[str, Any]:
    """Check references and turn API fields into column values.

    An agent given to a batch must be the workspace's and callable (active and ready); and a phone or SMS
    batch with an agent calls from at least one caller id: its own, or else its agent's numbers."""
    columns = dict(values)
    agent_id = columns.get("agent_id", current.agent_id if current else None)
    if agent_id is not None and "agent_id" in columns:
        with _reference("agent_id", "agent", agent_id):
            agent = agents.get(session, workspace_id, agent_id)
        agents.require_callable(agent)
    explicit = columns.get("from_numbers") or columns.get("phone_number_ids")
    if explicit or (agent_id is not None and not (current and current.from_numbers)):
        columns["from_numbers"] = numbers.resolve_caller_ids(
            session,
            workspace_id,
            columns.get("from_numbers") or [],
            columns.get("phone_number_ids") or [],
            agent_id,
        )
    columns.pop("phone_number_ids", None)
    channel = columns.get("channel", current.channel if current else Channel.PHONE)
    caller_ids = columns.get("from_numbers", current.from_numbers if current else [])
    if agent_id is not None and channel != Channel.EMAIL and not caller_ids:
        raise Invalid(
            f"At least one valid outbound phone number is required: assign one to agent {agent_id} "
            "or give the batch caller ids"
        )
    if "metadata" in columns:
        columns["metadata_"] = columns.pop("metadata")
    start = columns.get("start_time", current.start_time if current else None)
    end = columns.get("end_time", current.end_time if current else None)
    if (start is None) != (end is None):
        raise Invalid("start_time and end_time go together: give both or neither")
    if start is not None and start == end:
        raise Invalid("start_time and end_time must differ")
    return columns


@dataclass(frozen=True, slots=True)
class Starting:
    """What a batch leaving draft may rely on, and the request's names for what it lacks.

    ``instructions_stand_in``: with no agent, the calls' own instructions say what to say (dialect A, and
    E without a template); elsewhere a batch needs an agent. ``agent_field`` and ``caller_field`` name the
    request's fields that fix a refusal (None: the request has no such field)."""

    instructions_stand_in: bool = False
    agent_field: str | None = "agent_id"
    caller_field: str | None = "from_numbers"


NATIVE_START = Starting()


def require_startable(session: Session, batch: Batch, starting: Starting = NATIVE_START) -> None:
    """The rule every way out of draft keeps, so nobody is called by surprise: someone to speak (an agent
    that is active and ready, or where ``starting`` allows it an instruction on every waiting call) and,
    for phone and SMS, a caller id of the workspace's own. A batch that names no caller ids takes its
    agent's numbers, or with no agent the workspace's numbers assigned to no agent. A refusal is a 409
    that says what is missing and how to give it; the caller's transaction then writes nothing."""
    if batch.agent_id is not None:
        agent = agents.get(session, batch.workspace_id, batch.agent_id)
        try:
            agents.require_callable(agent)
        except Invalid as exc:
            fix = f" or give it another {starting.agent_field}" if starting.agent_field else ""
            raise Conflict(
                f"Batch {batch.id} cannot start: {exc.message}; switch the agent on and ready with "
                f"PATCH /v1/agents/{agent.id}{fix}",
                batch_status=batch.status,
            ) from None
    else:
        field = starting.agent_field
        give = f"give {field} (an active agent)" if field else "give it an agent"
        if not starting.instructions_stand_in:
            raise Conflict(
                f"Batch {batch.id} has no agent: {give}, so that its calls have someone to speak",
                batch_status=batch.status,
            )
        silent = repository.waiting_without_instruction(session, batch.id)
        if silent:
            raise Conflict(
                f"Batch {batch.id} has no agent and {silent} of its calls carry no instruction: {give}, "
                "or an instruction on every row",
                batch_status=batch.status,
            )
    # The calls' own channels, when it has calls: an email row needs no caller id, whatever the batch's.
    if (repository.waiting_channels(session, batch.id) or {batch.channel}) <= {Channel.EMAIL}:
        return
    if not batch.from_numbers:
        batch.from_numbers = numbers.default_caller_ids(session, batch.workspace_id, batch.agent_id)
    if not numbers.registered(session, batch.workspace_id, batch.from_numbers):
        whose = f"assigned to agent {batch.agent_id}" if batch.agent_id else "assigned to no agent"
        fix = f" or give {starting.caller_field}" if starting.caller_field else ""
        raise Conflict(
            f"Batch {batch.id} has no caller id: register one with POST /v1/phone-numbers ({whose}){fix}",
            batch_status=batch.status,
        )


def create(
    session: Session,
    workspace_id: str,
    data: BatchCreate,
    now: datetime,
    dialect: str = "native",
    ingest: IngestOptions | None = None,
    starting: Starting = NATIVE_START,
) -> Batch:
    """A new batch; with ``contact_folder_id`` it holds a call to each of the folder's contacts already,
    each checked as a row with ``ingest``'s limits (by default the settings' defaults): a contact that
    cannot be called is a skipped call, or no call. One that starts (``schedule: immediate`` or a
    ``scheduled_at``) must be startable (``require_startable``)."""
    values = data.model_dump(exclude={"schedule"})
    columns = _settings_to_columns(session, workspace_id, values, None)
    folder = None
    if data.contact_folder_id is not None:
        with _reference("contact_folder_id", "contact folder", data.contact_folder_id):
            folder = contacts.get_folder(session, workspace_id, data.contact_folder_id)
        columns["contact_source"] = "folder"
    if columns["dedup_days"] is None:
        columns["dedup_days"] = auth.get_workspace(session, workspace_id).customer_dedup_days
    batch = Batch(workspace_id=workspace_id, dialect=dialect, created_at=now, updated_at=now, **columns)
    batch.rotation_cursor = 0
    batch.schedule = "scheduled" if data.scheduled_at is not None else "immediate"
    batch.status = BatchStatus.DRAFT
    session.add(batch)
    session.flush()
    if data.schedule == "immediate":
        require_startable(session, batch, starting)
        batch.schedule = "immediate"
        batch.status = BatchStatus.ACTIVE
        batch.started_at = now
    elif data.schedule != "draft" and data.scheduled_at is not None:
        require_startable(session, batch, starting)
        batch.status = BatchStatus.SCHEDULED
    log.info("batch created", extra={"batch_id": batch.id, "status": batch.status})
    if folder is not None:
        rows = contacts.folder_rows(session, folder)
        ingestion.add_calls(session, batch, rows, now, ingest or IngestOptions())
    return batch


def update_settings(
    session: Session, workspace_id: str, batch_id: str, data: BatchUpdate, now: datetime
) -> Batch:
    batch = transitions.lock(session, workspace_id, batch_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if batch.status == BatchStatus.PAUSED:
        _require_changeable_while_paused(batch, changes.keys())
    else:
        transitions.require_state(batch, "update")
    for name, value in _settings_to_columns(session, workspace_id, changes, batch).items():
        setattr(batch, name, value)
    if "scheduled_at" in changes:
        batch.schedule = "scheduled"
    batch.updated_at = now
    session.flush()
    # A new window, cap or caller id may let it dial sooner than it said.
    transitions.wake(session, [batch.id])
    return batch


# What a paused batch may still change: when and how fast it dials, from which numbers, how it retries.
CHANGEABLE_WHILE_PAUSED = frozenset(
    {
        "start_time",
        "end_time",
        "timezone",
        "working_days",
        "max_concurrent_calls",
        "max_calls_per_day",
        "max_calls_per_second",
        "from_numbers",
        "phone_number_ids",
        "max_retry_attempts",
        "retry_delay_seconds",
        "retry_on",
    }
)


def _require_changeable_while_paused(batch: Batch, fields: Iterable[str]) -> None:
    draft_only = sorted(set(fields) - CHANGEABLE_WHILE_PAUSED)
    if draft_only:
        raise Conflict(
            f"Cannot update {', '.join(draft_only)} of batch {batch.id}: it is paused, and a paused batch "
            "may change only its window, working days, caps, caller ids and retry policy",
            batch_status=batch.status,
        )


def delete(session: Session, workspace_id: str, batch_id: str) -> None:
    batch = transitions.lock(session, workspace_id, batch_id)
    transitions.require_state(batch, "delete")
    session.delete(batch)
    session.flush()


def _active_or_scheduled(batch: Batch, now: datetime) -> BatchStatus:
    if batch.scheduled_at is not None and batch.scheduled_at > now and batch.started_at is None:
        return BatchStatus.SCHEDULED
    return BatchStatus.ACTIVE


def schedule(
    session: Session, workspace_id: str, batch_id: str, now: datetime, starting: Starting = NATIVE_START
) -> Batch:
    """Start a draft with calls: now, or at its ``scheduled_at`` (``require_startable`` first)."""
    batch = transitions.lock(session, workspace_id, batch_id)
    transitions.require_state(batch, "schedule")
    if counters_of(session, [batch])[batch.id].total == 0:
        raise Conflict(
            f"Batch {batch.id} has no calls to schedule; add calls first", batch_status=batch.status
        )
    require_startable(session, batch, starting)
    transitions.move(session, batch, _active_or_scheduled(batch, now), now)
    session.flush()
    return batch


def pause(
    session: Session, workspace_id: str, batch_id: str, now: datetime, reason: str | None = None
) -> Batch:
    batch = transitions.lock(session, workspace_id, batch_id)
    transitions.require_state(batch, "pause")
    transitions.move(session, batch, BatchStatus.PAUSED, now, reason)
    session.flush()
    return batch


def resume(session: Session, workspace_id: str, batch_id: str, now: datetime) -> Batch:
    batch = transitions.lock(session, workspace_id, batch_id)
    transitions.require_state(batch, "resume")
    transitions.move(session, batch, _active_or_scheduled(batch, now), now)
    session.flush()
    return batch


def cancel(session: Session, workspace_id: str, batch_id: str, now: datetime) -> Batch:
    """Cancel the batch and every call not yet started; calls in flight finish."""
    batch = transitions.lock(session, workspace_id, batch_id)
    transitions.require_state(batch, "cancel")
    call_transitions.cancel_waiting(session, batch.id, now)
    transitions.move(session, batch, BatchStatus.CANCELED, now)
    session.flush()
    return batch


def retry(session: Session, workspace_id: str, batch_id: str, now: datetime) -> Batch:
    """Re-queue the calls of a completed batch that ended failed, busy or without an answer."""
    batch = transitions.lock(session, workspace_id, batch_id)
    transitions.require_state(batch, "retry")
    if call_transitions.requeue_unreached(session, batch.id, now) == 0:
        raise Conflict(
            f"Batch {batch.id} has no call that ended failed, busy or no_answer", batch_status=batch.status
        )
    transitions.move(
        session, batch, BatchStatus.ACTIVE, now, "retrying calls that ended failed, busy or no_answer"
    )
    session.flush()
    return batch


def counters_of(session: Session, batches: Sequence[Batch]) -> dict[str, Counters]:
    return repository.counters(session, [b.id for b in batches])


def list_batches(
    session: Session, workspace_id: str, status: str | None, agent_id: str | None, limit: int, offset: int
) -> tuple[list[Batch], int]:
    return repository.list_batches(session, workspace_id, status, agent_id, limit, offset)


# Said of a batch that turned the recipients' calling hours off.
ANY_LOCAL_HOUR = (
    "respect_recipient_timezone is false: calls may go out at any local hour of the recipient, night "
    "included, within the batch's own window"
)


def warnings_of(batch: Batch) -> list[str]:
    """What about the batch's settings may call people by surprise, said on every answer of it."""
    return [] if batch.respect_recipient_timezone else [ANY_LOCAL_HOUR]


def present(session: Session, batches: Sequence[Batch], now: datetime) -> list[BatchRead]:
    """Batches as answered, each with counters derived from its calls and what holds its next dial."""
    counters = counters_of(session, batches)
    abandoned = abandonment.of_batches(session, batches)
    answers = []
    for batch in batches:
        held, next_dial_at = waiting_of(session, batch, now)
        answers.append(
            BatchRead(
                **_attributes(batch),
                metadata=batch.metadata_,
                warnings=warnings_of(batch),
                waiting_reason=held.reason if held else None,
                waiting_detail=held.detail if held else None,
                next_dial_at=next_dial_at,
                counters=counters[batch.id],
                abandonment=Abandonment.model_validate(abandoned[batch.id], from_attributes=True),
            )
        )
    return answers


# A preview of a batch's first dial judges the recipient hours of this many of its waiting calls.
PREVIEW_NUMBERS = 200


def waiting_of(
    session: Session, batch: Batch, now: datetime
) -> tuple[waiting.Waiting | None, datetime | None]:
    """What holds the batch's next dial, and when it may dial: for a running batch what the dispatcher last
    recorded, for one not started yet a preview of its first dial (a draft that nothing holds dials at
    once, if it has calls)."""
    if batch.status == BatchStatus.DRAFT:
        numbers = repository.waiting_numbers(session, batch.id, PREVIEW_NUMBERS)
        held = waiting.preview(batch, numbers, now)
        if held is not None:
            return held, held.until
        has_calls = bool(numbers) or repository.has_open_calls(session, batch.id)
        return None, now if has_calls else None
    if batch.status == BatchStatus.SCHEDULED and batch.scheduled_at is not None:
        held = waiting.scheduled(batch, repository.waiting_numbers(session, batch.id, PREVIEW_NUMBERS), now)
        return held, held.until
    if batch.waiting_reason is None:
        return None, None
    reason = waiting.Reason(batch.waiting_reason)
    return waiting.Waiting(reason, batch.waiting_detail or "", batch.next_dial_at), batch.next_dial_at


_COMPUTED = {
    "counters",
    "abandonment",
    "metadata",
    "warnings",
    "waiting_reason",
    "waiting_detail",
    "next_dial_at",
}


def _attributes(batch: Batch) -> dict[str, Any]:
    return {name: getattr(batch, name) for name in BatchRead.model_fields.keys() - _COMPUTED}
