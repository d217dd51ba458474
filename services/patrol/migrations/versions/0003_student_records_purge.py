"""student records purge: purged_at on concerns, contacts and observations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lookout.kernel.storage

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the time its retention counts from)
PURGED = (
    ("concerns", "resolved_at"),
    ("contacts", "contacted_at"),
    ("observations", "observed_at"),
)


def upgrade() -> None:
    for table, since in PURGED:
        op.add_column(
            table,
            sa.Column(
                "purged_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=True
            ),
        )
        op.create_index(f"ix_{table}_purge", table, ["purged_at", since])


def downgrade() -> None:
    for table, _ in PURGED:
        op.drop_index(f"ix_{table}_purge", table_name=table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("purged_at")
