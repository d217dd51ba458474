"""outcome note purge: purged_at on alerts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lookout.kernel.storage

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "alerts",
        sa.Column("purged_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_alerts_purge", "alerts", ["purged_at", "resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_purge", table_name="alerts")
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_column("purged_at")
