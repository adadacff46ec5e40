"""dispatcher: indexes for the claim scan, the per-second cap and the circuit breaker

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:32:24.288763
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models.call.WAITING as it was written then; tests/test_migrations.py checks that the two still agree.
WAITING = sa.text("status IN ('queued', 'scheduled')")


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_batch_ended", ["batch_id", "ended_at"], unique=False)
        batch_op.create_index("ix_attempts_batch_started", ["batch_id", "started_at"], unique=False)

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calls_waiting",
            ["batch_id", "next_attempt_at", "row_number"],
            unique=False,
            postgresql_where=WAITING,
            sqlite_where=WAITING,
        )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_waiting", postgresql_where=WAITING, sqlite_where=WAITING)

    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_batch_started")
        batch_op.drop_index("ix_attempts_batch_ended")
