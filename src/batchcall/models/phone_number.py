from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from batchcall.models.base import Base, IdMixin


class PhoneNumber(IdMixin, Base):
    """An outbound caller id owned by a workspace."""

    __tablename__ = "phone_numbers"
    __table_args__ = (UniqueConstraint("workspace_id", "number"),)

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    daily_cap: Mapped[int | None]
    created_at: Mapped[datetime]
