"""Logging: one line per record, `key=value` pairs. Never log note text, names, ID digits, DOB."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO", service: str = "lookout") -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format=f"%(asctime)s level=%(levelname)s service={service} logger=%(name)s %(message)s",
        force=True,
    )
    # Migrations log every plugin they load; keep start-up output to what operators need.
    logging.getLogger("alembic").setLevel(logging.WARNING)
