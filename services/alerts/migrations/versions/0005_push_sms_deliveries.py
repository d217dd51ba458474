"""deliveries by push and text message, push subscriptions, each alert's number in a person's
texts

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

UTC = lookout.kernel.storage.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.String(36), nullable=False),
        sa.Column("alert_id", sa.String(36), nullable=False),
        sa.Column("school_id", sa.String(32), nullable=False),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("ack_token", sa.String(256), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", UTC(timezone=True), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("done_at", UTC(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.alert_id"],
            name=op.f("fk_alert_deliveries_alert_id_alerts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_alert_deliveries_notification_id")),
    )
    op.create_index("ix_alert_deliveries_due_at", "alert_deliveries", ["due_at"])
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("school_id", sa.String(32), nullable=False),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("p256dh", sa.String(88), nullable=False),
        sa.Column("auth", sa.String(24), nullable=False),
        sa.Column("subscribed_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscriptions_endpoint")),
    )
    op.create_index(
        "ix_push_subscriptions_person_id", "push_subscriptions", ["person_id", "school_id"]
    )
    op.create_table(
        "sms_numbers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("school_id", sa.String(32), nullable=False),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.String(36), nullable=False),
        sa.Column("assigned_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.alert_id"], name=op.f("fk_sms_numbers_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_numbers")),
    )
    op.create_index(
        "uq_sms_numbers_person", "sms_numbers", ["school_id", "person_id", "number"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_sms_numbers_person", table_name="sms_numbers")
    op.drop_table("sms_numbers")
    op.drop_index("ix_push_subscriptions_person_id", table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
    op.drop_index("ix_alert_deliveries_alert_id", table_name="alert_deliveries")
    op.drop_index("ix_alert_deliveries_due_at", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
