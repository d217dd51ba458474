"""routing state, the officer a lone-worker alarm is about, day-end resolution; deferred email

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lookout.kernel.storage

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "alerts",
        sa.Column("routing", sa.String(16), nullable=False, server_default="escalating"),
    )
    op.add_column("alerts", sa.Column("about_person_id", sa.String(64), nullable=True))
    op.add_column(
        "alerts",
        sa.Column(
            "auto_resolve_at", lookout.kernel.storage.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.create_index("ix_alerts_auto_resolve_at", "alerts", ["auto_resolve_at"])
    # Alerts that were exhausted or held before this revision: say so, so a repeat re-notifies.
    op.execute("UPDATE alerts SET routing = 'resolved' WHERE status = 'resolved'")
    op.execute("UPDATE alerts SET routing = 'acknowledged' WHERE status = 'acknowledged'")
    op.execute(
        "UPDATE alerts SET routing = 'exhausted' WHERE status = 'open' AND next_step_at IS NULL"
    )
    # Held and unroutable alerts left without a timer by the old engine are looked at now.
    op.add_column("alert_emails", sa.Column("digest_of", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_emails") as batch_op:
        batch_op.drop_column("digest_of")
    op.drop_index("ix_alerts_auto_resolve_at", table_name="alerts")
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_column("auto_resolve_at")
        batch_op.drop_column("about_person_id")
        batch_op.drop_column("routing")
