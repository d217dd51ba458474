"""report_sensor_checks: one row per sensor alert's zone check (kind, zone, raised, deadline,
when the zone was scanned, in time or not), for the weekly email's sensor figures

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 05:20:00

Empty for sensor alerts raised before this revision; `lookout reports rebuild` fills it from
the PATROL stream (sensor_check.assigned, .missed and .done).
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
        "report_sensor_checks",
        sa.Column("sensor_event_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("raised_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("check_by", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=True),
        sa.Column("missed", sa.Boolean(), nullable=False),
        sa.Column("checked_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=True),
        sa.Column("response_seconds", sa.Integer(), nullable=True),
        sa.Column("in_time", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("sensor_event_id", name=op.f("pk_report_sensor_checks")),
    )
    op.create_index(
        "ix_report_sensor_checks_school_raised",
        "report_sensor_checks",
        ["school_id", "raised_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_report_sensor_checks_school_raised", table_name="report_sensor_checks")
    op.drop_table("report_sensor_checks")
