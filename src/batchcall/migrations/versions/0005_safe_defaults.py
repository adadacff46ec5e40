"""why a batch waits; agent variable defaults; each call's submission and row in it; rejected rows kept;
recipient hours respected unless a batch says otherwise

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from batchcall.kit.sqltypes import Json, UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("waiting_detail", sa.Text(), nullable=True))
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("defaults", Json, nullable=False, server_default="{}"))
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("source_row", sa.Integer(), nullable=True))
    op.create_table(
        "rejected_rows",
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("values", Json, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_rejected_rows_batch_id_batches"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_rejected_rows_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_rows")),
    )
    op.create_index(
        "ix_rejected_rows_batch_submission_row", "rejected_rows", ["batch_id", "submission_id", "row"]
    )


def downgrade() -> None:
    op.drop_index("ix_rejected_rows_batch_submission_row", table_name="rejected_rows")
    op.drop_table("rejected_rows")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("source_row")
        batch_op.drop_column("submission_id")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("defaults")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("waiting_detail")
        batch_op.drop_column("waiting_reason")
