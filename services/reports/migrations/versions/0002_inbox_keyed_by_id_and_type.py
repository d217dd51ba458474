"""inbox keyed by (event_id, event_type), with the event's digest

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

from lookout.kernel.storage import rekey_inbox, unkey_inbox

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    rekey_inbox("reports")


def downgrade() -> None:
    unkey_inbox("reports")
