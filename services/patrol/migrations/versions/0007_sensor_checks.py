"""sensor_checks: each sensor alert's zone check, who was asked, by when, and when it was done

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lookout.kernel.storage

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = lookout.kernel.storage.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sensor_checks",
        sa.Column("sensor_event_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("sensor_id", sa.String(length=64), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("raised_at", UTC_TIME, nullable=False),
        sa.Column("check_by", UTC_TIME, nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("checked_at", UTC_TIME, nullable=True),
        sa.Column("checked_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("sensor_event_id", name=op.f("pk_sensor_checks")),
    )
    op.create_index("ix_sensor_checks_due", "sensor_checks", ["status", "check_by"])
    op.create_index("ix_sensor_checks_zone", "sensor_checks", ["school_id", "zone_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_sensor_checks_zone", table_name="sensor_checks")
    op.drop_index("ix_sensor_checks_due", table_name="sensor_checks")
    op.drop_table("sensor_checks")
