"""agents take the call (a stream or a SIP bridge) and report what came of it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from batchcall.kit.sqltypes import Json, UtcDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as table:
        table.add_column(sa.Column("transport", sa.String(length=8), nullable=False, server_default="say"))
        table.add_column(sa.Column("stream_url", sa.Text(), nullable=True))
        table.add_column(sa.Column("sip_uri", sa.Text(), nullable=True))
        table.add_column(sa.Column("result_schema", Json, nullable=True))
        table.add_column(sa.Column("dispositions", Json, nullable=False, server_default="[]"))
        table.add_column(sa.Column("retry_dispositions", Json, nullable=False, server_default="[]"))
        table.add_column(sa.Column("max_callbacks", sa.Integer(), nullable=False, server_default="2"))
    with op.batch_alter_table("calls") as table:
        table.add_column(sa.Column("callbacks", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("attempts") as table:
        table.drop_column("transcript")
        table.drop_column("summary")
        table.add_column(sa.Column("agent_audio_after_seconds", sa.Float(), nullable=True))
    op.create_table(
        "call_results",
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column("attempt_id", sa.String(length=36), nullable=False),
        sa.Column("disposition", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("transcript", Json, nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("opt_out", sa.Boolean(), nullable=False),
        sa.Column("callback_at", UtcDateTime(), nullable=True),
        sa.Column("effects", Json, nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("posted_by", sa.String(length=64), nullable=False),
        sa.Column("posted_at", UtcDateTime(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_call_results_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_results_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_call_results_attempt_id_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_results")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_call_results_attempt_id")),
    )
    op.create_index(op.f("ix_call_results_call_id"), "call_results", ["call_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_call_results_call_id"), table_name="call_results")
    op.drop_table("call_results")
    with op.batch_alter_table("attempts") as table:
        table.drop_column("agent_audio_after_seconds")
        table.add_column(sa.Column("summary", sa.Text(), nullable=True))
        table.add_column(sa.Column("transcript", sa.Text(), nullable=True))
    with op.batch_alter_table("calls") as table:
        table.drop_column("callbacks")
    with op.batch_alter_table("agents") as table:
        for column in (
            "max_callbacks",
            "retry_dispositions",
            "dispositions",
            "result_schema",
            "sip_uri",
            "stream_url",
            "transport",
        ):
            table.drop_column(column)
