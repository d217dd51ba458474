"""Alembic environment for the alerts service's own database."""

from lookout.kernel.storage import run_alembic_env
from services.alerts.store import metadata

run_alembic_env(metadata)
