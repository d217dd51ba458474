"""Alembic environment for the reports service's own database."""

from lookout.kernel.storage import run_alembic_env
from services.reports.store import metadata

run_alembic_env(metadata)
