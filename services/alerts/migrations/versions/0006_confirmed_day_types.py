"""alerts_day_types: the confirmed day types (no school, early release, late start) by date

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lookout.kernel.storage

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts_day_types",
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("day_type", sa.String(length=16), nullable=False),
        sa.Column("schedule", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column(
            "confirmed_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("school_id", "day", name=op.f("pk_alerts_day_types")),
    )


def downgrade() -> None:
    op.drop_table("alerts_day_types")
