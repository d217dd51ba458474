"""evacuation drills: the moment a drill left open is closed (the end of its school day)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 02:30:00
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
    op.add_column(
        "drills",
        sa.Column("closes_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=True),
    )
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.create_index("ix_drills_closes_due", ["closes_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.drop_index("ix_drills_closes_due")
        batch_op.drop_column("closes_at")
