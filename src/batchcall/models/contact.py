from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from batchcall.models.base import Base, IdMixin


class Contact(Base):
    """A person in a workspace, keyed by number; the id is derived from workspace and number."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("workspace_id", "phone"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(32))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    attributes: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


contact_folder_members = Table(
    "contact_folder_members",
    Base.metadata,
    Column("folder_id", ForeignKey("contact_folders.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
)


class ContactFolder(IdMixin, Base):
    __tablename__ = "contact_folders"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class DncEntry(IdMixin, Base):
    """A number that must never be dialled from this workspace."""

    __tablename__ = "dnc_entries"
    __table_args__ = (UniqueConstraint("workspace_id", "phone"),)

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32), default="api")
    created_at: Mapped[datetime]
