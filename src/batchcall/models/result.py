from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from batchcall.models.base import Base, IdMixin


class CallResult(IdMixin, Base):
    """What the agent reported of one attempt's conversation, and what the report did (``effects``), kept so
    that the same report posted again answers the same."""

    __tablename__ = "call_results"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), unique=True)
    disposition: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Text)
    # Turns of {"speaker": "agent" | "contact", "text", "at": seconds from answer}.
    transcript: Mapped[list[Any]]
    data: Mapped[dict[str, Any]]
    opt_out: Mapped[bool]
    callback_at: Mapped[datetime | None]
    effects: Mapped[dict[str, Any]]
    # The SHA-256 of the report as posted: the same body again is the same report.
    body_hash: Mapped[str] = mapped_column(String(64))
    # "agent" (its session token) or the API key's id.
    posted_by: Mapped[str] = mapped_column(String(64))
    posted_at: Mapped[datetime]
