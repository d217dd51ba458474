"""Alembic environment for the web service's own database."""

from lookout.kernel.storage import run_alembic_env
from services.web.store import metadata

run_alembic_env(metadata)
