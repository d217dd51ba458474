"""Alembic environment for the patrol service's own database."""

from lookout.kernel.storage import run_alembic_env
from services.patrol.store import metadata

run_alembic_env(metadata)
