from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from batchcall.models.base import Base


class InstallationSecret(Base):
    """A secret of the whole installation (such as the key the simulated provider signs callbacks with),
    made once by whichever process needs it first and shared by every process through the database."""

    __tablename__ = "installation_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
