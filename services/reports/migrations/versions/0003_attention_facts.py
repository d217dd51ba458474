"""facts for the weekly email's "Needs your attention": who raised a concern, an alert's
category, zone, source, acknowledger and last targets, the concern of a follow-up fact

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 09:00:00

The new columns are empty for rows written before this revision; `lookout reports rebuild`
fills them from the streams (a rebuild replays every event through the same handlers).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDED: list[tuple[str, sa.Column]] = [  # type: ignore[type-arg]
    ("report_concerns", sa.Column("raised_event_id", sa.String(36), nullable=True)),
    ("report_concerns", sa.Column("raised_by", sa.String(100), nullable=True)),
    ("report_alerts", sa.Column("category", sa.String(32), nullable=True)),
    ("report_alerts", sa.Column("zone_id", sa.String(64), nullable=True)),
    ("report_alerts", sa.Column("source_event_id", sa.String(36), nullable=True)),
    ("report_alerts", sa.Column("acknowledged_by", sa.String(64), nullable=True)),
    ("report_alerts", sa.Column("targets", sa.JSON(), nullable=True)),
    ("report_patrol_facts", sa.Column("concern_id", sa.String(36), nullable=True)),
]


def upgrade() -> None:
    for table, column in ADDED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(column)
    op.create_index("ix_report_alerts_source_event", "report_alerts", ["source_event_id"])


def downgrade() -> None:
    op.drop_index("ix_report_alerts_source_event", table_name="report_alerts")
    for table, column in reversed(ADDED):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column.name)
