"""screening matches: what the dates of birth said, and the review band

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "screening_matches", sa.Column("date_of_birth_check", sa.String(length=16), nullable=True)
    )
    op.add_column(
        "screening_matches", sa.Column("review_band", sa.String(length=16), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("screening_matches") as batch_op:
        batch_op.drop_column("review_band")
        batch_op.drop_column("date_of_birth_check")
