"""Alembic environment for the web service's own database."""

import services.web.roster_store  # noqa: F401  (its tables join store.metadata)
from lookout.kernel.storage import run_alembic_env
from services.web.store import metadata

run_alembic_env(metadata)
