from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from batchcall.models.base import Base, IdMixin


class EmailTemplate(IdMixin, Base):
    """An email a workspace sends, each part a Jinja2 template rendered in a sandbox: a subject, and an
    HTML body, a plain text one, or both. A row names it by id or by its name, which is the workspace's
    own."""

    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EmailSuppression(IdMixin, Base):
    """An address this workspace must never email again (it bounced for good, complained, unsubscribed).

    Kept lower-cased: mailbox names are case-sensitive in principle, but no provider treats them so, and
    a suppression that ``Ann@Example.com`` slipped past would not be one."""

    __tablename__ = "email_suppressions"
    __table_args__ = (UniqueConstraint("workspace_id", "address"),)

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # 320 characters: the longest address RFC 5321 allows (64 for the local part, @, 255 for the domain).
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
