"""concern_alerts: what became of the alert each concern raised (loop closure)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lookout.kernel.storage

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "concern_alerts",
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("source_event_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("by_person_id", sa.String(length=64), nullable=True),
        sa.Column("at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_concern_alerts")),
    )
    op.create_index("ix_concern_alerts_source", "concern_alerts", ["source_event_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_concern_alerts_source", table_name="concern_alerts")
    op.drop_table("concern_alerts")
