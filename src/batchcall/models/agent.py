from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from batchcall.models.base import Base, IdMixin


class Agent(IdMixin, Base):
    __tablename__ = "agents"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    prompt_template: Mapped[str] = mapped_column(Text, default="")
    # What a text of this agent says (with the same placeholders); without one, a text says the row's
    # instruction.
    sms_template: Mapped[str | None] = mapped_column(Text)
    required_variables: Mapped[list[str]]
    # Values of template variables a row leaves out.
    defaults: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str] = mapped_column(String(16), default="en")
    voice: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(default=True)
    ready: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
