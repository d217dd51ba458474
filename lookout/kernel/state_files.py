"""Small files a deployment keeps in its data dir (the clock's anchor, the patrol seed): written
whole or not at all, and the first writer wins when several processes start at once."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _write_new(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(fd, mode)  # whatever the umask
        f.write(text)
        f.flush()
        os.fsync(fd)  # a power cut must not leave an empty file that the next start trusts


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def create_once(path: Path, text: str, mode: int = 0o644) -> str:
    """Write `text` to `path` unless the file exists; return what the file holds, ours or the
    first writer's. The content is written to a temporary file and hard-linked into place, so
    a concurrent reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    _write_new(tmp, text, mode)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process was first: its content stands
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8")


def replace(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `text` to `path` whole, replacing what was there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    _write_new(tmp, text, mode)
    tmp.replace(path)


def kept_secret(path: Path, setting: str) -> str:
    """This deployment's own secret for a setting left unset: 32 random bytes (hex) generated
    on first start and kept in `path` (0600); the first process to start writes it, the others
    read it. A file emptied by hand gets a new one, as a fresh install would. ValueError (naming
    the setting, never the secret) when the file cannot be kept."""
    try:
        secret = create_once(path, secrets.token_hex(32) + "\n", mode=0o600).strip()
        if not secret:
            secret = secrets.token_hex(32)
            replace(path, secret + "\n", mode=0o600)
    except OSError as exc:
        raise ValueError(
            f"{setting} is not set and {path} cannot be kept ({exc.strerror})"
        ) from None
    return secret
