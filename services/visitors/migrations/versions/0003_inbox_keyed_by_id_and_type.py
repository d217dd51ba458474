"""inbox keyed by (event_id, event_type), with the event's digest

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

from lookout.kernel.storage import rekey_inbox, unkey_inbox

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    rekey_inbox("visitors")


def downgrade() -> None:
    unkey_inbox("visitors")
