"""calls: an index for row order; a lease index over leased calls only; drop the unused due index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEASED = sa.text("lease_expires_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_due")
        batch_op.drop_index("ix_calls_lease")
        batch_op.create_index("ix_calls_batch_row", ["batch_id", "row_number"], unique=False)
        batch_op.create_index(
            "ix_calls_lease",
            ["lease_expires_at"],
            unique=False,
            postgresql_where=LEASED,
            sqlite_where=LEASED,
        )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_lease", postgresql_where=LEASED, sqlite_where=LEASED)
        batch_op.drop_index("ix_calls_batch_row")
        batch_op.create_index("ix_calls_lease", ["lease_expires_at"], unique=False)
        batch_op.create_index("ix_calls_due", ["status", "next_attempt_at"], unique=False)
