"""agents say what a machine gets; batches fall back across channels and pause on abandoned calls

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from batchcall.kit.sqltypes import Json

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as table:
        table.add_column(sa.Column("voicemail", sa.String(length=8), nullable=False, server_default="hangup"))
        table.add_column(sa.Column("voicemail_message", sa.Text(), nullable=True))
        table.add_column(sa.Column("voicemail_audio_url", sa.Text(), nullable=True))
    with op.batch_alter_table("batches") as table:
        table.add_column(sa.Column("fallback_channels", Json, nullable=False, server_default="[]"))
        table.add_column(sa.Column("max_abandon_rate", sa.Float(), nullable=False, server_default="0.03"))
    with op.batch_alter_table("calls") as table:
        table.add_column(sa.Column("fallbacks", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("calls") as table:
        table.drop_column("fallbacks")
    with op.batch_alter_table("batches") as table:
        table.drop_column("max_abandon_rate")
        table.drop_column("fallback_channels")
    with op.batch_alter_table("agents") as table:
        table.drop_column("voicemail_audio_url")
        table.drop_column("voicemail_message")
        table.drop_column("voicemail")
