from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from batchcall.models.base import Base, IdMixin


class ProviderAccount(IdMixin, Base):
    """A workspace's account with a channel vendor: the channels it serves and how to reach it.

    ``credentials`` holds what is not secret (a Twilio account SID, an SMTP host and user), answered back
    as it is; ``sealed_secrets`` holds the rest (auth token, API secret, password) as one Fernet token,
    never answered back and never in clear anywhere."""

    __tablename__ = "provider_accounts"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    vendor: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255), default="")
    channels: Mapped[list[str]]
    credentials: Mapped[dict[str, Any]]
    sealed_secrets: Mapped[str] = mapped_column(Text)
    api_base_url: Mapped[str | None] = mapped_column(String(2048))
    calls_per_second: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
