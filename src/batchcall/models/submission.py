from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from batchcall.models.base import Base, IdMixin


class RejectedRow(IdMixin, Base):
    """A submitted row that became no call, kept as it came with the reasons, so it can be fixed and sent
    again (``GET /v1/batches/{id}/rejected``)."""

    __tablename__ = "rejected_rows"
    __table_args__ = (Index("ix_rejected_rows_batch_submission_row", "batch_id", "submission_id", "row"),)

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    submission_id: Mapped[str] = mapped_column(String(36))
    row: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    # The row's fields as submitted, in their order, as [name, value] pairs (a CSV row's by the file's column
    # names): a JSONB object would not keep the order of its keys, and the download shows the file's.
    values: Mapped[list[Any]]
    created_at: Mapped[datetime]
