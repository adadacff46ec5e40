"""agents say what their texts say

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as table:
        table.add_column(sa.Column("sms_template", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents") as table:
        table.drop_column("sms_template")
