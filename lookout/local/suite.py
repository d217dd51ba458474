"""The whole suite on this machine: NATS (embedded unless LOOKOUT_NATS_URL is set), a local mail
sink (unless LOOKOUT_SMTP_HOST is set) and every service as its own supervised process.

`lookout up` runs it until Ctrl-C; `lookout demo` runs it under a simulated clock while the
simulator plays a school week.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lookout.kernel.errors import CliError
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.settings import NATS_URL_FILE, Settings
from lookout.local.runtime import (
    EmbeddedNats,
    MailSink,
    Supervisor,
    child_env,
    free_port,
    nats_is_reachable,
    port_is_free,
)


@dataclass
class LocalSuite:
    url: str
    nats_where: str
    mail_where: str
    data_dir: Path
    log_dir: Path
    supervisor: Supervisor
    embedded: EmbeddedNats | None
    mail: MailSink | None

    def check(self, report: Callable[[str], None]) -> None:
        """Call periodically: restart a service or the embedded nats-server that died."""
        self.supervisor.check()
        proc = self.embedded.proc if self.embedded is not None else None
        if self.embedded is not None and proc is not None and proc.poll() is not None:
            report(f"nats-server exited (code {proc.returncode}); restarting")
            self.embedded.proc = None
            self.embedded.start()
            report("nats-server restarted")


@contextmanager
def local_suite(
    settings: Settings,
    services: Sequence[str],
    report: Callable[[str], None],
    say: Callable[[str], None],
    extra_env: Mapping[str, str] | None = None,
    prefer_port: int | None = 4222,
) -> Iterator[LocalSuite]:
    """Start everything; on exit stop the services first (they finish their batches against a
    live NATS), then NATS and the mail sink. Failures to start are one-line `CliError`s."""
    data_dir = settings.data_dir.resolve()
    log_dir = data_dir / "logs"
    url_file = data_dir / NATS_URL_FILE
    embedded: EmbeddedNats | None = None
    supervisor: Supervisor | None = None
    mail: MailSink | None = None
    try:
        if settings.nats_url:
            url = settings.nats_url
            if not asyncio.run(nats_is_reachable(url)):
                raise CliError(f"cannot reach NATS at {url}")
            nats_where = f"{url} (LOOKOUT_NATS_URL)"
        else:
            port = prefer_port if prefer_port and port_is_free(prefer_port) else free_port()
            embedded = EmbeddedNats(
                store_dir=data_dir / "nats",
                port=port,
                log_file=log_dir / "nats.log",
                detached=True,
                sync_always=settings.embedded_nats_sync == "always",
            )
            log_dir.mkdir(parents=True, exist_ok=True)
            try:
                embedded.start()
            except (OSError, RuntimeError, TimeoutError) as exc:
                raise CliError(f"cannot start the embedded nats-server: {exc}") from None
            url = embedded.url
            url_file.write_text(url + "\n", encoding="utf-8")
            nats_where = f"{url} (embedded; store {embedded.store_dir}, log {log_dir / 'nats.log'})"
        try:
            asyncio.run(ensure_streams(settings.model_copy(update={"nats_url": url})))
        except Exception as exc:
            raise CliError(f"cannot create streams at {url}: {type(exc).__name__}") from None

        overrides = {"LOOKOUT_NATS_URL": url, "LOOKOUT_DATA_DIR": str(data_dir)}
        # Outgoing mail goes to a local SMTP sink writing .eml files, unless an SMTP server
        # is configured (LOOKOUT_SMTP_HOST).
        if "LOOKOUT_SMTP_HOST" in os.environ:
            mail_where = f"SMTP {settings.smtp_host}:{settings.smtp_port} (LOOKOUT_SMTP_HOST)"
        else:
            try:
                mail = MailSink(data_dir / "mail").start()
            except (OSError, RuntimeError) as exc:
                raise CliError(f"cannot start the local mail sink: {exc}") from None
            overrides |= {"LOOKOUT_SMTP_HOST": mail.host, "LOOKOUT_SMTP_PORT": str(mail.port)}
            mail_where = f"{mail.directory} (.eml files; local SMTP on {mail.host}:{mail.port})"
        overrides |= dict(extra_env or {})
        supervisor = Supervisor(services, child_env(overrides), log_dir, report, detached=True)
        supervisor.start()
        yield LocalSuite(url, nats_where, mail_where, data_dir, log_dir, supervisor, embedded, mail)
    finally:
        if supervisor is not None:
            say("stopping services…")
            supervisor.stop()
            for child in supervisor.children:
                code = child.proc.returncode if child.proc else None
                say(f"  {child.name} stopped (code {code})")
        if embedded is not None:
            embedded.stop()
            say("  nats-server stopped")
            url_file.unlink(missing_ok=True)
        if mail is not None:
            mail.stop()
        say("Lookout stopped.")
