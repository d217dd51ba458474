"""screening matches: the listed person's date of birth, for the side-by-side decision

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("screening_matches", sa.Column("listed_date_of_birth", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("screening_matches") as batch_op:
        batch_op.drop_column("listed_date_of_birth")
