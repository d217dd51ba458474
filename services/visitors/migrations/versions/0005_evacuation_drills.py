"""evacuation drills: one open drill per school, and who was on site at its start

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 02:20:00
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
        "drills",
        sa.Column("drill_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("ended_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.Column("end_reason", sa.String(length=24), nullable=True),
        sa.PrimaryKeyConstraint("drill_id", name=op.f("pk_drills")),
    )
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.create_index(
            "ix_drills_open",
            ["school_id"],
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )
        batch_op.create_index("ix_drills_school_started", ["school_id", "started_at"], unique=False)
    op.create_table(
        "drill_visitors",
        sa.Column("drill_id", sa.String(length=36), nullable=False),
        sa.Column("visit_id", sa.String(length=36), nullable=False),
        sa.Column("accounted_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accounted_by", sa.String(length=64), nullable=True),
        sa.Column("how", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["drill_id"], ["drills.drill_id"], name=op.f("fk_drill_visitors_drill_id_drills")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.visit_id"], name=op.f("fk_drill_visitors_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("drill_id", "visit_id", name=op.f("pk_drill_visitors")),
    )


def downgrade() -> None:
    op.drop_table("drill_visitors")
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.drop_index("ix_drills_school_started")
        batch_op.drop_index("ix_drills_open")
    op.drop_table("drills")
