"""alert_outcomes and alert_pages: every alert's outcome, and who was paged for it

`concern_alerts` kept only the alerts of concerns, for the officer who raised the concern. An
officer paged for an alert of any source (a missed check, a visitor, a staff member's concern)
must see who has it too, so every alert is kept, with what and where it is, and each person's
first page. The rows of `concern_alerts` are carried over with their concern's category, zone
and severity (the concern raised them); one whose concern is gone (erased with the school's
student records) could not be shown anywhere and is not carried.

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
        "alert_outcomes",
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("source_event_id", sa.String(length=36), nullable=False),
        sa.Column("opened_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("by_person_id", sa.String(length=64), nullable=True),
        sa.Column("at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alert_outcomes")),
    )
    op.create_index("ix_alert_outcomes_source", "alert_outcomes", ["source_event_id"], unique=False)
    op.create_table(
        "alert_pages",
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("paged_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "person_id", name=op.f("pk_alert_pages")),
    )
    op.create_index(
        "ix_alert_pages_person", "alert_pages", ["school_id", "person_id"], unique=False
    )
    # The alert opened a moment after its concern was raised: the raise's time stands for it.
    op.execute(
        """
        INSERT INTO alert_outcomes (alert_id, school_id, source, severity, zone_id, category,
                                    source_event_id, opened_at, state, by_person_id, at)
        SELECT a.alert_id, a.school_id, 'concern', c.severity, c.zone_id, c.category,
               a.source_event_id, t.at, a.state, a.by_person_id, a.at
        FROM concern_alerts a
        JOIN concern_timeline t ON t.event_id = a.source_event_id AND t.kind = 'raised'
        JOIN concerns c ON c.concern_id = t.concern_id
        """
    )
    op.drop_index("ix_concern_alerts_source", table_name="concern_alerts")
    op.drop_table("concern_alerts")


def downgrade() -> None:
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
    op.execute(
        """
        INSERT INTO concern_alerts (alert_id, school_id, source_event_id, state, by_person_id, at)
        SELECT alert_id, school_id, source_event_id, state, by_person_id, at
        FROM alert_outcomes WHERE source = 'concern'
        """
    )
    op.drop_index("ix_alert_pages_person", table_name="alert_pages")
    op.drop_table("alert_pages")
    op.drop_index("ix_alert_outcomes_source", table_name="alert_outcomes")
    op.drop_table("alert_outcomes")
