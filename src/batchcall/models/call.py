from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from batchcall.models.base import Base, IdMixin


class CallStatus(StrEnum):
    """Where a call stands. A call waits, is in flight, and ends in exactly one terminal status."""

    # Waiting to be dialled as soon as its batch's window and caps allow.
    QUEUED = "queued"
    # Waiting for its row's scheduled_time.
    SCHEDULED = "scheduled"
    # Claimed by a worker and being handed to the provider.
    DIALING = "dialing"
    # The provider placed it.
    RINGING = "ringing"
    # Someone (or something) answered.
    IN_PROGRESS = "in_progress"
    # Answered by a person, and over.
    COMPLETED = "completed"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    # Answered by a machine.
    VOICEMAIL = "voicemail"
    # The dial failed, or the provider refused it.
    FAILED = "failed"
    # Never dialled: its batch was canceled first.
    CANCELED = "canceled"
    # Never dialled: its batch's ends_at came first.
    EXPIRED = "expired"
    # Never dialled, with a reason: do-not-call, contacted lately, a duplicate, no lawful time to call.
    SKIPPED = "skipped"
    # The dial may have reached the person, but neither the provider nor a callback ever said how it went.
    UNKNOWN = "unknown"


# Not dialled yet: the claim may start these (the partial index ix_calls_waiting holds exactly these).
WAITING = (CallStatus.QUEUED, CallStatus.SCHEDULED)
# Dialled and not over: each is held by a lease, its worker's or the provider's.
IN_FLIGHT = (CallStatus.DIALING, CallStatus.RINGING, CallStatus.IN_PROGRESS)
# Over after a dial, whatever came of it (dialect C counts these as its "completed").
DIALLED_ENDINGS = (
    CallStatus.COMPLETED,
    CallStatus.NO_ANSWER,
    CallStatus.BUSY,
    CallStatus.VOICEMAIL,
    CallStatus.FAILED,
    CallStatus.UNKNOWN,
)
# Over without a dial, and never to be dialled: such a call did not reach its number.
UNDIALLED_ENDINGS = (CallStatus.CANCELED, CallStatus.EXPIRED, CallStatus.SKIPPED)
# Terminal: a call here moves no more, unless its finished batch is retried.
TERMINAL = DIALLED_ENDINGS + UNDIALLED_ENDINGS
# An attempt that ended in one of these is retried when its batch's retry_on names it and its call has
# attempts left; the only outcomes retry_on may name.
RETRIABLE = (CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED, CallStatus.VOICEMAIL)
# retry_on when a batch names none; also the endings that retrying a finished batch puts back in the queue.
RETRIED_BY_DEFAULT = (CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED)
# The batch counter each status adds to (every call also adds to "total").
COUNTER_OF_STATUS: dict[str, str] = {
    status: "queued" if status in WAITING else "in_progress" if status in IN_FLIGHT else status.value
    for status in CallStatus
}


def sql_in(statuses: tuple[CallStatus, ...]) -> str:
    """``status IN (...)`` for an index predicate, which takes SQL text."""
    return f"status IN ({', '.join(repr(status.value) for status in statuses)})"


class Call(IdMixin, Base):
    """One row of a batch: one person to reach, over one channel, in one or more attempts."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_batch_status", "batch_id", "status"),
        # A batch's calls in the order they were added: listing, export, the next row number.
        Index("ix_calls_batch_row", "batch_id", "row_number"),
        Index("ix_calls_workspace_to", "workspace_id", "to"),
        # Only calls in flight hold a lease; leaving the others out keeps bulk inserts cheaper.
        Index(
            "ix_calls_lease",
            "lease_expires_at",
            postgresql_where=text("lease_expires_at IS NOT NULL"),
            sqlite_where=text("lease_expires_at IS NOT NULL"),
        ),
        # The claim's scan: a batch's waiting calls in the order they come due.
        Index(
            "ix_calls_waiting",
            "batch_id",
            "next_attempt_at",
            "row_number",
            postgresql_where=text(sql_in(WAITING)),
            sqlite_where=text(sql_in(WAITING)),
        ),
    )

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    row_number: Mapped[int]
    # The request (or file) that added the call, and the call's row in it: what its errors, warnings and
    # skip reasons name, and what the export shows.
    submission_id: Mapped[str | None] = mapped_column(String(36))
    source_row: Mapped[int | None]
    channel: Mapped[str] = mapped_column(String(16))
    to: Mapped[str | None] = mapped_column(String(32))
    from_number: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    instruction: Mapped[str | None] = mapped_column(Text)
    # The prompt as rendered for the first attempt; an attempt keeps its own only when it differs.
    prompt: Mapped[str | None] = mapped_column(Text)
    variables: Mapped[dict[str, Any]]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    scheduled_time: Mapped[datetime | None]
    call_type: Mapped[str | None] = mapped_column(String(64))
    max_retries: Mapped[int | None]
    source_record_id: Mapped[str | None] = mapped_column(String(255))
    crm_contact_id: Mapped[str | None] = mapped_column(String(255))
    user_phone_number: Mapped[str | None] = mapped_column(String(32))
    email_subject: Mapped[str | None] = mapped_column(Text)
    email_template_name: Mapped[str | None] = mapped_column(String(255))
    email_template_id: Mapped[str | None] = mapped_column(String(255))
    email_template_params: Mapped[dict[str, Any] | None]

    status: Mapped[str] = mapped_column(String(16), default=CallStatus.QUEUED)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32))
    attempt_count: Mapped[int] = mapped_column(default=0)
    # How many attempts the person asked for with a callback time (they count against no retry budget).
    callbacks: Mapped[int] = mapped_column(default=0)
    # How far along its batch's fallback_channels the call has moved.
    fallbacks: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None]

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class Attempt(IdMixin, Base):
    """One dial of a call."""

    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("provider", "provider_call_id"),
        # The per-second cap counts a batch's recent starts; the circuit breaker reads its recent endings.
        Index("ix_attempts_batch_started", "batch_id", "started_at"),
        Index("ix_attempts_batch_ended", "batch_id", "ended_at"),
    )

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    provider: Mapped[str] = mapped_column(String(32))
    # The workspace's provider account that placed it; none for the process default provider.
    provider_account_id: Mapped[str | None] = mapped_column(String(36))
    provider_call_id: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    to: Mapped[str | None] = mapped_column(String(320))
    from_number: Mapped[str | None] = mapped_column(String(32))
    # Only when it differs from the call's own prompt; None means the call's.
    prompt: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=CallStatus.DIALING)
    outcome: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    cost_micros: Mapped[int | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    # Who or what answered, as the provider's answering-machine detection told (Twilio's AnsweredBy).
    answered_by: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(32))
    # How long after the media stream began the agent first spoke (the stream bridge measures it).
    agent_audio_after_seconds: Mapped[float | None] = mapped_column(Float)


class ProviderEvent(IdMixin, Base):
    """A status event from a provider, stored once so a redelivered event is not acted on twice."""

    __tablename__ = "provider_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    provider: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(128))
    provider_call_id: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
