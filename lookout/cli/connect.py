"""Where the CLI finds NATS (LOOKOUT_NATS_URL, else the URL a running `lookout up` left in the
data dir; never a guess) and a connection that fails fast with one clear line."""

from __future__ import annotations

import nats

from lookout.kernel.errors import CliError
from lookout.kernel.nats_connect import NatsSettingsError, connect_options
from lookout.kernel.settings import NATS_URL_FILE, Settings, nats_server_list


def resolve_nats_url(settings: Settings) -> str:
    """LOOKOUT_NATS_URL, else the embedded server a running `lookout up` wrote down. Neither:
    one line and exit 1, never a guess at 127.0.0.1:4222 (another NATS may well listen there)."""
    if settings.nats_url and settings.nats_url.strip():
        return settings.nats_url
    state = settings.data_dir / NATS_URL_FILE
    try:
        url = state.read_text(encoding="utf-8").strip()
    except OSError:
        url = ""
    if not url:
        raise CliError(
            f"no NATS to connect to: LOOKOUT_NATS_URL is not set and {state} does not exist "
            "(start `lookout up` with this data dir, or set LOOKOUT_NATS_URL)"
        )
    return url


async def connect(url: str, connect_timeout: float = 3.0) -> nats.NATS:
    """A connection that fails fast with one clear line instead of retrying forever."""

    async def _quiet(_exc: Exception) -> None:
        return None

    try:
        return await nats.connect(
            nats_server_list(url),  # one URL or a cluster's comma-separated seeds
            connect_timeout=connect_timeout,
            allow_reconnect=False,
            max_reconnect_attempts=1,  # 0 would mean "retry forever" on the first connect
            reconnect_time_wait=0.1,
            error_cb=_quiet,
            **connect_options(Settings()),  # LOOKOUT_NATS_USER/PASSWORD/TLS_*: none by default
        )
    except NatsSettingsError as exc:
        raise CliError(str(exc)) from None
    except Exception:
        raise CliError(f"cannot reach NATS at {url}") from None
