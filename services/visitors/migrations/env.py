"""Alembic environment for the visitors service's own database."""

from lookout.kernel.storage import run_alembic_env
from services.visitors.store import metadata

run_alembic_env(metadata)
