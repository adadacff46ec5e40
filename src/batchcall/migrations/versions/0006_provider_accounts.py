"""provider accounts per workspace; attempts say which account placed them and what the vendor reported

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from batchcall.kit.sqltypes import Json, UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_accounts",
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("vendor", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("channels", Json, nullable=False),
        sa.Column("credentials", Json, nullable=False),
        sa.Column("sealed_secrets", sa.Text(), nullable=False),
        sa.Column("api_base_url", sa.String(length=2048), nullable=True),
        sa.Column("calls_per_second", sa.Float(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_provider_accounts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_accounts")),
    )
    op.create_index(
        op.f("ix_provider_accounts_workspace_id"), "provider_accounts", ["workspace_id"], unique=False
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_account_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("answered_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("error_code", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("error_code")
        batch_op.drop_column("answered_by")
        batch_op.drop_column("currency")
        batch_op.drop_column("provider_account_id")
    op.drop_index(op.f("ix_provider_accounts_workspace_id"), table_name="provider_accounts")
    op.drop_table("provider_accounts")
