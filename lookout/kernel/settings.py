"""Settings from `LOOKOUT_*` environment variables, and loading of the school YAML files."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from lookout.kernel.clock import Clock, WallTime, clock_from_spec
from lookout.kernel.state_files import kept_secret
from lookout.school.config import SchoolConfig

EXAMPLE_SCHOOL = Path(__file__).parents[1] / "school" / "examples" / "lhs.yaml"
# The event-driven services: FastStream apps with durable consumers, dead letters (`dlq`) and
# AsyncAPI documents.
SERVICES = ("patrol", "visitors", "alerts", "reports")
# The web service (services/web): an ASGI app under uvicorn that consumes no stream, with its
# own database and migrations like the others.
WEB = "web"
# Every process of a deployment, each with its own database: `lookout run` and `db upgrade`.
ALL_SERVICES = (*SERVICES, WEB)


# Where `lookout up` leaves the embedded nats-server's URL (in the data dir) for the CLI.
NATS_URL_FILE = "nats.url"
# The deployment's generated patrol seed, in the data dir, when LOOKOUT_PATROL_SEED is unset.
PATROL_SEED_FILE = "patrol.seed"

log = logging.getLogger("lookout.config")


class Settings(BaseSettings):
    """Deployment settings. One machine needs none; production sets URLs and credentials."""

    model_config = SettingsConfigDict(env_prefix="LOOKOUT_", extra="ignore")

    data_dir: Path = Path("data")
    # One server or a cluster's seed servers, comma-separated (`nats://a:4222,nats://b:4222`):
    # every connection is given them all and finds the rest of the cluster itself.
    # Unset: `lookout up` embeds a nats-server.
    nats_url: str | None = None
    # The embedded server's JetStream fsync: `always` (before each PubAck; no acknowledged event
    # lost in a power cut, ~900 instead of 2,100-7,300 pipelined publishes/s, docs/benchmarks.md)
    # or `default` (nats-server's periodic flush, every 2 minutes).
    embedded_nats_sync: Literal["always", "default"] = "always"
    # NATS credentials and TLS (lookout/kernel/nats_connect.py); unset: no auth, plain TCP. Use
    # one of user+password, a .creds file or an nkey seed file.
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_creds_file: Path | None = None
    nats_nkey_seed_file: Path | None = None
    nats_tls_ca: Path | None = None  # CA bundle that signed the server's certificate
    nats_tls_cert: Path | None = None  # client certificate (servers that verify clients)
    nats_tls_key: Path | None = None
    nats_tls_hostname: str | None = None  # name to verify when it differs from the URL's host
    # Replies to this client go to `<prefix>.<id>`; per-user prefixes (`_INBOX.<user>`) keep one
    # user's replies unreadable by another. Unset: nats-py's `_INBOX`.
    nats_inbox_prefix: str | None = None
    # Services create/update the streams on start. A production deploy provisions them once with
    # an admin user (`lookout deploy streams`) and sets this false: services then only check
    # that their streams exist and need no stream-admin rights.
    provision_streams: bool = True
    # Port of the service's /healthz, /readyz and /metrics endpoint; unset: no HTTP server.
    health_port: int | None = None
    health_host: str = "0.0.0.0"
    schools: str = ""  # comma-separated school YAML paths; empty: the bundled example school
    patrol_db_url: str | None = None
    visitors_db_url: str | None = None
    alerts_db_url: str | None = None
    reports_db_url: str | None = None
    web_db_url: str | None = None
    # The web service (services/web): where it listens, the URL people open (sign-in links, the
    # Origin every state-changing request must carry, NFC/QR tag URLs), and how TLS is done:
    # its own certificate and key, or a reverse proxy in front that terminates TLS (then the
    # base URL says https and the cookie is Secure all the same).
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=0, le=65535)
    web_base_url: str = ""  # empty: http://<web_host>:<web_port>
    web_tls_cert: Path | None = None
    web_tls_key: Path | None = None
    web_behind_proxy: bool = False
    # Signs visitor badges' QR codes (services/web/badges.py); the same for every web replica.
    # Unset: one generated on first start and kept in `<data dir>/web-badge.secret`.
    web_badge_secret: SecretStr = SecretStr("")
    # Signs alert emails' acknowledge links (lookout/kernel/action_links.py): the alerts service
    # signs, the web verifies, so both need the same. Unset: `<data dir>/alert-link.secret`.
    alert_link_secret: SecretStr = SecretStr("")
    # Signs each SSO's calendar feed address (lookout/kernel/feed_links.py): the web checks it,
    # `lookout calendar feed-url` prints it. Unset: `<data dir>/calendar-feed.secret`; a new
    # one turns every feed address given out into a 404.
    calendar_feed_secret: SecretStr = SecretStr("")
    # Web Push's VAPID key (lookout/kernel/vapid.py): the alerts service signs pushes with the
    # private key, the web gives browsers the public one, so both need the same. A PEM P-256
    # private key; unset: one generated on first start and kept in `<data dir>/vapid.pem`.
    vapid_private_key: SecretStr = SecretStr("")
    # Staff sign-in with Google Workspace / Microsoft Entra (services/web/oidc.py): the OAuth
    # clients' secrets, the same for every web replica. A school file's `staff_sign_in` names
    # the client ids; a provider configured there without its secret stops the web at start.
    oidc_google_client_secret: SecretStr = SecretStr("")
    oidc_entra_client_secret: SecretStr = SecretStr("")
    # The web's sensor ingress (services/web/sensor_ingress.py, sensor_mail.py). Signs each
    # HALO's URL token (`lookout sensors urls` prints them); the same for every web replica.
    # Unset: one generated on first start and kept in `<data dir>/sensor-token.secret`.
    sensor_secret: SecretStr = SecretStr("")
    # Verkada webhooks' shared secret (`Verkada-Signature`); unset: every webhook is refused.
    verkada_secret: SecretStr = SecretStr("")
    # The SMTP listener for sensors that only send email; no port: no listener. It accepts mail
    # to `sensor_mail_to` only, from a school's `sensors.email_senders` only.
    sensor_mail_host: str = "127.0.0.1"
    sensor_mail_port: int | None = Field(default=None, ge=0, le=65535)
    sensor_mail_to: str = ""
    # How long a SQLite write waits for another writer's lock (connect timeout and PRAGMA
    # busy_timeout) before it fails as a transient error the consumer retries.
    sqlite_busy_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    clock: str = ""  # ISO@xSPEED[@ANCHOR] for simulated time
    duplicate_window_seconds: float = 120.0
    # How long the DLQ keeps a dead letter (a copy of the refused event's bytes: student refs,
    # notes, names): enough to find the cause and replay it. Never longer than the schools'
    # longest student_records_retention_days (lookout.kernel.messaging.stream_max_ages).
    dlq_max_age_days: float = Field(default=30.0, gt=0, le=10 * 365)
    stream_replicas: int = 1
    consumer_batch_size: int = 500
    # How long a delivered, unacknowledged message waits before JetStream redelivers it.
    # Short, because a message delivered to a pull request the client gave up on (a fetch that
    # timed out, a killed process) is only redelivered after this; the inbox makes a redelivery
    # of something still being applied harmless.
    consumer_ack_wait_seconds: float = 5.0
    # Outgoing mail (alerts, weekly reports). `lookout up` points these at its local mail sink.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "lookout@localhost"
    # Text messages (the alerts service sends, the web's /sms/inbound webhook takes replies):
    # a Twilio-compatible REST API (`POST <api>/2010-04-01/Accounts/<sid>/Messages.json`,
    # HTTP basic auth; replies signed with X-Twilio-Signature by the auth token). Empty account:
    # no SMS, and a school rule that asks for it is refused at start-up.
    sms_api_url: str = "https://api.twilio.com"
    sms_account_sid: str = ""
    sms_auth_token: SecretStr = SecretStr("")
    sms_from: str = ""  # the sending number, E.164 (+15551234567)
    # Weekly summaries (services/reports). The district roll-up goes to these comma-separated
    # addresses; empty: to every person with the district_safety role in the school files.
    reports_district_recipients: str = ""
    # At a school's report moment, wait up to this long for the patrol service's focus for the
    # coming week before computing it from the reports read model instead.
    reports_focus_wait_seconds: float = 600.0
    # Seeds the draw of unannounced check times: a secret per deployment, so the times are
    # reproducible for the school but cannot be computed by anyone reading this code and the
    # school file. Unset: one generated on first start and kept in the data dir (patrol_secret).
    patrol_seed: SecretStr = SecretStr("")
    tick_seconds: float = 1.0
    # A replica can consume without firing timers (and tests of ingestion alone turn them off).
    timers_enabled: bool = True  # how often (real seconds) timers are checked when not woken
    log_level: str = "INFO"

    def database_url(self, service: str) -> str:
        """The service's own database: its env var, else a SQLite file under the data dir."""
        url: str | None = getattr(self, f"{service}_db_url")
        if url:
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"

    def web_url(self) -> str:
        """The web service's public base URL, without a trailing slash."""
        if self.web_base_url.strip():
            return self.web_base_url.strip().rstrip("/")
        scheme = "https" if self.web_tls_cert is not None else "http"
        return f"{scheme}://{self.web_host}:{self.web_port}"

    def web_tls(self) -> bool:
        """Whether people reach the web service over HTTPS (its own TLS, or a proxy's)."""
        if self.web_tls_cert is not None:
            return True
        return self.web_behind_proxy and self.web_url().startswith("https://")

    def school_paths(self) -> list[Path]:
        if not self.schools.strip():
            return [EXAMPLE_SCHOOL]
        return [Path(p.strip()) for p in self.schools.split(",") if p.strip()]

    def patrol_secret(self) -> str:
        """LOOKOUT_PATROL_SEED, else this deployment's own secret: generated on first start
        (secrets.token_hex(32)) and kept in `<data dir>/patrol.seed` (0600), so two installs
        never draw the same unannounced times and a restart draws the same ones again."""
        explicit = self.patrol_seed.get_secret_value()
        if explicit:
            return explicit
        path = self.data_dir / PATROL_SEED_FILE
        if not self.provision_streams:  # a production deploy (streams provisioned by an admin)
            log.warning(
                "LOOKOUT_PATROL_SEED is not set: using the secret generated in %s; set "
                "LOOKOUT_PATROL_SEED (the same for every patrol replica) so a lost data dir "
                "or a replica with its own data dir does not draw other check times",
                path,
            )
        try:
            seed = kept_secret(path, "LOOKOUT_PATROL_SEED")
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        return seed

    def make_clock(self, wall: WallTime | None = None) -> Clock:
        """The clock of LOOKOUT_CLOCK; a scaled one without an anchor keeps it in the data dir
        (every process and restart of this deployment then shares one "now")."""
        return clock_from_spec(self.clock, anchor_dir=self.data_dir, wall=wall)

    def nats_servers(self) -> NatsServers:
        """Every seed server of LOOKOUT_NATS_URL (nats-py and FastStream take the list)."""
        return nats_server_list(self.nats_url or "nats://127.0.0.1:4222")


class NatsServers(list[str]):
    """Seed server URLs; shown in messages as the operator writes them (comma-separated)."""

    def __str__(self) -> str:
        return ",".join(self)


def nats_server_list(urls: str) -> NatsServers:
    """`nats://a:4222, nats://b:4222` → one entry per seed server (blanks dropped)."""
    return NatsServers(url.strip() for url in urls.split(",") if url.strip())


class ConfigurationError(ValueError):
    """Something an operator configured cannot be used. The message is one line naming the file
    and the field, written to be shown as it is (it never quotes personal data)."""


class SchoolConfigError(ConfigurationError):
    """A school file that cannot be used; the message is one line naming the file and field."""


def load_school(path: Path) -> SchoolConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchoolConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SchoolConfigError(f"{path}:{where} is not valid YAML") from None
    try:
        return SchoolConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        # Cross-reference checks run on the whole file and name their own field in the message.
        msg = err["msg"].removeprefix("Value error, ")
        field = ".".join(str(p) for p in err["loc"])
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        where = f"{field}: " if field else ""
        raise SchoolConfigError(f"{path}: {where}{msg}{more}") from None


def load_schools(settings: Settings) -> dict[str, SchoolConfig]:
    schools: dict[str, SchoolConfig] = {}
    for path in settings.school_paths():
        school = load_school(path)
        if school.id in schools:
            raise SchoolConfigError(f"{path}: school id {school.id!r} is configured twice")
        schools[school.id] = school
    return schools
