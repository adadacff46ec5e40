from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from batchcall.models.base import Base, IdMixin

# The share of live-answered calls a batch may abandon unless it says (the US TSR's and Ofcom's 3 %).
DEFAULT_MAX_ABANDON_RATE = 0.03


class BatchStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELED = "canceled"


class Channel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"


class Rotation(StrEnum):
    RANDOM = "random"
    SEQUENTIAL = "sequential"
    ROUND_ROBIN = "round_robin"


class Batch(IdMixin, Base):
    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_workspace_status", "workspace_id", "status"),)

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    file_name: Mapped[str | None] = mapped_column(String(255))
    dialect: Mapped[str] = mapped_column(String(16), default="native")
    channel: Mapped[str] = mapped_column(String(16), default=Channel.PHONE)
    call_type: Mapped[str] = mapped_column(String(64), default="informational")
    language: Mapped[str] = mapped_column(String(16), default="en")
    contact_source: Mapped[str] = mapped_column(String(16), default="manual")
    contact_folder_id: Mapped[str | None] = mapped_column(
        ForeignKey("contact_folders.id", ondelete="SET NULL")
    )

    from_numbers: Mapped[list[str]]
    rotation: Mapped[str] = mapped_column(String(16), default=Rotation.RANDOM)
    rotation_cursor: Mapped[int] = mapped_column(default=0)

    schedule: Mapped[str] = mapped_column(String(16), default="immediate")
    scheduled_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    start_time: Mapped[str | None] = mapped_column(String(5))
    end_time: Mapped[str | None] = mapped_column(String(5))
    working_days: Mapped[list[int]]
    respect_recipient_timezone: Mapped[bool] = mapped_column(default=True)

    max_concurrent_calls: Mapped[int] = mapped_column(default=10)
    max_calls_per_day: Mapped[int | None]
    max_calls_per_second: Mapped[float | None] = mapped_column(Float)
    max_retry_attempts: Mapped[int] = mapped_column(default=0)
    retry_delay_seconds: Mapped[int] = mapped_column(default=300)
    retry_on: Mapped[list[str]]
    dedup_days: Mapped[int] = mapped_column(default=0)
    # The channels a call that did not reach the person moves on to, in order, once its own is done.
    fallback_channels: Mapped[list[str]] = mapped_column(default=list)
    # The share of its live-answered calls the batch may abandon before it pauses itself.
    max_abandon_rate: Mapped[float] = mapped_column(Float, default=DEFAULT_MAX_ABANDON_RATE)

    source_system: Mapped[str | None] = mapped_column(String(255))
    source_org_id: Mapped[str | None] = mapped_column(String(255))
    source_object: Mapped[str | None] = mapped_column(String(255))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")

    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.DRAFT)
    status_reason: Mapped[str | None] = mapped_column(Text)
    next_dial_at: Mapped[datetime | None]
    # Why an active batch dials nothing now (a code of dispatcher.waiting), and the same in words.
    waiting_reason: Mapped[str | None] = mapped_column(String(32))
    waiting_detail: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class DialCounter(Base):
    """Dials counted per scope and local day, so daily caps hold across workers."""

    __tablename__ = "dial_counters"

    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
